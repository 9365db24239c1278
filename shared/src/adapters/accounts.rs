//! Accounts × regions: an event is read, fixed and recorded in the account and region it is
//! about. The ports of each (account, region) are built once and kept for the life of the
//! execution environment.
//!
//! - The function's own account and region use the function's own clients.
//! - Another region of the same account: the same credentials, clients of that region (a
//!   `eu-west-1` bucket is "not found" from `us-east-1`).
//! - Another account of the organization: credentials of the member role of the fix's
//!   [`Capability`] assumed with STS there (`MEMBER_ROLE_NAME` for IAM rewrites,
//!   `MEMBER_TAGGING_ROLE_NAME`, `MEMBER_CONTAINMENT_ROLE_NAME`; optional
//!   `MEMBER_ROLE_EXTERNAL_ID`), one provider per account and capability (its credentials refresh
//!   themselves) shared by that account's clients of every region. A capability the function has
//!   no role for is refused before any call: a function never borrows another's role. The
//!   session name carries the id of the event that opened it (`cr-<event id>`), so CloudTrail in
//!   the member account links the writes to the event.
//!
//! Findings about a member account are imported in that account through the same role (Security
//! Hub takes a default-product finding only from its own account and region); the central view
//! comes from Security Hub's delegated administrator and cross-region aggregation.

use super::iam::AwsIam;
use super::securityhub::AwsSecurityHub;
use super::tags::AwsTags;
use super::{FindingsPort, Ports};
use crate::config::MemberRoles;
use crate::error::AwsError;
use crate::finding::Capability;
use aws_sdk_sts::config::SharedCredentialsProvider;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A member account's credentials and IAM client (IAM is global: one client for its regions).
type MemberAccess = (SharedCredentialsProvider, aws_sdk_iam::Client);

/// Account, region, and the capability whose member role the ports act as (`None`: the
/// function's own account and role).
type PortsKey = (String, String, Option<Capability>);

/// Builds and keeps the ports of every (account, region) events come from.
pub struct Directory {
    base: aws_config::SdkConfig,
    home_region: Option<String>,
    member_roles: MemberRoles,
    external_id: Option<String>,
    home_account: Mutex<Option<String>>,
    /// Per member account and capability: the assumed-role credentials and IAM client.
    accounts: Mutex<HashMap<(String, Capability), MemberAccess>>,
    /// Per (account, region, capability): the ports of that region (the capability is `None`
    /// for the function's own account: its own role).
    regional: Mutex<HashMap<PortsKey, Ports>>,
}

/// `cr-` and the event id, limited to what STS accepts (64 of `\w+=,.@-`).
pub fn session_name(event_id: &str) -> String {
    let id: String = event_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(*c))
        .collect();
    format!("cr-{id}").chars().take(64).collect()
}

/// The Security Hub port of one region.
fn hub(sdk: &aws_config::SdkConfig) -> Arc<dyn FindingsPort> {
    Arc::new(AwsSecurityHub::new(aws_sdk_securityhub::Client::new(sdk)))
}

impl Directory {
    /// `base` is the function's own SDK configuration (its region is the home region);
    /// `member_roles` the roles (and ExternalId) assumed in other accounts, if any.
    pub fn new(base: aws_config::SdkConfig, member_roles: MemberRoles, external_id: Option<String>) -> Self {
        Directory {
            home_region: base.region().map(|r| r.to_string()),
            base,
            member_roles,
            external_id,
            home_account: Mutex::new(None),
            accounts: Mutex::new(HashMap::new()),
            regional: Mutex::new(HashMap::new()),
        }
    }

