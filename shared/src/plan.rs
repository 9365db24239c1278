//! Remediation plans: plain data. Rules ask for statement edits on a document ([`Remedy::Edit`]);
//! the planner merges the edits of every rule per document, applies them to the document as it
//! was just read, and turns the result into IAM writes, each with the exact write that undoes it.
//! Dry-run prints the plan, the executor applies it, and the report and Security Hub record both.

use crate::edit::{apply_edits, StatementEdit};
use crate::finding::{PrincipalKind, PrincipalRef};
use crate::policy::{DocumentKind, PolicyDocument};
use crate::resource::{AwsResource, ResourceKind, Tags};
use crate::state::{Known, Observed, MAX_POLICY_VERSIONS};
use serde::{Deserialize, Serialize};

/// The trust policy a role gets when every statement of its old one was open to anyone: nobody
/// can assume it (never wider than before).
pub const DENY_ALL_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"ComplianceResponderNoOpenTrust","Effect":"Deny","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#;

/// One IAM write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    DetachPolicy {
        principal: PrincipalRef,
        policy_arn: String,
    },
    AttachPolicy {
        principal: PrincipalRef,
        policy_arn: String,
    },
    PutInlinePolicy {
        principal: PrincipalRef,
        policy_name: String,
        document: String,
    },
    DeleteInlinePolicy {
        principal: PrincipalRef,
        policy_name: String,
    },
    CreatePolicyVersion {
        policy_arn: String,
        document: String,
        set_as_default: bool,
    },
    SetDefaultPolicyVersion {
        policy_arn: String,
        version_id: String,
    },
    DeletePolicyVersion {
        policy_arn: String,
        version_id: String,
    },
    /// The inverse of a rewrite's new default version: `version_id` is made the default again,
    /// then the version the rewrite created (`created_document`, while it is the newest) is
    /// deleted, so the policy is back as it was with room for any version the rewrite deleted.
    /// A version someone created since is never deleted.
    RevertPolicyVersion {
        policy_arn: String,
        version_id: String,
        created_document: String,
    },
    UpdateAssumeRolePolicy {
        role_name: String,
        document: String,
    },
    /// Activates or deactivates an IAM user's access key (never deletes it).
    SetAccessKeyStatus {
        user_name: String,
        access_key_id: String,
        active: bool,
    },
    /// Adds tags (never replaces an existing key: the rule only asks for missing ones).
    TagResource {
        resource: AwsResource,
        tags: Tags,
    },
    UntagResource {
        resource: AwsResource,
        keys: Vec<String>,
    },
}

fn kind_word(kind: PrincipalKind) -> &'static str {
    match kind {
        PrincipalKind::User => "User",
        PrincipalKind::Role => "Role",
        PrincipalKind::Group => "Group",
    }
}

impl Action {
    /// What this action changes, as one key: steps with the same key change one document (the
    /// version deleted to make room and the version created in its place) and are applied, held
    /// back or deferred together, never one without the other.
    pub fn changes(&self) -> String {
        match self {
            Action::DetachPolicy { principal, policy_arn } | Action::AttachPolicy { principal, policy_arn } => {
                format!("attachment {principal} {policy_arn}")
            }
            Action::PutInlinePolicy {
                principal, policy_name, ..
            }
            | Action::DeleteInlinePolicy { principal, policy_name } => format!("inline {principal} {policy_name}"),
            Action::CreatePolicyVersion { policy_arn, .. }
            | Action::SetDefaultPolicyVersion { policy_arn, .. }
            | Action::DeletePolicyVersion { policy_arn, .. }
            | Action::RevertPolicyVersion { policy_arn, .. } => format!("policy {policy_arn}"),
            Action::UpdateAssumeRolePolicy { role_name, .. } => format!("trust {role_name}"),
            Action::SetAccessKeyStatus {
                user_name,
                access_key_id,
                ..
            } => format!("key {user_name} {access_key_id}"),
            Action::TagResource { resource, .. } | Action::UntagResource { resource, .. } => format!("tags {resource}"),
        }
    }

