//! `iam-admin-access`: a policy grants every action on every resource — asked of the grant model
//! ([`crate::grants`]): an Allow of every action (`*`, `*:*`, or a `NotAction` that names no action
//! AWS has) on `*`, with no unconditional Deny that takes any action away everywhere (`Deny *:*`
//! grants nothing; `Deny NotAction iam:*` leaves IAM, which `iam-service-wildcard` and
//! `iam-privilege-escalation` then report).
//!
//! Judged on managed policies (the default version, AWS-managed or customer-managed) and inline
//! policies. The fix removes the every-action patterns from the statement (the statement goes when
//! nothing else is left in it); the planner turns that into a detach (AWS-managed, or a managed
//! policy left empty), a new default version (customer-managed) or a rewritten inline policy.

use super::{Rule, RuleMeta, Severity, Violation, PERMISSION_KINDS};
use crate::edit::StatementEdit;
use crate::grants::Grants;
use crate::policy::{is_any_action, ActionBlock, DocumentKind, PolicyDocument};

pub const ID: &str = "iam-admin-access";

static META: RuleMeta = RuleMeta {
    id: ID,
    title: "Policy allows full administrative access",
    description: "A policy that allows every action (\"*\") on every resource (\"*\") is attached to or put on an IAM user, role or group.",
    severity: Severity::Critical,
    recommendation: "Grant only the actions and resources the principal needs. Remove statements that allow \"*\" on \"*\"; keep break-glass administrator roles in a protected, monitored path.",
    recommendation_url: "https://docs.aws.amazon.com/securityhub/latest/userguide/iam-controls.html#iam-1",
    security_hub_control: Some("IAM.1"),
    finding_types: &["Software and Configuration Checks/AWS Security Best Practices", "Effects/Data Exposure"],
    report_only: false,
    accepted_risk: false,
    record_first: true,
};

/// The rule.
pub struct IamAdminAccess;

impl Rule for IamAdminAccess {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn document_kinds(&self) -> &'static [DocumentKind] {
        PERMISSION_KINDS
    }

    fn check_document(&self, doc: &PolicyDocument) -> Vec<Violation> {
        let grants = Grants::of(doc);
        let Some(statements) = grants.grants_everything() else {
            return vec![];
        };
        statements
            .into_iter()
            .map(|i| {
                let s = &doc.statements[i];
                let (matched, edit) = match &s.actions {
                    ActionBlock::Action(patterns) => {
                        let any: Vec<String> = patterns.iter().filter(|p| is_any_action(p)).cloned().collect();
                        // A wildcard-service spelling (`*:*`, `?*:*`, ...) that is not the plain form.
                        let any = if any.is_empty() {
                            patterns.iter().filter(|p| p.starts_with(['*', '?'])).cloned().collect()
                        } else {
                            any
                        };
                        (
                            any.clone(),
                            StatementEdit::RemoveActionPatterns {
                                statement: i,
                                patterns: any,
                            },
                        )
                    }
                    ActionBlock::NotAction(except) => (
                        vec![format!(
                            "NotAction [{}] (names no action AWS has: allows everything)",
                            except.join(", ")
                        )],
                        StatementEdit::Remove { statement: i },
                    ),
                };
                Violation {
                    statement: i,
                    label: s.label(),
                    matched,
                    conditioned: s.has_condition,
                    edits: vec![edit],
                }
            })
            .collect()
    }
}
