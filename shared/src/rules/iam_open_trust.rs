//! `iam-open-trust`: a role's trust policy lets any principal assume it (`"Principal": "*"`,
//! `{"AWS": "*"}`, or an Allow with `NotPrincipal`) without a condition that restricts who can
//! (`aws:PrincipalOrgID`, `aws:PrincipalOrgPaths`, `aws:PrincipalAccount`, `aws:SourceAccount`,
//! `aws:SourceArn`, `sts:ExternalId`). Another condition (e.g. only MFA) is reported at lower
//! severity and left for a person.
//!
//! Fix: remove the wildcard principal (the statement goes when nothing else is left in it). A
//! trust policy left with no statement becomes an explicit deny: the fix never widens access.

use super::{Rule, RuleMeta, Severity, Violation};
use crate::edit::StatementEdit;
use crate::policy::{DocumentKind, Effect, PolicyDocument, PrincipalBlock};

pub const ID: &str = "iam-open-trust";

/// Condition keys (lower-case) that restrict who may assume a role.
pub const RESTRICTING_KEYS: &[&str] = &[
    "aws:principalorgid",
    "aws:principalorgpaths",
    "aws:principalaccount",
    "aws:sourceaccount",
    "aws:sourcearn",
    "sts:externalid",
];

const ASSUME_ACTIONS: &[&str] = &[
    "sts:AssumeRole",
    "sts:AssumeRoleWithWebIdentity",
    "sts:AssumeRoleWithSAML",
];

static META: RuleMeta = RuleMeta {
    id: ID,
    title: "Role can be assumed by anyone",
    description: "A role's trust policy allows any AWS principal to assume it, with no condition restricting the organization, account, source or external id.",
    severity: Severity::Critical,
    recommendation: "Name the accounts or roles that may assume the role, or add an aws:PrincipalOrgID, aws:SourceAccount, aws:SourceArn or sts:ExternalId condition.",
    recommendation_url: "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_terms-and-concepts.html#term_trust-policy",
    security_hub_control: None,
    finding_types: &["Software and Configuration Checks/AWS Security Best Practices", "Effects/Data Exposure"],
    report_only: false,
    accepted_risk: false,
    record_first: true,
};

/// The rule.
pub struct IamOpenTrust;

impl Rule for IamOpenTrust {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn document_kinds(&self) -> &'static [DocumentKind] {
        &[DocumentKind::Trust]
    }

    fn check_document(&self, doc: &PolicyDocument) -> Vec<Violation> {
        doc.statements
            .iter()
            .filter(|s| s.effect == Effect::Allow && ASSUME_ACTIONS.iter().any(|a| s.matches_action(a)))
            .filter(|s| !s.condition_keys.iter().any(|k| RESTRICTING_KEYS.contains(&k.as_str())))
            .filter_map(|s| {
                let (matched, edit) = match &s.principal {
                    Some(PrincipalBlock::Principal(p)) if p.includes_everyone() => (
                        "Principal *".to_string(),
                        StatementEdit::RemoveWildcardPrincipal { statement: s.index },
                    ),
                    Some(PrincipalBlock::NotPrincipal(_)) => {
                        ("NotPrincipal".to_string(), StatementEdit::Remove { statement: s.index })
                    }
                    _ => return None,
                };
                Some(Violation {
                    statement: s.index,
                    label: s.label(),
                    matched: vec![matched],
                    conditioned: s.has_condition,
                    edits: vec![edit],
                })
            })
            .collect()
    }
}
