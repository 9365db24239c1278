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
    if responder.accepts(SourceKind::Audit) {
        return Box::pin(scheduled_audit(responder, event)).await;
    }
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

/// What the scheduler sends the audit function (the template's schedule `Input`).
pub const SCHEDULED_AUDIT: &str = "scheduled-audit";

/// The accounts a scheduled run names: `{"scheduled-audit": {}}` → `None` (the function's own
/// account and every account of `ALLOWED_ACCOUNTS`, the organization's from the SSM settings);
/// `{"scheduled-audit": {"accounts": [...]}}` → those. Anything else is refused, before any call.
pub fn schedule_request(payload: &Value) -> Result<Option<Vec<String>>, String> {
    let request = payload
        .get(SCHEDULED_AUDIT)
        .and_then(Value::as_object)
        .filter(|_| payload.as_object().is_some_and(|o| o.len() == 1))
        .ok_or_else(|| {
            format!("the audit function takes {{\"{SCHEDULED_AUDIT}\": {{...}}}} (its schedule's input), nothing else")
        })?;
    match request.get("accounts") {
        None => Ok(None),
        Some(Value::Array(list)) => list
            .iter()
            .map(|a| {
                a.as_str()
                    .filter(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
                    .map(str::to_string)
                    .ok_or_else(|| format!("accounts: {a} is not a 12-digit account id"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(other) => Err(format!("accounts must be a list of account ids, not {other}")),
    }
}

/// The accounts a run sweeps, in order, each once: those named (each the own one or allowed), or
/// the own one and the allowed ones.
pub fn audit_accounts(named: Option<Vec<String>>, own: &str, allowed: &[String]) -> Result<Vec<String>, String> {
    let mut accounts = match named {
        Some(list) => {
            if let Some(a) = list.iter().find(|a| *a != own && !allowed.contains(a)) {
                return Err(format!("accounts: {a} is neither this account nor in ALLOWED_ACCOUNTS"));
            }
            list
        }
        None => std::iter::once(own.to_string())
            .chain(allowed.iter().cloned())
            .collect(),
    };
    let mut seen = std::collections::BTreeSet::new();
    accounts.retain(|a| seen.insert(a.clone()));
    Ok(accounts)
}

/// One scheduled run of the audit function: the accounts due, each through its IAM-rewrite role
/// (the own one with the function's role), in the function's region.
async fn scheduled_audit(responder: &Responder, event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(Box::pin(run_scheduled_audit(responder, &event.payload)).await?)
}

/// [`scheduled_audit`] on a payload: the report, a refusal (`status: rejected`, nothing read),
/// or an error when an account could not be swept (the invocation fails: the alarm sees it).
pub async fn run_scheduled_audit(responder: &Responder, payload: &Value) -> Result<Value, String> {
    let refused = |reason: String| {
        tracing::warn!(%reason, "not a scheduled audit: refused");
        Ok(serde_json::json!({"status": "rejected", "reason": reason}))
    };
    let named = match schedule_request(payload) {
        Ok(n) => n,
        Err(reason) => return refused(reason),
    };
    let (own, partition, region) = responder
        .identity()
        .await
        .map_err(|e| format!("scheduled audit: {e}"))?;
    let accounts = match audit_accounts(named, &own, &responder.config().allowed_accounts) {
        Ok(a) => a,
        Err(reason) => return refused(reason),
    };
    let report = Box::pin(responder.scheduled_audit(&accounts, &partition, &region))
        .await
        .map_err(|e| format!("scheduled audit: {e}"))?;
    let json = serde_json::to_value(&report).unwrap_or_default();
    tracing::info!(report = %json, "scheduled audit done");
    if report.failed() {
        let errors: Vec<String> = report.sweeps.iter().filter_map(|s| s.error.clone()).collect();
        return Err(format!("scheduled audit: {}", errors.join("; ")));
    }
    Ok(json)
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_scheduled_audit_covers_the_own_and_allowed_accounts_and_nothing_else() {
        let allowed = vec!["222233334444".to_string(), "111122223333".to_string()];
        let own = "111122223333";
        let run = |payload: serde_json::Value| {
            schedule_request(&payload).and_then(|named| audit_accounts(named, own, &allowed))
        };
        assert_eq!(
            run(json!({"scheduled-audit": {}})).unwrap(),
            ["111122223333", "222233334444"]
        );
        assert_eq!(
            run(json!({"scheduled-audit": {"accounts": ["222233334444"]}})).unwrap(),
            ["222233334444"]
        );
        for bad in [
            json!({"scheduled-audit": {"accounts": ["999999999999"]}}),
            json!({"scheduled-audit": {"accounts": ["12"]}}),
            json!({"scheduled-audit": {"accounts": "222233334444"}}),
            json!({"scheduled-audit": {}, "detail": {}}),
            json!({"detail-type": "AWS API Call via CloudTrail"}),
            json!("scheduled-audit"),
        ] {
            assert!(run(bad.clone()).is_err(), "{bad}");
        }
    }
}
