//! Replays the GuardDuty findings under events/guardduty/ against moto and asserts the state of
//! the access keys and roles, the findings posted, and the note put on GuardDuty's own finding.
//!
//! moto does not implement Security Hub `BatchUpdateFindings`: that one call goes to a Security Hub
//! client mocked with aws-smithy-mocks, which captures each request so the tests can assert its
//! finding identifier, workflow status and note. Everything else goes to moto.

use async_trait::async_trait;
use aws_sdk_securityhub::operation::batch_update_findings::BatchUpdateFindingsOutput;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use compliance_responder::adapters::iam::AwsIam;
use compliance_responder::adapters::securityhub::AwsSecurityHub;
use compliance_responder::adapters::tags::AwsTags;
use compliance_responder::adapters::{FindingsPort, SourceFindingNote};
use compliance_responder::asff::AsffFinding;
use compliance_responder::error::AwsError;
use compliance_responder::rules::Status;
use compliance_responder::{Config, Mode, Report, ReportStatus, Responder};
use integration_tests::{record_fix_update, Env, ALL_SOURCES};
use serde_json::Value;
use std::sync::{Arc, Mutex};

/// One captured `BatchUpdateFindings` request: (finding id, product ARN, workflow status, note).
type Captured = Arc<Mutex<Vec<(String, String, String, String)>>>;

/// Imports go to moto; `BatchUpdateFindings` goes to the mocked client.
struct MotoHubWithMockedUpdate {
    moto: AwsSecurityHub,
    mocked: AwsSecurityHub,
}

#[async_trait]
impl FindingsPort for MotoHubWithMockedUpdate {
    async fn import(&self, findings: &[AsffFinding]) -> Result<(), AwsError> {
        self.moto.import(findings).await
    }
    async fn annotate(&self, note: &SourceFindingNote) -> Result<(), AwsError> {
        self.mocked.annotate(note).await
    }
    async fn suppressed(
        &self,
        product_arn: &str,
        ids: &[String],
    ) -> Result<std::collections::BTreeSet<String>, AwsError> {
        self.moto.suppressed(product_arn, ids).await
    }
}

fn responder(env: &Env, mode: Mode, quarantine: bool) -> (Responder, Captured) {
    let (r, captured, _) = responder_with_update(env, mode, quarantine, true);
    (r, captured)
}

