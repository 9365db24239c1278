//! The rule registry. A rule declares who it is (id, severity, recommendation, the Security Hub
//! control it matches), which live state it needs, and how it judges a finding. Adding a rule is
//! one file in this folder and one line in [`registry`].

pub mod exemption_tag;
pub mod guardduty_credentials;
pub mod iam_access_key_unused;
pub mod iam_admin_access;
pub mod iam_open_trust;
pub mod iam_privilege_escalation;
pub mod iam_service_wildcard;
pub mod iam_user_direct_policy;
pub mod required_tags;

mod documents;

use crate::config::Config;
use crate::edit::StatementEdit;
use crate::finding::{Finding, PrincipalKind, PrincipalRef};
use crate::plan::Remedy;
use crate::policy::{DocumentKind, PolicyDocument};
use crate::resource::ResourceKind;
use crate::state::{Lookup, Observed};
use serde::Serialize;

/// ASFF severity labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Severity {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn label(self) -> &'static str {
        match self {
            Severity::Informational => "INFORMATIONAL",
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }

    /// One step lower (used for findings restricted by a Condition).
    pub fn lower(self) -> Self {
        match self {
            Severity::Critical => Severity::High,
            Severity::High => Severity::Medium,
            Severity::Medium => Severity::Low,
            Severity::Low | Severity::Informational => Severity::Informational,
        }
    }
}

/// What a rule is, for users, reports and Security Hub.
#[derive(Debug, Serialize)]
pub struct RuleMeta {
    /// Stable id users configure by; also the Security Hub `GeneratorId`.
    pub id: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub severity: Severity,
    pub recommendation: &'static str,
    pub recommendation_url: &'static str,
    /// The AWS Security Hub control this rule corresponds to, where one exists.
    pub security_hub_control: Option<&'static str>,
    /// ASFF finding types.
    pub finding_types: &'static [&'static str],
    /// Report-only rules never ask for a fix; they are judged on the state after the other rules'
    /// fixes (so a finding never describes what the responder just removed).
    pub report_only: bool,
    /// Its findings record a risk accepted on purpose (Security Hub `Compliance.Status` WARNING
    /// instead of FAILED); such a rule never fixes anything.
    pub accepted_risk: bool,
    /// Its fixes wait for the FAILED finding to be recorded (no fix without a record). False for
    /// containment of an active credential compromise: that is applied even when Security Hub is
    /// down, then recorded (the record is retried; the report says in which order).
    pub record_first: bool,
}

/// ASFF resource types this project reports on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceType {
    AwsIamUser,
    AwsIamRole,
    AwsIamGroup,
    AwsIamPolicy,
    AwsIamAccessKey,
    /// A taggable resource (`AwsS3Bucket`, `AwsEc2Instance`, ...).
    Tagged(ResourceKind),
    /// Anything else (the account's root user).
    Other,
}

impl ResourceType {
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::AwsIamUser => "AwsIamUser",
            ResourceType::AwsIamRole => "AwsIamRole",
            ResourceType::AwsIamGroup => "AwsIamGroup",
            ResourceType::AwsIamPolicy => "AwsIamPolicy",
            ResourceType::AwsIamAccessKey => "AwsIamAccessKey",
            ResourceType::Tagged(kind) => kind.asff_type(),
            ResourceType::Other => "Other",
        }
    }
    pub fn of_principal(kind: PrincipalKind) -> Self {
        match kind {
            PrincipalKind::User => ResourceType::AwsIamUser,
            PrincipalKind::Role => ResourceType::AwsIamRole,
            PrincipalKind::Group => ResourceType::AwsIamGroup,
        }
    }
}

impl Serialize for ResourceType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A resource a verdict is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceRef {
    #[serde(rename = "type")]
    pub resource_type: ResourceType,
    pub arn: String,
}

/// Why a rule could not judge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkipKind {
    /// The principal named by the event no longer exists.
    PrincipalNotFound,
    /// The policy named by the event does not exist.
    PolicyNotFound,
    /// A live document could not be parsed.
    PolicyUnreadable,
    /// Live state could not be read; acting blind is never allowed.
    StateUnknown,
    /// The resource named by the event no longer exists.
    ResourceNotFound,
    /// A non-default policy version the responder kept when its rewrite replaced it as the
    /// default (for undo): not a dormant grant someone made, and still a risk (never PASSED).
    KeptForUndo,
}

/// The outcome of one rule on one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Status {
    /// The risk is present now.
    NonCompliant,
    /// The event described a risk that is no longer present.
    Resolved,
    /// Nothing wrong.
    Compliant,
    /// The rule could not judge; nothing is written.
    NotEvaluated { kind: SkipKind },
}

/// One rule's judgement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub rule_id: &'static str,
    #[serde(flatten)]
    pub status: Status,
    pub severity: Severity,
    pub summary: String,
    /// Primary resource first.
    pub resources: Vec<ResourceRef>,
    /// What makes two verdicts "the same finding" (rule id + key → Security Hub Id).
    pub key: String,
    /// Labels of the statements that matched.
    pub matched_statements: Vec<String>,
    /// The concrete actions (or patterns) that matched.
    pub matched_actions: Vec<String>,
    pub remedy: Remedy,
    /// Set when part of the risk is left for a person even after the automatic fix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub needs_review: Option<String>,
}

