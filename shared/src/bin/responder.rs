//! `responder`: the engine offline.
//!
//! ```text
//! responder check-policy [--trust] [--aws-managed] FILE...
//!                                             one JSON line per violation; exit 0 clean, 1 violations, 2 bad input
//! responder plan EVENT.json                   verdicts and remediation plan for an event, no AWS call
//! responder audit [--remediate] [--report FILE.html] [--json FILE.json] [--max-pages N] [--resume MARKER] [--account ID] [--no-resources]
//!                                             judge the account's existing IAM state with the event path's stages
//!                                             (dry-run unless --remediate); the report a person reads first
//! responder undo REPORT.json [--role-arn ARN] [--external-id ID]
//!                                             apply the recorded inverses of a remediation report (uses AWS_ENDPOINT_URL);
//!                                             in a member account, as its undo role (member-template.yaml)
//! ```

use compliance_responder::adapters::iam::AwsIam;
use compliance_responder::adapters::securityhub::AwsSecurityHub;
use compliance_responder::adapters::tags::AwsTags;
use compliance_responder::adapters::{Applied, Ports};
use compliance_responder::plan::Action;
use compliance_responder::policy::{DocumentKind, PolicyDocument};
use compliance_responder::rules;
use serde_json::{json, Value};
use std::process::ExitCode;
use std::sync::Arc;

const USAGE: &str = "usage:
  responder check-policy [--trust] [--aws-managed] FILE...
                                              check policy documents (--trust: role trust policies;
                                              --aws-managed: no customer size quota, as for AWS-managed policies)
  responder plan EVENT.json                   show verdicts and the remediation plan for an event (no AWS call)
  responder audit [--remediate] [--report FILE.html] [--json FILE.json] [--max-pages N] [--resume MARKER] [--account ID] [--no-resources]
                                              judge every user, role and group of the account the credentials
                                              belong to (or of account ID, through MEMBER_ROLE_NAME), as the event path would (same rules, guards, exemptions,
                                              finding ids; settings from the environment and SETTINGS_PARAMETER_PATH);
                                              dry-run unless --remediate; --report writes a self-contained HTML
                                              preview, --json the same data; at most N pages (default 100) of
                                              GetAccountAuthorizationDetails, then resume with the printed marker;
                                              then the region's taggable resources (required-tags; each service's
                                              own list call, at most N pages per kind, through MEMBER_TAGGING_ROLE_NAME
                                              for another account) unless --no-resources
  responder undo REPORT.json [--role-arn ARN] [--external-id ID]
                                              apply the recorded inverse of each applied action, newest first,
                                              with the caller's credentials or as the role given (in a member
                                              account: its compliance-responder-undo role; the functions' roles
                                              are denied the inverses that re-open a risk); then the fixed
                                              findings are SUPPRESSED in Security Hub, so no event fixes them again)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("check-policy") => check_policy(&args[1..]),
        Some("plan") => runtime().block_on(plan(&args[1..])),
        Some("undo") => runtime().block_on(undo(&args[1..])),
        Some("audit") => runtime().block_on(audit(&args[1..])),
        Some("-h") | Some("--help") | Some("help") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn check_policy(args: &[String]) -> ExitCode {
    let trust = args.iter().any(|a| a == "--trust");
    let aws_managed = args.iter().any(|a| a == "--aws-managed");
    let files: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    if files.is_empty()
        || args
            .iter()
            .any(|a| a.starts_with("--") && a != "--trust" && a != "--aws-managed")
    {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    // A bare document may be any permission policy: check against the largest IAM limit.
    let (kind, size_kind) = if trust {
        (DocumentKind::Trust, DocumentKind::Trust)
    } else {
        (DocumentKind::Managed, DocumentKind::InlineRole)
    };
    let registry = rules::registry(&compliance_responder::Config::default());
    let (mut bad_input, mut violations) = (false, false);
    for file in files {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("{file}: cannot read: {e}");
                bad_input = true;
                continue;
            }
        };
        let parsed = if aws_managed {
            PolicyDocument::parse(&text)
        } else {
            PolicyDocument::parse_as(&text, size_kind)
        };
        let doc = match parsed {
            Ok(d) => d,
            Err(e) => {
                eprintln!("{file}: invalid policy document: {e}");
                bad_input = true;
                continue;
            }
        };
        for (meta, found) in rules::check_document(&registry, &doc, kind) {
            for v in found {
                violations = true;
                let statement = doc.statements[v.statement]
                    .sid
                    .clone()
                    .map(Value::from)
                    .unwrap_or(Value::from(v.statement));
                let severity = if v.conditioned {
                    meta.severity.lower()
                } else {
                    meta.severity
                };
                println!(
                    "{}",
                    json!({
                        "file": file,
                        "rule": meta.id,
                        "severity": severity.label(),
                        "statement": statement,
                        "statement_index": v.statement,
                        "matched": v.matched,
                        "conditioned": v.conditioned,
                        "fix": if doc.ambiguities.is_empty() { json!(v.edits) } else { Value::Null },
                        "ambiguous": doc.ambiguities,
                    })
                );
            }
        }
    }
    ExitCode::from(if bad_input {
        2
    } else if violations {
        1
    } else {
        0
    })
}

