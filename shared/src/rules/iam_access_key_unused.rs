//! `iam-access-key-unused`: an IAM user's access key is active but has not been used for
//! `ACCESS_KEY_MAX_UNUSED_DAYS` (90 by default, Security Hub control IAM.8), or was never used
//! and is that old. A key nobody uses is only a liability: whoever finds it in an old laptop,
//! repository or CI variable gets the user's permissions. The fix deactivates it (never deletes
//! it: reactivating is the inverse, and nothing that still needs it is left without a way back).
//!
//! Judged by the sweep (each user's keys, through the containment capability: the member role
//! that alone may change a key's status) and on Security Hub's "Remediate", each key on its own,
//! against the time of the sweep's start (or the person's action): the key's last use
//! (`GetAccessKeyLastUsed`) or, when IAM has none, its creation. A key whose use could not be
//! read is not judged. (AWS Config's `iam-user-unused-credentials-check` is not mapped: it judges
//! console passwords too, and its events name the user, which routes to the IAM-rewrite role.)

use super::{fallback_principal_arn, ResourceRef, ResourceType, Rule, RuleMeta, Severity, SkipKind, Status, Verdict};
use crate::finding::{Finding, PrincipalKind, PrincipalRef, Subject};
use crate::plan::{Action, Remedy, Step};
use crate::state::{Known, Lookup, Observed};
use chrono::{DateTime, Utc};

pub const ID: &str = "iam-access-key-unused";

static META: RuleMeta = RuleMeta {
    id: ID,
    title: "Active IAM access key unused for too long",
    description: "An IAM user's access key is active but has not been used for longer than the configured number of days (or was never used and is that old).",
    severity: Severity::Medium,
    recommendation: "Delete the key once you know nothing needs it (the responder only deactivates it; reactivating it undoes that). Prefer roles and temporary credentials to long-term keys.",
    recommendation_url: "https://docs.aws.amazon.com/securityhub/latest/userguide/iam-controls.html#iam-8",
    security_hub_control: Some("IAM.8"),
    finding_types: &["Software and Configuration Checks/AWS Security Best Practices"],
    report_only: false,
    accepted_risk: false,
    record_first: true,
};

/// The rule, with its threshold.
pub struct IamAccessKeyUnused {
    max_unused_days: u32,
}

impl IamAccessKeyUnused {
    pub fn new(max_unused_days: u32) -> Self {
        IamAccessKeyUnused { max_unused_days }
    }
}

/// The verdict key of one key of a user (`<user arn>|access-key/<key id>`).
pub fn key_of(user_arn: &str, access_key_id: &str) -> String {
    format!("{user_arn}|access-key/{access_key_id}")
}

fn user_of(finding: &Finding) -> Option<&PrincipalRef> {
    match &finding.subject {
        Subject::UserAccessKeys { user } if user.kind == PrincipalKind::User => Some(user),
        _ => None,
    }
}

impl Rule for IamAccessKeyUnused {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn lookups(&self, finding: &Finding) -> Vec<Lookup> {
        user_of(finding)
            .map(|u| {
                vec![
                    Lookup::Principal(u.clone()),
                    Lookup::AccessKeys {
                        user_name: u.name.clone(),
                    },
                ]
            })
            .unwrap_or_default()
    }

    /// The last use of each active key (an inactive one grants nothing).
    fn followup_lookups(&self, finding: &Finding, observed: &Observed) -> Vec<Lookup> {
        let Some(user) = user_of(finding) else { return vec![] };
        match observed.access_keys(&user.name) {
            Known::Present(keys) => keys
                .iter()
                .filter(|k| k.active)
                .map(|k| Lookup::AccessKeyUse {
                    access_key_id: k.id.clone(),
                })
                .collect(),
            _ => vec![],
        }
    }

