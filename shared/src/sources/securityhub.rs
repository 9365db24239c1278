//! "Security Hub Findings - Custom Action" events (`source` = `aws.securityhub`): a person
//! selected findings in Security Hub and chose this product's "Remediate" or "Undo" action
//! (template.yaml `RemediateAction`, `UndoAction`). The event carries the selected findings in
//! ASFF (`detail.findings`); the action is the custom action's ARN in `resources`.
//!
//! A selected finding is acted on only when it is this product's: its `ProductArn` is the product
//! the responder imports under, its `GeneratorId` a rule of this product, and its `Id` the one
//! the responder derives from that rule and the finding's `ResourceKey` (so an id and a key that
//! do not belong together are not believed). Nothing else in the finding is trusted: the subject
//! it names is judged again on the live state, and "Undo" applies only the inverse recorded when
//! the fix was made. Other products' findings are ignored, each with the reason.

use crate::envelope::Envelope;
use crate::error::InputError;
use crate::finding::{Actor, Finding, PrincipalKind, PrincipalRef, SourceKind, Subject};
use crate::resource::{AwsResource, ResourceKind};
use serde_json::Value;

pub const DETAIL_TYPE: &str = "Security Hub Findings - Custom Action";
pub const SOURCE: &str = "aws.securityhub";
/// The custom action ids the template creates (`AWS::SecurityHub::ActionTarget` `Id`: up to 20
/// alphanumeric characters).
pub const REMEDIATE_ACTION_ID: &str = "ComplianceRemediate";
pub const UNDO_ACTION_ID: &str = "ComplianceUndo";
/// At most this many findings per event (Security Hub sends the selection in one event).
pub const MAX_FINDINGS: usize = 100;

pub fn recognizes(envelope: &Envelope) -> bool {
    envelope.detail_type == DETAIL_TYPE && envelope.source == SOURCE
}

/// The action a person chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HubAction {
    /// Judge the finding's subject again on the live state and apply its fix, whatever the
    /// rule's mode (the person's choice is the approval); kill switch, guards, exemptions and
    /// limits still apply.
    Remediate,
    /// Apply the recorded inverse of the fix made for the finding.
    Undo,
}

impl HubAction {
    pub fn as_str(self) -> &'static str {
        match self {
            HubAction::Remediate => "Remediate",
            HubAction::Undo => "Undo",
        }
    }
}

/// One selected finding of this product.
#[derive(Debug, Clone)]
pub struct Selected {
    /// Its place in `detail.findings`.
    pub index: usize,
    pub finding_id: String,
    pub product_arn: String,
    pub rule_id: String,
    pub key: String,
    /// The region the finding is recorded in.
    pub record_region: String,
    /// The finding to judge again (its account, the resources' region, the subject the key
    /// names), or why there is none.
    pub finding: Result<Finding, String>,
}

/// A selected finding that is not acted on, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Ignored {
    /// Its place in `detail.findings`.
    pub index: usize,
    pub finding_id: String,
    pub reason: String,
}

/// What a custom action event asks.
#[derive(Debug, Clone)]
pub enum Request {
    Act {
        action: HubAction,
        selected: Vec<Selected>,
        ignored: Vec<Ignored>,
    },
    /// A custom action of someone else (not this product's ids): nothing to do.
    NotOurs { reason: String },
}

fn invalid(message: String) -> InputError {
    InputError::InvalidDetail {
        detail_type: DETAIL_TYPE.into(),
        message,
    }
}

fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn account_ok(a: &str) -> bool {
    a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit())
}

