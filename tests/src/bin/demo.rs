//! `make demo`: start moto, seed the sandbox account with over-permissive IAM, leaked access keys
//! and untagged resources, replay the sample events through the responder (the same library call
//! the Lambdas make), and print what was found, fixed and reported. `MODE=dry-run make demo` shows
//! the plan without changing anything.
//!
//! Usage: demo [--json] [EVENT.json ...]   (default: every file under events/cloudtrail/,
//! events/config/ and events/guardduty/)
//!
//! `demo --audit-report FILE.html` (`make audit-report`): seed the same sandbox, then run the
//! audit sweep (`responder audit`, dry-run unless MODE=remediate) over it and write the HTML
//! preview to FILE.html and its data beside it (FILE.json). Opens nothing.

use compliance_responder::{logging, Config, Mode, Responder};
use integration_tests::{sample_events, IdMap, Inspect, Moto, Sandbox, ACCOUNT, ALL_SOURCES, REGION};
use std::path::PathBuf;

/// Every seeded taggable resource: (label, ARN).
fn resources(sandbox: &Sandbox, ids: &IdMap) -> Vec<(String, String)> {
    let r = &sandbox.resources;
    let (a, g) = (ACCOUNT, REGION);
    let id = |x: &integration_tests::SeedResource| ids.real(x.sample_id.as_deref().unwrap_or(&x.name)).to_string();
    let mut out = Vec::new();
    out.extend(
        r.buckets
            .iter()
            .map(|b| (format!("bucket {}", b.name), format!("arn:aws:s3:::{}", b.name))),
    );
    out.extend(r.instances.iter().map(|i| {
        (
            format!("instance {}", id(i)),
            format!("arn:aws:ec2:{g}:{a}:instance/{}", id(i)),
        )
    }));
    out.extend(r.volumes.iter().map(|v| {
        (
            format!("volume {}", id(v)),
            format!("arn:aws:ec2:{g}:{a}:volume/{}", id(v)),
        )
    }));
    out.extend(r.security_groups.iter().map(|s| {
        (
            format!("sg {}", id(s)),
            format!("arn:aws:ec2:{g}:{a}:security-group/{}", id(s)),
        )
    }));
    out.extend(r.functions.iter().map(|f| {
        (
            format!("function {}", f.name),
            format!("arn:aws:lambda:{g}:{a}:function:{}", f.name),
        )
    }));
    out.extend(r.tables.iter().map(|t| {
        (
            format!("table {}", t.name),
            format!("arn:aws:dynamodb:{g}:{a}:table/{}", t.name),
        )
    }));
    out.extend(
        r.db_instances
            .iter()
            .map(|d| (format!("db {}", d.name), format!("arn:aws:rds:{g}:{a}:db:{}", d.name))),
    );
    out.extend(
        r.queues
            .iter()
            .map(|q| (format!("queue {}", q.name), format!("arn:aws:sqs:{g}:{a}:{}", q.name))),
    );
    out.extend(
        r.topics
            .iter()
            .map(|t| (format!("topic {}", t.name), format!("arn:aws:sns:{g}:{a}:{}", t.name))),
    );
    out
}

