//! `iam-open-trust`: a role's trust policy lets any principal assume it (`"Principal": "*"`,
//! `{"AWS": "*"}`, or an Allow with `NotPrincipal`) without a condition that really restricts who
//! can (`aws:PrincipalOrgID`, `aws:PrincipalOrgPaths`, `aws:PrincipalAccount`,
//! `aws:SourceAccount`, `aws:SourceArn`, `sts:ExternalId` under a positive operator with concrete
//! values: see [`restricts`]), or trusts a web identity provider (OIDC, Cognito, SAML) without
//! pinning the audience. Another condition (e.g. only MFA) is reported at lower severity and left
//! for a person.
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
            .filter_map(|s| {
                let (matched, edit) = match &s.principal {
                    Some(PrincipalBlock::Principal(p)) if p.includes_everyone() => {
                        if restricts(s, RESTRICTING_KEYS) {
                            return None;
                        }
                        (
                            "Principal *".to_string(),
                            StatementEdit::RemoveWildcardPrincipal { statement: s.index },
                        )
                    }
                    Some(PrincipalBlock::NotPrincipal(_)) => {
                        if restricts(s, RESTRICTING_KEYS) {
                            return None;
                        }
                        ("NotPrincipal".to_string(), StatementEdit::Remove { statement: s.index })
                    }
                    // A web identity provider admits every identity it issues tokens to unless the
                    // audience (and, for OIDC, the subject) is pinned by a condition.
                    Some(PrincipalBlock::Principal(p)) => {
                        let open: Vec<String> = p
                            .entries
                            .get("Federated")
                            .into_iter()
                            .flatten()
                            .filter(|provider| {
                                let keys = audience_keys(provider);
                                !keys.is_empty() && !restricts(s, &keys.iter().map(String::as_str).collect::<Vec<_>>())
                            })
                            .cloned()
                            .collect();
                        if open.is_empty() {
                            return None;
                        }
                        (
                            format!("Federated {} without an audience condition", open.join(", ")),
                            StatementEdit::Remove { statement: s.index },
                        )
                    }
                    _ => return None,
                };
                // A condition made only of restricting keys that restrict nothing (`StringLike
                // aws:PrincipalOrgID "*"`, `...IfExists`, negated operators) is no condition.
                let hollow = s.condition_keys.iter().all(|k| RESTRICTING_KEYS.contains(&k.as_str()));
                Some(Violation {
                    statement: s.index,
                    label: s.label(),
                    matched: vec![matched],
                    conditioned: s.has_condition && !hollow,
                    edits: vec![edit],
                })
            })
            .collect()
    }
}

/// The condition keys (lower-case) that pin who a web identity provider's tokens admit: the
/// audience (`<provider>:aud`, `cognito-identity.amazonaws.com:aud`) or, for OIDC, the subject.
/// SAML providers are pinned by `SAML:aud`. Empty for providers not recognised (not judged).
fn audience_keys(provider: &str) -> Vec<String> {
    let p = provider.to_ascii_lowercase();
    if p == "cognito-identity.amazonaws.com" {
        return vec!["cognito-identity.amazonaws.com:aud".into()];
    }
    if let Some(host) = p.split(":oidc-provider/").nth(1) {
        return vec![format!("{host}:aud"), format!("{host}:sub")];
    }
    if p.contains(":saml-provider/") {
        return vec!["saml:aud".into()];
    }
    match p.as_str() {
        "accounts.google.com" | "graph.facebook.com" | "www.amazon.com" => {
            vec![format!("{p}:aud"), format!("{p}:app_id")]
        }
        _ => vec![],
    }
}

/// Whether the statement's Condition really narrows who may assume the role through one of `keys`:
/// a positive operator (`StringEquals`, `StringLike`, `ArnEquals`, `ArnLike`, their
/// case-insensitive forms) on the key with concrete values. Restricts nothing: an `IfExists`
/// operator (a direct AssumeRole need not carry the key), a negated operator (`StringNotEquals`:
/// everyone else gets in), `ForAllValues:` (true when the key is absent), `Null`, and values that
/// are only wildcards (`StringLike "*"`).
pub fn restricts(statement: &crate::policy::Statement, keys: &[&str]) -> bool {
    let Some(condition) = statement.raw.get("Condition").and_then(|c| c.as_object()) else {
        return false;
    };
    condition.iter().any(|(operator, block)| {
        let op = operator.to_ascii_lowercase();
        if op.starts_with("forallvalues:") || op.ends_with("ifexists") {
            return false;
        }
        let base = op.strip_prefix("foranyvalue:").unwrap_or(&op);
        let like = matches!(base, "stringlike" | "arnlike");
        let positive = like || matches!(base, "stringequals" | "stringequalsignorecase" | "arnequals");
        if !positive {
            return false;
        }
        let Some(block) = block.as_object() else { return false };
        block.iter().any(|(key, values)| {
            if !keys.contains(&key.to_ascii_lowercase().as_str()) {
                return false;
            }
            let values: Vec<&str> = match values {
                serde_json::Value::Array(v) => v.iter().filter_map(|x| x.as_str()).collect(),
                serde_json::Value::String(v) => vec![v.as_str()],
                _ => vec![],
            };
            !values.is_empty()
                && values
                    .iter()
                    .all(|v| !(v.is_empty() || (like && v.chars().all(|c| c == '*' || c == '?'))))
        })
    })
}
