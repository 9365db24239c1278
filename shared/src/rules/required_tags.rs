//! `required-tags`: a resource lacks the tags every resource must carry, or carries one with an
//! empty or disallowed value. Missing tags with a default are added (the creator comes from the
//! CloudTrail identity); existing tags are never overwritten: wrong values are left for a person.

use super::{ResourceRef, ResourceType, Rule, RuleMeta, Severity, SkipKind, Status, Verdict};
use crate::config::TagPolicy;
use crate::finding::{Finding, Subject};
use crate::plan::{Action, Remedy, Step};
use crate::resource::{clamp_value, AwsResource, Tags, MAX_TAGS, RESERVED_PREFIX};
use crate::state::{Known, Lookup, Observed};

pub const ID: &str = "required-tags";

static META: RuleMeta = RuleMeta {
    id: ID,
    title: "Resource lacks required tags",
    description:
        "Every resource must carry the organization's required tags (owner, cost center, ...) with meaningful values.",
    severity: Severity::Low,
    recommendation: "Add the missing tags; correct empty or disallowed values by hand.",
    recommendation_url: "https://docs.aws.amazon.com/config/latest/developerguide/required-tags.html",
    security_hub_control: None,
    finding_types: &["Software and Configuration Checks/Industry and Regulatory Standards"],
    report_only: false,
    accepted_risk: false,
    record_first: true,
};

/// The rule, with the organization's tag policy.
pub struct RequiredTags {
    policy: TagPolicy,
}

impl RequiredTags {
    pub fn new(policy: TagPolicy) -> Self {
        RequiredTags { policy }
    }
}

/// The resources a finding names, with the creator and the tags set at creation (if known).
fn targets(finding: &Finding) -> Vec<(&AwsResource, Option<&str>, Option<&Tags>)> {
    match &finding.subject {
        Subject::ResourcesCreated {
            resources,
            creator,
            creation_tags,
        } => resources
            .iter()
            .map(|r| (r, creator.as_deref(), Some(creation_tags)))
            .collect(),
        Subject::ResourceTagsCheck { resource } => vec![(resource, None, None)],
        _ => vec![],
    }
}

/// A verdict about one resource, with nothing matched and no remedy yet.
fn verdict(resource: &AwsResource, status: Status, severity: Severity, summary: String) -> Verdict {
    Verdict {
        rule_id: ID,
        status,
        severity,
        summary,
        resources: vec![ResourceRef {
            resource_type: ResourceType::Tagged(resource.kind),
            arn: resource.arn.clone(),
        }],
        key: resource.arn.clone(),
        matched_statements: vec![],
        matched_actions: vec![],
        remedy: Remedy::None,
        needs_review: None,
    }
}

/// Whether AWS accepts `value` as a tag value: at most 256 characters of letters, digits,
/// whitespace and `_ . : / = + - @`.
fn valid_tag_value(value: &str) -> bool {
    value.chars().count() <= crate::resource::MAX_TAG_VALUE
        && value
            .chars()
            .all(|c| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c))
}

/// Fills `${creator}`, `${account}`, `${region}`; `None` when the creator is needed but unknown.
fn resolve(template: &str, resource: &AwsResource, creator: Option<&str>) -> Option<String> {
    if template.contains("${creator}") && creator.is_none_or(|c| c.trim().is_empty()) {
        return None;
    }
    let value = template
        .replace("${creator}", creator.unwrap_or_default())
        .replace("${account}", &resource.account)
        .replace("${region}", &resource.region);
    let value = clamp_value(value.trim());
    (!value.is_empty()).then_some(value)
}

