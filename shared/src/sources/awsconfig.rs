//! AWS Config events (`source` = `aws.config`):
//!
//! - "Config Rules Compliance Change" with a NON_COMPLIANT result, for the Config rules that
//!   `CONFIG_RULE_MAP` maps to a responder rule (only that rule then judges the resource);
//! - "Config Configuration Item Change" for IAM policies, users, roles and groups: the policies
//!   in the item (URL-encoded there) are decoded and validated, and every policy of the resource
//!   is judged on its live state. An item too large for EventBridge arrives as an
//!   `OversizedConfigurationItemChangeNotification`, which carries only a
//!   `configurationItemSummary` (type, name, ARN, status; the item itself is in S3): the resource
//!   is judged on its live state, read from IAM, like any other item.

use crate::envelope::Envelope;
use crate::error::InputError;
use crate::finding::{Actor, Finding, PrincipalKind, PrincipalRef, SourceKind, Subject};
use crate::policy::{DocumentKind, PolicyDocument};
use crate::resource::{AwsResource, ResourceKind};
use serde_json::Value;

pub const SOURCE: &str = "aws.config";
pub const COMPLIANCE_CHANGE: &str = "Config Rules Compliance Change";
pub const ITEM_CHANGE: &str = "Config Configuration Item Change";
/// `detail.messageType` of an item change too large to embed (AWS Config Developer Guide,
/// "Example Oversized Configuration Item Change Notification").
pub const OVERSIZED: &str = "OversizedConfigurationItemChangeNotification";
/// The IAM resource types whose configuration items are evaluated.
pub const IAM_TYPES: &[&str] = &[
    "AWS::IAM::Policy",
    "AWS::IAM::User",
    "AWS::IAM::Role",
    "AWS::IAM::Group",
];

pub fn recognizes(envelope: &Envelope) -> bool {
    envelope.source == SOURCE && (envelope.detail_type == COMPLIANCE_CHANGE || envelope.detail_type == ITEM_CHANGE)
}

fn text<'a>(v: &'a Value, pointer: &str, detail_type: &str) -> Result<&'a str, InputError> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| InputError::MissingField {
            field: format!("detail{}", pointer.replace('/', ".")),
            message: format!("required in a {detail_type} event"),
        })
}

fn principal_kind(resource_type: &str) -> Option<PrincipalKind> {
    match resource_type {
        "AWS::IAM::User" => Some(PrincipalKind::User),
        "AWS::IAM::Role" => Some(PrincipalKind::Role),
        "AWS::IAM::Group" => Some(PrincipalKind::Group),
        _ => None,
    }
}

fn iam_name(name: &str, field: &str) -> Result<String, InputError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
    if ok {
        Ok(name.to_string())
    } else {
        Err(InputError::MissingField {
            field: field.into(),
            message: format!("{name:?} is not a valid IAM name"),
        })
    }
}

/// Parses one embedded (URL-encoded) policy document; bad documents reject the event.
fn check_document(raw: &Value, location: String, kind: DocumentKind) -> Result<Option<String>, InputError> {
    match raw {
        Value::Null => Ok(None),
        Value::String(s) => {
            PolicyDocument::parse_as(s, kind).map_err(|reason| InputError::PolicyDocument {
                location: location.clone(),
                reason,
            })?;
            Ok(Some(s.clone()))
        }
        _ => Err(InputError::MissingField {
            field: location,
            message: "must be a string".into(),
        }),
    }
}

