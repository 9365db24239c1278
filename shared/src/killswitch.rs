//! The kill switch: one SSM parameter (`KILL_SWITCH_PARAMETER`) that forces every function into
//! dry-run without a redeploy. Read only when an event has something to fix, and reused for
//! `KILL_SWITCH_TTL_SECONDS`. Fails closed: a parameter that is missing, unreadable or holds
//! anything but `off`/`false` means dry-run.
//!
//! ```sh
//! aws ssm put-parameter --name /compliance-responder/kill-switch --type String --overwrite --value on
//! ```

use crate::adapters::SwitchPort;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct KillSwitch {
    name: String,
    ttl: Duration,
    port: Arc<dyn SwitchPort>,
    cache: Mutex<Option<(Instant, Option<String>)>>,
}

/// What a parameter value means: `None` = not engaged, `Some(reason)` = forced dry-run.
pub fn interpret(name: &str, value: Option<&str>) -> Option<String> {
    match value.map(|v| v.trim().to_ascii_lowercase()) {
        None => Some(format!("kill switch {name} does not exist: dry-run (fail closed)")),
        Some(v) if v == "off" || v == "false" => None,
        Some(v) if v == "on" || v == "true" || v == "dry-run" => Some(format!("kill switch {name} is on: dry-run")),
        Some(v) => Some(format!(
            "kill switch {name} holds {v:?}, neither on nor off: dry-run (fail closed)"
        )),
    }
}

impl KillSwitch {
    pub fn new(name: String, ttl: Duration, port: Arc<dyn SwitchPort>) -> Self {
        KillSwitch {
            name,
            ttl,
            port,
            cache: Mutex::new(None),
        }
    }

    /// `Some(reason)` when fixes must not be applied now.
    pub async fn engaged(&self) -> Option<String> {
        if let Ok(cache) = self.cache.lock() {
            if let Some((at, state)) = cache.as_ref() {
                if at.elapsed() < self.ttl {
                    return state.clone();
                }
            }
        }
        match self.port.parameter(&self.name).await {
            Ok(value) => {
                let state = interpret(&self.name, value.as_deref());
                if let Ok(mut cache) = self.cache.lock() {
                    *cache = Some((Instant::now(), state.clone()));
                }
                state
            }
            // Not cached: the next event tries again.
            Err(e) => Some(format!(
                "kill switch {} could not be read ({e}): dry-run (fail closed)",
                self.name
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        assert_eq!(interpret("k", Some("off")), None);
        assert_eq!(interpret("k", Some(" FALSE ")), None);
        assert!(interpret("k", Some("on")).unwrap().contains("is on"));
        assert!(interpret("k", Some("maybe")).unwrap().contains("fail closed"));
        assert!(interpret("k", None).unwrap().contains("does not exist"));
    }
}