impl RequiredTags {
    fn judge(&self, resource: &AwsResource, creator: Option<&str>, live: &Tags, at_creation: Option<&Tags>) -> Verdict {
        let mut v = verdict(
            resource,
            Status::Compliant,
            Severity::Informational,
            format!("{resource} carries every required tag"),
        );
        // What the resource has: the live tags, and those the create call set (the tag index can
        // lag behind a create; a key set at creation is never written again).
        let mut existing = live.clone();
        for (k, val) in at_creation.into_iter().flatten() {
            existing.entry(k.clone()).or_insert_with(|| val.clone());
        }
        let mut add = Tags::new();
        let mut manual: Vec<String> = Vec::new();
        for req in &self.policy.required {
            match existing.get(&req.key) {
                Some(val) if val.trim().is_empty() => manual.push(format!("{} is empty", req.key)),
                Some(val) if !req.allowed.is_empty() && !req.allowed.contains(val) => {
                    manual.push(format!("{}={val} is not one of {}", req.key, req.allowed.join("|")))
                }
                Some(_) => {}
                None => match req.default.as_deref().and_then(|d| resolve(d, resource, creator)) {
                    // A default that resolves (from the creator) to a value the key may not
                    // have is not written: it would be a wrong tag, not a missing one.
                    Some(value) if !req.allowed.is_empty() && !req.allowed.contains(&value) => manual.push(format!(
                        "{} is missing and its default {value:?} is not one of {}: not written",
                        req.key,
                        req.allowed.join("|")
                    )),
                    // Tag values allow letters, digits, spaces and `_ . : / = + - @` (Tagging
                    // API reference): anything else (a session name with a comma) is refused.
                    Some(value) if !valid_tag_value(&value) => manual.push(format!(
                        "{} is missing and its default {value:?} is not a valid tag value: not written",
                        req.key
                    )),
                    Some(value) => {
                        add.insert(req.key.clone(), value);
                    }
                    None if req.default.is_some() => manual.push(format!(
                        "{} is missing and its default needs the creator, which this event does not name",
                        req.key
                    )),
                    None => manual.push(format!("{} is missing and has no default", req.key)),
                },
            }
        }
        // AWS counts user tags against the limit of 50; `aws:` tags do not count.
        let used = existing.keys().filter(|k| !k.starts_with(RESERVED_PREFIX)).count();
        let room = MAX_TAGS.saturating_sub(used);
        if add.len() > room {
            let over: Vec<String> = add.keys().skip(room).cloned().collect();
            for k in &over {
                add.remove(k);
                manual.push(format!(
                    "{k} is missing but the resource already has {used} of {MAX_TAGS} tags"
                ));
            }
        }
        if add.is_empty() && manual.is_empty() {
            return v;
        }
        v.status = Status::NonCompliant;
        v.severity = META.severity;
        v.matched_statements = add.keys().cloned().collect();
        v.matched_actions = manual.clone();
        let mut problems: Vec<String> = add.keys().map(|k| format!("{k} is missing")).collect();
        problems.extend(manual.iter().cloned());
        v.summary = format!("{resource}: {}", problems.join("; "));
        if add.is_empty() {
            v.remedy = Remedy::Manual {
                reason: format!("existing tags are never overwritten: {}", manual.join("; ")),
            };
        } else {
            let keys: Vec<String> = add.keys().cloned().collect();
            v.remedy = Remedy::Apply {
                steps: vec![Step {
                    action: Action::TagResource {
                        resource: resource.clone(),
                        tags: add,
                    },
                    inverse: Action::UntagResource {
                        resource: resource.clone(),
                        keys,
                    },
                }],
            };
            if !manual.is_empty() {
                v.needs_review = Some(manual.join("; "));
            }
        }
        v
    }
}

impl Rule for RequiredTags {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn lookups(&self, finding: &Finding) -> Vec<Lookup> {
        targets(finding)
            .into_iter()
            .map(|(r, _, _)| Lookup::ResourceTags(r.clone()))
            .collect()
    }

