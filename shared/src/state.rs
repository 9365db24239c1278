//! Live state the rules need, as plain data. Rules say what they need ([`Lookup`]); the pipeline
//! reads it through the IAM adapter just before deciding, so a stale event never drives a write.

use crate::finding::PrincipalRef;
use crate::plan::{Action, Plan};
use crate::resource::{AwsResource, Tags};
use serde::Serialize;
use std::collections::BTreeMap;

/// One read a rule needs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "lookup", rename_all = "kebab-case")]
pub enum Lookup {
    /// Does the principal exist, what is its ARN (and, for a role, its trust policy)?
    Principal(PrincipalRef),
    /// Which managed policies are attached to the principal now?
    AttachedPolicies(PrincipalRef),
    /// Which inline policies does the principal have?
    InlinePolicyNames(PrincipalRef),
    /// A managed policy and its default version's document.
    ManagedPolicy { arn: String },
    /// A customer-managed policy's versions (and, at IAM's limit of 5, the oldest non-default
    /// one's document): read only when a fix is about to add a version, after the verdicts.
    PolicyVersions { arn: String },
    /// Every user, role and group a managed policy is attached to (`ListEntitiesForPolicy`): read
    /// only when a fix would give the policy a new default version, which changes them all.
    PolicyEntities { arn: String },
    /// One version of a managed policy and its document; `version_id: None` asks for the newest
    /// non-default version (an event that did not say which one it created).
    PolicyVersion { arn: String, version_id: Option<String> },
    /// An inline policy's current document.
    InlinePolicy { principal: PrincipalRef, name: String },
    /// The groups an IAM user is in (`ListGroupsForUser`).
    GroupsForUser { user_name: String },
    /// The access keys of an IAM user and whether each is active.
    AccessKeys { user_name: String },
    /// An access key's owner (the IAM user of this account it belongs to) and when it was last
    /// used (`GetAccessKeyLastUsed`).
    AccessKeyUse { access_key_id: String },
    /// Does the resource exist, and what tags does it have now?
    ResourceTags(AwsResource),
}

/// One access key of an IAM user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessKey {
    pub id: String,
    pub active: bool,
    /// When it was created (`ListAccessKeys`' `CreateDate`), when IAM said.
    pub created: Option<chrono::DateTime<chrono::Utc>>,
}

/// What IAM says of an access key's use (`GetAccessKeyLastUsed`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyUse {
    /// The user that owns it.
    pub owner: String,
    /// When it was last used; `None` when it never was (or last was before 22 April 2015, when
    /// IAM started recording it).
    pub last_used: Option<chrono::DateTime<chrono::Utc>>,
    /// The service it was last used with (IAM says `N/A` when it never was).
    pub service: Option<String>,
}

/// A principal as IAM reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrincipalInfo {
    pub arn: String,
    /// Roles only: the trust (assume-role) policy, possibly URL-encoded.
    pub trust_policy: Option<String>,
    /// The principal's tags (IAM groups have none).
    pub tags: Tags,
}

/// One version of a managed policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyVersion {
    pub id: String,
    pub is_default: bool,
    /// RFC 3339, for ordering.
    pub created: String,
}

/// A managed policy with its default version's document (possibly URL-encoded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManagedPolicy {
    pub arn: String,
    pub name: String,
    pub default_version_id: String,
    pub document: String,
    /// Customer-managed policies only (empty for AWS-managed ones), once `versions_read`.
    pub versions: Vec<PolicyVersion>,
    /// When the policy has IAM's maximum of 5 versions: the oldest non-default version and its
    /// document, which a new version would have to replace.
    pub oldest_non_default: Option<(String, String)>,
    /// The policy's tags (customer-managed policies only).
    pub tags: Tags,
    /// Whether `versions` and `oldest_non_default` have been read ([`Lookup::PolicyVersions`]).
    pub versions_read: bool,
}

/// One version of a managed policy, with its document (possibly URL-encoded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionDocument {
    pub id: String,
    pub is_default: bool,
    pub document: String,
}

/// IAM keeps at most this many versions of a managed policy.
pub const MAX_POLICY_VERSIONS: usize = 5;

impl ManagedPolicy {
    /// AWS-managed policies live in the `aws` pseudo-account.
    pub fn is_aws_managed(&self) -> bool {
        self.arn.split(':').nth(4) == Some("aws")
    }
}

