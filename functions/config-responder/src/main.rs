//! `config-responder`: reacts to AWS Config events delivered by EventBridge: "Config Rules
//! Compliance Change" (NON_COMPLIANT results of the rules `CONFIG_RULE_MAP` names) and "Config
//! Configuration Item Change" for IAM policies, users, roles and groups. All logic lives in the
//! `compliance-responder` library.

use compliance_responder::finding::SourceKind;

// One event at a time per execution environment: a single-threaded runtime, no worker threads.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    compliance_responder::lambda::run("config-responder", &[SourceKind::Config]).await
}
