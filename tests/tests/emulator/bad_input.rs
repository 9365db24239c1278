//! Bad input gets a clear, structured error in the report and no write call reaches AWS.
//! Every case runs against a seeded account of moto whose calls, recorded by the test's proxy, prove zero writes.

use compliance_responder::{Mode, ReportStatus};
use integration_tests::{repo_root, responder, Env};
use serde_json::Value;

#[tokio::test]
async fn bad_input_is_reported_with_a_typed_error_and_no_write_call() {
    let env = Env::seeded().await;
    let r = responder(&env.sdk, Mode::Remediate);
    let dir = repo_root().join("tests/fixtures/bad-input");
    let file = |name: &str| env.ids.rewrite(&std::fs::read(dir.join(name)).expect("fixture"));

    // (name, payload, expected status, expected error kind / skip kind)
    let cases: Vec<(&str, Vec<u8>, ReportStatus, &str)> = vec![
        (
            "malformed-json",
            file("malformed-json.json"),
            ReportStatus::Rejected,
            "malformed-json",
        ),
        (
            "wrong-detail-type",
            file("wrong-detail-type.json"),
            ReportStatus::Rejected,
            "unsupported-event",
        ),
        (
            "missing-request-parameters",
            file("missing-request-parameters.json"),
            ReportStatus::Rejected,
            "missing-field",
        ),
        (
            "policy-document-not-json",
            file("policy-document-not-json.json"),
            ReportStatus::Rejected,
            "policy-document",
        ),
        (
            "principal-no-longer-exists",
            file("principal-no-longer-exists.json"),
            ReportStatus::Skipped,
            "principal-not-found",
        ),
        (
            "unknown-policy-arn",
            file("unknown-policy-arn.json"),
            ReportStatus::Skipped,
            "policy-not-found",
        ),
        ("empty payload", vec![], ReportStatus::Rejected, "malformed-json"),
        (
            "json string",
            b"\"hello\"".to_vec(),
            ReportStatus::Rejected,
            "invalid-envelope",
        ),
        (
            "json null",
            b"null".to_vec(),
            ReportStatus::Rejected,
            "invalid-envelope",
        ),
        (
            "oversized",
            vec![b' '; 300 * 1024],
            ReportStatus::Rejected,
            "invalid-envelope",
        ),
    ];
    for (name, payload, want_status, want_kind) in cases {
        env.start_recording();
        let report = r.handle_bytes(&payload).await;
        let writes: Vec<_> = env.recorded_calls().into_iter().filter(|c| c.is_write()).collect();
        assert!(writes.is_empty(), "{name}: bad input caused writes {writes:?}");
        assert_eq!(report.status, want_status, "{name}: {report:#?}");
        let json = serde_json::to_value(&report).unwrap();
        let kind = match want_status {
            ReportStatus::Rejected => json["input_error"]["kind"].clone(),
            _ => json["verdicts"][0]["kind"].clone(),
        };
        assert_eq!(kind, Value::from(want_kind), "{name}: {json:#}");
        assert!(report.findings.is_empty() && report.actions.is_empty(), "{name}");
    }
}

