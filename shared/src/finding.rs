//! The normalized finding: what happened, to what, by whom, independent of the event source.

use crate::resource::{AwsResource, Tags};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Where the event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// CloudTrail calls of IAM (`source` = `aws.iam`).
    CloudTrail,
    Config,
    GuardDuty,
    /// CloudTrail create calls of taggable resources (any other `aws.*` source). The finding's
    /// `source` stays `cloud-trail`; this kind only selects which function accepts the event.
    ResourceCreation,
    /// The audit sweep (`responder audit`): existing state, judged without an event.
    Audit,
    /// A person's choice in Security Hub: the "Remediate" or "Undo" custom action on findings of
    /// this product ("Security Hub Findings - Custom Action", `sources/securityhub.rs`).
    HubAction,
}

/// Who made the change, as the event reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Actor {
    /// CloudTrail's `userIdentity.type` (`IAMUser`, `AssumedRole`, `Root`, ...).
    pub identity_type: String,
    pub arn: Option<String>,
    pub name: Option<String>,
    pub account_id: Option<String>,
}

/// The kind of IAM principal a policy is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PrincipalKind {
    User,
    Role,
    Group,
}

impl PrincipalKind {
    /// The word IAM uses in ARNs and API names (`user`, `role`, `group`).
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::User => "user",
            PrincipalKind::Role => "role",
            PrincipalKind::Group => "group",
        }
    }
}

/// An IAM user, role or group by name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PrincipalRef {
    pub kind: PrincipalKind,
    pub name: String,
}

impl std::fmt::Display for PrincipalRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind.as_str(), self.name)
    }
}

/// What the event says changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "change", rename_all = "kebab-case")]
pub enum Subject {
    /// A managed policy was attached to a principal.
    PolicyAttached {
        principal: PrincipalRef,
        policy_arn: String,
    },
    /// An inline policy was created or replaced on a principal.
    InlinePolicyPut {
        principal: PrincipalRef,
        policy_name: String,
        /// The document as the event carried it (the live one is re-read before any decision).
        #[serde(skip)]
        document: Option<String>,
    },
    /// A customer-managed policy was created or got a new default version.
    ManagedPolicyChanged {
        policy_arn: String,
        /// The document as the event carried it (the live default version is re-read).
        #[serde(skip)]
        document: Option<String>,
    },
    /// A customer-managed policy got a new version that is *not* its default: a dormant grant, in
    /// force with one `SetDefaultPolicyVersion`. `version_id` is the one the call created (from
    /// the response), `None` when the event does not say (the newest non-default is read).
    DormantPolicyVersion {
        policy_arn: String,
        version_id: Option<String>,
        #[serde(skip)]
        document: Option<String>,
        /// Set by the sweep: the document digests ([`crate::undo::document_digest`]) this
        /// version had when a rewrite of the responder replaced it as the default and kept it
        /// for undo (`undo/kept/` markers). A live version with one of them is the responder's
        /// own, not a dormant grant; empty everywhere else.
        #[serde(skip)]
        kept: Vec<String>,
    },
    /// A role was created or its trust policy replaced.
    TrustPolicyChanged {
        role: PrincipalRef,
        #[serde(skip)]
        document: Option<String>,
    },
    /// Resources were created (CloudTrail create events); `creator` is who created them, as a tag
    /// value, and `creation_tags` the tags the create call already set.
    ResourcesCreated {
        resources: Vec<AwsResource>,
        creator: Option<String>,
        creation_tags: Tags,
    },
    /// AWS Config found a resource without the required tags.
    ResourceTagsCheck { resource: AwsResource },
    /// Every policy of a principal is to be judged (AWS Config item or compliance change). The
    /// pipeline expands this into one subject per attached, inline and trust policy it reads live.
    PrincipalReview { principal: PrincipalRef },
    /// Every permission policy of a principal judged together (for a user, its groups' too): a
    /// privilege-escalation combination split across two policies. Added by the pipeline beside
    /// the subjects that change what a principal is allowed.
    PrincipalPermissions { principal: PrincipalRef },
    /// An IAM user's access keys, each judged on its own (the sweep, Security Hub's "Remediate";
    /// a change to a user's permissions says nothing about its keys). Containment: fixed through
    /// the capability that alone may change a key's status.
    UserAccessKeys { user: PrincipalRef },
    /// An AWS Config resource known only by its Config resource id (IAM ids, RDS resource ids);
    /// the pipeline resolves it to a name before the rules see it.
    ConfigResource { resource_type: String, resource_id: String },
    /// GuardDuty reports credentials in use by someone else.
    CredentialCompromise(CredentialFinding),
    /// Tags were set on (or removed from) an IAM principal or policy: `keys` are the tag keys
    /// the call named. The exemption record judges the live tags when the exemption key is one
    /// of them.
    TagsChanged { target: TagTarget, keys: Vec<String> },
    /// A well-formed event that no rule acts on; the reason goes in the report.
    Unhandled { reason: String },
}

/// What an IAM tagging call tagged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum TagTarget {
    Principal(PrincipalRef),
    Policy { arn: String },
}

/// Whose credentials a GuardDuty finding is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum CredentialOwner {
    /// A long-term access key of an IAM user.
    IamUser { user_name: String, access_key_id: String },
    /// Temporary credentials of a role session.
    AssumedRole { role_name: String, access_key_id: String },
    /// The account's root user: never touched.
    Root,
    /// Any other identity type GuardDuty reports (federated users, ...): reported only.
    Other { user_type: String, user_name: String },
}

