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
    format!("undo/{}.json", hex(&Sha256::digest(finding_id.as_bytes())))
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

/// Where the markers of the versions the responder kept are (`undo/kept/<account>/`): when a
/// rewrite makes a new default version of a customer-managed policy, the version it replaced stays
/// as a non-default one, for undo. A marker names the policy (the digest of its ARN), the version
/// and the digest of its document, so the sweep tells the responder's own kept versions from a
/// dormant grant someone else made, whatever its shape: only a version with that id *and* that
/// document is the responder's. Written with the undo records (same writers, same bucket).
pub fn kept_prefix(account: &str) -> String {
    format!("undo/kept/{account}/")
}

/// The marker key of version `version_id` of `policy_arn`, whose document has digest
/// `document_sha256` ([`document_digest`]).
pub fn kept_key(account: &str, policy_arn: &str, version_id: &str, document_sha256: &str) -> String {
    format!(
        "{}{}/{version_id}/{document_sha256}.json",
        kept_prefix(account),
        hex(&Sha256::digest(policy_arn.as_bytes()))
    )
}

/// What a kept-version marker says (its body; the sweep reads only the keys).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptVersion {
    pub policy_arn: String,
    pub version_id: String,
    pub document_sha256: String,
    /// The finding whose fix replaced it as the default.
    pub finding_id: String,
    pub applied_at: String,
}

impl KeptVersion {
    pub fn key(&self, account: &str) -> String {
        kept_key(account, &self.policy_arn, &self.version_id, &self.document_sha256)
    }
}

/// The digest of a policy document as IAM grants it: URL-decoded, parsed, keys in order (IAM
/// returns a stored document re-serialized, so its text is not what was written). `None` when it
/// is not JSON.
pub fn document_digest(document: &str) -> Option<String> {
    fn canonical(v: &serde_json::Value, out: &mut String) {
        match v {
            serde_json::Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::Value::String(k.clone()).to_string());
                    out.push(':');
                    canonical(&map[k], out);
                }
                out.push('}');
            }
            serde_json::Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    canonical(item, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let text = crate::policy::decode(document).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    let mut out = String::with_capacity(text.len());
    canonical(&value, &mut out);
    Some(hex(&Sha256::digest(out.as_bytes())))
}

/// The versions the applied rewrites among `actions` kept (the default each replaced), with the
/// documents read before the fix (`observed`).
pub fn kept_versions(
    actions: &[ActionOutcome],
    observed: &Observed,
    finding_id: &dyn Fn(&[usize]) -> Option<String>,
    applied_at: &str,
) -> Vec<KeptVersion> {
    actions
        .iter()
        .filter(|a| matches!(a.result, crate::executor::StepResult::Applied))
        .filter_map(|a| match &a.inverse {
            Action::RevertPolicyVersion {
                policy_arn, version_id, ..
            } => {
                let Known::Present(policy) = observed.managed_policy(policy_arn) else {
                    return None;
                };
                (policy.default_version_id == *version_id).then_some(())?;
                Some(KeptVersion {
                    policy_arn: policy_arn.clone(),
                    version_id: version_id.clone(),
                    document_sha256: document_digest(&policy.document)?,
                    finding_id: finding_id(&a.verdicts)?,
                    applied_at: applied_at.to_string(),
                })
            }
            _ => None,
        })
        .collect()
}

/// The kept-version markers of one account, as listed (keys only): per policy ARN digest and
/// version id, the digests of the documents the responder kept under that id.
#[derive(Debug, Clone, Default)]
pub struct KeptIndex(std::collections::BTreeMap<(String, String), Vec<String>>);

impl KeptIndex {
    /// From the keys listed under [`kept_prefix`]`(account)`; keys of another form are ignored.
    pub fn from_keys(account: &str, keys: &[String]) -> Self {
        let prefix = kept_prefix(account);
        let mut index = std::collections::BTreeMap::<(String, String), Vec<String>>::new();
        for key in keys {
            let Some(rest) = key.strip_prefix(&prefix) else {
                continue;
            };
            let mut parts = rest.split('/');
            let (Some(policy), Some(version), Some(file), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let Some(digest) = file.strip_suffix(".json") else {
                continue;
            };
            index
                .entry((policy.to_string(), version.to_string()))
                .or_default()
                .push(digest.to_string());
        }
        KeptIndex(index)
    }

    /// The document digests the responder kept as version `version_id` of `policy_arn`.
    pub fn digests(&self, policy_arn: &str, version_id: &str) -> Vec<String> {
        let policy = hex(&Sha256::digest(policy_arn.as_bytes()));
        self.0
            .get(&(policy, version_id.to_string()))
            .cloned()
            .unwrap_or_default()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::StepResult;
    use crate::finding::PrincipalKind;

    /// A kept version's digest is the document IAM grants: the same however IAM spells it back
    /// (URL-encoded, keys reordered, whitespace), another for any other grant.
    #[test]
    fn a_documents_digest_is_what_it_grants_not_how_it_is_spelled() {
        let a = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
        let b = "{ \"Statement\": [ {\"Resource\": \"*\", \"Action\": \"*\", \"Effect\": \"Allow\"} ],\n \"Version\": \"2012-10-17\" }";
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22%2A%22%2C%22Resource%22%3A%22%2A%22%7D%5D%7D";
        let d = document_digest(a).unwrap();
        assert_eq!(document_digest(b).as_deref(), Some(d.as_str()));
        assert_eq!(document_digest(encoded).as_deref(), Some(d.as_str()));
        assert_ne!(
            document_digest(&a.replace("\"*\",\"Resource", "\"s3:*\",\"Resource")).unwrap(),
            d
        );
        assert_eq!(document_digest("not json"), None);
    }

    /// The sweep finds a marker by policy, version id and digest, and by nothing less: another
    /// version id, another account or a key of another form names no kept version.
    #[test]
    fn kept_markers_are_found_by_policy_version_and_digest() {
        let policy = "arn:aws:iam::111122223333:policy/team/P";
        let kept = KeptVersion {
            policy_arn: policy.into(),
            version_id: "v1".into(),
            document_sha256: "ab".repeat(32),
            finding_id: "f".into(),
            applied_at: "2026-12-07T00:00:00Z".into(),
        };
        let keys = vec![
            kept.key("111122223333"),
            kept.key("444455556666"),
            "undo/kept/111122223333/garbage".to_string(),
            format!("{}extra/part", kept.key("111122223333")),
            object_key("some finding"),
        ];
        let index = KeptIndex::from_keys("111122223333", &keys);
        assert_eq!(index.digests(policy, "v1"), vec!["ab".repeat(32)]);
        assert!(index.digests(policy, "v2").is_empty());
        assert!(index
            .digests("arn:aws:iam::111122223333:policy/team/Q", "v1")
            .is_empty());
        assert!(kept.key("111122223333").starts_with(&kept_prefix("111122223333")));
    }

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
