//! Safety rails against moto: protected principals, per-rule modes, write limits and the account
//! allow-list. Each case asserts what moto holds afterwards and which calls it received.

use compliance_responder::{ReportStatus, Responder};
use integration_tests::{record_fix_update, responder_with_env, Env};
use serde_json::Value;

const ADMIN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";

async fn replay_bytes(env: &Env, r: &Responder, bytes: Vec<u8>) -> (compliance_responder::Report, Vec<String>) {
    env.replay_bytes(r, &bytes).await
}

#[tokio::test]
async fn service_linked_role_is_never_modified_whatever_the_mode() {
    let env = Env::seeded().await;
    let iam = aws_sdk_iam::Client::new(&env.sdk);
    iam.create_role()
        .role_name("AWSServiceRoleForExample")
        .path("/aws-service-role/example.amazonaws.com/")
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"example.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        )
        .send()
        .await
        .unwrap();
    iam.attach_role_policy()
        .role_name("AWSServiceRoleForExample")
        .policy_arn(ADMIN)
        .send()
        .await
        .unwrap();
    let mut event: Value = serde_json::from_slice(&env.event("cloudtrail/attach-admin-to-role.json")).unwrap();
    event["detail"]["requestParameters"]["roleName"] = "AWSServiceRoleForExample".into();
    let r = responder_with_env(&env.sdk, &[("MODE", "remediate")]);
    let (report, writes) = replay_bytes(&env, &r, serde_json::to_vec(&event).unwrap()).await;
    assert_eq!(report.status, ReportStatus::NoAction, "{report:#?}");
    assert_eq!(writes, vec!["securityhub:BatchImportFindings"]);
    assert!(
        report.verdicts[0].summary.contains("protected principal"),
        "{report:#?}"
    );
    assert_eq!(
        env.inspect.attached("role", "AWSServiceRoleForExample").await,
        vec![ADMIN.to_string()]
    );
}

#[tokio::test]
async fn a_rule_in_dry_run_plans_while_the_others_remediate() {
    let env = Env::seeded().await;
    let r = responder_with_env(
        &env.sdk,
        &[("MODE", "remediate"), ("RULE_MODES", "required-tags=dry-run")],
    );
    let (report, writes) = replay_bytes(&env, &r, env.event("cloudtrail/create-table.json")).await;
    assert_eq!(report.status, ReportStatus::DryRun, "{report:#?}");
    assert_eq!(writes, vec!["securityhub:BatchImportFindings"]);
    let findings = env.inspect.findings().await;
    assert_eq!(findings[0].product_fields["compliance-responder/Outcome"], "dry-run");

    let (report, writes) = replay_bytes(&env, &r, env.event("cloudtrail/attach-admin-to-user.json")).await;
    assert_eq!(report.status, ReportStatus::Remediated, "{report:#?}");
    assert_eq!(writes, record_fix_update(&["iam:DetachUserPolicy"]));
}

#[tokio::test]
async fn a_rule_turned_off_is_not_evaluated() {
    let env = Env::seeded().await;
    let r = responder_with_env(
        &env.sdk,
        &[
            ("MODE", "remediate"),
            ("RULE_MODES", "iam-admin-access=off;iam-user-direct-policy=off"),
        ],
    );
    let (report, writes) = replay_bytes(&env, &r, env.event("cloudtrail/attach-admin-to-user.json")).await;
    assert!(
        report.verdicts.iter().all(|v| v.rule_id != "iam-admin-access"),
        "{report:#?}"
    );
    assert!(writes.iter().all(|w| !w.starts_with("iam:")), "{writes:?}");
    assert_eq!(env.inspect.attached("user", "alice").await, vec![ADMIN.to_string()]);
}

#[tokio::test]
async fn writes_beyond_the_rule_limit_are_deferred_and_recorded() {
    let env = Env::seeded().await;
    let r = responder_with_env(&env.sdk, &[("MODE", "remediate"), ("MAX_WRITES_PER_RULE", "1")]);
    let (first, _) = replay_bytes(&env, &r, env.event("cloudtrail/create-table.json")).await;
    assert_eq!(first.status, ReportStatus::Remediated, "{first:#?}");
    let (second, writes) = replay_bytes(&env, &r, env.event("cloudtrail/create-topic.json")).await;
    assert_eq!(second.status, ReportStatus::Deferred, "{second:#?}");
    assert_eq!(
        writes,
        vec!["securityhub:BatchImportFindings"],
        "the finding, no tag write"
    );
    assert!(env
        .inspect
        .tags(&format!("arn:aws:sns:us-east-1:{}:ops-alerts", env.account_id()))
        .await
        .is_empty());
    let finding = env
        .inspect
        .findings()
        .await
        .into_iter()
        .find(|f| f.resource_ids.iter().any(|id| id.contains("ops-alerts")))
        .unwrap();
    assert_eq!(finding.compliance, "FAILED");
    assert!(
        finding.product_fields["compliance-responder/Outcome"].starts_with("deferred: rule required-tags"),
        "{finding:#?}"
    );
    // Nothing failed: Lambda must not retry a deferred fix.
    assert!(!second.should_retry());
}

