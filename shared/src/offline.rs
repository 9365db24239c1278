//! Offline evaluation: the pipeline run against the state an event itself describes, with no AWS
//! call. Used by `responder plan`. The live state may differ (that is why the Lambda re-reads it);
//! what the event does not carry (e.g. the document of a policy it attaches) stays unknown, and the
//! rules say so instead of guessing.

use crate::adapters::{Applied, FindingsPort, IamPort};
use crate::asff::AsffFinding;
use crate::config::{Config, Mode};
use crate::envelope::Envelope;
use crate::error::AwsError;
use crate::finding::{Finding, SourceKind, Subject};
use crate::pipeline::Responder;
use crate::plan::Action;
use crate::report::Report;
use crate::rules::fallback_principal_arn;
use crate::state::{Lookup, ManagedPolicy, Observed, PrincipalInfo};
use async_trait::async_trait;
use std::sync::Arc;

/// The state an event describes.
pub fn observed_from_event(finding: &Finding) -> Observed {
    let mut o = Observed::default();
    let arn_of = |p| fallback_principal_arn(&finding.partition, &finding.account, p);
    match &finding.subject {
        Subject::InlinePolicyPut {
            principal,
            policy_name,
            document: Some(doc),
        } => {
            o.principals.insert(
                principal.clone(),
                Some(PrincipalInfo {
                    arn: arn_of(principal),
                    trust_policy: None,
                }),
            );
            o.inline_policies
                .insert((principal.clone(), policy_name.clone()), Some(doc.clone()));
        }
        Subject::ManagedPolicyChanged {
            policy_arn,
            document: Some(doc),
        } => {
            o.managed_policies.insert(
                policy_arn.clone(),
                Some(ManagedPolicy {
                    arn: policy_arn.clone(),
                    name: policy_arn.rsplit('/').next().unwrap_or_default().to_string(),
                    default_version_id: "(event)".into(),
                    document: doc.clone(),
                    versions: vec![],
                    oldest_non_default: None,
                }),
            );
        }
        Subject::TrustPolicyChanged {
            role,
            document: Some(doc),
        } => {
            o.principals.insert(
                role.clone(),
                Some(PrincipalInfo {
                    arn: arn_of(role),
                    trust_policy: Some(doc.clone()),
                }),
            );
        }
        Subject::PolicyAttached { principal, .. } => {
            o.principals.insert(
                principal.clone(),
                Some(PrincipalInfo {
                    arn: arn_of(principal),
                    trust_policy: None,
                }),
            );
        }
        _ => {}
    }
    o
}

/// Answers reads from a fixed snapshot; refuses every write.
struct Snapshot(Observed);

#[async_trait]
impl IamPort for Snapshot {
    async fn read(&self, lookup: &Lookup, observed: &mut Observed) -> Result<(), AwsError> {
        let s = &self.0;
        match lookup {
            Lookup::Principal(p) => {
                if let Some(v) = s.principals.get(p) {
                    observed.principals.insert(p.clone(), v.clone());
                }
            }
            Lookup::AttachedPolicies(p) => {
                if let Some(v) = s.attached.get(p) {
                    observed.attached.insert(p.clone(), v.clone());
                }
            }
            Lookup::InlinePolicyNames(p) => {
                if let Some(v) = s.inline_names.get(p) {
                    observed.inline_names.insert(p.clone(), v.clone());
                }
            }
            Lookup::ManagedPolicy { arn } => {
                if let Some(v) = s.managed_policies.get(arn) {
                    observed.managed_policies.insert(arn.clone(), v.clone());
                }
            }
            Lookup::InlinePolicy { principal, name } => {
                if let Some(v) = s.inline_policies.get(&(principal.clone(), name.clone())) {
                    observed
                        .inline_policies
                        .insert((principal.clone(), name.clone()), v.clone());
                }
            }
        }
        Ok(())
    }

    async fn apply(&self, action: &Action) -> Result<Applied, AwsError> {
        Err(AwsError {
            service: "iam",
            operation: "offline",
            resource: action.describe(),
            code: "Offline".into(),
            message: "offline evaluation never writes".into(),
            retryable: false,
        })
    }
}

/// Accepts findings and drops them.
struct Discard;

#[async_trait]
impl FindingsPort for Discard {
    async fn import(&self, _findings: &[AsffFinding]) -> Result<(), AwsError> {
        Ok(())
    }
}

/// Runs the whole pipeline in dry-run mode on the state the event describes.
pub async fn plan_event(bytes: &[u8]) -> Report {
    let sources = [SourceKind::CloudTrail];
    let observed = Envelope::from_slice(bytes)
        .ok()
        .and_then(|e| crate::sources::normalize(&e, &sources).ok())
        .map(|f| observed_from_event(&f))
        .unwrap_or_default();
    let config = Config {
        mode: Mode::DryRun,
        ..Config::default()
    };
    Responder::new(config, &sources, Arc::new(Snapshot(observed)), Arc::new(Discard))
        .handle_bytes(bytes)
        .await
}
