//! `make demo`: start moto, seed the sandbox account with over-permissive IAM, replay the sample
//! events through the responder (the same library call the Lambda makes), and print what was
//! found, fixed and reported. `MODE=dry-run make demo` shows the plan without changing IAM.
//!
//! Usage: demo [--json] [EVENT.json ...]   (default: every file under events/cloudtrail/)

use compliance_responder::{logging, Config, Mode};
use integration_tests::{responder, sample_events, Inspect, Moto, Sandbox};
use std::path::PathBuf;

async fn state(inspect: &Inspect, sandbox: &Sandbox) -> Vec<String> {
    let mut lines = Vec::new();
    let groups = [
        ("user", &sandbox.users),
        ("role", &sandbox.roles),
        ("group", &sandbox.groups),
    ];
    for (kind, principals) in groups {
        for p in principals.iter() {
            let attached: Vec<String> = inspect
                .attached(kind, &p.name)
                .await
                .iter()
                .map(|a| a.rsplit('/').next().unwrap_or(a).to_string())
                .collect();
            let inline = inspect.inline_names(kind, &p.name).await;
            let mut parts = Vec::new();
            if !attached.is_empty() {
                parts.push(format!("attached [{}]", attached.join(", ")));
            }
            for name in &inline {
                let doc = inspect.inline_document(kind, &p.name, name).await;
                let n = doc["Statement"].as_array().map(|a| a.len()).unwrap_or(1);
                parts.push(format!(
                    "inline {name} ({n} statement{})",
                    if n == 1 { "" } else { "s" }
                ));
            }
            if parts.is_empty() {
                parts.push("no policies".into());
            }
            lines.push(format!("  {kind:<5} {:<14} {}", p.name, parts.join("; ")));
        }
    }
    lines
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let files: Vec<PathBuf> = args
        .iter()
        .filter(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .collect();
    let files = if files.is_empty() {
        sample_events("cloudtrail")
    } else {
        files
    };
    let config = match Config::from_lookup(|k| {
        std::env::var(k)
            .ok()
            .or_else(|| (k == "MODE").then(|| "remediate".into()))
    }) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("demo: {e}");
            std::process::exit(2);
        }
    };
    // Keep the terminal readable: the library's JSON logs only for warnings unless asked.
    logging::init(&std::env::var("LOG_LEVEL").unwrap_or_else(|_| "warn".into()));

    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let sandbox = Sandbox::load();
    sandbox.seed(&sdk).await;
    let inspect = Inspect::new(&sdk);
    println!(
        "compliance-responder demo: moto on {}, MODE={}",
        moto.endpoint(),
        config.mode
    );
    println!("\nBefore (sandbox account 123456789012, seeded from tests/fixtures/sandbox.json):");
    for l in state(&inspect, &sandbox).await {
        println!("{l}");
    }

    println!("\nReplaying {} event(s):", files.len());
    let r = responder(&sdk, config.mode);
    let mut failures = 0;
    for file in &files {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let bytes = match std::fs::read(file) {
            Ok(b) => b,
            Err(e) => {
                println!("  {name}: cannot read: {e}");
                failures += 1;
                continue;
            }
        };
        let report = r.handle_bytes(&bytes).await;
        let status = serde_json::to_value(report.status).unwrap_or_default();
        println!(
            "  {name:<36} {:<12} {}",
            status.as_str().unwrap_or(""),
            report.event_name.as_deref().unwrap_or("-")
        );
        for v in report
            .verdicts
            .iter()
            .filter(|v| v.status != compliance_responder::rules::Status::Compliant)
        {
            let status = serde_json::to_value(&v.status).unwrap_or_default();
            println!(
                "      {}: [{}] {} ({})",
                status["status"].as_str().unwrap_or(""),
                v.rule_id,
                v.summary,
                v.severity.label()
            );
        }
        for a in &report.actions {
            let result = serde_json::to_value(&a.result).unwrap_or_default();
            println!(
                "      {}: {} ({})",
                a.api_call,
                a.description,
                result["result"].as_str().unwrap_or("")
            );
            println!("        undo: {}", a.inverse.describe());
        }
        if let Some(e) = &report.input_error {
            println!("      rejected: {e}");
        }
        for e in &report.errors {
            println!("      error: {e}");
        }
        if report.should_retry() {
            failures += 1;
        }
        if json {
            println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
        }
    }

    println!("\nAfter:");
    for l in state(&inspect, &sandbox).await {
        println!("{l}");
    }
    let findings = inspect.findings().await;
    println!("\nSecurity Hub findings ({}):", findings.len());
    for f in &findings {
        let field = |k: &str| {
            f.product_fields
                .get(&format!("compliance-responder/{k}"))
                .cloned()
                .unwrap_or_default()
        };
        let resource = f
            .resource_ids
            .first()
            .map(|a| a.rsplit(':').next().unwrap_or(a))
            .unwrap_or("");
        println!(
            "  {:<6} {:<8} {:<17} {:<28} outcome={}",
            f.compliance,
            f.severity,
            f.generator_id,
            resource,
            field("Outcome")
        );
    }
    if config.mode == Mode::DryRun {
        println!("\nDry-run: IAM was not changed; findings record what would have been done.");
    }
    if failures > 0 {
        eprintln!("demo: {failures} event(s) failed");
        std::process::exit(1);
    }
}
