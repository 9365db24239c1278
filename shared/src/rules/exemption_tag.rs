//! `exemption-tag`: every exemption is on record. When a call sets or removes the exemption tag
//! (`compliance-responder:exempt`, or `EXEMPT_TAG`) or its reason tag on a user, role or
//! customer-managed policy (`TagUser`, `TagRole`, `TagPolicy`, their `Untag*` calls, or tags given
//! at `CreateUser` / `CreateRole`), the live tags are read and the exemption as it stands is
//! posted: who is exempt, until when, why, and who set it. Security Hub `Compliance.Status` is
//! WARNING while the exemption is in force (a risk accepted on purpose), PASSED once it is removed
//! or has expired. Report only: an exemption is a decision for a person.

use super::{ResourceRef, ResourceType, Rule, RuleMeta, Severity, SkipKind, Status, Verdict};
use crate::exemptions::{self, Exemption};
use crate::finding::{Finding, Subject, TagTarget};
use crate::plan::Remedy;
use crate::resource::Tags;
use crate::state::{Known, Lookup, Observed};

pub const ID: &str = "exemption-tag";

static META: RuleMeta = RuleMeta {
    id: ID,
    title: "Principal or policy exempt from compliance fixes",
    description: "The exemption tag keeps compliance-responder from changing this principal or policy: \
                  its findings are still posted, but nothing is fixed.",
    severity: Severity::Low,
    recommendation: "Check that the exemption is approved, has an expiry date and a reason; remove the tag \
                     when it is no longer needed.",
    recommendation_url: "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_tags.html",
    security_hub_control: None,
    finding_types: &["Software and Configuration Checks/AWS Security Best Practices"],
    report_only: true,
    accepted_risk: true,
    record_first: true,
};

/// The rule, with the exemption tag key in use.
pub struct ExemptionTag {
    key: String,
    reason_key: String,
}

impl ExemptionTag {
    pub fn new(key: String) -> Self {
        ExemptionTag {
            reason_key: format!("{key}-reason"),
            key,
        }
    }

    /// The target of a tagging call that named the exemption tag or its reason tag.
    fn target<'a>(&self, finding: &'a Finding) -> Option<&'a TagTarget> {
        match &finding.subject {
            Subject::TagsChanged { target, keys }
                if keys
                    .iter()
                    .any(|k| k.eq_ignore_ascii_case(&self.key) || k.eq_ignore_ascii_case(&self.reason_key)) =>
            {
                Some(target)
            }
            _ => None,
        }
    }
}

impl Rule for ExemptionTag {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn lookups(&self, finding: &Finding) -> Vec<Lookup> {
        match self.target(finding) {
            Some(TagTarget::Principal(p)) => vec![Lookup::Principal(p.clone())],
            Some(TagTarget::Policy { arn }) => vec![Lookup::ManagedPolicy { arn: arn.clone() }],
            None => vec![],
        }
    }

    fn evaluate(&self, finding: &Finding, observed: &Observed) -> Vec<Verdict> {
        let Some(target) = self.target(finding) else {
            return vec![];
        };
        // Some(Some(..)): read and present; Some(None): gone; None: not read.
        #[allow(clippy::type_complexity)]
        let (named, resource_type, live): (String, ResourceType, Option<Option<(String, &Tags)>>) = match target {
            TagTarget::Principal(p) => (
                super::fallback_principal_arn(&finding.partition, &finding.account, p),
                ResourceType::of_principal(p.kind),
                match observed.principal(p) {
                    Known::Present(i) => Some(Some((i.arn.clone(), &i.tags))),
                    Known::Absent => Some(None),
                    Known::Unknown => None,
                },
            ),
            TagTarget::Policy { arn } => (
                arn.clone(),
                ResourceType::AwsIamPolicy,
                match observed.managed_policy(arn) {
                    Known::Present(m) => Some(Some((m.arn.clone(), &m.tags))),
                    Known::Absent => Some(None),
                    Known::Unknown => None,
                },
            ),
        };
        let mut v = Verdict {
            rule_id: ID,
            status: Status::Compliant,
            severity: META.severity,
            summary: String::new(),
            resources: vec![ResourceRef {
                resource_type,
                arn: named.clone(),
            }],
            key: format!("{named}|exemption"),
            matched_statements: vec![],
            matched_actions: vec![],
            remedy: Remedy::None,
            needs_review: None,
        };
        let (arn, tags) = match live {
            Some(Some((arn, tags))) => (arn, tags),
            Some(None) => {
                v.status = Status::NotEvaluated {
                    kind: match target {
                        TagTarget::Principal(_) => SkipKind::PrincipalNotFound,
                        TagTarget::Policy { .. } => SkipKind::PolicyNotFound,
                    },
                };
                v.summary = format!("{named} no longer exists; its exemption tag is moot");
                return vec![v];
            }
            None => {
                v.status = Status::NotEvaluated {
                    kind: SkipKind::StateUnknown,
                };
                v.summary = format!("could not read the tags of {named}");
                return vec![v];
            }
        };
        v.resources[0].arn = arn.clone();
        v.key = format!("{arn}|exemption");
        let who = finding
            .actor
            .arn
            .clone()
            .or_else(|| finding.actor.name.clone())
            .unwrap_or_else(|| format!("an unnamed {} identity", finding.actor.identity_type));
        let by = format!(
            "{} called by {who} at {}",
            finding.event_name,
            finding.time.to_rfc3339()
        );
        let Some(value) = tags.get(&self.key) else {
            v.status = Status::Resolved;
            v.summary = format!("{arn} has no {} tag: no exemption in force ({by})", self.key);
            return vec![v];
        };
        v.matched_actions = vec![format!("{}={value}", self.key)];
        let today = observed.read_at.unwrap_or(finding.time).date_naive();
        match exemptions::parse(value, tags.get(&self.reason_key).map(String::as_str), today) {
            Exemption::Active { until, reason } => {
                v.status = Status::NonCompliant;
                let until = match until {
                    Some(d) => format!("until {d}"),
                    None => {
                        // An exemption with no end protects for ever: worth a closer look.
                        v.severity = Severity::Medium;
                        "with no expiry".to_string()
                    }
                };
                let reason = reason.unwrap_or_else(|| "no reason given".into());
                v.summary = format!(
                    "{arn} is exempt from compliance-responder fixes {until}; reason: {reason}; \
                     set by {by}"
                );
            }
            Exemption::Expired { on } => {
                v.status = Status::Resolved;
                v.summary = format!("the exemption of {arn} expired on {on}; it no longer protects ({by})");
            }
            Exemption::Unreadable { value } => {
                v.status = Status::NonCompliant;
                v.summary = format!(
                    "{arn} has {}={value:?}, neither `true` nor a YYYY-MM-DD date: treated as exempt \
                     (fail closed) until it is corrected; set by {by}",
                    self.key
                );
            }
        }
        vec![v]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Actor, PrincipalKind, PrincipalRef, SourceKind};
    use crate::state::PrincipalInfo;

