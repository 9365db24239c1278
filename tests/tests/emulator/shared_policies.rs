//! A customer-managed policy reaches every principal it is attached to: rewriting it (a new default
//! version) changes them all. It is rewritten only when every one of them may be changed;
//! otherwise it is detached from the event's principal only, or left for a person, and the
//! finding names every principal it reaches.

use compliance_responder::{Mode, ReportStatus};
use integration_tests::{record_fix_update, Env};
use serde_json::Value;

const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}]}"#;

/// Seeds OrganizationAccountAccessRole and attaches DataAccess (`s3:*` on `*`, fixed by a new
/// default version) to it and to each of `users`. Returns the policy ARN.
async fn share_data_access(env: &Env, users: &[&str], with_protected_role: bool) -> String {
    let iam = aws_sdk_iam::Client::new(&env.direct);
    let arn = format!("arn:aws:iam::{}:policy/DataAccess", env.account_id());
    if with_protected_role {
        iam.create_role()
            .role_name("OrganizationAccountAccessRole")
            .assume_role_policy_document(TRUST)
            .send()
            .await
            .unwrap();
        iam.attach_role_policy()
            .role_name("OrganizationAccountAccessRole")
            .policy_arn(&arn)
            .send()
            .await
            .unwrap();
    }
    for u in users {
        iam.attach_user_policy()
            .user_name(*u)
            .policy_arn(&arn)
            .send()
            .await
            .unwrap();
    }
    arn
}

fn iam_writes(writes: &[String]) -> Vec<&str> {
    writes
        .iter()
        .filter(|w| w.starts_with("iam:"))
        .map(String::as_str)
        .collect()
}

#[tokio::test]
async fn a_policy_shared_with_a_protected_role_is_not_rewritten() {
    let env = Env::seeded().await;
    let arn = share_data_access(&env, &["carol"], true).await;
    let before = env.inspect.policy_versions(&arn).await;
    let (report, writes) = env
        .replay(
            "cloudtrail/set-default-policy-version-service-wildcard.json",
            Mode::Remediate,
        )
        .await;
    assert_eq!(report.status, ReportStatus::NoAction, "{report:#?}");
    assert!(iam_writes(&writes).is_empty(), "{writes:?}");
    assert_eq!(env.inspect.policy_versions(&arn).await, before, "no new version");
    let v = report
        .verdicts
        .iter()
        .find(|v| v.rule_id == "iam-service-wildcard")
        .expect("verdict");
    assert!(v.summary.contains("is shared"), "{v:#?}");
    assert!(v.summary.contains("OrganizationAccountAccessRole"), "{v:#?}");
    let findings = env.inspect.findings().await;
    let f = findings
        .iter()
        .find(|f| f.generator_id == "iam-service-wildcard")
        .expect("finding");
    assert_eq!(f.compliance, "FAILED");
    let acct = env.account_id();
    for reached in [
        format!("arn:aws:iam::{acct}:role/OrganizationAccountAccessRole"),
        format!("arn:aws:iam::{acct}:user/carol"),
    ] {
        assert!(f.resource_ids.contains(&reached), "{reached} not in {f:#?}");
    }
}

#[tokio::test]
async fn attaching_a_shared_policy_detaches_it_from_that_principal_only() {
    let env = Env::seeded().await;
    let arn = share_data_access(&env, &["alice"], true).await;
    let before = env.inspect.policy_versions(&arn).await;
    let mut event: Value = serde_json::from_slice(&env.event("cloudtrail/attach-admin-to-user.json")).unwrap();
    event["detail"]["requestParameters"]["policyArn"] = arn.clone().into();
    let (report, writes) = env
        .replay_bytes(
            &integration_tests::responder(&env.sdk, Mode::Remediate),
            &serde_json::to_vec(&event).unwrap(),
        )
        .await;
    assert_eq!(report.status, ReportStatus::Remediated, "{report:#?}");
    assert_eq!(iam_writes(&writes), vec!["iam:DetachUserPolicy"], "{writes:?}");
    assert_eq!(
        env.inspect.policy_versions(&arn).await,
        before,
        "the shared policy is not rewritten"
    );
    assert!(!env.inspect.attached("user", "alice").await.contains(&arn));
    assert_eq!(
        env.inspect.attached("role", "OrganizationAccountAccessRole").await,
        vec![arn.clone()]
    );
}

#[tokio::test]
async fn a_policy_shared_with_an_exempt_user_is_not_rewritten() {
    let env = Env::seeded().await;
    let arn = share_data_access(&env, &["breakglass-admin"], false).await;
    let before = env.inspect.policy_versions(&arn).await;
    let (report, writes) = env
        .replay(
            "cloudtrail/set-default-policy-version-service-wildcard.json",
            Mode::Remediate,
        )
        .await;
    assert!(iam_writes(&writes).is_empty(), "{writes:?}");
    assert_eq!(env.inspect.policy_versions(&arn).await, before);
    assert!(
        report.verdicts.iter().any(|v| v.summary.contains("is exempt")),
        "{report:#?}"
    );
}

#[tokio::test]
async fn a_policy_reaching_only_ordinary_principals_is_rewritten_and_names_them() {
    let env = Env::seeded().await;
    let arn = share_data_access(&env, &["carol"], false).await;
    let (report, writes) = env
        .replay(
            "cloudtrail/set-default-policy-version-service-wildcard.json",
            Mode::Remediate,
        )
        .await;
    assert_eq!(report.status, ReportStatus::Remediated, "{report:#?}");
    assert_eq!(writes, record_fix_update(&["iam:CreatePolicyVersion"]));
    let (versions, doc) = env.inspect.policy_versions(&arn).await;
    assert_eq!(versions.len(), 3);
    assert!(!doc.to_string().contains("s3:*"), "{doc}");
    let findings = env.inspect.findings().await;
    let carol = format!("arn:aws:iam::{}:user/carol", env.account_id());
    assert!(
        findings.iter().any(|f| f.resource_ids.contains(&carol)),
        "{findings:#?}"
    );
}
