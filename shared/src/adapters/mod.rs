//! The AWS side: two small ports and their SDK implementations. Nothing outside this folder
//! touches an AWS SDK type, so the rest of the library is plain data and functions.

pub mod accounts;
pub mod iam;
pub mod records;
pub mod securityhub;
pub mod tags;

use crate::asff::AsffFinding;
use crate::error::AwsError;
use crate::plan::Action;
use crate::resource::{AwsResource, Tags};
use crate::state::{Lookup, Observed};
use async_trait::async_trait;
use serde::Serialize;
use std::sync::Arc;

/// `Ok(None)` when the SDK call failed with an error code `gone` says means "no such resource",
/// the error with its context otherwise. Shared by every adapter's reads.
pub(crate) fn absent_when<T, E, R>(
    result: Result<T, aws_sdk_iam::error::SdkError<E, R>>,
    gone: impl Fn(&str) -> bool,
    service: &'static str,
    operation: &'static str,
    resource: &str,
) -> Result<Option<T>, AwsError>
where
    E: aws_sdk_iam::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.as_service_error().and_then(|s| s.code()).is_some_and(&gone) => Ok(None),
        Err(e) => Err(AwsError::from_sdk(service, operation, resource, &e)),
    }
}

/// An S3 client with path-style addressing (bucket names with dots, and emulators on a plain
/// host), for the tag reads and the record store.
pub(crate) fn path_style_s3(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(sdk).force_path_style(true).build())
}

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Applied {
    /// The call changed IAM.
    Done,
    /// IAM already had the desired state (e.g. the policy was detached meanwhile).
    AlreadyInPlace,
}

/// Reads and writes IAM.
#[async_trait]
pub trait IamPort: Send + Sync {
    /// Performs one read and records its answer in `observed`.
    async fn read(&self, lookup: &Lookup, observed: &mut Observed) -> Result<(), AwsError>;
    /// Performs one write.
    async fn apply(&self, action: &Action) -> Result<Applied, AwsError>;
    /// The name (for policies, the ARN) of the IAM resource of AWS Config type `resource_type`
    /// (`AWS::IAM::User`, ...) with unique id `id`; `None` when there is none.
    async fn find_by_id(&self, resource_type: &str, id: &str) -> Result<Option<String>, AwsError>;
    /// The account's users, roles and groups (`GetAccountAuthorizationDetails`), from `marker`,
    /// at most `max_pages` pages; the marker to resume from when more remain.
    async fn principals(&self, marker: Option<String>, max_pages: usize) -> Result<PrincipalPage, AwsError> {
        let _ = (marker, max_pages);
        Err(AwsError {
            service: "iam",
            operation: "GetAccountAuthorizationDetails",
            resource: "account".into(),
            code: "Unsupported".into(),
            message: "this IAM port cannot list an account's principals".into(),
            retryable: false,
        })
    }
}

/// One run of pages of an account's principals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PrincipalPage {
    pub principals: Vec<crate::finding::PrincipalRef>,
    /// The account's customer-managed policies (ARNs), attached or not.
    pub policies: Vec<String>,
    /// Their versions that are not the default (policy ARN, version id): dormant grants, in force
    /// with one `SetDefaultPolicyVersion`.
    pub versions: Vec<(String, String)>,
    /// Where the next run starts; `None` when every page was read.
    pub marker: Option<String>,
    pub pages: usize,
}

/// Reads and writes resource tags.
#[async_trait]
pub trait TagPort: Send + Sync {
    /// The resource's tags; `None` when the resource does not exist.
    async fn read_tags(&self, resource: &AwsResource) -> Result<Option<Tags>, AwsError>;
    /// Adds tags (the caller only passes keys the resource lacks).
    async fn tag(&self, resource: &AwsResource, tags: &Tags) -> Result<Applied, AwsError>;
    async fn untag(&self, resource: &AwsResource, keys: &[String]) -> Result<Applied, AwsError>;
    /// The identifier of the DB instance whose resource id (`db-...`) is `resource_id`, and its
    /// tags from the same answer (so they are not read again).
    async fn find_db_instance(&self, resource_id: &str) -> Result<Option<(String, Tags)>, AwsError>;
    /// One page of the resources of `kind` in the port's account and region, by the name its
    /// service's calls take (the audit sweep). Each service's own list call: the Resource Groups
    /// Tagging API lists only resources that have, or once had, tags, so it misses the very
    /// resources a tag sweep is for. `token`: where the previous page stopped.
    async fn list(&self, kind: crate::resource::ResourceKind, token: Option<String>) -> Result<ResourcePage, AwsError> {
        let _ = token;
        Err(AwsError {
            service: "tag",
            operation: "List",
            resource: format!("{kind:?}"),
            code: "NotSupported".into(),
            message: "this tag port cannot list resources".into(),
            retryable: false,
        })
    }
}

