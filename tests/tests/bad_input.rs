//! Bad input gets a clear, structured error in the report and no write call reaches AWS.
//! Every case runs against a seeded moto whose request recorder proves zero writes.

use compliance_responder::{Mode, ReportStatus};
use integration_tests::{repo_root, responder, Moto, Sandbox};
use serde_json::Value;

#[tokio::test]
async fn bad_input_is_reported_with_a_typed_error_and_no_write_call() {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    Sandbox::load().seed(&sdk).await;
    let r = responder(&sdk, Mode::Remediate);
    let dir = repo_root().join("tests/fixtures/bad-input");
    let file = |name: &str| std::fs::read(dir.join(name)).expect("fixture");

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
            "invalid-detail",
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
        moto.start_recording();
        let report = r.handle_bytes(&payload).await;
        let writes: Vec<_> = moto.recorded_calls().into_iter().filter(|c| c.is_write()).collect();
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
    ];
    for (sample, pointer, value, want) in cases {
        let mut event: Value = serde_json::from_slice(&env.event(sample)).unwrap();
        *event
            .pointer_mut(pointer)
            .unwrap_or_else(|| panic!("{sample}: no {pointer}")) = value;
        env.moto.start_recording();
        let report = r.handle_bytes(&serde_json::to_vec(&event).unwrap()).await;
        let calls = env.moto.recorded_calls();
        assert!(calls.is_empty(), "{sample} {pointer}: calls {calls:?}");
        assert_eq!(report.status, ReportStatus::Rejected, "{sample} {pointer}: {report:#?}");
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["input_error"]["kind"], want, "{sample} {pointer}: {json:#}");
    }
}