/// Hostile or broken variants of the Config, GuardDuty and create-event samples: each is rejected
/// with the expected error kind, and nothing is read or written for it.
#[tokio::test]
async fn hostile_variants_of_every_source_are_rejected_without_any_call() {
    let env = integration_tests::Env::seeded().await;
    let r = responder(&env.sdk, Mode::Remediate);
    let other = "999999999999";
    let cases: Vec<(&str, &str, Value, &str)> = vec![
        (
            "guardduty/iam-user-credential-access.json",
            "/detail/accountId",
            other.into(),
            "invalid-detail",
        ),
        (
            "guardduty/iam-user-credential-access.json",
            "/detail/resource/accessKeyDetails/userName",
            "erin\"; DROP TABLE users; --".into(),
            "missing-field",
        ),
        (
            "guardduty/iam-user-credential-access.json",
            "/detail/resource/accessKeyDetails/accessKeyId",
            "../../etc/passwd".into(),
            "missing-field",
        ),
        (
            "guardduty/iam-user-credential-access.json",
            "/detail/severity",
            "high".into(),
            "missing-field",
        ),
        (
            "guardduty/iam-user-credential-access.json",
            "/detail/updatedAt",
            "yesterday".into(),
            "missing-field",
        ),
        (
            "guardduty/instance-credentials-outside-aws.json",
            "/detail/arn",
            "arn:aws-cn:guardduty:cn-north-1:123456789012:detector/d/finding/f".into(),
            "invalid-detail",
        ),
        (
            "config/compliance-required-tags-bucket.json",
            "/detail/resourceId",
            "../../etc/passwd".into(),
            "missing-field",
        ),
        (
            "config/compliance-required-tags-bucket.json",
            "/detail/awsAccountId",
            other.into(),
            "invalid-detail",
        ),
        (
            "config/compliance-admin-access-policy.json",
            "/detail/resourceId",
            "ANPA<script>".into(),
            "missing-field",
        ),
        (
            "config/compliance-admin-access-policy.json",
            "/detail/newEvaluationResult",
            Value::Null,
            "missing-field",
        ),
        (
            "config/item-change-role.json",
            "/detail/configurationItem/configuration/rolePolicyList/0/policyDocument",
            "%7B%22Version".into(),
            "policy-document",
        ),
        (
            "config/item-change-role.json",
            "/detail/configurationItem/resourceName",
            "data-pipeline/../../admin".into(),
            "missing-field",
        ),
        (
            "config/item-change-policy.json",
            "/detail/configurationItem/ARN",
            "arn:aws:iam::999999999999:policy/TeamAdmin".into(),
            "missing-field",
        ),
        (
            "cloudtrail/create-bucket.json",
            "/detail/requestParameters/bucketName",
            "Bad_Bucket;rm".into(),
            "missing-field",
        ),
        (
            "cloudtrail/run-instances.json",
            "/detail/responseElements",
            Value::Null,
            "missing-field",
        ),
        (
            "cloudtrail/create-volume.json",
            "/detail/responseElements/volumeId",
            "vol-$(reboot)".into(),
            "missing-field",
        ),
        (
            "cloudtrail/create-queue.json",
            "/source",
            "aws.sns".into(),
            "invalid-detail",
        ),
        (
            "cloudtrail/create-topic.json",
            "/detail/recipientAccountId",
            other.into(),
            "invalid-detail",
        ),
        // Security Hub custom actions: the action must be one ARN of this account and region,
        // the selection an array of findings, each with a string Id.
        (
            "securityhub/remediate-inline-admin.json",
            "/resources",
            serde_json::json!([]),
            "invalid-detail",
        ),
        (
            "securityhub/remediate-inline-admin.json",
            "/resources/0",
            format!("arn:aws:securityhub:us-east-1:{other}:action/custom/ComplianceRemediate").into(),
            "invalid-detail",
        ),
        (
            "securityhub/undo-inline-admin.json",
            "/detail/findings",
            "all of them".into(),
            "missing-field",
        ),
        (
            "securityhub/undo-inline-admin.json",
            "/detail/findings",
            serde_json::json!([]),
            "invalid-detail",
        ),
        (
            "securityhub/undo-inline-admin.json",
            "/detail/findings/0/Id",
            7.into(),
            "missing-field",
        ),
    ];
    for (sample, pointer, value, want) in cases {
        let mut event: Value = serde_json::from_slice(&env.event(sample)).unwrap();
        *event
            .pointer_mut(pointer)
            .unwrap_or_else(|| panic!("{sample}: no {pointer}")) = value;
        env.start_recording();
        let report = r.handle_bytes(&serde_json::to_vec(&event).unwrap()).await;
        let calls = env.recorded_calls();
        assert!(calls.is_empty(), "{sample} {pointer}: calls {calls:?}");
        assert_eq!(report.status, ReportStatus::Rejected, "{sample} {pointer}: {report:#?}");
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["input_error"]["kind"], want, "{sample} {pointer}: {json:#}");
    }
}

