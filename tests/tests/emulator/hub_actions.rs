//! Security Hub custom actions ("Security Hub Findings - Custom Action" events) replayed against
//! moto: a person's "Remediate" applies a finding's fix whatever the rule's mode, "Undo" applies
//! the inverse recorded when the fix was made. moto has no `BatchUpdateFindings`: the contract
//! proxy answers it under AWS's rules (the finding's own account, in its region) and keeps the
//! workflow status that `GetFindings` then reports.

use compliance_responder::report::HubResult;
use compliance_responder::ReportStatus;
use integration_tests::{responder_with_env, Env};
use serde_json::Value;

const REMEDIATE: &str = "securityhub/remediate-inline-admin.json";
const UNDO: &str = "securityhub/undo-inline-admin.json";
const PUT_INLINE: &str = "cloudtrail/put-inline-mixed-admin.json";

fn bucket(env: &Env) -> String {
    format!("cr-undo-records-{}", env.account_id())
}

/// The admin statement of data-pipeline's inline policy (the sample's finding).
async fn has_admin_statement(env: &Env) -> bool {
    let doc = env
        .inspect
        .inline_document("role", "data-pipeline", "pipeline-access")
        .await;
    doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["Action"] == "*" || s["Action"] == Value::Array(vec!["*".into()]))
}

fn result(report: &compliance_responder::Report, i: usize) -> (HubResult, String) {
    let h = report.hub_action.as_ref().expect("a custom action report");
    (h.findings[i].result, h.findings[i].detail.clone())
}

/// The state a test starts from: the finding recorded FAILED by a dry-run event, as an analyst
/// would see it in Security Hub.
async fn recorded_in_dry_run(env: &Env, vars: &[(&str, &str)]) -> String {
    env.create_bucket(&bucket(env)).await;
    let dry = responder_with_env(&env.sdk, vars);
    let (report, _) = env.replay_bytes(&dry, &env.event(PUT_INLINE)).await;
    assert_eq!(report.status, ReportStatus::DryRun, "{report:#?}");
    report
        .findings
        .iter()
        .find(|f| f.rule_id == "iam-admin-access")
        .expect("the admin finding")
        .id
        .clone()
}

#[tokio::test]
async fn remediate_applies_a_dry_run_fix_and_undo_restores_exactly_what_it_changed() {
    let env = Env::seeded().await;
    let b = bucket(&env);
    let vars = [("MODE", "dry-run"), ("UNDO_RECORD_BUCKET", b.as_str())];
    let id = recorded_in_dry_run(&env, &vars).await;
    let before = env
        .inspect
        .inline_document("role", "data-pipeline", "pipeline-access")
        .await;
    let hub = responder_with_env(&env.sdk, &vars);

    // Remediate: the rule is in dry-run, the person's choice applies the fix.
    let (report, writes) = env.replay_bytes(&hub, &env.hub_event(REMEDIATE)).await;
    assert_eq!(report.status, ReportStatus::Remediated, "{report:#?}");
    assert_eq!(result(&report, 0).0, HubResult::Applied, "{report:#?}");
    assert_eq!(report.hub_action.as_ref().unwrap().findings[0].finding_id, id);
    // The GuardDuty finding selected with it is not this product's: ignored, nothing written.
    let (ignored, why) = result(&report, 1);
    assert_eq!(ignored, HubResult::Ignored);
    assert!(why.contains("not a finding of this product"), "{why}");
    assert!(!has_admin_statement(&env).await, "the admin statement is still there");
    assert_eq!(
        writes.iter().filter(|w| w.starts_with("iam:")).collect::<Vec<_>>(),
        ["iam:PutRolePolicy"]
    );
    assert!(
        writes.iter().any(|w| w.starts_with("s3:PUT /")),
        "the undo record: {writes:?}"
    );
    let finding = env.inspect.findings().await.into_iter().find(|f| f.id == id).unwrap();
    assert_eq!(finding.compliance, "PASSED");
    let notes = env.proxy.finding_updates();
    let note = notes.iter().find(|u| u.id == id).expect("a note on the finding");
    assert_eq!(note.workflow.as_deref(), Some("RESOLVED"));
    assert!(note.note.as_deref().unwrap().contains("Remediate: fixed"), "{note:?}");

    // Undo: the recorded inverse, the finding suppressed first and recorded FAILED again.
    let (report, writes) = env.replay_bytes(&hub, &env.hub_event(UNDO)).await;
    assert_eq!(result(&report, 0).0, HubResult::Undone, "{report:#?}");
    assert_eq!(report.status, ReportStatus::Remediated, "{report:#?}");
    assert_eq!(
        writes.iter().filter(|w| w.starts_with("iam:")).collect::<Vec<_>>(),
        ["iam:PutRolePolicy"]
    );
    assert_eq!(
        env.inspect
            .inline_document("role", "data-pipeline", "pipeline-access")
            .await,
        before
    );
    let finding = env.inspect.findings().await.into_iter().find(|f| f.id == id).unwrap();
    assert_eq!(finding.compliance, "FAILED");
    let last = env.proxy.finding_updates().into_iter().rfind(|u| u.id == id).unwrap();
    assert_eq!(last.workflow.as_deref(), Some("SUPPRESSED"));
    assert!(last.note.as_deref().unwrap().contains("undone"), "{last:?}");

    // Suppressed: an event in remediate mode does not fix it again.
    let remediate = responder_with_env(&env.sdk, &[("MODE", "remediate"), ("UNDO_RECORD_BUCKET", b.as_str())]);
    let (_, writes) = env.replay_bytes(&remediate, &env.event(PUT_INLINE)).await;
    assert!(writes.iter().all(|w| !w.starts_with("iam:")), "{writes:?}");
    assert!(has_admin_statement(&env).await);

    // A second Undo finds the fix no longer in place: refused, nothing written.
    let (report, writes) = env.replay_bytes(&hub, &env.hub_event(UNDO)).await;
    let (refused, why) = result(&report, 0);
    assert_eq!(refused, HubResult::Refused, "{report:#?}");
    assert!(why.contains("changed since the fix"), "{why}");
    assert!(writes.iter().all(|w| !w.starts_with("iam:")), "{writes:?}");
    assert!(env.proxy.violations().is_empty(), "{:?}", env.proxy.violations());
}

