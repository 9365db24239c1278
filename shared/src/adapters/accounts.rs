//! Member accounts: events from another account of the organization are remediated there through
//! a role assumed with STS (`MEMBER_ROLE_NAME`, optional `MEMBER_ROLE_EXTERNAL_ID`). The IAM and
//! tagging clients of each account are built once and kept for the life of the execution
//! environment; their credentials refresh themselves. The session name carries the id of the
//! event that opened it (`cr-<event id>`), so CloudTrail in the member account links the writes to
//! the event. Findings about a member account are imported in that account through the same role
//! (Security Hub takes a default-product finding only from its own account); the central view
//! comes from Security Hub's delegated administrator.

use super::iam::AwsIam;
use super::securityhub::AwsSecurityHub;
use super::tags::AwsTags;
use super::Ports;
use crate::error::AwsError;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub struct MemberAccounts {
    base: aws_config::SdkConfig,
    role_name: String,
    external_id: Option<String>,
    home: Mutex<Option<String>>,
    cache: Mutex<HashMap<String, Ports>>,
}

/// `cr-` and the event id, limited to what STS accepts (64 of `\w+=,.@-`).
pub fn session_name(event_id: &str) -> String {
    let id: String = event_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(*c))
        .collect();
    format!("cr-{id}").chars().take(64).collect()
}

impl MemberAccounts {
    pub fn new(base: aws_config::SdkConfig, role_name: String, external_id: Option<String>) -> Self {
        MemberAccounts {
            base,
            role_name,
            external_id,
            home: Mutex::new(None),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The account the function runs in (`GetCallerIdentity`, once).
    async fn home_account(&self) -> Result<String, AwsError> {
        if let Some(a) = self.home.lock().ok().and_then(|h| h.clone()) {
            return Ok(a);
        }
        let sts = aws_sdk_sts::Client::new(&self.base);
        let out = sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("sts", "GetCallerIdentity", "caller", &e))?;
        let account = out.account.unwrap_or_default();
        if let Ok(mut h) = self.home.lock() {
            *h = Some(account.clone());
        }
        Ok(account)
    }

    /// The ports for `account`: `None` for the home account (use the function's own). Findings
    /// about a member account are imported *in* that account, through the assumed role: with the
    /// default product ARN, Security Hub accepts a finding only from the account it is about
    /// (`BatchImportFindings`: the caller must be the finding's `AwsAccountId`).
    pub async fn ports(&self, account: &str, partition: &str, event_id: &str) -> Result<Option<Ports>, AwsError> {
        if self.home_account().await? == account {
            return Ok(None);
        }
        if let Some(p) = self.cache.lock().ok().and_then(|c| c.get(account).cloned()) {
            return Ok(Some(p));
        }
        let role_arn = format!("arn:{partition}:iam::{account}:role/{}", self.role_name);
        let mut provider = aws_config::sts::AssumeRoleProvider::builder(&role_arn)
            .session_name(session_name(event_id))
            .configure(&self.base);
        if let Some(id) = &self.external_id {
            provider = provider.external_id(id);
        }
        let provider = provider.build().await;
        let sdk = self
            .base
            .to_builder()
            .credentials_provider(aws_sdk_sts::config::SharedCredentialsProvider::new(provider))
            .build();
        let ports = Ports {
            iam: Arc::new(AwsIam::new(aws_sdk_iam::Client::new(&sdk))),
            tags: Arc::new(AwsTags::from_sdk_config(&sdk)),
            findings: Arc::new(AwsSecurityHub::new(aws_sdk_securityhub::Client::new(&sdk))),
        };
        tracing::info!(%account, %role_arn, "member account clients built");
        if let Ok(mut c) = self.cache.lock() {
            c.insert(account.to_string(), ports.clone());
        }
        Ok(Some(ports))
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
