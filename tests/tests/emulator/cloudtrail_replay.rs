//! Replays every sample event under events/cloudtrail/ through the responder against moto and
//! asserts the IAM state, the Security Hub findings and the calls moto received.

use compliance_responder::{Mode, ReportStatus};
use integration_tests::{repo_root, responder, sample_events, ApiCall, Env, HubFinding};
use serde_json::{json, Value};

const ADMIN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";

/// A new account of the shared emulator with the sandbox seeded.
async fn seeded() -> Env {
    Env::seeded().await
}

/// A sample under events/cloudtrail/, with the sandbox's ids and account mapped to this test's.
fn event_bytes(env: &Env, name: &str) -> Vec<u8> {
    env.event(&format!("cloudtrail/{name}"))
}

fn writes(calls: &[ApiCall]) -> Vec<String> {
    calls
        .iter()
        .filter(|c| c.is_write())
        .map(|c| format!("{}:{}", c.service, c.operation))
        .collect()
}

fn only_finding(findings: &[HubFinding]) -> &HubFinding {
    assert_eq!(findings.len(), 1, "expected exactly one finding, got {findings:#?}");
    &findings[0]
}

/// Replays one event in remediate mode; returns the report as JSON and the writes moto saw.
async fn replay(env: &Env, name: &str) -> (compliance_responder::Report, Vec<String>) {
    env.start_recording();
    let report = responder(&env.sdk, Mode::Remediate)
        .handle_bytes(&event_bytes(env, name))
        .await;
    let calls = env.recorded_calls();
    (report, writes(&calls))
}

/// The statement Sids of a policy document, in order.
fn sids(doc: &Value) -> Vec<&str> {
    doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["Sid"].as_str().unwrap())
        .collect()
}

/// Replays one event in remediate mode and checks the record → fix → update sequence: a FAILED
/// finding, exactly `iam_calls`, then the PASSED update.
async fn replay_fixed(env: &Env, name: &str, iam_calls: &[&str]) -> compliance_responder::Report {
    let (report, writes) = replay(env, name).await;
    assert_eq!(report.status, ReportStatus::Remediated, "{report:#?}");
    let mut want = vec!["securityhub:BatchImportFindings".to_string()];
    want.extend(iam_calls.iter().map(|c| c.to_string()));
    want.push("securityhub:BatchImportFindings".into());
    assert_eq!(writes, want);
    report
}

fn field<'a>(f: &'a HubFinding, key: &str) -> &'a str {
    f.product_fields
        .get(&format!("compliance-responder/{key}"))
        .map(String::as_str)
        .unwrap_or("")
}

async fn assert_detached(
    name: &str,
    kind: &str,
    principal: &str,
    policy: &str,
    api: &str,
    resource_type: &str,
) -> compliance_responder::Report {
    let env = seeded().await;
    // `{account}` in the policy ARN: this test's account.
    let policy = policy.replace("{account}", env.account_id());
    let policy = policy.as_str();
    assert!(
        env.inspect
            .attached(kind, principal)
            .await
            .contains(&policy.to_string()),
        "seeded"
    );
    let (report, writes) = replay(&env, name).await;
    assert_eq!(report.status, ReportStatus::Remediated, "{report:#?}");
    assert!(
        !env.inspect
            .attached(kind, principal)
            .await
            .contains(&policy.to_string()),
        "{policy} still attached"
    );
    assert_eq!(
        writes,
        vec![
            "securityhub:BatchImportFindings".to_string(),
            format!("iam:{api}"),
            "securityhub:BatchImportFindings".into()
        ]
    );
    let findings = env.inspect.findings().await;
    let f = only_finding(&findings);
    assert_eq!(f.generator_id, "iam-admin-access");
    assert_eq!(f.compliance, "PASSED");
    assert_eq!(f.severity, "CRITICAL");
    assert_eq!(f.resource_types, vec![resource_type.to_string(), "AwsIamPolicy".into()]);
    assert_eq!(
        f.resource_ids[0],
        format!("arn:aws:iam::{}:{kind}/{principal}", env.account_id())
    );
    assert_eq!(f.resource_ids[1], policy);
    assert_eq!(field(f, "Outcome"), "applied");
    assert!(field(f, "Action").contains(&format!("detach {policy}")), "{f:#?}");
    let inverse: Value = serde_json::from_str(field(f, "Inverse")).expect("inverse is JSON");
    assert_eq!(inverse[0]["action"], "attach-policy");
    assert_eq!(inverse[0]["policy_arn"], policy);
    assert_eq!(report.findings.len(), 2, "FAILED before the fix, PASSED after");
    report
}