async fn plan(args: &[String]) -> ExitCode {
    let [file] = args else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{file}: cannot read: {e}");
            return ExitCode::from(2);
        }
    };
    let report = compliance_responder::offline::plan_event(&bytes).await;
    println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    if let Some(e) = &report.input_error {
        eprintln!("{file}: {e}");
        return ExitCode::from(2);
    }
    ExitCode::SUCCESS
}

/// The inverses of the actions a report says were applied, newest first.
fn inverses(report: &Value) -> Result<Vec<Action>, String> {
    let actions = report
        .get("actions")
        .and_then(Value::as_array)
        .ok_or("the report has no \"actions\" list")?;
    let mut out = Vec::new();
    for (i, a) in actions.iter().enumerate() {
        if a.get("result").and_then(Value::as_str) != Some("applied") {
            continue;
        }
        let inverse = a.get("inverse").ok_or(format!("actions[{i}] has no inverse"))?;
        out.push(serde_json::from_value(inverse.clone()).map_err(|e| format!("actions[{i}].inverse: {e}"))?);
    }
    out.reverse();
    Ok(out)
}

/// `undo`'s arguments: the report file, and the role (and ExternalId) to act as.
fn undo_args(args: &[String]) -> Option<(&String, Option<&String>, Option<&String>)> {
    let (mut file, mut role, mut external_id) = (None, None, None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--role-arn" => role = Some(it.next()?),
            "--external-id" => external_id = Some(it.next()?),
            flag if flag.starts_with("--") => return None,
            _ if file.is_none() => file = Some(a),
            _ => return None,
        }
    }
    if external_id.is_some() && role.is_none() {
        return None;
    }
    Some((file?, role, external_id))
}