pub fn normalize(envelope: &Envelope, rule_map: &[(String, String)]) -> Result<Finding, InputError> {
    let d = &envelope.detail;
    let dt = envelope.detail_type.as_str();
    let (account_ptr, subject, only_rules, event_name) = if dt == COMPLIANCE_CHANGE {
        let (subject, rule, name) = compliance_change(envelope, rule_map)?;
        ("/awsAccountId", subject, rule.map(|r| vec![r]), name)
    } else if is_oversized(d) {
        let (subject, name) = oversized_item_change(envelope)?;
        ("/configurationItemSummary/awsAccountId", subject, None, name)
    } else {
        let (subject, name) = item_change(envelope)?;
        ("/configurationItem/awsAccountId", subject, None, name)
    };
    let account = text(d, account_ptr, dt)?;
    if account != envelope.account {
        return Err(InputError::InvalidDetail {
            detail_type: dt.into(),
            message: format!(
                "account {account} does not match the envelope account {}",
                envelope.account
            ),
        });
    }
    Ok(Finding {
        event_id: envelope.id.clone(),
        source: SourceKind::Config,
        detail_type: envelope.detail_type.clone(),
        event_name,
        account: envelope.account.clone(),
        region: envelope.region.clone(),
        partition: envelope.partition().to_string(),
        time: envelope.time,
        actor: Actor {
            identity_type: "AWSService".into(),
            arn: None,
            name: Some("config.amazonaws.com".into()),
            account_id: Some(envelope.account.clone()),
        },
        subject,
        only_rules,
        also: Vec::new(),
        raw_detail: envelope.detail.clone(),
    })
}

type ComplianceSubject = (Subject, Option<String>, String);

fn compliance_change(envelope: &Envelope, rule_map: &[(String, String)]) -> Result<ComplianceSubject, InputError> {
    let d = &envelope.detail;
    let rule_name = text(d, "/configRuleName", COMPLIANCE_CHANGE)?.to_string();
    let compliance = text(d, "/newEvaluationResult/complianceType", COMPLIANCE_CHANGE)?;
    let resource_type = text(d, "/resourceType", COMPLIANCE_CHANGE)?.to_string();
    let resource_id = text(d, "/resourceId", COMPLIANCE_CHANGE)?.to_string();
    if resource_id.len() > 1024 {
        return Err(InputError::MissingField {
            field: "detail.resourceId".into(),
            message: "longer than any AWS resource id".into(),
        });
    }
    let unhandled = |reason: String| Ok((Subject::Unhandled { reason }, None, rule_name.clone()));
    if compliance != "NON_COMPLIANT" {
        return unhandled(format!(
            "{rule_name} reports {compliance} for {resource_type} {resource_id}; nothing to do"
        ));
    }
    let Some((_, rule_id)) = rule_map
        .iter()
        .find(|(fragment, _)| rule_name.contains(fragment.as_str()))
    else {
        return unhandled(format!(
            "Config rule {rule_name} is not mapped to a responder rule (CONFIG_RULE_MAP)"
        ));
    };
    let subject = if rule_id == crate::rules::required_tags::ID {
        let Some(kind) = ResourceKind::from_config_type(&resource_type) else {
            return unhandled(format!("{resource_type} is not a resource type the responder tags"));
        };
        match kind {
            // Config identifies DB instances by their resource id (db-...), not their name.
            ResourceKind::RdsDbInstance => Subject::ConfigResource {
                resource_type,
                resource_id,
            },
            _ => {
                // SNS topics are identified by ARN, SQS queues by URL; the rest by name or id.
                let name = match kind {
                    ResourceKind::SnsTopic => resource_id.rsplit(':').next().unwrap_or_default(),
                    ResourceKind::SqsQueue => resource_id.rsplit(['/', ':']).next().unwrap_or_default(),
                    _ => resource_id.as_str(),
                };
                let region = d.get("awsRegion").and_then(Value::as_str).unwrap_or(&envelope.region);
                let resource = AwsResource::new(kind, name, envelope.partition(), region, &envelope.account)
                    .ok_or_else(|| InputError::MissingField {
                        field: "detail.resourceId".into(),
                        message: format!("{resource_id:?} is not a valid {resource_type} id"),
                    })?;
                Subject::ResourceTagsCheck { resource }
            }
        }
    } else if IAM_TYPES.contains(&resource_type.as_str()) {
        if !resource_id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(InputError::MissingField {
                field: "detail.resourceId".into(),
                message: format!("{resource_id:?} is not an IAM unique id"),
            });
        }
        Subject::ConfigResource {
            resource_type,
            resource_id,
        }
    } else {
        return unhandled(format!("{rule_id} does not judge {resource_type} resources"));
    };
    Ok((subject, Some(rule_id.clone()), rule_name))
}

