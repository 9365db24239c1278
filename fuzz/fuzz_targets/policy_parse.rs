//! Any text as a policy document: parse, judge with every rule, apply the fixes. Must never panic.
#![no_main]

use compliance_responder::edit::apply_edits;
use compliance_responder::policy::{DocumentKind, PolicyDocument};
use compliance_responder::rules;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// The rules, built once (as a function builds them once per process).
fn registry() -> &'static [Box<dyn rules::Rule>] {
    static REGISTRY: OnceLock<Vec<Box<dyn rules::Rule>>> = OnceLock::new();
    REGISTRY.get_or_init(|| rules::registry(&compliance_responder::Config::default()))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(doc) = PolicyDocument::parse(text) else { return };
    for kind in [DocumentKind::Managed, DocumentKind::Trust] {
        let edits: Vec<_> = rules::check_document(registry(), &doc, kind)
            .into_iter()
            .flat_map(|(_, v)| v)
            .flat_map(|v| v.edits)
            .collect();
        if let Some(rewritten) = apply_edits(&doc, &edits) {
            PolicyDocument::parse(&rewritten).expect("a rewrite is always a valid document");
        }
    }
});
