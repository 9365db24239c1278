//! `audit-responder`: the scheduled audit sweep. EventBridge Scheduler invokes it with
//! `{"scheduled-audit": {}}`; it sweeps the existing IAM state of its own account and of every
//! account in `ALLOWED_ACCOUNTS` that is due (`AUDIT_INTERVAL_HOURS`), each through its
//! IAM-rewrite member role, at most `AUDIT_MAX_PAGES` pages per account and run, resuming where
//! the last run stopped (state in `UNDO_RECORD_BUCKET`, `audit/state.json`). The same stages,
//! guards and finding ids as an event; dry-run unless its `MODE` says remediate. All logic lives
//! in the `compliance-responder` library (`audit.rs`).

use compliance_responder::finding::SourceKind;

// One run at a time per execution environment: a single-threaded runtime, no worker threads.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    compliance_responder::lambda::run("audit-responder", &[SourceKind::Audit]).await
}