/// A responder whose `BatchUpdateFindings` succeeds (`updates`) or is always refused; the rule
/// counts the calls.
fn responder_with_update(
    env: &Env,
    mode: Mode,
    quarantine: bool,
    updates: bool,
) -> (Responder, Captured, aws_smithy_mocks::Rule) {
    let captured: Captured = Arc::default();
    let sink = captured.clone();
    let rule = mock!(aws_sdk_securityhub::Client::batch_update_findings)
        .match_requests(move |req| {
            let id = &req.finding_identifiers()[0];
            sink.lock().unwrap().push((
                id.id().unwrap_or_default().to_string(),
                id.product_arn().unwrap_or_default().to_string(),
                req.workflow()
                    .and_then(|w| w.status())
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                req.note().and_then(|n| n.text()).unwrap_or_default().to_string(),
            ));
            true
        })
        .sequence();
    let rule = if updates {
        rule.output(|| BatchUpdateFindingsOutput::builder().build())
            .repeatedly()
            .build()
    } else {
        // A refusal that is not retried by the SDK (a client error), so each attempt is one call.
        rule.http_status(
            403,
            Some(r#"{"__type":"AccessDeniedException","Message":"not authorized"}"#.into()),
        )
        .repeatedly()
        .build()
    };
    let mocked = mock_client!(aws_sdk_securityhub, RuleMode::MatchAny, &[&rule]);
    let mut config = Config {
        mode,
        ..Config::default()
    };
    config.guardduty.quarantine = quarantine;
    let hub = MotoHubWithMockedUpdate {
        moto: AwsSecurityHub::new(aws_sdk_securityhub::Client::new(&env.sdk)),
        mocked: AwsSecurityHub::new(mocked),
    };
    let responder = Responder::new(
        config,
        ALL_SOURCES,
        Arc::new(AwsIam::new(aws_sdk_iam::Client::new(&env.sdk))),
        Arc::new(AwsTags::from_sdk_config(&env.sdk)),
        Arc::new(hub),
    );
    (responder, captured, rule)
}

fn finding_arn(env: &Env, file: &str) -> String {
    let event: Value = serde_json::from_slice(&env.event(&format!("guardduty/{file}"))).unwrap();
    event["detail"]["arn"].as_str().unwrap().to_string()
}

async fn replay(env: &Env, file: &str, mode: Mode, quarantine: bool) -> (Report, Vec<String>, Captured) {
    let (r, captured) = responder(env, mode, quarantine);
    let (report, writes) = env.replay_with(&r, &format!("guardduty/{file}")).await;
    (report, writes, captured)
}

#[tokio::test]
async fn leaked_user_key_is_deactivated_not_deleted_and_the_guardduty_finding_resolved() {
    let env = Env::seeded().await;
    let key = env.ids.real("AKIAEXAMPLEERIN00001").to_string();
    let (report, writes, notes) = replay(&env, "iam-user-credential-access.json", Mode::Remediate, false).await;
    assert_eq!(report.status, ReportStatus::Remediated, "{report:#?}");
    assert_eq!(writes, record_fix_update(&["iam:UpdateAccessKey"]));
    assert_eq!(
        env.inspect.access_keys("erin").await.get(&key).map(String::as_str),
        Some("Inactive")
    );

    let findings = env.inspect.findings().await;
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].generator_id, "guardduty-iam-credentials");
    assert_eq!(findings[0].compliance, "PASSED");
    assert!(findings[0].resource_ids.contains(&key), "{:?}", findings[0]);

    let notes = notes.lock().unwrap();
    assert_eq!(notes.len(), 1, "one BatchUpdateFindings call");
    let (id, product, workflow, text) = &notes[0];
    assert_eq!(id, &finding_arn(&env, "iam-user-credential-access.json"));
    assert_eq!(product, "arn:aws:securityhub:us-east-1::product/aws/guardduty");
    assert_eq!(workflow, "RESOLVED");
    assert!(
        text.contains(&format!("deactivate access key {key} of user erin (applied)")),
        "{text}"
    );
}

#[tokio::test]
async fn exfiltrated_instance_credentials_revoke_the_role_sessions() {
    let env = Env::seeded().await;
    let (report, writes, notes) = replay(&env, "instance-credentials-outside-aws.json", Mode::Remediate, false).await;
    assert_eq!(report.status, ReportStatus::Remediated, "{report:#?}");
    assert_eq!(writes, record_fix_update(&["iam:PutRolePolicy"]));
    let doc = env
        .inspect
        .inline_document("role", "web-server", "AWSRevokeOlderSessions")
        .await;
    let statement = &doc["Statement"][0];
    assert_eq!(statement["Effect"], "Deny");
    assert_eq!(statement["Action"][0], "*");
    let cutoff = statement["Condition"]["DateLessThan"]["aws:TokenIssueTime"]
        .as_str()
        .unwrap();
    // Sessions issued before the responder ran are revoked: the cut-off is after the finding.
    assert!(cutoff > "2026-11-20T12:00:03Z", "{cutoff}");
    // The role's own permissions are untouched.
    assert_eq!(
        env.inspect.attached("role", "web-server").await,
        vec!["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"]
    );
    assert_eq!(notes.lock().unwrap()[0].2, "RESOLVED");

    // Replayed: the revocation already covers the finding, nothing more is written.
    let (again, writes, _) = replay(&env, "instance-credentials-outside-aws.json", Mode::Remediate, false).await;
    assert_eq!(again.status, ReportStatus::NoAction, "{again:#?}");
    assert_eq!(again.verdicts[0].status, Status::Resolved);
    assert!(!writes.iter().any(|w| w.starts_with("iam:")), "{writes:?}");
}