async fn resource_state(inspect: &Inspect, sandbox: &Sandbox, ids: &IdMap) -> Vec<String> {
    let mut lines = Vec::new();
    for (label, arn) in resources(sandbox, ids) {
        let tags: Vec<String> = inspect
            .tags(&arn)
            .await
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let tags = if tags.is_empty() {
            "no tags".to_string()
        } else {
            tags.join(", ")
        };
        lines.push(format!("  {label:<30} {tags}"));
    }
    lines
}

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
            if kind == "user" {
                for (key, status) in inspect.access_keys(&p.name).await {
                    parts.push(format!("key {key} {status}"));
                }
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
    if let Some(i) = args.iter().position(|a| a == "--audit-report") {
        let Some(html) = args.get(i + 1) else {
            eprintln!("usage: demo --audit-report FILE.html");
            std::process::exit(2);
        };
        std::process::exit(audit_report(PathBuf::from(html)).await);
    }
    let json = args.iter().any(|a| a == "--json");
    let files: Vec<PathBuf> = args
        .iter()
        .filter(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .collect();
    let files = if files.is_empty() {
        ["cloudtrail", "config", "guardduty"]
            .iter()
            .flat_map(|s| sample_events(s))
            .collect()
    } else {
        files
    };
    let config = match Config::from_lookup(|k| {
        std::env::var(k)
            .ok()
            .or_else(|| (k == "MODE").then(|| "remediate".into()))
    }) {
        // moto has no Security Hub BatchUpdateFindings: GuardDuty's own finding is not annotated.
        Ok(c) => Config {
            annotate_source_findings: false,
            ..c
        },
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
    let ids = sandbox.seed(&sdk).await;
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
    for l in resource_state(&inspect, &sandbox, &ids).await {
        println!("{l}");
    }

    println!(
        "\nReplaying {} event(s) (sample ids mapped to the ids moto assigned):",
        files.len()
    );
    let mode = config.mode;
    let r = Responder::from_sdk_config(config, ALL_SOURCES, &sdk);
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
        let report = r.handle_bytes(&ids.rewrite(&bytes)).await;
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
        let open = report
            .verdicts
            .iter()
            .filter(|v| v.status != compliance_responder::rules::Status::Compliant)
            .count();
        if open == 0 && !report.verdicts.is_empty() {
            println!(
                "      compliant: {} verdict(s), e.g. {}",
                report.verdicts.len(),
                report.verdicts[0].summary
            );
        }
        if let Some(reason) = &report.reason {
            println!("      {reason}");
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
    for l in resource_state(&inspect, &sandbox, &ids).await {
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
    if mode == Mode::DryRun {
        println!("\nDry-run: nothing was changed; findings record what would have been done.");
    }
    if failures > 0 {
        eprintln!("demo: {failures} event(s) failed");
        std::process::exit(1);
    }
}

/// `make audit-report`: the sandbox seeded in moto, swept by the audit (dry-run unless
/// `MODE=remediate`), the HTML preview and its JSON written. The exit code: 0 when the sweep ran.
async fn audit_report(html: PathBuf) -> i32 {
    let config = match Config::from_lookup(|k| {
        std::env::var(k)
            .ok()
            .or_else(|| (k == "MODE").then(|| "dry-run".into()))
    }) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("demo: {e}");
            return 2;
        }
    };
    logging::init(&std::env::var("LOG_LEVEL").unwrap_or_else(|_| "warn".into()));
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    Sandbox::load().seed(&sdk).await;
    let mode = config.mode;
    let r = Responder::from_sdk_config(config, ALL_SOURCES, &sdk);
    let scope = compliance_responder::audit::AuditScope {
        account: ACCOUNT.into(),
        region: REGION.into(),
        partition: "aws".into(),
        max_pages: 100,
        resume: None,
        resources: true,
    };
    let report = match r.audit(&scope).await {
        Ok(report) => report,
        Err(e) => {
            eprintln!("audit: {e}");
            return 1;
        }
    };
    let json = html.with_extension("json");
    let written = std::fs::write(&html, report.to_html())
        .and_then(|()| std::fs::write(&json, serde_json::to_vec_pretty(&report).unwrap_or_default()));
    if let Err(e) = written {
        eprintln!("{}: {e}", html.display());
        return 1;
    }
    let s = &report.summary;
    println!(
        "audit of the sandbox account {ACCOUNT} (MODE={mode}): {} principals, {} at risk, {} violations, {} fixes planned, {} applied, {} withheld",
        s.principals, s.principals_at_risk, s.verdicts_failed, s.fixes_planned, s.fixes_applied, s.withheld
    );
    println!("wrote {} and {}", html.display(), json.display());
    0
}
