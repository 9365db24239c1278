//! `cloudtrail-responder`: reacts to IAM calls recorded by CloudTrail and delivered by EventBridge
//! ("AWS API Call via CloudTrail", `source` = `aws.iam`). It also accepts the create calls of
//! taggable resources, so one function can serve a single-account setup or a local replay; the
//! template routes those to `tagging-responder`. All logic lives in the `compliance-responder`
//! library.

use compliance_responder::finding::SourceKind;

// One event at a time per execution environment: a single-threaded runtime, no worker threads.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    compliance_responder::lambda::run(
        "cloudtrail-responder",
        &[SourceKind::CloudTrail, SourceKind::ResourceCreation],
    )
    .await
}