#[tokio::test]
async fn the_kill_switch_and_protected_principals_still_win_over_a_persons_remediate() {
    let env = Env::seeded().await;
    let b = bucket(&env);
    let switch = format!("/cr-{}/kill-switch", env.account_id());
    env.put_parameter(&switch, "on").await;
    let vars = [
        ("MODE", "dry-run"),
        ("UNDO_RECORD_BUCKET", b.as_str()),
        ("KILL_SWITCH_PARAMETER", switch.as_str()),
    ];
    recorded_in_dry_run(&env, &vars).await;
    let hub = responder_with_env(&env.sdk, &vars);
    let (report, writes) = env.replay_bytes(&hub, &env.hub_event(REMEDIATE)).await;
    let (r, why) = result(&report, 0);
    assert_eq!(r, HubResult::NotApplied, "{report:#?}");
    assert!(why.contains("kill switch"), "{why}");
    assert!(writes.iter().all(|w| !w.starts_with("iam:")), "{writes:?}");
    assert!(has_admin_statement(&env).await);
    let note = env.proxy.finding_updates().pop().unwrap();
    assert_eq!(note.workflow.as_deref(), Some("NOTIFIED"));

    let protected = [
        ("MODE", "dry-run"),
        ("UNDO_RECORD_BUCKET", b.as_str()),
        ("PROTECTED_PRINCIPALS", "arn:aws:iam::*:role/data-*"),
    ];
    let hub = responder_with_env(&env.sdk, &protected);
    let (report, writes) = env.replay_bytes(&hub, &env.hub_event(REMEDIATE)).await;
    let (r, why) = result(&report, 0);
    assert_eq!(r, HubResult::NotApplied, "{report:#?}");
    assert!(why.contains("protected"), "{why}");
    assert!(writes.iter().all(|w| !w.starts_with("iam:")), "{writes:?}");
    assert!(has_admin_statement(&env).await);
}

#[tokio::test]
async fn undo_without_a_record_or_of_a_forged_finding_writes_nothing() {
    let env = Env::seeded().await;
    let b = bucket(&env);
    let vars = [("MODE", "dry-run"), ("UNDO_RECORD_BUCKET", b.as_str())];
    let id = recorded_in_dry_run(&env, &vars).await;
    let hub = responder_with_env(&env.sdk, &vars);

    // Nothing was fixed: nothing on record.
    let (report, writes) = env.replay_bytes(&hub, &env.hub_event(UNDO)).await;
    let (r, why) = result(&report, 0);
    assert_eq!(r, HubResult::Refused, "{report:#?}");
    assert!(why.contains("no fix of this finding is on record"), "{why}");
    assert!(writes.iter().all(|w| !w.starts_with("iam:")), "{writes:?}");

    // A finding whose Id is not the one its rule and key give (someone imported a look-alike
    // naming another role): ignored before anything is read.
    let mut event: Value = serde_json::from_slice(&env.hub_event(REMEDIATE)).unwrap();
    let f = &mut event["detail"]["findings"][0];
    let key = f["ProductFields"]["compliance-responder/ResourceKey"]
        .as_str()
        .unwrap()
        .to_string();
    f["ProductFields"]["compliance-responder/ResourceKey"] = Value::String(key.replace("data-pipeline", "ci-deployer"));
    assert_eq!(f["Id"], id.as_str());
    let (report, writes) = env.replay_bytes(&hub, &serde_json::to_vec(&event).unwrap()).await;
    assert_eq!(report.status, ReportStatus::Ignored, "{report:#?}");
    let (r, why) = result(&report, 0);
    assert_eq!(r, HubResult::Ignored);
    assert!(why.contains("not written by this product"), "{why}");
    assert!(writes.is_empty(), "{writes:?}");

    // Without a record bucket, Undo says so.
    let plain = responder_with_env(&env.sdk, &[("MODE", "dry-run")]);
    let (report, _) = env.replay_bytes(&plain, &env.hub_event(UNDO)).await;
    let (r, why) = result(&report, 0);
    assert_eq!(r, HubResult::Refused);
    assert!(why.contains("UNDO_RECORD_BUCKET"), "{why}");
    // The other functions do not take custom actions.
    let cloudtrail_only = compliance_responder::Responder::from_sdk_config(
        compliance_responder::Config::default(),
        &[compliance_responder::finding::SourceKind::CloudTrail],
        &env.sdk,
    );
    let (report, _) = env.replay_bytes(&cloudtrail_only, &env.hub_event(UNDO)).await;
    assert_eq!(report.status, ReportStatus::Rejected, "{report:#?}");
}