#[tokio::test]
async fn events_from_accounts_outside_the_allow_list_are_dropped() {
    let env = Env::seeded().await;
    let r = responder_with_env(&env.sdk, &[("MODE", "remediate"), ("ALLOWED_ACCOUNTS", "111111111111")]);
    let (report, _) = replay_bytes(&env, &r, env.event("cloudtrail/attach-admin-to-user.json")).await;
    let calls = env.recorded_calls();
    assert_eq!(report.status, ReportStatus::Ignored, "{report:#?}");
    assert!(report.reason.as_deref().unwrap().contains("ALLOWED_ACCOUNTS"));
    assert!(calls.is_empty(), "{calls:?}");
}

#[tokio::test]
async fn kill_switch_forces_dry_run_and_fails_closed() {
    let env = Env::seeded().await;
    let name = "/compliance-responder/kill-switch";
    let r = responder_with_env(
        &env.sdk,
        &[
            ("MODE", "remediate"),
            ("KILL_SWITCH_PARAMETER", name),
            ("KILL_SWITCH_TTL_SECONDS", "0"),
        ],
    );
    // Missing parameter: fail closed.
    let (report, writes) = replay_bytes(&env, &r, env.event("cloudtrail/attach-admin-to-user.json")).await;
    assert_eq!(report.status, ReportStatus::DryRun, "{report:#?}");
    assert!(report.kill_switch.as_deref().unwrap().contains("does not exist"));
    assert_eq!(writes, vec!["securityhub:BatchImportFindings"]);

    env.put_parameter(name, "on").await;
    let (report, _) = replay_bytes(&env, &r, env.event("cloudtrail/attach-admin-to-user.json")).await;
    assert_eq!(report.status, ReportStatus::DryRun, "{report:#?}");
    assert!(report.kill_switch.as_deref().unwrap().contains("is on"));
    assert_eq!(env.inspect.attached("user", "alice").await, vec![ADMIN.to_string()]);

    env.put_parameter(name, "off").await;
    let (report, writes) = replay_bytes(&env, &r, env.event("cloudtrail/attach-admin-to-user.json")).await;
    assert_eq!(report.status, ReportStatus::Remediated, "{report:#?}");
    assert_eq!(report.kill_switch, None);
    assert_eq!(writes, record_fix_update(&["iam:DetachUserPolicy"]));
    assert!(env.inspect.attached("user", "alice").await.is_empty());
}

/// Events from a member account are fixed in that account, through the role assumed there, and
/// the role's credentials are reused for later events (moto keeps one IAM per account: the
/// assumed role's credentials reach the member account's).
///
/// Run on an 8 MB stack (the Lambda runtime's main thread has as much): in a debug build the
/// member path's nested credential providers (STS inside the IAM and Security Hub clients' calls)
/// go deeper than a test thread's 2 MB.
#[test]
fn member_account_events_are_fixed_there_through_the_assumed_role() {
    std::thread::Builder::new()
        .stack_size(8 * 1024 * 1024)
        .spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(member_account_events_are_fixed_there())
        })
        .unwrap()
        .join()
        .unwrap();
}

