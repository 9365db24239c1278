//! Replays the AWS Config events under events/config/ against moto: compliance changes of the
//! mapped Config rules (IAM rules and required-tags; resource ids resolved to names live) and
//! configuration item changes of IAM resources.

use compliance_responder::rules::{SkipKind, Status};
use compliance_responder::{Mode, ReportStatus};
use integration_tests::{record_fix_update, Env, REGION};
use serde_json::Value;

fn sids(doc: &Value) -> Vec<&str> {
    doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["Sid"].as_str())
        .collect()
}

#[tokio::test]
async fn admin_access_rule_result_gets_a_new_default_version_without_the_statement() {
    let env = Env::seeded().await;
    let arn = format!("arn:aws:iam::{}:policy/LegacyOps", env.account_id());
    let (report, writes) = env
        .replay("config/compliance-admin-access-policy.json", Mode::Remediate)
        .await;
    assert_eq!(report.status, ReportStatus::Remediated, "{report:#?}");
    assert_eq!(writes, record_fix_update(&["iam:CreatePolicyVersion"]));
    // Only the rule the Config rule maps to judged the policy.
    assert!(
        report.verdicts.iter().all(|v| v.rule_id == "iam-admin-access"),
        "{report:#?}"
    );
    let (versions, doc) = env.inspect.policy_versions(&arn).await;
    assert_eq!(versions.len(), 2);
    assert_eq!(sids(&doc), vec!["OpsRead"]);
}

#[tokio::test]
async fn full_access_rule_result_removes_the_service_wildcard() {
    let env = Env::seeded().await;
    let arn = format!("arn:aws:iam::{}:policy/DataAccess", env.account_id());
    let (report, writes) = env
        .replay("config/compliance-full-access-policy.json", Mode::Remediate)
        .await;
    assert_eq!(report.status, ReportStatus::Remediated, "{report:#?}");
    assert_eq!(writes, record_fix_update(&["iam:CreatePolicyVersion"]));
    let (_, doc) = env.inspect.policy_versions(&arn).await;
    assert_eq!(sids(&doc), vec!["Orders"]);
    let findings = env.inspect.findings().await;
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].generator_id, "iam-service-wildcard");
    assert_eq!(findings[0].compliance, "PASSED");
}

#[tokio::test]
async fn user_with_direct_policies_is_reported_only() {
    let env = Env::seeded().await;
    let (report, writes) = env
        .replay("config/compliance-user-with-direct-policies.json", Mode::Remediate)
        .await;
    assert_eq!(report.status, ReportStatus::NoAction, "{report:#?}");
    assert_eq!(writes, vec!["securityhub:BatchImportFindings"]);
    let findings = env.inspect.findings().await;
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].generator_id, "iam-user-direct-policy");
    assert_eq!(findings[0].compliance, "FAILED");
    assert_eq!(
        findings[0].resource_ids[0],
        format!("arn:aws:iam::{}:user/bob", env.account_id())
    );
    // bob keeps his policy: the fix needs a person.
    assert_eq!(
        env.inspect.attached("user", "bob").await,
        vec![format!("arn:aws:iam::{}:policy/TeamAdmin", env.account_id())]
    );
}

#[tokio::test]
async fn required_tags_result_tags_the_bucket_with_the_defaults() {
    let env = Env::seeded().await;
    let (report, writes) = env
        .replay("config/compliance-required-tags-bucket.json", Mode::Remediate)
        .await;
    assert_eq!(report.status, ReportStatus::Remediated, "{report:#?}");
    assert_eq!(writes, record_fix_update(&["tagging:TagResources"]));
    let tags = env
        .inspect
        .tags(&format!("arn:aws:s3:::{}", env.ids.real("finance-exports")))
        .await;
    assert_eq!(tags.get("CostCenter").map(String::as_str), Some("unassigned"));
    assert_eq!(
        tags.get("Owner").map(String::as_str),
        Some("finance-team"),
        "never overwritten"
    );
}

#[tokio::test]
async fn required_tags_result_for_a_db_instance_resolves_its_resource_id() {
    let env = Env::seeded().await;
    let (report, writes) = env
        .replay("config/compliance-required-tags-db-instance.json", Mode::Remediate)
        .await;
    assert_eq!(report.status, ReportStatus::Remediated, "{report:#?}");
    assert_eq!(writes, record_fix_update(&["tagging:TagResources"]));
    let tags = env
        .inspect
        .tags(&format!("arn:aws:rds:{REGION}:{}:db:orders-db", env.account_id()))
        .await;
    assert_eq!(tags.get("CostCenter").map(String::as_str), Some("unassigned"));
    // A Config event names no creator: Owner is left for a person, and the finding says so.
    assert!(!tags.contains_key("Owner"));
    let review = report.verdicts[0].needs_review.as_deref().unwrap_or_default();
    assert!(review.contains("Owner"), "{report:#?}");
    assert_eq!(env.inspect.findings().await[0].compliance, "FAILED");
}

