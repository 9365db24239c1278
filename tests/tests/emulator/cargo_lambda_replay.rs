//! Local replay as the README describes it: `cargo lambda watch` serves the Lambda Runtime API,
//! `cargo lambda invoke --data-file` sends a sample event to each function, and each function (the
//! real binary, configured only through environment variables) remediates against moto.
//!
//! The functions are the workspace's own debug binaries, run by the test against
//! `cargo lambda watch --only-lambda-apis` (one Runtime API path per function name), rather than
//! built by `cargo lambda watch` itself: its build of the function packages alone resolves other
//! dependency features than the test build (dev-dependencies turn on serde, tokio and SDK
//! features) and so compiled the whole SDK a second time (~5 minutes per run). The binaries are
//! built by `cargo build --workspace --bins --tests`, which resolves the same features as
//! `cargo test --workspace` and so reuses everything it compiled.

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

const FUNCTIONS: [&str; 5] = [
    "cloudtrail-responder",
    "tagging-responder",
    "config-responder",
    "guardduty-responder",
    "securityhub-responder",
];

/// The running Runtime API and functions, all ended on drop.
struct Watch {
    watch: std::process::Child,
    functions: Vec<std::process::Child>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        for f in &mut self.functions {
            let _ = f.kill();
            let _ = f.wait();
        }
        // SIGKILL the watcher's process group. Never SIGTERM: cargo-lambda 1.9's shutdown path can
        // fail to find its function's process group and then signal far more than its own
        // processes (seen here: it took down the calling shell).
        if let Ok(pgid) = i32::try_from(self.watch.id()) {
            if pgid > 1 {
                // SAFETY: kill(2) with a negative pid signals exactly that process group.
                unsafe { libc::kill(-pgid, libc::SIGKILL) };
            }
        }
        let _ = self.watch.wait();
    }
}

/// Builds the four function binaries with the test build's features (a no-op but for the
/// links when `cargo test --workspace` has just compiled the workspace) and returns their folder.
fn function_binaries() -> std::path::PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["build", "--quiet", "--workspace", "--bins", "--tests"])
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .output()
        .expect("run cargo build");
    assert!(
        out.status.success(),
        "cargo build --workspace --bins --tests failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // target/<profile>/deps/<this test> → target/<profile>/
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|d| d.parent()).unwrap().to_path_buf();
    for f in FUNCTIONS {
        assert!(dir.join(f).exists(), "{} not built", dir.join(f).display());
    }
    dir
}