async fn member_account_events_are_fixed_there() {
    let env = Env::seeded().await;
    let (member_account, member_sdk) = env.member_with_admin_user("alice").await;
    let member = member_account.id.as_str();
    let member_iam = aws_sdk_iam::Client::new(&member_sdk);

    let r = responder_with_env(
        &env.sdk,
        &[
            ("MODE", "remediate"),
            ("MEMBER_ROLE_NAME", "compliance-responder-remediation"),
            ("MEMBER_ROLE_EXTERNAL_ID", "org-7f3a"),
        ],
    );
    let event = |id: &str| {
        let mut e: Value = serde_json::from_slice(&env.event("cloudtrail/attach-admin-to-user.json")).unwrap();
        e["id"] = id.into();
        e["account"] = member.into();
        e["detail"]["recipientAccountId"] = member.into();
        e["detail"]["userIdentity"]["accountId"] = member.into();
        serde_json::to_vec(&e).unwrap()
    };
    env.start_recording();
    let report = r.handle_bytes(&event("member-event-1")).await;
    assert_eq!(report.status, ReportStatus::Remediated, "{report:#?}");
    let again = r.handle_bytes(&event("member-event-2")).await;
    assert_eq!(again.status, ReportStatus::NoAction, "{again:#?}");
    let calls = env.recorded_calls();

    let member_attached = member_iam
        .list_attached_user_policies()
        .user_name("alice")
        .send()
        .await
        .unwrap()
        .attached_policies
        .unwrap_or_default();
    assert!(member_attached.is_empty(), "fixed in the member account");
    assert_eq!(
        env.inspect.attached("user", "alice").await,
        vec![ADMIN.to_string()],
        "the home account's alice is not touched"
    );
    // The IAM rewrite is made as the member account's IAM-rewrite role, and only that role:
    // the tagging and containment roles are other functions' (issue 16).
    assert_eq!(
        env.assumed_roles(),
        [format!("arn:aws:iam::{member}:role/compliance-responder-remediation")],
        "credentials are cached per account and capability: {calls:?}"
    );
    // Security Hub takes a default-product finding only from the account it is about: the
    // finding is imported in the member account (through the member role), never centrally.
    assert!(env.proxy.violations().is_empty(), "{:?}", env.proxy.violations());
    assert!(env.inspect.findings().await.is_empty(), "nothing imported centrally");
    let member_findings = integration_tests::Inspect::new(&member_sdk).findings().await;
    assert_eq!(member_findings.len(), 1, "{member_findings:#?}");
    assert_eq!(member_findings[0].compliance, "PASSED");
}

/// Creates role `name` at `path` trusting EC2, with AdministratorAccess attached, and replays the
/// attach event for it in remediate mode.
async fn admin_on_role(env: &Env, name: &str, path: &str) -> (compliance_responder::Report, Vec<String>) {
    let iam = aws_sdk_iam::Client::new(&env.direct);
    iam.create_role()
        .role_name(name)
        .path(path)
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        )
        .send()
        .await
        .unwrap();
    iam.attach_role_policy()
        .role_name(name)
        .policy_arn(ADMIN)
        .send()
        .await
        .unwrap();
    let mut event: Value = serde_json::from_slice(&env.event("cloudtrail/attach-admin-to-role.json")).unwrap();
    event["detail"]["requestParameters"]["roleName"] = name.into();
    let r = responder_with_env(&env.sdk, &[("MODE", "remediate")]);
    replay_bytes(env, &r, serde_json::to_vec(&event).unwrap()).await
}

/// A protected name is protected at any IAM path and in any letter case (IAM names are unique in
/// an account regardless of both): reported FAILED with the reason, nothing written.
#[tokio::test]
async fn a_protected_role_name_is_protected_at_any_path() {
    let env = Env::seeded().await;
    let (report, writes) = admin_on_role(&env, "OrganizationAccountAccessRole", "/x/").await;
    assert_eq!(report.status, ReportStatus::NoAction, "{report:#?}");
    assert_eq!(
        writes,
        vec!["securityhub:BatchImportFindings"],
        "the finding, no IAM write"
    );
    assert!(
        report.verdicts[0].summary.contains("protected principal"),
        "{report:#?}"
    );
    assert_eq!(
        env.inspect.attached("role", "OrganizationAccountAccessRole").await,
        vec![ADMIN.to_string()]
    );
    let findings = env.inspect.findings().await;
    let f = findings
        .iter()
        .find(|f| f.generator_id == "iam-admin-access")
        .expect("finding");
    assert_eq!(f.compliance, "FAILED");
    assert!(
        f.product_fields["compliance-responder/Outcome"].contains("protected principal"),
        "{f:#?}"
    );
}

/// The responder's own roles are protected by exact ARN (from the template), never by a name
/// pattern: a role anyone could create with the product's name in it is an ordinary role.
#[tokio::test]
async fn a_role_borrowing_the_responders_name_is_an_ordinary_role() {
    let env = Env::seeded().await;
    let (report, writes) = admin_on_role(&env, "evil-compliance-responder-x", "/").await;
    assert_eq!(report.status, ReportStatus::Remediated, "{report:#?}");
    assert_eq!(writes, record_fix_update(&["iam:DetachRolePolicy"]));
    assert!(env
        .inspect
        .attached("role", "evil-compliance-responder-x")
        .await
        .is_empty());
}

