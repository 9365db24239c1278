//! `guardduty-iam-credentials`: GuardDuty reports IAM credentials used by someone else.
//!
//! - an IAM user's access key → the key is deactivated (never deleted, so it can be inspected and
//!   reactivated);
//! - a role session's credentials → every session of the role issued before now is revoked with
//!   the inline deny policy `AWSRevokeOlderSessions` conditioned on `aws:TokenIssueTime`, the
//!   same policy the IAM console's "Revoke active sessions" writes;
//! - with `GUARDDUTY_QUARANTINE=true`, the user or role also gets `AWSDenyAll` attached;
//! - the root user (and any other identity type) is reported, never touched; root usage is reported
//!   whatever `GUARDDUTY_MIN_SEVERITY` says.

use super::{ResourceRef, ResourceType, Rule, RuleMeta, Severity, SkipKind, Status, Verdict};
use crate::config::GuardDutySettings;
use crate::finding::{CredentialFinding, CredentialOwner, Finding, PrincipalKind, PrincipalRef, Subject};
use crate::plan::{Action, Remedy, Step};
use crate::policy::{wildcard_match, DocumentKind};
use crate::state::{Known, Lookup, Observed};
use chrono::{DateTime, SecondsFormat, Utc};

pub const ID: &str = "guardduty-iam-credentials";
/// The inline policy that revokes older role sessions (the name the IAM console uses).
pub const REVOKE_POLICY_NAME: &str = "AWSRevokeOlderSessions";
/// The AWS-managed policy attached to quarantine a principal.
pub const QUARANTINE_POLICY: &str = "AWSDenyAll";

static META: RuleMeta = RuleMeta {
    id: ID,
    title: "IAM credentials used by someone else (GuardDuty)",
    description: "GuardDuty reports IAM credentials used from outside their expected context (exfiltrated instance credentials, anomalous API use).",
    severity: Severity::High,
    recommendation: "Investigate the activity, rotate the credentials, and delete the deactivated key or the session revocation policy once safe.",
    recommendation_url: "https://docs.aws.amazon.com/guardduty/latest/ug/compromised-creds.html",
    security_hub_control: None,
    finding_types: &["TTPs/Credential Access", "Unusual Behaviors/User"],
    report_only: false,
    accepted_risk: false,
    record_first: false,
};

/// The rule, with its GuardDuty settings.
pub struct GuardDutyCredentials {
    settings: GuardDutySettings,
}

impl GuardDutyCredentials {
    pub fn new(settings: GuardDutySettings) -> Self {
        GuardDutyCredentials { settings }
    }

    /// Why the settings exclude this finding, if they do.
    fn excluded(&self, f: &CredentialFinding) -> Option<String> {
        if !self
            .settings
            .finding_types
            .iter()
            .any(|p| wildcard_match(p, &f.finding_type))
        {
            return Some(format!(
                "finding type {} is not in GUARDDUTY_FINDING_TYPES",
                f.finding_type
            ));
        }
        // Root usage is always reported, whatever its severity (GuardDuty rates it Low).
        if f.severity < self.settings.min_severity && f.owner != CredentialOwner::Root {
            return Some(format!(
                "severity {} is below GUARDDUTY_MIN_SEVERITY {}",
                f.severity, self.settings.min_severity
            ));
        }
        None
    }
}

fn credential_finding(finding: &Finding) -> Option<&CredentialFinding> {
    match &finding.subject {
        Subject::CredentialCompromise(f) => Some(f),
        _ => None,
    }
}

/// Temporary credentials (STS: `ASIA…`), as opposed to an IAM user's long-term access keys
/// (`AKIA…`).
fn is_temporary(access_key_id: &str) -> bool {
    access_key_id.starts_with("ASIA")
}

fn severity_of(score: f64) -> Severity {
    match score {
        s if s >= 9.0 => Severity::Critical,
        s if s >= 7.0 => Severity::High,
        s if s >= 4.0 => Severity::Medium,
        _ => Severity::Low,
    }
}

/// The revocation policy for sessions issued before `at`.
pub fn revoke_document(at: DateTime<Utc>) -> String {
    let at = at.to_rfc3339_opts(SecondsFormat::Secs, true);
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Action":["*"],"Resource":["*"],"Condition":{{"DateLessThan":{{"aws:TokenIssueTime":"{at}"}}}}}}]}}"#
    )
}

