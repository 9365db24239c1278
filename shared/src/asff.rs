//! Builds AWS Security Finding Format (ASFF) findings from verdicts. Pure: the Security Hub
//! adapter only translates [`AsffFinding`] into SDK types.
//!
//! The finding `Id` is deterministic (rule id + the verdict's resource key), so a replayed event
//! updates the finding it created instead of adding a second one.

use crate::rules::{RuleMeta, Verdict};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

pub const SCHEMA_VERSION: &str = "2018-10-08";
/// Prefix of every `ProductFields` key this project writes.
pub const FIELD_PREFIX: &str = "compliance-responder/";

/// ASFF `Compliance.Status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ComplianceStatus {
    Passed,
    Failed,
    /// A risk that was accepted on purpose (an exemption on record).
    Warning,
}

impl ComplianceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ComplianceStatus::Passed => "PASSED",
            ComplianceStatus::Failed => "FAILED",
            ComplianceStatus::Warning => "WARNING",
        }
    }
}

/// One ASFF resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AsffResource {
    pub resource_type: String,
    pub id: String,
    pub partition: String,
    pub region: String,
}

/// The subset of ASFF this project writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AsffFinding {
    pub schema_version: String,
    pub id: String,
    pub product_arn: String,
    pub generator_id: String,
    pub aws_account_id: String,
    pub region: String,
    pub types: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
    pub severity_label: String,
    pub title: String,
    pub description: String,
    pub resources: Vec<AsffResource>,
    pub compliance_status: ComplianceStatus,
    pub recommendation_text: String,
    pub recommendation_url: String,
    pub product_fields: BTreeMap<String, String>,
}

/// Where and when, for every finding of one event.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    pub account: &'a str,
    /// Where the finding is recorded: the region of the resource, or for IAM (global) one region
    /// whatever region reported it (so a global resource has one finding, one id).
    pub region: &'a str,
    /// The region the resources are in (the event's).
    pub resource_region: &'a str,
    pub partition: &'a str,
    pub product_arn: Option<&'a str>,
    pub event_id: &'a str,
    pub event_name: &'a str,
    pub event_time: chrono::DateTime<chrono::Utc>,
    pub actor: Option<&'a str>,
    pub mode: &'a str,
    pub now: chrono::DateTime<chrono::Utc>,
}

/// What the responder did about a verdict, for `ProductFields`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handling {
    /// `applied`, `dry-run`, `manual`, `failed`, `pending`, `none`.
    pub outcome: String,
    /// The actions (taken or planned), one line each.
    pub actions: Vec<String>,
    /// JSON of the actions that undo them.
    pub inverse: Option<String>,
}

/// The deterministic finding id for a rule and resource key.
pub fn finding_id(ctx: &Context<'_>, rule_id: &str, key: &str) -> String {
    finding_id_in(ctx.region, ctx.account, rule_id, key)
}

/// [`finding_id`] of a finding recorded in `region` about `account`.
pub fn finding_id_in(region: &str, account: &str, rule_id: &str, key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("{region}/{account}/{rule_id}/{hex}")
}

/// The product a finding is imported under: `SECURITY_HUB_PRODUCT_ARN`, or the account's default
/// product in the region it is recorded in.
pub fn product_arn(configured: Option<&str>, partition: &str, region: &str, account: &str) -> String {
    configured
        .map(str::to_string)
        .unwrap_or_else(|| format!("arn:{partition}:securityhub:{region}:{account}:product/{account}/default"))
}

/// Cuts `s` to at most `max` bytes on a character boundary, marking the cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let marker = "…[truncated]";
    let mut end = max.saturating_sub(marker.len());
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{marker}", &s[..end])
}

/// Resources per finding (ASFF `Resources`: "an array of up to 32 resource objects").
pub const MAX_RESOURCES: usize = 32;

/// A time that Security Hub reads as strictly later than `t` (findings carry milliseconds): now,
/// or `t` plus one millisecond when the clock has not moved past `t`'s millisecond.
pub fn later_than(t: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    use chrono::{SubsecRound, TimeDelta};
    let floor = t.trunc_subsecs(3);
    std::cmp::max(chrono::Utc::now(), floor + TimeDelta::milliseconds(1))
}

