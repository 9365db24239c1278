//! `iam-privilege-escalation`: a policy allows, on every resource, an action that lets a principal
//! grant itself more (e.g. `iam:CreatePolicyVersion`), or a combination that does (`iam:PassRole`
//! with a service that runs code under the passed role). Patterns match as IAM matches them
//! (`iam:Put*`, `iam:*Policy*`, `IAM:pass?ole`, `NotAction`). Every-action patterns (`*`) are left
//! to `iam-admin-access`; the other patterns of the same statement are still judged here.
//!
//! Fix: remove the patterns that grant an escalation action (for a combination, the ones granting
//! `iam:PassRole`); for a `NotAction` statement, add the actions to its `NotAction` list.

use super::{Rule, RuleMeta, Severity, Violation, PERMISSION_KINDS};
use crate::edit::StatementEdit;
use crate::policy::{is_any_action, wildcard_match, ActionBlock, DocumentKind, Effect, PolicyDocument, Statement};
use std::collections::BTreeMap;

pub const ID: &str = "iam-privilege-escalation";

/// Each of these alone lets a principal raise its own privileges.
pub const SINGLE_ACTIONS: &[&str] = &[
    "iam:CreatePolicyVersion",
    "iam:SetDefaultPolicyVersion",
    "iam:CreateAccessKey",
    "iam:CreateLoginProfile",
    "iam:UpdateLoginProfile",
    "iam:AttachUserPolicy",
    "iam:AttachGroupPolicy",
    "iam:AttachRolePolicy",
    "iam:PutUserPolicy",
    "iam:PutGroupPolicy",
    "iam:PutRolePolicy",
    "iam:AddUserToGroup",
    "iam:UpdateAssumeRolePolicy",
    "lambda:UpdateFunctionCode",
    "glue:UpdateDevEndpoint",
];

pub const PASS_ROLE: &str = "iam:PassRole";

/// Services that run code as a passed role: every group must be granted (any one of its actions).
pub const PASS_ROLE_PARTNERS: &[&[&[&str]]] = &[
    &[&["ec2:RunInstances"]],
    &[
        &["lambda:CreateFunction"],
        &[
            "lambda:InvokeFunction",
            "lambda:AddPermission",
            "lambda:CreateEventSourceMapping",
        ],
    ],
    &[&["cloudformation:CreateStack"]],
    &[&["glue:CreateDevEndpoint"]],
    &[&["datapipeline:CreatePipeline"]],
];

static META: RuleMeta = RuleMeta {
    id: ID,
    title: "Policy allows privilege escalation",
    description: "A policy allows, on every resource, an IAM action (or a combination such as iam:PassRole with a compute service) that lets the principal grant itself more permissions.",
    severity: Severity::High,
    recommendation: "Remove the escalation actions, or scope them to specific resources and protect them with conditions and permissions boundaries.",
    recommendation_url: "https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html#grant-least-privilege",
    security_hub_control: None,
    finding_types: &["Software and Configuration Checks/AWS Security Best Practices", "TTPs/Privilege Escalation"],
    report_only: false,
    accepted_risk: false,
    record_first: true,
};

/// The rule.
pub struct IamPrivilegeEscalation;

/// Statements that grant `action` on every resource (and are not cancelled by a Deny).
fn granting<'a>(doc: &'a PolicyDocument, action: &str) -> Vec<&'a Statement> {
    if doc.denies_everywhere(action) {
        return vec![];
    }
    doc.statements
        .iter()
        .filter(|s| {
            s.effect == Effect::Allow && s.allow_reaches_all_resources() && s.matches_action_besides_any(action)
        })
        .collect()
}

#[derive(Default)]
struct Hit {
    /// Actions shown in the finding.
    shown: Vec<String>,
    /// Actions the fix takes away from this statement.
    remove: Vec<String>,
}

fn push(list: &mut Vec<String>, v: &str) {
    if !list.iter().any(|x| x == v) {
        list.push(v.to_string());
    }
}

impl Rule for IamPrivilegeEscalation {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn document_kinds(&self) -> &'static [DocumentKind] {
        PERMISSION_KINDS
    }

    fn check_document(&self, doc: &PolicyDocument) -> Vec<Violation> {
        let mut hits: BTreeMap<usize, Hit> = BTreeMap::new();
        for action in SINGLE_ACTIONS {
            for s in granting(doc, action) {
                let h = hits.entry(s.index).or_default();
                push(&mut h.shown, action);
                push(&mut h.remove, action);
            }
        }
        let passers = granting(doc, PASS_ROLE);
        if !passers.is_empty() {
            for combo in PASS_ROLE_PARTNERS {
                let partners: Option<Vec<&str>> = combo
                    .iter()
                    .map(|alternatives| alternatives.iter().copied().find(|a| !granting(doc, a).is_empty()))
                    .collect();
                let Some(partners) = partners else { continue };
                for s in &passers {
                    let h = hits.entry(s.index).or_default();
                    push(&mut h.shown, PASS_ROLE);
                    push(&mut h.remove, PASS_ROLE);
                    for p in &partners {
                        push(&mut h.shown, p);
                    }
                }
            }
        }
        hits.into_iter()
            .map(|(index, hit)| {
                let s = &doc.statements[index];
                let edit = match &s.actions {
                    ActionBlock::Action(patterns) => StatementEdit::RemoveActionPatterns {
                        statement: index,
                        patterns: patterns
                            .iter()
                            .filter(|p| !is_any_action(p) && hit.remove.iter().any(|a| wildcard_match(p, a)))
                            .cloned()
                            .collect(),
                    },
                    ActionBlock::NotAction(_) => StatementEdit::AddNotActions {
                        statement: index,
                        actions: hit.remove.clone(),
                    },
                };
                Violation {
                    statement: index,
                    label: s.label(),
                    matched: hit.shown,
                    conditioned: s.has_condition,
                    edits: vec![edit],
                }
            })
            .collect()
    }
}
