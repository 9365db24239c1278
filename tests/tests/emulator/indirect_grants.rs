//! Grants that do not touch a policy (issue 13, item 5): a rename, a group membership or a
//! permissions boundary gives a principal what its policies allow without any policy event, so the
//! principal is reviewed as a whole on that event; and every exemption tag set on a principal or
//! policy is put on record in Security Hub. Replayed against moto; IAM and Security Hub state are
//! asserted after each replay.

use compliance_responder::{Mode, ReportStatus};
use integration_tests::{Env, HubFinding};
use serde_json::{json, Value};

const ADMIN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";

fn by_rule<'a>(findings: &'a [HubFinding], rule: &str) -> Vec<&'a HubFinding> {
    findings.iter().filter(|f| f.generator_id == rule).collect()
}

/// Replays `sample` in remediate mode and checks that `kind`/`name` lost AdministratorAccess with
/// one `detach` write between the FAILED record and the PASSED update.
async fn admin_detached_on(sample: &str, kind: &str, name: &str, detach: &str) -> Env {
    let env = Env::seeded().await;
    assert!(
        env.inspect.attached(kind, name).await.contains(&ADMIN.to_string()),
        "seeded"
    );
    let (report, writes) = env.replay(&format!("cloudtrail/{sample}"), Mode::Remediate).await;
    assert_eq!(report.status, ReportStatus::Remediated, "{report:#?}");
    assert!(
        !env.inspect.attached(kind, name).await.contains(&ADMIN.to_string()),
        "AdministratorAccess still attached to {kind} {name}"
    );
    assert!(
        writes.first().map(String::as_str) == Some("securityhub:BatchImportFindings")
            && writes.contains(&format!("iam:{detach}")),
        "record first, then {detach}: {writes:?}"
    );
    let findings = env.inspect.findings().await;
    let admin = by_rule(&findings, "iam-admin-access");
    assert_eq!(admin.len(), 1, "{findings:#?}");
    assert_eq!(admin[0].compliance, "PASSED");
    assert_eq!(
        admin[0].resource_ids[0],
        format!("arn:aws:iam::{}:{kind}/{name}", env.account_id())
    );
    env
}

#[tokio::test]
async fn a_renamed_user_is_reviewed_under_its_new_name() {
    // Admin attached to alice-temp, then alice-temp renamed to alice: the attach event named a
    // user that no longer exists; the rename event reviews alice and removes the grant.
    admin_detached_on("rename-user-with-admin.json", "user", "alice", "DetachUserPolicy").await;
}

#[tokio::test]
async fn a_renamed_group_is_reviewed_under_its_new_name() {
    admin_detached_on(
        "rename-group-with-admin.json",
        "group",
        "developers",
        "DetachGroupPolicy",
    )
    .await;
}

#[tokio::test]
async fn a_removed_permissions_boundary_gets_the_role_reviewed() {
    admin_detached_on(
        "delete-role-permissions-boundary.json",
        "role",
        "ci-deployer",
        "DetachRolePolicy",
    )
    .await;
}

#[tokio::test]
async fn a_user_added_to_an_admin_group_gets_the_group_reviewed() {
    let env = Env::seeded().await;
    let iam = aws_sdk_iam::Client::new(&env.direct);
    iam.add_user_to_group()
        .group_name("developers")
        .user_name("erin")
        .send()
        .await
        .unwrap();
    let (report, _) = env
        .replay("cloudtrail/add-user-to-admin-group.json", Mode::Remediate)
        .await;
    assert_eq!(report.status, ReportStatus::Remediated, "{report:#?}");
    // erin has no policies of her own; what she got is the group's, and that is what is fixed.
    assert!(!env
        .inspect
        .attached("group", "developers")
        .await
        .contains(&ADMIN.to_string()));
    let findings = env.inspect.findings().await;
    let admin = by_rule(&findings, "iam-admin-access");
    assert_eq!(admin.len(), 1, "{findings:#?}");
    assert!(admin[0].resource_ids[0].ends_with(":group/developers"));
    assert_eq!(admin[0].compliance, "PASSED");
}

#[tokio::test]
async fn grants_through_a_rename_are_only_reported_in_dry_run() {
    let env = Env::seeded().await;
    let (report, writes) = env.replay("cloudtrail/rename-user-with-admin.json", Mode::DryRun).await;
    assert_eq!(report.status, ReportStatus::DryRun, "{report:#?}");
    assert_eq!(writes, vec!["securityhub:BatchImportFindings".to_string()]);
    assert!(env.inspect.attached("user", "alice").await.contains(&ADMIN.to_string()));
    let findings = env.inspect.findings().await;
    assert_eq!(by_rule(&findings, "iam-admin-access")[0].compliance, "FAILED");
}

/// The tag-user-exempt sample rewritten as another call on the same user.
fn tag_event(env: &Env, name: &str, params: Value) -> Vec<u8> {
    let mut event: Value = serde_json::from_slice(&env.event("cloudtrail/tag-user-exempt.json")).unwrap();
    event["detail"]["eventName"] = json!(name);
    event["detail"]["requestParameters"] = params;
    serde_json::to_vec(&event).unwrap()
}