#[tokio::test]
async fn quarantine_setting_also_attaches_deny_all() {
    let env = Env::seeded().await;
    let (report, writes, _) = replay(&env, "instance-credentials-inside-aws.json", Mode::Remediate, true).await;
    assert_eq!(report.status, ReportStatus::Remediated, "{report:#?}");
    assert_eq!(
        writes,
        record_fix_update(&["iam:PutRolePolicy", "iam:AttachRolePolicy"])
    );
    assert_eq!(
        env.inspect.attached("role", "batch-worker").await,
        vec!["arn:aws:iam::aws:policy/AWSDenyAll"]
    );
    assert_eq!(
        env.inspect.inline_names("role", "batch-worker").await,
        vec!["AWSRevokeOlderSessions"]
    );
}

#[tokio::test]
async fn root_credential_usage_is_reported_and_nothing_is_touched() {
    let env = Env::seeded().await;
    let (report, writes, notes) = replay(&env, "root-credential-usage.json", Mode::Remediate, true).await;
    assert_eq!(report.status, ReportStatus::NoAction, "{report:#?}");
    assert_eq!(writes, vec!["securityhub:BatchImportFindings"], "only the finding");
    let findings = env.inspect.findings().await;
    assert_eq!(findings[0].compliance, "FAILED");
    assert_eq!(findings[0].severity, "CRITICAL");
    assert_eq!(
        findings[0].resource_ids,
        vec![format!("arn:aws:iam::{}:root", env.account_id())]
    );
    let notes = notes.lock().unwrap();
    assert_eq!(notes[0].2, "NOTIFIED");
    assert!(notes[0].3.contains("report only"), "{}", notes[0].3);
}

#[tokio::test]
async fn key_already_inactive_changes_nothing() {
    let env = Env::seeded().await;
    let key = env.ids.real("AKIAEXAMPLEFRANK0001").to_string();
    aws_sdk_iam::Client::new(&env.sdk)
        .update_access_key()
        .user_name("frank")
        .access_key_id(&key)
        .status(aws_sdk_iam::types::StatusType::Inactive)
        .send()
        .await
        .unwrap();
    let (report, writes, notes) = replay(&env, "iam-user-persistence.json", Mode::Remediate, false).await;
    assert_eq!(report.status, ReportStatus::NoAction, "{report:#?}");
    assert_eq!(report.verdicts[0].status, Status::Resolved);
    assert!(report.verdicts[0].summary.contains("already inactive"));
    assert!(!writes.iter().any(|w| w.starts_with("iam:")), "{writes:?}");
    assert_eq!(notes.lock().unwrap()[0].2, "RESOLVED");
}

#[tokio::test]
async fn findings_outside_the_configured_types_change_nothing() {
    let env = Env::seeded().await;
    let (report, writes, notes) = replay(&env, "low-severity-discovery-ignored.json", Mode::Remediate, false).await;
    assert_eq!(report.status, ReportStatus::NoAction, "{report:#?}");
    assert!(report.verdicts[0].summary.contains("GUARDDUTY_FINDING_TYPES"));
    assert!(writes.is_empty(), "{writes:?}");
    assert!(notes.lock().unwrap().is_empty());
    assert!(env.inspect.findings().await.is_empty());
}

#[tokio::test]
async fn dry_run_leaves_the_key_active_and_notifies() {
    let env = Env::seeded().await;
    let key = env.ids.real("AKIAEXAMPLEGRACE0001").to_string();
    let (report, writes, notes) = replay(&env, "iam-user-privilege-escalation.json", Mode::DryRun, false).await;
    assert_eq!(report.status, ReportStatus::DryRun, "{report:#?}");
    assert_eq!(writes, vec!["securityhub:BatchImportFindings"]);
    assert_eq!(
        env.inspect.access_keys("grace").await.get(&key).map(String::as_str),
        Some("Active")
    );
    let notes = notes.lock().unwrap();
    assert_eq!(notes[0].2, "NOTIFIED");
    assert!(notes[0].3.contains("dry-run"), "{}", notes[0].3);
}

