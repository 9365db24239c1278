//! Blast-radius limit: at most `max` writes per rule per sliding window, counted per container
//! (a Lambda execution environment handles one event at a time and lives for many). Beyond the
//! limit a fix is deferred: the finding is posted and says so, nothing is written.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct RateLimiter {
    max: usize,
    window: Duration,
    history: Mutex<BTreeMap<String, VecDeque<Instant>>>,
}

impl RateLimiter {
    pub fn new(max: usize, window: Duration) -> Self {
        RateLimiter {
            max,
            window,
            history: Mutex::new(BTreeMap::new()),
        }
    }

    /// Admits `writes` writes serving `rules` (recording them for each) all together, or none of
    /// them, or says which rule is over its limit. Fails closed: a poisoned lock admits nothing.
    pub fn admit_all(&self, rules: &[&str], writes: usize) -> Result<(), String> {
        self.admit_at(rules, writes, Instant::now())
    }

    fn admit_at(&self, rules: &[&str], writes: usize, now: Instant) -> Result<(), String> {
        let Ok(mut history) = self.history.lock() else {
            return Err("the write limiter is unavailable".into());
        };
        for rule in rules {
            let times = history.entry(rule.to_string()).or_default();
            while times.front().is_some_and(|t| now.duration_since(*t) >= self.window) {
                times.pop_front();
            }
            if times.len() + writes > self.max {
                return Err(format!(
                    "rule {rule} already made MAX_WRITES_PER_RULE={} writes in the last {} s",
                    self.max,
                    self.window.as_secs()
                ));
            }
        }
        for rule in rules {
            let times = history.entry(rule.to_string()).or_default();
            times.extend(std::iter::repeat_n(now, writes));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_rule_sliding_window() {
        let l = RateLimiter::new(2, Duration::from_secs(60));
        let t0 = Instant::now();
        assert!(l.admit_at(&["a"], 1, t0).is_ok());
        assert!(l.admit_at(&["a", "b"], 1, t0).is_ok());
        let err = l.admit_at(&["b", "a"], 1, t0).unwrap_err();
        assert!(err.contains("rule a"), "{err}");
        // b was not charged for the refused write.
        assert!(l.admit_at(&["b"], 1, t0).is_ok());
        assert!(l.admit_at(&["a"], 1, t0 + Duration::from_secs(61)).is_ok());
        assert!(RateLimiter::new(0, Duration::from_secs(1))
            .admit_all(&["a"], 1)
            .is_err());
    }

    #[test]
    fn the_writes_of_one_fix_are_admitted_together_or_not_at_all() {
        let l = RateLimiter::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        assert!(l.admit_at(&["a"], 2, t0).is_ok());
        assert!(l.admit_at(&["a"], 2, t0).is_err(), "one write left, two needed");
        assert!(l.admit_at(&["a"], 1, t0).is_ok(), "the refused pair charged nothing");
    }
}
