//! `securityhub-responder`: answers "Security Hub Findings - Custom Action" events for this
//! product's two custom actions. "Remediate" judges a chosen finding again on the live state and
//! applies its fix whatever the rule's mode (the person's choice is the approval; the kill switch,
//! protected principals, exemptions and limits still win). "Undo" applies the inverse recorded
//! when the fix was made (`UNDO_RECORD_BUCKET`) while the state is still what the fix left. All
//! logic lives in the `compliance-responder` library (`pipeline/hub.rs`).

use compliance_responder::finding::SourceKind;

// One event at a time per execution environment: a single-threaded runtime, no worker threads.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    compliance_responder::lambda::run("securityhub-responder", &[SourceKind::HubAction]).await
}
