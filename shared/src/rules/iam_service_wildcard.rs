//! `iam-service-wildcard`: a policy allows every action of a service (`s3:*`) on every resource, or
//! allows everything except a list (`NotAction`) on every resource (Security Hub control IAM.21).
//!
//! Fix: remove the `service:*` patterns from the statement; a `NotAction` Allow on `*` is removed
//! whole (it grants nearly everything, including services that do not exist yet).

use super::{Rule, RuleMeta, Severity, Violation, PERMISSION_KINDS};
use crate::edit::StatementEdit;
use crate::policy::{ActionBlock, DocumentKind, Effect, PolicyDocument};

pub const ID: &str = "iam-service-wildcard";

static META: RuleMeta = RuleMeta {
    id: ID,
    title: "Policy allows every action of a service",
    description: "A policy allows \"service:*\" on every resource, or allows every action except a few (NotAction) on every resource.",
    severity: Severity::Medium,
    recommendation: "List the actions the principal needs instead of \"service:*\"; avoid Allow with NotAction on \"*\".",
    recommendation_url: "https://docs.aws.amazon.com/securityhub/latest/userguide/iam-controls.html#iam-21",
    security_hub_control: Some("IAM.21"),
    finding_types: &["Software and Configuration Checks/AWS Security Best Practices"],
    report_only: false,
    accepted_risk: false,
    record_first: true,
};

/// The rule.
pub struct IamServiceWildcard;

/// `service:*` with a concrete service name.
pub fn is_service_wildcard(pattern: &str) -> bool {
    match pattern.split_once(':') {
        Some((service, "*")) => !service.is_empty() && !service.contains(['*', '?']),
        _ => false,
    }
}

impl Rule for IamServiceWildcard {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn document_kinds(&self) -> &'static [DocumentKind] {
        PERMISSION_KINDS
    }

    fn check_document(&self, doc: &PolicyDocument) -> Vec<Violation> {
        doc.statements
            .iter()
            .filter(|s| s.effect == Effect::Allow && s.allow_reaches_all_resources())
            .filter_map(|s| match &s.actions {
                ActionBlock::Action(patterns) => {
                    let hits: Vec<String> = patterns
                        .iter()
                        .filter(|p| is_service_wildcard(p) && !doc.denies_everywhere(p))
                        .cloned()
                        .collect();
                    (!hits.is_empty()).then(|| Violation {
                        statement: s.index,
                        label: s.label(),
                        matched: hits.clone(),
                        conditioned: s.has_condition,
                        edits: vec![StatementEdit::RemoveActionPatterns {
                            statement: s.index,
                            patterns: hits,
                        }],
                    })
                }
                ActionBlock::NotAction(except) => (!doc.denies_everywhere("*")).then(|| Violation {
                    statement: s.index,
                    label: s.label(),
                    matched: vec![format!("NotAction [{}]", except.join(", "))],
                    conditioned: s.has_condition,
                    edits: vec![StatementEdit::Remove { statement: s.index }],
                }),
            })
            .collect()
    }
}