/// Invokes `function` with a sample event (its ids mapped to moto's) and returns the report.
fn invoke(env: &Env, port: u16, function: &str, sample: &str) -> Value {
    let event = if sample.starts_with("securityhub/") {
        env.hub_event(sample)
    } else {
        env.event(sample)
    };
    let file = std::env::temp_dir().join(format!("cargo-lambda-{port}-{}", sample.replace('/', "-")));
    std::fs::write(&file, event).unwrap();
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
    // The allow-list comes from SSM parameters read at init (SETTINGS_PARAMETER_PATH): the
    // functions start, and act on this account, only if they read it.
    let path = format!("/cr-{}/settings", env.account_id());
    for (name, value) in [("1", env.account_id()), ("2", "210987654321")] {
        env.put_parameter(&format!("{path}/ALLOWED_ACCOUNTS/{name}"), value)
            .await;
    }
    // GuardDuty's own finding, as its integration would have imported it into Security Hub: the
    // proxy answers BatchUpdateFindings (moto has none) for the finding's own account.
    let gd: Value = serde_json::from_slice(&env.event("guardduty/iam-user-credential-access.json")).unwrap();
    let gd_arn = gd["detail"]["arn"].as_str().unwrap().to_string();
    env.proxy.seed_finding(
        "arn:aws:securityhub:us-east-1::product/aws/guardduty",
        &gd_arn,
        env.account_id(),
        "us-east-1",
    );
    let bucket = format!("cr-undo-records-{}", env.account_id());
    env.create_bucket(&bucket).await;
    let mut vars: Vec<(String, String)> = [
        ("MODE", "remediate"),
        ("LOG_LEVEL", "info"),
        ("SETTINGS_PARAMETER_PATH", path.as_str()),
        ("UNDO_RECORD_BUCKET", bucket.as_str()),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    vars.extend(env.child_env());
    let bin = function_binaries();
    let log = |name: &str| {
        std::fs::File::create(std::env::temp_dir().join(format!("cargo-lambda-{port}-{name}.log"))).unwrap()
    };
    let watch_log = log("watch");
    let watch = Command::new(cargo_lambda())
        .args([
            "lambda",
            "watch",
            "--only-lambda-apis",
            "--invoke-port",
            &port.to_string(),
        ])
        .current_dir(repo_root())
        .stdout(watch_log.try_clone().unwrap())
        .stderr(watch_log)
        .process_group(0)
        .spawn()
        .expect("start cargo lambda watch");
    let mut watch = Watch {
        watch,
        functions: Vec::new(),
    };

    let deadline = Instant::now() + Duration::from_secs(120);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "cargo lambda watch did not listen on {port}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // Each function polls its own path of the Runtime API, as cargo lambda watch starts them.
    for name in FUNCTIONS {
        let out = log(name);
        let child = Command::new(bin.join(name))
            .env_clear()
            .envs(vars.iter().cloned())
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", format!("http://127.0.0.1:{port}/.rt/{name}"))
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("start function");
        watch.functions.push(child);
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
    assert_eq!(report["source_finding"]["result"], "updated", "{report:#}");
    let notes = env.proxy.finding_updates();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(
        (notes[0].id.as_str(), notes[0].workflow.as_deref()),
        (gd_arn.as_str(), Some("RESOLVED"))
    );

    let report = invoke(
        &env,
        port,
        "config-responder",
        "config/compliance-required-tags-bucket.json",
    );
    assert_eq!(report["status"], "remediated", "{report:#}");
    assert_eq!(report["actions"][0]["api_call"], "tag:TagResources");
    assert_eq!(
        env.inspect
            .tags(&format!("arn:aws:s3:::{}", env.ids.real("finance-exports")))
            .await["CostCenter"],
        "unassigned"
    );

    let report = invoke(&env, port, "tagging-responder", "cloudtrail/create-bucket.json");
    assert_eq!(report["status"], "remediated", "{report:#}");
    assert_eq!(
        env.inspect
            .tags(&format!("arn:aws:s3:::{}", env.ids.real("team-data-lake-raw")))
            .await["Owner"],
        "jane@example.com"
    );

    // Each function takes only its own events (the tagging function no IAM calls).
    let report = invoke(&env, port, "config-responder", "guardduty/root-credential-usage.json");
    assert_eq!(report["status"], "rejected", "{report:#}");
    assert_eq!(report["input_error"]["kind"], "unsupported-event");
    let report = invoke(&env, port, "tagging-responder", "cloudtrail/attach-admin-to-user.json");
    assert_eq!(report["status"], "rejected", "{report:#}");

    let findings = env.inspect.findings().await;
    assert_eq!(findings.len(), 4, "{findings:#?}");
    assert!(findings.iter().all(|f| f.compliance == "PASSED"), "{findings:#?}");

    // A person's "Remediate" in Security Hub, then "Undo" (the fix recorded in the bucket).
    let admin_statement = |doc: &Value| doc["Statement"].as_array().unwrap().iter().any(|s| s["Action"] == "*");
    let before = env
        .inspect
        .inline_document("role", "data-pipeline", "pipeline-access")
        .await;
    assert!(admin_statement(&before));
    let report = invoke(
        &env,
        port,
        "securityhub-responder",
        "securityhub/remediate-inline-admin.json",
    );
    assert_eq!(report["status"], "remediated", "{report:#}");
    assert_eq!(report["hub_action"]["findings"][0]["result"], "applied", "{report:#}");
    assert_eq!(report["hub_action"]["findings"][1]["result"], "ignored", "{report:#}");
    let fixed = env
        .inspect
        .inline_document("role", "data-pipeline", "pipeline-access")
        .await;
    assert!(!admin_statement(&fixed), "{fixed}");
    let report = invoke(
        &env,
        port,
        "securityhub-responder",
        "securityhub/undo-inline-admin.json",
    );
    assert_eq!(report["hub_action"]["findings"][0]["result"], "undone", "{report:#}");
    assert_eq!(
        env.inspect
            .inline_document("role", "data-pipeline", "pipeline-access")
            .await,
        before
    );
    // The other functions do not take custom actions.
    let report = invoke(&env, port, "cloudtrail-responder", "securityhub/undo-inline-admin.json");
    assert_eq!(report["status"], "rejected", "{report:#}");
}
