//! Security Hub's documented `BatchImportFindings` rules, which moto does not enforce, held by the
//! test proxy (`tests/src/contract.rs`) under every emulator test; here each rule has a test of
//! its own that fails where AWS would refuse or ignore what the responder sends.

use compliance_responder::adapters::securityhub::AwsSecurityHub;
use compliance_responder::adapters::FindingsPort;
use compliance_responder::asff::{AsffFinding, AsffResource, ComplianceStatus};
use compliance_responder::{Mode, ReportStatus};
use integration_tests::{Env, REGION};

fn finding(env: &Env, id: &str, account: &str) -> AsffFinding {
    AsffFinding {
        schema_version: "2018-10-08".into(),
        id: id.into(),
        product_arn: format!("arn:aws:securityhub:{REGION}:{account}:product/{account}/default"),
        generator_id: "contract-test".into(),
        aws_account_id: account.into(),
        region: REGION.into(),
        types: vec!["Software and Configuration Checks".into()],
        created_at: "2026-12-01T00:00:00.000Z".into(),
        updated_at: "2026-12-01T00:00:00.000Z".into(),
        severity_label: "LOW".into(),
        title: "contract".into(),
        description: "contract".into(),
        resources: vec![AsffResource {
            resource_type: "Other".into(),
            id: format!("arn:aws:iam::{}:user/x", env.account_id()),
            partition: "aws".into(),
            region: REGION.into(),
        }],
        compliance_status: ComplianceStatus::Failed,
        recommendation_text: "none".into(),
        recommendation_url: "https://example.com".into(),
        product_fields: Default::default(),
    }
}

fn imports(env: &Env) -> Vec<String> {
    env.recorded_calls()
        .into_iter()
        .filter(|c| c.operation == "BatchImportFindings")
        .map(|c| c.request)
        .collect()
}

/// Rule: an update whose `UpdatedAt` is not later than the stored finding's is ignored. The PASSED
/// update of a fix follows the FAILED import of the same event within the same millisecond at
/// times; it must still be later, or Security Hub keeps saying FAILED after the fix.
#[tokio::test]
async fn the_passed_update_of_a_fix_is_later_than_its_failed_record() {
    let env = Env::seeded().await;
    for _ in 0..3 {
        let (report, _) = env
            .replay("cloudtrail/put-inline-admin-only.json", Mode::Remediate)
            .await;
        assert_ne!(report.status, ReportStatus::Failed, "{report:#?}");
    }
    assert!(env.proxy.violations().is_empty(), "{:?}", env.proxy.violations());
    let findings = env.inspect.findings().await;
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].compliance, "PASSED");
}

/// Rule: at most 100 findings per `BatchImportFindings` request.
#[tokio::test]
async fn more_than_100_findings_go_in_requests_of_100() {
    let env = Env::empty().await;
    let hub = AwsSecurityHub::new(aws_sdk_securityhub::Client::new(&env.sdk));
    let batch: Vec<AsffFinding> = (0..250)
        .map(|i| finding(&env, &format!("f-{i}"), env.account_id()))
        .collect();
    env.start_recording();
    hub.import(&batch).await.expect("imported");
    let sent = imports(&env);
    assert_eq!(sent.len(), 3, "100 + 100 + 50");
    assert!(env.proxy.violations().is_empty(), "{:?}", env.proxy.violations());
    let hub = aws_sdk_securityhub::Client::new(&env.direct);
    let (mut stored, mut token) = (0, None);
    loop {
        let page = hub
            .get_findings()
            .max_results(100)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        stored += page.findings.unwrap_or_default().len();
        token = page.next_token.filter(|t| !t.is_empty());
        if token.is_none() {
            break;
        }
    }
    assert_eq!(stored, 250);
}

/// Rules: with the default product, only the finding's own account may import it (in the product
/// ARN's region); a refused finding is retried alone, never the ones already accepted, and the
/// import then fails naming it (so nothing is written without its record).
#[tokio::test]
async fn a_finding_of_another_account_is_refused_and_only_it_is_retried() {
    let env = Env::empty().await;
    let hub = AwsSecurityHub::new(aws_sdk_securityhub::Client::new(&env.sdk));
    let batch = vec![
        finding(&env, "mine-1", env.account_id()),
        finding(&env, "theirs", "111122223333"),
        finding(&env, "mine-2", env.account_id()),
    ];
    env.start_recording();
    let err = hub.import(&batch).await.expect_err("refused");
    assert!(err.message.contains("theirs: AccessDeniedException"), "{err:?}");
    let sent = imports(&env);
    assert_eq!(sent.len(), 3, "the batch, then the refused finding alone twice");
    assert!(sent[0].contains("mine-1") && sent[0].contains("theirs") && sent[0].contains("mine-2"));
    for retry in &sent[1..] {
        assert!(retry.contains("theirs") && !retry.contains("mine-"), "{retry}");
    }
}

/// Rule: a finding over 240 KB is refused; the responder's own findings stay far below it (their
/// text fields and resources are bounded), however large the policy they describe.
#[tokio::test]
async fn an_oversized_finding_is_refused() {
    let env = Env::empty().await;
    let hub = AwsSecurityHub::new(aws_sdk_securityhub::Client::new(&env.sdk));
    let mut big = finding(&env, "big", env.account_id());
    big.description = "x".repeat(250 * 1024);
    let err = hub.import(&[big]).await.expect_err("refused");
    assert!(err.message.contains("big: InvalidInput"), "{err:?}");
}
