//! Live state the rules need, as plain data. Rules say what they need ([`Lookup`]); the pipeline
//! reads it through the IAM adapter just before deciding, so a stale event never drives a write.

use crate::finding::PrincipalRef;
use serde::Serialize;
use std::collections::BTreeMap;

/// One read a rule needs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "lookup", rename_all = "kebab-case")]
pub enum Lookup {
    /// Does the principal exist, and what is its ARN?
    Principal(PrincipalRef),
    /// Which managed policies are attached to the principal now?
    AttachedPolicies(PrincipalRef),
    /// A managed policy and its default version's document.
    ManagedPolicy { arn: String },
    /// An inline policy's current document.
    InlinePolicy { principal: PrincipalRef, name: String },
}

/// A principal as IAM reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrincipalInfo {
    pub arn: String,
}

/// A managed policy with its default version's document (decoded JSON text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManagedPolicy {
    pub arn: String,
    pub name: String,
    pub default_version_id: String,
    pub document: String,
}

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
    pub managed_policies: BTreeMap<String, Option<ManagedPolicy>>,
    pub inline_policies: BTreeMap<(PrincipalRef, String), Option<String>>,
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
    pub fn principal(&self, p: &PrincipalRef) -> Known<'_, PrincipalInfo> {
        known(&self.principals, p)
    }
    pub fn attached(&self, p: &PrincipalRef) -> Known<'_, Vec<String>> {
        known(&self.attached, p)
    }
    pub fn managed_policy(&self, arn: &str) -> Known<'_, ManagedPolicy> {
        known(&self.managed_policies, &arn.to_string())
    }
    pub fn inline_policy(&self, p: &PrincipalRef, name: &str) -> Known<'_, String> {
        known(&self.inline_policies, &(p.clone(), name.to_string()))
    }
}
