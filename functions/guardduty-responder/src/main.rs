//! `guardduty-responder`: reacts to "GuardDuty Finding" events about IAM credentials: deactivates
//! a leaked access key, revokes the sessions of a role whose credentials leaked, reports root
//! usage, and notes what it did on GuardDuty's finding in Security Hub. All logic lives in the
//! `compliance-responder` library.

use compliance_responder::finding::SourceKind;

// One event at a time per execution environment: a single-threaded runtime, no worker threads.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    compliance_responder::lambda::run("guardduty-responder", &[SourceKind::GuardDuty]).await
}