fn region_ok(r: &str) -> bool {
    (4..=32).contains(&r.len())
        && r.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Reads the event. `product_arn` is `SECURITY_HUB_PRODUCT_ARN` (else each account's default
/// product), `rules` the ids of the registered rules, `exempt_tag` the exemption key.
pub fn parse(envelope: &Envelope, product_arn: Option<&str>, rules: &[&str]) -> Result<Request, InputError> {
    let partition = envelope.partition();
    let [action_arn] = envelope.resources.as_slice() else {
        return Err(invalid(format!(
            "resources must name exactly one custom action ARN, found {}",
            envelope.resources.len()
        )));
    };
    let prefix = format!(
        "arn:{partition}:securityhub:{}:{}:action/custom/",
        envelope.region, envelope.account
    );
    let Some(action_id) = action_arn.strip_prefix(&prefix) else {
        return Err(invalid(format!(
            "resources[0] {action_arn:?} is not a custom action of account {} in {}",
            envelope.account, envelope.region
        )));
    };
    let action = match action_id {
        REMEDIATE_ACTION_ID => HubAction::Remediate,
        UNDO_ACTION_ID => HubAction::Undo,
        other => {
            return Ok(Request::NotOurs {
                reason: format!(
                    "custom action {other:?} is not one of this product's ({REMEDIATE_ACTION_ID}, {UNDO_ACTION_ID})"
                ),
            })
        }
    };
    let findings = envelope
        .detail
        .get("findings")
        .and_then(Value::as_array)
        .ok_or_else(|| InputError::MissingField {
            field: "detail.findings".into(),
            message: "required array of ASFF findings".into(),
        })?;
    if findings.is_empty() || findings.len() > MAX_FINDINGS {
        return Err(invalid(format!(
            "detail.findings has {} findings; 1 to {MAX_FINDINGS} are accepted",
            findings.len()
        )));
    }
    let mut selected = Vec::new();
    let mut ignored = Vec::new();
    for (i, f) in findings.iter().enumerate() {
        let Some(id) = str_at(f, "Id") else {
            return Err(InputError::MissingField {
                field: format!("detail.findings[{i}].Id"),
                message: "required string".into(),
            });
        };
        if id.len() > 512 {
            return Err(invalid(format!("detail.findings[{i}].Id is over 512 characters")));
        }
        match ours(f, id, partition, &envelope.region, product_arn, rules) {
            Ok(mut s) => {
                s.index = i;
                if let Ok(finding) = &mut s.finding {
                    finding.event_id = envelope.id.clone();
                    finding.time = envelope.time;
                    finding.event_name = action.as_str().into();
                }
                selected.push(s)
            }
            Err(reason) => ignored.push(Ignored {
                index: i,
                finding_id: id.to_string(),
                reason,
            }),
        }
    }
    Ok(Request::Act {
        action,
        selected,
        ignored,
    })
}

/// The selected finding `f` when it is this product's; otherwise why not.
fn ours(
    f: &Value,
    id: &str,
    partition: &str,
    event_region: &str,
    product_arn: Option<&str>,
    rules: &[&str],
) -> Result<Selected, String> {
    let account = str_at(f, "AwsAccountId")
        .filter(|a| account_ok(a))
        .ok_or("no valid AwsAccountId")?;
    // `Region` is where the finding lives; an aggregation region shows findings of others.
    let record_region = str_at(f, "Region").filter(|r| region_ok(r)).unwrap_or(event_region);
    let product = str_at(f, "ProductArn").ok_or("no ProductArn")?;
    let expected = crate::asff::product_arn(product_arn, partition, record_region, account);
    if product != expected {
        return Err(format!(
            "not a finding of this product (ProductArn {product}, expected {expected})"
        ));
    }
    let rule_id = str_at(f, "GeneratorId").ok_or("no GeneratorId")?;
    let Some(rule) = rules.iter().find(|r| **r == rule_id) else {
        return Err(format!("GeneratorId {rule_id:?} is not a rule of this product"));
    };
    let field = |k: &str| {
        f.pointer(&format!(
            "/ProductFields/{}",
            format!("{}{k}", crate::asff::FIELD_PREFIX).replace('/', "~1")
        ))
        .and_then(Value::as_str)
    };
    let key = field("ResourceKey").ok_or("no compliance-responder/ResourceKey product field")?;
    if crate::asff::finding_id_in(record_region, account, rule, key) != id {
        return Err(
            "the finding's Id is not the one this product derives from its rule and ResourceKey: not written by this product"
                .into(),
        );
    }
    let resource = f.pointer("/Resources/0");
    let resource_region = resource
        .and_then(|r| str_at(r, "Region"))
        .filter(|r| region_ok(r))
        .unwrap_or(record_region);
    let subject = subject_of(rule, key, resource, partition, resource_region, account);
    let finding = subject.map(|subject| Finding {
        event_id: String::new(),
        source: SourceKind::HubAction,
        detail_type: DETAIL_TYPE.into(),
        event_name: String::new(),
        account: account.to_string(),
        region: if subject.is_global() {
            record_region.to_string()
        } else {
            resource_region.to_string()
        },
        partition: partition.to_string(),
        time: chrono::Utc::now(),
        actor: Actor::default(),
        subject,
        only_rules: Some(vec![rule.to_string()]),
        also: vec![],
        raw_detail: Value::Null,
    });
    Ok(Selected {
        index: 0,
        finding_id: id.to_string(),
        product_arn: product.to_string(),
        rule_id: rule.to_string(),
        key: key.to_string(),
        record_region: record_region.to_string(),
        finding,
    })
}

/// An IAM user, role or group ARN of `account`.
fn principal_of(arn: &str, partition: &str, account: &str) -> Option<PrincipalRef> {
    let rest = arn.strip_prefix(&format!("arn:{partition}:iam::{account}:"))?;
    let (kind, path_and_name) = rest.split_once('/')?;
    let kind = match kind {
        "user" => PrincipalKind::User,
        "role" => PrincipalKind::Role,
        "group" => PrincipalKind::Group,
        _ => return None,
    };
    let name = path_and_name.rsplit('/').next()?;
    let ok = !name.is_empty()
        && name.len() <= 128
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
    ok.then(|| PrincipalRef {
        kind,
        name: name.to_string(),
    })
}

/// A managed policy ARN (this account's or AWS's).
fn policy_ok(arn: &str, partition: &str, account: &str) -> bool {
    [
        format!("arn:{partition}:iam::{account}:policy/"),
        format!("arn:{partition}:iam::aws:policy/"),
    ]
    .iter()
    .any(|p| {
        arn.strip_prefix(p.as_str())
            .is_some_and(|n| !n.is_empty() && n.len() <= 512)
    })
}

/// The subject a finding's rule and key name, as the rule itself keys its verdicts
/// (`rules/documents.rs`, `rules/required_tags.rs`); why not, for the rules whose findings
/// cannot be judged again without their event.
fn subject_of(
    rule: &str,
    key: &str,
    resource: Option<&Value>,
    partition: &str,
    region: &str,
    account: &str,
) -> Result<Subject, String> {
    let bad = || format!("ResourceKey {key:?} does not name a resource of rule {rule}");
    match rule {
        "iam-admin-access" | "iam-service-wildcard" | "iam-privilege-escalation" | "iam-open-trust" => {
            if let Some((who, _)) = key
                .split_once("|combined|")
                .filter(|_| rule == "iam-privilege-escalation")
            {
                // A principal's policies judged together (`rules::documents::combined_key`).
                return principal_of(who, partition, account)
                    .map(|principal| Subject::PrincipalPermissions { principal })
                    .ok_or_else(bad);
            }
            if let Some(role) = key.strip_suffix("|trust") {
                let p = principal_of(role, partition, account).filter(|p| p.kind == PrincipalKind::Role);
                return p
                    .map(|role| Subject::TrustPolicyChanged { role, document: None })
                    .ok_or_else(bad);
            }
            match key.split_once('|') {
                Some((who, rest)) if rest.starts_with("inline/") => {
                    let name = &rest["inline/".len()..];
                    let principal = principal_of(who, partition, account).ok_or_else(bad)?;
                    if name.is_empty() || name.len() > 128 {
                        return Err(bad());
                    }
                    Ok(Subject::InlinePolicyPut {
                        principal,
                        policy_name: name.to_string(),
                        document: None,
                    })
                }
                Some((who, policy)) if policy.starts_with("arn:") => {
                    let principal = principal_of(who, partition, account).ok_or_else(bad)?;
                    policy_ok(policy, partition, account)
                        .then(|| Subject::PolicyAttached {
                            principal,
                            policy_arn: policy.to_string(),
                        })
                        .ok_or_else(bad)
                }
                Some((policy, version)) => {
                    let v_ok = version.len() <= 32
                        && version.starts_with('v')
                        && version[1..].bytes().all(|b| b.is_ascii_digit());
                    (policy_ok(policy, partition, account) && v_ok)
                        .then(|| Subject::DormantPolicyVersion {
                            policy_arn: policy.to_string(),
                            version_id: Some(version.to_string()),
                            document: None,
                            kept: vec![],
                        })
                        .ok_or_else(bad)
                }
                None => policy_ok(key, partition, account)
                    .then(|| Subject::ManagedPolicyChanged {
                        policy_arn: key.to_string(),
                        document: None,
                    })
                    .ok_or_else(bad),
            }
        }
        // One access key of a user (`rules::iam_access_key_unused::key_of`): the user's keys.
        "iam-access-key-unused" => {
            let (who, id) = key.split_once("|access-key/").ok_or_else(bad)?;
            let id_ok = (16..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric());
            principal_of(who, partition, account)
                .filter(|p| p.kind == PrincipalKind::User && id_ok)
                .map(|user| Subject::UserAccessKeys { user })
                .ok_or_else(bad)
        }
        "required-tags" => {
            let asff_type = resource.and_then(|r| str_at(r, "Type")).unwrap_or_default();
            let name = key.rsplit([':', '/']).next().unwrap_or_default();
            ResourceKind::ALL
                .into_iter()
                .filter(|k| k.asff_type() == asff_type)
                .find_map(|k| AwsResource::new(k, name, partition, region, account).filter(|r| r.arn == key))
                .map(|resource| Subject::ResourceTagsCheck { resource })
                .ok_or_else(bad)
        }
        other => Err(format!(
            "findings of rule {other} are not judged again from Security Hub (they need their source event): \
             act on them with `responder undo` and the event's report, or by hand"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ACCOUNT: &str = "123456789012";

    fn event(action: &str, findings: Value) -> Envelope {
        Envelope::from_value(json!({
            "version": "0", "id": "e-1", "detail-type": DETAIL_TYPE, "source": SOURCE,
            "account": ACCOUNT, "time": "2026-12-01T10:00:00Z", "region": "us-east-1",
            "resources": [format!("arn:aws:securityhub:us-east-1:{ACCOUNT}:action/custom/{action}")],
            "detail": {"actionName": "Remediate", "actionDescription": "d", "findings": findings}
        }))
        .unwrap()
    }

    fn finding(rule: &str, key: &str) -> Value {
        json!({
            "Id": crate::asff::finding_id_in("us-east-1", ACCOUNT, rule, key),
            "ProductArn": format!("arn:aws:securityhub:us-east-1:{ACCOUNT}:product/{ACCOUNT}/default"),
            "GeneratorId": rule, "AwsAccountId": ACCOUNT, "Region": "us-east-1",
            "Resources": [{"Type": "AwsIamRole", "Id": "x", "Region": "us-east-1"}],
            "ProductFields": {"compliance-responder/ResourceKey": key, "compliance-responder/RuleId": rule}
        })
    }

    const RULES: &[&str] = &[
        "iam-admin-access",
        "iam-open-trust",
        "iam-privilege-escalation",
        "required-tags",
        "guardduty-credentials",
    ];

    fn act(e: &Envelope) -> (HubAction, Vec<Selected>, Vec<Ignored>) {
        match parse(e, None, RULES).unwrap() {
            Request::Act {
                action,
                selected,
                ignored,
            } => (action, selected, ignored),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn each_key_shape_names_its_subject() {
        let role = format!("arn:aws:iam::{ACCOUNT}:role/path/app");
        let user = format!("arn:aws:iam::{ACCOUNT}:user/bob");
        let policy = format!("arn:aws:iam::{ACCOUNT}:policy/p");
        let cases = [
            ("iam-admin-access", format!("{role}|inline/p1"), "inline-policy-put"),
            (
                "iam-admin-access",
                format!("{user}|arn:aws:iam::aws:policy/AdministratorAccess"),
                "policy-attached",
            ),
            ("iam-admin-access", policy.clone(), "managed-policy-changed"),
            ("iam-admin-access", format!("{policy}|v3"), "dormant-policy-version"),
            ("iam-open-trust", format!("{role}|trust"), "trust-policy-changed"),
            (
                "iam-privilege-escalation",
                format!("{role}|combined|inline/pass"),
                "principal-permissions",
            ),
            (
                "iam-privilege-escalation",
                format!("{user}|combined|group/devs/inline/g"),
                "principal-permissions",
            ),
        ];
        for (rule, key, change) in cases {
            let (action, selected, ignored) = act(&event(REMEDIATE_ACTION_ID, json!([finding(rule, &key)])));
            assert_eq!(action, HubAction::Remediate);
            assert!(ignored.is_empty(), "{ignored:?}");
            let f = selected[0].finding.as_ref().unwrap();
            assert_eq!(serde_json::to_value(&f.subject).unwrap()["change"], change, "{key}");
            assert_eq!(f.only_rules, Some(vec![rule.to_string()]));
            assert_eq!(f.source, SourceKind::HubAction);
        }
        let bucket = "arn:aws:s3:::my-bucket";
        let mut f = finding("required-tags", bucket);
        f["Resources"][0]["Type"] = json!("AwsS3Bucket");
        let (_, selected, _) = act(&event(UNDO_ACTION_ID, json!([f])));
        assert!(matches!(
            &selected[0].finding.as_ref().unwrap().subject,
            Subject::ResourceTagsCheck { resource } if resource.name == "my-bucket"
        ));
    }

    #[test]
    fn findings_of_other_products_or_with_a_forged_id_are_ignored() {
        let key = format!("arn:aws:iam::{ACCOUNT}:role/app|trust");
        let mut other_product = finding("iam-open-trust", &key);
        other_product["ProductArn"] = json!("arn:aws:securityhub:us-east-1::product/aws/guardduty");
        let mut forged = finding("iam-open-trust", &key);
        forged["ProductFields"]["compliance-responder/ResourceKey"] =
            json!(format!("arn:aws:iam::{ACCOUNT}:role/other|trust"));
        let mut unknown_rule = finding("iam-open-trust", &key);
        unknown_rule["GeneratorId"] = json!("aws-foundational-security-best-practices/v/1.0.0/IAM.1");
        let (_, selected, ignored) = act(&event(UNDO_ACTION_ID, json!([other_product, forged, unknown_rule])));
        assert!(selected.is_empty());
        assert_eq!(ignored.len(), 3);
        assert!(ignored[0].reason.contains("not a finding of this product"));
        assert!(ignored[1].reason.contains("not written by this product"));
        assert!(ignored[2].reason.contains("not a rule of this product"));
    }

    #[test]
    fn a_key_of_another_account_names_nothing() {
        let key = "arn:aws:iam::999999999999:role/app|trust";
        let (_, selected, _) = act(&event(REMEDIATE_ACTION_ID, json!([finding("iam-open-trust", key)])));
        assert!(selected[0].finding.as_ref().unwrap_err().contains("does not name"));
        let (_, selected, _) = act(&event(
            REMEDIATE_ACTION_ID,
            json!([finding("guardduty-credentials", "k")]),
        ));
        assert!(selected[0]
            .finding
            .as_ref()
            .unwrap_err()
            .contains("need their source event"));
    }

    #[test]
    fn bad_events_are_rejected_and_other_actions_are_not_ours() {
        let e = event("SomeoneElse", json!([finding("iam-open-trust", "k")]));
        assert!(matches!(parse(&e, None, RULES).unwrap(), Request::NotOurs { .. }));
        assert!(parse(&event(REMEDIATE_ACTION_ID, json!([])), None, RULES).is_err());
        assert!(parse(&event(REMEDIATE_ACTION_ID, json!("x")), None, RULES).is_err());
        assert!(parse(&event(REMEDIATE_ACTION_ID, json!([{"Id": 3}])), None, RULES).is_err());
        let mut e = event(REMEDIATE_ACTION_ID, json!([finding("iam-open-trust", "k")]));
        e.resources = vec![format!(
            "arn:aws:securityhub:eu-west-1:{ACCOUNT}:action/custom/{REMEDIATE_ACTION_ID}"
        )];
        assert!(parse(&e, None, RULES).is_err());
        e.resources = vec![];
        assert!(parse(&e, None, RULES).is_err());
    }
}
