//! `iam-service-wildcard`: a policy grants every action of a service on every resource of it
//! (Security Hub control IAM.21), however it is spelled: `s3:*`, `s3:**`, `logs:*` on
//! `arn:aws:logs:*:*:*`, a `NotAction` Allow (every service but the ones listed), or `*` cut down
//! to one service by a `Deny NotAction`. Asked of the grant model ([`crate::grants`]), net of
//! unconditional Deny; a document that grants everything is left to `iam-admin-access`.
//!
//! Fix: remove the patterns that name actions of those services from each statement that
//! contributes; a `NotAction` Allow is removed whole (it grants nearly everything, including
//! services that do not exist yet).

use super::{Rule, RuleMeta, Severity, Violation, PERMISSION_KINDS};
use crate::edit::StatementEdit;
use crate::grants::Grants;
use crate::policy::{ActionBlock, DocumentKind, PolicyDocument};

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
        // What a document that grants everything grants besides that is judged here too; the
        // every-action grant itself is iam-admin-access's.
        let grants = Grants::besides_everything(doc);
        let catalogue = grants.catalogue();
        // Statement → the services it helps grant whole.
        let mut by_statement: std::collections::BTreeMap<usize, Vec<u16>> = Default::default();
        for (service, statements, _) in grants.full_services() {
            for i in statements {
                by_statement.entry(i).or_default().push(service);
            }
        }
        by_statement
            .into_iter()
            .map(|(i, services)| {
                let s = &doc.statements[i];
                let names: Vec<String> = services
                    .iter()
                    .map(|&si| format!("{}:*", catalogue.services[si as usize].prefix))
                    .collect();
                let (matched, edit) = match &s.actions {
                    ActionBlock::Action(patterns) => {
                        // The patterns that name actions of those services go.
                        let remove: Vec<String> = patterns
                            .iter()
                            .filter(|p| grants.counts_pattern(p))
                            .filter(|p| catalogue.expand(p).iter().any(|id| services.contains(&id.service)))
                            .cloned()
                            .collect();
                        (
                            shorten(names),
                            StatementEdit::RemoveActionPatterns {
                                statement: i,
                                patterns: remove,
                            },
                        )
                    }
                    ActionBlock::NotAction(except) => {
                        let mut m = vec![format!("NotAction [{}]", except.join(", "))];
                        m.extend(shorten(names));
                        (m, StatementEdit::Remove { statement: i })
                    }
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

/// At most 20 service names, then a count (a `NotAction` statement can reach hundreds).
fn shorten(mut names: Vec<String>) -> Vec<String> {
    if names.len() > 20 {
        let more = names.len() - 20;
        names.truncate(20);
        names.push(format!("… and {more} more services"));
    }
    names
}