#[tokio::test]
async fn admin_attached_to_user_is_detached() {
    assert_detached(
        "attach-admin-to-user.json",
        "user",
        "alice",
        ADMIN,
        "DetachUserPolicy",
        "AwsIamUser",
    )
    .await;
}

#[tokio::test]
async fn admin_attached_to_role_is_detached() {
    assert_detached(
        "attach-admin-to-role.json",
        "role",
        "ci-deployer",
        ADMIN,
        "DetachRolePolicy",
        "AwsIamRole",
    )
    .await;
}

/// A change made in the console by an IAM user carries `sessionContext.sessionIssuer = {}`; it
/// is handled like any other (it was once rejected as invalid, so nothing made in the console
/// was checked).
#[tokio::test]
async fn admin_attached_by_a_console_iam_user_is_detached() {
    assert_detached(
        "attach-admin-to-user-console.json",
        "user",
        "alice",
        ADMIN,
        "DetachUserPolicy",
        "AwsIamUser",
    )
    .await;
}

/// The root user in the console: no user name, an empty session issuer.
#[tokio::test]
async fn admin_attached_by_root_in_the_console_is_detached() {
    let report = assert_detached(
        "attach-admin-to-role-root-console.json",
        "role",
        "ci-deployer",
        ADMIN,
        "DetachRolePolicy",
        "AwsIamRole",
    )
    .await;
    let actor = report.actor.expect("actor");
    assert_eq!(actor.identity_type, "Root");
    assert!(actor.arn.unwrap().ends_with(":root"));
}

#[tokio::test]
async fn admin_attached_to_group_is_detached() {
    assert_detached(
        "attach-admin-to-group.json",
        "group",
        "developers",
        ADMIN,
        "DetachGroupPolicy",
        "AwsIamGroup",
    )
    .await;
}

#[tokio::test]
async fn customer_managed_admin_policy_is_detached_not_deleted() {
    assert_detached(
        "attach-customer-admin-policy.json",
        "user",
        "bob",
        "arn:aws:iam::{account}:policy/TeamAdmin",
        "DetachUserPolicy",
        "AwsIamUser",
    )
    .await;
}

#[tokio::test]
async fn mixed_inline_policy_keeps_benign_statements() {
    let env = seeded().await;
    replay_fixed(&env, "put-inline-mixed-admin.json", &["iam:PutRolePolicy"]).await;
    let doc = env
        .inspect
        .inline_document("role", "data-pipeline", "pipeline-access")
        .await;
    let sids = sids(&doc);
    assert_eq!(sids, ["ReadRawData", "WriteCurated"]);
    assert_eq!(doc["Statement"][0]["Action"], json!(["s3:GetObject", "s3:ListBucket"]));
    let findings = env.inspect.findings().await;
    let f = only_finding(&findings);
    assert_eq!(f.compliance, "PASSED");
    assert_eq!(f.resource_types, ["AwsIamRole"]);
    assert_eq!(field(f, "MatchedStatements"), "Sid \"TemporaryDebugAccess\"");
    let inverse: Value = serde_json::from_str(field(f, "Inverse")).unwrap();
    let original: Value = serde_json::from_str(inverse[0]["document"].as_str().unwrap()).unwrap();
    assert_eq!(
        original["Statement"].as_array().unwrap().len(),
        3,
        "inverse restores the original document"
    );
}

#[tokio::test]
async fn admin_only_inline_policy_is_deleted() {
    let env = seeded().await;
    replay_fixed(&env, "put-inline-admin-only.json", &["iam:DeleteUserPolicy"]).await;
    assert!(env.inspect.inline_names("user", "dave").await.is_empty());
    assert_eq!(only_finding(&env.inspect.findings().await).compliance, "PASSED");
}