/// A page of [`TagPort::list`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourcePage {
    pub names: Vec<String>,
    /// Where the next page starts; `None` on the last one.
    pub next: Option<String>,
}

/// The record store (`UNDO_RECORD_BUCKET`): what each applied fix wrote and its inverse
/// (`undo/`), and where the scheduled sweep stands (`audit/`).
#[async_trait]
pub trait RecordPort: Send + Sync {
    /// The object at `key`; `None` when there is none.
    async fn read(&self, key: &str) -> Result<Option<Vec<u8>>, AwsError>;
    /// Writes (or replaces) the object at `key`.
    async fn write(&self, key: &str, body: Vec<u8>) -> Result<(), AwsError>;
    /// The keys of every object under `prefix` (all pages).
    async fn list(&self, prefix: &str) -> Result<Vec<String>, AwsError>;

    /// Writes (or replaces) the undo record of its finding.
    async fn put(&self, record: &crate::undo::UndoRecord) -> Result<(), AwsError> {
        let key = crate::undo::object_key(&record.finding_id);
        self.write(&key, serde_json::to_vec(record).unwrap_or_default()).await
    }

    /// The undo record of `finding_id`; `None` when there is none.
    async fn get(&self, finding_id: &str) -> Result<Option<crate::undo::UndoRecord>, AwsError> {
        let key = crate::undo::object_key(finding_id);
        let Some(bytes) = self.read(&key).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|e| AwsError {
            service: "s3",
            operation: "GetObject",
            resource: key,
            code: "InvalidRecord".into(),
            message: format!("the undo record is not one this version reads: {e}"),
            retryable: false,
        })
    }
}

/// Reads the kill switch parameter.
#[async_trait]
pub trait SwitchPort: Send + Sync {
    /// The parameter's value; `None` when it does not exist.
    async fn parameter(&self, name: &str) -> Result<Option<String>, AwsError>;
}

/// [`SwitchPort`] over `aws-sdk-ssm` (`GetParameter`). The client is built the first time the
/// switch is read (only functions with `KILL_SWITCH_PARAMETER` set, and only once there is
/// something to fix), then kept for the life of the execution environment.
pub struct AwsSsm {
    sdk: aws_config::SdkConfig,
    client: std::sync::OnceLock<aws_sdk_ssm::Client>,
}

impl AwsSsm {
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        AwsSsm {
            sdk: sdk.clone(),
            client: std::sync::OnceLock::new(),
        }
    }
}

#[async_trait]
impl SwitchPort for AwsSsm {
    async fn parameter(&self, name: &str) -> Result<Option<String>, AwsError> {
        use aws_sdk_iam::error::ProvideErrorMetadata;
        match self
            .client
            .get_or_init(|| aws_sdk_ssm::Client::new(&self.sdk))
            .get_parameter()
            .name(name)
            .send()
            .await
        {
            Ok(out) => Ok(Some(out.parameter.and_then(|p| p.value).unwrap_or_default())),
            Err(e) if e.as_service_error().and_then(|s| s.code()) == Some("ParameterNotFound") => Ok(None),
            Err(e) => Err(AwsError::from_sdk("ssm", "GetParameter", name, &e)),
        }
    }
}

/// Every SSM parameter under `path` (recursive, decrypted, every page) as (name, value): the
/// settings kept in Parameter Store (`SETTINGS_PARAMETER_PATH`, see [`crate::config`]). Read once
/// at start-up; an error stops the function from starting.
pub async fn read_settings(sdk: &aws_config::SdkConfig, path: &str) -> Result<Vec<(String, String)>, AwsError> {
    let client = aws_sdk_ssm::Client::new(sdk);
    let mut out = Vec::new();
    let mut pages = client
        .get_parameters_by_path()
        .path(path)
        .recursive(true)
        .with_decryption(true)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("ssm", "GetParametersByPath", path, &e))?;
        for p in page.parameters.unwrap_or_default() {
            if let Some(name) = p.name {
                out.push((name, p.value.unwrap_or_default()));
            }
        }
    }
    Ok(out)
}

