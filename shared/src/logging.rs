//! Structured JSON logs through `tracing`.

use tracing_subscriber::EnvFilter;

/// Installs a JSON subscriber at `level` (a level name or a full `tracing` filter). Safe to call
/// more than once: later calls are no-ops. An invalid filter falls back to `info`.
pub fn init(level: &str) {
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