    /// A one-line description for logs, reports and Security Hub.
    pub fn describe(&self) -> String {
        match self {
            Action::DetachPolicy { principal, policy_arn } => format!("detach {policy_arn} from {principal}"),
            Action::AttachPolicy { principal, policy_arn } => format!("attach {policy_arn} to {principal}"),
            Action::PutInlinePolicy {
                principal, policy_name, ..
            } => {
                format!("put inline policy {policy_name} on {principal}")
            }
            Action::DeleteInlinePolicy { principal, policy_name } => {
                format!("delete inline policy {policy_name} from {principal}")
            }
            Action::CreatePolicyVersion {
                policy_arn,
                set_as_default,
                ..
            } => format!(
                "create a new {}version of {policy_arn}",
                if *set_as_default { "default " } else { "non-default " }
            ),
            Action::SetDefaultPolicyVersion { policy_arn, version_id } => {
                format!("make {version_id} the default version of {policy_arn}")
            }
            Action::DeletePolicyVersion { policy_arn, version_id } => {
                format!("delete version {version_id} of {policy_arn}")
            }
            Action::RevertPolicyVersion {
                policy_arn, version_id, ..
            } => {
                format!("make {version_id} the default version of {policy_arn} again and delete the version the fix created")
            }
            Action::UpdateAssumeRolePolicy { role_name, .. } => format!("replace the trust policy of role {role_name}"),
            Action::SetAccessKeyStatus {
                user_name,
                access_key_id,
                active,
            } => format!(
                "{} access key {access_key_id} of user {user_name}",
                if *active { "reactivate" } else { "deactivate" }
            ),
            Action::TagResource { resource, tags } => {
                let list: Vec<String> = tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("tag {resource} with {}", list.join(", "))
            }
            Action::UntagResource { resource, keys } => format!("remove tags {} from {resource}", keys.join(", ")),
        }
    }

    /// The AWS API call this action makes, e.g. `iam:DetachUserPolicy`.
    pub fn api_call(&self) -> String {
        match self {
            Action::DetachPolicy { principal, .. } => format!("iam:Detach{}Policy", kind_word(principal.kind)),
            Action::AttachPolicy { principal, .. } => format!("iam:Attach{}Policy", kind_word(principal.kind)),
            Action::PutInlinePolicy { principal, .. } => format!("iam:Put{}Policy", kind_word(principal.kind)),
            Action::DeleteInlinePolicy { principal, .. } => format!("iam:Delete{}Policy", kind_word(principal.kind)),
            Action::CreatePolicyVersion { .. } => "iam:CreatePolicyVersion".into(),
            Action::SetDefaultPolicyVersion { .. } => "iam:SetDefaultPolicyVersion".into(),
            Action::DeletePolicyVersion { .. } => "iam:DeletePolicyVersion".into(),
            Action::RevertPolicyVersion { .. } => "iam:SetDefaultPolicyVersion".into(),
            Action::UpdateAssumeRolePolicy { .. } => "iam:UpdateAssumeRolePolicy".into(),
            Action::SetAccessKeyStatus { .. } => "iam:UpdateAccessKey".into(),
            Action::TagResource { resource, .. } if resource.kind == ResourceKind::SqsQueue => "sqs:TagQueue".into(),
            Action::TagResource { .. } => "tag:TagResources".into(),
            Action::UntagResource { resource, .. } if resource.kind == ResourceKind::SqsQueue => {
                "sqs:UntagQueue".into()
            }
            Action::UntagResource { .. } => "tag:UntagResources".into(),
        }
    }
}

/// The document a remedy edits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "document", rename_all = "kebab-case")]
pub enum Target {
    Inline {
        principal: PrincipalRef,
        policy_name: String,
    },
    /// A managed policy; `principal` is the one the event attached it to, if any.
    Managed {
        policy_arn: String,
        principal: Option<PrincipalRef>,
    },
    Trust {
        role_name: String,
    },
}

impl Target {
    /// The customer-managed policy to which a fix with `edits` adds a version (what is left of
    /// its document is not empty), if that is what it does: that fix needs the policy's versions.
    pub fn new_version_of(&self, edits: &[StatementEdit], observed: &Observed) -> Option<String> {
        let Target::Managed { policy_arn, .. } = self else {
            return None;
        };
        let Known::Present(policy) = observed.managed_policy(policy_arn) else {
            return None;
        };
        if policy.is_aws_managed() {
            return None;
        }
        let doc = parse(&policy.document, "the policy's default version").ok()?;
        apply_edits(&doc, edits).map(|_| policy_arn.clone())
    }
}

/// What a verdict asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "remedy", rename_all = "kebab-case")]
pub enum Remedy {
    /// Nothing to do.
    None,
    /// Edit these statements of this document.
    Edit { target: Target, edits: Vec<StatementEdit> },
    /// A person must decide; the reason says why no automatic fix is safe.
    Manual { reason: String },
    /// These writes, each with the write that undoes it (fixes that are not policy edits:
    /// access keys, session revocation, tags). The rule computed them from the state just read.
    Apply { steps: Vec<Step> },
}

/// A write and its inverse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub action: Action,
    pub inverse: Action,
}