#[tokio::test]
async fn deleted_resource_and_compliant_results_change_nothing() {
    let env = Env::seeded().await;
    let (report, writes) = env
        .replay("config/compliance-required-tags-deleted-bucket.json", Mode::Remediate)
        .await;
    assert_eq!(report.status, ReportStatus::Skipped, "{report:#?}");
    assert_eq!(
        report.verdicts[0].status,
        Status::NotEvaluated {
            kind: SkipKind::ResourceNotFound
        }
    );
    assert!(writes.is_empty(), "{writes:?}");

    let (report, writes) = env
        .replay("config/compliance-compliant-bucket.json", Mode::Remediate)
        .await;
    assert_eq!(report.status, ReportStatus::Ignored, "{report:#?}");
    assert!(writes.is_empty(), "{writes:?}");
    assert!(env.inspect.findings().await.is_empty());
}

/// A role's configuration item, full or oversized: AWS Config sends an item too large for
/// EventBridge as an `OversizedConfigurationItemChangeNotification` (a summary; the item itself is
/// in S3). Either way the role is judged on its live policies, read from IAM, and fixed the same.
#[tokio::test]
async fn role_configuration_item_is_judged_on_its_live_policies() {
    for sample in ["config/item-change-role.json", "config/item-change-oversized-role.json"] {
        let env = Env::seeded().await;
        let (report, writes) = env.replay(sample, Mode::Remediate).await;
        assert_eq!(report.status, ReportStatus::Remediated, "{sample}: {report:#?}");
        assert_eq!(writes, record_fix_update(&["iam:PutRolePolicy"]), "{sample}");
        let doc = env
            .inspect
            .inline_document("role", "data-pipeline", "pipeline-access")
            .await;
        assert_eq!(sids(&doc), vec!["ReadRawData", "WriteCurated"], "{sample}");
    }
}

/// Config names IAM resources by id. AWS Config itself resolves the id in one call
/// (`BatchGetResourceConfig`) instead of a scan of IAM's lists (one call per 100 policies, users
/// or roles); where Config cannot tell (moto's Config records no IAM users, as an account that
/// does not record them), the scan follows, and a failing Config never fails the event.
#[tokio::test]
async fn config_ids_are_resolved_by_aws_config_before_any_iam_scan() {
    let env = Env::seeded().await;
    let responder = integration_tests::responder_with_env(&env.sdk, &[("MODE", "dry-run")]);
    let ops = |env: &Env| -> Vec<String> { env.recorded_calls().iter().map(|c| c.operation.clone()).collect() };

    env.start_recording();
    let report = responder
        .handle_bytes(&env.event("config/compliance-admin-access-policy.json"))
        .await;
    assert_eq!(report.status, ReportStatus::DryRun, "{report:#?}");
    let calls = ops(&env);
    assert!(calls.contains(&"BatchGetResourceConfig".to_string()), "{calls:?}");
    assert!(!calls.contains(&"ListPolicies".to_string()), "no scan: {calls:?}");

    env.start_recording();
    let report = responder
        .handle_bytes(&env.event("config/compliance-user-with-direct-policies.json"))
        .await;
    assert!(report.errors.is_empty(), "{report:#?}");
    let calls = ops(&env);
    let config = calls.iter().position(|c| c == "BatchGetResourceConfig");
    let scan = calls.iter().position(|c| c == "ListUsers");
    assert!(
        config.is_some() && scan > config,
        "Config first, then the scan: {calls:?}"
    );

    // Config refusing (no permission, no recorder) costs the scan, never the event.
    env.proxy.inject(
        "BatchGetResourceConfig",
        integration_tests::proxy::Fault::ServerError,
        None,
    );
    env.start_recording();
    let report = responder
        .handle_bytes(&env.event("config/compliance-admin-access-policy.json"))
        .await;
    assert_eq!(report.status, ReportStatus::DryRun, "{report:#?}");
    assert!(ops(&env).contains(&"ListPolicies".to_string()));
}

#[tokio::test]
async fn policy_configuration_item_that_is_all_admin_is_left_for_a_person() {
    let env = Env::seeded().await;
    let arn = format!("arn:aws:iam::{}:policy/TeamAdmin", env.account_id());
    let (report, writes) = env.replay("config/item-change-policy.json", Mode::Remediate).await;
    assert_eq!(report.status, ReportStatus::NoAction, "{report:#?}");
    assert_eq!(report.unplanned.len(), 1, "{report:#?}");
    assert!(!writes.iter().any(|w| w.starts_with("iam:")), "{writes:?}");
    let (versions, _) = env.inspect.policy_versions(&arn).await;
    assert_eq!(versions.len(), 1);
    let findings = env.inspect.findings().await;
    assert!(findings.iter().all(|f| f.compliance == "FAILED"));
}
