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
