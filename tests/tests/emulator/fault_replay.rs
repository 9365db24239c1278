//! Faults between the responder and AWS: a fault-injecting proxy on 127.0.0.1 in front of moto
//! throttles, fails, drops or delays chosen calls. Retries are bounded (`AWS_MAX_ATTEMPTS`), a call
//! that still fails makes the function return an error (so Lambda retries the event and its
//! on-failure destination catches it), and the report lists what was applied and what was not.

use compliance_responder::executor::StepResult;
use compliance_responder::{Config, Mode, ReportStatus, Responder};
use integration_tests::proxy::{Fault, Proxy};
use integration_tests::{Env, ALL_SOURCES};
use std::time::Duration;

const ADMIN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";
const ATTEMPTS: u32 = 4;

/// The responder with the functions' retry settings, through the test's proxy.
async fn through_proxy(env: &Env) -> (&Proxy, Responder) {
    let proxy = &env.proxy;
    let config = Config {
        mode: Mode::Remediate,
        annotate_source_findings: false,
        max_attempts: ATTEMPTS,
        ..Config::default()
    };
    let sdk = env.sdk_config_for(&config).await;
    (proxy, Responder::from_sdk_config(config, ALL_SOURCES, &sdk))
}

#[tokio::test]
async fn throttled_write_is_retried_and_then_succeeds() {
    let env = Env::seeded().await;
    let (proxy, r) = through_proxy(&env).await;
    proxy.inject("Action=DetachUserPolicy", Fault::Throttle, Some(2));
    let report = r.handle_bytes(&env.event("cloudtrail/attach-admin-to-user.json")).await;
    assert_eq!(report.status, ReportStatus::Remediated, "{report:#?}");
    assert_eq!(
        proxy.count("Action=DetachUserPolicy"),
        3,
        "two throttled attempts, then success"
    );
    assert!(env.inspect.attached("user", "alice").await.is_empty());
}

#[tokio::test]
async fn persistent_server_errors_exhaust_bounded_retries_and_fail_the_invocation() {
    let env = Env::seeded().await;
    let (proxy, r) = through_proxy(&env).await;
    proxy.inject("Action=DetachUserPolicy", Fault::ServerError, None);
    let report = r.handle_bytes(&env.event("cloudtrail/attach-admin-to-user.json")).await;
    assert_eq!(report.status, ReportStatus::Failed, "{report:#?}");
    assert!(
        report.should_retry(),
        "the Lambda returns an error so the event is retried"
    );
    assert_eq!(
        proxy.count("Action=DetachUserPolicy"),
        ATTEMPTS as usize,
        "bounded retries"
    );
    let StepResult::Failed { error } = &report.actions[0].result else {
        panic!("{report:#?}")
    };
    assert_eq!(error.code, "InternalFailure");
    assert!(error.retryable);
    assert_eq!(env.inspect.attached("user", "alice").await, vec![ADMIN.to_string()]);
    let findings = env.inspect.findings().await;
    assert_eq!(findings[0].compliance, "FAILED");
    assert_eq!(findings[0].product_fields["compliance-responder/Outcome"], "failed");
}

#[tokio::test]
async fn failure_midway_reports_what_was_applied_and_what_was_not() {
    let env = Env::seeded().await;
    let (proxy, r) = through_proxy(&env).await;
    // The plan deletes the oldest version to make room, then creates the fixed one.
    proxy.inject("Action=CreatePolicyVersion", Fault::ServerError, None);
    let report = r
        .handle_bytes(&env.event("cloudtrail/create-policy-version-escalation.json"))
        .await;
    assert_eq!(report.status, ReportStatus::Failed, "{report:#?}");
    assert_eq!(report.actions.len(), 2, "{report:#?}");
    assert_eq!(report.actions[0].api_call, "iam:DeletePolicyVersion");
    assert_eq!(report.actions[0].result, StepResult::Applied);
    assert_eq!(report.actions[1].api_call, "iam:CreatePolicyVersion");
    assert!(matches!(report.actions[1].result, StepResult::Failed { .. }));
    // The finding records only the applied step's inverse, so `responder undo` restores exactly it.
    let finding = &env.inspect.findings().await[0];
    assert_eq!(finding.compliance, "FAILED");
    let inverse = &finding.product_fields["compliance-responder/Inverse"];
    assert!(
        inverse.contains("create-policy-version") && !inverse.contains("set-default-policy-version"),
        "{inverse}"
    );
}