#[tokio::test]
async fn the_same_finding_delivered_three_times_makes_one_change_and_one_finding() {
    let env = Env::seeded().await;
    let mut iam_writes = 0;
    for _ in 0..3 {
        let (report, writes, _) = replay(&env, "iam-user-credential-access.json", Mode::Remediate, false).await;
        assert_ne!(report.status, ReportStatus::Failed, "{report:#?}");
        iam_writes += writes.iter().filter(|w| w.starts_with("iam:")).count();
    }
    assert_eq!(iam_writes, 1);
    assert_eq!(env.inspect.findings().await.len(), 1);
}

/// The GuardDuty sample about erin with its access key id replaced.
fn erin_with_key(env: &Env, key: &str) -> Vec<u8> {
    let mut event: Value = serde_json::from_slice(&env.event("guardduty/iam-user-credential-access.json")).unwrap();
    event["detail"]["resource"]["accessKeyDetails"]["accessKeyId"] = key.into();
    serde_json::to_vec(&event).unwrap()
}

/// GuardDuty names a user and a key: a key that is not one of that user's keys (another user's,
/// or gone) is never taken as contained. The finding stays FAILED and GuardDuty's is not resolved.
#[tokio::test]
async fn a_key_that_is_not_the_named_users_is_not_resolved() {
    let env = Env::seeded().await;
    let franks = env.ids.real("AKIAEXAMPLEFRANK0001").to_string();
    // The key's owner is asked of IAM (GetAccessKeyLastUsed), never inferred from the named
    // user's list: frank's key is said to be frank's; an unknown key is owned by no user here.
    for (key, whose) in [
        (franks.as_str(), "it belongs to user frank, not user erin"),
        ("AKIAEXAMPLENOSUCHKEY", "no user of account"),
    ] {
        let (r, notes) = responder(&env, Mode::Remediate, false);
        env.start_recording();
        let (report, writes) = env.replay_bytes(&r, &erin_with_key(&env, key)).await;
        assert_eq!(writes, vec!["securityhub:BatchImportFindings"], "{key}: no IAM write");
        assert!(
            env.recorded_calls()
                .iter()
                .any(|c| c.operation == "GetAccessKeyLastUsed"),
            "{key}: owner looked up"
        );
        assert_ne!(report.status, ReportStatus::Remediated, "{report:#?}");
        let summary = &report.verdicts[0].summary;
        assert!(
            summary.contains("containment is not verified") && summary.contains(whose),
            "{summary}"
        );
        let notes = notes.lock().unwrap();
        assert_eq!(notes[0].2, "NOTIFIED", "{key}: GuardDuty's finding is not resolved");
    }
    let findings = env.inspect.findings().await;
    assert!(findings.iter().all(|f| f.compliance == "FAILED"), "{findings:#?}");
    assert_eq!(env.inspect.access_keys("frank").await[&franks], "Active");
}