/// An oversized item's notification: a summary instead of the item (`messageType` says so; a
/// summary without an item is read the same way).
fn is_oversized(detail: &Value) -> bool {
    detail.get("messageType").and_then(Value::as_str) == Some(OVERSIZED)
        || (detail.get("configurationItem").is_none() && detail.get("configurationItemSummary").is_some())
}

/// What an item change is about before its content: `Unhandled` for other types and deleted
/// resources, else the resource type.
fn item_scope(resource_type: &str, status: &str) -> Option<Subject> {
    if !IAM_TYPES.contains(&resource_type) {
        return Some(Subject::Unhandled {
            reason: format!("configuration items of {resource_type} are not evaluated"),
        });
    }
    if status.starts_with("ResourceDeleted") {
        return Some(Subject::Unhandled {
            reason: format!("the {resource_type} was deleted; nothing to evaluate"),
        });
    }
    None
}

/// The customer-managed policy ARN of an item, checked to be of the event's account.
fn policy_arn(envelope: &Envelope, pointer: &str) -> Result<String, InputError> {
    let arn = text(&envelope.detail, pointer, ITEM_CHANGE)?.to_string();
    let prefix = format!("arn:{}:iam::{}:policy/", envelope.partition(), envelope.account);
    if !arn.starts_with(&prefix) || arn.len() > 2048 || !arn.is_ascii() {
        return Err(InputError::MissingField {
            field: format!("detail{}", pointer.replace('/', ".")),
            message: format!(
                "{arn:?} is not a customer-managed policy of account {}",
                envelope.account
            ),
        });
    }
    Ok(arn)
}

/// An oversized item: only the summary is here, so the subject is the resource itself, judged on
/// the live state read from IAM (the same as for a full item, whose documents are only checked).
fn oversized_item_change(envelope: &Envelope) -> Result<(Subject, String), InputError> {
    let d = &envelope.detail;
    let resource_type = text(d, "/configurationItemSummary/resourceType", ITEM_CHANGE)?.to_string();
    let status = text(d, "/configurationItemSummary/configurationItemStatus", ITEM_CHANGE)?;
    if let Some(unhandled) = item_scope(&resource_type, status) {
        return Ok((unhandled, resource_type));
    }
    let subject = match principal_kind(&resource_type) {
        Some(kind) => Subject::PrincipalReview {
            principal: PrincipalRef {
                kind,
                name: iam_name(
                    text(d, "/configurationItemSummary/resourceName", ITEM_CHANGE)?,
                    "detail.configurationItemSummary.resourceName",
                )?,
            },
        },
        None => Subject::ManagedPolicyChanged {
            policy_arn: policy_arn(envelope, "/configurationItemSummary/ARN")?,
            document: None,
        },
    };
    Ok((subject, resource_type))
}

