//! `responder undo REPORT.json` puts back what a remediation changed, against moto.

use compliance_responder::{Mode, ReportStatus};
use integration_tests::{responder, Env};
use std::process::Command;

pub(crate) fn responder_bin() -> std::path::PathBuf {
    // target/<profile>/deps/<this test> → target/<profile>/responder
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().and_then(|d| d.parent()).unwrap().join("responder");
    assert!(
        bin.exists(),
        "{} not built (cargo test --workspace builds it)",
        bin.display()
    );
    bin
}

/// Runs `responder undo FILE ARGS…` against the emulator and asserts it succeeded.
pub(crate) fn undo_succeeds(env: &Env, file: &std::path::Path, args: &[&str]) {
    let out = Command::new(responder_bin())
        .arg("undo")
        .arg(file)
        .args(args)
        .envs(env.child_env())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn undo_restores_what_the_remediation_changed() {
    let env = Env::seeded().await;
    let inspect = &env.inspect;
    let original = inspect
        .inline_document("role", "data-pipeline", "pipeline-access")
        .await;
    let r = responder(&env.sdk, Mode::Remediate);
    let dir = std::env::temp_dir().join(format!("responder-undo-{}-{}", std::process::id(), env.account_id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (event, name) in [
        ("attach-admin-to-user.json", "alice"),
        ("put-inline-mixed-admin.json", "pipeline"),
    ] {
        let report = r.handle_bytes(&env.event(&format!("cloudtrail/{event}"))).await;
        assert_eq!(report.status, ReportStatus::Remediated);
        std::fs::write(dir.join(format!("{name}.json")), serde_json::to_vec(&report).unwrap()).unwrap();
    }
    assert!(inspect.attached("user", "alice").await.is_empty());

    for name in ["alice", "pipeline"] {
        let out = Command::new(responder_bin())
            .arg("undo")
            .arg(dir.join(format!("{name}.json")))
            .envs(env.child_env())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains("\"applied\""), "{stdout}");
    }
    assert_eq!(
        inspect.attached("user", "alice").await,
        ["arn:aws:iam::aws:policy/AdministratorAccess"]
    );
    assert_eq!(
        inspect
            .inline_document("role", "data-pipeline", "pipeline-access")
            .await,
        original
    );
    // A person undid them: their findings are suppressed, so the next event does not fix them
    // again (the contract proxy answers BatchUpdateFindings, which moto lacks).
    let suppressed: Vec<String> = env
        .proxy
        .finding_updates()
        .into_iter()
        .filter(|u| u.workflow.as_deref() == Some("SUPPRESSED"))
        .map(|u| u.id)
        .collect();
    assert!(suppressed.len() >= 2, "{suppressed:?}");
    let remediate = responder(&env.sdk, Mode::Remediate);
    let (_, writes) = env
        .replay_bytes(&remediate, &env.event("cloudtrail/put-inline-mixed-admin.json"))
        .await;
    assert!(writes.iter().all(|w| !w.starts_with("iam:")), "{writes:?}");

    // A report with nothing applied undoes nothing; a broken one is refused.
    std::fs::write(dir.join("empty.json"), r#"{"actions":[]}"#).unwrap();
    let out = Command::new(responder_bin())
        .arg("undo")
        .arg(dir.join("empty.json"))
        .envs(env.child_env())
        .output()
        .unwrap();
    assert!(out.status.success());
    std::fs::write(
        dir.join("broken.json"),
        r#"{"actions":[{"result":"applied","inverse":{"action":"launch-rockets"}}]}"#,
    )
    .unwrap();
    let out = Command::new(responder_bin())
        .arg("undo")
        .arg(dir.join("broken.json"))
        .envs(env.child_env())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A rewrite of a managed policy at IAM's five versions deletes the oldest and creates the new
/// default; undoing it must first remove the version the fix created (else IAM refuses to
/// re-create the deleted one: `LimitExceeded`), then put the old default and the deleted version
/// back. The versions' documents and the default are as before.
#[tokio::test]
async fn undo_of_a_rewrite_at_five_versions_restores_every_version() {
    let env = Env::seeded().await;
    let arn = format!("arn:aws:iam::{}:policy/DeployTools", env.account_id());
    let before = env.inspect.version_documents(&arn).await;
    assert_eq!(before.len(), 5, "the sample's policy is at IAM's limit");
    let r = responder(&env.sdk, Mode::Remediate);
    let report = r
        .handle_bytes(&env.event("cloudtrail/create-policy-version-escalation.json"))
        .await;
    assert_eq!(report.status, ReportStatus::Remediated, "{report:#?}");
    assert_ne!(env.inspect.version_documents(&arn).await, before);
    let file = std::env::temp_dir().join(format!("responder-undo-versions-{}.json", env.account_id()));
    std::fs::write(&file, serde_json::to_vec(&report).unwrap()).unwrap();
    undo_succeeds(&env, &file, &[]);
    let _ = std::fs::remove_file(&file);
    assert_eq!(env.inspect.version_documents(&arn).await, before);
}

/// In a member account a fix is undone as that account's undo role (issue 16: the functions'
/// roles are denied the inverses that re-open a risk): `responder undo --role-arn` assumes it and
/// puts back what the IAM-rewrite role changed there, and nothing in the central account.
#[test]
fn undo_in_a_member_account_runs_as_its_undo_role() {
    integration_tests::on_big_stack(undo_in_member_account());
}

async fn undo_in_member_account() {
    const ADMIN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";
    let env = Env::seeded().await;
    let (member, member_sdk) = env.member_with_admin_user("alice").await;
    let iam = aws_sdk_iam::Client::new(&member_sdk);
    let r = integration_tests::responder_with_env(
        &env.sdk,
        &[
            ("MODE", "remediate"),
            ("MEMBER_ROLE_NAME", "compliance-responder-remediation"),
        ],
    );
    let report = r
        .handle_bytes(&env.member_event("cloudtrail/attach-admin-to-user.json", &member.id))
        .await;
    assert_eq!(report.status, ReportStatus::Remediated, "{report:#?}");
    let attached = |iam: aws_sdk_iam::Client| async move {
        iam.list_attached_user_policies()
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
    assert!(attached(iam.clone()).await.is_empty(), "fixed in the member account");

    let file = std::env::temp_dir().join(format!("responder-undo-member-{}.json", member.id));
    std::fs::write(&file, serde_json::to_vec(&report).unwrap()).unwrap();
    let undo_role = format!("arn:aws:iam::{}:role/compliance-responder-undo", member.id);
    env.start_recording();
    undo_succeeds(&env, &file, &["--role-arn", &undo_role]);
    let _ = std::fs::remove_file(&file);
    assert_eq!(env.assumed_roles(), [undo_role]);
    assert_eq!(attached(iam).await, [ADMIN]);
    assert_eq!(
        env.inspect.attached("user", "alice").await,
        [ADMIN],
        "the central account's alice was never touched"
    );

    // --external-id without a role, or an unknown flag, is a usage error.
    for args in [&["--external-id", "x"][..], &["--role"][..]] {
        let out = Command::new(responder_bin())
            .arg("undo")
            .arg("report.json")
            .args(args)
            .envs(env.child_env())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}
