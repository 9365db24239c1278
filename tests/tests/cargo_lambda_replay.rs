//! Local replay exactly as the README describes it: `cargo lambda watch` serves the functions,
//! `cargo lambda invoke --data-file` sends a sample event to each, and each function (the real
//! binary, configured only through environment variables) remediates against moto.

use integration_tests::{free_port, repo_root, Env};
use serde_json::Value;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn cargo_lambda() -> std::path::PathBuf {
    let p = repo_root().join(".tools/venv/bin/cargo-lambda");
    assert!(p.exists(), "cargo-lambda missing: run `make tools` first");
    p
}

struct Watch(std::process::Child);

impl Drop for Watch {
    fn drop(&mut self) {
        // SIGKILL the watcher's process group. Never SIGTERM: cargo-lambda 1.9's shutdown path can
        // fail to find its function's process group and then signal far more than its own
        // processes (seen here: it took down the calling shell).
        if let Ok(pgid) = i32::try_from(self.0.id()) {
            if pgid > 1 {
                // SAFETY: kill(2) with a negative pid signals exactly that process group.
                unsafe { libc::kill(-pgid, libc::SIGKILL) };
            }
        }
        let _ = self.0.wait();
    }
}

/// Invokes `function` with a sample event (its ids mapped to moto's) and returns the report.
fn invoke(env: &Env, port: u16, function: &str, sample: &str) -> Value {
    let file = std::env::temp_dir().join(format!("cargo-lambda-{port}-{}", sample.replace('/', "-")));
    std::fs::write(&file, env.event(sample)).unwrap();
    let out = Command::new(cargo_lambda())
        .args(["lambda", "invoke", function, "--invoke-port", &port.to_string()])
        .arg("--data-file")
        .arg(&file)
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .output()
        .expect("run cargo lambda invoke");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{function} {sample}: invoke failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).expect("the function returns the report as JSON")
}

#[tokio::test]
async fn cargo_lambda_invoke_replays_a_sample_event_to_each_function_against_moto() {
    let env = Env::seeded().await;
    let port = free_port();
    // moto has no BatchUpdateFindings: the GuardDuty note is switched off here (the GuardDuty
    // replay tests cover it with aws-smithy-mocks).
    let mut env_vars = vec![
        "MODE=remediate".to_string(),
        "LOG_LEVEL=info".to_string(),
        "ANNOTATE_SOURCE_FINDINGS=false".to_string(),
    ];
    env_vars.extend(env.moto.child_env().into_iter().map(|(k, v)| format!("{k}={v}")));
    let log = std::fs::File::create(std::env::temp_dir().join(format!("cargo-lambda-watch-{port}.log"))).unwrap();
    let child = Command::new(cargo_lambda())
        .args([
            "lambda",
            "watch",
            "--ignore-changes",
            "--invoke-port",
            &port.to_string(),
        ])
        .arg("--env-vars")
        .arg(env_vars.join(","))
        .current_dir(repo_root())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .process_group(0)
        .spawn()
        .expect("start cargo lambda watch");
    let _watch = Watch(child);

    let deadline = Instant::now() + Duration::from_secs(600);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "cargo lambda watch did not listen on {port}");
        std::thread::sleep(Duration::from_millis(200));
    }

    let report = invoke(
        &env,
        port,
        "cloudtrail-responder",
        "cloudtrail/attach-admin-to-user.json",
    );
    assert_eq!(report["status"], "remediated", "{report:#}");
    assert_eq!(report["mode"], "remediate");
    assert_eq!(report["actions"][0]["api_call"], "iam:DetachUserPolicy");
    assert!(
        env.inspect.attached("user", "alice").await.is_empty(),
        "AdministratorAccess still attached"
    );

    let report = invoke(
        &env,
        port,
        "guardduty-responder",
        "guardduty/iam-user-credential-access.json",
    );
    assert_eq!(report["status"], "remediated", "{report:#}");
    assert_eq!(report["actions"][0]["api_call"], "iam:UpdateAccessKey");
    let key = env.ids.real("AKIAEXAMPLEERIN00001").to_string();
    assert_eq!(env.inspect.access_keys("erin").await[&key], "Inactive");

    let report = invoke(
        &env,
        port,
        "config-responder",
        "config/compliance-required-tags-bucket.json",
    );
    assert_eq!(report["status"], "remediated", "{report:#}");
    assert_eq!(report["actions"][0]["api_call"], "tag:TagResources");
    assert_eq!(
        env.inspect.tags("arn:aws:s3:::finance-exports").await["CostCenter"],
        "unassigned"
    );

    // Each function takes only its own events.
    let report = invoke(&env, port, "config-responder", "guardduty/root-credential-usage.json");
    assert_eq!(report["status"], "rejected", "{report:#}");
    assert_eq!(report["input_error"]["kind"], "unsupported-event");

    let findings = env.inspect.findings().await;
    assert_eq!(findings.len(), 3, "{findings:#?}");
    assert!(findings.iter().all(|f| f.compliance == "PASSED"), "{findings:#?}");
}