/// A fix that needs two writes on one document (at IAM's 5 versions: delete the oldest, create the
/// fixed default) is applied whole or not at all: a write limit with room for one write defers
/// both, so the oldest version is never deleted while the escalation stays the default.
#[tokio::test]
async fn a_write_limit_never_splits_the_steps_of_one_fix() {
    let env = Env::seeded().await;
    let arn = format!("arn:aws:iam::{}:policy/DeployTools", env.account_id());
    let before = env.inspect.policy_versions(&arn).await;
    assert_eq!(before.0.len(), 5, "seeded at IAM's limit");
    let r = responder_with_env(&env.sdk, &[("MODE", "remediate"), ("MAX_WRITES_PER_EVENT", "1")]);
    let (report, writes) = replay_bytes(&env, &r, env.event("cloudtrail/create-policy-version-escalation.json")).await;
    assert_eq!(
        writes,
        vec!["securityhub:BatchImportFindings"],
        "neither the delete nor the create"
    );
    assert_ne!(report.status, ReportStatus::Remediated, "{report:#?}");
    assert_eq!(report.actions.len(), 2, "{report:#?}");
    assert!(
        report.actions.iter().all(|a| a.result.label() == "deferred"),
        "{report:#?}"
    );
    assert_eq!(env.inspect.policy_versions(&arn).await, before, "nothing changed");
    let findings = env.inspect.findings().await;
    assert!(findings.iter().all(|f| f.compliance == "FAILED"), "{findings:#?}");
    assert!(!report.should_retry(), "a deferred fix is not a failure");
}

/// Suppression is an exemption (issue 17): a finding a person set to `SUPPRESSED` in Security Hub
/// is not fixed again; its finding says why. The read happens before any write, only when a fix
/// could be applied now: dry-run asks nothing. Another principal's fix goes ahead. Security Hub's
/// `GetFindings` is answered by moto behind the contract proxy, which applies the filters moto
/// ignores (at most 20 values per attribute) and the workflow status `BatchUpdateFindings` set.
#[tokio::test]
async fn a_finding_suppressed_in_security_hub_is_not_fixed_again() {
    let env = Env::seeded().await;
    let dry = responder_with_env(&env.sdk, &[("MODE", "dry-run")]);
    let remediate = responder_with_env(&env.sdk, &[("MODE", "remediate")]);
    let event = env.event("cloudtrail/attach-admin-to-user.json");

    // Dry-run records the finding and reads no workflow status.
    let (report, _) = env.replay_bytes(&dry, &event).await;
    assert_eq!(report.status, ReportStatus::DryRun, "{report:#?}");
    let asked = |env: &Env| {
        env.recorded_calls()
            .iter()
            .filter(|c| c.service == "securityhub" && c.operation == "GetFindings")
            .count()
    };
    assert_eq!(asked(&env), 0, "dry-run fixes nothing: no suppression read");
    let admin = report
        .findings
        .iter()
        .find(|f| f.rule_id == "iam-admin-access")
        .expect("the admin finding")
        .id
        .clone();

    // The analyst suppresses it.
    let product = format!(
        "arn:aws:securityhub:us-east-1:{0}:product/{0}/default",
        env.account_id()
    );
    aws_sdk_securityhub::Client::new(&env.sdk)
        .batch_update_findings()
        .finding_identifiers(
            aws_sdk_securityhub::types::AwsSecurityFindingIdentifier::builder()
                .id(&admin)
                .product_arn(&product)
                .build(),
        )
        .workflow(
            aws_sdk_securityhub::types::WorkflowUpdate::builder()
                .status(aws_sdk_securityhub::types::WorkflowStatus::Suppressed)
                .build(),
        )
        .send()
        .await
        .unwrap();

    // Remediate: read first, then nothing written for alice.
    let (report, writes) = env.replay_bytes(&remediate, &event).await;
    assert_eq!(asked(&env), 1);
    let iam_writes: Vec<&String> = writes.iter().filter(|w| w.starts_with("iam:")).collect();
    assert!(iam_writes.is_empty(), "{iam_writes:?}");
    assert_eq!(env.inspect.attached("user", "alice").await, [ADMIN]);
    let verdict = report
        .verdicts
        .iter()
        .find(|v| v.rule_id == "iam-admin-access")
        .unwrap();
    assert!(
        verdict.summary.contains("suppressed in Security Hub"),
        "{}",
        verdict.summary
    );

    // Another principal's fix is not held back.
    let (report, _) = env
        .replay_bytes(&remediate, &env.event("cloudtrail/put-inline-mixed-admin.json"))
        .await;
    assert_eq!(report.status, ReportStatus::Remediated, "{report:#?}");
    assert!(env.proxy.violations().is_empty(), "{:?}", env.proxy.violations());
}