/// Escalation split across two policies of one role (issue 14): the attached policy grants
/// `ec2:RunInstances`, the role's inline policy already grants `iam:PassRole` on every role. Neither
/// is an escalation alone; together they run code as any role. The fix takes PassRole out of the
/// policy that holds it and leaves the attached policy (and the inline policy's other grants) alone.
#[tokio::test]
async fn escalation_split_across_two_policies_is_fixed_where_passrole_is() {
    let env = seeded().await;
    let report = replay_fixed(&env, "attach-completes-split-escalation.json", &["iam:PutRolePolicy"]).await;
    let launch = format!("arn:aws:iam::{}:policy/LaunchInstances", env.account_id());
    assert_eq!(
        env.inspect.attached("role", "build-runner").await,
        std::slice::from_ref(&launch)
    );
    let doc = env.inspect.inline_document("role", "build-runner", "pass-roles").await;
    assert_eq!(sids(&doc), ["ReadArtifacts", "PassAnyRole"]);
    assert_eq!(
        doc["Statement"][1]["Action"],
        serde_json::json!(["iam:GetRole"]),
        "{doc}"
    );
    let (_, launch_doc) = env.inspect.policy_versions(&launch).await;
    assert_eq!(
        launch_doc["Statement"][0]["Action"],
        serde_json::json!(["ec2:RunInstances", "ec2:Describe*"])
    );
    let findings = env.inspect.findings().await;
    let f = only_finding(&findings);
    assert_eq!(
        (f.generator_id.as_str(), f.compliance.as_str()),
        ("iam-privilege-escalation", "PASSED")
    );
    assert!(
        f.description.contains("passrole-ec2") || f.title.contains("escalation"),
        "{f:#?}"
    );
    let verdict = report
        .verdicts
        .iter()
        .find(|v| v.rule_id == "iam-privilege-escalation" && v.key.contains("|combined|"))
        .expect("the combined verdict");
    assert!(verdict.key.ends_with("|combined|inline/pass-roles"), "{}", verdict.key);
    assert!(
        verdict.summary.contains(&launch),
        "the summary names the contributing policy: {}",
        verdict.summary
    );
}

#[tokio::test]
async fn benign_scoped_policy_changes_nothing() {
    let env = seeded().await;
    let (report, writes) = replay(&env, "attach-scoped-policy-benign.json").await;
    assert_eq!(report.status, ReportStatus::NoAction, "{report:#?}");
    assert!(writes.is_empty(), "benign event made writes: {writes:?}");
    assert_eq!(
        env.inspect.attached("user", "carol").await,
        [format!("arn:aws:iam::{}:policy/ReadOnlyS3Reports", env.account_id())]
    );
    assert!(env.inspect.findings().await.is_empty());
}

#[tokio::test]
async fn dry_run_leaves_iam_untouched_and_still_reports() {
    let env = seeded().await;
    env.start_recording();
    let report = responder(&env.sdk, Mode::DryRun)
        .handle_bytes(&event_bytes(&env, "attach-admin-to-user.json"))
        .await;
    let writes = writes(&env.recorded_calls());
    assert_eq!(report.status, ReportStatus::DryRun, "{report:#?}");
    assert_eq!(
        writes,
        ["securityhub:BatchImportFindings"],
        "dry-run posts the finding and writes nothing to IAM"
    );
    assert_eq!(env.inspect.attached("user", "alice").await, [ADMIN]);
    assert_eq!(report.actions.len(), 1);
    assert_eq!(serde_json::to_value(&report.actions[0]).unwrap()["result"], "dry-run");
    let findings = env.inspect.findings().await;
    let admin: Vec<HubFinding> = findings
        .iter()
        .filter(|f| f.generator_id == "iam-admin-access")
        .cloned()
        .collect();
    let f = only_finding(&admin);
    assert_eq!(f.compliance, "FAILED");
    assert_eq!(field(f, "Outcome"), "dry-run");
    // alice still has a policy attached directly (nothing was fixed): reported, LOW.
    let direct: Vec<&HubFinding> = findings
        .iter()
        .filter(|f| f.generator_id == "iam-user-direct-policy")
        .collect();
    assert_eq!(direct.len(), 1);
    assert_eq!(
        (direct[0].compliance.as_str(), direct[0].severity.as_str()),
        ("FAILED", "LOW")
    );
    assert_eq!(field(f, "Mode"), "dry-run");
}

