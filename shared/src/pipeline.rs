//! The responder: one event in, one report out.
//!
//! 1. envelope → finding (pure; bad input is rejected here with no AWS call)
//! 2. the rules' lookups are read from IAM (live state, never the event's copy)
//! 3. rules judge (pure) → verdicts → plan (pure)
//! 4. non-compliant verdicts are posted to Security Hub as FAILED *before* any write; if that post
//!    fails nothing is written (fail closed: no fix without a record)
//! 5. the executor applies the plan (or, in dry-run, only reports it)
//! 6. fixed verdicts are updated to PASSED in Security Hub
//! 7. the report is returned and logged

use crate::adapters::{FindingsPort, IamPort};
use crate::asff::{self, AsffFinding, ComplianceStatus, Handling};
use crate::config::{Config, Mode};
use crate::envelope::Envelope;
use crate::executor::{self, ActionOutcome};
use crate::finding::{Finding, SourceKind, Subject};
use crate::plan::{Plan, Remedy};
use crate::report::{PostedFinding, Report};
use crate::rules::{self, Rule, Status, Verdict};
use crate::sources;
use crate::state::{Lookup, Observed};
use std::collections::BTreeSet;
use std::sync::Arc;
use tracing::Instrument;

/// Everything one function needs, built once per process.
pub struct Responder {
    config: Config,
    sources: Vec<SourceKind>,
    rules: Vec<Box<dyn Rule>>,
    iam: Arc<dyn IamPort>,
    findings: Arc<dyn FindingsPort>,
}

impl Responder {
    /// A responder for `sources` with every registered rule.
    pub fn new(config: Config, sources: &[SourceKind], iam: Arc<dyn IamPort>, findings: Arc<dyn FindingsPort>) -> Self {
        Responder {
            config,
            sources: sources.to_vec(),
            rules: rules::registry(),
            iam,
            findings,
        }
    }

