//! The responder: one event in, one report out.
//!
//! 1. envelope → finding (pure; bad input is rejected here with no AWS call); events from accounts
//!    outside `ALLOWED_ACCOUNTS` are dropped; the event's account picks the ports (own, or a
//!    member account's through an assumed role)
//! 2. indirect subjects are expanded (Config ids resolved, a principal under review split into its
//!    policies), then the rules' lookups are read (live state, never the event's copy)
//! 3. rules judge (pure) → verdicts; guards and exemptions withhold fixes that must not be made;
//!    the plan merges the rest; each step gets a gate (dry-run by mode, rule mode or kill switch;
//!    deferred by the write limits; otherwise apply)
//! 4. non-compliant verdicts are posted to Security Hub as FAILED *before* any write; if that post
//!    fails nothing is written (fail closed: no fix without a record)
//! 5. the executor applies the gated plan
//! 6. fixed verdicts are updated to PASSED in Security Hub; GuardDuty's own finding is annotated
//! 7. the report is returned and logged

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

/// Attempts at noting the outcome on GuardDuty's finding (each with the SDK's own retries), 200 ms
/// and 800 ms apart.
const ANNOTATION_ATTEMPTS: u32 = 3;

/// Everything one function needs, built once per process.
pub struct Responder {
    config: Config,
    sources: Vec<SourceKind>,
    rules: Vec<Box<dyn Rule>>,
    ports: Ports,
    limiter: crate::limits::RateLimiter,
    kill_switch: Option<crate::killswitch::KillSwitch>,
    directory: Option<crate::adapters::accounts::Directory>,
}

/// Where one event's work happens.
struct Route {
    /// Reads and writes: the event's account and region.
    ports: Ports,
    /// Where its findings are recorded (same account; [`Responder::record_region`]).
    record: Arc<dyn FindingsPort>,
    record_region: String,
}

