//! Accounts × regions (issue 15): an event is read, fixed and recorded in its own account and
//! region; IAM (global) findings have one id and one home whatever region reports them; the
//! responder's own changes do not re-trigger it.
//!
//! moto keeps regional state per region (an `eu-west-1` queue does not exist in `us-east-1`) and
//! per account (assumed-role credentials select the account). The test proxy enforces Security
//! Hub's rule moto lacks: `BatchImportFindings` with the default product takes only findings of
//! the calling account, with the product ARN of the region called (`tests/src/contract.rs`), so a
//! finding recorded in the wrong account or region fails here as it would on AWS.

use compliance_responder::ReportStatus;
use integration_tests::{responder_with_env, Account, Env, Inspect};
use serde_json::Value;

const EU: &str = "eu-west-1";

fn in_region(sdk: &aws_config::SdkConfig, region: &str) -> aws_config::SdkConfig {
    sdk.to_builder()
        .region(aws_config::Region::new(region.to_string()))
        .build()
}

/// `events/<path>` moved to `region` (envelope, `awsRegion`, and the region in any URL or ARN).
fn moved(env: &Env, path: &str, region: &str, account: Option<&str>) -> Vec<u8> {
    let text = String::from_utf8(env.event(path)).unwrap().replace("us-east-1", region);
    let mut e: Value = serde_json::from_str(&text).unwrap();
    if let Some(a) = account {
        let text = e.to_string().replace(env.account_id(), a);
        e = serde_json::from_str(&text).unwrap();
    }
    serde_json::to_vec(&e).unwrap()
}

async fn enable_hub(sdk: &aws_config::SdkConfig) {
    aws_sdk_securityhub::Client::new(sdk)
        .enable_security_hub()
        .send()
        .await
        .expect("enable Security Hub");
}

/// Creates IAM user `name` with one access key; the key's id.
async fn user_with_key(sdk: &aws_config::SdkConfig, name: &str) -> String {
    let iam = aws_sdk_iam::Client::new(sdk);
    iam.create_user().user_name(name).send().await.expect("create user");
    iam.create_access_key()
        .user_name(name)
        .send()
        .await
        .expect("access key")
        .access_key
        .expect("key")
        .access_key_id
}

async fn create_queue(sdk: &aws_config::SdkConfig, name: &str) -> String {
    aws_sdk_sqs::Client::new(sdk)
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .expect("create queue");
    let account = aws_sdk_sts::Client::new(sdk)
        .get_caller_identity()
        .send()
        .await
        .unwrap()
        .account
        .unwrap();
    let region = sdk.region().unwrap();
    format!("arn:aws:sqs:{region}:{account}:{name}")
}

/// A queue created in eu-west-1 is tagged in eu-west-1, and its finding recorded in
/// eu-west-1's Security Hub (the region the resource is in), not the function's.
#[tokio::test]
async fn an_eu_west_1_resource_is_tagged_and_recorded_in_eu_west_1() {
    let env = Env::empty().await;
    let eu = in_region(&env.direct, EU);
    enable_hub(&eu).await;
    let queue = create_queue(&eu, "orders-events").await;
    let r = responder_with_env(&env.sdk, &[("MODE", "remediate")]);
    let (report, writes) = env
        .replay_bytes(&r, &moved(&env, "cloudtrail/create-queue.json", EU, None))
        .await;
    assert_eq!(report.status, ReportStatus::Remediated, "{report:#?}");
    assert!(
        writes
            .iter()
            .any(|w| w.starts_with("sqs:TagQueue") || w.starts_with("tagging:")),
        "{writes:?}"
    );
    let tags = Inspect::new(&eu).tags(&queue).await;
    assert_eq!(tags.get("Owner").map(String::as_str), Some("carol"), "{tags:?}");
    let eu_findings = Inspect::new(&eu).findings().await;
    assert_eq!(eu_findings.len(), 1, "{eu_findings:?}");
    assert!(
        eu_findings[0].id.starts_with(&format!("{EU}/")),
        "{}",
        eu_findings[0].id
    );
    assert!(env.inspect.findings().await.is_empty(), "nothing recorded in us-east-1");
    assert!(env.proxy.violations().is_empty(), "{:?}", env.proxy.violations());
}