/// More of the corpus, built from the samples: truncated JSON, wrong types, missing parts, unknown
/// detail-types, huge and deeply nested input, invalid UTF-8 and escapes, other partitions, and
/// injection attempts in names. Each is rejected with the expected kind; no call reaches AWS.
#[tokio::test]
async fn malformed_and_hostile_corpus_is_rejected_without_any_call() {
    let env = integration_tests::Env::seeded().await;
    let r = responder(&env.sdk, Mode::Remediate);
    let sample = |path: &str| -> Value { serde_json::from_slice(&env.event(path)).unwrap() };
    let with = |path: &str, pointer: &str, value: Value| -> Vec<u8> {
        let mut v = sample(path);
        *v.pointer_mut(pointer).unwrap_or_else(|| panic!("{path}: no {pointer}")) = value;
        serde_json::to_vec(&v).unwrap()
    };
    let without = |path: &str, key: &str| -> Vec<u8> {
        let mut v = sample(path);
        v.as_object_mut().unwrap().remove(key);
        serde_json::to_vec(&v).unwrap()
    };
    let truncated = |path: &str| -> Vec<u8> {
        let bytes = env.event(path);
        bytes[..bytes.len() / 2].to_vec()
    };
    let mut nested = "[".repeat(10_000);
    nested.push_str(&"]".repeat(10_000));
    let big_inline = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:GetObject","Resource":[{}]}}]}}"#,
        (0..200)
            .map(|i| format!("\"arn:aws:s3:::bucket-{i:04}/*\""))
            .collect::<Vec<_>>()
            .join(",")
    );
    let ct = "cloudtrail/put-inline-admin-only.json";
    let gd = "guardduty/iam-user-credential-access.json";
    let cfg = "config/item-change-role.json";
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("truncated cloudtrail", truncated(ct), "malformed-json"),
        ("truncated guardduty", truncated(gd), "malformed-json"),
        ("truncated config", truncated(cfg), "malformed-json"),
        ("deeply nested arrays", nested.into_bytes(), "malformed-json"),
        (
            "invalid utf-8 bytes",
            b"{\"id\":\"\xff\xfe\"}".to_vec(),
            "malformed-json",
        ),
        (
            "lone surrogate escape",
            br#"{"version":"0","id":"\ud800","detail-type":"x"}"#.to_vec(),
            "malformed-json",
        ),
        (
            "detail is an array",
            with(ct, "/detail", Value::from(vec![1, 2])),
            "missing-field",
        ),
        (
            "account is a number",
            with(ct, "/account", Value::from(123456789012u64)),
            "invalid-envelope",
        ),
        (
            "account has a letter",
            with(ct, "/account", "12345678901a".into()),
            "missing-field",
        ),
        (
            "region is a path",
            with(ct, "/region", "../../etc".into()),
            "missing-field",
        ),
        (
            "time is a number",
            with(ct, "/time", Value::from(5)),
            "invalid-envelope",
        ),
        (
            "resources is a string",
            with(ct, "/resources", "arn".into()),
            "invalid-envelope",
        ),
        ("no detail", without(ct, "detail"), "invalid-envelope"),
        ("no id", without(gd, "id"), "missing-field"),
        (
            "unknown detail-type",
            with(ct, "/detail-type", "AWS Health Event".into()),
            "unsupported-event",
        ),
        (
            "unknown source",
            with(gd, "/source", "aws.health".into()),
            "unsupported-event",
        ),
        (
            "inline policy over the user quota",
            with(ct, "/detail/requestParameters/policyDocument", big_inline.into()),
            "policy-document",
        ),
        (
            "bad URL encoding",
            with(ct, "/detail/requestParameters/policyDocument", "%ZZ%7B".into()),
            "policy-document",
        ),
        (
            "policy is a JSON array",
            with(ct, "/detail/requestParameters/policyDocument", "[]".into()),
            "policy-document",
        ),
        (
            "newline injection in a user name",
            with(
                ct,
                "/detail/requestParameters/userName",
                "dave\n{\"admin\":true}".into(),
            ),
            "missing-field",
        ),
        (
            "policy ARN in another partition",
            with(
                "cloudtrail/attach-admin-to-user.json",
                "/detail/requestParameters/policyArn",
                "arn:aws-cn:iam::aws:policy/AdministratorAccess".into(),
            ),
            "missing-field",
        ),
        (
            "policy ARN in another account",
            with(
                "cloudtrail/attach-customer-admin-policy.json",
                "/detail/requestParameters/policyArn",
                "arn:aws:iam::999999999999:policy/TeamAdmin".into(),
            ),
            "missing-field",
        ),
        (
            "guardduty without key details",
            with(gd, "/detail/resource/accessKeyDetails", Value::Null),
            "missing-field",
        ),
        (
            "guardduty severity out of range",
            with(gd, "/detail/severity", Value::from(42)),
            "missing-field",
        ),
        (
            "config configuration is a string",
            with(cfg, "/detail/configurationItem/configuration", "{}".into()),
            "missing-field",
        ),
        (
            "config resource type is a number",
            with(cfg, "/detail/configurationItem/resourceType", Value::from(7)),
            "missing-field",
        ),
    ];
    assert!(cases.len() >= 25);
    for (name, payload, want) in cases {
        env.start_recording();
        let report = r.handle_bytes(&payload).await;
        let calls = env.recorded_calls();
        assert!(calls.is_empty(), "{name}: calls {calls:?}");
        assert_eq!(report.status, ReportStatus::Rejected, "{name}: {report:#?}");
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["input_error"]["kind"], want, "{name}: {json:#}");
    }
}

