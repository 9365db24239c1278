//! Exemptions: a resource or principal tagged `compliance-responder:exempt` is never changed. The
//! finding is still posted (the risk is real), with the exemption as the reason nothing was done.
//!
//! Tag value: `true` (no expiry) or an expiry date `YYYY-MM-DD` (exempt through the end of that
//! day, UTC), optionally followed by a space and the reason: `2027-01-31 SEC-1234 legal hold`.
//! The reason may also be in `compliance-responder:exempt-reason`. `EXEMPT_TAG` renames the key
//! (the reason tag is then `<key>-reason`). An expired exemption no longer
//! protects (and the verdict says so); an unreadable value protects (fail closed) and the verdict
//! says why. Pure.

use crate::plan::Remedy;
use crate::rules::{Status, Verdict};
use crate::state::{Known, Observed};
use chrono::{DateTime, NaiveDate, Utc};

/// The default exemption tag key (`EXEMPT_TAG` changes it; the reason tag is `<key>-reason`).
pub const EXEMPT_TAG: &str = "compliance-responder:exempt";

/// What an exemption tag says at a given time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exemption {
    /// Exempt; `until` is the last exempt day, if any.
    Active {
        until: Option<NaiveDate>,
        reason: Option<String>,
    },
    /// The exemption ran out on this day.
    Expired { on: NaiveDate },
    /// The value cannot be read: treated as exempt (fail closed).
    Unreadable { value: String },
}

/// Reads an exemption tag value (and the optional reason tag) as of `today`.
pub fn parse(value: &str, reason_tag: Option<&str>, today: NaiveDate) -> Exemption {
    let value = value.trim();
    let (head, rest) = match value.split_once(char::is_whitespace) {
        Some((h, r)) => (h, Some(r.trim()).filter(|r| !r.is_empty())),
        None => (value, None),
    };
    let reason = rest
        .or(reason_tag.map(str::trim).filter(|r| !r.is_empty()))
        .map(str::to_string);
    match head.to_ascii_lowercase().as_str() {
        "true" | "yes" | "permanent" => Exemption::Active { until: None, reason },
        _ => match NaiveDate::parse_from_str(head, "%Y-%m-%d") {
            Ok(until) if until >= today => Exemption::Active {
                until: Some(until),
                reason,
            },
            Ok(on) => Exemption::Expired { on },
            Err(_) => Exemption::Unreadable {
                value: value.to_string(),
            },
        },
    }
}

/// What the exemption tag of one resource says about fixing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// No exemption (or none that applies): the resource may be changed.
    Clear,
    /// It may be changed; its exemption ran out (worth saying in the finding).
    Expired(String),
    /// It must not be changed, for this reason (exempt, unreadable exemption, tags unknown).
    Withheld(String),
}

/// The standing of the resource `arn` under the exemption tag `tag`, from what was read. Tags
/// that could not be read withhold (fail closed); a resource that is gone is clear.
pub fn standing(arn: &str, observed: &Observed, today: NaiveDate, tag: &str) -> Standing {
    let tags = match observed.tags_of_arn(arn) {
        Known::Present(tags) => tags,
        Known::Absent => return Standing::Clear,
        Known::Unknown => {
            return Standing::Withheld(format!(
                "the tags of {arn} could not be read, so its exemption could not be checked"
            ))
        }
    };
    let Some(value) = tags.get(tag) else {
        return Standing::Clear;
    };
    let reason_tag = format!("{tag}-reason");
    match parse(value, tags.get(&reason_tag).map(String::as_str), today) {
        Exemption::Active { until, reason } => {
            let until = until.map(|d| format!(" until {d}")).unwrap_or_default();
            let reason = reason.map(|r| format!(" ({r})")).unwrap_or_default();
            Standing::Withheld(format!("{arn} is exempt{until}{reason}"))
        }
        Exemption::Expired { on } => Standing::Expired(format!("the exemption of {arn} expired on {on}")),
        Exemption::Unreadable { value } => Standing::Withheld(format!(
            "{arn} has {tag}={value:?}, which is neither `true` nor a YYYY-MM-DD date: \
             treated as exempt until it is corrected"
        )),
    }
}

