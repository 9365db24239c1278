//! [`IamPort`] over `aws-sdk-iam`.

use super::{Applied, IamPort};
use crate::error::AwsError;
use crate::finding::{PrincipalKind, PrincipalRef};
use crate::plan::Action;
use crate::state::{
    AccessKey, Lookup, ManagedPolicy, Observed, PolicyVersion, PrincipalInfo, VersionDocument, MAX_POLICY_VERSIONS,
};
use async_trait::async_trait;
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_iam::Client;

/// IAM through the AWS SDK. Cheap to clone; build once per process.
#[derive(Clone, Debug)]
pub struct AwsIam {
    client: Client,
    /// AWS Config of the event's region, asked first to resolve a Config resource id.
    config: Option<aws_sdk_config::Client>,
}

impl AwsIam {
    pub fn new(client: Client) -> Self {
        AwsIam { client, config: None }
    }

    /// Resolves Config resource ids with AWS Config (`BatchGetResourceConfig`: one call) before
    /// scanning IAM's lists (one call per 100 users, roles or policies).
    pub fn with_config_service(mut self, config: aws_sdk_config::Client) -> Self {
        self.config = Some(config);
        self
    }
}

/// What AWS Config says about an IAM resource id: its name (a policy: its ARN), `Some(None)` when
/// Config recorded its deletion (IAM ids are never reused), `None` when Config cannot tell.
async fn from_config(
    client: &aws_sdk_config::Client,
    resource_type: &str,
    id: &str,
) -> Result<Option<Option<String>>, AwsError> {
    use aws_sdk_config::types::{ConfigurationItemStatus as S, ResourceKey, ResourceType};
    let key = ResourceKey::builder()
        .resource_type(ResourceType::from(resource_type))
        .resource_id(id)
        .build()
        .map_err(|e| AwsError {
            service: "config",
            operation: "BatchGetResourceConfig",
            resource: id.to_string(),
            code: "InvalidInput".into(),
            message: e.to_string(),
            retryable: false,
        })?;
    let out = client
        .batch_get_resource_config()
        .resource_keys(key)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("config", "BatchGetResourceConfig", id, &e))?;
    let Some(item) = out.base_configuration_items.unwrap_or_default().into_iter().find(|i| {
        i.resource_id.as_deref() == Some(id) && i.resource_type.as_ref().map(|t| t.as_str()) == Some(resource_type)
    }) else {
        return Ok(None);
    };
    match item.configuration_item_status {
        Some(S::ResourceDeleted | S::ResourceDeletedNotRecorded) => return Ok(Some(None)),
        Some(S::Ok | S::ResourceDiscovered) => {}
        _ => return Ok(None),
    }
    let answer = if resource_type == "AWS::IAM::Policy" {
        item.arn
            .filter(|a| a.starts_with("arn:") && a.contains(":iam::") && a.contains(":policy/"))
    } else {
        item.resource_name.filter(|n| !n.is_empty())
    };
    Ok(answer.map(Some))
}

/// `v12` → 12, for ordering versions created in the same second.
fn version_number(id: &str) -> u64 {
    id.trim_start_matches('v').parse().unwrap_or(0)
}

fn not_found<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    err.as_service_error().and_then(|e| e.code()) == Some("NoSuchEntity")
}

/// `Ok(None)` for NoSuchEntity, the error with context otherwise.
fn absent_if_not_found<T, E, R>(
    result: Result<T, SdkError<E, R>>,
    operation: &'static str,
    resource: &str,
) -> Result<Option<T>, AwsError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    super::absent_when(result, |code| code == "NoSuchEntity", "iam", operation, resource)
}

/// Maps a write's result: NoSuchEntity on a removal means the state is already as wanted.
fn write_result<T, E, R>(
    result: Result<T, SdkError<E, R>>,
    operation: &'static str,
    resource: &str,
    removal: bool,
) -> Result<Applied, AwsError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match result {
        Ok(_) => Ok(Applied::Done),
        Err(e) if removal && not_found(&e) => Ok(Applied::AlreadyInPlace),
        Err(e) => Err(AwsError::from_sdk("iam", operation, resource, &e)),
    }
}

