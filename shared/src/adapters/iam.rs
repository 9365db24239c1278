//! [`IamPort`] over `aws-sdk-iam`.

use super::{Applied, IamPort};
use crate::error::AwsError;
use crate::finding::{PrincipalKind, PrincipalRef};
use crate::plan::Action;
use crate::state::{Lookup, ManagedPolicy, Observed, PrincipalInfo};
use async_trait::async_trait;
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_iam::Client;

/// IAM through the AWS SDK. Cheap to clone; build once per process.
#[derive(Clone, Debug)]
pub struct AwsIam {
    client: Client,
}

impl AwsIam {
    pub fn new(client: Client) -> Self {
        AwsIam { client }
    }
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
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if not_found(&e) => Ok(None),
        Err(e) => Err(AwsError::from_sdk("iam", operation, resource, &e)),
    }
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
    async fn principal(&self, p: &PrincipalRef) -> Result<Option<PrincipalInfo>, AwsError> {
        let name = p.name.as_str();
        let arn = match p.kind {
            PrincipalKind::User => {
                absent_if_not_found(self.client.get_user().user_name(name).send().await, "GetUser", name)?
                    .and_then(|o| o.user.map(|u| u.arn))
            }
            PrincipalKind::Role => {
                absent_if_not_found(self.client.get_role().role_name(name).send().await, "GetRole", name)?
                    .and_then(|o| o.role.map(|r| r.arn))
            }
            PrincipalKind::Group => absent_if_not_found(
                self.client.get_group().group_name(name).max_items(1).send().await,
                "GetGroup",
                name,
            )?
            .and_then(|o| o.group.map(|g| g.arn)),
        };
        Ok(arn.map(|arn| PrincipalInfo { arn }))
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
        let version = absent_if_not_found(
            self.client
                .get_policy_version()
                .policy_arn(arn)
                .version_id(&version_id)
                .send()
                .await,
            "GetPolicyVersion",
            arn,
        )?
        .and_then(|o| o.policy_version);
        Ok(version.map(|v| ManagedPolicy {
            arn: arn.to_string(),
            name: policy.policy_name.unwrap_or_default(),
            default_version_id: version_id,
            document: v.document.unwrap_or_default(),
        }))
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
            Lookup::ManagedPolicy { arn } => {
                let v = self.managed_policy(arn).await?;
                observed.managed_policies.insert(arn.clone(), v);
            }
            Lookup::InlinePolicy { principal, name } => {
                let v = self.inline(principal, name).await?;
                observed.inline_policies.insert((principal.clone(), name.clone()), v);
            }
        }
        Ok(())
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