/// An action and the action that undoes it, computed from the state observed before the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedStep {
    /// Indices of the verdicts (in the report) this step serves.
    pub verdicts: Vec<usize>,
    pub action: Action,
    pub inverse: Action,
}

/// Edits that could not be turned into a safe write, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unplanned {
    pub verdicts: Vec<usize>,
    pub reason: String,
}

/// The whole plan for one event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub steps: Vec<PlannedStep>,
    pub unplanned: Vec<Unplanned>,
}

impl Plan {
    /// Builds the plan for `remedies` (index = verdict index) against the state just read.
    pub fn build(remedies: &[&Remedy], observed: &Observed) -> Plan {
        // Merge the edits of every verdict per target, in order of first appearance.
        let mut groups: Vec<(Target, Vec<usize>, Vec<StatementEdit>)> = Vec::new();
        for (i, remedy) in remedies.iter().enumerate() {
            if let Remedy::Edit { target, edits } = remedy {
                match groups.iter_mut().find(|(t, _, _)| t == target) {
                    Some((_, verdicts, all)) => {
                        verdicts.push(i);
                        all.extend(edits.iter().cloned());
                    }
                    None => groups.push((target.clone(), vec![i], edits.clone())),
                }
            }
        }
        let mut plan = Plan::default();
        // Direct writes: one step per distinct action, serving every verdict that asked for it.
        for (i, remedy) in remedies.iter().enumerate() {
            if let Remedy::Apply { steps } = remedy {
                for step in steps {
                    match plan.steps.iter_mut().find(|s| s.action == step.action) {
                        Some(existing) => existing.verdicts.push(i),
                        None => plan.steps.push(PlannedStep {
                            verdicts: vec![i],
                            action: step.action.clone(),
                            inverse: step.inverse.clone(),
                        }),
                    }
                }
            }
        }
        for (target, verdicts, edits) in groups {
            match plan_target(&target, &edits, observed) {
                Ok(steps) => plan
                    .steps
                    .extend(steps.into_iter().map(|(action, inverse)| PlannedStep {
                        verdicts: verdicts.clone(),
                        action,
                        inverse,
                    })),
                Err(reason) => plan.unplanned.push(Unplanned { verdicts, reason }),
            }
        }
        plan
    }

    /// True when some step or unplanned edit serves verdict `i`.
    pub fn serves(&self, i: usize) -> bool {
        self.steps.iter().any(|s| s.verdicts.contains(&i)) || self.unplanned.iter().any(|u| u.verdicts.contains(&i))
    }
}

/// A rewritten document IAM would refuse for its size is never written: the fix is left for a
/// person before any of its steps (a version deleted to make room included) is planned. The
/// quota counts no whitespace, as IAM's does.
fn within_quota(document: String, kind: DocumentKind) -> Result<String, String> {
    crate::policy::check_size(&document, kind)
        .map(|()| document)
        .map_err(|e| {
            format!("the rewritten document would exceed IAM's quota ({e}): left for a person, nothing written")
        })
}

fn parse(raw: &str, what: &str) -> Result<PolicyDocument, String> {
    PolicyDocument::parse(raw).map_err(|e| format!("{what} could not be parsed: {e}"))
}