/// One offending statement in one document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Index of the statement in the document.
    pub statement: usize,
    /// Sid or position, for people.
    pub label: String,
    /// The actions (or patterns, or principals) that matched.
    pub matched: Vec<String>,
    /// The statement has a Condition: reported at lower severity, never fixed automatically.
    pub conditioned: bool,
    /// The edits that remove the risk from this statement.
    pub edits: Vec<StatementEdit>,
}

/// A compliance rule. Rules that judge policy documents implement [`Rule::document_kinds`] and
/// [`Rule::check_document`]; the default `lookups`/`evaluate` then work for every event that names
/// a document. Other rules override `lookups` and `evaluate`.
pub trait Rule: Send + Sync {
    fn meta(&self) -> &'static RuleMeta;

    /// The kinds of policy document this rule judges.
    fn document_kinds(&self) -> &'static [DocumentKind] {
        &[]
    }

    /// Judges one document (pure). Only called for the kinds in [`Rule::document_kinds`].
    fn check_document(&self, _doc: &PolicyDocument) -> Vec<Violation> {
        Vec::new()
    }

    /// The live state this rule needs to judge `finding`.
    fn lookups(&self, finding: &Finding) -> Vec<Lookup> {
        documents::lookups(self.document_kinds(), finding)
    }

    /// Reads that depend on what [`Rule::lookups`] found (read before any rule judges). Most
    /// rules need none.
    fn followup_lookups(&self, _finding: &Finding, _observed: &Observed) -> Vec<Lookup> {
        Vec::new()
    }

    /// Judges `finding` against the live state. Pure.
    fn evaluate(&self, finding: &Finding, observed: &Observed) -> Vec<Verdict> {
        document_verdicts(self, finding, observed)
    }
}

/// A document rule's verdict on the document a finding names (`rules/documents.rs`).
pub fn document_verdicts<R: Rule + ?Sized>(rule: &R, finding: &Finding, observed: &Observed) -> Vec<Verdict> {
    documents::evaluate(
        rule.meta(),
        rule.document_kinds(),
        &|d| rule.check_document(d),
        finding,
        observed,
    )
    .into_iter()
    .collect()
}

/// Every rule, in evaluation order, with its settings from `config`.
pub fn registry(config: &Config) -> Vec<Box<dyn Rule>> {
    vec![
        Box::new(iam_admin_access::IamAdminAccess),
        Box::new(iam_service_wildcard::IamServiceWildcard),
        Box::new(iam_privilege_escalation::IamPrivilegeEscalation),
        Box::new(iam_open_trust::IamOpenTrust),
        Box::new(iam_user_direct_policy::IamUserDirectPolicy),
        Box::new(iam_access_key_unused::IamAccessKeyUnused::new(
            config.access_key_max_unused_days,
        )),
        Box::new(guardduty_credentials::GuardDutyCredentials::new(
            config.guardduty.clone(),
        )),
        Box::new(required_tags::RequiredTags::new(config.tags.clone())),
        Box::new(exemption_tag::ExemptionTag::new(config.exempt_tag.clone())),
    ]
}

/// The ids of every registered rule (for validating configuration).
pub const RULE_IDS: &[&str] = &[
    iam_admin_access::ID,
    iam_service_wildcard::ID,
    iam_privilege_escalation::ID,
    iam_open_trust::ID,
    iam_user_direct_policy::ID,
    iam_access_key_unused::ID,
    guardduty_credentials::ID,
    required_tags::ID,
    exemption_tag::ID,
];

/// Looks a rule's metadata up by id.
pub fn meta_by_id(rules: &[Box<dyn Rule>], id: &str) -> Option<&'static RuleMeta> {
    rules.iter().map(|r| r.meta()).find(|m| m.id == id)
}

/// The ARN a principal has when IAM cannot be asked (no path known).
pub fn fallback_principal_arn(partition: &str, account: &str, p: &PrincipalRef) -> String {
    format!("arn:{partition}:iam::{account}:{}/{}", p.kind.as_str(), p.name)
}

/// Judges one document with every document rule that applies to `kind` (the offline `check-policy`
/// path). Returns (rule, violations) for rules that found something.
pub fn check_document(
    rules: &[Box<dyn Rule>],
    doc: &PolicyDocument,
    kind: DocumentKind,
) -> Vec<(&'static RuleMeta, Vec<Violation>)> {
    rules
        .iter()
        .filter(|r| r.document_kinds().contains(&kind))
        .map(|r| (r.meta(), r.check_document(doc)))
        .filter(|(_, v)| !v.is_empty())
        .collect()
}

/// Permission-policy kinds (everything but trust policies).
pub const PERMISSION_KINDS: &[DocumentKind] = &[
    DocumentKind::Managed,
    DocumentKind::InlineUser,
    DocumentKind::InlineRole,
    DocumentKind::InlineGroup,
];
