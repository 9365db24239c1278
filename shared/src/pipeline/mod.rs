//! The responder: one finding in, one report out, in stages each path shares.
//!
//! Two entry points: an **event** (`handle_bytes` / `handle_value`: envelope → finding, pure; bad
//! input is rejected with no AWS call; events from accounts outside `ALLOWED_ACCOUNTS` dropped) and
//! the **audit sweep** (`crate::audit`: one `PrincipalReview` finding per principal). Both hand
//! the finding to [`Responder::handle_finding`], which runs the stages:
//!
//! 1. [`route`]: the responder's own changes dropped; the account and region pick the ports (own,
//!    or a member account's through the member role of the fix's capability)
//! 2. [`expand`]: indirect subjects expanded (Config ids resolved, a principal under review split
//!    into its policies), then the rules' lookups read (live state, never the event's copy)
//! 3. [`judge`]: rules judge (pure) → verdicts
//! 4. [`fix`]: guards, exemptions and Security Hub suppressions withhold fixes that must not be
//!    made; the plan merges the rest; each step gets a gate (dry-run by mode, rule mode or kill
//!    switch; deferred by the write limits; otherwise apply); non-compliant verdicts are posted as
//!    FAILED *before* any write (no fix without a record); the executor applies the gated plan;
//!    fixed verdicts are updated to PASSED
//! 5. [`record`]: the findings' contents and their import; GuardDuty's own finding annotated
//! 6. the report is returned and logged ([`finish`])

mod expand;
mod fix;
mod hub;
mod judge;
mod record;
mod route;

use crate::adapters::{FindingsPort, IamPort, Ports, SourceFindingNote, TagPort, Workflow};
use crate::asff::{self, AsffFinding, ComplianceStatus, Handling};
use crate::config::{Config, Mode};
use crate::envelope::Envelope;
use crate::executor::{self, ActionOutcome, Gate, StepResult};
use crate::finding::{CredentialFinding, Finding, PrincipalKind, PrincipalRef, SourceKind, Subject};
use crate::plan::{Plan, Remedy};
use crate::report::{AnnotationResult, PostedFinding, Report, SourceAnnotation};
use crate::resource::{AwsResource, ResourceKind};
use crate::rules::{self, ResourceRef, ResourceType, Rule, SkipKind, Status, Verdict};
use crate::sources;
use crate::state::{Known, Lookup, Observed};
use std::collections::BTreeSet;
use std::sync::Arc;
use tracing::Instrument;

/// Everything one function needs, built once per process.
pub struct Responder {
    config: Config,
    sources: Vec<SourceKind>,
    rules: Vec<Box<dyn Rule>>,
    ports: Ports,
    limiter: crate::limits::RateLimiter,
    kill_switch: Option<crate::killswitch::KillSwitch>,
    directory: Option<crate::adapters::accounts::Directory>,
    /// Where applied fixes' inverses are recorded (`UNDO_RECORD_BUCKET`).
    records: Option<Arc<dyn crate::adapters::RecordPort>>,
}

/// Who decides whether a fix is applied.
#[derive(Debug, Clone, Default)]
pub(crate) enum Decision {
    /// The configured modes (`MODE`, `RULE_MODES`): every event and the sweep.
    #[default]
    Modes,
    /// A person chose "Remediate" on these findings (ids) in Security Hub: their fixes are
    /// applied whatever the rule's mode; every other verdict of the subject is left out. The kill
    /// switch, guards, exemptions, suppressions and limits still apply.
    Approved(BTreeSet<String>),
    /// Judge and record, fix nothing (after a person's "Undo").
    RecordOnly,
}

/// Where one event's work happens.
struct Route {
    /// Reads and writes: the event's account and region.
    ports: Ports,
    /// Where its findings are recorded (same account; [`Responder::record_region`]).
    record: Arc<dyn FindingsPort>,
    record_region: String,
}

impl Responder {
    /// A responder for `sources` with every registered rule.
    pub fn new(
        config: Config,
        sources: &[SourceKind],
        iam: Arc<dyn IamPort>,
        tags: Arc<dyn TagPort>,
        findings: Arc<dyn FindingsPort>,
    ) -> Self {
        Responder {
            rules: rules::registry(&config),
            limiter: crate::limits::RateLimiter::new(
                config.max_writes_per_rule,
                std::time::Duration::from_secs(config.rate_window_seconds),
            ),
            kill_switch: None,
            directory: None,
            records: None,
            config,
            sources: sources.to_vec(),
            ports: Ports { iam, tags, findings },
        }
    }