/// IAM is global: the same Config result about an IAM policy, reported from two regions, is one
/// finding (one id) recorded in the partition's IAM region, us-east-1.
#[tokio::test]
async fn an_iam_finding_has_one_id_whatever_region_reports_it() {
    let env = Env::seeded().await;
    let eu = in_region(&env.direct, EU);
    enable_hub(&eu).await;
    let r = responder_with_env(&env.sdk, &[("MODE", "dry-run")]);
    let path = "config/compliance-admin-access-policy.json";
    let (home, _) = env.replay_bytes(&r, &env.event(path)).await;
    let (away, _) = env.replay_bytes(&r, &moved(&env, path, EU, None)).await;
    assert_eq!(home.status, ReportStatus::DryRun, "{home:#?}");
    assert_eq!(away.status, ReportStatus::DryRun, "{away:#?}");
    assert_eq!(home.findings[0].id, away.findings[0].id);
    let findings = env.inspect.findings().await;
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(findings[0].id.starts_with("us-east-1/"), "{}", findings[0].id);
    assert!(
        Inspect::new(&eu).findings().await.is_empty(),
        "no second copy in eu-west-1"
    );
    assert!(env.proxy.violations().is_empty(), "{:?}", env.proxy.violations());
}

/// A member account's event in eu-west-1: the member's eu-west-1 queue is tagged through the
/// role assumed there, the finding recorded in the member account's eu-west-1 Security Hub; the
/// central account's own queue of the same name is not touched.
#[test]
fn a_member_event_in_eu_west_1_is_handled_in_that_account_and_region() {
    integration_tests::on_big_stack(member_event_in_eu_west_1());
}

async fn member_event_in_eu_west_1() {
    let env = Env::empty().await;
    let member = Account::create(env.moto).await;
    let member_eu = in_region(&member.plain_sdk_config(&env.moto.endpoint()).await, EU);
    enable_hub(&member_eu).await;
    let queue = create_queue(&member_eu, "orders-events").await;
    let home_eu = in_region(&env.direct, EU);
    let home_queue = create_queue(&home_eu, "orders-events").await;
    // As the template configures tagging-responder: its member role is the tagging one.
    let r = responder_with_env(
        &env.sdk,
        &[
            ("MODE", "remediate"),
            ("MEMBER_TAGGING_ROLE_NAME", "compliance-responder-tagging"),
        ],
    );
    let (report, _) = env
        .replay_bytes(&r, &moved(&env, "cloudtrail/create-queue.json", EU, Some(&member.id)))
        .await;
    assert_eq!(report.status, ReportStatus::Remediated, "{report:#?}");
    assert_eq!(
        env.assumed_roles(),
        [format!("arn:aws:iam::{}:role/compliance-responder-tagging", member.id)]
    );
    let tags = Inspect::new(&member_eu).tags(&queue).await;
    assert_eq!(tags.get("Owner").map(String::as_str), Some("carol"), "{tags:?}");
    assert!(
        Inspect::new(&home_eu).tags(&home_queue).await.is_empty(),
        "the central queue is untouched"
    );
    let findings = Inspect::new(&member_eu).findings().await;
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(
        findings[0].id.starts_with(&format!("{EU}/{}/", member.id)),
        "{}",
        findings[0].id
    );
    assert!(Inspect::new(&home_eu).findings().await.is_empty());
    assert!(env.proxy.violations().is_empty(), "{:?}", env.proxy.violations());
}

