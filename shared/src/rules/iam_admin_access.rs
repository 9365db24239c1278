//! `iam-admin-access`: a policy allows every action (`*` or `*:*`) on every resource.
//!
//! Judged on managed policies (the default version, AWS-managed or customer-managed) and inline
//! policies. The fix removes the every-action patterns from the statement (the statement goes when
//! nothing else is left in it); the planner turns that into a detach (AWS-managed, or a managed
//! policy left empty), a new default version (customer-managed) or a rewritten inline policy.
//! An unconditional `Deny` of `*` on `*` in the same document removes the risk.

use super::{Rule, RuleMeta, Severity, Violation, PERMISSION_KINDS};
use crate::edit::StatementEdit;
use crate::policy::{is_any_action, ActionBlock, DocumentKind, Effect, PolicyDocument};

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
        if doc.denies_everywhere("*") {
            return vec![];
        }
        doc.statements
            .iter()
            .filter(|s| s.effect == Effect::Allow && s.allow_reaches_all_resources())
            .filter_map(|s| {
                let ActionBlock::Action(patterns) = &s.actions else {
                    return None;
                };
                let any: Vec<String> = patterns.iter().filter(|p| is_any_action(p)).cloned().collect();
                (!any.is_empty()).then(|| Violation {
                    statement: s.index,
                    label: s.label(),
                    matched: any.clone(),
                    conditioned: s.has_condition,
                    edits: vec![StatementEdit::RemoveActionPatterns {
                        statement: s.index,
                        patterns: any,
                    }],
                })
            })
            .collect()
    }
}
