//! The Lambda entry point every function crate calls: configuration, logging and SDK clients are
//! built once at start-up; each event is handed to the [`Responder`] and its report returned.

use crate::finding::SourceKind;
use crate::{logging, Config, Responder};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

/// Handles one event. Bad input and evaluated events return the report; a failed AWS call
/// returns an error (so Lambda retries and the on-failure destination receives the event) after
/// the full report has been logged.
pub async fn handle(function: &str, responder: &Responder, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let report = responder.handle_value(event.payload).await;
    for line in crate::metrics::emf_lines(function, &report, chrono::Utc::now().timestamp_millis()) {
        println!("{line}");
    }
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
    let sdk = sdk_loader(&config).load().await;
    tracing::info!(function = name, mode = %config.mode, "starting");
    let responder = Responder::from_sdk_config(config, sources, &sdk);
    lambda_runtime::run(service_fn(|event| handle(name, &responder, event))).await
}

/// The SDK configuration every function uses: bounded retries (`AWS_MAX_ATTEMPTS`, standard mode:
/// exponential backoff with jitter, throttling errors retried) and timeouts, so a throttled or
/// hung API ends in a reported failure well within the Lambda timeout instead of hanging.
pub fn sdk_loader(config: &Config) -> aws_config::ConfigLoader {
    use std::time::Duration;
    let retry = aws_config::retry::RetryConfig::standard()
        .with_max_attempts(config.max_attempts)
        .with_initial_backoff(Duration::from_millis(100))
        .with_max_backoff(Duration::from_secs(5));
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(5))
        .operation_timeout(Duration::from_secs(20))
        .build();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .retry_config(retry)
        .timeout_config(timeouts)
}
