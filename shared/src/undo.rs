//! Undo records: what an applied fix wrote and the writes that undo it, kept where the fixing
//! functions alone can write (`UNDO_RECORD_BUCKET`), keyed by the finding they fixed. Security
//! Hub's "Undo" action applies exactly the recorded inverse, and only while the live state is
//! still what the fix left: a finding (which any principal allowed to import findings can forge)
//! never says what to write.
//!
//! Pure: the record, its key, what to read before undoing and the check on what was read.

use crate::executor::ActionOutcome;
use crate::finding::PrincipalRef;
use crate::plan::Action;
use crate::state::{Known, Lookup, Observed};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

/// Format version of [`UndoRecord`].
pub const RECORD_VERSION: u32 = 1;

/// One applied write and the write that undoes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedStep {
    pub action: Action,
    pub inverse: Action,
}

/// What one fix of one finding wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UndoRecord {
    pub version: u32,
    /// The Security Hub finding the fix served.
    pub finding_id: String,
    pub rule_id: String,
    /// The verdict's resource key (the finding's `ResourceKey`).
    pub key: String,
    pub account: String,
    /// The region the resources are in (where the writes were made).
    pub region: String,
    pub partition: String,
    /// The event (or sweep, or custom action) that made the fix.
    pub event_id: String,
    pub applied_at: String,
    /// Other findings the same writes served (a document fixed for two rules at once): undoing
    /// this one undoes theirs too.
    pub also_serves: Vec<String>,
    /// The writes, in the order they were applied.
    pub steps: Vec<RecordedStep>,
}

/// The object key of the record of `finding_id` (ids contain `/`; the key is their digest).
pub fn object_key(finding_id: &str) -> String {
    let digest = Sha256::digest(finding_id.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("undo/{hex}.json")
}

/// The records of one executed plan: per finding, the steps that served it and were applied
/// (`Applied`; a step found already in place wrote nothing and has nothing to undo). `ids[i]` is
/// the finding id of verdict `i`, `None` for verdicts without a finding.
pub fn records(
    actions: &[ActionOutcome],
    ids: &[Option<(String, String, String)>],
    account: &str,
    region: &str,
    partition: &str,
    event_id: &str,
    applied_at: &str,
) -> Vec<UndoRecord> {
    let mut out = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let Some((finding_id, rule_id, key)) = id else { continue };
        let mine: Vec<&ActionOutcome> = actions
            .iter()
            .filter(|a| a.verdicts.contains(&i) && matches!(a.result, crate::executor::StepResult::Applied))
            .collect();
        if mine.is_empty() {
            continue;
        }
        let also_serves: BTreeSet<String> = mine
            .iter()
            .flat_map(|a| a.verdicts.iter())
            .filter(|&&j| j != i)
            .filter_map(|&j| ids.get(j).cloned().flatten().map(|(id, _, _)| id))
            .collect();
        out.push(UndoRecord {
            version: RECORD_VERSION,
            finding_id: finding_id.clone(),
            rule_id: rule_id.clone(),
            key: key.clone(),
            account: account.to_string(),
            region: region.to_string(),
            partition: partition.to_string(),
            event_id: event_id.to_string(),
            applied_at: applied_at.to_string(),
            also_serves: also_serves.into_iter().collect(),
            steps: mine
                .iter()
                .map(|a| RecordedStep {
                    action: a.action.clone(),
                    inverse: a.inverse.clone(),
                })
                .collect(),
        });
    }
    out
}

/// The inverses to apply, last write first.
pub fn inverses(record: &UndoRecord) -> Vec<Action> {
    record.steps.iter().rev().map(|s| s.inverse.clone()).collect()
}

/// What must be read to check that the fix is still in place.
pub fn lookups(record: &UndoRecord) -> BTreeSet<Lookup> {
    record
        .steps
        .iter()
        .filter_map(|s| match &s.action {
            Action::DetachPolicy { principal, .. } | Action::AttachPolicy { principal, .. } => {
                Some(Lookup::AttachedPolicies(principal.clone()))
            }
            Action::PutInlinePolicy {
                principal, policy_name, ..
            }
            | Action::DeleteInlinePolicy { principal, policy_name } => Some(Lookup::InlinePolicy {
                principal: principal.clone(),
                name: policy_name.clone(),
            }),
            Action::CreatePolicyVersion {
                policy_arn,
                set_as_default: true,
                ..
            } => Some(Lookup::ManagedPolicy {
                arn: policy_arn.clone(),
            }),
            Action::UpdateAssumeRolePolicy { role_name, .. } => Some(Lookup::Principal(PrincipalRef {
                kind: crate::finding::PrincipalKind::Role,
                name: role_name.clone(),
            })),
            Action::SetAccessKeyStatus { user_name, .. } => Some(Lookup::AccessKeys {
                user_name: user_name.clone(),
            }),
            Action::TagResource { resource, .. } | Action::UntagResource { resource, .. } => {
                Some(Lookup::ResourceTags(resource.clone()))
            }
            Action::CreatePolicyVersion { .. }
            | Action::SetDefaultPolicyVersion { .. }
            | Action::DeletePolicyVersion { .. }
            | Action::RevertPolicyVersion { .. } => None,
        })
        .collect()
}