    /// A responder over the real AWS SDK clients built from `sdk` (which honours
    /// `AWS_ENDPOINT_URL`). Security Hub goes to `SECURITY_HUB_REGION` when set.
    pub fn from_sdk_config(config: Config, sources: &[SourceKind], sdk: &aws_config::SdkConfig) -> Self {
        let iam = aws_sdk_iam::Client::new(sdk);
        let mut hub = aws_sdk_securityhub::config::Builder::from(sdk);
        if let Some(region) = &config.security_hub_region {
            hub = hub.region(aws_sdk_securityhub::config::Region::new(region.clone()));
        }
        let hub = aws_sdk_securityhub::Client::from_conf(hub.build());
        Self::new(
            config,
            sources,
            Arc::new(crate::adapters::iam::AwsIam::new(iam)),
            Arc::new(crate::adapters::securityhub::AwsSecurityHub::new(hub)),
        )
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Handles raw bytes (malformed JSON is reported, not raised).
    pub async fn handle_bytes(&self, bytes: &[u8]) -> Report {
        let started = std::time::Instant::now();
        let report = match Envelope::from_slice(bytes) {
            Ok(env) => self.handle_envelope(env).await,
            Err(e) => self.rejected(e),
        };
        finish(report, started)
    }

    /// Handles a JSON value, as the Lambda runtime delivers it.
    pub async fn handle_value(&self, value: serde_json::Value) -> Report {
        let started = std::time::Instant::now();
        let report = match Envelope::from_value(value) {
            Ok(env) => self.handle_envelope(env).await,
            Err(e) => self.rejected(e),
        };
        finish(report, started)
    }

    fn rejected(&self, e: crate::error::InputError) -> Report {
        let mut r = Report::empty(self.config.mode);
        r.input_error = Some(e);
        r
    }

    async fn handle_envelope(&self, env: Envelope) -> Report {
        let span = tracing::info_span!("event", event_id = %env.id, detail_type = %env.detail_type);
        async move {
            let mut report = Report::empty(self.config.mode);
            report.event_id = Some(env.id.clone());
            report.detail_type = Some(env.detail_type.clone());
            report.account = Some(env.account.clone());
            report.region = Some(env.region.clone());
            let finding = match sources::normalize(&env, &self.sources) {
                Ok(f) => f,
                Err(e) => {
                    report.input_error = Some(e);
                    return report;
                }
            };
            report.event_name = Some(finding.event_name.clone());
            report.actor = Some(finding.actor.clone());
            if let Subject::Unhandled { reason } = &finding.subject {
                report.reason = Some(reason.clone());
                return report;
            }
            self.evaluate_and_fix(&finding, &mut report).await;
            report
        }
        .instrument(span)
        .await
    }

    async fn evaluate_and_fix(&self, finding: &Finding, report: &mut Report) {
        // Live state, each read once.
        let lookups: BTreeSet<Lookup> = self.rules.iter().flat_map(|r| r.lookups(finding)).collect();
        let mut observed = Observed::default();
        for lookup in &lookups {
            if let Err(e) = self.iam.read(lookup, &mut observed).await {
                tracing::warn!(error = %e, ?lookup, "read failed; rules will not act on unknown state");
                report.errors.push(e);
            }
        }

        // Rules that fix, then the plan that merges their edits per document.
        let mut verdicts: Vec<Verdict> = self
            .rules
            .iter()
            .filter(|r| !r.meta().report_only)
            .flat_map(|r| r.evaluate(finding, &observed))
            .collect();
        let remedies: Vec<&Remedy> = verdicts.iter().map(|v| &v.remedy).collect();
        let plan = Plan::build(&remedies, &observed);
        let now = chrono::Utc::now();
        let mode = self.config.mode.to_string();
        let ctx = asff::Context {
            account: &finding.account,
            region: &finding.region,
            partition: &finding.partition,
            product_arn: self.config.security_hub_product_arn.as_deref(),
            event_id: &finding.event_id,
            event_name: &finding.event_name,
            event_time: finding.time,
            actor: finding.actor.arn.as_deref(),
            mode: &mode,
            now,
        };

        // Report-only rules judge the state as it is once the fixes are in. When nothing will be
        // applied (dry-run, or nothing to fix) that is the state just read, and their findings go
        // out with the first batch; otherwise they are judged after the executor.
        // Only when the event itself could be judged: a stale or broken event writes nothing.
        let judged = verdicts
            .iter()
            .any(|v| !matches!(v.status, Status::NotEvaluated { .. }));
        let applies_nothing = self.config.mode == Mode::DryRun || plan.steps.is_empty();
        let main_count = verdicts.len();
        if judged && applies_nothing {
            verdicts.extend(self.report_only_verdicts(finding, &observed));
        }

        // Record before acting.
        let first: Vec<AsffFinding> = verdicts
            .iter()
            .enumerate()
            .filter_map(|(i, v)| self.initial_finding(&ctx, v, &plan, i))
            .collect();
        let recorded = self.post(&first, report).await;

        report.actions = if recorded {
            executor::execute(&plan, self.config.mode, self.iam.as_ref()).await
        } else {
            executor::not_attempted(&plan, "the finding could not be recorded in Security Hub first")
        };
        report.unplanned = plan.unplanned.clone();

        let mut second: Vec<AsffFinding> = Vec::new();
        if self.config.mode == Mode::Remediate && recorded {
            second.extend(
                verdicts
                    .iter()
                    .enumerate()
                    .filter_map(|(i, v)| final_finding(&ctx, self.meta(v), v, i, &report.actions, &plan)),
            );
        }
        if judged && !applies_nothing {
            let all_applied = report.actions.iter().all(|a| a.result.succeeded());
            let after = if all_applied { observed.project(&plan) } else { observed };
            let extra = self.report_only_verdicts(finding, &after);
            second.extend(
                extra
                    .iter()
                    .enumerate()
                    .filter_map(|(i, v)| self.initial_finding(&ctx, v, &plan, main_count + i)),
            );
            verdicts.extend(extra);
        }
        self.post(&second, report).await;
        report.verdicts = verdicts;
    }

    fn report_only_verdicts(&self, finding: &Finding, observed: &Observed) -> Vec<Verdict> {
        self.rules
            .iter()
            .filter(|r| r.meta().report_only)
            .flat_map(|r| r.evaluate(finding, observed))
            .collect()
    }

    fn meta(&self, v: &Verdict) -> &'static rules::RuleMeta {
        rules::meta_by_id(&self.rules, v.rule_id).expect("verdicts come from registered rules")
    }