/// Everything read for one event. `None` in a map means "looked up and does not exist"; a missing
/// key means "not looked up", which rules treat as unknown and never act on.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Observed {
    pub principals: BTreeMap<PrincipalRef, Option<PrincipalInfo>>,
    pub attached: BTreeMap<PrincipalRef, Option<Vec<String>>>,
    pub inline_names: BTreeMap<PrincipalRef, Option<Vec<String>>>,
    pub managed_policies: BTreeMap<String, Option<ManagedPolicy>>,
    pub inline_policies: BTreeMap<(PrincipalRef, String), Option<String>>,
    /// (policy ARN, version id asked for) → that version.
    pub policy_versions: BTreeMap<(String, Option<String>), Option<VersionDocument>>,
    /// Managed policy ARN → the principals it is attached to.
    pub policy_entities: BTreeMap<String, Option<Vec<PrincipalRef>>>,
    /// User name → the groups it is in.
    pub groups_for_user: BTreeMap<String, Option<Vec<String>>>,
    /// User name → access keys.
    pub access_keys: BTreeMap<String, Option<Vec<AccessKey>>>,
    /// Access key id → its owner and last use (`None`: no user of this account owns it).
    pub key_uses: BTreeMap<String, Option<KeyUse>>,
    /// Resource ARN → tags.
    pub tags: BTreeMap<String, Option<Tags>>,
    /// When the state was read (the pipeline sets it; rules that write a time use it).
    pub read_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The answer to a lookup for one key.
pub enum Known<'a, T> {
    /// Read, and it exists.
    Present(&'a T),
    /// Read, and it does not exist (any more).
    Absent,
    /// Not read: the rule asked for nothing, or the read failed.
    Unknown,
}

fn known<'a, K: Ord, T>(map: &'a BTreeMap<K, Option<T>>, key: &K) -> Known<'a, T> {
    match map.get(key) {
        Some(Some(v)) => Known::Present(v),
        Some(None) => Known::Absent,
        None => Known::Unknown,
    }
}

impl Observed {
    /// Whether `lookup` has been answered already (present or absent): the pipeline reads each
    /// lookup once per event, even when expanding a subject needed it before the rules did.
    pub fn has(&self, lookup: &Lookup) -> bool {
        match lookup {
            Lookup::Principal(p) => self.principals.contains_key(p),
            Lookup::AttachedPolicies(p) => self.attached.contains_key(p),
            Lookup::InlinePolicyNames(p) => self.inline_names.contains_key(p),
            Lookup::ManagedPolicy { arn } => self.managed_policies.contains_key(arn),
            Lookup::PolicyVersions { arn } => {
                matches!(self.managed_policies.get(arn), Some(Some(p)) if p.versions_read)
            }
            Lookup::PolicyEntities { arn } => self.policy_entities.contains_key(arn),
            Lookup::PolicyVersion { arn, version_id } => {
                self.policy_versions.contains_key(&(arn.clone(), version_id.clone()))
            }
            Lookup::InlinePolicy { principal, name } => {
                self.inline_policies.contains_key(&(principal.clone(), name.clone()))
            }
            Lookup::GroupsForUser { user_name } => self.groups_for_user.contains_key(user_name),
            Lookup::AccessKeys { user_name } => self.access_keys.contains_key(user_name),
            Lookup::AccessKeyUse { access_key_id } => self.key_uses.contains_key(access_key_id),
            Lookup::ResourceTags(resource) => self.tags.contains_key(&resource.arn),
        }
    }