    fn finding(keys: &[&str]) -> Finding {
        Finding {
            event_id: "e-1".into(),
            source: SourceKind::CloudTrail,
            detail_type: "AWS API Call via CloudTrail".into(),
            event_name: "TagUser".into(),
            account: "123456789012".into(),
            region: "us-east-1".into(),
            partition: "aws".into(),
            time: "2026-11-20T10:00:00Z".parse().unwrap(),
            actor: Actor {
                identity_type: "IAMUser".into(),
                arn: Some("arn:aws:iam::123456789012:user/alice".into()),
                name: Some("alice".into()),
                account_id: Some("123456789012".into()),
            },
            subject: Subject::TagsChanged {
                target: TagTarget::Principal(user()),
                keys: keys.iter().map(|k| k.to_string()).collect(),
            },
            only_rules: None,
            also: vec![],
            raw_detail: serde_json::Value::Null,
        }
    }

    fn user() -> PrincipalRef {
        PrincipalRef {
            kind: PrincipalKind::User,
            name: "bob".into(),
        }
    }

    fn observed(tags: &[(&str, &str)]) -> Observed {
        let mut o = Observed {
            read_at: Some("2026-11-20T10:00:05Z".parse().unwrap()),
            ..Observed::default()
        };
        o.principals.insert(
            user(),
            Some(PrincipalInfo {
                arn: "arn:aws:iam::123456789012:user/ops/bob".into(),
                trust_policy: None,
                tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            }),
        );
        o
    }

    fn rule() -> ExemptionTag {
        ExemptionTag::new(crate::exemptions::EXEMPT_TAG.into())
    }

    #[test]
    fn an_exemption_in_force_names_expiry_reason_and_who_set_it() {
        let v = &rule().evaluate(
            &finding(&["compliance-responder:exempt"]),
            &observed(&[("compliance-responder:exempt", "2027-01-31 SEC-1234 legal hold")]),
        )[0];
        assert_eq!(v.status, Status::NonCompliant);
        assert_eq!(v.severity, Severity::Low);
        assert_eq!(v.resources[0].arn, "arn:aws:iam::123456789012:user/ops/bob");
        for part in ["until 2027-01-31", "SEC-1234 legal hold", "user/alice", "TagUser"] {
            assert!(v.summary.contains(part), "{part} missing from {}", v.summary);
        }
        let forever = &rule().evaluate(
            &finding(&["compliance-responder:exempt-reason"]),
            &observed(&[
                ("compliance-responder:exempt", "true"),
                ("compliance-responder:exempt-reason", "vendor"),
            ]),
        )[0];
        assert_eq!(forever.severity, Severity::Medium);
        assert!(forever.summary.contains("no expiry") && forever.summary.contains("vendor"));
    }

    #[test]
    fn removed_or_expired_exemptions_close_the_record_and_other_tags_are_ignored() {
        let gone = &rule().evaluate(&finding(&["compliance-responder:exempt"]), &observed(&[]))[0];
        assert_eq!(gone.status, Status::Resolved);
        let expired = &rule().evaluate(
            &finding(&["compliance-responder:exempt"]),
            &observed(&[("compliance-responder:exempt", "2026-01-01")]),
        )[0];
        assert_eq!(expired.status, Status::Resolved);
        let unreadable = &rule().evaluate(
            &finding(&["compliance-responder:exempt"]),
            &observed(&[("compliance-responder:exempt", "soon")]),
        )[0];
        assert_eq!(unreadable.status, Status::NonCompliant);
        assert!(rule()
            .evaluate(
                &finding(&["team"]),
                &observed(&[("compliance-responder:exempt", "true")])
            )
            .is_empty());
        let unknown = &rule().evaluate(&finding(&["compliance-responder:exempt"]), &Observed::default())[0];
        assert!(matches!(unknown.status, Status::NotEvaluated { .. }));
    }
}
