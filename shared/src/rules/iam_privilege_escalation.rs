//! `iam-privilege-escalation`: a policy allows, on every resource, an action that lets a principal
//! grant itself more (e.g. `iam:CreatePolicyVersion`), or a combination that does (`iam:PassRole`
//! with a service that runs code under the passed role). Asked of the grant model
//! ([`crate::grants`]): patterns are the catalogue actions they match (`iam:Put*`,
//! `iam:*Policy*`, `IAM:pass?ole`, `NotAction`), "every resource" is every ARN of the action's
//! resource types (`iam:PassRole` on `arn:aws:iam::*:role/*` is on every role), net of
//! unconditional Deny. Every-action patterns (`*`) are left to `iam-admin-access` when the document
//! grants everything; the other patterns of the same statement are still judged here.
//!
//! Fix: remove the patterns that grant an escalation action (for a combination, the ones granting
//! `iam:PassRole`); for a `NotAction` statement, add the actions to its `NotAction` list.

use super::{Rule, RuleMeta, Severity, Violation, PERMISSION_KINDS};
use crate::edit::StatementEdit;
use crate::grants::Grants;
use crate::policy::{is_any_action, wildcard_match, ActionBlock, DocumentKind, PolicyDocument, Statement};
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

/// Statements that grant `action` on every resource of it (net of unconditional Deny), asked of
/// the grant model. Every-action patterns count only when the document does not grant everything
/// (then `iam-admin-access` reports it); otherwise `*` cut down by a `Deny NotAction iam:*` would
/// hide every IAM escalation.
fn granting<'a>(doc: &'a PolicyDocument, grants: &Grants<'_>, action: &str) -> Vec<&'a Statement> {
    let Some(id) = grants.catalogue().find(action) else {
        return vec![];
    };
    let with_any = grants.grants_everything().is_none();
    grants
        .granting(id, with_any)
        .into_iter()
        .map(|i| &doc.statements[i])
        .collect()
}

const PASSED_TO_SERVICE: &str = "iam:passedtoservice";

/// Whether a PassRole statement lets the role be passed to `service` (`lambda.amazonaws.com`):
/// yes unless a positive condition on `iam:PassedToService` lists only other services. Negated and
/// `IfExists` forms narrow nothing.
fn passes_to(statement: &Statement, service: &str) -> bool {
    let Some(condition) = statement.raw.get("Condition").and_then(|c| c.as_object()) else {
        return true;
    };
    for (operator, block) in condition {
        let op = operator.to_ascii_lowercase();
        let op = op.strip_prefix("foranyvalue:").unwrap_or(&op);
        if !matches!(op, "stringequals" | "stringequalsignorecase" | "stringlike") {
            continue;
        }
        let Some(block) = block.as_object() else { continue };
        for (key, values) in block {
            if key.to_ascii_lowercase() != PASSED_TO_SERVICE {
                continue;
            }
            let values: Vec<&str> = match values {
                serde_json::Value::Array(v) => v.iter().filter_map(|x| x.as_str()).collect(),
                serde_json::Value::String(v) => vec![v.as_str()],
                _ => vec![],
            };
            // Every positive condition must hold: one that admits no such service closes the path.
            if !values.iter().any(|v| wildcard_match(v, service)) {
                return false;
            }
        }
    }
    true
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
        let grants = Grants::of(doc);
        let with_any = grants.grants_everything().is_none();
        let mut hits: BTreeMap<usize, Hit> = BTreeMap::new();
        for action in SINGLE_ACTIONS {
            for s in granting(doc, &grants, action) {
                let h = hits.entry(s.index).or_default();
                push(&mut h.shown, action);
                push(&mut h.remove, action);
            }
        }
        let passers = granting(doc, &grants, PASS_ROLE);
        if !passers.is_empty() {
            for combo in PASS_ROLE_PARTNERS {
                let partners: Option<Vec<&str>> = combo
                    .iter()
                    .map(|alternatives| {
                        alternatives
                            .iter()
                            .copied()
                            .find(|a| !granting(doc, &grants, a).is_empty())
                    })
                    .collect();
                let Some(partners) = partners else { continue };
                // `iam:PassedToService` narrows what the role can be passed to: a PassRole limited
                // to DAX is no Lambda path.
                let service = format!("{}.amazonaws.com", partners[0].split(':').next().unwrap_or_default());
                for s in passers.iter().filter(|s| passes_to(s, &service)) {
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
                            .filter(|p| {
                                (with_any || !is_any_action(p)) && hit.remove.iter().any(|a| wildcard_match(p, a))
                            })
                            .cloned()
                            .collect(),
                    },
                    ActionBlock::NotAction(_) => StatementEdit::AddNotActions {
                        statement: index,
                        actions: hit.remove.clone(),
                    },
                };
                // A Condition on iam:PassedToService alone was judged above (the role can be
                // passed to the service the combination needs): it does not lower severity.
                let only_passed_to = s.condition_keys.iter().all(|k| k == PASSED_TO_SERVICE);
                Violation {
                    statement: index,
                    label: s.label(),
                    matched: hit.shown,
                    conditioned: s.has_condition && !only_passed_to,
                    edits: vec![edit],
                }
            })
            .collect()
    }
}