/// Whether a policy element (`Action`, `Resource`) is exactly "everything": `"*"` or `["*"]`.
fn everything(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::String(s) => s == "*",
        serde_json::Value::Array(list) => list.iter().any(|x| x == "*"),
        _ => false,
    }
}

/// The cut-off time of an existing revocation policy: the latest `aws:TokenIssueTime` of a
/// statement that denies every action on every resource for tokens issued before it, with no
/// other condition. Anything narrower revokes nothing this rule can count on.
fn revoked_before(document: &str) -> Option<DateTime<Utc>> {
    let decoded = crate::policy::decode(document).ok()?;
    let doc: serde_json::Value = serde_json::from_str(&decoded).ok()?;
    let statements = match &doc["Statement"] {
        serde_json::Value::Array(list) => list.clone(),
        other => vec![other.clone()],
    };
    statements
        .iter()
        .filter(|s| s["Effect"] == "Deny" && everything(&s["Action"]) && everything(&s["Resource"]))
        .filter(|s| s.get("NotAction").is_none() && s.get("NotResource").is_none())
        .filter(|s| {
            let only_issue_time = |c: &serde_json::Value| {
                c.as_object().is_some_and(|ops| {
                    ops.len() == 1
                        && ops
                            .get("DateLessThan")
                            .and_then(|keys| keys.as_object())
                            .is_some_and(|keys| keys.len() == 1)
                })
            };
            only_issue_time(&s["Condition"])
        })
        .filter_map(|s| s.pointer("/Condition/DateLessThan/aws:TokenIssueTime")?.as_str())
        .filter_map(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .max()
}

impl Rule for GuardDutyCredentials {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn lookups(&self, finding: &Finding) -> Vec<Lookup> {
        let Some(f) = credential_finding(finding) else {
            return vec![];
        };
        if self.excluded(f).is_some() {
            return vec![];
        }
        let mut out = match &f.owner {
            // A user's temporary credentials (GetSessionToken, console sessions) are not access
            // keys of the user: they are revoked like a role's sessions.
            CredentialOwner::IamUser {
                user_name,
                access_key_id,
            } if is_temporary(access_key_id) => {
                let user = PrincipalRef {
                    kind: PrincipalKind::User,
                    name: user_name.clone(),
                };
                vec![
                    Lookup::Principal(user.clone()),
                    Lookup::InlinePolicyNames(user.clone()),
                    Lookup::InlinePolicy {
                        principal: user,
                        name: REVOKE_POLICY_NAME.into(),
                    },
                ]
            }
            CredentialOwner::IamUser { user_name, .. } => vec![
                Lookup::Principal(PrincipalRef {
                    kind: PrincipalKind::User,
                    name: user_name.clone(),
                }),
                Lookup::AccessKeys {
                    user_name: user_name.clone(),
                },
            ],
            CredentialOwner::AssumedRole { role_name, .. } => {
                let role = PrincipalRef {
                    kind: PrincipalKind::Role,
                    name: role_name.clone(),
                };
                vec![
                    Lookup::Principal(role.clone()),
                    Lookup::InlinePolicyNames(role.clone()),
                    Lookup::InlinePolicy {
                        principal: role,
                        name: REVOKE_POLICY_NAME.into(),
                    },
                ]
            }
            CredentialOwner::Root | CredentialOwner::Other { .. } => vec![],
        };
        if self.settings.quarantine {
            if let Some(p) = principal_of(&f.owner) {
                out.push(Lookup::AttachedPolicies(p));
            }
        }
        out
    }

    /// A long-term key that is not among the named user's keys: ask IAM who owns it, so the
    /// finding can say (never assumed from the user's list alone).
    fn followup_lookups(&self, finding: &Finding, observed: &Observed) -> Vec<Lookup> {
        let Some(f) = credential_finding(finding) else {
            return vec![];
        };
        match &f.owner {
            CredentialOwner::IamUser {
                user_name,
                access_key_id,
            } if !is_temporary(access_key_id) && self.excluded(f).is_none() => match observed.access_keys(user_name) {
                Known::Present(keys) if !keys.iter().any(|k| &k.id == access_key_id) => {
                    vec![Lookup::AccessKeyUse {
                        access_key_id: access_key_id.clone(),
                    }]
                }
                _ => vec![],
            },
            // Revoking sessions puts an inline policy: IAM caps all of a principal's inline
            // policies together, so the others' sizes are read before it is planned.
            _ => match principal_of(&f.owner) {
                Some(p) => match observed.inline_names(&p) {
                    Known::Present(names) => names
                        .iter()
                        .filter(|n| n.as_str() != REVOKE_POLICY_NAME)
                        .map(|n| Lookup::InlinePolicy {
                            principal: p.clone(),
                            name: n.clone(),
                        })
                        .collect(),
                    _ => vec![],
                },
                None => vec![],
            },
        }
    }

    fn evaluate(&self, finding: &Finding, observed: &Observed) -> Vec<Verdict> {
        let Some(f) = credential_finding(finding) else {
            return vec![];
        };
        let mut v = Verdict {
            rule_id: ID,
            status: Status::NonCompliant,
            severity: severity_of(f.severity),
            summary: String::new(),
            resources: vec![],
            key: String::new(),
            matched_statements: vec![f.finding_type.clone()],
            matched_actions: vec![],
            remedy: Remedy::None,
            needs_review: None,
        };
        let principal = principal_of(&f.owner);
        let principal_arn = match &principal {
            Some(p) => match observed.principal(p) {
                Known::Present(info) => info.arn.clone(),
                _ => super::fallback_principal_arn(&finding.partition, &finding.account, p),
            },
            None => format!("arn:{}:iam::{}:root", finding.partition, finding.account),
        };
        let key_id = match &f.owner {
            CredentialOwner::IamUser { access_key_id, .. } | CredentialOwner::AssumedRole { access_key_id, .. } => {
                Some(access_key_id.clone())
            }
            _ => None,
        };
        if let Some(id) = &key_id {
            v.resources.push(ResourceRef {
                resource_type: ResourceType::AwsIamAccessKey,
                arn: id.clone(),
            });
        }
        v.resources.push(ResourceRef {
            resource_type: principal
                .as_ref()
                .map(|p| ResourceType::of_principal(p.kind))
                .unwrap_or(ResourceType::Other),
            arn: principal_arn.clone(),
        });
        v.key = format!("{principal_arn}|{}", key_id.as_deref().unwrap_or("-"));

        if let Some(why) = self.excluded(f) {
            v.status = Status::Compliant;
            v.severity = Severity::Informational;
            v.summary = format!("{}: not acted on: {why}", f.finding_type);
            return vec![v];
        }
        let (principal, key_id) = match (principal, key_id, &f.owner) {
            (Some(p), Some(k), _) => (p, k),
            (_, _, CredentialOwner::Root) => {
                v.severity = Severity::Critical;
                v.summary = format!("{}: root credentials in use", f.finding_type);
                v.remedy = Remedy::Manual {
                    reason: "the root user's credentials are never changed automatically: secure the root user by hand"
                        .into(),
                };
                return vec![v];
            }
            (_, _, CredentialOwner::Other { user_type, user_name }) => {
                v.summary = format!("{}: credentials of {user_type} {user_name}", f.finding_type);
                v.remedy = Remedy::Manual {
                    reason: format!("{user_type} credentials cannot be revoked automatically"),
                };
                return vec![v];
            }
            _ => return vec![],
        };
        match observed.principal(&principal) {
            Known::Present(_) => {}
            Known::Absent => {
                v.status = Status::NotEvaluated {
                    kind: SkipKind::PrincipalNotFound,
                };
                v.summary = format!("{principal} no longer exists; nothing to revoke");
                return vec![v];
            }
            Known::Unknown => {
                v.status = Status::NotEvaluated {
                    kind: SkipKind::StateUnknown,
                };
                v.summary = format!("could not read {principal}; nothing changed");
                return vec![v];
            }
        }
        let mut steps: Vec<Step> = Vec::new();
        let mut done: Vec<String> = Vec::new();
        match principal.kind {
            PrincipalKind::User if !is_temporary(&key_id) => match observed.access_keys(&principal.name) {
                Known::Present(keys) => match keys.iter().find(|k| k.id == key_id) {
                    Some(k) if k.active => steps.push(Step {
                        action: Action::SetAccessKeyStatus {
                            user_name: principal.name.clone(),
                            access_key_id: key_id.clone(),
                            active: false,
                        },
                        inverse: Action::SetAccessKeyStatus {
                            user_name: principal.name.clone(),
                            access_key_id: key_id.clone(),
                            active: true,
                        },
                    }),
                    Some(_) => done.push(format!("access key {key_id} is already inactive")),
                    // Not one of the named user's keys: whoever owns it (or whether it was
                    // deleted) is not something to assume. Containment is not verified.
                    None => {
                        let (whose, todo) = match observed.key_owner(&key_id) {
                            Known::Present(owner) if owner != &principal.name => {
                                let owner_ref = PrincipalRef {
                                    kind: PrincipalKind::User,
                                    name: owner.clone(),
                                };
                                v.resources.push(ResourceRef {
                                    resource_type: ResourceType::AwsIamUser,
                                    arn: super::fallback_principal_arn(&finding.partition, &finding.account, &owner_ref),
                                });
                                (
                                    format!("it belongs to user {owner}, not {principal} as the finding says"),
                                    format!("check the finding, then deactivate access key {key_id} of user {owner} by hand"),
                                )
                            }
                            Known::Present(_) => (
                                format!("IAM names {principal} as its owner, but it is not in the user's key list"),
                                "check the key by hand".to_string(),
                            ),
                            Known::Absent => (
                                format!(
                                    "no user of account {} owns it (deleted since, or another account's key)",
                                    finding.account
                                ),
                                "find where the key comes from; if it was deleted, confirm nothing else uses the leaked credentials".to_string(),
                            ),
                            Known::Unknown => (
                                "its owner could not be looked up".to_string(),
                                "find the key's owner and contain it by hand".to_string(),
                            ),
                        };
                        v.summary = format!(
                            "{}: access key {key_id} is not an access key of {principal}: {whose}; containment is not verified",
                            f.finding_type
                        );
                        v.remedy = Remedy::Manual {
                            reason: format!(
                                "access key {key_id} is not among the access keys of {principal} ({whose}): {todo}"
                            ),
                        };
                        return vec![v];
                    }
                },
                _ => {
                    v.status = Status::NotEvaluated {
                        kind: SkipKind::StateUnknown,
                    };
                    v.summary = format!("could not list the access keys of {principal}; nothing changed");
                    return vec![v];
                }
            },
            _ => {
                let at = observed.read_at.unwrap_or(finding.time);
                let kind = if principal.kind == PrincipalKind::User {
                    DocumentKind::InlineUser
                } else {
                    DocumentKind::InlineRole
                };
                let new_chars = non_whitespace(&revoke_document(at));
                let needs_put = !matches!(
                    observed.inline_policy(&principal, REVOKE_POLICY_NAME),
                    Known::Present(doc) if revoked_before(doc).is_some_and(|t| t >= f.updated_at)
                );
                if let Some(others) = other_inline_chars(observed, &principal).filter(|_| needs_put) {
                    if others + new_chars > kind.limit() {
                        v.summary = format!(
                            "{}: credentials of {principal} ({key_id}) used by someone else; its sessions cannot be revoked automatically",
                            f.finding_type
                        );
                        v.remedy = Remedy::Manual {
                            reason: format!(
                                "{REVOKE_POLICY_NAME} would bring the inline policies of {principal} to {} characters, over IAM's quota of {} for all of them together: revoke its sessions by hand (for example a deny managed policy with the same aws:TokenIssueTime condition), nothing was written",
                                others + new_chars,
                                kind.limit()
                            ),
                        };
                        return vec![v];
                    }
                }
                match observed.inline_policy(&principal, REVOKE_POLICY_NAME) {
                    Known::Present(doc) if revoked_before(doc).is_some_and(|t| t >= f.updated_at) => {
                        done.push(format!(
                            "sessions of {principal} issued before {} are already revoked",
                            f.updated_at.to_rfc3339_opts(SecondsFormat::Secs, true)
                        ));
                    }
                    Known::Present(old) => steps.push(Step {
                        action: Action::PutInlinePolicy {
                            principal: principal.clone(),
                            policy_name: REVOKE_POLICY_NAME.into(),
                            document: revoke_document(at),
                        },
                        // IAM hands documents back URL-encoded; the inverse puts back the
                        // document itself.
                        inverse: Action::PutInlinePolicy {
                            principal: principal.clone(),
                            policy_name: REVOKE_POLICY_NAME.into(),
                            document: crate::policy::decode(old).unwrap_or_else(|_| old.clone()),
                        },
                    }),
                    Known::Absent => steps.push(Step {
                        action: Action::PutInlinePolicy {
                            principal: principal.clone(),
                            policy_name: REVOKE_POLICY_NAME.into(),
                            document: revoke_document(at),
                        },
                        inverse: Action::DeleteInlinePolicy {
                            principal: principal.clone(),
                            policy_name: REVOKE_POLICY_NAME.into(),
                        },
                    }),
                    Known::Unknown => {
                        v.status = Status::NotEvaluated {
                            kind: SkipKind::StateUnknown,
                        };
                        v.summary = format!("could not read the inline policies of {principal}; nothing changed");
                        return vec![v];
                    }
                }
            }
        }
        if self.settings.quarantine {
            let deny_all = format!("arn:{}:iam::aws:policy/{QUARANTINE_POLICY}", finding.partition);
            match observed.attached(&principal) {
                Known::Present(list) if list.contains(&deny_all) => {
                    done.push(format!("{principal} is already quarantined"))
                }
                Known::Present(_) => steps.push(Step {
                    action: Action::AttachPolicy {
                        principal: principal.clone(),
                        policy_arn: deny_all.clone(),
                    },
                    inverse: Action::DetachPolicy {
                        principal: principal.clone(),
                        policy_arn: deny_all,
                    },
                }),
                _ => v.needs_review = Some(format!("could not read the policies of {principal}; not quarantined")),
            }
        }
        v.matched_actions = done.clone();
        if steps.is_empty() {
            v.status = Status::Resolved;
            v.summary = format!("{}: {}", f.finding_type, done.join("; "));
            return vec![v];
        }
        v.summary = format!(
            "{}: credentials of {principal} ({key_id}) used by someone else",
            f.finding_type
        );
        v.remedy = Remedy::Apply { steps };
        vec![v]
    }
}

fn non_whitespace(text: &str) -> usize {
    text.chars().filter(|c| !c.is_whitespace()).count()
}

/// The characters (whitespace excluded, as IAM counts) of the principal's inline policies other
/// than the revocation policy; `None` when one of them is unknown (the write is then attempted,
/// and IAM has the last word).
fn other_inline_chars(observed: &Observed, principal: &PrincipalRef) -> Option<usize> {
    let Known::Present(names) = observed.inline_names(principal) else {
        return None;
    };
    let mut total = 0;
    for name in names.iter().filter(|n| n.as_str() != REVOKE_POLICY_NAME) {
        let Known::Present(raw) = observed.inline_policy(principal, name) else {
            return None;
        };
        total += non_whitespace(&crate::policy::decode(raw).unwrap_or_else(|_| raw.clone()));
    }
    Some(total)
}

fn principal_of(owner: &CredentialOwner) -> Option<PrincipalRef> {
    match owner {
        CredentialOwner::IamUser { user_name, .. } => Some(PrincipalRef {
            kind: PrincipalKind::User,
            name: user_name.clone(),
        }),
        CredentialOwner::AssumedRole { role_name, .. } => Some(PrincipalRef {
            kind: PrincipalKind::Role,
            name: role_name.clone(),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revocation_policy_round_trips_its_time() {
        let at = DateTime::parse_from_rfc3339("2026-11-20T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let doc = revoke_document(at);
        assert_eq!(revoked_before(&doc), Some(at));
        let parsed = crate::policy::PolicyDocument::parse(&doc).unwrap();
        assert!(parsed
            .statements
            .iter()
            .all(|s| s.effect == crate::policy::Effect::Deny));
        assert_eq!(
            revoked_before(r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#),
            None
        );
    }

    /// An existing `AWSRevokeOlderSessions` counts only when it denies everything to older tokens.
    #[test]
    fn a_narrower_revocation_policy_counts_for_nothing() {
        let cond = r#""Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-11-20T10:00:00Z"}}"#;
        for narrow in [
            format!(r#"{{"Statement":{{"Effect":"Deny","Action":"s3:*","Resource":"*",{cond}}}}}"#),
            format!(r#"{{"Statement":{{"Effect":"Deny","Action":"*","Resource":"arn:aws:s3:::x",{cond}}}}}"#),
            format!(r#"{{"Statement":{{"Effect":"Deny","NotAction":"iam:*","Action":"*","Resource":"*",{cond}}}}}"#),
            r#"{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-11-20T10:00:00Z"},"Bool":{"aws:MultiFactorAuthPresent":"true"}}}}"#.to_string(),
        ] {
            assert_eq!(revoked_before(&narrow), None, "{narrow}");
        }
        let full = format!(r#"{{"Statement":[{{"Effect":"Deny","Action":["*"],"Resource":"*",{cond}}}]}}"#);
        assert!(revoked_before(&full).is_some());
    }

    #[test]
    fn severities() {
        assert_eq!(severity_of(8.0), Severity::High);
        assert_eq!(severity_of(5.0), Severity::Medium);
        assert_eq!(severity_of(9.5), Severity::Critical);
    }
}
