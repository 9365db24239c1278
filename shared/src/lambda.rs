//! The Lambda entry point every function crate calls: configuration, logging and SDK clients are
//! built once per execution environment, never per event; each event is handed to the
//! [`Responder`] and its report returned.
//!
//! Start-up: settings are read and checked, and logging installed, before anything else (a bad
//! setting fails the init phase). The SDK configuration and the clients are built on a
//! background thread started at init, while the runtime asks Lambda for the first event: building
//! the first client loads the TLS trust store (the system's root certificates, hundreds of files
//! on some systems), by far the largest part of start-up. The first event waits for that build if
//! it is not finished; later events use the same clients.

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

/// The function's settings: the environment's, plus the SSM parameters under
/// `SETTINGS_PARAMETER_PATH` when it is set (read here, at init: an unreadable path or a bad
/// parameter fails the init phase, and Lambda retries the init on the next event). Returns the
/// SDK configuration when it had to be loaded for that read, so it is not loaded twice.
pub async fn load_config() -> Result<(Config, Option<aws_config::SdkConfig>), Error> {
    let config = Config::from_env()?;
    logging::init(&config.log_level);
    with_parameter_settings(config).await
}

/// `config` with the SSM parameters under `SETTINGS_PARAMETER_PATH` added, when it is set (also
/// what `responder audit` runs with, so a protected principal listed there is protected there).
pub async fn with_parameter_settings(config: Config) -> Result<(Config, Option<aws_config::SdkConfig>), Error> {
    let Some(path) = std::env::var("SETTINGS_PARAMETER_PATH")
        .ok()
        .filter(|p| !p.trim().is_empty())
    else {
        return Ok((config, None));
    };
    crate::config::check_parameter_path(&path)?;
    let sdk = sdk_loader(&config).load().await;
    let parameters = crate::adapters::read_settings(&sdk, &path).await.map_err(|e| {
        tracing::error!(error = %e, path, "cannot read the settings parameters");
        Error::from(format!("reading the settings under {path}: {e}"))
    })?;
    let config = Config::from_lookup_and_parameters(|k| std::env::var(k).ok(), &path, &parameters)?;
    tracing::info!(path, parameters = parameters.len(), "settings read from SSM parameters");
    Ok((config, Some(sdk)))
}

/// Runs the function `name`, accepting events of `sources`, until the runtime stops it.
pub async fn run(name: &'static str, sources: &[SourceKind]) -> Result<(), Error> {
    let (config, sdk) = load_config().await?;
    tracing::info!(function = name, mode = %config.mode, "starting");
    let sources = sources.to_vec();
    // Off the runtime's thread: loading the configuration builds the first HTTPS connector (and
    // with it the trust store), which is synchronous work. The runtime's own thread meanwhile
    // asks Lambda for the first event, and drives the I/O this thread's `block_on` needs.
    let runtime = tokio::runtime::Handle::current();
    let building = tokio::task::spawn_blocking(move || {
        // Honours AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_<SERVICE>, so the same build runs against moto.
        let sdk = match sdk {
            Some(sdk) => sdk,
            None => runtime.block_on(sdk_loader(&config).load()),
        };
        Responder::from_sdk_config(config, &sources, &sdk)
    });
    let building = tokio::sync::Mutex::new(Some(building));
    let responder: tokio::sync::OnceCell<Responder> = tokio::sync::OnceCell::new();
    lambda_runtime::run(service_fn(|event| async {
        let responder = responder
            .get_or_try_init(|| async {
                match building.lock().await.take() {
                    Some(handle) => handle
                        .await
                        .map_err(|e| Error::from(format!("building the SDK clients: {e}"))),
                    None => Err("building the SDK clients failed earlier".into()),
                }
            })
            .await?;
        handle(name, responder, event).await
    }))
    .await
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
