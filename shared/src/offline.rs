//! Offline evaluation: the pipeline run against the state an event itself describes, with no AWS
//! call. Used by `responder plan`. The live state may differ (that is why the Lambda re-reads it);
//! what the event does not carry (e.g. the document of a policy it attaches) stays unknown, and the
//! rules say so instead of guessing.

use crate::adapters::{Applied, FindingsPort, IamPort, SourceFindingNote, TagPort};
use crate::asff::AsffFinding;
use crate::config::{Config, Mode};
use crate::envelope::Envelope;
use crate::error::AwsError;
use crate::finding::{Finding, SourceKind, Subject};
use crate::pipeline::Responder;
use crate::plan::Action;
use crate::report::Report;
use crate::resource::{AwsResource, Tags};
use crate::rules::fallback_principal_arn;
use crate::state::{Lookup, ManagedPolicy, Observed, PrincipalInfo, VersionDocument};
use async_trait::async_trait;
use std::sync::Arc;

/// A managed policy as an event shows it. The event shows no versions: planned as if there were
/// room for one.
fn event_policy(arn: &str, default_version_id: &str, document: &str) -> ManagedPolicy {
    ManagedPolicy {
        arn: arn.to_string(),
        name: arn.rsplit('/').next().unwrap_or_default().to_string(),
        default_version_id: default_version_id.into(),
        document: document.into(),
        versions: vec![],
        oldest_non_default: None,
        tags: Default::default(),
        versions_read: true,
    }
}

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
                    tags: Default::default(),
                }),
            );
            o.inline_policies
                .insert((principal.clone(), policy_name.clone()), Some(doc.clone()));
        }
        Subject::ManagedPolicyChanged {
            policy_arn,
            document: Some(doc),
        } => {
            o.managed_policies
                .insert(policy_arn.clone(), Some(event_policy(policy_arn, "(event)", doc)));
        }
        Subject::DormantPolicyVersion {
            policy_arn,
            version_id,
            document: Some(doc),
            ..
        } => {
            // The event carries the new version only; the default one is not judged here.
            o.managed_policies.insert(
                policy_arn.clone(),
                Some(event_policy(policy_arn, "(not in the event)", "")),
            );
            o.policy_versions.insert(
                (policy_arn.clone(), version_id.clone()),
                Some(VersionDocument {
                    id: version_id.clone().unwrap_or_else(|| "(event)".into()),
                    is_default: false,
                    document: doc.clone(),
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
                    tags: Default::default(),
                }),
            );
        }
        // A create call describes a resource with the tags it was created with.
        Subject::ResourcesCreated {
            resources,
            creation_tags,
            ..
        } => {
            for r in resources {
                o.tags.insert(r.arn.clone(), Some(creation_tags.clone()));
            }
        }
        Subject::PolicyAttached { principal, .. } => {
            o.principals.insert(
                principal.clone(),
                Some(PrincipalInfo {
                    arn: arn_of(principal),
                    trust_policy: None,
                    tags: Default::default(),
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
            Lookup::GroupsForUser { user_name } => {
                if let Some(v) = s.groups_for_user.get(user_name) {
                    observed.groups_for_user.insert(user_name.clone(), v.clone());
                }
            }
            Lookup::ManagedPolicy { arn } | Lookup::PolicyVersions { arn } => {
                if let Some(v) = s.managed_policies.get(arn) {
                    observed.managed_policies.insert(arn.clone(), v.clone());
                }
            }
            Lookup::PolicyVersion { arn, version_id } => {
                let key = (arn.clone(), version_id.clone());
                if let Some(v) = s.policy_versions.get(&key) {
                    observed.policy_versions.insert(key, v.clone());
                }
            }
            Lookup::PolicyEntities { arn } => {
                // What the event says: the principals it names with the policy attached.
                let entities = s
                    .attached
                    .iter()
                    .filter(|(_, list)| list.as_ref().is_some_and(|l| l.contains(arn)))
                    .map(|(p, _)| p.clone())
                    .collect();
                observed.policy_entities.insert(arn.clone(), Some(entities));
            }
            Lookup::InlinePolicy { principal, name } => {
                if let Some(v) = s.inline_policies.get(&(principal.clone(), name.clone())) {
                    observed
                        .inline_policies
                        .insert((principal.clone(), name.clone()), v.clone());
                }
            }
            Lookup::AccessKeys { user_name } => {
                if let Some(v) = s.access_keys.get(user_name) {
                    observed.access_keys.insert(user_name.clone(), v.clone());
                }
            }
            Lookup::AccessKeyUse { access_key_id } => {
                if let Some(v) = s.key_uses.get(access_key_id) {
                    observed.key_uses.insert(access_key_id.clone(), v.clone());
                }
            }
            Lookup::ResourceTags(r) => {
                if let Some(v) = s.tags.get(&r.arn) {
                    observed.tags.insert(r.arn.clone(), v.clone());
                }
            }
        }
        Ok(())
    }

    async fn apply(&self, action: &Action) -> Result<Applied, AwsError> {
        Err(offline(action.describe()))
    }

    async fn find_by_id(&self, _resource_type: &str, id: &str) -> Result<Option<String>, AwsError> {
        Err(offline(format!("resolve {id}")))
    }
}

fn offline(what: String) -> AwsError {
    AwsError {
        service: "offline",
        operation: "offline",
        resource: what,
        code: "Offline".into(),
        message: "offline evaluation reads only what the event carries and never writes".into(),
        retryable: false,
    }
}

#[async_trait]
impl TagPort for Snapshot {
    async fn read_tags(&self, resource: &AwsResource) -> Result<Option<Tags>, AwsError> {
        match self.0.tags.get(&resource.arn) {
            Some(v) => Ok(v.clone()),
            None => Err(offline(format!("tags of {resource}"))),
        }
    }
    async fn tag(&self, resource: &AwsResource, _tags: &Tags) -> Result<Applied, AwsError> {
        Err(offline(format!("tag {resource}")))
    }
    async fn untag(&self, resource: &AwsResource, _keys: &[String]) -> Result<Applied, AwsError> {
        Err(offline(format!("untag {resource}")))
    }
    async fn find_db_instance(&self, resource_id: &str) -> Result<Option<(String, Tags)>, AwsError> {
        Err(offline(format!("resolve {resource_id}")))
    }
}

/// Accepts findings and drops them.
struct Discard;

#[async_trait]
impl FindingsPort for Discard {
    async fn import(&self, _findings: &[AsffFinding]) -> Result<(), AwsError> {
        Ok(())
    }
    async fn annotate(&self, _note: &SourceFindingNote) -> Result<(), AwsError> {
        Ok(())
    }
    /// Offline there is no Security Hub: nothing is suppressed (and nothing is written).
    async fn suppressed(
        &self,
        _product_arn: &str,
        _ids: &[String],
    ) -> Result<std::collections::BTreeSet<String>, AwsError> {
        Ok(Default::default())
    }
}

/// Runs the whole pipeline in dry-run mode on the state the event describes.
pub async fn plan_event(bytes: &[u8]) -> Report {
    let sources = [
        SourceKind::CloudTrail,
        SourceKind::ResourceCreation,
        SourceKind::Config,
        SourceKind::GuardDuty,
    ];
    let config = Config {
        mode: Mode::DryRun,
        ..Config::default()
    };
    let observed = Envelope::from_slice(bytes)
        .ok()
        .and_then(|e| crate::sources::normalize(&e, &sources, &config.config_rule_map).ok())
        .map(|f| observed_from_event(&f))
        .unwrap_or_default();
    let snapshot = Arc::new(Snapshot(observed));
    Responder::new(config, &sources, snapshot.clone(), snapshot, Arc::new(Discard))
        .handle_bytes(bytes)
        .await
}
