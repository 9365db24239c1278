//! `tagging-responder`: reacts to the create calls of taggable resources (S3, EC2, Lambda,
//! DynamoDB, RDS, SQS, SNS) recorded by CloudTrail and delivered by EventBridge, and adds the
//! required tags they lack. A function of its own, with its own role and concurrency, so a flood
//! of create calls never delays an IAM or credential fix. All logic lives in the
//! `compliance-responder` library.

use compliance_responder::finding::SourceKind;

// One event at a time per execution environment: a single-threaded runtime, no worker threads.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    compliance_responder::lambda::run("tagging-responder", &[SourceKind::ResourceCreation]).await
}
