//! The Lambda entry point every function crate calls: configuration, logging and SDK clients are
//! built once at start-up; each event is handed to the [`Responder`] and its report returned.

use crate::finding::SourceKind;
use crate::{logging, Config, Responder};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

/// Handles one event. Bad input and evaluated events return the report; a failed AWS call
/// returns an error (so Lambda retries and the on-failure destination receives the event) after
/// the full report has been logged.
pub async fn handle(responder: &Responder, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let report = responder.handle_value(event.payload).await;
    if report.should_retry() {
        let failed: Vec<String> = report.errors.iter().map(|e| e.to_string()).collect();
        return Err(format!("remediation incomplete ({}): {}", report.one_line(), failed.join("; ")).into());
    }
    Ok(serde_json::to_value(&report)?)
}

/// Runs the function `name`, accepting events of `sources`, until the runtime stops it.
pub async fn run(name: &'static str, sources: &[SourceKind]) -> Result<(), Error> {
    let config = Config::from_env()?;
    logging::init(&config.log_level);
    // Honours AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_<SERVICE>, so the same build runs against moto.
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    tracing::info!(function = name, mode = %config.mode, "starting");
    let responder = Responder::from_sdk_config(config, sources, &sdk);
    lambda_runtime::run(service_fn(|event| handle(&responder, event))).await
}
