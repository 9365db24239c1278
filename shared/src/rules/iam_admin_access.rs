//! `iam-admin-access`: a principal was given a policy that allows every action on every resource.
//!
//! - Managed policy attached (`Attach{User,Role,Group}Policy`): the policy's *current default
//!   version* is read; if it allows `*`/`*:*` on `*` and is *still attached*, the fix detaches it
//!   (inverse: attach it again).
//! - Inline policy (`Put{User,Role,Group}Policy`): the *current* document is read; the offending
//!   statements are removed and the rest kept verbatim (inverse: put the original document back).
//!   When nothing else remains, the inline policy is deleted.
//! - A matching statement with a `Condition` is reported at HIGH instead of CRITICAL and left for a
//!   person: a condition may be what makes the grant acceptable (e.g. MFA or source VPC).

use super::{fallback_principal_arn, ResourceRef, ResourceType, Rule, RuleMeta, Severity, SkipKind, Status, Verdict};
use crate::finding::{Finding, PrincipalRef, Subject};
use crate::plan::{Action, Remedy, Step};
use crate::policy::{PolicyDocument, Statement};
use crate::state::{Known, Lookup, Observed};

pub const ID: &str = "iam-admin-access";

static META: RuleMeta = RuleMeta {
    id: ID,
    title: "IAM principal granted full administrative access",
    description: "A policy that allows every action (\"*\") on every resource (\"*\") was attached to or put on an IAM user, role or group.",
    severity: Severity::Critical,
    recommendation: "Grant only the actions and resources the principal needs. Remove policies that allow \"*\" on \"*\"; keep break-glass administrator roles in a protected, monitored path.",
    recommendation_url: "https://docs.aws.amazon.com/securityhub/latest/userguide/iam-controls.html#iam-1",
    security_hub_control: Some("IAM.1"),
    finding_types: &[
        "Software and Configuration Checks/AWS Security Best Practices",
        "Effects/Data Exposure",
    ],
};

/// The rule.
pub struct IamAdminAccess;

impl Rule for IamAdminAccess {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn lookups(&self, finding: &Finding) -> Vec<Lookup> {
        match &finding.subject {
            Subject::PolicyAttached { principal, policy_arn } => vec![
                Lookup::Principal(principal.clone()),
                Lookup::ManagedPolicy {
                    arn: policy_arn.clone(),
                },
                Lookup::AttachedPolicies(principal.clone()),
            ],
            Subject::InlinePolicyPut {
                principal, policy_name, ..
            } => vec![
                Lookup::Principal(principal.clone()),
                Lookup::InlinePolicy {
                    principal: principal.clone(),
                    name: policy_name.clone(),
                },
            ],
            Subject::Unhandled { .. } => vec![],
        }
    }

    fn evaluate(&self, finding: &Finding, observed: &Observed) -> Vec<Verdict> {
        match &finding.subject {
            Subject::PolicyAttached { principal, policy_arn } => {
                vec![attached(finding, observed, principal, policy_arn)]
            }
            Subject::InlinePolicyPut {
                principal,
                policy_name,
                document,
            } => {
                vec![inline(finding, observed, principal, policy_name, document.as_deref())]
            }
            Subject::Unhandled { .. } => vec![],
        }
    }
}

/// The statements that grant everything: all their labels, and the indices safe to remove
/// automatically (those without a Condition).
struct Offending {
    fixable: Vec<usize>,
    labels: Vec<String>,
}

fn offending(doc: &PolicyDocument) -> Offending {
    let hits: Vec<&Statement> = doc
        .statements
        .iter()
        .filter(|s| s.allows_all_actions_on_all_resources())
        .collect();
    Offending {
        fixable: hits.iter().filter(|s| !s.has_condition).map(|s| s.index).collect(),
        labels: hits.iter().map(|s| s.label()).collect(),
    }
}

fn verdict(status: Status, severity: Severity, summary: String, resources: Vec<ResourceRef>, key: String) -> Verdict {
    Verdict {
        rule_id: ID,
        status,
        severity,
        summary,
        resources,
        key,
        matched_statements: vec![],
        remedy: Remedy::None,
    }
}

fn skipped(kind: SkipKind, summary: String, resources: Vec<ResourceRef>, key: String) -> Verdict {
    verdict(Status::NotEvaluated { kind }, META.severity, summary, resources, key)
}

fn principal_resource(finding: &Finding, observed: &Observed, p: &PrincipalRef) -> (ResourceRef, Known<'static, ()>) {
    let (arn, known) = match observed.principal(p) {
        Known::Present(info) => (info.arn.clone(), Known::Present(&())),
        Known::Absent => (
            fallback_principal_arn(&finding.partition, &finding.account, p),
            Known::Absent,
        ),
        Known::Unknown => (
            fallback_principal_arn(&finding.partition, &finding.account, p),
            Known::Unknown,
        ),
    };
    (
        ResourceRef {
            resource_type: ResourceType::of_principal(p.kind),
            arn,
        },
        known,
    )
}