/// A GuardDuty finding of a member account: the key is deactivated in the member account, the
/// finding recorded there, and GuardDuty's own finding noted through the member role. The proxy
/// answers `BatchUpdateFindings` (moto has none) under AWS's rule: only the finding's account or
/// its Security Hub administrator may update it, in the finding's region; a note made with the
/// central account's credentials is refused here as on AWS, and would show as a warning.
#[test]
fn a_member_guardduty_finding_is_contained_recorded_and_noted_in_the_member_account() {
    integration_tests::on_big_stack(member_guardduty_finding());
}

async fn member_guardduty_finding() {
    let env = Env::empty().await;
    let member = Account::create(env.moto).await;
    let member_sdk = member.plain_sdk_config(&env.moto.endpoint()).await;
    enable_hub(&member_sdk).await;
    let key = user_with_key(&member_sdk, "erin").await;
    let path = "guardduty/iam-user-credential-access.json";
    let mut event: Value = serde_json::from_slice(&moved(&env, path, "us-east-1", Some(&member.id))).unwrap();
    event["detail"]["resource"]["accessKeyDetails"]["accessKeyId"] = key.clone().into();
    let arn = event["detail"]["arn"].as_str().unwrap().to_string();
    assert!(arn.contains(&member.id), "{arn}");
    let guardduty = "arn:aws:securityhub:us-east-1::product/aws/guardduty";
    env.proxy.seed_finding(guardduty, &arn, &member.id, "us-east-1");
    // As the template configures guardduty-responder: its member role is the containment one.
    let r = responder_with_env(
        &env.sdk,
        &[
            ("MODE", "remediate"),
            ("MEMBER_CONTAINMENT_ROLE_NAME", "compliance-responder-containment"),
            ("ANNOTATE_SOURCE_FINDINGS", "true"),
        ],
    );
    let (report, _) = env.replay_bytes(&r, &serde_json::to_vec(&event).unwrap()).await;
    assert_eq!(report.status, ReportStatus::Remediated, "{report:#?}");
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(
        env.assumed_roles(),
        [format!(
            "arn:aws:iam::{}:role/compliance-responder-containment",
            member.id
        )]
    );
    let keys = Inspect::new(&member_sdk).access_keys("erin").await;
    assert_eq!(keys.get(&key).map(String::as_str), Some("Inactive"), "{keys:?}");
    let recorded = Inspect::new(&member_sdk).findings().await;
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(recorded[0].compliance, "PASSED");
    assert!(
        env.inspect.findings().await.is_empty(),
        "nothing recorded in the central account"
    );
    let updates = env.proxy.finding_updates();
    assert_eq!(updates.len(), 1, "{updates:?}");
    assert_eq!(updates[0].id, arn);
    assert_eq!(updates[0].by_account, member.id, "noted by the member account itself");
    assert_eq!(updates[0].workflow.as_deref(), Some("RESOLVED"));
    assert!(env.proxy.violations().is_empty(), "{:?}", env.proxy.violations());
}

/// One member role per capability (issue 16): a function given only the IAM-rewrite role (as
/// cloudtrail-responder is) never borrows it to contain credentials or tag resources in a member
/// account. Nothing is assumed, nothing written there, and the report says which setting is missing.
#[test]
fn a_function_without_the_capabilitys_member_role_does_not_act_in_member_accounts() {
    integration_tests::on_big_stack(without_capability_role());
}