/// A GuardDuty finding about IAM credentials.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CredentialFinding {
    /// The GuardDuty finding ARN, which is also its Security Hub finding Id.
    pub finding_arn: String,
    pub finding_id: String,
    pub finding_type: String,
    pub severity: f64,
    pub title: String,
    pub owner: CredentialOwner,
    /// The finding's last update: sessions issued before it are the suspicious ones.
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// A normalized finding, ready for the rules.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub event_id: String,
    pub source: SourceKind,
    pub detail_type: String,
    /// The API call or finding type the event reports (for CloudTrail, `eventName`).
    pub event_name: String,
    pub account: String,
    pub region: String,
    pub partition: String,
    pub time: chrono::DateTime<chrono::Utc>,
    pub actor: Actor,
    pub subject: Subject,
    /// When set (Config compliance changes), only these rules judge the finding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub only_rules: Option<Vec<String>>,
    /// Further subjects the same event names, judged beside `subject` (a role created with tags:
    /// its trust policy and its tags; a user added to a group: the user and the group).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<Subject>,
    #[serde(skip)]
    pub raw_detail: Value,
}

impl Actor {
    /// The account and name of the role whose session made the call (`AssumedRole`:
    /// `arn:<partition>:sts::<account>:assumed-role/<role>/<session>`). Role names are unique in
    /// an account whatever their path, so the pair names one role.
    pub fn assumed_role(&self) -> Option<(&str, &str)> {
        if self.identity_type != "AssumedRole" {
            return None;
        }
        let arn = self.arn.as_deref()?;
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        if parts.len() != 6 || parts[2] != "sts" {
            return None;
        }
        let mut path = parts[5].split('/');
        match (path.next(), path.next()) {
            (Some("assumed-role"), Some(role)) if !role.is_empty() && !parts[4].is_empty() => Some((parts[4], role)),
            _ => None,
        }
    }
}

/// What a fix of a finding may change, and so which member role does it: each capability has a
/// role of its own in member accounts (`member-template.yaml`), trusted only by the central
/// functions that need it, so a function can never act beyond its capability there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Capability {
    /// IAM policy and trust rewrites, exemption records (`MEMBER_ROLE_NAME`).
    IamRewrite,
    /// Tags on created resources (`MEMBER_TAGGING_ROLE_NAME`).
    Tagging,
    /// Credential containment: keys deactivated, sessions revoked, quarantine
    /// (`MEMBER_CONTAINMENT_ROLE_NAME`).
    Containment,
    /// The recorded inverse of an applied fix, on a person's "Undo" in Security Hub
    /// (`MEMBER_UNDO_ROLE_NAME`: the member account's undo role).
    Undo,
}

impl Capability {
    /// The setting that names this capability's member role.
    pub fn setting(self) -> &'static str {
        match self {
            Capability::IamRewrite => "MEMBER_ROLE_NAME",
            Capability::Tagging => "MEMBER_TAGGING_ROLE_NAME",
            Capability::Containment => "MEMBER_CONTAINMENT_ROLE_NAME",
            Capability::Undo => "MEMBER_UNDO_ROLE_NAME",
        }
    }
}

impl Subject {
    /// Whether the subject is an IAM resource: IAM is a global service, so a finding about it is
    /// the same finding whatever region reported it, and is recorded in one region.
    pub fn is_global(&self) -> bool {
        match self {
            Subject::PolicyAttached { .. }
            | Subject::InlinePolicyPut { .. }
            | Subject::ManagedPolicyChanged { .. }
            | Subject::DormantPolicyVersion { .. }
            | Subject::TrustPolicyChanged { .. }
            | Subject::PrincipalReview { .. }
            | Subject::PrincipalPermissions { .. }
            | Subject::UserAccessKeys { .. }
            | Subject::CredentialCompromise(_)
            | Subject::TagsChanged { .. } => true,
            Subject::ConfigResource { resource_type, .. } => resource_type.starts_with("AWS::IAM::"),
            Subject::ResourcesCreated { .. } | Subject::ResourceTagsCheck { .. } | Subject::Unhandled { .. } => false,
        }
    }

    /// The capability a fix of this subject needs (an unhandled subject writes nothing: the
    /// narrowest role, tagging, reads it).
    pub fn capability(&self) -> Capability {
        match self {
            Subject::CredentialCompromise(_) | Subject::UserAccessKeys { .. } => Capability::Containment,
            Subject::ResourcesCreated { .. } | Subject::ResourceTagsCheck { .. } | Subject::Unhandled { .. } => {
                Capability::Tagging
            }
            Subject::ConfigResource { resource_type, .. } if !resource_type.starts_with("AWS::IAM::") => {
                Capability::Tagging
            }
            _ => Capability::IamRewrite,
        }
    }
}

/// The region where IAM (a global service) is served and emits its CloudTrail events, per
/// partition: findings about IAM are recorded there unless `GLOBAL_FINDINGS_REGION` says otherwise.
pub fn iam_region(partition: &str) -> &'static str {
    match partition {
        "aws-cn" => "cn-north-1",
        "aws-us-gov" => "us-gov-west-1",
        "aws-iso" => "us-iso-east-1",
        "aws-iso-b" => "us-isob-east-1",
        _ => "us-east-1",
    }
}