fn attached(finding: &Finding, observed: &Observed, principal: &PrincipalRef, policy_arn: &str) -> Verdict {
    let (who, exists) = principal_resource(finding, observed, principal);
    let policy = ResourceRef {
        resource_type: ResourceType::AwsIamPolicy,
        arn: policy_arn.to_string(),
    };
    let key = format!("{}|{}", who.arn, policy_arn);
    let resources = vec![who, policy];
    match exists {
        Known::Absent => {
            return skipped(
                SkipKind::PrincipalNotFound,
                format!("{principal} no longer exists; nothing to fix"),
                resources,
                key,
            )
        }
        Known::Unknown => {
            return skipped(
                SkipKind::StateUnknown,
                format!("could not read {principal}"),
                resources,
                key,
            )
        }
        Known::Present(_) => {}
    }
    let managed = match observed.managed_policy(policy_arn) {
        Known::Present(m) => m,
        Known::Absent => {
            return skipped(
                SkipKind::PolicyNotFound,
                format!("policy {policy_arn} does not exist"),
                resources,
                key,
            )
        }
        Known::Unknown => {
            return skipped(
                SkipKind::StateUnknown,
                format!("could not read policy {policy_arn}"),
                resources,
                key,
            )
        }
    };
    let doc = match PolicyDocument::parse(&managed.document) {
        Ok(d) => d,
        Err(e) => {
            return skipped(
                SkipKind::PolicyUnreadable,
                format!(
                    "default version {} of {policy_arn} could not be parsed: {e}",
                    managed.default_version_id
                ),
                resources,
                key,
            )
        }
    };
    let hits = offending(&doc);
    if hits.labels.is_empty() {
        return verdict(
            Status::Compliant,
            Severity::Informational,
            format!("{policy_arn} ({}) does not allow * on *", managed.default_version_id),
            resources,
            key,
        );
    }
    let still_attached = match observed.attached(principal) {
        Known::Present(list) => list.iter().any(|a| a == policy_arn),
        Known::Absent => false,
        Known::Unknown => {
            return skipped(
                SkipKind::StateUnknown,
                format!("could not list the policies attached to {principal}"),
                resources,
                key,
            )
        }
    };
    let mut v = if !still_attached {
        verdict(
            Status::Resolved,
            META.severity,
            format!("{policy_arn} allows * on * but is no longer attached to {principal}"),
            resources,
            key,
        )
    } else if hits.fixable.is_empty() {
        let mut v = verdict(
            Status::NonCompliant,
            Severity::High,
            format!("{principal} has {policy_arn}, which allows * on * under a condition"),
            resources,
            key,
        );
        v.remedy = Remedy::Manual {
            reason: "every matching statement has a Condition; a person must judge whether it restricts enough".into(),
        };
        v
    } else {
        let mut v = verdict(
            Status::NonCompliant,
            META.severity,
            format!("{principal} has {policy_arn}, which allows * on *"),
            resources,
            key,
        );
        v.remedy = Remedy::Fix {
            steps: vec![Step {
                action: Action::DetachPolicy {
                    principal: principal.clone(),
                    policy_arn: policy_arn.to_string(),
                },
                inverse: Action::AttachPolicy {
                    principal: principal.clone(),
                    policy_arn: policy_arn.to_string(),
                },
            }],
        };
        v
    };
    v.matched_statements = hits.labels;
    v
}