#[tokio::test]
async fn security_hub_unreachable_means_nothing_is_changed() {
    let env = Env::seeded().await;
    let (proxy, r) = through_proxy(&env).await;
    proxy.inject("/findings/import", Fault::Drop, None);
    let report = r.handle_bytes(&env.event("cloudtrail/attach-admin-to-user.json")).await;
    assert_eq!(report.status, ReportStatus::Failed, "{report:#?}");
    assert!(
        matches!(report.actions[0].result, StepResult::NotAttempted { .. }),
        "{report:#?}"
    );
    assert_eq!(proxy.count("Action=DetachUserPolicy"), 0);
    assert_eq!(env.inspect.attached("user", "alice").await, vec![ADMIN.to_string()]);
}

#[tokio::test]
async fn slow_reads_are_tolerated() {
    let env = Env::seeded().await;
    let (proxy, r) = through_proxy(&env).await;
    proxy.inject("Action=GetUser", Fault::Delay(Duration::from_millis(300)), None);
    let report = r.handle_bytes(&env.event("cloudtrail/attach-admin-to-user.json")).await;
    assert_eq!(report.status, ReportStatus::Remediated, "{report:#?}");
    assert!(proxy.count("Action=GetUser") >= 1);
}

/// Issue 13, item 4: a Security Hub outage never blocks containment of an active credential
/// compromise. The key is deactivated first, the record retried, and the report says in which
/// order. (IAM over-permission fixes keep "record first": see the test above.)
#[tokio::test]
async fn security_hub_down_does_not_delay_containment() {
    let env = Env::seeded().await;
    let (proxy, r) = through_proxy(&env).await;
    let key = env.ids.real("AKIAEXAMPLEERIN00001").to_string();
    // Every attempt of the first import fails; the retry after containment goes through.
    proxy.inject("/findings/import", Fault::ServerError, Some(ATTEMPTS as usize));
    let report = r
        .handle_bytes(&env.event("guardduty/iam-user-credential-access.json"))
        .await;
    assert_eq!(env.inspect.access_keys("erin").await[&key], "Inactive", "{report:#?}");
    assert_eq!(report.status, ReportStatus::Remediated, "{report:#?}");
    assert_eq!(report.sequence.len(), 3, "{report:#?}");
    assert!(report.sequence[0].contains("recording the finding in Security Hub failed"));
    assert!(report.sequence[1].contains("1 of 1 action(s) in place"));
    assert!(report.sequence[2].contains("recorded on retry"));
    let findings = env.inspect.findings().await;
    let mine: Vec<_> = findings
        .iter()
        .filter(|f| f.generator_id == "guardduty-iam-credentials")
        .collect();
    assert_eq!(mine.len(), 1, "{findings:#?}");
    assert_eq!(mine[0].compliance, "PASSED");
}

#[tokio::test]
async fn security_hub_still_down_after_containment_fails_the_event_for_a_retry() {
    let env = Env::seeded().await;
    let (proxy, r) = through_proxy(&env).await;
    let key = env.ids.real("AKIAEXAMPLEERIN00001").to_string();
    proxy.inject("/findings/import", Fault::ServerError, None);
    let event = env.event("guardduty/iam-user-credential-access.json");
    let report = r.handle_bytes(&event).await;
    assert_eq!(env.inspect.access_keys("erin").await[&key], "Inactive");
    assert_eq!(
        report.status,
        ReportStatus::Failed,
        "Lambda retries the event: {report:#?}"
    );
    assert!(report.sequence[2].contains("still not recorded"), "{report:#?}");
    // Security Hub is back: the retried event finds the key contained and records it.
    proxy.clear();
    let retried = r.handle_bytes(&event).await;
    assert!(retried.errors.is_empty(), "{retried:#?}");
    let findings = env.inspect.findings().await;
    assert!(findings
        .iter()
        .any(|f| f.generator_id == "guardduty-iam-credentials" && f.compliance == "PASSED"));
}
