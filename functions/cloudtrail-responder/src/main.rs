//! `cloudtrail-responder`: reacts to IAM API calls ("AWS API Call via CloudTrail", source
//! `aws.iam`) delivered by EventBridge. Parses the event, hands it to the shared responder, and
//! returns the report. All logic lives in the `compliance-responder` library.

use compliance_responder::finding::SourceKind;
use compliance_responder::{logging, Config, Responder};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

/// Handles one event. Bad input and evaluated events return the report; a failed AWS call
/// returns an error (so Lambda retries and the on-failure destination receives the event) after
/// the full report has been logged.
async fn handle(responder: &Responder, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let report = responder.handle_value(event.payload).await;
    if report.should_retry() {
        let failed: Vec<String> = report.errors.iter().map(|e| e.to_string()).collect();
        return Err(format!("remediation incomplete ({}): {}", report.one_line(), failed.join("; ")).into());
    }
    Ok(serde_json::to_value(&report)?)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = Config::from_env()?;
    logging::init(&config.log_level);
    // Honours AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_<SERVICE>, so the same build runs against moto.
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    tracing::info!(mode = %config.mode, "cloudtrail-responder starting");
    let responder = Responder::from_sdk_config(config, &[SourceKind::CloudTrail], &sdk);
    lambda_runtime::run(service_fn(|event| handle(&responder, event))).await
}