    /// A responder over the real AWS SDK clients built from `sdk` (which honours
    /// `AWS_ENDPOINT_URL`), in `sdk`'s region. The IAM and Security Hub clients are built here, at
    /// start-up (every event that reaches a rule needs them); the tag clients (one per service)
    /// and the SSM client are built the first time they are used; the clients of other regions
    /// and accounts the first time an event needs them. None is ever built per event.
    pub fn from_sdk_config(config: Config, sources: &[SourceKind], sdk: &aws_config::SdkConfig) -> Self {
        let iam = aws_sdk_iam::Client::new(sdk);
        let hub = aws_sdk_securityhub::Client::new(sdk);
        Self::new(
            config,
            sources,
            Arc::new(crate::adapters::iam::AwsIam::new(iam).with_config_service(aws_sdk_config::Client::new(sdk))),
            Arc::new(crate::adapters::tags::AwsTags::from_sdk_config(sdk)),
            Arc::new(crate::adapters::securityhub::AwsSecurityHub::new(hub)),
        )
        .with_kill_switch(Arc::new(crate::adapters::AwsSsm::new(sdk)))
        .with_directory(sdk)
        .with_records_in(sdk)
    }

    /// Records every applied fix's inverse through `port` (see [`crate::undo`]).
    pub fn with_records(mut self, port: Arc<dyn crate::adapters::RecordPort>) -> Self {
        self.records = Some(port);
        self
    }

    /// Records in `UNDO_RECORD_BUCKET`, when set, with the function's own credentials.
    fn with_records_in(self, sdk: &aws_config::SdkConfig) -> Self {
        match self.config.undo_record_bucket.clone() {
            Some(bucket) => self.with_records(Arc::new(crate::adapters::records::S3Records::new(sdk, &bucket))),
            None => self,
        }
    }

    /// Reads the kill switch (`KILL_SWITCH_PARAMETER`, when set) through `port`.
    pub fn with_kill_switch(mut self, port: Arc<dyn crate::adapters::SwitchPort>) -> Self {
        self.kill_switch = self.config.kill_switch_parameter.clone().map(|name| {
            crate::killswitch::KillSwitch::new(
                name,
                std::time::Duration::from_secs(self.config.kill_switch_ttl_seconds),
                port,
            )
        });
        self
    }