fn plan_target(target: &Target, edits: &[StatementEdit], observed: &Observed) -> Result<Vec<(Action, Action)>, String> {
    match target {
        Target::Inline { principal, policy_name } => {
            let Known::Present(raw) = observed.inline_policy(principal, policy_name) else {
                return Err(format!("inline policy {policy_name} on {principal} was not read"));
            };
            let doc = parse(raw, "the inline policy")?;
            let restore = Action::PutInlinePolicy {
                principal: principal.clone(),
                policy_name: policy_name.clone(),
                document: doc.to_json(),
            };
            let kind = match principal.kind {
                PrincipalKind::User => DocumentKind::InlineUser,
                PrincipalKind::Role => DocumentKind::InlineRole,
                PrincipalKind::Group => DocumentKind::InlineGroup,
            };
            let action = match apply_edits(&doc, edits) {
                Some(document) => Action::PutInlinePolicy {
                    principal: principal.clone(),
                    policy_name: policy_name.clone(),
                    document: within_quota(document, kind)?,
                },
                None => Action::DeleteInlinePolicy {
                    principal: principal.clone(),
                    policy_name: policy_name.clone(),
                },
            };
            Ok(vec![(action, restore)])
        }
        Target::Managed { policy_arn, principal } => {
            let Known::Present(policy) = observed.managed_policy(policy_arn) else {
                return Err(format!("policy {policy_arn} was not read"));
            };
            let doc = parse(&policy.document, "the policy's default version")?;
            let detach = |p: &PrincipalRef| {
                vec![(
                    Action::DetachPolicy {
                        principal: p.clone(),
                        policy_arn: policy_arn.clone(),
                    },
                    Action::AttachPolicy {
                        principal: p.clone(),
                        policy_arn: policy_arn.clone(),
                    },
                )]
            };
            let rewritten = apply_edits(&doc, edits);
            match (policy.is_aws_managed(), rewritten, principal) {
                (true, _, Some(p)) => Ok(detach(p)),
                (true, _, None) => Err("AWS-managed policies cannot be changed; nothing names a principal to detach it from".into()),
                (false, None, Some(p)) => Ok(detach(p)),
                (false, None, None) => Err(
                    "every statement of this managed policy is offending and a policy cannot be empty: detach it from its principals or delete it by hand".into(),
                ),
                (false, Some(document), _) => {
                    let document = within_quota(document, DocumentKind::Managed)?;
                    if !policy.versions_read {
                        return Err(format!("the versions of {policy_arn} were not read: no room can be made for a new one"));
                    }
                    let mut steps = Vec::new();
                    if policy.versions.len() >= MAX_POLICY_VERSIONS {
                        let Some((id, old)) = &policy.oldest_non_default else {
                            return Err(format!("{policy_arn} has {MAX_POLICY_VERSIONS} versions and none can be deleted"));
                        };
                        let old_text = parse(old, "the version to delete").map(|d| d.to_json())?;
                        steps.push((
                            Action::DeletePolicyVersion { policy_arn: policy_arn.clone(), version_id: id.clone() },
                            Action::CreatePolicyVersion { policy_arn: policy_arn.clone(), document: old_text, set_as_default: false },
                        ));
                    }
                    steps.push((
                        Action::CreatePolicyVersion {
                            policy_arn: policy_arn.clone(),
                            document: document.clone(),
                            set_as_default: true,
                        },
                        Action::RevertPolicyVersion {
                            policy_arn: policy_arn.clone(),
                            version_id: policy.default_version_id.clone(),
                            created_document: document,
                        },
                    ));
                    Ok(steps)
                }
            }
        }
        Target::Trust { role_name } => {
            let role = PrincipalRef {
                kind: PrincipalKind::Role,
                name: role_name.clone(),
            };
            let Known::Present(info) = observed.principal(&role) else {
                return Err(format!("role {role_name} was not read"));
            };
            let Some(raw) = &info.trust_policy else {
                return Err(format!("the trust policy of role {role_name} was not read"));
            };
            let doc = parse(raw, "the trust policy")?;
            let document = match apply_edits(&doc, edits) {
                Some(document) => within_quota(document, DocumentKind::Trust)?,
                None => DENY_ALL_TRUST.to_string(),
            };
            Ok(vec![(
                Action::UpdateAssumeRolePolicy {
                    role_name: role_name.clone(),
                    document,
                },
                Action::UpdateAssumeRolePolicy {
                    role_name: role_name.clone(),
                    document: doc.to_json(),
                },
            )])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{ManagedPolicy, PolicyVersion, PrincipalInfo};

    const MIXED: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Admin","Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"Read","Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
    const ARN: &str = "arn:aws:iam::123456789012:policy/P";

    fn user() -> PrincipalRef {
        PrincipalRef {
            kind: PrincipalKind::User,
            name: "u".into(),
        }
    }

    fn managed(versions: usize) -> Observed {
        let mut o = Observed::default();
        let versions: Vec<PolicyVersion> = (1..=versions)
            .map(|i| PolicyVersion {
                id: format!("v{i}"),
                is_default: i == versions,
                created: format!("2026-01-0{i}T00:00:00Z"),
            })
            .collect();
        o.managed_policies.insert(
            ARN.into(),
            Some(ManagedPolicy {
                arn: ARN.into(),
                name: "P".into(),
                default_version_id: format!("v{}", versions.len()),
                document: MIXED.into(),
                oldest_non_default: (versions.len() >= 5).then(|| ("v1".to_string(), MIXED.to_string())),
                versions,
                tags: Default::default(),
                versions_read: true,
            }),
        );
        o
    }

    fn edit(target: Target, statement: usize) -> Remedy {
        Remedy::Edit {
            target,
            edits: vec![StatementEdit::Remove { statement }],
        }
    }

    #[test]
    fn customer_policy_gets_a_new_default_version_and_makes_room_at_five() {
        let t = Target::Managed {
            policy_arn: ARN.into(),
            principal: Some(user()),
        };
        let r = edit(t.clone(), 0);
        let plan = Plan::build(&[&r], &managed(2));
        assert_eq!(plan.steps.len(), 1);
        assert!(
            matches!(&plan.steps[0].action, Action::CreatePolicyVersion { set_as_default: true, document, .. } if !document.contains(r#""Action":"*""#))
        );
        let Action::CreatePolicyVersion { document, .. } = &plan.steps[0].action else {
            unreachable!()
        };
        assert_eq!(
            plan.steps[0].inverse,
            Action::RevertPolicyVersion {
                policy_arn: ARN.into(),
                version_id: "v2".into(),
                created_document: document.clone(),
            }
        );
        let plan = Plan::build(&[&r], &managed(5));
        assert_eq!(
            plan.steps[0].action,
            Action::DeletePolicyVersion {
                policy_arn: ARN.into(),
                version_id: "v1".into()
            }
        );
        assert!(matches!(
            &plan.steps[0].inverse,
            Action::CreatePolicyVersion {
                set_as_default: false,
                ..
            }
        ));
        assert_eq!(plan.steps[0].action.api_call(), "iam:DeletePolicyVersion");
    }

    /// A rewrite that would exceed IAM's quota (adding to a NotAction list can grow a document)
    /// plans nothing at all: not the new version, and not the deletion that would make room.
    #[test]
    fn a_rewrite_over_the_quota_plans_nothing() {
        let filler: Vec<String> = (0..390).map(|i| format!("\"s3:Get{i:05}\"")).collect();
        let big = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","NotAction":["iam:PassRole"],"Resource":"*"}},{{"Effect":"Allow","Action":[{}],"Resource":"*"}}]}}"#,
            filler.join(",")
        );
        assert!(
            crate::policy::check_size(&big, DocumentKind::Managed).is_ok(),
            "{}",
            big.len()
        );
        let mut o = managed(5);
        if let Some(Some(p)) = o.managed_policies.get_mut(ARN) {
            p.document = big;
        }
        let r = Remedy::Edit {
            target: Target::Managed {
                policy_arn: ARN.into(),
                principal: Some(user()),
            },
            edits: vec![StatementEdit::AddNotActions {
                statement: 0,
                actions: (0..40).map(|i| format!("iam:SomeLongActionName{i:04}")).collect(),
            }],
        };
        let plan = Plan::build(&[&r], &o);
        assert!(plan.steps.is_empty(), "{plan:#?}");
        assert!(plan.unplanned[0].reason.contains("quota"), "{plan:#?}");
    }

    #[test]
    fn edits_from_two_verdicts_on_one_document_make_one_write() {
        let t = Target::Managed {
            policy_arn: ARN.into(),
            principal: None,
        };
        let (a, b) = (edit(t.clone(), 0), edit(t, 1));
        let plan = Plan::build(&[&a, &Remedy::None, &b], &managed(1));
        // Both statements removed → an empty policy is not allowed and no principal is named.
        assert!(plan.steps.is_empty());
        assert_eq!(plan.unplanned[0].verdicts, vec![0, 2]);
        let plan = Plan::build(
            &[&edit(
                Target::Managed {
                    policy_arn: ARN.into(),
                    principal: None,
                },
                0,
            )],
            &managed(1),
        );
        assert_eq!(plan.steps.len(), 1);
        assert!(plan.serves(0) && !plan.serves(1));
    }

    #[test]
    fn emptied_trust_policy_becomes_deny_all() {
        let mut o = Observed::default();
        o.principals.insert(
            PrincipalRef { kind: PrincipalKind::Role, name: "r".into() },
            Some(PrincipalInfo {
                arn: "arn:aws:iam::123456789012:role/r".into(),
                trust_policy: Some(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}]}"#.into()),
                tags: Default::default(),
            }),
        );
        let r = Remedy::Edit {
            target: Target::Trust { role_name: "r".into() },
            edits: vec![StatementEdit::RemoveWildcardPrincipal { statement: 0 }],
        };
        let plan = Plan::build(&[&r], &o);
        assert_eq!(
            plan.steps[0].action,
            Action::UpdateAssumeRolePolicy {
                role_name: "r".into(),
                document: DENY_ALL_TRUST.into()
            }
        );
        assert!(
            matches!(&plan.steps[0].inverse, Action::UpdateAssumeRolePolicy { document, .. } if document.contains("\"Principal\":\"*\""))
        );
    }

    #[test]
    fn unread_state_is_never_planned() {
        let r = edit(
            Target::Inline {
                principal: user(),
                policy_name: "p".into(),
            },
            0,
        );
        let plan = Plan::build(&[&r], &Observed::default());
        assert!(plan.steps.is_empty());
        assert_eq!(plan.unplanned.len(), 1);
    }
}