/// Turns the fixes of verdicts about exempt resources into "left alone" verdicts. A fix is also
/// withheld when the tags of one of its resources could not be read (fail closed).
pub fn apply(verdicts: &mut [Verdict], observed: &Observed, now: DateTime<Utc>, tag: &str) {
    let today = now.date_naive();
    for v in verdicts.iter_mut() {
        if v.status != Status::NonCompliant || !matches!(v.remedy, Remedy::Edit { .. } | Remedy::Apply { .. }) {
            continue;
        }
        let mut withheld: Option<String> = None;
        let mut expired: Vec<String> = Vec::new();
        for r in v.resources.iter().filter(|r| r.arn.starts_with("arn:")) {
            match standing(&r.arn, observed, today, tag) {
                Standing::Clear => {}
                Standing::Expired(note) => expired.push(note),
                Standing::Withheld(reason) => {
                    withheld = Some(reason);
                    break;
                }
            }
        }
        if let Some(reason) = withheld {
            v.summary = format!("{} — not fixed: {reason}", v.summary);
            v.remedy = Remedy::Manual { reason };
            v.needs_review = None;
        } else if !expired.is_empty() {
            v.summary = format!("{} ({})", v.summary, expired.join("; "));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Action, Step};
    use crate::resource::{AwsResource, ResourceKind, Tags};
    use crate::rules::{ResourceRef, ResourceType, Severity};

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn values() {
        let today = day("2026-11-20");
        assert_eq!(
            parse("true", None, today),
            Exemption::Active {
                until: None,
                reason: None
            }
        );
        assert_eq!(
            parse("2026-11-20 SEC-1 legal hold", None, today),
            Exemption::Active {
                until: Some(today),
                reason: Some("SEC-1 legal hold".into())
            }
        );
        assert_eq!(
            parse("2026-11-19", None, today),
            Exemption::Expired { on: day("2026-11-19") }
        );
        assert_eq!(
            parse("Permanent", Some("break-glass"), today),
            Exemption::Active {
                until: None,
                reason: Some("break-glass".into())
            }
        );
        assert!(matches!(parse("next week", None, today), Exemption::Unreadable { .. }));
    }

    fn verdict(resource: &AwsResource) -> Verdict {
        Verdict {
            rule_id: "required-tags",
            status: Status::NonCompliant,
            severity: Severity::Low,
            summary: "missing".into(),
            resources: vec![ResourceRef {
                resource_type: ResourceType::Tagged(resource.kind),
                arn: resource.arn.clone(),
            }],
            key: resource.arn.clone(),
            matched_statements: vec![],
            matched_actions: vec![],
            remedy: Remedy::Apply {
                steps: vec![Step {
                    action: Action::TagResource {
                        resource: resource.clone(),
                        tags: Tags::new(),
                    },
                    inverse: Action::UntagResource {
                        resource: resource.clone(),
                        keys: vec![],
                    },
                }],
            },
            needs_review: None,
        }
    }

    #[test]
    fn exempt_expired_unreadable_and_unknown() {
        let now = DateTime::parse_from_rfc3339("2026-11-20T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let b = AwsResource::new(ResourceKind::S3Bucket, "b-1", "aws", "us-east-1", "123456789012").unwrap();
        let run = |tags: Option<&[(&str, &str)]>| {
            let mut o = Observed::default();
            if let Some(tags) = tags {
                o.tags.insert(
                    b.arn.clone(),
                    Some(tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
                );
            }
            let mut vs = vec![verdict(&b)];
            apply(&mut vs, &o, now, EXEMPT_TAG);
            vs.remove(0)
        };
        let v = run(Some(&[(EXEMPT_TAG, "2027-01-31 legal hold")]));
        assert!(matches!(&v.remedy, Remedy::Manual { reason } if reason.contains("until 2027-01-31 (legal hold)")));
        let v = run(Some(&[(EXEMPT_TAG, "2026-01-31")]));
        assert!(matches!(v.remedy, Remedy::Apply { .. }));
        assert!(v.summary.contains("expired on 2026-01-31"));
        let v = run(Some(&[(EXEMPT_TAG, "soon")]));
        assert!(matches!(&v.remedy, Remedy::Manual { reason } if reason.contains("treated as exempt")));
        let v = run(Some(&[("Owner", "x")]));
        assert!(matches!(v.remedy, Remedy::Apply { .. }));
        let v = run(None);
        assert!(matches!(&v.remedy, Remedy::Manual { reason } if reason.contains("could not be read")));
    }
}