/// Builds the finding for one verdict.
pub fn build(
    ctx: &Context<'_>,
    meta: &RuleMeta,
    verdict: &Verdict,
    status: ComplianceStatus,
    handling: &Handling,
) -> AsffFinding {
    let product_arn = product_arn(ctx.product_arn, ctx.partition, ctx.region, ctx.account);
    let mut fields = BTreeMap::new();
    let mut field = |k: &str, v: String| {
        fields.insert(format!("{FIELD_PREFIX}{k}"), truncate(&v, 2048));
    };
    field("RuleId", meta.id.to_string());
    field("Mode", ctx.mode.to_string());
    field("EventId", ctx.event_id.to_string());
    field("EventName", ctx.event_name.to_string());
    field("ResourceKey", verdict.key.clone());
    field("Outcome", handling.outcome.clone());
    if let Some(actor) = ctx.actor {
        field("Actor", actor.to_string());
    }
    if let Some(control) = meta.security_hub_control {
        field("SecurityHubControl", control.to_string());
    }
    if !verdict.matched_statements.is_empty() {
        field("MatchedStatements", verdict.matched_statements.join(", "));
    }
    if !handling.actions.is_empty() {
        field("Action", handling.actions.join("; "));
    }
    if let Some(inverse) = &handling.inverse {
        field("Inverse", inverse.clone());
    }
    let description = format!("{} {}", verdict.summary, meta.description);
    AsffFinding {
        schema_version: SCHEMA_VERSION.into(),
        id: finding_id(ctx, meta.id, &verdict.key),
        product_arn,
        generator_id: meta.id.into(),
        aws_account_id: ctx.account.into(),
        region: ctx.region.into(),
        types: meta.finding_types.iter().map(|t| t.to_string()).collect(),
        created_at: ctx.event_time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        updated_at: ctx.now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        severity_label: verdict.severity.label().into(),
        title: truncate(meta.title, 256),
        description: truncate(&description, 1024),
        // ASFF takes at most 32 resources per finding (the first are the principal and policy).
        resources: verdict
            .resources
            .iter()
            .take(MAX_RESOURCES)
            .map(|r| AsffResource {
                resource_type: r.resource_type.as_str().into(),
                id: r.arn.clone(),
                partition: ctx.partition.into(),
                region: ctx.resource_region.into(),
            })
            .collect(),
        compliance_status: status,
        recommendation_text: truncate(meta.recommendation, 512),
        recommendation_url: meta.recommendation_url.into(),
        product_fields: fields,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Remedy;
    use crate::rules::{iam_admin_access, ResourceRef, ResourceType, Rule, Severity, Status};

    fn ctx(now: &str) -> Context<'static> {
        Context {
            account: "123456789012",
            region: "us-east-1",
            resource_region: "us-east-1",
            partition: "aws",
            product_arn: None,
            event_id: "e-1",
            event_name: "AttachUserPolicy",
            event_time: "2026-11-20T10:00:00Z".parse().unwrap(),
            actor: Some("arn:aws:iam::123456789012:user/mallory"),
            mode: "remediate",
            now: now.parse().unwrap(),
        }
    }

    fn verdict(key: &str) -> Verdict {
        Verdict {
            rule_id: iam_admin_access::ID,
            status: Status::NonCompliant,
            severity: Severity::Critical,
            summary: "user alice has AdministratorAccess".into(),
            resources: vec![ResourceRef {
                resource_type: ResourceType::AwsIamUser,
                arn: "arn:aws:iam::123456789012:user/alice".into(),
            }],
            key: key.into(),
            matched_statements: vec!["statement #0".into()],
            matched_actions: vec!["*".into()],
            remedy: Remedy::None,
            needs_review: None,
        }
    }

    #[test]
    fn ids_are_deterministic_per_rule_and_resource() {
        let meta = iam_admin_access::IamAdminAccess.meta();
        let h = Handling {
            outcome: "applied".into(),
            actions: vec!["detach".into()],
            inverse: Some("[]".into()),
        };
        let a = build(
            &ctx("2026-11-20T10:00:01Z"),
            meta,
            &verdict("k1"),
            ComplianceStatus::Failed,
            &h,
        );
        let b = build(
            &ctx("2026-11-21T10:00:01Z"),
            meta,
            &verdict("k1"),
            ComplianceStatus::Passed,
            &h,
        );
        let c = build(
            &ctx("2026-11-20T10:00:01Z"),
            meta,
            &verdict("k2"),
            ComplianceStatus::Failed,
            &h,
        );
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, c.id);
        assert_eq!(
            a.product_arn,
            "arn:aws:securityhub:us-east-1:123456789012:product/123456789012/default"
        );
        assert_eq!(a.generator_id, "iam-admin-access");
        assert_eq!(a.product_fields["compliance-responder/SecurityHubControl"], "IAM.1");
        assert_eq!(a.created_at, "2026-11-20T10:00:00.000Z");
    }

    #[test]
    fn later_than_is_strictly_later_at_millisecond_precision() {
        let t: chrono::DateTime<chrono::Utc> = "2999-01-01T00:00:00.123456Z".parse().unwrap();
        let fmt = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        assert_eq!(fmt(later_than(t)), "2999-01-01T00:00:00.124Z");
        let past: chrono::DateTime<chrono::Utc> = "2020-01-01T00:00:00Z".parse().unwrap();
        assert!(later_than(past) > past + chrono::TimeDelta::days(365));
    }

    #[test]
    fn truncation_respects_char_boundaries_and_limits() {
        let s = "é".repeat(2000);
        let t = truncate(&s, 2048);
        assert!(t.len() <= 2048 && t.ends_with("[truncated]"));
        assert_eq!(truncate("short", 10), "short");
    }
}