async fn without_capability_role() {
    let env = Env::empty().await;
    let member = Account::create(env.moto).await;
    let member_sdk = member.plain_sdk_config(&env.moto.endpoint()).await;
    let key = user_with_key(&member_sdk, "erin").await;
    let r = responder_with_env(
        &env.sdk,
        &[
            ("MODE", "remediate"),
            ("MEMBER_ROLE_NAME", "compliance-responder-remediation"),
        ],
    );
    let mut event: Value = serde_json::from_slice(&moved(
        &env,
        "guardduty/iam-user-credential-access.json",
        "us-east-1",
        Some(&member.id),
    ))
    .unwrap();
    event["detail"]["resource"]["accessKeyDetails"]["accessKeyId"] = key.clone().into();
    let queue = moved(&env, "cloudtrail/create-queue.json", "us-east-1", Some(&member.id));
    for (what, bytes, setting) in [
        (
            "containment",
            serde_json::to_vec(&event).unwrap(),
            "MEMBER_CONTAINMENT_ROLE_NAME",
        ),
        ("tagging", queue, "MEMBER_TAGGING_ROLE_NAME"),
    ] {
        let (report, writes) = env.replay_bytes(&r, &bytes).await;
        assert_eq!(report.status, ReportStatus::Failed, "{what}: {report:#?}");
        assert!(
            report
                .errors
                .iter()
                .any(|e| e.code == "NoMemberRole" && e.message.contains(setting)),
            "{what}: {:?}",
            report.errors
        );
        assert!(env.assumed_roles().is_empty(), "{what}: no role assumed");
        assert!(writes.is_empty(), "{what}: {writes:?}");
    }
    let keys = Inspect::new(&member_sdk).access_keys("erin").await;
    assert_eq!(keys.get(&key).map(String::as_str), Some("Active"), "{keys:?}");
}

/// The responder's own writes match its own CloudTrail patterns: an event whose actor is one of
/// its roles (a central function's, by exact ARN, or the member role it assumes) is dropped before
/// any AWS call, and the change it reports is left alone.
#[tokio::test]
async fn the_responders_own_changes_do_not_re_trigger_it() {
    let env = Env::seeded().await;
    let a = env.account_id().to_string();
    // The central function's role by exact ARN; another function's member role by name in every
    // account (account `*`), as the template lists them.
    let roles = format!(
        "arn:aws:iam::{a}:role/compliance-responder/compliance-responder-cloudtrail,arn:aws:iam::*:role/compliance-responder-containment"
    );
    let with = |mode: &str| {
        responder_with_env(
            &env.sdk,
            &[
                ("MODE", mode),
                ("MEMBER_ROLE_NAME", "compliance-responder-remediation"),
                ("RESPONDER_ROLE_ARNS", &roles),
            ],
        )
    };
    let (remediate, dry) = (with("remediate"), with("dry-run"));
    let before = env.inspect.attached("user", "alice").await;
    for (role, own) in [
        ("compliance-responder-cloudtrail", true),
        ("Compliance-Responder-Remediation", true),
        ("compliance-responder-containment", true),
        ("compliance-responder-cloudtrail-x", false),
    ] {
        let mut e: Value = serde_json::from_slice(&env.event("cloudtrail/attach-admin-to-user.json")).unwrap();
        e["detail"]["userIdentity"] = serde_json::json!({
            "type": "AssumedRole",
            "arn": format!("arn:aws:sts::{a}:assumed-role/{role}/cr-event-1"),
            "accountId": a,
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": format!("arn:aws:iam::{a}:role/{role}")}},
        });
        // Own changes go to a remediating responder (which must not touch them); the ordinary
        // role to a dry-run one (judged as usual, nothing written).
        let responder = if own { &remediate } else { &dry };
        env.start_recording();
        let report = responder.handle_bytes(&serde_json::to_vec(&e).unwrap()).await;
        let calls = env.recorded_calls();
        if own {
            assert_eq!(report.status, ReportStatus::Ignored, "{role}: {report:#?}");
            assert!(
                report.reason.as_deref().unwrap_or_default().contains("own"),
                "{report:#?}"
            );
            assert!(calls.is_empty(), "{role}: no AWS call at all: {calls:?}");
        } else {
            assert_eq!(
                report.status,
                ReportStatus::DryRun,
                "{role} is an ordinary role: {report:#?}"
            );
        }
    }
    assert_eq!(env.inspect.attached("user", "alice").await, before);
}