fn item_change(envelope: &Envelope) -> Result<(Subject, String), InputError> {
    let d = &envelope.detail;
    let item = d.get("configurationItem").ok_or_else(|| InputError::MissingField {
        field: "detail.configurationItem".into(),
        message: format!("required in a {ITEM_CHANGE} event"),
    })?;
    let resource_type = text(d, "/configurationItem/resourceType", ITEM_CHANGE)?.to_string();
    let status = text(d, "/configurationItem/configurationItemStatus", ITEM_CHANGE)?;
    if let Some(unhandled) = item_scope(&resource_type, status) {
        return Ok((unhandled, resource_type));
    }
    let config = item
        .get("configuration")
        .filter(|c| c.is_object())
        .ok_or_else(|| InputError::MissingField {
            field: "detail.configurationItem.configuration".into(),
            message: "must be an object".into(),
        })?;
    let name = iam_name(
        text(d, "/configurationItem/resourceName", ITEM_CHANGE)?,
        "detail.configurationItem.resourceName",
    )?;
    let subject = match principal_kind(&resource_type) {
        Some(kind) => {
            let (list, doc_kind) = match kind {
                PrincipalKind::User => ("userPolicyList", DocumentKind::InlineUser),
                PrincipalKind::Role => ("rolePolicyList", DocumentKind::InlineRole),
                PrincipalKind::Group => ("groupPolicyList", DocumentKind::InlineGroup),
            };
            if let Some(policies) = config.get(list).and_then(Value::as_array) {
                for (i, p) in policies.iter().enumerate() {
                    check_document(
                        p.get("policyDocument").unwrap_or(&Value::Null),
                        format!("detail.configurationItem.configuration.{list}[{i}].policyDocument"),
                        doc_kind,
                    )?;
                }
            }
            if kind == PrincipalKind::Role {
                check_document(
                    config.get("assumeRolePolicyDocument").unwrap_or(&Value::Null),
                    "detail.configurationItem.configuration.assumeRolePolicyDocument".into(),
                    DocumentKind::Trust,
                )?;
            }
            Subject::PrincipalReview {
                principal: PrincipalRef { kind, name },
            }
        }
        None => {
            let arn = policy_arn(envelope, "/configurationItem/ARN")?;
            let mut document = None;
            if let Some(versions) = config.get("policyVersionList").and_then(Value::as_array) {
                for (i, v) in versions.iter().enumerate() {
                    let doc = check_document(
                        v.get("document").unwrap_or(&Value::Null),
                        format!("detail.configurationItem.configuration.policyVersionList[{i}].document"),
                        DocumentKind::Managed,
                    )?;
                    if v.get("isDefaultVersion").and_then(Value::as_bool) == Some(true) {
                        document = doc;
                    }
                }
            }
            Subject::ManagedPolicyChanged {
                policy_arn: arn,
                document,
            }
        }
    };
    Ok((subject, resource_type))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map() -> Vec<(String, String)> {
        crate::config::parse_rule_map(crate::config::DEFAULT_CONFIG_RULE_MAP).unwrap()
    }

    fn compliance(rule: &str, rtype: &str, id: &str, result: &str) -> Envelope {
        Envelope::from_value(
            json!({"version":"0","id":"c-1","detail-type":COMPLIANCE_CHANGE,"source":SOURCE,
            "account":"123456789012","time":"2026-11-20T10:00:00Z","region":"us-east-1","resources":[],
            "detail":{"resourceId":id,"awsRegion":"us-east-1","awsAccountId":"123456789012","configRuleName":rule,
              "resourceType":rtype,"newEvaluationResult":{"complianceType":result}}}),
        )
        .unwrap()
    }

    #[test]
    fn maps_prefixed_rule_names_and_skips_compliant_results() {
        let f = normalize(
            &compliance(
                "OrgConfigRule-required-tags-x1",
                "AWS::S3::Bucket",
                "logs-bucket",
                "NON_COMPLIANT",
            ),
            &map(),
        )
        .unwrap();
        assert_eq!(f.only_rules, Some(vec!["required-tags".to_string()]));
        assert!(matches!(f.subject, Subject::ResourceTagsCheck { .. }));
        let f = normalize(
            &compliance(
                "securityhub-iam-policy-no-statements-with-admin-access-a1",
                "AWS::IAM::Policy",
                "ANPAEXAMPLE123",
                "NON_COMPLIANT",
            ),
            &map(),
        )
        .unwrap();
        assert_eq!(f.only_rules, Some(vec!["iam-admin-access".to_string()]));
        assert!(matches!(f.subject, Subject::ConfigResource { .. }));
        let f = normalize(
            &compliance("required-tags", "AWS::S3::Bucket", "b-1", "COMPLIANT"),
            &map(),
        )
        .unwrap();
        assert!(matches!(f.subject, Subject::Unhandled { .. }));
        let f = normalize(
            &compliance("some-other-rule", "AWS::S3::Bucket", "b-1", "NON_COMPLIANT"),
            &map(),
        )
        .unwrap();
        assert!(matches!(f.subject, Subject::Unhandled { .. }));
        let sns = normalize(
            &compliance(
                "required-tags",
                "AWS::SNS::Topic",
                "arn:aws:sns:us-east-1:123456789012:alerts",
                "NON_COMPLIANT",
            ),
            &map(),
        )
        .unwrap();
        assert!(matches!(sns.subject, Subject::ResourceTagsCheck { resource } if resource.name == "alerts"));
        assert!(normalize(
            &compliance("required-tags", "AWS::S3::Bucket", "../../etc", "NON_COMPLIANT"),
            &map()
        )
        .is_err());
    }

    #[test]
    fn item_changes_validate_embedded_documents() {
        let item = |doc: &str| {
            Envelope::from_value(
                json!({"version":"0","id":"c-2","detail-type":ITEM_CHANGE,"source":SOURCE,
                "account":"123456789012","time":"2026-11-20T10:00:00Z","region":"us-east-1","resources":[],
                "detail":{"configurationItem":{"awsAccountId":"123456789012","resourceType":"AWS::IAM::Role",
                  "configurationItemStatus":"OK","resourceName":"app","ARN":"arn:aws:iam::123456789012:role/app",
                  "configuration":{"roleName":"app","assumeRolePolicyDocument":doc,"rolePolicyList":[]}}}}),
            )
            .unwrap()
        };
        let ok = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
        let f = normalize(&item(ok), &map()).unwrap();
        assert!(matches!(f.subject, Subject::PrincipalReview { .. }));
        assert!(matches!(
            normalize(&item("%7B%22Version"), &map()),
            Err(InputError::PolicyDocument { .. })
        ));
    }

    fn oversized(summary: Value) -> Envelope {
        Envelope::from_value(json!({"version":"0","id":"c-3","detail-type":ITEM_CHANGE,"source":SOURCE,
            "account":"123456789012","time":"2026-11-20T10:00:00Z","region":"us-east-1","resources":[],
            "detail":{"messageType":OVERSIZED,"recordVersion":"1.0",
              "configurationItemSummary":summary,
              "s3DeliverySummary":{"s3BucketLocation":"config-bucket/AWSLogs/oversized.json","errorCode":null,"errorMessage":null}}}))
        .unwrap()
    }

    /// An oversized item carries a summary only: principals and policies are judged on their live
    /// state; other types and deleted resources are not evaluated; a policy of another account
    /// is refused as for a full item.
    #[test]
    fn oversized_items_are_judged_on_the_live_state() {
        let summary = |rtype: &str, name: &str, arn: &str, status: &str| {
            json!({"changeType":"UPDATE","configurationItemVersion":"1.3","awsAccountId":"123456789012",
                   "configurationItemStatus":status,"resourceType":rtype,"resourceId":"AIDAEXAMPLE",
                   "resourceName":name,"ARN":arn,"awsRegion":"us-east-1"})
        };
        let f = normalize(
            &oversized(summary(
                "AWS::IAM::Role",
                "app",
                "arn:aws:iam::123456789012:role/app",
                "OK",
            )),
            &map(),
        )
        .unwrap();
        assert!(
            matches!(&f.subject, Subject::PrincipalReview { principal } if principal.name == "app" && principal.kind == PrincipalKind::Role),
            "{:?}",
            f.subject
        );
        let f = normalize(
            &oversized(summary(
                "AWS::IAM::Policy",
                "TeamAdmin",
                "arn:aws:iam::123456789012:policy/TeamAdmin",
                "OK",
            )),
            &map(),
        )
        .unwrap();
        assert!(
            matches!(&f.subject, Subject::ManagedPolicyChanged { document: None, policy_arn } if policy_arn.ends_with("/TeamAdmin")),
            "{:?}",
            f.subject
        );
        for (rtype, status) in [("AWS::S3::Bucket", "OK"), ("AWS::IAM::User", "ResourceDeleted")] {
            let f = normalize(
                &oversized(summary(rtype, "x", "arn:aws:iam::123456789012:user/x", status)),
                &map(),
            )
            .unwrap();
            assert!(
                matches!(f.subject, Subject::Unhandled { .. }),
                "{rtype}: {:?}",
                f.subject
            );
        }
        assert!(normalize(
            &oversized(summary(
                "AWS::IAM::Policy",
                "p",
                "arn:aws:iam::210987654321:policy/p",
                "OK"
            )),
            &map()
        )
        .is_err());
        let mut no_name = summary("AWS::IAM::User", "", "arn:aws:iam::123456789012:user/x", "OK");
        no_name["resourceName"] = Value::Null;
        assert!(matches!(
            normalize(&oversized(no_name), &map()),
            Err(InputError::MissingField { .. })
        ));
    }
}