#[tokio::test]
async fn replaying_an_event_three_times_makes_one_change_and_one_finding() {
    let env = seeded().await;
    env.start_recording();
    let r = responder(&env.sdk, Mode::Remediate);
    let bytes = event_bytes(&env, "attach-admin-to-user.json");
    let statuses = [
        r.handle_bytes(&bytes).await.status,
        r.handle_bytes(&bytes).await.status,
        r.handle_bytes(&bytes).await.status,
    ];
    let writes = writes(&env.recorded_calls());
    assert_eq!(
        statuses,
        [ReportStatus::Remediated, ReportStatus::NoAction, ReportStatus::NoAction]
    );
    assert_eq!(writes.iter().filter(|w| w.starts_with("iam:")).count(), 1, "{writes:?}");
    let findings = env.inspect.findings().await;
    assert_eq!(only_finding(&findings).compliance, "PASSED");
}

/// Every sample event under events/ is replayed by name in some test under tests/tests/emulator/.
#[test]
fn every_sample_event_is_covered_by_a_test() {
    let dir = repo_root().join("tests/tests/emulator");
    let tests: String = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "rs"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    for source in ["cloudtrail", "config", "guardduty"] {
        let files = sample_events(source);
        assert!(!files.is_empty(), "events/{source} has samples");
        for path in files {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            assert!(
                tests.contains(&format!("\"{name}\"")) || tests.contains(&format!("{source}/{name}")),
                "events/{source}/{name} has no replay test"
            );
        }
    }
}

fn findings_of<'a>(findings: &'a [HubFinding], rule: &str) -> Vec<&'a HubFinding> {
    findings.iter().filter(|f| f.generator_id == rule).collect()
}

#[tokio::test]
async fn user_with_direct_policy_is_reported_only() {
    let env = seeded().await;
    let (report, writes) = replay(&env, "attach-policy-directly-to-user.json").await;
    assert_eq!(report.status, ReportStatus::NoAction, "{report:#?}");
    assert_eq!(writes, ["securityhub:BatchImportFindings"], "report only: no IAM write");
    assert_eq!(env.inspect.attached("user", "carol").await.len(), 1);
    let findings = env.inspect.findings().await;
    let f = only_finding(&findings);
    assert_eq!(
        (f.generator_id.as_str(), f.compliance.as_str(), f.severity.as_str()),
        ("iam-user-direct-policy", "FAILED", "LOW")
    );
    assert_eq!(field(f, "SecurityHubControl"), "IAM.2");
    assert!(field(f, "Outcome").starts_with("manual"), "{f:#?}");
}

#[tokio::test]
async fn created_policy_with_admin_statement_gets_a_new_default_version() {
    let env = seeded().await;
    let arn = format!("arn:aws:iam::{}:policy/LegacyOps", env.account_id());
    replay_fixed(&env, "create-policy-with-admin.json", &["iam:CreatePolicyVersion"]).await;
    let (versions, doc) = env.inspect.policy_versions(&arn).await;
    assert_eq!(versions, [("v1".to_string(), false), ("v2".to_string(), true)]);
    let sids = sids(&doc);
    assert_eq!(sids, ["OpsRead"]);
    let findings = env.inspect.findings().await;
    let f = only_finding(&findings);
    assert_eq!(
        (f.generator_id.as_str(), f.compliance.as_str()),
        ("iam-admin-access", "PASSED")
    );
    assert_eq!(f.resource_types, ["AwsIamPolicy"]);
    let inverse: Value = serde_json::from_str(field(f, "Inverse")).unwrap();
    // The inverse puts v1 back as the default and deletes the version the fix created (found by
    // its document, so a version someone created since is never deleted).
    assert_eq!(inverse[0]["action"], "revert-policy-version");
    assert_eq!(inverse[0]["policy_arn"], arn.as_str());
    assert_eq!(inverse[0]["version_id"], "v1");
    let created: Value = serde_json::from_str(inverse[0]["created_document"].as_str().unwrap()).unwrap();
    assert_eq!(created, doc);
}