    /// The account the function runs in (`GetCallerIdentity`, once; asked only when member
    /// accounts are configured).
    async fn home_account(&self) -> Result<String, AwsError> {
        if let Some(a) = self.home_account.lock().ok().and_then(|h| h.clone()) {
            return Ok(a);
        }
        let sts = aws_sdk_sts::Client::new(&self.base);
        let out = sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("sts", "GetCallerIdentity", "caller", &e))?;
        let account = out.account.unwrap_or_default();
        if let Ok(mut h) = self.home_account.lock() {
            *h = Some(account.clone());
        }
        Ok(account)
    }

    /// The function's own account, partition and region (`GetCallerIdentity`; the scheduled
    /// sweep asks once per run).
    pub async fn identity(&self) -> Result<(String, String, String), AwsError> {
        let out = aws_sdk_sts::Client::new(&self.base)
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("sts", "GetCallerIdentity", "caller", &e))?;
        let account = out.account.unwrap_or_default();
        let partition = out
            .arn
            .as_deref()
            .and_then(|a| a.split(':').nth(1))
            .unwrap_or("aws")
            .to_string();
        if let Ok(mut h) = self.home_account.lock() {
            *h = Some(account.clone());
        }
        let region = self.home_region.clone().unwrap_or_else(|| "us-east-1".into());
        Ok((account, partition, region))
    }

    /// Whether `account` is another account than the function's (always false without member
    /// roles: a single-account deployment acts with its own credentials, and the cross-account
    /// guard withholds fixes of resources elsewhere).
    async fn is_member(&self, account: &str) -> Result<bool, AwsError> {
        Ok(self.member_roles.any() && self.home_account().await? != account)
    }

    /// The ports for `account` in `region`, for a fix of `capability`: `None` for the function's
    /// own account and region (use the function's own ports).
    pub async fn ports(
        &self,
        account: &str,
        region: &str,
        partition: &str,
        event_id: &str,
        capability: Capability,
    ) -> Result<Option<Ports>, AwsError> {
        // The recorded inverses are applied through the undo role wherever it is set, the
        // function's own account included: no function role may re-open a risk itself.
        let member =
            (capability == Capability::Undo && self.member_roles.undo.is_some()) || self.is_member(account).await?;
        if !member && self.home_region.as_deref() == Some(region) {
            return Ok(None);
        }
        // Without member accounts every account is the function's own: one key per region.
        let key = if member {
            (account.to_string(), region.to_string(), Some(capability))
        } else {
            (String::new(), region.to_string(), None)
        };
        if let Some(p) = self.regional.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return Ok(Some(p));
        }
        let region_config = aws_config::Region::new(region.to_string());
        let ports = if member {
            let (credentials, iam) = self.member(account, partition, event_id, capability).await?;
            let sdk = self
                .base
                .to_builder()
                .credentials_provider(credentials)
                .region(region_config)
                .build();
            Ports {
                // IAM's client is the account's; AWS Config (to resolve ids) is the region's.
                iam: Arc::new(AwsIam::new(iam).with_config_service(aws_sdk_config::Client::new(&sdk))),
                tags: Arc::new(AwsTags::from_sdk_config(&sdk)),
                findings: hub(&sdk),
            }
        } else {
            let sdk = self.base.to_builder().region(region_config).build();
            Ports {
                iam: Arc::new(
                    AwsIam::new(aws_sdk_iam::Client::new(&sdk)).with_config_service(aws_sdk_config::Client::new(&sdk)),
                ),
                tags: Arc::new(AwsTags::from_sdk_config(&sdk)),
                findings: hub(&sdk),
            }
        };
        tracing::info!(%account, %region, member, ?capability, "clients built");
        if let Ok(mut c) = self.regional.lock() {
            c.insert(key, ports.clone());
        }
        Ok(Some(ports))
    }

    /// The assumed-role credentials and IAM client of a member account for `capability`, built
    /// once. A capability this function has no role for is refused (no call is made).
    async fn member(
        &self,
        account: &str,
        partition: &str,
        event_id: &str,
        capability: Capability,
    ) -> Result<MemberAccess, AwsError> {
        let key = (account.to_string(), capability);
        if let Some(found) = self.accounts.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return Ok(found);
        }
        let Some(role_name) = self.member_roles.of(capability) else {
            return Err(AwsError {
                service: "sts",
                operation: "AssumeRole",
                resource: account.to_string(),
                code: "NoMemberRole".into(),
                message: format!(
                    "this function has no member role for {} ({} is unset): it does not act in other accounts",
                    serde_json::to_value(capability)
                        .unwrap_or_default()
                        .as_str()
                        .unwrap_or("this capability"),
                    capability.setting()
                ),
                retryable: false,
            });
        };
        let role_arn = format!("arn:{partition}:iam::{account}:role/{role_name}");
        let mut provider = aws_config::sts::AssumeRoleProvider::builder(&role_arn)
            .session_name(session_name(event_id))
            .configure(&self.base);
        if let Some(id) = &self.external_id {
            provider = provider.external_id(id);
        }
        let credentials = SharedCredentialsProvider::new(provider.build().await);
        let sdk = self.base.to_builder().credentials_provider(credentials.clone()).build();
        let iam = aws_sdk_iam::Client::new(&sdk);
        tracing::info!(%account, %role_arn, ?capability, "member account credentials");
        if let Ok(mut c) = self.accounts.lock() {
            c.insert(key, (credentials.clone(), iam.clone()));
        }
        Ok((credentials, iam))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn session_names_are_valid() {
        assert_eq!(super::session_name("6f1b2c3d-4e5f"), "cr-6f1b2c3d-4e5f");
        assert_eq!(super::session_name(&"x/y;".repeat(40)).len(), 64);
        assert!(!super::session_name("a/b").contains('/'));
    }
}
