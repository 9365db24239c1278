//! `iam-user-direct-policy`: an IAM user has policies attached or put directly (Security Hub
//! control IAM.2). Report only: the fix (moving permissions to a group or role) needs a person.
//! Judged on the state after the other rules' fixes, so a user whose only direct policy was just
//! removed is not reported.

use super::{fallback_principal_arn, ResourceRef, ResourceType, Rule, RuleMeta, Severity, SkipKind, Status, Verdict};
use crate::finding::{Finding, PrincipalKind, PrincipalRef, Subject};
use crate::plan::Remedy;
use crate::state::{Known, Lookup, Observed};

pub const ID: &str = "iam-user-direct-policy";

static META: RuleMeta = RuleMeta {
    id: ID,
    title: "IAM user has policies attached directly",
    description: "Permissions are granted to an IAM user directly instead of through a group or role.",
    severity: Severity::Low,
    recommendation:
        "Put the user in a group (or use roles) and grant the permissions to the group; detach the user's own policies.",
    recommendation_url: "https://docs.aws.amazon.com/securityhub/latest/userguide/iam-controls.html#iam-2",
    security_hub_control: Some("IAM.2"),
    finding_types: &["Software and Configuration Checks/AWS Security Best Practices"],
    report_only: true,
    accepted_risk: false,
    record_first: true,
};

/// The rule.
pub struct IamUserDirectPolicy;

fn user_of(finding: &Finding) -> Option<&PrincipalRef> {
    match &finding.subject {
        Subject::PolicyAttached { principal, .. } | Subject::InlinePolicyPut { principal, .. }
            if principal.kind == PrincipalKind::User =>
        {
            Some(principal)
        }
        _ => None,
    }
}

impl Rule for IamUserDirectPolicy {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn lookups(&self, finding: &Finding) -> Vec<Lookup> {
        user_of(finding)
            .map(|u| {
                vec![
                    Lookup::Principal(u.clone()),
                    Lookup::AttachedPolicies(u.clone()),
                    Lookup::InlinePolicyNames(u.clone()),
                ]
            })
            .unwrap_or_default()
    }

    fn evaluate(&self, finding: &Finding, observed: &Observed) -> Vec<Verdict> {
        let Some(user) = user_of(finding) else { return vec![] };
        let (arn, exists) = match observed.principal(user) {
            Known::Present(i) => (i.arn.clone(), Some(true)),
            Known::Absent => (
                fallback_principal_arn(&finding.partition, &finding.account, user),
                Some(false),
            ),
            Known::Unknown => (fallback_principal_arn(&finding.partition, &finding.account, user), None),
        };
        let mut v = Verdict {
            rule_id: ID,
            status: Status::Compliant,
            severity: Severity::Informational,
            summary: format!("{user} has no directly attached or inline policies"),
            resources: vec![ResourceRef {
                resource_type: ResourceType::AwsIamUser,
                arn: arn.clone(),
            }],
            key: format!("{arn}|direct-policies"),
            matched_statements: vec![],
            matched_actions: vec![],
            remedy: Remedy::None,
            needs_review: None,
        };
        let state = (exists, observed.attached(user), observed.inline_names(user));
        let (attached, inline) = match state {
            (Some(false), _, _) => {
                v.status = Status::NotEvaluated {
                    kind: SkipKind::PrincipalNotFound,
                };
                v.summary = format!("{user} no longer exists");
                return vec![v];
            }
            (Some(true), Known::Present(a), Known::Present(i)) => (a, i),
            (Some(true), Known::Absent, _) | (Some(true), _, Known::Absent) => {
                v.status = Status::NotEvaluated {
                    kind: SkipKind::PrincipalNotFound,
                };
                v.summary = format!("{user} no longer exists");
                return vec![v];
            }
            _ => {
                v.status = Status::NotEvaluated {
                    kind: SkipKind::StateUnknown,
                };
                v.summary = format!("could not read the policies of {user}");
                return vec![v];
            }
        };
        if attached.is_empty() && inline.is_empty() {
            return vec![v];
        }
        v.status = Status::NonCompliant;
        v.severity = META.severity;
        v.matched_actions = attached
            .iter()
            .map(|a| a.rsplit('/').next().unwrap_or(a).to_string())
            .chain(inline.iter().map(|n| format!("inline:{n}")))
            .collect();
        v.summary = format!(
            "{user} has policies attached directly: {}",
            v.matched_actions.join(", ")
        );
        v.remedy = Remedy::Manual {
            reason: "report only: grant the user's permissions through a group or role".into(),
        };
        vec![v]
    }
}