/// Unusual but valid: every `userIdentity` shape AWS's CloudTrail reference documents, with its
/// optional parts missing, empty or null, is handled like any other event (it used to be rejected
/// as `invalid-detail` for an empty `sessionIssuer`, so nothing made in the console was checked).
#[tokio::test]
async fn documented_identity_shapes_are_valid_input() {
    let env = integration_tests::Env::seeded().await;
    let r = responder(&env.sdk, Mode::DryRun);
    let acct = env.account_id().to_string();
    let shapes: Vec<(&str, Value)> = vec![
        (
            "console IAM user, empty sessionIssuer",
            serde_json::json!({"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":format!("arn:aws:iam::{acct}:user/mallory"),
                "accountId":acct,"userName":"mallory","sessionContext":{"sessionIssuer":{},"webIdFederationData":{},"attributes":{"mfaAuthenticated":"false"}}}),
        ),
        (
            "root in the console",
            serde_json::json!({"type":"Root","principalId":acct,"arn":format!("arn:aws:iam::{acct}:root"),"accountId":acct,
                "sessionContext":{"sessionIssuer":{},"attributes":{"mfaAuthenticated":"true"}}}),
        ),
        (
            "assumed role without an ARN",
            serde_json::json!({"type":"AssumedRole","principalId":"AROAEXAMPLE:s","accountId":acct,"sessionContext":null}),
        ),
        (
            "AWS service",
            serde_json::json!({"type":"AWSService","invokedBy":"cloudformation.amazonaws.com"}),
        ),
        (
            "another account",
            serde_json::json!({"type":"AWSAccount","principalId":"AIDAEXAMPLE","accountId":"111122223333"}),
        ),
        (
            "Identity Center user",
            serde_json::json!({"type":"IdentityCenterUser","accountId":acct,"onBehalfOf":{"userId":"544894e8-80c1-707f-60e3-3ba6510dfac1"}}),
        ),
        (
            "web identity user",
            serde_json::json!({"type":"WebIdentityUser","principalId":"accounts.google.com:app:u","userName":"u"}),
        ),
        (
            "SAML user",
            serde_json::json!({"type":"SAMLUser","principalId":"x:SamlExample","userName":"SamlExample"}),
        ),
        (
            "Unknown with nulls",
            serde_json::json!({"type":"Unknown","principalId":null,"arn":null,"userName":""}),
        ),
        ("no type", serde_json::json!({"principalId":"AIDAEXAMPLE"})),
        ("null identity", Value::Null),
    ];
    for (name, identity) in shapes {
        let mut event: Value = serde_json::from_slice(&env.event("cloudtrail/attach-admin-to-user.json")).unwrap();
        event["detail"]["userIdentity"] = identity;
        let report = r.handle_bytes(&serde_json::to_vec(&event).unwrap()).await;
        assert_eq!(report.status, ReportStatus::DryRun, "{name}: {report:#?}");
        assert!(
            report.verdicts.iter().any(|v| v.rule_id == "iam-admin-access"),
            "{name}: {report:#?}"
        );
    }
}