impl AwsIam {
    async fn access_keys(&self, user_name: &str) -> Result<Option<Vec<AccessKey>>, AwsError> {
        let mut keys = Vec::new();
        let mut pages = self
            .client
            .list_access_keys()
            .user_name(user_name)
            .into_paginator()
            .items()
            .send();
        while let Some(k) = pages.next().await {
            match k {
                Ok(k) => keys.push(AccessKey {
                    id: k.access_key_id.unwrap_or_default(),
                    active: k.status == Some(aws_sdk_iam::types::StatusType::Active),
                    created: k
                        .create_date
                        .and_then(|d| chrono::DateTime::from_timestamp(d.secs(), 0)),
                }),
                Err(e) if not_found(&e) => return Ok(None),
                Err(e) => return Err(AwsError::from_sdk("iam", "ListAccessKeys", user_name, &e)),
            }
        }
        Ok(Some(keys))
    }

    async fn principal(&self, p: &PrincipalRef) -> Result<Option<PrincipalInfo>, AwsError> {
        let name = p.name.as_str();
        Ok(match p.kind {
            PrincipalKind::User => {
                absent_if_not_found(self.client.get_user().user_name(name).send().await, "GetUser", name)?
                    .and_then(|o| o.user)
                    .map(|u| PrincipalInfo {
                        arn: u.arn,
                        trust_policy: None,
                        tags: u
                            .tags
                            .unwrap_or_default()
                            .into_iter()
                            .map(|t| (t.key, t.value))
                            .collect(),
                    })
            }
            PrincipalKind::Role => {
                absent_if_not_found(self.client.get_role().role_name(name).send().await, "GetRole", name)?
                    .and_then(|o| o.role)
                    .map(|r| PrincipalInfo {
                        arn: r.arn,
                        trust_policy: r.assume_role_policy_document,
                        tags: r
                            .tags
                            .unwrap_or_default()
                            .into_iter()
                            .map(|t| (t.key, t.value))
                            .collect(),
                    })
            }
            PrincipalKind::Group => absent_if_not_found(
                self.client.get_group().group_name(name).max_items(1).send().await,
                "GetGroup",
                name,
            )?
            .and_then(|o| o.group)
            .map(|g| PrincipalInfo {
                arn: g.arn,
                trust_policy: None,
                tags: Default::default(),
            }),
        })
    }