/// Security Hub workflow status set on a finding (`BatchUpdateFindings`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Workflow {
    Notified,
    Resolved,
    /// After a person's "Undo": the finding is not fixed again until someone sets it back to NEW.
    Suppressed,
}

impl Workflow {
    pub fn as_str(self) -> &'static str {
        match self {
            Workflow::Notified => "NOTIFIED",
            Workflow::Resolved => "RESOLVED",
            Workflow::Suppressed => "SUPPRESSED",
        }
    }
}

/// A note and workflow status on a finding, via `BatchUpdateFindings`: GuardDuty's, or this
/// product's own after a Security Hub custom action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceFindingNote {
    /// The finding's Security Hub Id (for GuardDuty, its finding ARN).
    pub id: String,
    pub product_arn: String,
    pub workflow: Workflow,
    /// At most 512 characters (Security Hub's limit).
    pub text: String,
    pub updated_by: String,
}

/// Posts findings to Security Hub.
#[async_trait]
pub trait FindingsPort: Send + Sync {
    async fn import(&self, findings: &[AsffFinding]) -> Result<(), AwsError>;
    /// Adds a note and a workflow status to a finding (GuardDuty's, or this product's own after a
    /// custom action).
    async fn annotate(&self, note: &SourceFindingNote) -> Result<(), AwsError>;
    /// Of this product's findings `ids` (in this port's region), those a person suppressed
    /// (workflow status `SUPPRESSED`): they are not acted on again.
    async fn suppressed(
        &self,
        product_arn: &str,
        ids: &[String],
    ) -> Result<std::collections::BTreeSet<String>, AwsError>;
    /// This product's active findings about `account` recorded FAILED in this port's region.
    async fn failed(&self, product_arn: &str, account: &str) -> Result<Vec<RecordedFinding>, AwsError> {
        let _ = (product_arn, account);
        Err(not_supported("GetFindings"))
    }
    /// Records this product's findings `ids` PASSED (their risk is gone), saying `why`; returns
    /// how many were updated.
    async fn mark_passed(&self, product_arn: &str, ids: &[String], why: &str) -> Result<usize, AwsError> {
        let _ = (product_arn, ids, why);
        Err(not_supported("BatchImportFindings"))
    }
}

fn not_supported(operation: &'static str) -> AwsError {
    AwsError {
        service: "securityhub",
        operation,
        resource: String::new(),
        code: "NotSupported".into(),
        message: "this findings port cannot do that".into(),
        retryable: false,
    }
}

/// A finding of this product as Security Hub holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedFinding {
    pub id: String,
    /// The rule that posted it.
    pub generator_id: String,
    /// The verdict key it was posted for (`ProductFields` `compliance-responder/ResourceKey`).
    pub resource_key: Option<String>,
    pub region: String,
    /// The region of the resource it is about (its first ASFF resource's).
    pub resource_region: Option<String>,
}

/// The three ports one responder uses; routes each read and write to the right one.
#[derive(Clone)]
pub struct Ports {
    pub iam: Arc<dyn IamPort>,
    pub tags: Arc<dyn TagPort>,
    pub findings: Arc<dyn FindingsPort>,
}

impl Ports {
    /// Performs one read and records its answer in `observed`.
    pub async fn read(&self, lookup: &Lookup, observed: &mut Observed) -> Result<(), AwsError> {
        match lookup {
            Lookup::ResourceTags(resource) => {
                let tags = self.tags.read_tags(resource).await?;
                observed.tags.insert(resource.arn.clone(), tags);
                Ok(())
            }
            _ => self.iam.read(lookup, observed).await,
        }
    }

    /// Performs one write.
    pub async fn apply(&self, action: &Action) -> Result<Applied, AwsError> {
        match action {
            Action::TagResource { resource, tags } => self.tags.tag(resource, tags).await,
            Action::UntagResource { resource, keys } => self.tags.untag(resource, keys).await,
            _ => self.iam.apply(action).await,
        }
    }
}