/// Two policy documents grant the same when they are the same JSON (IAM returns documents
/// URL-encoded and re-serialized: text equality would say "changed" for an untouched document).
pub fn same_document(a: &str, b: &str) -> bool {
    let parse = |s: &str| {
        crate::policy::decode(s)
            .ok()
            .and_then(|d| serde_json::from_str::<serde_json::Value>(&d).ok())
    };
    match (parse(a), parse(b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// Whether the live state (`observed`, read for [`lookups`]) is still what the fix left. `Err`
/// says what differs: someone changed it since, and undoing would overwrite their change.
pub fn fix_in_place(record: &UndoRecord, observed: &Observed) -> Result<(), String> {
    fn read<'a, T>(k: Known<'a, T>, what: &str) -> Result<Option<&'a T>, String> {
        match k {
            Known::Present(v) => Ok(Some(v)),
            Known::Absent => Ok(None),
            Known::Unknown => Err(format!("{what} could not be read")),
        }
    }
    for step in &record.steps {
        match &step.action {
            Action::DetachPolicy { principal, policy_arn } => {
                let list = read(observed.attached(principal), &format!("the policies of {principal}"))?
                    .ok_or(format!("{principal} no longer exists"))?;
                if list.contains(policy_arn) {
                    return Err(format!(
                        "{policy_arn} has been attached to {principal} again since the fix"
                    ));
                }
            }
            Action::AttachPolicy { principal, policy_arn } => {
                let list = read(observed.attached(principal), &format!("the policies of {principal}"))?
                    .ok_or(format!("{principal} no longer exists"))?;
                if !list.contains(policy_arn) {
                    return Err(format!("{policy_arn} has been detached from {principal} since the fix"));
                }
            }
            Action::PutInlinePolicy {
                principal,
                policy_name,
                document,
            } => {
                let what = format!("inline policy {policy_name} of {principal}");
                match read(observed.inline_policy(principal, policy_name), &what)? {
                    Some(live) if same_document(live, document) => {}
                    Some(_) => return Err(format!("{what} has changed since the fix")),
                    None => return Err(format!("{what} has been deleted since the fix")),
                }
            }
            Action::DeleteInlinePolicy { principal, policy_name } => {
                let what = format!("inline policy {policy_name} of {principal}");
                if read(observed.inline_policy(principal, policy_name), &what)?.is_some() {
                    return Err(format!("{what} has been put back since the fix"));
                }
            }
            Action::CreatePolicyVersion {
                policy_arn,
                document,
                set_as_default: true,
            } => {
                let what = format!("the default version of {policy_arn}");
                match read(observed.managed_policy(policy_arn), &what)? {
                    Some(m) if same_document(&m.document, document) => {}
                    Some(_) => return Err(format!("{what} has changed since the fix")),
                    None => return Err(format!("{policy_arn} has been deleted since the fix")),
                }
            }
            Action::UpdateAssumeRolePolicy { role_name, document } => {
                let role = PrincipalRef {
                    kind: crate::finding::PrincipalKind::Role,
                    name: role_name.clone(),
                };
                let what = format!("the trust policy of role {role_name}");
                match read(observed.principal(&role), &what)? {
                    Some(info) if info.trust_policy.as_deref().is_some_and(|t| same_document(t, document)) => {}
                    Some(_) => return Err(format!("{what} has changed since the fix")),
                    None => return Err(format!("role {role_name} no longer exists")),
                }
            }
            Action::SetAccessKeyStatus {
                user_name,
                access_key_id,
                active,
            } => {
                let keys = read(
                    observed.access_keys(user_name),
                    &format!("the access keys of {user_name}"),
                )?
                .ok_or(format!("user {user_name} no longer exists"))?;
                match keys.iter().find(|k| &k.id == access_key_id) {
                    Some(k) if k.active == *active => {}
                    Some(_) => return Err(format!("access key {access_key_id} has changed status since the fix")),
                    None => return Err(format!("access key {access_key_id} has been deleted since the fix")),
                }
            }
            Action::TagResource { resource, tags } => {
                let live = read(observed.tags(resource), &format!("the tags of {resource}"))?
                    .ok_or(format!("{resource} no longer exists"))?;
                if let Some((k, _)) = tags.iter().find(|(k, v)| live.get(*k) != Some(*v)) {
                    return Err(format!("tag {k} of {resource} has changed since the fix"));
                }
            }
            Action::UntagResource { resource, keys } => {
                let live = read(observed.tags(resource), &format!("the tags of {resource}"))?
                    .ok_or(format!("{resource} no longer exists"))?;
                if let Some(k) = keys.iter().find(|k| live.contains_key(*k)) {
                    return Err(format!("tag {k} of {resource} has been set again since the fix"));
                }
            }
            // The version steps of a rewrite are checked through its new default version's
            // document (`CreatePolicyVersion` above, in the same record).
            Action::CreatePolicyVersion { .. }
            | Action::SetDefaultPolicyVersion { .. }
            | Action::DeletePolicyVersion { .. }
            | Action::RevertPolicyVersion { .. } => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::StepResult;
    use crate::finding::PrincipalKind;

    fn role() -> PrincipalRef {
        PrincipalRef {
            kind: PrincipalKind::Role,
            name: "app".into(),
        }
    }

    fn put(doc: &str) -> Action {
        Action::PutInlinePolicy {
            principal: role(),
            policy_name: "p".into(),
            document: doc.into(),
        }
    }

    fn outcome(verdicts: Vec<usize>, result: StepResult) -> ActionOutcome {
        ActionOutcome {
            verdicts,
            api_call: "PutRolePolicy".into(),
            description: String::new(),
            action: put(r#"{"Statement":[]}"#),
            inverse: put(r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#),
            result,
        }
    }

    fn id(n: &str) -> Option<(String, String, String)> {
        Some((n.into(), "iam-admin-access".into(), "k".into()))
    }

    #[test]
    fn only_applied_steps_are_recorded_per_finding_with_the_findings_they_share() {
        let actions = vec![
            outcome(vec![0, 1], StepResult::Applied),
            outcome(vec![2], StepResult::AlreadyInPlace),
            outcome(vec![3], StepResult::DryRun),
        ];
        let r = records(
            &actions,
            &[id("a"), id("b"), id("c"), id("d")],
            "1",
            "r",
            "aws",
            "e",
            "t",
        );
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].finding_id, "a");
        assert_eq!(r[0].also_serves, vec!["b".to_string()]);
        assert_eq!(r[1].also_serves, vec!["a".to_string()]);
        assert_eq!(inverses(&r[0]).len(), 1);
    }

    #[test]
    fn the_key_is_a_digest_of_the_id() {
        let k = object_key("us-east-1/123456789012/iam-admin-access/ab");
        assert!(k.starts_with("undo/") && k.ends_with(".json") && !k[5..].contains('/'));
        assert_ne!(k, object_key("us-east-1/123456789012/iam-admin-access/ac"));
    }

    /// The record of one applied inline-policy rewrite of finding `a`.
    fn one_record() -> UndoRecord {
        records(
            &[outcome(vec![0], StepResult::Applied)],
            &[id("a")],
            "1",
            "r",
            "aws",
            "e",
            "t",
        )
        .remove(0)
    }

    #[test]
    fn a_fix_changed_since_is_not_undone() {
        let r = one_record();
        assert_eq!(
            lookups(&r).into_iter().collect::<Vec<_>>(),
            vec![Lookup::InlinePolicy {
                principal: role(),
                name: "p".into()
            }]
        );
        let mut o = Observed::default();
        assert!(fix_in_place(&r, &o).unwrap_err().contains("could not be read"));
        // IAM's copy: URL-encoded, spaced differently — the same document.
        o.inline_policies
            .insert((role(), "p".into()), Some("%7B%22Statement%22%3A%20%5B%5D%7D".into()));
        assert_eq!(fix_in_place(&r, &o), Ok(()));
        o.inline_policies.insert(
            (role(), "p".into()),
            Some(r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#.into()),
        );
        assert!(fix_in_place(&r, &o).unwrap_err().contains("changed since the fix"));
        o.inline_policies.insert((role(), "p".into()), None);
        assert!(fix_in_place(&r, &o).unwrap_err().contains("deleted"));
    }

    #[test]
    fn a_record_reads_back() {
        let r = one_record();
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<UndoRecord>(&text).unwrap(), r);
    }
}
