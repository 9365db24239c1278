//! `responder audit` (issue 17): an account's existing IAM state, judged by the event path's own
//! stages, against moto behind the contract proxy. Dry-run posts the findings and writes nothing;
//! remediate fixes what dry-run planned; a second run changes nothing; the findings have the ids
//! the event path gives them; the page budget stops a sweep that resumes where it stopped.

use crate::responder_undo::responder_bin;
use integration_tests::{responder, Env};
use serde_json::Value;
use std::process::Command;

/// Runs `responder audit ARGS…` against the emulator; its stdout summary line.
fn audit(env: &Env, args: &[&str]) -> Value {
    audit_with(env, &[], args)
}

/// [`audit`] with settings `vars` added to the environment.
fn audit_with(env: &Env, vars: &[(&str, &str)], args: &[&str]) -> Value {
    let out = Command::new(responder_bin())
        .arg("audit")
        .args(args)
        .envs(env.child_env())
        .envs(vars.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// An empty account with `n` users (`user-000`, …), more than one page of principals.
async fn with_users(n: usize) -> (Env, aws_sdk_iam::Client) {
    let env = Env::empty().await;
    let iam = aws_sdk_iam::Client::new(&env.direct);
    for i in 0..n {
        iam.create_user()
            .user_name(format!("user-{i:03}"))
            .send()
            .await
            .unwrap();
    }
    (env, iam)
}

fn writes(env: &Env) -> Vec<String> {
    env.recorded_calls()
        .iter()
        .filter(|c| c.is_write() && c.service != "securityhub")
        .map(|c| format!("{}:{}", c.service, c.operation))
        .collect()
}

#[tokio::test]
async fn an_audit_previews_then_fixes_the_existing_state_and_a_second_run_changes_nothing() {
    let env = Env::seeded().await;
    let dir = std::env::temp_dir().join(format!("audit-{}", env.account_id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (html, json) = (dir.join("report.html"), dir.join("report.json"));

    // The event path first (dry-run): its finding about alice's admin policy.
    let r = responder(&env.sdk, compliance_responder::Mode::DryRun);
    r.handle_bytes(&env.event("cloudtrail/attach-admin-to-user.json")).await;
    let from_event: Vec<String> = env.inspect.findings().await.into_iter().map(|f| f.id).collect();
    assert!(!from_event.is_empty());

    // Dry-run: findings posted, the report written, nothing else changed.
    env.start_recording();
    let summary = audit(
        &env,
        &["--report", html.to_str().unwrap(), "--json", json.to_str().unwrap()],
    );
    assert_eq!(
        writes(&env),
        Vec::<String>::new(),
        "dry-run writes nothing but findings"
    );
    assert_eq!(summary["mode"], "dry-run");
    assert_eq!(summary["complete"], true);
    let s = &summary["summary"];
    assert!(s["principals"].as_u64().unwrap() >= 5, "{s}");
    assert!(s["principals_at_risk"].as_u64().unwrap() >= 2, "{s}");
    assert!(s["fixes_planned"].as_u64().unwrap() >= 2, "{s}");
    assert_eq!(s["fixes_applied"], 0);
    assert_eq!(s["errors"], 0, "{s}");
    assert_eq!(
        env.inspect.attached("user", "alice").await,
        ["arn:aws:iam::aws:policy/AdministratorAccess"]
    );
    let findings = env.inspect.findings().await;
    assert!(findings.len() > 1, "{findings:?}");
    // The same risk has the same id whichever path found it: the event's findings were updated,
    // not duplicated.
    for id in &from_event {
        assert_eq!(findings.iter().filter(|f| &f.id == id).count(), 1, "{id}");
    }
    assert!(findings
        .iter()
        .all(|f| f.compliance == "FAILED" || f.compliance == "WARNING"));

    // The report a person reads: summary, each principal at risk, the change and its inverse.
    let page = std::fs::read_to_string(&html).unwrap();
    for needle in [
        "<!doctype html>",
        "id=\"summary\"",
        "id=\"by-rule\"",
        "data-principal=\"user/alice\"",
        "data-principal=\"role/data-pipeline\"",
        "dry-run: nothing was changed",
        "iam:DetachUserPolicy",
        "class=\"del\"",
        "inverse (<code>responder undo</code>)",
    ] {
        assert!(page.contains(needle), "the report lacks {needle}");
    }
    assert!(
        !page.contains("<script") && !page.contains("http"),
        "self-contained: no script, no external asset"
    );
    let data: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(data["summary"], summary["summary"]);

    // Remediate: what dry-run planned is applied.
    env.start_recording();
    let summary = audit(&env, &["--remediate"]);
    assert!(summary["summary"]["fixes_applied"].as_u64().unwrap() >= 2, "{summary}");
    assert!(env.inspect.attached("user", "alice").await.is_empty());
    assert!(!writes(&env).is_empty());
    let passed = env
        .inspect
        .findings()
        .await
        .into_iter()
        .filter(|f| f.compliance == "PASSED")
        .count();
    assert!(passed >= 2, "the fixed findings are PASSED");

    // A second run finds nothing left to change.
    env.start_recording();
    let summary = audit(&env, &["--remediate"]);
    assert_eq!(writes(&env), Vec::<String>::new(), "{summary}");
    assert_eq!(summary["summary"]["fixes_applied"], 0);
    assert_eq!(summary["summary"]["fixes_planned"], 0);
    assert!(env.proxy.violations().is_empty(), "{:?}", env.proxy.violations());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The page budget: a sweep of more principals than one page of `GetAccountAuthorizationDetails`
/// (IAM's default: 100 items) stops after `--max-pages` and prints where to resume; the resumed run
/// reviews the rest, and the two runs together review every principal once.
#[tokio::test]
async fn a_sweep_over_its_page_budget_resumes_where_it_stopped() {
    let (env, _) = with_users(130).await;
    let first = audit(&env, &["--max-pages", "1"]);
    assert_eq!(first["complete"], false, "{first}");
    let marker = first["resume_marker"].as_str().expect("a marker").to_string();
    let seen = first["summary"]["principals"].as_u64().unwrap();
    assert!(seen > 0 && seen < 130, "{first}");
    let rest = audit(&env, &["--max-pages", "1", "--resume", &marker]);
    assert_eq!(rest["complete"], true, "{rest}");
    assert_eq!(seen + rest["summary"]["principals"].as_u64().unwrap(), 130);
}

#[test]
fn bad_audit_arguments_are_usage_errors() {
    for args in [
        &["--max-pages", "0"][..],
        &["--report"][..],
        &["--bogus"][..],
        &["--account", "12345"][..],
    ] {
        let out = Command::new(responder_bin()).arg("audit").args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

/// The preview is checked in a real headless browser (Debian's chromium, installed by
/// `scripts/install-browser.sh`): the page parses into the elements a reader needs, and renders
/// to a screenshot.
#[tokio::test]
async fn the_report_renders_in_a_headless_browser() {
    let env = Env::seeded().await;
    let dir = std::env::temp_dir().join(format!("audit-browser-{}", env.account_id()));
    std::fs::create_dir_all(&dir).unwrap();
    let html = dir.join("report.html");
    audit(&env, &["--report", html.to_str().unwrap()]);
    let url = format!("file://{}", html.display());
    let chromium = |args: &[&str]| {
        let out = Command::new("chromium")
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--window-size=1200,1600"])
            .args(args)
            .arg(&url)
            .output()
            .expect("chromium (scripts/install-browser.sh, run by make tools)");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        out
    };
    // The DOM as the browser built it.
    let dom = String::from_utf8(chromium(&["--dump-dom"]).stdout).unwrap();
    for needle in [
        "<table class=\"counts\" id=\"summary\">",
        "<table id=\"by-rule\">",
        "data-principal=\"user/alice\"",
        "<span class=\"del\">",
        "<b class=\"sev-CRITICAL\">CRITICAL</b>",
    ] {
        assert!(dom.contains(needle), "the rendered page lacks {needle}");
    }
    let shot = dir.join("report.png");
    chromium(&[&format!("--screenshot={}", shot.display())]);
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    assert!(png.len() > 20_000, "a page with content: {} bytes", png.len());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The central account sweeps a member account (`--account`) through the member account's
/// IAM-rewrite role (`MEMBER_ROLE_NAME`): the role is assumed there, the member's principals are
/// judged and its findings recorded there (Security Hub takes a finding only from its own
/// account), and the central account's own state is not touched. Without `MEMBER_ROLE_NAME` another
/// account is a usage error.
#[test]
fn a_member_account_is_swept_through_its_iam_rewrite_role() {
    integration_tests::on_big_stack(member_sweep());
}

async fn member_sweep() {
    let env = Env::seeded().await;
    let (member, member_sdk) = env.member_with_admin_user("mallory").await;
    let central_before = env.inspect.findings().await.len();

    let out = Command::new(responder_bin())
        .args(["audit", "--account", &member.id])
        .envs(env.child_env())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "no MEMBER_ROLE_NAME: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    env.start_recording();
    let out = Command::new(responder_bin())
        .args(["audit", "--account", &member.id])
        .envs(env.child_env())
        .env("MEMBER_ROLE_NAME", "compliance-responder-remediation")
        .env("MEMBER_TAGGING_ROLE_NAME", "compliance-responder-tagging")
        .env("MEMBER_CONTAINMENT_ROLE_NAME", "compliance-responder-containment")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let summary: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(summary["account"], member.id.as_str());
    assert_eq!(summary["summary"]["principals"], 1, "{summary}");
    assert_eq!(summary["summary"]["principals_at_risk"], 1, "{summary}");
    assert_eq!(summary["summary"]["errors"], 0, "{summary}");
    // IAM through the IAM-rewrite role, the region's resources through the tagging role, the
    // users' access keys through the containment role.
    assert_eq!(summary["summary"]["key_users"], 1, "{summary}");
    let roles: std::collections::BTreeSet<String> = env.assumed_roles().into_iter().collect();
    assert_eq!(
        roles,
        ["containment", "remediation", "tagging"]
            .iter()
            .map(|r| format!("arn:aws:iam::{}:role/compliance-responder-{r}", member.id))
            .collect()
    );
    let recorded = integration_tests::Inspect::new(&member_sdk).findings().await;
    assert!(!recorded.is_empty(), "findings recorded in the member account");
    assert_eq!(env.inspect.findings().await.len(), central_before, "none centrally");
    assert!(env.proxy.violations().is_empty(), "{:?}", env.proxy.violations());
}

/// The scheduled sweep (`audit-responder`, invoked by EventBridge Scheduler with
/// `{"scheduled-audit": {}}`): a run sweeps at most `AUDIT_MAX_PAGES` pages and keeps IAM's marker
/// in the record bucket; the next run resumes there; once complete, the account is not swept
/// again before `AUDIT_INTERVAL_HOURS`. Dry-run: the findings are posted, IAM is not changed. A
/// payload that is not the schedule's is refused with nothing read.
#[tokio::test]
async fn the_scheduled_sweep_resumes_where_it_stopped_then_waits_for_its_interval() {
    let (env, iam) = with_users(130).await;
    iam.attach_user_policy()
        .user_name("user-000")
        .policy_arn("arn:aws:iam::aws:policy/AdministratorAccess")
        .send()
        .await
        .unwrap();
    let bucket = format!("cr-undo-records-{}", env.account_id());
    env.create_bucket(&bucket).await;
    let vars = [
        ("MODE", "dry-run"),
        ("UNDO_RECORD_BUCKET", bucket.as_str()),
        ("AUDIT_MAX_PAGES", "1"),
    ];
    let sweeper =
        integration_tests::responder_for(&env.sdk, &vars, &[compliance_responder::finding::SourceKind::Audit]);
    let schedule = serde_json::json!({"scheduled-audit": {}});
    let run = || compliance_responder::lambda::run_scheduled_audit(&sweeper, &schedule);

    let first = run().await.unwrap();
    let sweep = &first["sweeps"][0];
    assert_eq!(sweep["account"], env.account_id(), "{first}");
    assert_eq!(
        (sweep["complete"].as_bool(), sweep["resumed"].as_bool()),
        (Some(false), Some(false)),
        "{first}"
    );
    let seen = sweep["summary"]["principals"].as_u64().unwrap();
    let second = run().await.unwrap();
    let sweep = &second["sweeps"][0];
    assert_eq!(
        (sweep["complete"].as_bool(), sweep["resumed"].as_bool()),
        (Some(true), Some(true)),
        "{second}"
    );
    assert_eq!(seen + sweep["summary"]["principals"].as_u64().unwrap(), 130);
    let third = run().await.unwrap();
    assert_eq!(third["sweeps"], serde_json::json!([]), "{third}");
    assert_eq!(third["not_due"], serde_json::json!([env.account_id()]));

    // Dry-run: the admin user's finding is recorded, the policy stays.
    assert_eq!(
        env.inspect.attached("user", "user-000").await,
        ["arn:aws:iam::aws:policy/AdministratorAccess"]
    );
    let findings = env.inspect.findings().await;
    assert!(
        findings
            .iter()
            .any(|f| f.generator_id == "iam-admin-access" && f.compliance == "FAILED"),
        "{findings:#?}"
    );

    env.start_recording();
    let refused = compliance_responder::lambda::run_scheduled_audit(
        &sweeper,
        &serde_json::json!({"detail-type": "Scheduled Event"}),
    )
    .await
    .unwrap();
    assert_eq!(refused["status"], "rejected", "{refused}");
    assert!(env.recorded_calls().is_empty(), "{:?}", env.recorded_calls());
}

/// The sweep judges customer-managed policies on their own too: one attached to no one is found
/// and recorded under the id its CreatePolicy event would give. Without a record store the
/// versions that are not the default are not judged (the responder's own rewrites keep one, for
/// undo, and only the store's markers tell those apart), and the summary says so.
#[tokio::test]
async fn unattached_policies_are_swept() {
    let env = Env::empty().await;
    let iam = aws_sdk_iam::Client::new(&env.direct);
    let admin = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    let benign = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
    iam.create_policy()
        .policy_name("Unattached")
        .policy_document(admin)
        .send()
        .await
        .unwrap();
    let dormant = iam
        .create_policy()
        .policy_name("Dormant")
        .policy_document(admin)
        .send()
        .await
        .unwrap()
        .policy
        .and_then(|p| p.arn)
        .unwrap();
    iam.create_policy_version()
        .policy_arn(&dormant)
        .policy_document(benign)
        .set_as_default(true)
        .send()
        .await
        .unwrap();
    let summary = audit(&env, &[]);
    assert_eq!(summary["summary"]["policies"], 2, "{summary}");
    assert_eq!(summary["summary"]["policies_at_risk"], 1, "{summary}");
    assert_eq!(summary["summary"]["dormant_versions"], 0, "{summary}");
    assert!(
        summary["versions_skipped"]
            .as_str()
            .unwrap_or_default()
            .contains("UNDO_RECORD_BUCKET"),
        "{summary}"
    );
    let ids: Vec<String> = env.inspect.findings().await.into_iter().map(|f| f.id).collect();
    let key = format!("arn:aws:iam::{}:policy/Unattached", env.account_id());
    let id = compliance_responder::asff::finding_id_in("us-east-1", env.account_id(), "iam-admin-access", &key);
    assert!(ids.contains(&id), "{key}: {ids:?}");
    // Dry-run: nothing changed.
    assert_eq!(env.inspect.policy_versions(&dormant).await.0.len(), 2);
}

/// The region's taggable resources are swept too (issue 17), each service's own list call (the
/// Resource Groups Tagging API does not list a resource that was never tagged: exactly the ones
/// `required-tags` is for). Judged as a Config compliance change would be: dry-run writes
/// nothing; remediate adds the missing tags that have a default (no creator is known, so `Owner`
/// is left for a person), never touches the exempt bucket; a second run changes nothing.
#[tokio::test]
async fn the_regions_taggable_resources_are_swept() {
    let env = Env::seeded().await;
    let dir = std::env::temp_dir().join(format!("audit-resources-{}", env.account_id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (html, json) = (dir.join("report.html"), dir.join("report.json"));
    // Bucket names are global: the harness suffixes them with the test's account.
    let bucket = |name: &str| format!("arn:aws:s3:::{name}-{}", env.account_id());
    let (raw, hold) = (bucket("team-data-lake-raw"), bucket("legal-hold-archive"));
    let raw = raw.as_str();

    env.start_recording();
    let summary = audit(
        &env,
        &["--report", html.to_str().unwrap(), "--json", json.to_str().unwrap()],
    );
    assert_eq!(writes(&env), Vec::<String>::new(), "dry-run");
    let s = &summary["summary"];
    // 3 buckets, 1 instance, 1 volume, the security groups (moto adds a default one), 1 function,
    // 1 table, 1 DB instance, 1 queue, 1 topic.
    assert!(s["resources"].as_u64().unwrap() >= 11, "{s}");
    assert!(s["resources_at_risk"].as_u64().unwrap() >= 5, "{s}");
    assert_eq!(s["errors"], 0, "{s}");
    let data: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(data["resources_complete"], true);
    let swept: Vec<&str> = data["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["arn"].as_str().unwrap())
        .collect();
    for arn in [raw, hold.as_str(), "arn:aws:sns:us-east-1:ACCOUNT:ops-alerts"] {
        let arn = arn.replace("ACCOUNT", env.account_id());
        assert!(swept.contains(&arn.as_str()), "{arn} not swept: {swept:?}");
    }
    // Listed by each service's own call, never through the Tagging API's GetResources.
    assert!(env
        .recorded_calls()
        .iter()
        .all(|c| !(c.service == "tagging" && c.operation == "GetResources")));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("Resources at risk"), "the report shows them");
    assert!(
        page.contains(&format!("data-principal=\"resource/{raw}\"")),
        "the raw bucket is at risk"
    );

    // Remediate: the missing tags with a default are added; the exempt bucket is left alone.
    let exempt_before = env.inspect.tags(&hold).await;
    env.start_recording();
    let summary = audit(&env, &["--remediate"]);
    assert!(summary["summary"]["fixes_applied"].as_u64().unwrap() >= 1, "{summary}");
    assert_eq!(
        env.inspect.tags(raw).await.get("CostCenter").map(String::as_str),
        Some("unassigned")
    );
    assert_eq!(env.inspect.tags(&hold).await, exempt_before);

    // Nothing left that a sweep can change.
    env.start_recording();
    let summary = audit(&env, &["--remediate"]);
    assert_eq!(writes(&env), Vec::<String>::new(), "{summary}");
    assert!(env.proxy.violations().is_empty(), "{:?}", env.proxy.violations());

    // `--no-resources`: IAM only.
    let summary = audit(&env, &["--no-resources"]);
    assert_eq!(summary["summary"]["resources"], 0, "{summary}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A finding whose risk is gone is set PASSED by the next complete sweep (issue 17): alice's admin
/// policy detached and the raw bucket tagged by hand after a dry-run sweep recorded both FAILED;
/// the next sweep (still dry-run: it only records) no longer finds them and records them PASSED,
/// leaving every finding it still finds FAILED. (A sweep that read only part of the account sets
/// nothing PASSED: `a_sweep_over_its_page_budget_resumes_where_it_stopped`.)
#[tokio::test]
async fn a_finding_whose_risk_is_gone_is_passed_by_the_next_complete_sweep() {
    let env = Env::seeded().await;
    let dir = std::env::temp_dir().join(format!("audit-gone-{}", env.account_id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("report.json");
    let report = |args: &[&str]| -> Value {
        let mut all = vec!["--json", json.to_str().unwrap()];
        all.extend_from_slice(args);
        audit(&env, &all);
        serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap()
    };
    let first = report(&[]);
    assert!(first["passed"].as_array().unwrap().is_empty(), "{}", first["passed"]);
    let failed: Vec<(String, String)> = env
        .inspect
        .findings()
        .await
        .into_iter()
        .filter(|f| f.compliance == "FAILED")
        .map(|f| (f.id, f.resource_ids.join(" ")))
        .collect();
    let about = |needle: &str| -> Vec<String> {
        failed
            .iter()
            .filter(|(_, r)| r.contains(needle))
            .map(|(id, _)| id.clone())
            .collect()
    };
    let alice = about(":user/alice");
    let raw_bucket = format!("team-data-lake-raw-{}", env.account_id());
    let raw = about(&raw_bucket);
    assert!(!alice.is_empty() && !raw.is_empty(), "{failed:?}");

    // Fixed by hand, outside the responder.
    let iam = aws_sdk_iam::Client::new(&env.direct);
    iam.detach_user_policy()
        .user_name("alice")
        .policy_arn("arn:aws:iam::aws:policy/AdministratorAccess")
        .send()
        .await
        .unwrap();
    let s3 = env.s3();
    let tagging = aws_sdk_s3::types::Tagging::builder()
        .tag_set(
            aws_sdk_s3::types::Tag::builder()
                .key("Owner")
                .value("data-team")
                .build()
                .unwrap(),
        )
        .tag_set(
            aws_sdk_s3::types::Tag::builder()
                .key("CostCenter")
                .value("4410")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    s3.put_bucket_tagging()
        .bucket(&raw_bucket)
        .tagging(tagging)
        .send()
        .await
        .unwrap();

    let second = report(&[]);
    let passed: Vec<String> = second["passed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    for id in alice.iter().chain(&raw) {
        assert!(passed.contains(id), "{id} not passed: {passed:?} {}", second["summary"]);
    }
    let now = env.inspect.findings().await;
    for f in &now {
        let was_failed = failed.iter().any(|(id, _)| id == &f.id);
        if passed.contains(&f.id) {
            assert_eq!(f.compliance, "PASSED", "{f:#?}");
        } else if was_failed {
            assert_eq!(f.compliance, "FAILED", "still found, still FAILED: {f:#?}");
        }
    }
    assert!(passed.len() < failed.len(), "the risks still there stay FAILED");
    assert!(env.proxy.violations().is_empty(), "{:?}", env.proxy.violations());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Non-default versions of customer-managed policies are swept as dormant grants (issue 17), and
/// the ones the responder's own fixes kept for undo are told apart by provenance, never by shape:
/// the fix leaves a marker (`undo/kept/…`: policy, version id, document digest) with its undo
/// record, and only a live version with that id *and* that document is the responder's.
/// - `Crafted` has a dormant v2 shaped exactly like a kept version (its default plus an admin
///   statement): judged, and deleted in remediate mode (its inverse recorded).
/// - `Fixed` is rewritten by the same sweep; the v1 it keeps is reported kept, not a finding.
/// - A copy of that kept document created afterwards (v3: same shape, same digest, another id)
///   is a dormant grant; deleted by hand, its finding is PASSED by the next complete sweep, while
///   the kept v1 (still a risk) is never PASSED.
#[tokio::test]
async fn dormant_versions_are_swept_and_the_responders_kept_versions_told_apart() {
    let env = Env::empty().await;
    let bucket = format!("cr-undo-records-{}", env.account_id());
    env.create_bucket(&bucket).await;
    let iam = aws_sdk_iam::Client::new(&env.direct);
    let read = r#"{"Sid":"Read","Effect":"Allow","Action":"s3:GetObject","Resource":"*"}"#;
    let admin = r#"{"Sid":"Everything","Effect":"Allow","Action":"*","Resource":"*"}"#;
    let doc = |statements: &[&str]| format!(r#"{{"Version":"2012-10-17","Statement":[{}]}}"#, statements.join(","));
    let create = |name: &'static str, document: String| {
        let iam = iam.clone();
        async move {
            iam.create_policy()
                .policy_name(name)
                .policy_document(document)
                .send()
                .await
                .unwrap()
                .policy
                .and_then(|p| p.arn)
                .unwrap()
        }
    };
    let fixed = create("Fixed", doc(&[read, admin])).await;
    let crafted = create("Crafted", doc(&[read])).await;
    iam.create_policy_version()
        .policy_arn(&crafted)
        .policy_document(doc(&[read, admin]))
        .set_as_default(false)
        .send()
        .await
        .unwrap();
    let run = |args: &[&str]| audit_with(&env, &[("UNDO_RECORD_BUCKET", bucket.as_str())], args);
    let id =
        |key: &str| compliance_responder::asff::finding_id_in("us-east-1", env.account_id(), "iam-admin-access", key);
    let versions = |arn: &str| {
        let arn = arn.to_string();
        let env = &env;
        async move {
            let mut v: Vec<String> = env
                .inspect
                .policy_versions(&arn)
                .await
                .0
                .into_iter()
                .map(|(id, _)| id)
                .collect();
            v.sort();
            v
        }
    };

    // Remediate: Fixed rewritten (v2 the default, v1 kept); Crafted's dormant v2 deleted.
    let first = run(&["--remediate", "--no-resources"]);
    assert_eq!(first["summary"]["dormant_versions"], 1, "{first}");
    assert_eq!(first["summary"]["dormant_versions_at_risk"], 1, "{first}");
    assert_eq!(versions(&fixed).await, ["v1", "v2"]);
    assert_eq!(versions(&crafted).await, ["v1"], "the crafted dormant grant is deleted");
    let s3 = env.s3();
    let markers: Vec<String> = s3
        .list_objects_v2()
        .bucket(&bucket)
        .prefix(format!("undo/kept/{}/", env.account_id()))
        .send()
        .await
        .unwrap()
        .contents
        .unwrap_or_default()
        .into_iter()
        .filter_map(|o| o.key)
        .collect();
    assert_eq!(markers.len(), 1, "one kept version: {markers:?}");
    assert!(markers[0].contains("/v1/"), "{markers:?}");

    // Someone copies the kept document into a new non-default version.
    iam.create_policy_version()
        .policy_arn(&fixed)
        .policy_document(doc(&[read, admin]))
        .set_as_default(false)
        .send()
        .await
        .unwrap();
    env.start_recording();
    let second = run(&["--no-resources"]);
    assert_eq!(writes(&env), Vec::<String>::new(), "dry-run writes nothing: {second}");
    let s = &second["summary"];
    assert_eq!(s["dormant_versions"], 2, "{s}");
    assert_eq!(s["dormant_versions_at_risk"], 1, "{s}");
    assert_eq!(s["kept_versions"], 1, "{s}");
    let findings = env.inspect.findings().await;
    let state = |key: &str| {
        let id = id(key);
        findings.iter().find(|f| f.id == id).map(|f| f.compliance.clone())
    };
    assert_eq!(
        state(&format!("{fixed}|v3")).as_deref(),
        Some("FAILED"),
        "{findings:#?}"
    );
    assert_eq!(
        state(&format!("{fixed}|v1")),
        None,
        "the kept version is no new finding"
    );

    // v3 deleted by hand: the next complete sweep sets its finding PASSED, nothing else.
    iam.delete_policy_version()
        .policy_arn(&fixed)
        .version_id("v3")
        .send()
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!("audit-dormant-{}", env.account_id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (json, html) = (dir.join("report.json"), dir.join("report.html"));
    let third = run(&[
        "--no-resources",
        "--json",
        json.to_str().unwrap(),
        "--report",
        html.to_str().unwrap(),
    ]);
    assert_eq!(third["summary"]["passed"], 1, "{third}");
    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(
        report["passed"],
        serde_json::json!([id(&format!("{fixed}|v3"))]),
        "{}",
        report["passed"]
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("id=\"kept\"") && page.contains("v1 arn:aws:iam::"),
        "the kept version is listed"
    );
    assert!(env.proxy.violations().is_empty(), "{:?}", env.proxy.violations());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Access keys (issue 17, `iam-access-key-unused`): each user's active keys are judged by their
/// last use (or, never used, their creation) against `ACCESS_KEY_MAX_UNUSED_DAYS` (90). moto
/// creates every key now: the proxy answers as if the keys were 120 days older
/// (`Proxy::age_access_keys`). New keys pass; aged, the unused one is FAILED in dry-run with
/// nothing written, deactivated in remediate mode (its finding then PASSED), and `responder undo`
/// of the report reactivates it. A protected user's and an exempt user's keys are reported, never
/// touched; an inactive key is compliant.
#[tokio::test]
async fn unused_access_keys_are_found_and_deactivated_and_the_guards_hold() {
    let env = Env::empty().await;
    let iam = aws_sdk_iam::Client::new(&env.direct);
    let mut ids = std::collections::BTreeMap::new();
    for user in ["stale-user", "break-glass-ops", "legacy-exempt", "retired"] {
        iam.create_user().user_name(user).send().await.unwrap();
        let key = iam.create_access_key().user_name(user).send().await.unwrap();
        ids.insert(user, key.access_key.unwrap().access_key_id);
    }
    iam.update_access_key()
        .user_name("retired")
        .access_key_id(&ids["retired"])
        .status(aws_sdk_iam::types::StatusType::Inactive)
        .send()
        .await
        .unwrap();
    iam.tag_user()
        .user_name("legacy-exempt")
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key("compliance-responder:exempt")
                .value("true")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!("audit-keys-{}", env.account_id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("report.json");
    let run = |args: &[&str]| -> (Value, Value) {
        let mut all = vec!["--no-resources", "--json", json.to_str().unwrap()];
        all.extend_from_slice(args);
        let summary = audit_with(
            &env,
            &[("PROTECTED_PRINCIPALS", "arn:aws:iam::*:user/break-glass-*")],
            &all,
        );
        (summary, serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap())
    };
    let status = |user: &'static str| {
        let (env, ids) = (&env, &ids);
        async move { env.inspect.access_keys(user).await[&ids[user]].clone() }
    };
    let id_of = |user: &str| {
        let key = compliance_responder::rules::iam_access_key_unused::key_of(
            &format!("arn:aws:iam::{}:user/{user}", env.account_id()),
            &ids[user],
        );
        compliance_responder::asff::finding_id_in("us-east-1", env.account_id(), "iam-access-key-unused", &key)
    };

    // New keys are in use by definition.
    let (fresh, _) = run(&[]);
    assert_eq!(fresh["summary"]["key_users"], 4, "{fresh}");
    assert_eq!(fresh["summary"]["access_keys_unused"], 0, "{fresh}");

    // 120 days later: three active keys unused; only the stale user's may be touched.
    env.proxy.age_access_keys(120);
    env.start_recording();
    let (dry, _) = run(&[]);
    assert_eq!(writes(&env), Vec::<String>::new(), "dry-run: {dry}");
    assert_eq!(dry["summary"]["access_keys_unused"], 3, "{dry}");
    let by_rule = &dry["summary"]["by_rule"]["iam-access-key-unused"];
    assert_eq!(
        (&by_rule["fixes"], &by_rule["withheld"]),
        (&1.into(), &2.into()),
        "{dry}"
    );
    let failed: Vec<String> = env
        .inspect
        .findings()
        .await
        .into_iter()
        .filter(|f| f.compliance == "FAILED")
        .map(|f| f.id)
        .collect();
    for user in ["stale-user", "break-glass-ops", "legacy-exempt"] {
        assert!(failed.contains(&id_of(user)), "{user}: {failed:?}");
    }
    assert!(!failed.contains(&id_of("retired")));

    let (fixed, report) = run(&["--remediate"]);
    assert_eq!(fixed["summary"]["fixes_applied"], 1, "{fixed}");
    assert_eq!(status("stale-user").await, "Inactive");
    assert_eq!(status("break-glass-ops").await, "Active", "protected");
    assert_eq!(status("legacy-exempt").await, "Active", "exempt");
    let findings = env.inspect.findings().await;
    let stale = findings.iter().find(|f| f.id == id_of("stale-user")).unwrap();
    assert_eq!(stale.compliance, "PASSED", "{stale:#?}");

    // The fix's inverse, from the report: the key is active again.
    let applied = report["access_keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["principal"]["name"] == "stale-user")
        .unwrap();
    let file = dir.join("stale-user.json");
    std::fs::write(&file, serde_json::to_vec(&applied["report"]).unwrap()).unwrap();
    crate::responder_undo::undo_succeeds(&env, &file, &[]);
    assert_eq!(status("stale-user").await, "Active", "undone");
    assert!(env.proxy.violations().is_empty(), "{:?}", env.proxy.violations());
    let _ = std::fs::remove_dir_all(&dir);
}