async fn undo(args: &[String]) -> ExitCode {
    let Some((file, role_arn, external_id)) = undo_args(args) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let report: Value = match std::fs::read(file)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{file}: cannot read the report: {e}");
            return ExitCode::from(2);
        }
    };
    let steps = match inverses(&report) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{file}: {e}");
            return ExitCode::from(2);
        }
    };
    if steps.is_empty() {
        eprintln!("{file}: no applied action to undo");
        return ExitCode::SUCCESS;
    }
    let mut sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    if let Some(role_arn) = role_arn {
        let session = format!("cr-undo-{}", std::process::id());
        let mut provider = aws_config::sts::AssumeRoleProvider::builder(role_arn)
            .session_name(session)
            .configure(&sdk);
        if let Some(id) = external_id {
            provider = provider.external_id(id);
        }
        let credentials = aws_sdk_sts::config::SharedCredentialsProvider::new(provider.build().await);
        sdk = sdk.to_builder().credentials_provider(credentials).build();
    }
    let ports = Ports {
        iam: Arc::new(AwsIam::new(aws_sdk_iam::Client::new(&sdk))),
        tags: Arc::new(AwsTags::from_sdk_config(&sdk)),
        findings: Arc::new(AwsSecurityHub::new(aws_sdk_securityhub::Client::new(&sdk))),
    };
    let mut failed = false;
    for step in steps {
        let result = match ports.apply(&step).await {
            Ok(Applied::Done) => json!("applied"),
            Ok(Applied::AlreadyInPlace) => json!("already-in-place"),
            Err(e) => {
                failed = true;
                json!({"failed": e})
            }
        };
        println!(
            "{}",
            json!({"api_call": step.api_call(), "description": step.describe(), "action": step, "result": result})
        );
        if failed {
            eprintln!("stopping at the first failure; later inverses were not applied");
            break;
        }
    }
    if failed {
        return ExitCode::from(1);
    }
    // A person undid the fix: its findings are suppressed (an exemption), or the next event about
    // the same risk would fix it again.
    let mut unsuppressed = 0;
    for (id, product_arn, region) in fixed_findings(&report) {
        let hub = aws_sdk_securityhub::Client::from_conf(
            aws_sdk_securityhub::config::Builder::from(&sdk)
                .region(aws_config::Region::new(region))
                .build(),
        );
        let note = compliance_responder::adapters::SourceFindingNote {
            id: id.clone(),
            product_arn,
            workflow: compliance_responder::adapters::Workflow::Suppressed,
            text: format!(
                "compliance-responder: the fix was undone by `responder undo` ({file}); SUPPRESSED so that it is not \
                 fixed again (set the workflow status to NEW to let it)"
            )
            .chars()
            .take(512)
            .collect(),
            updated_by: "responder undo".into(),
        };
        use compliance_responder::adapters::FindingsPort;
        let result = match AwsSecurityHub::new(hub).annotate(&note).await {
            Ok(()) => json!("suppressed"),
            Err(e) => {
                unsuppressed += 1;
                json!({"failed": e})
            }
        };
        println!("{}", json!({"finding": id, "workflow": "SUPPRESSED", "result": result}));
    }
    if unsuppressed > 0 {
        eprintln!("undone, but {unsuppressed} finding(s) could not be suppressed: the next event about them may fix them again");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

/// The findings a report says were fixed (`PASSED`): their id, product and region. The id is
/// `<region>/<account>/<rule>/<digest>`; the product is `SECURITY_HUB_PRODUCT_ARN` or the
/// account's default one there.
fn fixed_findings(report: &Value) -> Vec<(String, String, String)> {
    let partition = report
        .to_string()
        .split("\"arn:")
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .unwrap_or("aws")
        .to_string();
    let configured = std::env::var("SECURITY_HUB_PRODUCT_ARN").ok().filter(|p| !p.is_empty());
    let mut out: Vec<(String, String, String)> = report
        .get("findings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|f| f.get("compliance").and_then(Value::as_str) == Some("PASSED"))
        .filter_map(|f| {
            let id = f.get("id")?.as_str()?;
            let mut parts = id.split('/');
            let (region, account) = (parts.next()?, parts.next()?);
            let product = compliance_responder::asff::product_arn(configured.as_deref(), &partition, region, account);
            Some((id.to_string(), product, region.to_string()))
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// `audit`'s options.
#[derive(Default)]
struct AuditArgs {
    remediate: bool,
    html: Option<String>,
    json: Option<String>,
    max_pages: Option<usize>,
    resume: Option<String>,
    /// Another account of the organization, swept through its IAM-rewrite member role.
    account: Option<String>,
    /// IAM only: the region's taggable resources are not swept.
    no_resources: bool,
}

fn audit_args(args: &[String]) -> Option<AuditArgs> {
    let mut out = AuditArgs::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--remediate" => out.remediate = true,
            "--no-resources" => out.no_resources = true,
            "--report" => out.html = Some(it.next()?.clone()),
            "--json" => out.json = Some(it.next()?.clone()),
            "--max-pages" => out.max_pages = Some(it.next()?.parse().ok().filter(|n| *n > 0)?),
            "--resume" => out.resume = Some(it.next()?.clone()),
            "--account" => {
                let a = it.next()?;
                (a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit())).then_some(())?;
                out.account = Some(a.clone());
            }
            _ => return None,
        }
    }
    Some(out)
}

async fn audit(args: &[String]) -> ExitCode {
    let Some(opts) = audit_args(args) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let mut config = match compliance_responder::Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("configuration: {e}");
            return ExitCode::from(2);
        }
    };
    // Dry-run unless asked: the per-rule modes and the kill switch still apply on top.
    config.mode = if opts.remediate {
        compliance_responder::Mode::Remediate
    } else {
        compliance_responder::Mode::DryRun
    };
    let (config, sdk) = match compliance_responder::lambda::with_parameter_settings(config).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("settings: {e}");
            return ExitCode::from(2);
        }
    };
    let sdk = match sdk {
        Some(sdk) => sdk,
        None => compliance_responder::lambda::sdk_loader(&config).load().await,
    };
    let responder = compliance_responder::Responder::from_sdk_config(
        config,
        &[compliance_responder::finding::SourceKind::Audit],
        &sdk,
    );
    let (own, partition, region) = match responder.identity().await {
        Ok(i) => i,
        Err(e) => {
            eprintln!("who am I: {e}");
            return ExitCode::from(1);
        }
    };
    let account = match opts.account {
        Some(a) if a != own && responder.config().member_roles.iam_rewrite.is_none() => {
            eprintln!("--account {a}: another account is swept through its member role: set MEMBER_ROLE_NAME");
            return ExitCode::from(2);
        }
        Some(a) => a,
        None => own,
    };
    let scope = compliance_responder::audit::AuditScope {
        account,
        region,
        partition,
        max_pages: opts.max_pages.unwrap_or(100),
        resume: opts.resume,
        resources: !opts.no_resources,
    };
    let report = match responder.audit(&scope).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("audit: {e}");
            return ExitCode::from(1);
        }
    };
    let written = |path: &Option<String>, bytes: Vec<u8>| -> Result<(), String> {
        match path {
            Some(p) => std::fs::write(p, bytes).map_err(|e| format!("{p}: {e}")),
            None => Ok(()),
        }
    };
    let json = serde_json::to_vec_pretty(&report).unwrap_or_default();
    if let Err(e) = written(&opts.json, json).and_then(|()| written(&opts.html, report.to_html().into_bytes())) {
        eprintln!("{e}");
        return ExitCode::from(1);
    }
    println!(
        "{}",
        json!({
            "account": report.account,
            "mode": report.mode,
            "complete": report.complete,
            "resume_marker": report.resume_marker,
            "summary": report.summary,
            "versions_skipped": report.versions_skipped,
            "keys_skipped": report.keys_skipped,
            "report": opts.html,
            "json": opts.json,
        })
    );
    ExitCode::from(if report.summary.errors > 0 { 1 } else { 0 })
}