    fn evaluate(&self, finding: &Finding, observed: &Observed) -> Vec<Verdict> {
        targets(finding)
            .into_iter()
            .map(|(resource, creator, at_creation)| match observed.tags(resource) {
                Known::Present(live) => self.judge(resource, creator, live, at_creation),
                Known::Absent | Known::Unknown => {
                    let (kind, summary) = match observed.tags(resource) {
                        Known::Absent => (
                            SkipKind::ResourceNotFound,
                            format!("{resource} no longer exists; nothing tagged"),
                        ),
                        _ => (
                            SkipKind::StateUnknown,
                            format!("could not read the tags of {resource}; nothing tagged"),
                        ),
                    };
                    verdict(resource, Status::NotEvaluated { kind }, META.severity, summary)
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_required_tags;
    use crate::resource::ResourceKind;

    fn bucket() -> AwsResource {
        AwsResource::new(ResourceKind::S3Bucket, "b-1", "aws", "us-east-1", "123456789012").unwrap()
    }

    fn rule(tags: &str, values: &str) -> RequiredTags {
        RequiredTags::new(parse_required_tags(tags, values).unwrap())
    }

    fn tags(pairs: &[(&str, &str)]) -> Tags {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn adds_missing_tags_with_the_creator_and_never_overwrites() {
        let r = rule("Owner=${creator};CostCenter=unassigned;Env=dev", "Env=dev|prod");
        let v = r.judge(
            &bucket(),
            Some("jane@example.com"),
            &tags(&[("CostCenter", "42")]),
            None,
        );
        assert_eq!(v.status, Status::NonCompliant);
        let Remedy::Apply { steps } = &v.remedy else {
            panic!("{v:?}")
        };
        let Action::TagResource { tags: added, .. } = &steps[0].action else {
            panic!()
        };
        assert_eq!(added, &tags(&[("Env", "dev"), ("Owner", "jane@example.com")]));
        assert!(matches!(&steps[0].inverse, Action::UntagResource { keys, .. } if keys == &["Env", "Owner"]));

        // Tags set at creation count as present, even if the live read lags.
        let v = r.judge(
            &bucket(),
            Some("x"),
            &Tags::new(),
            Some(&tags(&[("Owner", "bob"), ("Env", "prod")])),
        );
        let Remedy::Apply { steps } = &v.remedy else { panic!() };
        assert!(
            matches!(&steps[0].action, Action::TagResource { tags: t, .. } if t == &tags(&[("CostCenter", "unassigned")]))
        );

        let done = tags(&[("Owner", "bob"), ("CostCenter", "1"), ("Env", "prod")]);
        assert_eq!(r.judge(&bucket(), Some("x"), &done, None).status, Status::Compliant);
    }

    #[test]
    fn bad_values_and_unknown_creators_are_left_for_a_person() {
        let r = rule("Owner=${creator};Env=dev", "Env=dev|prod");
        let v = r.judge(&bucket(), None, &tags(&[("Env", "qa")]), None);
        assert_eq!(v.status, Status::NonCompliant);
        assert!(
            matches!(&v.remedy, Remedy::Manual { reason } if reason.contains("Env=qa") && reason.contains("creator"))
        );
        let v = r.judge(&bucket(), Some("   "), &tags(&[("Env", " ")]), None);
        assert!(matches!(&v.remedy, Remedy::Manual { .. }), "{v:?}");
    }

    /// A creator outside the allowed values of its key, or one with characters tags refuse, is
    /// never written; the finding says why.
    #[test]
    fn creator_values_that_are_not_allowed_are_not_written() {
        let bucket = AwsResource::new(ResourceKind::S3Bucket, "b-1", "aws", "us-east-1", "123456789012").unwrap();
        let r = rule("Owner=${creator}", "Owner=platform|data");
        let v = r.judge(&bucket, Some("mallory"), &Tags::new(), None);
        assert!(
            matches!(&v.remedy, Remedy::Manual { reason } if reason.contains("\"mallory\" is not one of platform|data")),
            "{v:#?}"
        );
        let r = rule("Owner=${creator}", "");
        let v = r.judge(&bucket, Some("ci,session"), &Tags::new(), None);
        assert!(
            matches!(&v.remedy, Remedy::Manual { reason } if reason.contains("not a valid tag value")),
            "{v:#?}"
        );
        let v = r.judge(&bucket, Some("jane@example.com"), &Tags::new(), None);
        assert!(matches!(&v.remedy, Remedy::Apply { .. }), "{v:#?}");
    }

    #[test]
    fn respects_the_fifty_tag_limit_and_clamps_values() {
        let r = rule("A=1;B=${creator}", "");
        let full: Tags = (0..49).map(|i| (format!("k{i}"), "v".to_string())).collect();
        let v = r.judge(&bucket(), Some(&"x".repeat(400)), &full, None);
        let Remedy::Apply { steps } = &v.remedy else { panic!() };
        let Action::TagResource { tags: added, .. } = &steps[0].action else {
            panic!()
        };
        assert_eq!(added.len(), 1);
        assert!(v.needs_review.as_deref().unwrap().contains("50"));
        let v = r.judge(&bucket(), Some(&"x".repeat(400)), &Tags::new(), None);
        let Remedy::Apply { steps } = &v.remedy else { panic!() };
        let Action::TagResource { tags: added, .. } = &steps[0].action else {
            panic!()
        };
        assert_eq!(added["B"].len(), 256);
    }
}