    fn evaluate(&self, finding: &Finding, observed: &Observed) -> Vec<Verdict> {
        let Some(user) = user_of(finding) else { return vec![] };
        let arn = match observed.principal(user) {
            Known::Present(i) => i.arn.clone(),
            _ => fallback_principal_arn(&finding.partition, &finding.account, user),
        };
        let verdict =
            |key: String, status: Status, severity: Severity, summary: String, remedy: Remedy, id: Option<&str>| {
                let mut resources = vec![ResourceRef {
                    resource_type: ResourceType::AwsIamUser,
                    arn: arn.clone(),
                }];
                if let Some(id) = id {
                    resources.push(ResourceRef {
                        resource_type: ResourceType::AwsIamAccessKey,
                        arn: id.to_string(),
                    });
                }
                Verdict {
                    rule_id: ID,
                    status,
                    severity,
                    summary,
                    resources,
                    key,
                    matched_statements: vec![],
                    matched_actions: vec![],
                    remedy,
                    needs_review: None,
                }
            };
        let keys = match observed.access_keys(&user.name) {
            Known::Present(keys) => keys,
            Known::Absent => {
                return vec![verdict(
                    format!("{arn}|access-keys"),
                    Status::NotEvaluated {
                        kind: SkipKind::PrincipalNotFound,
                    },
                    META.severity,
                    format!("{user} no longer exists"),
                    Remedy::None,
                    None,
                )]
            }
            Known::Unknown => {
                return vec![verdict(
                    format!("{arn}|access-keys"),
                    Status::NotEvaluated {
                        kind: SkipKind::StateUnknown,
                    },
                    META.severity,
                    format!("the access keys of {user} could not be read"),
                    Remedy::None,
                    None,
                )]
            }
        };
        let now = finding.time;
        let limit = i64::from(self.max_unused_days);
        keys.iter()
            .map(|k| {
                let key = key_of(&arn, &k.id);
                let compliant = |summary: String| {
                    verdict(
                        key.clone(),
                        Status::Compliant,
                        Severity::Informational,
                        summary,
                        Remedy::None,
                        Some(&k.id),
                    )
                };
                if !k.active {
                    return compliant(format!("access key {} of {user} is inactive", k.id));
                }
                let (since, how) = match observed.key_use(&k.id) {
                    Known::Present(u) => match (u.last_used, k.created) {
                        (Some(used), _) => (
                            used,
                            format!(
                                "last used {}{}",
                                day(used),
                                u.service.as_deref().map(|s| format!(" ({s})")).unwrap_or_default()
                            ),
                        ),
                        (None, Some(created)) => {
                            (created, format!("never used since its creation on {}", day(created)))
                        }
                        (None, None) => {
                            return verdict(
                                key.clone(),
                                Status::NotEvaluated {
                                    kind: SkipKind::StateUnknown,
                                },
                                META.severity,
                                format!(
                                    "access key {} of {user}: IAM says neither its last use nor its creation",
                                    k.id
                                ),
                                Remedy::None,
                                Some(&k.id),
                            )
                        }
                    },
                    // Deleted since it was listed: nothing left to judge.
                    Known::Absent => return compliant(format!("access key {} of {user} no longer exists", k.id)),
                    Known::Unknown => {
                        return verdict(
                            key.clone(),
                            Status::NotEvaluated {
                                kind: SkipKind::StateUnknown,
                            },
                            META.severity,
                            format!("the last use of access key {} of {user} could not be read", k.id),
                            Remedy::None,
                            Some(&k.id),
                        )
                    }
                };
                let idle = (now - since).num_days();
                if idle < limit {
                    return compliant(format!(
                        "access key {} of {user} is in use: {how}, {idle} day(s) before {}",
                        k.id,
                        day(now)
                    ));
                }
                verdict(
                    key.clone(),
                    Status::NonCompliant,
                    META.severity,
                    format!(
                        "access key {} of {user} is active but unused: {how}, {idle} days before {} \
                         (more than ACCESS_KEY_MAX_UNUSED_DAYS = {limit})",
                        k.id,
                        day(now)
                    ),
                    Remedy::Apply {
                        steps: vec![Step {
                            action: Action::SetAccessKeyStatus {
                                user_name: user.name.clone(),
                                access_key_id: k.id.clone(),
                                active: false,
                            },
                            inverse: Action::SetAccessKeyStatus {
                                user_name: user.name.clone(),
                                access_key_id: k.id.clone(),
                                active: true,
                            },
                        }],
                    },
                    Some(&k.id),
                )
            })
            .collect()
    }
}

