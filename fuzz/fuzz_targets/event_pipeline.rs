//! Any bytes through envelope → finding → verdicts → plan (the pure core, no AWS): must never panic.
#![no_main]

use compliance_responder::envelope::Envelope;
use compliance_responder::finding::SourceKind;
use compliance_responder::offline::observed_from_event;
use compliance_responder::plan::{Plan, Remedy};
use compliance_responder::{rules, sources};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(envelope) = Envelope::from_slice(data) else { return };
    let config = compliance_responder::Config::default();
    let all = [SourceKind::CloudTrail, SourceKind::Config, SourceKind::GuardDuty];
    let Ok(finding) = sources::normalize(&envelope, &all, &config.config_rule_map) else { return };
    let observed = observed_from_event(&finding);
    let verdicts: Vec<_> = rules::registry(&config).iter().flat_map(|r| r.evaluate(&finding, &observed)).collect();
    let remedies: Vec<&Remedy> = verdicts.iter().map(|v| &v.remedy).collect();
    let _ = Plan::build(&remedies, &observed);
});