/// Reads each of `lookups` not answered yet into `observed`. A failed read leaves its key unknown
/// (nothing acts on it: rules and the planner fail closed) and goes into the report.
async fn read_missing(ports: &Ports, lookups: &BTreeSet<Lookup>, observed: &mut Observed, report: &mut Report) {
    let missing: Vec<&Lookup> = lookups.iter().filter(|l| !observed.has(l)).collect();
    for lookup in missing {
        if let Err(e) = ports.read(lookup, observed).await {
            tracing::warn!(error = %e, ?lookup, "read failed; nothing will act on unknown state");
            report.errors.push(e);
        }
    }
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

    /// The region a finding about `finding` is recorded in: `SECURITY_HUB_REGION` when set;
    /// for IAM (global) one region whatever region reported it (`GLOBAL_FINDINGS_REGION`, by
    /// default the partition's IAM region); otherwise the event's region.
    pub fn record_region(&self, finding: &Finding) -> String {
        if let Some(r) = &self.config.security_hub_region {
            return r.clone();
        }
        if finding.subject.is_global() {
            return self
                .config
                .global_findings_region
                .clone()
                .unwrap_or_else(|| crate::finding::iam_region(&finding.partition).to_string());
        }
        finding.region.clone()
    }

    /// The ports of `account` in `region`.
    async fn ports_in(&self, finding: &Finding, region: &str) -> Result<Ports, crate::error::AwsError> {
        let Some(directory) = &self.directory else {
            return Ok(self.ports.clone());
        };
        Ok(directory
            .ports(
                &finding.account,
                region,
                &finding.partition,
                &finding.event_id,
                finding.subject.capability(),
            )
            .await?
            .unwrap_or_else(|| self.ports.clone()))
    }

    /// The ports a finding's reads and writes use (its account and region).
    pub(crate) async fn route_ports(&self, finding: &Finding) -> Result<Ports, crate::error::AwsError> {
        self.ports_in(finding, &finding.region).await
    }

    /// Where the finding's work happens: reads and writes in its account and region, records in
    /// its account and [`Self::record_region`].
    async fn route(&self, finding: &Finding) -> Result<Route, crate::error::AwsError> {
        let ports = self.ports_in(finding, &finding.region).await?;
        let record_region = self.record_region(finding);
        let record = if record_region == finding.region {
            ports.findings.clone()
        } else {
            self.ports_in(finding, &record_region).await?.findings
        };
        Ok(Route {
            ports,
            record,
            record_region,
        })
    }

    /// Whether the event was caused by the responder itself (its own functions' roles, or the
    /// member roles they assume): its own writes match its own CloudTrail patterns, and must not
    /// re-trigger it.
    fn own_change(&self, finding: &Finding) -> Option<String> {
        if finding.source != SourceKind::CloudTrail {
            return None;
        }
        let (account, role) = finding.actor.assumed_role()?;
        let own = self.config.responder_roles.iter().any(|arn| {
            let parts: Vec<&str> = arn.splitn(6, ':').collect();
            parts.len() == 6
                && (parts[4] == account || parts[4] == "*")
                && parts[5]
                    .rsplit('/')
                    .next()
                    .is_some_and(|n| n.eq_ignore_ascii_case(role))
        }) || self.config.member_roles.names().any(|m| m.eq_ignore_ascii_case(role));
        own.then(|| format!("the change was made by the responder's own role {role} in {account}; its own changes do not re-trigger it"))
    }

    pub fn config(&self) -> &Config {
        &self.config
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
    pub(crate) async fn handle_finding(&self, mut finding: Finding, mut report: Report) -> Report {
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
        Box::pin(self.evaluate_and_fix(&route, &findings, &mut report, seen)).await;
        if let Subject::CredentialCompromise(cf) = &findings[0].subject {
            // GuardDuty's finding is in the event's account and region.
            self.annotate_source(ports, &findings[0], cf, &mut report).await;
        }
        report
    }

    /// Turns subjects that name a resource only indirectly into the subjects rules judge: a Config
    /// resource id becomes a name, a principal under review becomes one subject per policy it has
    /// now. Resources that no longer exist get a not-evaluated verdict; failed reads an error.
    /// What it reads on the way is recorded in `seen`.
    async fn expand(&self, ports: &Ports, finding: Finding, report: &mut Report, seen: &mut Observed) -> Vec<Finding> {
        let with = |subject: Subject| Finding {
            subject,
            ..finding.clone()
        };
        match &finding.subject {
            Subject::ConfigResource {
                resource_type,
                resource_id,
            } => {
                let resolved = if resource_type == ResourceKind::RdsDbInstance.config_type() {
                    ports.tags.find_db_instance(resource_id).await.map(|found| {
                        let (name, tags) = found?;
                        let resource = AwsResource::new(
                            ResourceKind::RdsDbInstance,
                            &name,
                            &finding.partition,
                            &finding.region,
                            &finding.account,
                        )?;
                        // The answer that named the instance carried its tags.
                        seen.tags.insert(resource.arn.clone(), Some(tags));
                        Some(Subject::ResourceTagsCheck { resource })
                    })
                } else {
                    ports.iam.find_by_id(resource_type, resource_id).await.map(|found| {
                        found.map(|name| match resource_type.as_str() {
                            "AWS::IAM::Policy" => Subject::ManagedPolicyChanged {
                                policy_arn: name,
                                document: None,
                            },
                            t => Subject::PrincipalReview {
                                principal: PrincipalRef {
                                    kind: match t {
                                        "AWS::IAM::User" => PrincipalKind::User,
                                        "AWS::IAM::Group" => PrincipalKind::Group,
                                        _ => PrincipalKind::Role,
                                    },
                                    name,
                                },
                            },
                        })
                    })
                };
                match resolved {
                    Ok(Some(subject)) => Box::pin(self.expand(ports, with(subject), report, seen)).await,
                    Ok(None) => {
                        self.gone(
                            &finding,
                            report,
                            format!("{resource_type} {resource_id} no longer exists; nothing to do"),
                        );
                        vec![]
                    }
                    Err(e) => {
                        report.errors.push(e);
                        vec![]
                    }
                }
            }
            Subject::PrincipalReview { principal } => {
                for lookup in [
                    Lookup::Principal(principal.clone()),
                    Lookup::AttachedPolicies(principal.clone()),
                    Lookup::InlinePolicyNames(principal.clone()),
                ] {
                    if let Err(e) = ports.read(&lookup, seen).await {
                        report.errors.push(e);
                        return vec![];
                    }
                }
                let (Known::Present(_), Known::Present(attached), Known::Present(inline)) = (
                    seen.principal(principal),
                    seen.attached(principal),
                    seen.inline_names(principal),
                ) else {
                    self.gone(&finding, report, format!("{principal} no longer exists; nothing to do"));
                    return vec![];
                };
                let mut out: Vec<Finding> = attached
                    .iter()
                    .map(|arn| {
                        with(Subject::PolicyAttached {
                            principal: principal.clone(),
                            policy_arn: arn.clone(),
                        })
                    })
                    .chain(inline.iter().map(|name| {
                        with(Subject::InlinePolicyPut {
                            principal: principal.clone(),
                            policy_name: name.clone(),
                            document: None,
                        })
                    }))
                    .collect();
                if principal.kind == PrincipalKind::Role {
                    out.push(with(Subject::TrustPolicyChanged {
                        role: principal.clone(),
                        document: None,
                    }));
                }
                if out.is_empty() {
                    report.reason = Some(format!("{principal} has no policies; nothing to judge"));
                }
                out
            }
            _ => vec![finding],
        }
    }

    /// Whether `rule` judges `finding`: not when it is off, and Config compliance changes name the
    /// rules that do.
    fn applies(&self, rule: &dyn Rule, finding: &Finding) -> bool {
        self.mode_of(rule.meta().id).is_some()
            && finding
                .only_rules
                .as_ref()
                .is_none_or(|only| only.iter().any(|id| id == rule.meta().id))
    }

    /// Records that the resource an event names is gone: a not-evaluated verdict for each rule the
    /// finding names (nothing is posted or written).
    fn gone(&self, finding: &Finding, report: &mut Report, summary: String) {
        report.reason = Some(summary.clone());
        let Some(only) = &finding.only_rules else { return };
        for rule in self.rules.iter().filter(|r| only.iter().any(|id| id == r.meta().id)) {
            report.verdicts.push(Verdict {
                rule_id: rule.meta().id,
                status: Status::NotEvaluated {
                    kind: SkipKind::ResourceNotFound,
                },
                severity: rule.meta().severity,
                summary: summary.clone(),
                resources: vec![ResourceRef {
                    resource_type: ResourceType::Other,
                    arn: String::new(),
                }],
                key: String::new(),
                matched_statements: vec![],
                matched_actions: vec![],
                remedy: Remedy::None,
                needs_review: None,
            });
        }
    }

    async fn evaluate_and_fix(&self, route: &Route, findings: &[Finding], report: &mut Report, seen: Observed) {
        let finding = &findings[0];
        let ports = &route.ports;
        // Live state, each read once.
        let lookups: BTreeSet<Lookup> = findings
            .iter()
            .flat_map(|f| {
                self.rules
                    .iter()
                    .filter(move |r| self.applies(r.as_ref(), f))
                    .flat_map(move |r| r.lookups(f))
            })
            .collect();
        let mut observed = Observed {
            read_at: Some(chrono::Utc::now()),
            ..seen
        };
        read_missing(ports, &lookups, &mut observed, report).await;
        let followups: BTreeSet<Lookup> = findings
            .iter()
            .flat_map(|f| {
                self.rules
                    .iter()
                    .filter(move |r| self.applies(r.as_ref(), f))
                    .flat_map(|r| r.followup_lookups(f, &observed))
            })
            .collect();
        read_missing(ports, &followups, &mut observed, report).await;

        // Rules that fix, then the plan that merges their edits per document.
        let mut verdicts = self.judge(findings, &observed, false);
        // Protected, allow-listed, foreign and exempt resources keep their finding but lose their
        // fix (before anything is planned).
        self.config.guards.apply(&mut verdicts, &finding.account);
        crate::exemptions::apply(&mut verdicts, &observed, chrono::Utc::now(), &self.config.exempt_tag);
        // A new default version of a customer-managed policy changes every principal it is
        // attached to: read them (only for the policies a fix would rewrite), and withhold the
        // rewrite when one of them must not be changed.
        let rewrites = crate::shared_policies::rewrites(&verdicts, &observed);
        if !rewrites.is_empty() {
            let entities: BTreeSet<Lookup> = rewrites
                .iter()
                .map(|arn| Lookup::PolicyEntities { arn: arn.clone() })
                .collect();
            read_missing(ports, &entities, &mut observed, report).await;
            let principals: BTreeSet<Lookup> = rewrites
                .iter()
                .filter_map(|arn| match observed.policy_entities(arn) {
                    Known::Present(list) => Some(list.clone()),
                    _ => None,
                })
                .flatten()
                .map(Lookup::Principal)
                .collect();
            read_missing(ports, &principals, &mut observed, report).await;
            crate::shared_policies::apply(
                &mut verdicts,
                &observed,
                &self.config.guards,
                &finding.account,
                &self.config.exempt_tag,
                chrono::Utc::now(),
            );
        }
        // A fix that adds a version to a customer-managed policy needs its versions (IAM keeps
        // five): read only now, for the policies a fix will change.
        let versions: BTreeSet<Lookup> = crate::shared_policies::rewrites(&verdicts, &observed)
            .into_iter()
            .map(|arn| Lookup::PolicyVersions { arn })
            .collect();
        read_missing(ports, &versions, &mut observed, report).await;
        let build = |verdicts: &[Verdict]| {
            let remedies: Vec<&Remedy> = verdicts.iter().map(|v| &v.remedy).collect();
            Plan::build(&remedies, &observed)
        };
        let mut plan = build(&verdicts);
        // A finding a person suppressed in Security Hub is an exemption too: read only when the
        // plan has a write to make now, and planned again without what it withholds.
        if self
            .withhold_suppressed(route, finding, &mut verdicts, &plan, report)
            .await
        {
            plan = build(&verdicts);
        }
        // The kill switch is read only when there is something to fix.
        let forced = match (&self.kill_switch, plan.steps.is_empty()) {
            (Some(k), false) => k.engaged().await,
            _ => None,
        };
        if let Some(reason) = &forced {
            tracing::warn!(%reason, "kill switch: fixes are not applied");
        }
        report.kill_switch = forced.clone();
        let gates = self.gates(&plan, &verdicts, forced.is_some());
        let now = chrono::Utc::now();
        let mode = self.config.mode.to_string();
        let mut ctx = asff::Context {
            account: &finding.account,
            region: &route.record_region,
            resource_region: &finding.region,
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
        let judged = verdicts.is_empty()
            || verdicts
                .iter()
                .any(|v| !matches!(v.status, Status::NotEvaluated { .. }));
        let applies_nothing = !gates.contains(&Gate::Apply);
        let main_count = verdicts.len();
        if judged && applies_nothing {
            verdicts.extend(self.judge(findings, &observed, true));
        }

        // Record before acting.
        let first: Vec<AsffFinding> = verdicts
            .iter()
            .enumerate()
            .filter_map(|(i, v)| self.initial_finding(&ctx, v, &plan, &gates, i))
            .collect();
        let errors_before = report.errors.len();
        let mut recorded = post(&route.record, &first, report).await;

        // Containment of an active credential compromise does not wait for Security Hub: when
        // every step serves a rule that contains first, it is applied, then the record retried.
        let contain_first = !plan.steps.is_empty()
            && plan
                .steps
                .iter()
                .all(|s| s.verdicts.iter().all(|&v| !self.meta(&verdicts[v]).record_first));
        report.actions = if recorded {
            executor::execute(&plan, &gates, ports).await
        } else if contain_first {
            report.sequence.push(format!(
                "1. recording the finding in Security Hub failed ({}); containment does not wait for it",
                report.errors.last().map(|e| e.to_string()).unwrap_or_default()
            ));
            let actions = executor::execute(&plan, &gates, ports).await;
            let applied = actions.iter().filter(|a| a.result.succeeded()).count();
            report.sequence.push(format!(
                "2. containment: {applied} of {} action(s) in place",
                actions.len()
            ));
            recorded = post(&route.record, &first, report).await;
            if recorded {
                // The first failure is in the sequence; the event as a whole went through.
                report.errors.truncate(errors_before);
            }
            report.sequence.push(if recorded {
                "3. the finding was recorded on retry".to_string()
            } else {
                "3. the finding is still not recorded: the event fails so that Lambda retries it (the \
                 containment is then found in place and recorded)"
                    .to_string()
            });
            actions
        } else {
            executor::not_attempted(&plan, "the finding could not be recorded in Security Hub first")
        };
        report.unplanned = plan.unplanned.clone();

        // Security Hub ignores an update whose UpdatedAt is not later than the stored finding's:
        // the second batch updates the findings of the first, so it must carry a later time.
        ctx.now = asff::later_than(ctx.now);
        let mut second: Vec<AsffFinding> = Vec::new();
        if !applies_nothing && recorded {
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
            let extra = self.judge(findings, &after, true);
            second.extend(
                extra
                    .iter()
                    .enumerate()
                    .filter_map(|(i, v)| self.initial_finding(&ctx, v, &plan, &gates, main_count + i)),
            );
            verdicts.extend(extra);
        }
        post(&route.record, &second, report).await;
        report.verdicts.extend(verdicts);
    }

    /// Withholds the fix of every verdict whose finding a person suppressed in Security Hub
    /// (workflow status `SUPPRESSED`): read before any write, and only for verdicts the plan has a
    /// write for, their rule in remediate mode. True when it withheld something (the plan is then
    /// built again). When Security Hub
    /// cannot be read, fixes that record first are withheld too (fail closed; the event fails and
    /// is retried), while containment goes on: it never waits for Security Hub.
    async fn withhold_suppressed(
        &self,
        route: &Route,
        finding: &Finding,
        verdicts: &mut [Verdict],
        plan: &Plan,
        report: &mut Report,
    ) -> bool {
        let fixable: Vec<usize> = (0..verdicts.len())
            .filter(|&i| plan.steps.iter().any(|s| s.verdicts.contains(&i)))
            .filter(|&i| self.mode_of(verdicts[i].rule_id) == Some(Mode::Remediate))
            .collect();
        if fixable.is_empty() {
            return false;
        }
        let region = &route.record_region;
        let product = asff::product_arn(
            self.config.security_hub_product_arn.as_deref(),
            &finding.partition,
            region,
            &finding.account,
        );
        let ids: Vec<String> = fixable
            .iter()
            .map(|&i| asff::finding_id_in(region, &finding.account, verdicts[i].rule_id, &verdicts[i].key))
            .collect();
        let withhold = |v: &mut Verdict, reason: String| {
            v.summary = format!("{} — not fixed: {reason}", v.summary);
            v.remedy = Remedy::Manual { reason };
            v.needs_review = None;
        };
        let mut withheld = false;
        match route.record.suppressed(&product, &ids).await {
            Ok(suppressed) => {
                for (&i, id) in fixable.iter().zip(&ids) {
                    if suppressed.contains(id) {
                        withheld = true;
                        tracing::info!(finding = %id, "suppressed in Security Hub: not fixed");
                        withhold(
                            &mut verdicts[i],
                            "the finding is suppressed in Security Hub (workflow status SUPPRESSED): a person decided it is not to be fixed".into(),
                        );
                    }
                }
            }
            Err(e) => {
                for &i in &fixable {
                    if self.meta(&verdicts[i]).record_first {
                        withheld = true;
                        withhold(
                            &mut verdicts[i],
                            "Security Hub could not be read to check whether the finding is suppressed: not fixed now (the event is retried)".into(),
                        );
                    }
                }
                report.errors.push(e);
            }
        }
        withheld
    }

    /// Whether each step of the plan may be applied now: every rule it serves must be in remediate
    /// mode (kill switch and `RULE_MODES` included), and the write limits must allow it. The steps
    /// that change one document ([`crate::plan::Action::changes`]: the version deleted to make
    /// room and the one created) get one gate together, so a limit never splits a fix.
    fn gates(&self, plan: &Plan, verdicts: &[Verdict], forced_dry_run: bool) -> Vec<Gate> {
        let mut writes = 0usize;
        let mut gates: Vec<Option<Gate>> = vec![None; plan.steps.len()];
        for i in 0..plan.steps.len() {
            if gates[i].is_some() {
                continue;
            }
            let key = plan.steps[i].action.changes();
            let group: Vec<usize> = (i..plan.steps.len())
                .filter(|&j| plan.steps[j].action.changes() == key)
                .collect();
            let mut rules: Vec<&'static str> = group
                .iter()
                .flat_map(|&j| plan.steps[j].verdicts.iter().map(|&v| verdicts[v].rule_id))
                .collect();
            rules.sort_unstable();
            rules.dedup();
            let gate = if forced_dry_run || rules.iter().any(|r| self.mode_of(r) != Some(Mode::Remediate)) {
                Gate::DryRun
            } else if writes + group.len() > self.config.max_writes_per_event {
                Gate::Deferred {
                    reason: format!(
                        "this fix needs {} writes and the event may make {} more (MAX_WRITES_PER_EVENT={})",
                        group.len(),
                        self.config.max_writes_per_event - writes,
                        self.config.max_writes_per_event
                    ),
                }
            } else if let Err(reason) = self.limiter.admit_all(&rules, group.len()) {
                Gate::Deferred { reason }
            } else {
                writes += group.len();
                Gate::Apply
            };
            for j in group {
                gates[j] = Some(gate.clone());
            }
        }
        gates.into_iter().map(|g| g.unwrap_or(Gate::DryRun)).collect()
    }

    /// The mode a rule runs in now (`None`: off).
    fn mode_of(&self, rule_id: &str) -> Option<Mode> {
        self.config.mode_of(rule_id)
    }

    /// The verdicts of the rules that fix (`report_only` false) or of the report-only rules, over
    /// every finding, each (rule, resource) once.
    fn judge(&self, findings: &[Finding], observed: &Observed, report_only: bool) -> Vec<Verdict> {
        let mut out: Vec<Verdict> = Vec::new();
        for f in findings {
            for rule in self
                .rules
                .iter()
                .filter(|r| r.meta().report_only == report_only && self.applies(r.as_ref(), f))
            {
                for v in rule.evaluate(f, observed) {
                    if !out.iter().any(|o| o.rule_id == v.rule_id && o.key == v.key) {
                        out.push(v);
                    }
                }
            }
        }
        out
    }

    /// Notes on GuardDuty's own finding in Security Hub what the responder did about it.
    async fn annotate_source(&self, ports: &Ports, finding: &Finding, cf: &CredentialFinding, report: &mut Report) {
        if !self.config.annotate_source_findings {
            return;
        }
        let Some(v) = report
            .verdicts
            .iter()
            .find(|v| v.rule_id == rules::guardduty_credentials::ID && v.status != Status::Compliant)
        else {
            return;
        };
        let actions: Vec<String> = report
            .actions
            .iter()
            .map(|a| format!("{} ({})", a.description, a.result.label()))
            .collect();
        let all_applied = !report.actions.is_empty() && report.actions.iter().all(|a| a.result.succeeded());
        let (workflow, what) = match (&v.status, &v.remedy) {
            (Status::Resolved, _) => (Workflow::Resolved, v.summary.clone()),
            (Status::NonCompliant, Remedy::Manual { reason }) => (Workflow::Notified, format!("report only: {reason}")),
            (Status::NonCompliant, _) if all_applied && v.needs_review.is_none() => {
                (Workflow::Resolved, actions.join("; "))
            }
            (Status::NonCompliant, _)
                if report
                    .actions
                    .iter()
                    .any(|a| a.result == crate::executor::StepResult::DryRun) =>
            {
                (Workflow::Notified, format!("dry-run, would: {}", actions.join("; ")))
            }
            _ => (Workflow::Notified, format!("{}; {}", v.summary, actions.join("; "))),
        };
        let note = SourceFindingNote {
            id: cf.finding_arn.clone(),
            product_arn: format!(
                "arn:{}:securityhub:{}::product/aws/guardduty",
                finding.partition, finding.region
            ),
            workflow,
            text: format!("compliance-responder ({}): {what}", self.config.mode)
                .chars()
                .take(512)
                .collect(),
            updated_by: "compliance-responder".into(),
        };
        // The note is a courtesy to the analyst: the fix is applied and recorded already, so a
        // failure here is a warning with its own retries, never a failed (retried) event.
        let mut result = AnnotationResult::Updated;
        for attempt in 0..ANNOTATION_ATTEMPTS {
            match ports.findings.annotate(&note).await {
                Ok(()) => {
                    result = AnnotationResult::Updated;
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, attempt, "could not update the GuardDuty finding in Security Hub");
                    result = AnnotationResult::Failed { error: e };
                    if attempt + 1 < ANNOTATION_ATTEMPTS {
                        tokio::time::sleep(std::time::Duration::from_millis(200 << (2 * attempt))).await;
                    }
                }
            }
        }
        if let AnnotationResult::Failed { error } = &result {
            report.warnings.push(error.clone());
        }
        report.source_finding = Some(SourceAnnotation { note, result });
    }

    fn meta(&self, v: &Verdict) -> &'static rules::RuleMeta {
        rules::meta_by_id(&self.rules, v.rule_id).expect("verdicts come from registered rules")
    }

    /// The finding posted before any write (and for report-only rules), for verdicts that need one.
    fn initial_finding(
        &self,
        ctx: &asff::Context<'_>,
        v: &Verdict,
        plan: &Plan,
        gates: &[Gate],
        index: usize,
    ) -> Option<AsffFinding> {
        let steps: Vec<_> = plan.steps.iter().filter(|s| s.verdicts.contains(&index)).collect();
        let my_gates: Vec<&Gate> = plan
            .steps
            .iter()
            .zip(gates)
            .filter(|(s, _)| s.verdicts.contains(&index))
            .map(|(_, g)| g)
            .collect();
        let deferred = my_gates.iter().find_map(|g| match g {
            Gate::Deferred { reason } => Some(reason.clone()),
            _ => None,
        });
        let dry_run = my_gates.contains(&&Gate::DryRun);
        let unplanned = plan.unplanned.iter().find(|u| u.verdicts.contains(&index));
        let actions = steps.iter().map(|s| s.action.describe()).collect();
        let inverse = inverse_json(steps.iter().map(|s| &s.inverse));
        let outcome = match (&v.status, &v.remedy) {
            (Status::Resolved, _) => "none: already resolved".to_string(),
            (Status::NonCompliant, Remedy::Manual { reason }) => format!("manual: {reason}"),
            (Status::NonCompliant, Remedy::Edit { .. } | Remedy::Apply { .. }) if unplanned.is_some() => {
                format!("manual: {}", unplanned.map(|u| u.reason.as_str()).unwrap_or_default())
            }
            (Status::NonCompliant, Remedy::Edit { .. } | Remedy::Apply { .. }) if deferred.is_some() => {
                format!("deferred: {}", deferred.unwrap_or_default())
            }
            (Status::NonCompliant, Remedy::Edit { .. } | Remedy::Apply { .. }) if dry_run => "dry-run".into(),
            (Status::NonCompliant, Remedy::Edit { .. } | Remedy::Apply { .. }) => "pending".into(),
            (Status::NonCompliant, Remedy::None) => "none".into(),
            _ => return None,
        };
        let status = if v.status == Status::Resolved {
            ComplianceStatus::Passed
        } else if self.meta(v).accepted_risk {
            ComplianceStatus::Warning
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
}

/// Imports findings through the event's ports: in the account the findings are about (Security
/// Hub takes a default-product finding only from that account). False when they could not be
/// recorded.
async fn post(record: &Arc<dyn FindingsPort>, findings: &[AsffFinding], report: &mut Report) -> bool {
    if findings.is_empty() {
        return true;
    }
    match record.import(findings).await {
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
    if mine
        .iter()
        .all(|o| matches!(o.result, StepResult::DryRun | StepResult::Deferred { .. }))
    {
        return None; // dry-run or deferred: the first finding already says so
    }
    let deferred = mine.iter().find_map(|o| match &o.result {
        StepResult::Deferred { reason } => Some(reason.clone()),
        _ => None,
    });
    let done = !mine.is_empty() && mine.iter().all(|o| o.result.succeeded());
    let outcome = match (done, &v.needs_review, deferred) {
        (_, _, Some(reason)) => format!("deferred: {reason}"),
        (true, None, None) => "applied".to_string(),
        (true, Some(review), None) => format!("partially applied: {review}"),
        (false, _, None) => "failed".to_string(),
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