fn inline(
    finding: &Finding,
    observed: &Observed,
    principal: &PrincipalRef,
    policy_name: &str,
    event_document: Option<&str>,
) -> Verdict {
    let (who, exists) = principal_resource(finding, observed, principal);
    let key = format!("{}|inline/{policy_name}", who.arn);
    let resources = vec![who];
    match exists {
        Known::Absent => {
            return skipped(
                SkipKind::PrincipalNotFound,
                format!("{principal} no longer exists; nothing to fix"),
                resources,
                key,
            )
        }
        Known::Unknown => {
            return skipped(
                SkipKind::StateUnknown,
                format!("could not read {principal}"),
                resources,
                key,
            )
        }
        Known::Present(_) => {}
    }
    let event_had_admin = event_document
        .and_then(|d| PolicyDocument::parse(d).ok())
        .is_some_and(|d| !offending(&d).labels.is_empty());
    let gone_or_clean = |what: &str| {
        if event_had_admin {
            verdict(
                Status::Resolved,
                META.severity,
                format!("the event's inline policy {policy_name} on {principal} allowed * on *, but it {what} now"),
                resources.clone(),
                key.clone(),
            )
        } else {
            verdict(
                Status::Compliant,
                Severity::Informational,
                format!("inline policy {policy_name} on {principal} does not allow * on *"),
                resources.clone(),
                key.clone(),
            )
        }
    };
    let current = match observed.inline_policy(principal, policy_name) {
        Known::Present(doc) => doc,
        Known::Absent => return gone_or_clean("does not exist"),
        Known::Unknown => {
            return skipped(
                SkipKind::StateUnknown,
                format!("could not read inline policy {policy_name} on {principal}"),
                resources.clone(),
                key.clone(),
            )
        }
    };
    let doc = match PolicyDocument::parse(current) {
        Ok(d) => d,
        Err(e) => {
            return skipped(
                SkipKind::PolicyUnreadable,
                format!("inline policy {policy_name} on {principal} could not be parsed: {e}"),
                resources.clone(),
                key.clone(),
            )
        }
    };
    let hits = offending(&doc);
    if hits.labels.is_empty() {
        return gone_or_clean("does not allow * on *");
    }
    let restore = Action::PutInlinePolicy {
        principal: principal.clone(),
        policy_name: policy_name.to_string(),
        document: doc.to_json(),
    };
    let mut v = if hits.fixable.is_empty() {
        let mut v = verdict(
            Status::NonCompliant,
            Severity::High,
            format!("inline policy {policy_name} on {principal} allows * on * under a condition"),
            resources.clone(),
            key.clone(),
        );
        v.remedy = Remedy::Manual {
            reason: "every matching statement has a Condition; a person must judge whether it restricts enough".into(),
        };
        v
    } else {
        let action = match doc.without_statements(&hits.fixable) {
            Some(rewritten) => Action::PutInlinePolicy {
                principal: principal.clone(),
                policy_name: policy_name.to_string(),
                document: rewritten,
            },
            None => Action::DeleteInlinePolicy {
                principal: principal.clone(),
                policy_name: policy_name.to_string(),
            },
        };
        let mut v = verdict(
            Status::NonCompliant,
            META.severity,
            format!("inline policy {policy_name} on {principal} allows * on *"),
            resources.clone(),
            key.clone(),
        );
        v.remedy = Remedy::Fix {
            steps: vec![Step {
                action,
                inverse: restore,
            }],
        };
        v
    };
    v.matched_statements = hits.labels;
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Actor, PrincipalKind, SourceKind};
    use crate::state::{ManagedPolicy, PrincipalInfo};

    const ADMIN: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    const MIXED: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Admin","Effect":"Allow","Action":"*:*","Resource":"*"},{"Sid":"Read","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#;
    const SCOPED: &str =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}]}"#;
    const CONDITIONED: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}]}"#;
    const ARN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";

    fn alice() -> PrincipalRef {
        PrincipalRef {
            kind: PrincipalKind::User,
            name: "alice".into(),
        }
    }

    fn finding(subject: Subject) -> Finding {
        Finding {
            event_id: "e".into(),
            source: SourceKind::CloudTrail,
            detail_type: "AWS API Call via CloudTrail".into(),
            event_name: "AttachUserPolicy".into(),
            account: "123456789012".into(),
            region: "us-east-1".into(),
            partition: "aws".into(),
            time: chrono::DateTime::UNIX_EPOCH,
            actor: Actor::default(),
            subject,
            raw_detail: serde_json::Value::Null,
        }
    }

    fn observed_attach(doc: &str, attached: bool) -> Observed {
        let mut o = Observed::default();
        o.principals.insert(
            alice(),
            Some(PrincipalInfo {
                arn: "arn:aws:iam::123456789012:user/team/alice".into(),
            }),
        );
        o.managed_policies.insert(
            ARN.into(),
            Some(ManagedPolicy {
                arn: ARN.into(),
                name: "AdministratorAccess".into(),
                default_version_id: "v1".into(),
                document: doc.into(),
            }),
        );
        o.attached
            .insert(alice(), Some(if attached { vec![ARN.into()] } else { vec![] }));
        o
    }

    fn attach_finding() -> Finding {
        finding(Subject::PolicyAttached {
            principal: alice(),
            policy_arn: ARN.into(),
        })
    }

    #[test]
    fn lookups_cover_what_evaluation_reads() {
        let l = IamAdminAccess.lookups(&attach_finding());
        assert_eq!(l.len(), 3);
    }

    #[test]
    fn attached_admin_is_detached_with_attach_as_inverse() {
        let v = &IamAdminAccess.evaluate(&attach_finding(), &observed_attach(ADMIN, true))[0];
        assert_eq!(v.status, Status::NonCompliant);
        assert_eq!(v.severity, Severity::Critical);
        assert_eq!(v.resources[0].arn, "arn:aws:iam::123456789012:user/team/alice");
        let Remedy::Fix { steps } = &v.remedy else {
            panic!("{:?}", v.remedy)
        };
        assert_eq!(
            steps[0].action,
            Action::DetachPolicy {
                principal: alice(),
                policy_arn: ARN.into()
            }
        );
        assert_eq!(
            steps[0].inverse,
            Action::AttachPolicy {
                principal: alice(),
                policy_arn: ARN.into()
            }
        );
    }

    #[test]
    fn attach_outcomes_by_state() {
        let cases = [
            (observed_attach(ADMIN, false), Status::Resolved),
            (observed_attach(SCOPED, true), Status::Compliant),
            (
                observed_attach("{oops", true),
                Status::NotEvaluated {
                    kind: SkipKind::PolicyUnreadable,
                },
            ),
        ];
        for (o, want) in cases {
            let v = &IamAdminAccess.evaluate(&attach_finding(), &o)[0];
            assert_eq!(v.status, want);
            assert_eq!(v.remedy, Remedy::None);
        }
        let mut gone = observed_attach(ADMIN, true);
        gone.principals.insert(alice(), None);
        assert_eq!(
            IamAdminAccess.evaluate(&attach_finding(), &gone)[0].status,
            Status::NotEvaluated {
                kind: SkipKind::PrincipalNotFound
            }
        );
        let mut no_policy = observed_attach(ADMIN, true);
        no_policy.managed_policies.insert(ARN.into(), None);
        assert_eq!(
            IamAdminAccess.evaluate(&attach_finding(), &no_policy)[0].status,
            Status::NotEvaluated {
                kind: SkipKind::PolicyNotFound
            }
        );
        let v = &IamAdminAccess.evaluate(&attach_finding(), &Observed::default())[0];
        assert_eq!(
            v.status,
            Status::NotEvaluated {
                kind: SkipKind::StateUnknown
            }
        );
    }

    #[test]
    fn conditioned_admin_is_reported_lower_and_left_to_a_person() {
        let v = &IamAdminAccess.evaluate(&attach_finding(), &observed_attach(CONDITIONED, true))[0];
        assert_eq!(v.status, Status::NonCompliant);
        assert_eq!(v.severity, Severity::High);
        assert!(matches!(v.remedy, Remedy::Manual { .. }));
    }

    fn inline_case(current: Option<&str>, event_doc: Option<&str>) -> Verdict {
        let f = finding(Subject::InlinePolicyPut {
            principal: alice(),
            policy_name: "p".into(),
            document: event_doc.map(str::to_string),
        });
        let mut o = Observed::default();
        o.principals.insert(
            alice(),
            Some(PrincipalInfo {
                arn: "arn:aws:iam::123456789012:user/alice".into(),
            }),
        );
        o.inline_policies
            .insert((alice(), "p".into()), current.map(str::to_string));
        IamAdminAccess.evaluate(&f, &o).remove(0)
    }

    #[test]
    fn inline_mixed_policy_keeps_benign_statements() {
        let v = inline_case(Some(MIXED), Some(MIXED));
        assert_eq!(v.matched_statements, vec!["Sid \"Admin\"".to_string()]);
        let Remedy::Fix { steps } = &v.remedy else { panic!() };
        let Action::PutInlinePolicy { document, .. } = &steps[0].action else {
            panic!("{:?}", steps[0])
        };
        assert_eq!(
            document,
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"Read","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#
        );
        let Action::PutInlinePolicy { document: original, .. } = &steps[0].inverse else {
            panic!()
        };
        assert_eq!(original, MIXED);
    }

    #[test]
    fn inline_admin_only_policy_is_deleted() {
        let v = inline_case(Some(ADMIN), Some(ADMIN));
        let Remedy::Fix { steps } = &v.remedy else { panic!() };
        assert!(matches!(steps[0].action, Action::DeleteInlinePolicy { .. }));
    }

    #[test]
    fn inline_stale_events_use_live_state() {
        assert_eq!(inline_case(None, Some(ADMIN)).status, Status::Resolved);
        assert_eq!(inline_case(Some(SCOPED), Some(ADMIN)).status, Status::Resolved);
        assert_eq!(inline_case(Some(SCOPED), Some(SCOPED)).status, Status::Compliant);
        assert_eq!(inline_case(None, None).status, Status::Compliant);
        assert_eq!(inline_case(Some(ADMIN), Some(SCOPED)).status, Status::NonCompliant);
    }
}