/// Temporary credentials of an IAM user (GetSessionToken, a console session: `ASIA…`) are not
/// among its access keys: the user's sessions issued before now are revoked, as for a role.
#[tokio::test]
async fn a_users_temporary_credentials_are_revoked_like_a_roles_sessions() {
    let env = Env::seeded().await;
    let erins = env.ids.real("AKIAEXAMPLEERIN00001").to_string();
    let (r, notes) = responder(&env, Mode::Remediate, false);
    let (report, writes) = env.replay_bytes(&r, &erin_with_key(&env, "ASIAEXAMPLEERINSESS1")).await;
    assert_eq!(report.status, ReportStatus::Remediated, "{report:#?}");
    assert_eq!(writes, record_fix_update(&["iam:PutUserPolicy"]));
    let doc = env
        .inspect
        .inline_document("user", "erin", "AWSRevokeOlderSessions")
        .await;
    assert_eq!(doc["Statement"][0]["Effect"], "Deny");
    assert!(doc["Statement"][0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"].is_string());
    assert_eq!(
        env.inspect.access_keys("erin").await[&erins],
        "Active",
        "the long-term key is another credential"
    );
    assert_eq!(notes.lock().unwrap()[0].2, "RESOLVED");
}

/// IAM caps a user's inline policies at 2,048 characters *together* (moto does not): a revocation
/// policy that would not fit is not attempted; the finding says how to contain by hand, and
/// GuardDuty's finding is not resolved.
#[tokio::test]
async fn a_revocation_that_would_exceed_the_inline_quota_is_left_for_a_person() {
    let env = Env::seeded().await;
    let statement = |i: usize| {
        format!(
            r#"{{"Sid":"Read{i}","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::reports-archive-{i:04}/quarterly/*"}}"#
        )
    };
    let big = format!(
        r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
        (0..16).map(statement).collect::<Vec<_>>().join(",")
    );
    assert!(big.len() >= 1900 && big.len() < 2048, "{}", big.len());
    aws_sdk_iam::Client::new(&env.direct)
        .put_user_policy()
        .user_name("erin")
        .policy_name("reports")
        .policy_document(&big)
        .send()
        .await
        .unwrap();
    let (r, notes) = responder(&env, Mode::Remediate, false);
    let (report, writes) = env.replay_bytes(&r, &erin_with_key(&env, "ASIAEXAMPLEERINSESS1")).await;
    assert_eq!(writes, vec!["securityhub:BatchImportFindings"], "{report:#?}");
    let v = &report.verdicts[0];
    assert!(
        matches!(&v.remedy, compliance_responder::plan::Remedy::Manual { reason } if reason.contains("over IAM's quota of 2048")),
        "{v:#?}"
    );
    assert_eq!(
        env.inspect.inline_names("user", "erin").await,
        vec!["reports".to_string()]
    );
    assert_eq!(notes.lock().unwrap()[0].2, "NOTIFIED");
}

/// An existing `AWSRevokeOlderSessions` that denies less than everything (here only S3, with a
/// later cut-off) does not count: it is replaced, and the old one is the recorded inverse.
#[tokio::test]
async fn a_narrow_existing_revocation_policy_is_replaced() {
    let env = Env::seeded().await;
    let narrow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"2099-01-01T00:00:00Z"}}}]}"#;
    aws_sdk_iam::Client::new(&env.direct)
        .put_role_policy()
        .role_name("web-server")
        .policy_name("AWSRevokeOlderSessions")
        .policy_document(narrow)
        .send()
        .await
        .unwrap();
    let (report, writes, _) = replay(&env, "instance-credentials-outside-aws.json", Mode::Remediate, false).await;
    assert_eq!(report.status, ReportStatus::Remediated, "{report:#?}");
    assert_eq!(writes, record_fix_update(&["iam:PutRolePolicy"]));
    let doc = env
        .inspect
        .inline_document("role", "web-server", "AWSRevokeOlderSessions")
        .await;
    assert_eq!(doc["Statement"][0]["Action"][0], "*");
    let inverse = serde_json::to_string(&report.actions[0].inverse).unwrap();
    assert!(inverse.contains("s3:*"), "the narrow policy is the inverse: {inverse}");
}

/// A note that cannot be put on GuardDuty's finding is a warning with its own retries: the key
/// is deactivated and recorded, the event is not failed (a retried event would only repeat a fix
/// already applied), and the EMF line says `annotation-failed` for the alarm.
#[tokio::test]
async fn a_failed_note_on_the_guardduty_finding_is_a_warning_not_a_failed_event() {
    let env = Env::seeded().await;
    let key = env.ids.real("AKIAEXAMPLEERIN00001").to_string();
    let (r, _, rule) = responder_with_update(&env, Mode::Remediate, false, false);
    let (report, writes) = env.replay_with(&r, "guardduty/iam-user-credential-access.json").await;
    assert_eq!(report.status, ReportStatus::Remediated, "{report:#?}");
    assert!(!report.should_retry());
    assert_eq!(writes, record_fix_update(&["iam:UpdateAccessKey"]));
    assert_eq!(report.warnings.len(), 1, "{report:#?}");
    assert_eq!(rule.num_calls(), 3, "three attempts at the note");
    assert_eq!(
        env.inspect.access_keys("erin").await.get(&key).map(String::as_str),
        Some("Inactive")
    );
    assert_eq!(env.inspect.findings().await[0].compliance, "PASSED");
    let lines = compliance_responder::metrics::emf_lines("guardduty-responder", &report, 0);
    assert!(
        lines.iter().any(|l| l.contains("\"Outcome\":\"annotation-failed\"")),
        "{lines:?}"
    );
}
