//! AWS API calls per remediation, counted at the emulator: every sample event is replayed (in
//! remediate mode, on a freshly seeded moto) with moto's request recorder on, and its calls are
//! counted as reads, fix writes and Security Hub calls. Each sample's counts must equal the
//! minimum in `events/api-calls.tsv`, which says why each call is needed; and no request may be
//! sent twice within one event (no redundant reads).
//!
//! `API_CALLS_REPORT=1` prints the table (the README's figures come from it).

use compliance_responder::Mode;
use integration_tests::{repo_root, responder, sample_events, ApiCall, Env};
use std::collections::{BTreeMap, HashMap};

/// One line of `events/api-calls.tsv`: sample, reads, fix writes, Security Hub calls, why.
struct Minimum {
    reads: usize,
    writes: usize,
    hub: usize,
    why: String,
}

fn minimums() -> BTreeMap<String, Minimum> {
    let text = std::fs::read_to_string(repo_root().join("events/api-calls.tsv")).expect("events/api-calls.tsv");
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert!(f.len() >= 5, "api-calls.tsv: five tab-separated fields expected: {l}");
            let n = |s: &str| {
                s.trim()
                    .parse::<usize>()
                    .unwrap_or_else(|_| panic!("api-calls.tsv: not a count: {l}"))
            };
            (
                f[0].trim().to_string(),
                Minimum {
                    reads: n(f[1]),
                    writes: n(f[2]),
                    hub: n(f[3]),
                    why: f[4].trim().to_string(),
                },
            )
        })
        .collect()
}

struct Counted {
    reads: usize,
    writes: usize,
    hub: usize,
    repeated: Vec<String>,
    calls: Vec<String>,
}

fn count(calls: &[ApiCall]) -> Counted {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for c in calls {
        *seen.entry(c.request.as_str()).or_default() += 1;
    }
    let repeated = calls
        .iter()
        .filter(|c| seen.get(c.request.as_str()).copied().unwrap_or(0) > 1)
        .map(|c| format!("{}:{} {}", c.service, c.operation, c.request))
        .collect();
    let hub = calls.iter().filter(|c| c.service == "securityhub").count();
    let (writes, reads): (Vec<&ApiCall>, Vec<&ApiCall>) = calls
        .iter()
        .filter(|c| c.service != "securityhub")
        .partition(|c| c.is_write());
    Counted {
        reads: reads.len(),
        writes: writes.len(),
        hub,
        repeated,
        calls: calls.iter().map(|c| format!("{}:{}", c.service, c.operation)).collect(),
    }
}

async fn check_source(source: &str) {
    let minimums = minimums();
    let report = std::env::var("API_CALLS_REPORT").is_ok();
    let mut failures = Vec::new();
    for path in sample_events(source) {
        let name = format!("{source}/{}", path.file_name().unwrap_or_default().to_string_lossy());
        let env = Env::seeded().await;
        let r = responder(&env.sdk, Mode::Remediate);
        env.start_recording();
        let outcome = r.handle_bytes(&env.event(&name)).await;
        let counted = count(&env.recorded_calls());
        assert!(outcome.errors.is_empty(), "{name}: {:?}", outcome.errors);
        let Some(min) = minimums.get(&name) else {
            failures.push(format!(
                "{name}: no line in events/api-calls.tsv (counted {} reads, {} writes, {} Security Hub: {:?})",
                counted.reads, counted.writes, counted.hub, counted.calls
            ));
            continue;
        };
        if report {
            println!(
                "{name:<58} reads {:>2} (min {:>2})  writes {} (min {})  hub {} (min {})  {}",
                counted.reads, min.reads, counted.writes, min.writes, counted.hub, min.hub, min.why
            );
        }
        if !counted.repeated.is_empty() {
            failures.push(format!(
                "{name}: the same request sent more than once: {:?}",
                counted.repeated
            ));
        }
        if (counted.reads, counted.writes, counted.hub) != (min.reads, min.writes, min.hub) {
            failures.push(format!(
                "{name}: counted {} reads, {} writes, {} Security Hub, the minimum is {} / {} / {} ({}); calls: {:?}",
                counted.reads, counted.writes, counted.hub, min.reads, min.writes, min.hub, min.why, counted.calls
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudtrail_samples_make_the_minimum_calls() {
    check_source("cloudtrail").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_samples_make_the_minimum_calls() {
    check_source("config").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guardduty_samples_make_the_minimum_calls() {
    check_source("guardduty").await;
}

#[test]
fn every_line_names_a_sample() {
    let samples: Vec<String> = ["cloudtrail", "config", "guardduty"]
        .iter()
        .flat_map(|s| {
            sample_events(s)
                .into_iter()
                .map(move |p| format!("{s}/{}", p.file_name().unwrap_or_default().to_string_lossy()))
        })
        .collect();
    for name in minimums().keys() {
        assert!(samples.contains(name), "events/api-calls.tsv names no sample: {name}");
    }
}