#[tokio::test]
async fn an_exemption_tag_is_put_on_record_and_closed_when_removed() {
    let env = Env::seeded().await;
    // breakglass-admin carries the exemption in the sandbox, as the TagUser event set it.
    let (report, writes) = env.replay("cloudtrail/tag-user-exempt.json", Mode::Remediate).await;
    assert_eq!(
        writes,
        vec!["securityhub:BatchImportFindings".to_string()],
        "no IAM write"
    );
    assert!(report.errors.is_empty(), "{report:#?}");
    let findings = env.inspect.findings().await;
    let record = by_rule(&findings, "exemption-tag");
    assert_eq!(record.len(), 1, "{findings:#?}");
    let record = record[0];
    // A risk accepted on purpose: WARNING, and MEDIUM because this exemption never expires.
    assert_eq!(record.compliance, "WARNING");
    assert_eq!(record.severity, "MEDIUM");
    assert_eq!(
        record.resource_ids[0],
        format!("arn:aws:iam::{}:user/breakglass-admin", env.account_id())
    );
    for part in [
        "no expiry",
        "break-glass account, approved by SEC-7",
        "AWSReservedSSO_SecurityAudit_1a2b3c4d5e6f7a8b/sam@example.com",
        "TagUser",
    ] {
        assert!(
            record.description.contains(part),
            "{part:?} missing: {}",
            record.description
        );
    }
    // The tag is removed: the same finding (same id) is now PASSED.
    let iam = aws_sdk_iam::Client::new(&env.direct);
    iam.untag_user()
        .user_name("breakglass-admin")
        .tag_keys("compliance-responder:exempt")
        .send()
        .await
        .unwrap();
    let untag = tag_event(
        &env,
        "UntagUser",
        json!({"userName": "breakglass-admin", "tagKeys": ["compliance-responder:exempt"]}),
    );
    let responder = integration_tests::responder(&env.sdk, Mode::Remediate);
    let (_, writes) = env.replay_bytes(&responder, &untag).await;
    assert_eq!(writes, vec!["securityhub:BatchImportFindings".to_string()]);
    let findings = env.inspect.findings().await;
    let closed = by_rule(&findings, "exemption-tag");
    assert_eq!(closed.len(), 1, "one record per principal: {findings:#?}");
    assert_eq!(closed[0].id, record.id);
    assert_eq!(closed[0].compliance, "PASSED");
}

#[tokio::test]
async fn tags_other_than_the_exemption_post_nothing() {
    let env = Env::seeded().await;
    let event = tag_event(
        &env,
        "TagUser",
        json!({"userName": "carol", "tags": [{"key": "team", "value": "data"}]}),
    );
    let responder = integration_tests::responder(&env.sdk, Mode::Remediate);
    let (report, writes) = env.replay_bytes(&responder, &event).await;
    assert!(writes.is_empty(), "{writes:?}");
    assert!(report.findings.is_empty() && report.errors.is_empty(), "{report:#?}");
}

#[tokio::test]
async fn a_role_created_exempt_keeps_its_open_trust_and_both_are_on_record() {
    let env = Env::seeded().await;
    let iam = aws_sdk_iam::Client::new(&env.direct);
    let exempt = "2027-06-30 SEC-99 partner onboarding";
    iam.tag_role()
        .role_name("partner-access")
        .tags(
            aws_sdk_iam::types::Tag::builder()
                .key("compliance-responder:exempt")
                .value(exempt)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let trust_before = env.inspect.trust_policy("partner-access").await;
    let mut event: Value = serde_json::from_slice(&env.event("cloudtrail/create-role-open-trust.json")).unwrap();
    event["detail"]["requestParameters"]["tags"] = json!([{"key": "compliance-responder:exempt", "value": exempt}]);
    let responder = integration_tests::responder(&env.sdk, Mode::Remediate);
    let (report, writes) = env.replay_bytes(&responder, &serde_json::to_vec(&event).unwrap()).await;
    assert_eq!(
        writes,
        vec!["securityhub:BatchImportFindings".to_string()],
        "{report:#?}"
    );
    assert_eq!(env.inspect.trust_policy("partner-access").await, trust_before);
    let findings = env.inspect.findings().await;
    let trust = by_rule(&findings, "iam-open-trust");
    assert_eq!(trust.len(), 1, "{findings:#?}");
    assert_eq!(trust[0].compliance, "FAILED");
    let record = by_rule(&findings, "exemption-tag");
    assert_eq!(record.len(), 1, "{findings:#?}");
    assert_eq!(record[0].compliance, "WARNING");
    assert_eq!(record[0].severity, "LOW");
    assert!(
        record[0].description.contains("until 2027-06-30"),
        "{}",
        record[0].description
    );
    assert!(record[0].description.contains("SEC-99 partner onboarding"));
}
