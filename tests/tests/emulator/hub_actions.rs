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

/// A custom action on a member account's finding (the Security Hub administrator's console, in
/// the central account): "Remediate" acts and notes through the member's IAM-rewrite role,
/// "Undo" through its undo role (assumed even though the central function could not make the
/// inverse itself), and the finding's note is written by the member account, which owns it
/// (Security Hub: the finding's account or its administrator).
#[test]
fn in_a_member_account_remediate_uses_its_iam_rewrite_role_and_undo_its_undo_role() {
    integration_tests::on_big_stack(member_account_actions());
}

async fn member_account_actions() {
    const ADMIN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";
    let env = Env::seeded().await;
    let (member, member_sdk) = env.member_with_admin_user("alice").await;
    let b = bucket(&env);
    env.create_bucket(&b).await;
    let vars = [
        ("MODE", "dry-run"),
        ("MEMBER_ROLE_NAME", "compliance-responder-remediation"),
        ("MEMBER_UNDO_ROLE_NAME", "compliance-responder-undo"),
        ("UNDO_RECORD_BUCKET", b.as_str()),
    ];
    let hub = responder_with_env(&env.sdk, &vars);
    // The member's event, recorded in dry-run in the member account.
    let e = env.member_event("cloudtrail/attach-admin-to-user.json", &member.id);
    let (report, _) = env.replay_bytes(&responder_with_env(&env.sdk, &vars), &e).await;
    assert_eq!(report.status, ReportStatus::DryRun, "{report:#?}");
    let id = report
        .findings
        .iter()
        .find(|f| f.rule_id == "iam-admin-access")
        .unwrap()
        .id
        .clone();

    // The sample's finding, made the member's alice's.
    let action = |sample: &str| {
        let mut event: Value = serde_json::from_slice(&env.hub_event(sample)).unwrap();
        let f = &mut event["detail"]["findings"][0];
        let key = format!("arn:aws:iam::{}:user/alice|{ADMIN}", member.id);
        f["AwsAccountId"] = member.id.clone().into();
        f["ProductArn"] = format!("arn:aws:securityhub:us-east-1:{0}:product/{0}/default", member.id).into();
        f["Resources"][0]["Id"] = format!("arn:aws:iam::{}:user/alice", member.id).into();
        f["ProductFields"]["compliance-responder/ResourceKey"] = key.clone().into();
        f["Id"] = compliance_responder::asff::finding_id_in("us-east-1", &member.id, "iam-admin-access", &key).into();
        assert_eq!(f["Id"], id.as_str());
        serde_json::to_vec(&event).unwrap()
    };
    let attached = || async {
        aws_sdk_iam::Client::new(&member_sdk)
            .list_attached_user_policies()
            .user_name("alice")
            .send()
            .await
            .unwrap()
            .attached_policies
            .unwrap_or_default()
            .into_iter()
            .filter_map(|p| p.policy_arn)
            .collect::<Vec<_>>()
    };

    let (report, _) = env.replay_bytes(&hub, &action(REMEDIATE)).await;
    assert_eq!(result(&report, 0).0, HubResult::Applied, "{report:#?}");
    assert!(attached().await.is_empty(), "fixed in the member account");
    let remediation = format!("arn:aws:iam::{}:role/compliance-responder-remediation", member.id);
    let assumed = env.assumed_roles();
    assert!(
        !assumed.is_empty() && assumed.iter().all(|r| *r == remediation),
        "{assumed:?}"
    );
    let note = env.proxy.finding_updates().into_iter().rfind(|u| u.id == id).unwrap();
    assert_eq!(
        (note.by_account.as_str(), note.workflow.as_deref()),
        (member.id.as_str(), Some("RESOLVED"))
    );

    let (report, _) = env.replay_bytes(&hub, &action(UNDO)).await;
    assert_eq!(result(&report, 0).0, HubResult::Undone, "{report:#?}");
    assert_eq!(attached().await, [ADMIN]);
    let undo = format!("arn:aws:iam::{}:role/compliance-responder-undo", member.id);
    assert!(env.assumed_roles().contains(&undo), "{:?}", env.assumed_roles());
    let note = env.proxy.finding_updates().into_iter().rfind(|u| u.id == id).unwrap();
    assert_eq!(
        (note.by_account.as_str(), note.workflow.as_deref()),
        (member.id.as_str(), Some("SUPPRESSED"))
    );
    assert_eq!(
        env.inspect.attached("user", "alice").await,
        [ADMIN],
        "the central account's alice untouched"
    );
    assert!(env.proxy.violations().is_empty(), "{:?}", env.proxy.violations());
}

