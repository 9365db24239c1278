//! A customer-managed policy is shared: a new default version changes every user, role and group it
//! is attached to, not only the principal an event named. Pure.
//!
//! Before a rewrite of a managed policy is planned, the pipeline reads where the policy is
//! attached (`ListEntitiesForPolicy`) and each of those principals (ARN, tags). The rewrite goes
//! ahead only when every one of them may be changed. When one is protected, exempt (tag or
//! `EXEMPT_ARNS`), or could not be read, the rewrite is withheld: the policy is detached from the
//! event's principal only, when there is one and it may be changed itself, and otherwise left for
//! a person. Either way the finding's resources list every principal the policy reaches and the
//! summary says why the policy was not rewritten.

use crate::exemptions::{standing, Standing};
use crate::finding::PrincipalRef;
use crate::guards::Guards;
use crate::plan::{Action, Remedy, Step, Target};
use crate::rules::{ResourceRef, ResourceType, Status, Verdict};
use crate::state::{Known, Observed};

/// The managed policies the verdicts would give a new default version.
pub fn rewrites(verdicts: &[Verdict], observed: &Observed) -> Vec<String> {
    let mut arns: Vec<String> = verdicts
        .iter()
        .filter(|v| v.status == Status::NonCompliant)
        .filter_map(|v| match &v.remedy {
            Remedy::Edit { target, edits } => target.new_version_of(edits, observed),
            _ => None,
        })
        .collect();
    arns.sort();
    arns.dedup();
    arns
}

/// Why `p` must not be changed, if it must not (protected, exempt, unreadable).
fn blocker(
    p: &PrincipalRef,
    observed: &Observed,
    guards: &Guards,
    account: &str,
    tag: &str,
    today: chrono::NaiveDate,
) -> Option<String> {
    match observed.principal(p) {
        Known::Absent => None,
        Known::Unknown => Some(format!("{p} could not be read")),
        Known::Present(info) => {
            guards
                .withhold(&info.arn, account)
                .or(match standing(&info.arn, observed, today, tag) {
                    Standing::Withheld(reason) => Some(reason),
                    Standing::Clear | Standing::Expired(_) => None,
                })
        }
    }
}

/// Withholds rewrites of policies that reach a principal that must not be changed (see the module
/// docs). Runs after the per-verdict guards and exemptions, once the policies' entities and
/// their principals are read.
pub fn apply(
    verdicts: &mut [Verdict],
    observed: &Observed,
    guards: &Guards,
    account: &str,
    tag: &str,
    now: chrono::DateTime<chrono::Utc>,
) {
    let today = now.date_naive();
    for v in verdicts.iter_mut() {
        if v.status != Status::NonCompliant {
            continue;
        }
        let Remedy::Edit { target, edits } = &v.remedy else {
            continue;
        };
        let Some(policy_arn) = target.new_version_of(edits, observed) else {
            continue;
        };
        let Target::Managed { principal, .. } = target else {
            continue;
        };
        let principal = principal.clone();
        let mut blockers: Vec<String> = Vec::new();
        match observed.policy_entities(&policy_arn) {
            Known::Present(entities) => {
                for p in entities {
                    if let Known::Present(info) = observed.principal(p) {
                        if !v.resources.iter().any(|r| r.arn == info.arn) {
                            v.resources.push(ResourceRef {
                                resource_type: ResourceType::of_principal(p.kind),
                                arn: info.arn.clone(),
                            });
                        }
                    }
                    blockers.extend(blocker(p, observed, guards, account, tag, today));
                }
            }
            Known::Absent => continue,
            Known::Unknown => blockers.push(format!("the principals {policy_arn} is attached to could not be read")),
        }
        if blockers.is_empty() {
            continue;
        }
        let why = format!(
            "{policy_arn} is shared and a new version would change principals that must not be changed: {}",
            blockers.join("; ")
        );
        let own = principal
            .as_ref()
            .filter(|p| blocker(p, observed, guards, account, tag, today).is_none());
        match own {
            Some(p) => {
                v.summary = format!(
                    "{} — the policy is not rewritten ({why}); detached from {p} only",
                    v.summary
                );
                v.remedy = Remedy::Apply {
                    steps: vec![Step {
                        action: Action::DetachPolicy {
                            principal: p.clone(),
                            policy_arn: policy_arn.clone(),
                        },
                        inverse: Action::AttachPolicy {
                            principal: p.clone(),
                            policy_arn: policy_arn.clone(),
                        },
                    }],
                };
            }
            None => {
                v.summary = format!("{} — not fixed: {why}", v.summary);
                v.remedy = Remedy::Manual { reason: why };
                v.needs_review = None;
            }
        }
    }
}