#[tokio::test]
async fn escalation_in_a_fifth_version_makes_room_and_removes_pass_role() {
    let env = seeded().await;
    let arn = format!("arn:aws:iam::{}:policy/DeployTools", env.account_id());
    assert_eq!(
        env.inspect.policy_versions(&arn).await.0.len(),
        5,
        "seeded at IAM's limit"
    );
    let report = replay_fixed(
        &env,
        "create-policy-version-escalation.json",
        &["iam:DeletePolicyVersion", "iam:CreatePolicyVersion"],
    )
    .await;
    let (versions, doc) = env.inspect.policy_versions(&arn).await;
    let ids: Vec<&str> = versions.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(
        ids,
        ["v2", "v3", "v4", "v5", "v6"],
        "oldest non-default version deleted"
    );
    assert!(versions.iter().any(|(id, d)| id == "v6" && *d));
    let text = doc.to_string();
    assert!(!text.to_ascii_lowercase().contains("pass"), "PassRole removed: {text}");
    assert!(
        text.contains("lambda:CreateFunction") && text.contains("s3:GetObject"),
        "the rest is kept: {text}"
    );
    let findings = env.inspect.findings().await;
    let f = only_finding(&findings);
    assert_eq!(
        (f.generator_id.as_str(), f.compliance.as_str(), f.severity.as_str()),
        ("iam-privilege-escalation", "PASSED", "HIGH")
    );
    assert_eq!(field(f, "MatchedStatements"), "Sid \"PassExecutionRoles\"");
    let action = &report
        .verdicts
        .iter()
        .find(|v| v.rule_id == "iam-privilege-escalation")
        .unwrap()
        .matched_actions;
    assert_eq!(
        action,
        &["iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"]
    );
}

#[tokio::test]
async fn default_version_with_service_wildcard_is_replaced() {
    let env = seeded().await;
    let arn = format!("arn:aws:iam::{}:policy/DataAccess", env.account_id());
    replay_fixed(
        &env,
        "set-default-policy-version-service-wildcard.json",
        &["iam:CreatePolicyVersion"],
    )
    .await;
    let (versions, doc) = env.inspect.policy_versions(&arn).await;
    assert_eq!(versions.last().unwrap(), &("v3".to_string(), true));
    let sids = sids(&doc);
    assert_eq!(sids, ["Orders"]);
    let findings = env.inspect.findings().await;
    let f = only_finding(&findings);
    assert_eq!(
        (f.generator_id.as_str(), f.compliance.as_str()),
        ("iam-service-wildcard", "PASSED")
    );
    assert_eq!(field(f, "SecurityHubControl"), "IAM.21");
}

#[tokio::test]
async fn open_trust_principal_is_removed_and_named_partner_kept() {
    let env = seeded().await;
    replay_fixed(&env, "create-role-open-trust.json", &["iam:UpdateAssumeRolePolicy"]).await;
    let trust = env.inspect.trust_policy("partner-access").await;
    assert_eq!(
        trust["Statement"][0]["Principal"],
        json!({"AWS": ["arn:aws:iam::111122223333:root"]})
    );
    let findings = env.inspect.findings().await;
    let f = only_finding(&findings);
    assert_eq!(
        (
            f.generator_id.as_str(),
            f.compliance.as_str(),
            f.resource_types[0].as_str()
        ),
        ("iam-open-trust", "PASSED", "AwsIamRole")
    );
}

