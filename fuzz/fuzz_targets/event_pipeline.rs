//! Any bytes through envelope → finding → verdicts → plan (the pure core, no AWS): must never panic.
#![no_main]

use compliance_responder::envelope::Envelope;
use compliance_responder::finding::SourceKind;
use compliance_responder::offline::observed_from_event;
use compliance_responder::plan::{Plan, Remedy};
use compliance_responder::{rules, sources};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// The configuration and the rules, built once (as a function builds them once per process).
fn setup() -> &'static (compliance_responder::Config, Vec<Box<dyn rules::Rule>>) {
    static SETUP: OnceLock<(compliance_responder::Config, Vec<Box<dyn rules::Rule>>)> = OnceLock::new();
    SETUP.get_or_init(|| {
        let config = compliance_responder::Config::default();
        let registry = rules::registry(&config);
        (config, registry)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(envelope) = Envelope::from_slice(data) else { return };
    let (config, registry) = setup();
    let all = [SourceKind::CloudTrail, SourceKind::Config, SourceKind::GuardDuty];
    let Ok(finding) = sources::normalize(&envelope, &all, &config.config_rule_map) else { return };
    let observed = observed_from_event(&finding);
    let verdicts: Vec<_> = registry.iter().flat_map(|r| r.evaluate(&finding, &observed)).collect();
    let remedies: Vec<&Remedy> = verdicts.iter().map(|v| &v.remedy).collect();
    let _ = Plan::build(&remedies, &observed);
});