    /// Reads, fixes and records each event in its own account and region: other regions with
    /// clients of that region, other accounts through the member role of the fix's capability
    /// (`MEMBER_ROLE_NAME`, `MEMBER_TAGGING_ROLE_NAME`, `MEMBER_CONTAINMENT_ROLE_NAME`, when
    /// set), assumed with credentials from `sdk`.
    pub fn with_directory(mut self, sdk: &aws_config::SdkConfig) -> Self {
        self.directory = Some(crate::adapters::accounts::Directory::new(
            sdk.clone(),
            self.config.member_roles.clone(),
            self.config.member_external_id.clone(),
        ));
        self
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The record store (`UNDO_RECORD_BUCKET`), when set.
    pub(crate) fn record_store(&self) -> Option<&Arc<dyn crate::adapters::RecordPort>> {
        self.records.as_ref()
    }

    /// The account, partition and region the responder runs in (`GetCallerIdentity`).
    pub async fn identity(&self) -> Result<(String, String, String), crate::error::AwsError> {
        match &self.directory {
            Some(d) => d.identity().await,
            None => Err(crate::error::AwsError {
                service: "sts",
                operation: "GetCallerIdentity",
                resource: "caller".into(),
                code: "NoSdk".into(),
                message: "a responder without SDK clients has no identity".into(),
                retryable: false,
            }),
        }
    }

    /// Whether this responder takes `kind`'s events (the audit function: scheduled sweeps).
    pub fn accepts(&self, kind: SourceKind) -> bool {
        self.sources.contains(&kind)
    }

    /// Handles raw bytes (malformed JSON is reported, not raised).
    pub async fn handle_bytes(&self, bytes: &[u8]) -> Report {
        let started = std::time::Instant::now();
        let report = match Envelope::from_slice(bytes) {
            Ok(env) => Box::pin(self.handle_envelope(env)).await,
            Err(e) => self.rejected(e),
        };
        finish(report, started)
    }

    /// Handles a JSON value, as the Lambda runtime delivers it.
    pub async fn handle_value(&self, value: serde_json::Value) -> Report {
        let started = std::time::Instant::now();
        let report = match Envelope::from_value(value) {
            Ok(env) => Box::pin(self.handle_envelope(env)).await,
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
            if !self.config.allowed_accounts.is_empty() && !self.config.allowed_accounts.contains(&env.account) {
                tracing::warn!(account = %env.account, "event from an account outside ALLOWED_ACCOUNTS dropped");
                report.reason = Some(format!(
                    "account {} is not in ALLOWED_ACCOUNTS; the event was dropped",
                    env.account
                ));
                return report;
            }
            if self.sources.contains(&SourceKind::HubAction) && sources::securityhub::recognizes(&env) {
                return Box::pin(self.hub_action(&env, report)).await;
            }
            let finding = match sources::normalize(&env, &self.sources, &self.config.config_rule_map) {
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
            Box::pin(self.handle_finding(finding, report)).await
        }
        .instrument(span)
        .await
    }

    /// The stages after an event is normalized, shared with the audit sweep (`audit.rs`): drop
    /// the responder's own changes, route to the account and region, expand the subject, judge,
    /// guard, plan and gate, record, execute, and note GuardDuty's finding.
    pub(crate) fn handle_finding(
        &self,
        finding: Finding,
        report: Report,
    ) -> impl std::future::Future<Output = Report> + Send + '_ {
        // Not an `async fn` around `handle_decided`: one poll frame fewer on the way down (debug
        // builds run the tests on 2 MB thread stacks).
        static MODES: Decision = Decision::Modes;
        self.handle_decided(finding, report, &MODES)
    }

    /// [`Self::handle_finding`] with who decides whether fixes are applied.
    pub(crate) async fn handle_decided(&self, mut finding: Finding, mut report: Report, decision: &Decision) -> Report {
        if let Some(reason) = self.own_change(&finding) {
            tracing::info!(%reason, "own change dropped");
            report.reason = Some(reason);
            return report;
        }
        let route = match Box::pin(self.route(&finding)).await {
            Ok(p) => p,
            Err(e) => {
                report.errors.push(e);
                return report;
            }
        };
        // What expanding the subject read is kept: the rules' lookups are not read twice.
        let mut seen = Observed::default();
        let also = std::mem::take(&mut finding.also);
        let ports = &route.ports;
        let mut findings = Box::pin(self.expand(ports, finding.clone(), &mut report, &mut seen)).await;
        for subject in also {
            let more = Finding {
                subject,
                ..finding.clone()
            };
            findings.extend(Box::pin(self.expand(ports, more, &mut report, &mut seen)).await);
        }
        if findings.is_empty() {
            return report;
        }
        // Boxed: the judging, planning and executing state is large (debug builds run tests
        // on 2 MB thread stacks); one allocation per event keeps it off the stack.
        Box::pin(self.evaluate_and_fix(&route, &findings, &mut report, seen, decision)).await;
        if let Subject::CredentialCompromise(cf) = &findings[0].subject {
            // GuardDuty's finding is in the event's account and region.
            self.annotate_source(ports, &findings[0], cf, &mut report).await;
        }
        report
    }
}

fn finish(mut report: Report, started: std::time::Instant) -> Report {
    report.duration_ms = started.elapsed().as_millis() as u64;
    report.settle();
    let json = serde_json::to_string(&report).unwrap_or_default();
    for v in &report.verdicts {
        let status = serde_json::to_value(&v.status).unwrap_or_default();
        tracing::info!(
            event_id = report.event_id.as_deref().unwrap_or(""),
            rule = v.rule_id,
            resource = v.resources.first().map(|r| r.arn.as_str()).unwrap_or(""),
            verdict = status["status"].as_str().unwrap_or(""),
            severity = v.severity.label(),
            "verdict"
        );
    }
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