/// "Remediate" and "Undo" of an `iam-access-key-unused` finding (the sample names frank's key).
/// The finding is recorded FAILED by a dry-run sweep, the keys aged 120 days by the proxy (moto
/// creates keys now). Remediate deactivates frank's key whatever the mode; erin's, as unused but
/// not chosen, is untouched; Undo makes frank's active again. Every call Remediate makes is one
/// the template grants the Security Hub function's role.
#[tokio::test]
async fn remediate_and_undo_an_unused_access_key() {
    use crate::least_privilege::authorized;
    use crate::template::{template_json, RolePolicy};
    use compliance_responder::grants::Decision;
    const SAMPLE: &str = "securityhub/remediate-unused-access-key.json";
    let env = Env::seeded().await;
    let b = bucket(&env);
    env.create_bucket(&b).await;
    let vars = [("MODE", "dry-run"), ("UNDO_RECORD_BUCKET", b.as_str())];
    env.proxy.age_access_keys(120);
    let sweeper =
        integration_tests::responder_for(&env.sdk, &vars, &[compliance_responder::finding::SourceKind::Audit]);
    let scope = compliance_responder::audit::AuditScope {
        account: env.account_id().to_string(),
        region: "us-east-1".into(),
        partition: "aws".into(),
        max_pages: 10,
        resume: None,
        resources: false,
    };
    let swept = Box::pin(sweeper.audit(&scope)).await.unwrap();
    assert!(swept.summary.access_keys_unused >= 2, "{:?}", swept.summary);
    let key_of = |keys: std::collections::BTreeMap<String, String>| keys.into_iter().next().unwrap();
    let (frank, status) = key_of(env.inspect.access_keys("frank").await);
    assert_eq!(status, "Active");
    let erin = env.inspect.access_keys("erin").await;

    let hub = responder_with_env(&env.sdk, &vars);
    env.start_recording();
    let (report, writes) = env.replay_bytes(&hub, &env.hub_event(SAMPLE)).await;
    assert_eq!(report.status, ReportStatus::Remediated, "{report:#?}");
    assert_eq!(result(&report, 0).0, HubResult::Applied, "{report:#?}");
    assert_eq!(
        writes.iter().filter(|w| w.starts_with("iam:")).collect::<Vec<_>>(),
        ["iam:UpdateAccessKey"]
    );
    assert_eq!(env.inspect.access_keys("frank").await[&frank], "Inactive");
    assert_eq!(
        env.inspect.access_keys("erin").await,
        erin,
        "only the chosen finding's key"
    );
    let role = RolePolicy::of(&template_json("template.yaml"), "SecurityHubResponderRole").untagged();
    for (_, action, resource) in authorized(&env.recorded_calls()) {
        assert_eq!(
            role.allows(&action, &resource),
            Decision::Allowed,
            "{action} on {resource}"
        );
    }

    // Undo: the same finding, the other action.
    let mut undo: Value = serde_json::from_slice(&env.hub_event(SAMPLE)).unwrap();
    undo["detail"]["actionName"] = "Undo".into();
    undo["resources"][0] = Value::String(format!(
        "arn:aws:securityhub:us-east-1:{}:action/custom/ComplianceUndo",
        env.account_id()
    ));
    let (report, _) = env.replay_bytes(&hub, &serde_json::to_vec(&undo).unwrap()).await;
    assert_eq!(result(&report, 0).0, HubResult::Undone, "{report:#?}");
    assert_eq!(env.inspect.access_keys("frank").await[&frank], "Active", "undone");
    assert!(env.proxy.violations().is_empty(), "{:?}", env.proxy.violations());
}