    /// The finding posted before any write (and for report-only rules), for verdicts that need one.
    fn initial_finding(&self, ctx: &asff::Context<'_>, v: &Verdict, plan: &Plan, index: usize) -> Option<AsffFinding> {
        let steps: Vec<_> = plan.steps.iter().filter(|s| s.verdicts.contains(&index)).collect();
        let unplanned = plan.unplanned.iter().find(|u| u.verdicts.contains(&index));
        let actions = steps.iter().map(|s| s.action.describe()).collect();
        let inverse = inverse_json(steps.iter().map(|s| &s.inverse));
        let outcome = match (&v.status, &v.remedy) {
            (Status::Resolved, _) => "none: already resolved".to_string(),
            (Status::NonCompliant, Remedy::Manual { reason }) => format!("manual: {reason}"),
            (Status::NonCompliant, Remedy::Edit { .. }) if unplanned.is_some() => {
                format!("manual: {}", unplanned.map(|u| u.reason.as_str()).unwrap_or_default())
            }
            (Status::NonCompliant, Remedy::Edit { .. }) if self.config.mode == Mode::DryRun => "dry-run".into(),
            (Status::NonCompliant, Remedy::Edit { .. }) => "pending".into(),
            (Status::NonCompliant, Remedy::None) => "none".into(),
            _ => return None,
        };
        let status = if v.status == Status::Resolved {
            ComplianceStatus::Passed
        } else {
            ComplianceStatus::Failed
        };
        let handling = Handling {
            outcome,
            actions,
            inverse,
        };
        Some(asff::build(ctx, self.meta(v), v, status, &handling))
    }

    /// Posts findings; returns false (and records the error) when Security Hub refused them.
    async fn post(&self, findings: &[AsffFinding], report: &mut Report) -> bool {
        if findings.is_empty() {
            return true;
        }
        match self.findings.import(findings).await {
            Ok(()) => {
                for f in findings {
                    tracing::info!(finding_id = %f.id, rule = %f.generator_id, compliance = f.compliance_status.as_str(), "finding posted");
                    report.findings.push(PostedFinding {
                        id: f.id.clone(),
                        rule_id: f.generator_id.clone(),
                        compliance: f.compliance_status,
                    });
                }
                true
            }
            Err(e) => {
                tracing::error!(error = %e, "could not post findings to Security Hub");
                report.errors.push(e);
                false
            }
        }
    }
}

fn inverse_json<'a>(inverses: impl Iterator<Item = &'a crate::plan::Action>) -> Option<String> {
    let list: Vec<&crate::plan::Action> = inverses.collect();
    if list.is_empty() {
        None
    } else {
        serde_json::to_string(&list).ok()
    }
}

/// The finding after the executor ran, for verdicts the plan had steps for.
fn final_finding(
    ctx: &asff::Context<'_>,
    meta: &rules::RuleMeta,
    v: &Verdict,
    index: usize,
    outcomes: &[ActionOutcome],
    plan: &Plan,
) -> Option<AsffFinding> {
    if v.status != Status::NonCompliant || !plan.steps.iter().any(|s| s.verdicts.contains(&index)) {
        return None;
    }
    let mine: Vec<&ActionOutcome> = outcomes.iter().filter(|o| o.verdicts.contains(&index)).collect();
    let done = !mine.is_empty() && mine.iter().all(|o| o.result.succeeded());
    let outcome = match (done, &v.needs_review) {
        (true, None) => "applied".to_string(),
        (true, Some(review)) => format!("partially applied: {review}"),
        (false, _) => "failed".to_string(),
    };
    let handling = Handling {
        outcome,
        actions: mine
            .iter()
            .map(|o| format!("{} ({})", o.description, o.result.label()))
            .collect(),
        inverse: inverse_json(mine.iter().filter(|o| o.result.succeeded()).map(|o| &o.inverse)),
    };
    let status = if done && v.needs_review.is_none() {
        ComplianceStatus::Passed
    } else {
        ComplianceStatus::Failed
    };
    Some(asff::build(ctx, meta, v, status, &handling))
}

fn finish(mut report: Report, started: std::time::Instant) -> Report {
    report.duration_ms = started.elapsed().as_millis() as u64;
    report.settle();
    let json = serde_json::to_string(&report).unwrap_or_default();
    tracing::info!(
        event_id = report.event_id.as_deref().unwrap_or(""),
        status = ?report.status,
        mode = %report.mode,
        verdicts = report.verdicts.len(),
        actions = report.actions.len(),
        duration_ms = report.duration_ms,
        report = %json,
        "event handled"
    );
    report
}