    pub fn principal(&self, p: &PrincipalRef) -> Known<'_, PrincipalInfo> {
        known(&self.principals, p)
    }
    pub fn attached(&self, p: &PrincipalRef) -> Known<'_, Vec<String>> {
        known(&self.attached, p)
    }
    pub fn inline_names(&self, p: &PrincipalRef) -> Known<'_, Vec<String>> {
        known(&self.inline_names, p)
    }
    pub fn managed_policy(&self, arn: &str) -> Known<'_, ManagedPolicy> {
        known(&self.managed_policies, &arn.to_string())
    }
    pub fn policy_entities(&self, arn: &str) -> Known<'_, Vec<PrincipalRef>> {
        known(&self.policy_entities, &arn.to_string())
    }
    pub fn policy_version(&self, arn: &str, version_id: Option<&str>) -> Known<'_, VersionDocument> {
        known(
            &self.policy_versions,
            &(arn.to_string(), version_id.map(str::to_string)),
        )
    }
    pub fn inline_policy(&self, p: &PrincipalRef, name: &str) -> Known<'_, String> {
        known(&self.inline_policies, &(p.clone(), name.to_string()))
    }
    pub fn groups_for_user(&self, user_name: &str) -> Known<'_, Vec<String>> {
        known(&self.groups_for_user, &user_name.to_string())
    }
    pub fn access_keys(&self, user_name: &str) -> Known<'_, Vec<AccessKey>> {
        known(&self.access_keys, &user_name.to_string())
    }
    pub fn key_owner(&self, access_key_id: &str) -> Known<'_, String> {
        match self.key_uses.get(access_key_id) {
            Some(Some(u)) => Known::Present(&u.owner),
            Some(None) => Known::Absent,
            None => Known::Unknown,
        }
    }
    pub fn key_use(&self, access_key_id: &str) -> Known<'_, KeyUse> {
        known(&self.key_uses, &access_key_id.to_string())
    }
    pub fn tags(&self, resource: &AwsResource) -> Known<'_, Tags> {
        known(&self.tags, &resource.arn)
    }

    /// The tags of whatever was read under this ARN: a principal, a managed policy or a tagged
    /// resource.
    pub fn tags_of_arn(&self, arn: &str) -> Known<'_, Tags> {
        if let Some(found) = self.tags.get(arn) {
            return match found {
                Some(t) => Known::Present(t),
                None => Known::Absent,
            };
        }
        if let Some(m) = self.managed_policies.get(arn) {
            return match m {
                Some(m) => Known::Present(&m.tags),
                None => Known::Absent,
            };
        }
        for info in self.principals.values().flatten() {
            if info.arn == arn {
                return Known::Present(&info.tags);
            }
        }
        Known::Unknown
    }

    /// The state as it is once `plan` has been applied (pure projection; used to judge
    /// report-only rules after a successful fix without reading IAM again).
    pub fn project(&self, plan: &Plan) -> Observed {
        let mut next = self.clone();
        for step in &plan.steps {
            match &step.action {
                Action::DetachPolicy { principal, policy_arn } => {
                    if let Some(Some(list)) = next.attached.get_mut(principal) {
                        list.retain(|a| a != policy_arn);
                    }
                }
                Action::AttachPolicy { principal, policy_arn } => {
                    if let Some(Some(list)) = next.attached.get_mut(principal) {
                        if !list.contains(policy_arn) {
                            list.push(policy_arn.clone());
                        }
                    }
                }
                Action::DeleteInlinePolicy { principal, policy_name } => {
                    if let Some(Some(names)) = next.inline_names.get_mut(principal) {
                        names.retain(|n| n != policy_name);
                    }
                    next.inline_policies
                        .insert((principal.clone(), policy_name.clone()), None);
                }
                Action::PutInlinePolicy {
                    principal,
                    policy_name,
                    document,
                } => {
                    if let Some(Some(names)) = next.inline_names.get_mut(principal) {
                        if !names.contains(policy_name) {
                            names.push(policy_name.clone());
                        }
                    }
                    next.inline_policies
                        .insert((principal.clone(), policy_name.clone()), Some(document.clone()));
                }
                Action::CreatePolicyVersion {
                    policy_arn,
                    document,
                    set_as_default: true,
                } => {
                    if let Some(Some(m)) = next.managed_policies.get_mut(policy_arn) {
                        m.document = document.clone();
                    }
                }
                Action::UpdateAssumeRolePolicy { role_name, document } => {
                    for (p, info) in next.principals.iter_mut() {
                        if p.kind == crate::finding::PrincipalKind::Role && &p.name == role_name {
                            if let Some(info) = info {
                                info.trust_policy = Some(document.clone());
                            }
                        }
                    }
                }
                Action::SetAccessKeyStatus {
                    user_name,
                    access_key_id,
                    active,
                } => {
                    if let Some(Some(keys)) = next.access_keys.get_mut(user_name) {
                        for k in keys.iter_mut().filter(|k| &k.id == access_key_id) {
                            k.active = *active;
                        }
                    }
                }
                Action::TagResource { resource, tags } => {
                    if let Some(Some(current)) = next.tags.get_mut(&resource.arn) {
                        current.extend(tags.iter().map(|(k, v)| (k.clone(), v.clone())));
                    }
                }
                Action::UntagResource { resource, keys } => {
                    if let Some(Some(current)) = next.tags.get_mut(&resource.arn) {
                        current.retain(|k, _| !keys.contains(k));
                    }
                }
                Action::CreatePolicyVersion { .. }
                | Action::SetDefaultPolicyVersion { .. }
                | Action::DeletePolicyVersion { .. }
                | Action::RevertPolicyVersion { .. } => {}
            }
        }
        next
    }
}
