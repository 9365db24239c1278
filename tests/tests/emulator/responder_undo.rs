//! `responder undo REPORT.json` puts back what a remediation changed, against moto.

use compliance_responder::{Mode, ReportStatus};
use integration_tests::{responder, Env};
use std::process::Command;

fn responder_bin() -> std::path::PathBuf {
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
