//! `cloudtrail-responder`: reacts to API calls recorded by CloudTrail and delivered by EventBridge
//! ("AWS API Call via CloudTrail"): IAM policy changes (`source` = `aws.iam`) and the create calls
//! of taggable resources (S3, EC2, Lambda, DynamoDB, RDS, SQS, SNS). All logic lives in the
//! `compliance-responder` library.

use compliance_responder::finding::SourceKind;

// One event at a time per execution environment: a single-threaded runtime, no worker threads.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    compliance_responder::lambda::run("cloudtrail-responder", &[SourceKind::CloudTrail]).await
}