fn day(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Actor, SourceKind};
    use crate::state::{AccessKey, KeyUse, PrincipalInfo};

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn bob() -> PrincipalRef {
        PrincipalRef {
            kind: PrincipalKind::User,
            name: "bob".into(),
        }
    }

    fn finding(time: &str) -> Finding {
        Finding {
            event_id: "e".into(),
            source: SourceKind::Audit,
            detail_type: "Audit".into(),
            event_name: "Audit".into(),
            account: "123456789012".into(),
            region: "us-east-1".into(),
            partition: "aws".into(),
            time: at(time),
            actor: Actor::default(),
            subject: Subject::UserAccessKeys { user: bob() },
            only_rules: None,
            also: vec![],
            raw_detail: serde_json::Value::Null,
        }
    }

    /// One of bob's keys: id, active, created, last use (`None`: not read; `Some(None)`: never).
    type Key<'a> = (&'a str, bool, Option<&'a str>, Option<Option<&'a str>>);

    fn observed(keys: &[Key]) -> Observed {
        let mut o = Observed::default();
        o.principals.insert(
            bob(),
            Some(PrincipalInfo {
                arn: "arn:aws:iam::123456789012:user/team/bob".into(),
                trust_policy: None,
                tags: Default::default(),
            }),
        );
        o.access_keys.insert(
            "bob".into(),
            Some(
                keys.iter()
                    .map(|(id, active, created, _)| AccessKey {
                        id: id.to_string(),
                        active: *active,
                        created: created.map(at),
                    })
                    .collect(),
            ),
        );
        for (id, _, _, used) in keys {
            if let Some(used) = used {
                o.key_uses.insert(
                    id.to_string(),
                    Some(KeyUse {
                        owner: "bob".into(),
                        last_used: used.map(at),
                        service: used.map(|_| "s3".to_string()),
                    }),
                );
            }
        }
        o
    }

    fn statuses(v: &[Verdict]) -> Vec<(String, Status)> {
        v.iter()
            .map(|v| (v.key.rsplit('/').next().unwrap().to_string(), v.status.clone()))
            .collect()
    }

    #[test]
    fn an_active_key_unused_past_the_limit_is_deactivated_and_reactivation_undoes_it() {
        let rule = IamAccessKeyUnused::new(90);
        let o = observed(&[
            // Used 100 days ago.
            (
                "AKIAOLD",
                true,
                Some("2025-01-01T00:00:00Z"),
                Some(Some("2026-08-29T00:00:00Z")),
            ),
            // Used 89 days ago.
            (
                "AKIARECENT",
                true,
                Some("2025-01-01T00:00:00Z"),
                Some(Some("2026-09-09T00:00:00Z")),
            ),
            // Never used, created 120 days ago.
            ("AKIANEVER", true, Some("2026-08-09T00:00:00Z"), Some(None)),
            // Never used, created yesterday.
            ("AKIANEW", true, Some("2026-12-06T00:00:00Z"), Some(None)),
            // Inactive: grants nothing, whatever its age.
            ("AKIAOFF", false, Some("2020-01-01T00:00:00Z"), None),
        ]);
        let v = rule.evaluate(&finding("2026-12-07T00:00:00Z"), &o);
        assert_eq!(
            statuses(&v),
            [
                ("AKIAOLD".to_string(), Status::NonCompliant),
                ("AKIARECENT".to_string(), Status::Compliant),
                ("AKIANEVER".to_string(), Status::NonCompliant),
                ("AKIANEW".to_string(), Status::Compliant),
                ("AKIAOFF".to_string(), Status::Compliant),
            ]
        );
        assert_eq!(v[0].key, "arn:aws:iam::123456789012:user/team/bob|access-key/AKIAOLD");
        assert!(
            v[0].summary.contains("last used 2026-08-29 (s3), 100 days"),
            "{}",
            v[0].summary
        );
        assert!(
            v[2].summary.contains("never used since its creation on 2026-08-09"),
            "{}",
            v[2].summary
        );
        let Remedy::Apply { steps } = &v[0].remedy else {
            panic!("{:?}", v[0].remedy)
        };
        assert_eq!(
            steps[0].action,
            Action::SetAccessKeyStatus {
                user_name: "bob".into(),
                access_key_id: "AKIAOLD".into(),
                active: false
            }
        );
        assert_eq!(
            steps[0].inverse,
            Action::SetAccessKeyStatus {
                user_name: "bob".into(),
                access_key_id: "AKIAOLD".into(),
                active: true
            }
        );
        // The user's ARN is a resource of the verdict: protected principals and exemptions apply.
        assert_eq!(v[0].resources[0].arn, "arn:aws:iam::123456789012:user/team/bob");
        // A lower limit catches the recent one too.
        let v = IamAccessKeyUnused::new(30).evaluate(&finding("2026-12-07T00:00:00Z"), &o);
        assert_eq!(v[1].status, Status::NonCompliant);
    }

    /// Unknown is never stale: a use that could not be read, or a key IAM gives no date for, is
    /// not judged (and so never deactivated); keys that could not be listed neither.
    #[test]
    fn what_could_not_be_read_is_not_judged() {
        let rule = IamAccessKeyUnused::new(90);
        let o = observed(&[
            ("AKIAUNREAD", true, Some("2020-01-01T00:00:00Z"), None),
            ("AKIANODATE", true, None, Some(None)),
        ]);
        let v = rule.evaluate(&finding("2026-12-07T00:00:00Z"), &o);
        let unknown = Status::NotEvaluated {
            kind: SkipKind::StateUnknown,
        };
        assert_eq!(v[0].status, unknown);
        assert_eq!(v[1].status, unknown);
        let mut o = Observed::default();
        o.principals.insert(bob(), None);
        let v = rule.evaluate(&finding("2026-12-07T00:00:00Z"), &o);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].status, unknown, "keys not read");
        o.access_keys.insert("bob".into(), None);
        let v = rule.evaluate(&finding("2026-12-07T00:00:00Z"), &o);
        assert_eq!(
            v[0].status,
            Status::NotEvaluated {
                kind: SkipKind::PrincipalNotFound
            }
        );
    }

    #[test]
    fn only_active_keys_have_their_use_read() {
        let rule = IamAccessKeyUnused::new(90);
        let f = finding("2026-12-07T00:00:00Z");
        assert_eq!(rule.lookups(&f).len(), 2);
        let o = observed(&[("AKIAON", true, None, None), ("AKIAOFF", false, None, None)]);
        assert_eq!(
            rule.followup_lookups(&f, &o),
            [Lookup::AccessKeyUse {
                access_key_id: "AKIAON".into()
            }]
        );
        // Other subjects are not this rule's.
        let other = Finding {
            subject: Subject::PrincipalReview { principal: bob() },
            ..f
        };
        assert!(rule.lookups(&other).is_empty());
        assert!(rule.evaluate(&other, &o).is_empty());
    }
}