#[tokio::test]
async fn trust_open_to_anyone_becomes_deny_all_never_wider() {
    let env = seeded().await;
    let (report, _) = replay(&env, "update-assume-role-policy-open.json").await;
    assert_eq!(report.status, ReportStatus::Remediated, "{report:#?}");
    let trust = env.inspect.trust_policy("vendor-audit").await;
    let statements = trust["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 1);
    assert_eq!(statements[0]["Effect"], "Deny");
}

#[tokio::test]
async fn not_action_statement_flagged_by_two_rules_is_fixed_in_one_write() {
    let env = seeded().await;
    let report = replay_fixed(&env, "put-inline-notaction.json", &["iam:PutGroupPolicy"]).await;
    let doc = env.inspect.inline_document("group", "developers", "self-service").await;
    let sids = sids(&doc);
    assert_eq!(sids, ["OwnKeys"]);
    let findings = env.inspect.findings().await;
    assert_eq!(findings.len(), 2);
    for rule in ["iam-service-wildcard", "iam-privilege-escalation"] {
        let f = findings_of(&findings, rule);
        assert_eq!(f.len(), 1, "{rule}");
        assert_eq!(f[0].compliance, "PASSED", "{rule}");
    }
    assert_eq!(report.actions.len(), 1);
    assert_eq!(report.actions[0].verdicts.len(), 2, "one write serves both verdicts");
}

#[tokio::test]
async fn exempt_principal_keeps_its_policy_and_the_finding_says_why() {
    let env = Env::seeded().await;
    let (report, writes) = env
        .replay("cloudtrail/attach-admin-to-exempt-user.json", Mode::Remediate)
        .await;
    assert_eq!(report.status, ReportStatus::NoAction, "{report:#?}");
    assert_eq!(
        writes,
        vec!["securityhub:BatchImportFindings"],
        "the finding, no IAM write"
    );
    assert_eq!(
        env.inspect.attached("user", "breakglass-admin").await,
        vec![ADMIN.to_string()]
    );
    let findings = env.inspect.findings().await;
    let f = findings
        .iter()
        .find(|f| f.generator_id == "iam-admin-access")
        .expect("admin finding");
    assert_eq!(f.compliance, "FAILED");
    assert!(
        field(f, "Outcome").contains("is exempt (break-glass account, approved by SEC-7)"),
        "{f:#?}"
    );
}

/// Issue 13, item 10: a non-default version that grants admin is a dormant risk (one
/// `SetDefaultPolicyVersion` puts it in force), not "compliant". Remediate deletes that version,
/// which changes no one's permissions today; the inverse creates it again as non-default.
#[tokio::test]
async fn a_dormant_admin_version_is_reported_and_deleted() {
    let env = seeded().await;
    let arn = format!("arn:aws:iam::{}:policy/BuildTools", env.account_id());
    assert_eq!(
        env.inspect.policy_versions(&arn).await.0,
        [("v1".to_string(), true), ("v2".to_string(), false)],
        "seeded with a dormant v2"
    );
    replay_fixed(
        &env,
        "create-policy-version-dormant-admin.json",
        &["iam:DeletePolicyVersion"],
    )
    .await;
    let (versions, doc) = env.inspect.policy_versions(&arn).await;
    assert_eq!(versions, [("v1".to_string(), true)], "the dormant version is gone");
    assert_eq!(sids(&doc), ["Builds"], "the default version is untouched");
    let findings = env.inspect.findings().await;
    let admin: Vec<&HubFinding> = findings
        .iter()
        .filter(|f| f.generator_id == "iam-admin-access")
        .collect();
    assert_eq!(admin.len(), 1, "{findings:#?}");
    assert_eq!(admin[0].compliance, "PASSED");
    assert!(findings.iter().all(|f| f.compliance == "PASSED"), "{findings:#?}");
    let inverse: Value = serde_json::from_str(field(admin[0], "Inverse")).unwrap();
    assert_eq!(inverse[0]["action"], "create-policy-version");
    assert_eq!(inverse[0]["set_as_default"], false);
    assert!(inverse[0]["document"].as_str().unwrap().contains("Everything"));
}

#[tokio::test]
async fn a_dormant_admin_version_is_failed_in_dry_run_and_kept() {
    let env = seeded().await;
    let arn = format!("arn:aws:iam::{}:policy/BuildTools", env.account_id());
    let (report, writes) = env
        .replay("cloudtrail/create-policy-version-dormant-admin.json", Mode::DryRun)
        .await;
    assert_eq!(writes, ["securityhub:BatchImportFindings"]);
    assert_eq!(env.inspect.policy_versions(&arn).await.0.len(), 2);
    let v = report
        .verdicts
        .iter()
        .find(|v| v.rule_id == "iam-admin-access")
        .expect("admin verdict");
    assert!(
        v.summary.contains("dormant") && v.summary.contains("v2"),
        "{}",
        v.summary
    );
    let findings = env.inspect.findings().await;
    assert!(findings
        .iter()
        .any(|f| f.generator_id == "iam-admin-access" && f.compliance == "FAILED"));
}

#[tokio::test]
async fn a_dormant_version_made_default_since_is_fixed_as_the_policy_in_force() {
    let env = seeded().await;
    let arn = format!("arn:aws:iam::{}:policy/BuildTools", env.account_id());
    aws_sdk_iam::Client::new(&env.direct)
        .set_default_policy_version()
        .policy_arn(&arn)
        .version_id("v2")
        .send()
        .await
        .unwrap();
    replay_fixed(
        &env,
        "create-policy-version-dormant-admin.json",
        &["iam:CreatePolicyVersion"],
    )
    .await;
    let (versions, doc) = env.inspect.policy_versions(&arn).await;
    assert_eq!(versions.last().unwrap(), &("v3".to_string(), true));
    assert_eq!(sids(&doc), ["Builds"]);
}
