//! The AWS side: two small ports and their SDK implementations. Nothing outside this folder
//! touches an AWS SDK type, so the rest of the library is plain data and functions.

pub mod iam;
pub mod securityhub;

use crate::asff::AsffFinding;
use crate::error::AwsError;
use crate::plan::Action;
use crate::state::{Lookup, Observed};
use async_trait::async_trait;
use serde::Serialize;

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
}

/// Posts findings to Security Hub.
#[async_trait]
pub trait FindingsPort: Send + Sync {
    async fn import(&self, findings: &[AsffFinding]) -> Result<(), AwsError>;
}