    /// The groups a user is in, every page (`None`: no such user).
    async fn groups_for_user(&self, user_name: &str) -> Result<Option<Vec<String>>, AwsError> {
        let mut names = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page = absent_if_not_found(
                self.client
                    .list_groups_for_user()
                    .user_name(user_name)
                    .set_marker(marker.clone())
                    .send()
                    .await,
                "ListGroupsForUser",
                user_name,
            )?;
            let Some(page) = page else { return Ok(None) };
            names.extend(page.groups.into_iter().map(|g| g.group_name));
            match (page.is_truncated, page.marker) {
                (true, Some(m)) => marker = Some(m),
                _ => return Ok(Some(names)),
            }
        }
    }

    async fn inline_names(&self, p: &PrincipalRef) -> Result<Option<Vec<String>>, AwsError> {
        let name = p.name.as_str();
        let mut names = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page = match p.kind {
                PrincipalKind::User => absent_if_not_found(
                    self.client
                        .list_user_policies()
                        .user_name(name)
                        .set_marker(marker.clone())
                        .send()
                        .await,
                    "ListUserPolicies",
                    name,
                )?
                .map(|o| (o.policy_names, o.is_truncated, o.marker)),
                PrincipalKind::Role => absent_if_not_found(
                    self.client
                        .list_role_policies()
                        .role_name(name)
                        .set_marker(marker.clone())
                        .send()
                        .await,
                    "ListRolePolicies",
                    name,
                )?
                .map(|o| (o.policy_names, o.is_truncated, o.marker)),
                PrincipalKind::Group => absent_if_not_found(
                    self.client
                        .list_group_policies()
                        .group_name(name)
                        .set_marker(marker.clone())
                        .send()
                        .await,
                    "ListGroupPolicies",
                    name,
                )?
                .map(|o| (o.policy_names, o.is_truncated, o.marker)),
            };
            let Some((page, truncated, next)) = page else {
                return Ok(None);
            };
            names.extend(page);
            match (truncated, next) {
                (true, Some(m)) => marker = Some(m),
                _ => return Ok(Some(names)),
            }
        }
    }

    async fn attached(&self, p: &PrincipalRef) -> Result<Option<Vec<String>>, AwsError> {
        let name = p.name.as_str();
        let mut arns = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page = match p.kind {
                PrincipalKind::User => absent_if_not_found(
                    self.client
                        .list_attached_user_policies()
                        .user_name(name)
                        .set_marker(marker.clone())
                        .send()
                        .await,
                    "ListAttachedUserPolicies",
                    name,
                )?
                .map(|o| (o.attached_policies, o.is_truncated, o.marker)),
                PrincipalKind::Role => absent_if_not_found(
                    self.client
                        .list_attached_role_policies()
                        .role_name(name)
                        .set_marker(marker.clone())
                        .send()
                        .await,
                    "ListAttachedRolePolicies",
                    name,
                )?
                .map(|o| (o.attached_policies, o.is_truncated, o.marker)),
                PrincipalKind::Group => absent_if_not_found(
                    self.client
                        .list_attached_group_policies()
                        .group_name(name)
                        .set_marker(marker.clone())
                        .send()
                        .await,
                    "ListAttachedGroupPolicies",
                    name,
                )?
                .map(|o| (o.attached_policies, o.is_truncated, o.marker)),
            };
            let Some((policies, truncated, next)) = page else {
                return Ok(None);
            };
            arns.extend(policies.unwrap_or_default().into_iter().filter_map(|a| a.policy_arn));
            match (truncated, next) {
                (true, Some(m)) => marker = Some(m),
                _ => return Ok(Some(arns)),
            }
        }
    }

    async fn managed_policy(&self, arn: &str) -> Result<Option<ManagedPolicy>, AwsError> {
        let Some(policy) =
            absent_if_not_found(self.client.get_policy().policy_arn(arn).send().await, "GetPolicy", arn)?
                .and_then(|o| o.policy)
        else {
            return Ok(None);
        };
        let version_id = policy.default_version_id.unwrap_or_default();
        let Some(document) = self.version_document(arn, &version_id).await? else {
            return Ok(None);
        };
        Ok(Some(ManagedPolicy {
            arn: arn.to_string(),
            name: policy.policy_name.unwrap_or_default(),
            default_version_id: version_id,
            document,
            versions: vec![],
            oldest_non_default: None,
            tags: policy
                .tags
                .unwrap_or_default()
                .into_iter()
                .map(|t| (t.key, t.value))
                .collect(),
            versions_read: false,
        }))
    }

    /// A customer-managed policy's versions, which decide whether a new one needs room (at most
    /// 5): `ListPolicyVersions`, and at the limit the oldest non-default version's document (kept
    /// so that deleting it can be undone). `None` when the policy is gone.
    async fn policy_versions(
        &self,
        arn: &str,
    ) -> Result<Option<(Vec<PolicyVersion>, Option<(String, String)>)>, AwsError> {
        let Some(listed) = absent_if_not_found(
            self.client.list_policy_versions().policy_arn(arn).send().await,
            "ListPolicyVersions",
            arn,
        )?
        else {
            return Ok(None);
        };
        let mut versions: Vec<PolicyVersion> = listed
            .versions
            .unwrap_or_default()
            .into_iter()
            .map(|v| PolicyVersion {
                id: v.version_id.unwrap_or_default(),
                is_default: v.is_default_version,
                created: v
                    .create_date
                    .and_then(|d| d.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
                    .unwrap_or_default(),
            })
            .collect();
        versions.sort_by(|a, b| {
            a.created
                .cmp(&b.created)
                .then_with(|| version_number(&a.id).cmp(&version_number(&b.id)))
        });
        let mut oldest_non_default = None;
        if versions.len() >= MAX_POLICY_VERSIONS {
            if let Some(oldest) = versions.iter().find(|v| !v.is_default) {
                if let Some(doc) = self.version_document(arn, &oldest.id).await? {
                    oldest_non_default = Some((oldest.id.clone(), doc));
                }
            }
        }
        Ok(Some((versions, oldest_non_default)))
    }

    /// [`Action::RevertPolicyVersion`]: `version_id` made the default again, then the newest
    /// version deleted when its document is the one the fix created (compared as JSON, IAM
    /// returns it URL-encoded). Done when the old version is the default and the fix's version is
    /// gone; a newer version someone else created is left alone.
    async fn revert_policy_version(
        &self,
        arn: &str,
        version_id: &str,
        created_document: &str,
    ) -> Result<Applied, AwsError> {
        let Some((versions, _)) = self.policy_versions(arn).await? else {
            return Err(AwsError {
                service: "iam",
                operation: "ListPolicyVersions",
                resource: arn.to_string(),
                code: "NoSuchEntity".into(),
                message: "the policy no longer exists".into(),
                retryable: false,
            });
        };
        let mut applied = Applied::AlreadyInPlace;
        if !versions.iter().any(|v| v.is_default && v.id == version_id) {
            write_result(
                self.client
                    .set_default_policy_version()
                    .policy_arn(arn)
                    .version_id(version_id)
                    .send()
                    .await,
                "SetDefaultPolicyVersion",
                arn,
                false,
            )?;
            applied = Applied::Done;
        }
        let as_json = |text: &str| {
            let decoded = crate::policy::decode(text).ok()?;
            serde_json::from_str::<serde_json::Value>(&decoded).ok()
        };
        let Some(newest) = versions.last().filter(|v| v.id != version_id) else {
            return Ok(applied);
        };
        let Some(document) = self.version_document(arn, &newest.id).await? else {
            return Ok(applied);
        };
        if as_json(&document).is_some() && as_json(&document) == as_json(created_document) {
            write_result(
                self.client
                    .delete_policy_version()
                    .policy_arn(arn)
                    .version_id(&newest.id)
                    .send()
                    .await,
                "DeletePolicyVersion",
                arn,
                true,
            )?;
            applied = Applied::Done;
        }
        Ok(applied)
    }

    /// One version and its document (`GetPolicyVersion`); without an id, the newest non-default
    /// version (`ListPolicyVersions` first). `None` when the policy or the version is gone, or
    /// (without an id) when every version but the default is.
    async fn policy_version(&self, arn: &str, version_id: Option<&str>) -> Result<Option<VersionDocument>, AwsError> {
        let id = match version_id {
            Some(id) => id.to_string(),
            None => {
                let Some((versions, _)) = self.policy_versions(arn).await? else {
                    return Ok(None);
                };
                match versions.iter().rev().find(|v| !v.is_default) {
                    Some(v) => v.id.clone(),
                    None => return Ok(None),
                }
            }
        };
        Ok(absent_if_not_found(
            self.client
                .get_policy_version()
                .policy_arn(arn)
                .version_id(&id)
                .send()
                .await,
            "GetPolicyVersion",
            arn,
        )?
        .and_then(|o| o.policy_version)
        .map(|v| VersionDocument {
            id: v.version_id.unwrap_or(id),
            is_default: v.is_default_version,
            document: v.document.unwrap_or_default(),
        }))
    }

    async fn version_document(&self, arn: &str, version_id: &str) -> Result<Option<String>, AwsError> {
        Ok(absent_if_not_found(
            self.client
                .get_policy_version()
                .policy_arn(arn)
                .version_id(version_id)
                .send()
                .await,
            "GetPolicyVersion",
            arn,
        )?
        .and_then(|o| o.policy_version)
        .map(|v| v.document.unwrap_or_default()))
    }

    /// Every user, role and group the policy is attached to, all pages; `None` when the policy is
    /// gone.
    async fn policy_entities(&self, arn: &str) -> Result<Option<Vec<PrincipalRef>>, AwsError> {
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let Some(page) = absent_if_not_found(
                self.client
                    .list_entities_for_policy()
                    .policy_arn(arn)
                    .set_marker(marker.take())
                    .send()
                    .await,
                "ListEntitiesForPolicy",
                arn,
            )?
            else {
                return Ok(None);
            };
            let named = |kind: PrincipalKind, name: Option<String>| name.map(|name| PrincipalRef { kind, name });
            out.extend(
                page.policy_users()
                    .iter()
                    .filter_map(|u| named(PrincipalKind::User, u.user_name.clone())),
            );
            out.extend(
                page.policy_roles()
                    .iter()
                    .filter_map(|r| named(PrincipalKind::Role, r.role_name.clone())),
            );
            out.extend(
                page.policy_groups()
                    .iter()
                    .filter_map(|g| named(PrincipalKind::Group, g.group_name.clone())),
            );
            match (page.is_truncated, page.marker) {
                (true, Some(next)) => marker = Some(next),
                _ => return Ok(Some(out)),
            }
        }
    }

    async fn inline(&self, p: &PrincipalRef, policy: &str) -> Result<Option<String>, AwsError> {
        let name = p.name.as_str();
        let resource = format!("{p} policy {policy}");
        Ok(match p.kind {
            PrincipalKind::User => absent_if_not_found(
                self.client
                    .get_user_policy()
                    .user_name(name)
                    .policy_name(policy)
                    .send()
                    .await,
                "GetUserPolicy",
                &resource,
            )?
            .map(|o| o.policy_document),
            PrincipalKind::Role => absent_if_not_found(
                self.client
                    .get_role_policy()
                    .role_name(name)
                    .policy_name(policy)
                    .send()
                    .await,
                "GetRolePolicy",
                &resource,
            )?
            .map(|o| o.policy_document),
            PrincipalKind::Group => absent_if_not_found(
                self.client
                    .get_group_policy()
                    .group_name(name)
                    .policy_name(policy)
                    .send()
                    .await,
                "GetGroupPolicy",
                &resource,
            )?
            .map(|o| o.policy_document),
        })
    }
}

#[async_trait]
impl IamPort for AwsIam {
    async fn read(&self, lookup: &Lookup, observed: &mut Observed) -> Result<(), AwsError> {
        match lookup {
            Lookup::Principal(p) => {
                let v = self.principal(p).await?;
                observed.principals.insert(p.clone(), v);
            }
            Lookup::AttachedPolicies(p) => {
                let v = self.attached(p).await?;
                observed.attached.insert(p.clone(), v);
            }
            Lookup::InlinePolicyNames(p) => {
                let v = self.inline_names(p).await?;
                observed.inline_names.insert(p.clone(), v);
            }
            Lookup::ManagedPolicy { arn } => {
                let v = self.managed_policy(arn).await?;
                observed.managed_policies.insert(arn.clone(), v);
            }
            Lookup::PolicyVersions { arn } => {
                let read = self.policy_versions(arn).await?;
                let entry = observed.managed_policies.entry(arn.clone()).or_insert(None);
                match (read, entry.as_mut()) {
                    (Some((versions, oldest)), Some(policy)) => {
                        policy.versions = versions;
                        policy.oldest_non_default = oldest;
                        policy.versions_read = true;
                    }
                    // Deleted since it was read: nothing to add a version to.
                    (None, _) => *entry = None,
                    // Versions without the policy itself: nothing to plan against.
                    (Some(_), None) => {}
                }
            }
            Lookup::PolicyVersion { arn, version_id } => {
                let v = self.policy_version(arn, version_id.as_deref()).await?;
                observed.policy_versions.insert((arn.clone(), version_id.clone()), v);
            }
            Lookup::PolicyEntities { arn } => {
                let v = self.policy_entities(arn).await?;
                observed.policy_entities.insert(arn.clone(), v);
            }
            Lookup::InlinePolicy { principal, name } => {
                let v = self.inline(principal, name).await?;
                observed.inline_policies.insert((principal.clone(), name.clone()), v);
            }
            Lookup::GroupsForUser { user_name } => {
                let v = self.groups_for_user(user_name).await?;
                observed.groups_for_user.insert(user_name.clone(), v);
            }
            Lookup::AccessKeys { user_name } => {
                let v = self.access_keys(user_name).await?;
                observed.access_keys.insert(user_name.clone(), v);
            }
            Lookup::AccessKeyUse { access_key_id } => {
                let answer = self
                    .client
                    .get_access_key_last_used()
                    .access_key_id(access_key_id)
                    .send()
                    .await;
                // IAM answers NoSuchEntity for a key no user of the account owns (moto: NotFound).
                let owner = super::absent_when(
                    answer,
                    |code| matches!(code, "NoSuchEntity" | "NotFound" | "NotFoundException"),
                    "iam",
                    "GetAccessKeyLastUsed",
                    access_key_id,
                )?
                .and_then(|o| {
                    let used = o.access_key_last_used;
                    Some(crate::state::KeyUse {
                        owner: o.user_name?,
                        last_used: used
                            .as_ref()
                            .and_then(|u| u.last_used_date)
                            .and_then(|d| chrono::DateTime::from_timestamp(d.secs(), 0)),
                        service: used.map(|u| u.service_name).filter(|s| !s.is_empty() && s != "N/A"),
                    })
                });
                observed.key_uses.insert(access_key_id.clone(), owner);
            }
            Lookup::ResourceTags(r) => {
                return Err(AwsError {
                    service: "iam",
                    operation: "read",
                    resource: r.arn.clone(),
                    code: "WrongAdapter".into(),
                    message: "tags are read through the tagging adapter".into(),
                    retryable: false,
                })
            }
        }
        Ok(())
    }

    async fn principals(&self, mut marker: Option<String>, max_pages: usize) -> Result<super::PrincipalPage, AwsError> {
        use aws_sdk_iam::types::EntityType;
        let mut page = super::PrincipalPage::default();
        while page.pages < max_pages {
            let out = self
                .client
                .get_account_authorization_details()
                .filter(EntityType::User)
                .filter(EntityType::Role)
                .filter(EntityType::Group)
                .filter(EntityType::LocalManagedPolicy)
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("iam", "GetAccountAuthorizationDetails", "account", &e))?;
            page.pages += 1;
            let named = |kind, name: Option<String>| name.map(|name| PrincipalRef { kind, name });
            page.principals.extend(
                out.user_detail_list
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|u| named(PrincipalKind::User, u.user_name)),
            );
            page.principals.extend(
                out.role_detail_list
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|r| named(PrincipalKind::Role, r.role_name)),
            );
            page.principals.extend(
                out.group_detail_list
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|g| named(PrincipalKind::Group, g.group_name)),
            );
            for policy in out.policies.unwrap_or_default() {
                let Some(arn) = policy.arn else { continue };
                page.versions.extend(
                    policy
                        .policy_version_list
                        .unwrap_or_default()
                        .into_iter()
                        .filter(|v| !v.is_default_version)
                        .filter_map(|v| v.version_id)
                        .map(|v| (arn.clone(), v)),
                );
                page.policies.push(arn);
            }
            marker = out.marker.filter(|_| out.is_truncated);
            if marker.is_none() {
                break;
            }
        }
        page.marker = marker;
        Ok(page)
    }

    async fn find_by_id(&self, resource_type: &str, id: &str) -> Result<Option<String>, AwsError> {
        if let Some(config) = &self.config {
            // Config only saves a scan: when it cannot tell (not recorded, no recorder, no
            // permission), IAM's lists are scanned as before.
            match from_config(config, resource_type, id).await {
                Ok(Some(answer)) => return Ok(answer),
                Ok(None) => tracing::debug!(resource_type, id, "AWS Config does not know the id; scanning IAM"),
                Err(e) => {
                    tracing::info!(error = %e, resource_type, id, "AWS Config could not resolve the id; scanning IAM")
                }
            }
        }
        let c = &self.client;
        match resource_type {
            "AWS::IAM::User" => {
                let mut pages = c.list_users().into_paginator().items().send();
                while let Some(u) = pages.next().await {
                    let u = u.map_err(|e| AwsError::from_sdk("iam", "ListUsers", id, &e))?;
                    if u.user_id == id {
                        return Ok(Some(u.user_name));
                    }
                }
            }
            "AWS::IAM::Role" => {
                let mut pages = c.list_roles().into_paginator().items().send();
                while let Some(r) = pages.next().await {
                    let r = r.map_err(|e| AwsError::from_sdk("iam", "ListRoles", id, &e))?;
                    if r.role_id == id {
                        return Ok(Some(r.role_name));
                    }
                }
            }
            "AWS::IAM::Group" => {
                let mut pages = c.list_groups().into_paginator().items().send();
                while let Some(g) = pages.next().await {
                    let g = g.map_err(|e| AwsError::from_sdk("iam", "ListGroups", id, &e))?;
                    if g.group_id == id {
                        return Ok(Some(g.group_name));
                    }
                }
            }
            "AWS::IAM::Policy" => {
                let mut pages = c
                    .list_policies()
                    .scope(aws_sdk_iam::types::PolicyScopeType::Local)
                    .into_paginator()
                    .items()
                    .send();
                while let Some(p) = pages.next().await {
                    let p = p.map_err(|e| AwsError::from_sdk("iam", "ListPolicies", id, &e))?;
                    if p.policy_id.as_deref() == Some(id) {
                        return Ok(p.arn);
                    }
                }
            }
            _ => {}
        }
        Ok(None)
    }

    async fn apply(&self, action: &Action) -> Result<Applied, AwsError> {
        let c = &self.client;
        let resource = action.describe();
        let r = resource.as_str();
        use PrincipalKind::*;
        match action {
            Action::DetachPolicy {
                principal: p,
                policy_arn,
            } => match p.kind {
                User => write_result(
                    c.detach_user_policy()
                        .user_name(&p.name)
                        .policy_arn(policy_arn)
                        .send()
                        .await,
                    "DetachUserPolicy",
                    r,
                    true,
                ),
                Role => write_result(
                    c.detach_role_policy()
                        .role_name(&p.name)
                        .policy_arn(policy_arn)
                        .send()
                        .await,
                    "DetachRolePolicy",
                    r,
                    true,
                ),
                Group => write_result(
                    c.detach_group_policy()
                        .group_name(&p.name)
                        .policy_arn(policy_arn)
                        .send()
                        .await,
                    "DetachGroupPolicy",
                    r,
                    true,
                ),
            },
            Action::AttachPolicy {
                principal: p,
                policy_arn,
            } => match p.kind {
                User => write_result(
                    c.attach_user_policy()
                        .user_name(&p.name)
                        .policy_arn(policy_arn)
                        .send()
                        .await,
                    "AttachUserPolicy",
                    r,
                    false,
                ),
                Role => write_result(
                    c.attach_role_policy()
                        .role_name(&p.name)
                        .policy_arn(policy_arn)
                        .send()
                        .await,
                    "AttachRolePolicy",
                    r,
                    false,
                ),
                Group => write_result(
                    c.attach_group_policy()
                        .group_name(&p.name)
                        .policy_arn(policy_arn)
                        .send()
                        .await,
                    "AttachGroupPolicy",
                    r,
                    false,
                ),
            },
            Action::PutInlinePolicy {
                principal: p,
                policy_name,
                document,
            } => match p.kind {
                User => write_result(
                    c.put_user_policy()
                        .user_name(&p.name)
                        .policy_name(policy_name)
                        .policy_document(document)
                        .send()
                        .await,
                    "PutUserPolicy",
                    r,
                    false,
                ),
                Role => write_result(
                    c.put_role_policy()
                        .role_name(&p.name)
                        .policy_name(policy_name)
                        .policy_document(document)
                        .send()
                        .await,
                    "PutRolePolicy",
                    r,
                    false,
                ),
                Group => write_result(
                    c.put_group_policy()
                        .group_name(&p.name)
                        .policy_name(policy_name)
                        .policy_document(document)
                        .send()
                        .await,
                    "PutGroupPolicy",
                    r,
                    false,
                ),
            },
            Action::CreatePolicyVersion {
                policy_arn,
                document,
                set_as_default,
            } => write_result(
                c.create_policy_version()
                    .policy_arn(policy_arn)
                    .policy_document(document)
                    .set_as_default(*set_as_default)
                    .send()
                    .await,
                "CreatePolicyVersion",
                r,
                false,
            ),
            Action::SetDefaultPolicyVersion { policy_arn, version_id } => write_result(
                c.set_default_policy_version()
                    .policy_arn(policy_arn)
                    .version_id(version_id)
                    .send()
                    .await,
                "SetDefaultPolicyVersion",
                r,
                false,
            ),
            Action::RevertPolicyVersion {
                policy_arn,
                version_id,
                created_document,
            } => {
                self.revert_policy_version(policy_arn, version_id, created_document)
                    .await
            }
            Action::DeletePolicyVersion { policy_arn, version_id } => write_result(
                c.delete_policy_version()
                    .policy_arn(policy_arn)
                    .version_id(version_id)
                    .send()
                    .await,
                "DeletePolicyVersion",
                r,
                true,
            ),
            Action::SetAccessKeyStatus {
                user_name,
                access_key_id,
                active,
            } => write_result(
                c.update_access_key()
                    .user_name(user_name)
                    .access_key_id(access_key_id)
                    .status(if *active {
                        aws_sdk_iam::types::StatusType::Active
                    } else {
                        aws_sdk_iam::types::StatusType::Inactive
                    })
                    .send()
                    .await,
                "UpdateAccessKey",
                r,
                false,
            ),
            Action::TagResource { .. } | Action::UntagResource { .. } => Err(AwsError {
                service: "iam",
                operation: "apply",
                resource: resource.clone(),
                code: "WrongAdapter".into(),
                message: "tags are written through the tagging adapter".into(),
                retryable: false,
            }),
            Action::UpdateAssumeRolePolicy { role_name, document } => write_result(
                c.update_assume_role_policy()
                    .role_name(role_name)
                    .policy_document(document)
                    .send()
                    .await,
                "UpdateAssumeRolePolicy",
                r,
                false,
            ),
            Action::DeleteInlinePolicy {
                principal: p,
                policy_name,
            } => match p.kind {
                User => write_result(
                    c.delete_user_policy()
                        .user_name(&p.name)
                        .policy_name(policy_name)
                        .send()
                        .await,
                    "DeleteUserPolicy",
                    r,
                    true,
                ),
                Role => write_result(
                    c.delete_role_policy()
                        .role_name(&p.name)
                        .policy_name(policy_name)
                        .send()
                        .await,
                    "DeleteRolePolicy",
                    r,
                    true,
                ),
                Group => write_result(
                    c.delete_group_policy()
                        .group_name(&p.name)
                        .policy_name(policy_name)
                        .send()
                        .await,
                    "DeleteGroupPolicy",
                    r,
                    true,
                ),
            },
        }
    }
}
