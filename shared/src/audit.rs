//! The audit sweep (`responder audit`): an account's existing IAM state, judged by the same stages
//! as an event. The principals come from `GetAccountAuthorizationDetails` (every page, within a
//! page budget); each user, role and group becomes a `PrincipalReview` finding handed to
//! [`Responder::handle_finding`], so the sweep expands, judges, guards (protected, allow-listed,
//! exempt), plans and gates (mode per rule, kill switch, write limits), records and executes
//! exactly as the event path does, with the same deterministic finding ids: an event and the sweep
//! never post two findings for one risk. Dry-run unless the configuration says remediate.
//!
//! Principals are reviewed [`CONCURRENT_REVIEWS`] at a time (the reads wait on the network).
//! Bounded work: at most `max_pages` pages of principals are read in one run; when more remain,
//! the report's `resume_marker` is where `responder audit --resume <marker>` continues (IAM's own
//! pagination marker: nothing is stored by the responder).
//!
//! The report is plain data ([`AuditReport`], written as JSON) and a self-contained HTML page
//! ([`AuditReport::to_html`]: no external asset) that a person reads before enabling remediation:
//! summary counts, then per principal each rule's verdict, the exact change (the document after
//! the fix, and before it when the recorded inverse carries it), the inverse, and why a fix is
//! withheld.

use crate::adapters::PrincipalPage;
use crate::error::AwsError;
use crate::finding::{Actor, Finding, PrincipalKind, PrincipalRef, SourceKind, Subject};
use crate::pipeline::Responder;
use crate::plan::Action;
use crate::report::Report;
use crate::resource::{AwsResource, ResourceKind};
use crate::rules::{SkipKind, Status};
use crate::Mode;
use serde::Serialize;
use std::collections::BTreeMap;

/// What one run of the sweep covers.
#[derive(Debug, Clone)]
pub struct AuditScope {
    pub account: String,
    pub region: String,
    pub partition: String,
    /// Pages of `GetAccountAuthorizationDetails` read at most in this run.
    pub max_pages: usize,
    /// Where a previous run stopped (its `resume_marker`).
    pub resume: Option<String>,
    /// Also sweep the region's taggable resources (each service's own list call, at most
    /// `max_pages` pages per kind), once the IAM part is complete.
    pub resources: bool,
}

/// Counts per rule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RuleCounts {
    pub failed: usize,
    pub fixes: usize,
    pub withheld: usize,
}

/// The counts at the top of the report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AuditSummary {
    pub principals: usize,
    /// Principals with at least one non-compliant verdict.
    pub principals_at_risk: usize,
    /// Customer-managed policies judged on their own (their default version), attached or not.
    pub policies: usize,
    pub policies_at_risk: usize,
    /// Their versions that are not the default, judged as dormant grants.
    pub dormant_versions: usize,
    pub dormant_versions_at_risk: usize,
    /// Non-default versions the responder kept for undo (reported, not judged a dormant grant).
    pub kept_versions: usize,
    /// Users whose access keys were judged (`iam-access-key-unused`), and active keys unused for
    /// too long.
    pub key_users: usize,
    pub access_keys_unused: usize,
    /// Taggable resources of the region judged (`required-tags`).
    pub resources: usize,
    pub resources_at_risk: usize,
    pub verdicts_failed: usize,
    /// Writes planned (dry-run) or made (remediate).
    pub fixes_planned: usize,
    pub fixes_applied: usize,
    /// Non-compliant verdicts without a write: protected, exempt, conditional, manual, deferred.
    pub withheld: usize,
    pub errors: usize,
    /// Findings recorded FAILED whose risk the complete sweep no longer found, set PASSED.
    pub passed: usize,
    pub by_rule: BTreeMap<String, RuleCounts>,
}

/// One principal's part of the sweep: the same report an event gets.
#[derive(Debug, Clone, Serialize)]
pub struct AuditedPrincipal {
    pub principal: PrincipalRef,
    pub report: Report,
}

/// One customer-managed policy's part of the sweep (its default version).
#[derive(Debug, Clone, Serialize)]
pub struct AuditedPolicy {
    pub policy_arn: String,
    pub report: Report,
}

/// One non-default version of a customer-managed policy: a dormant grant, or one the responder
/// kept for undo.
#[derive(Debug, Clone, Serialize)]
pub struct AuditedVersion {
    pub policy_arn: String,
    pub version_id: String,
    pub report: Report,
}

/// One taggable resource's part of the sweep.
#[derive(Debug, Clone, Serialize)]
pub struct AuditedResource {
    pub arn: String,
    pub report: Report,
}

/// The whole sweep.
#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    pub account: String,
    pub region: String,
    pub mode: Mode,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub duration_ms: u64,
    /// Every page was read.
    pub complete: bool,
    /// Where the next run starts (`responder audit --resume`), when pages remain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resume_marker: Option<String>,
    pub pages: usize,
    pub summary: AuditSummary,
    pub principals: Vec<AuditedPrincipal>,
    /// Each user's access keys (judged through the containment capability).
    pub access_keys: Vec<AuditedPrincipal>,
    /// Why no access key was judged, when none was (no containment role for a member account).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys_skipped: Option<String>,
    pub policies: Vec<AuditedPolicy>,
    /// The customer-managed policies' non-default versions.
    pub versions: Vec<AuditedVersion>,
    /// Why no non-default version was judged, when none was (no record store to tell the
    /// responder's kept versions from dormant grants, or it could not be read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub versions_skipped: Option<String>,
    pub resources: Vec<AuditedResource>,
    /// Every page of every kind of resource was read (false when the sweep did not get to them).
    pub resources_complete: bool,
    /// Kinds of resources that could not be listed, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resource_errors: Vec<String>,
    /// Findings recorded FAILED whose risk this complete sweep no longer found: set PASSED.
    pub passed: Vec<String>,
    /// Why no such finding was looked for, when none was (a partial sweep, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passed_skipped: Option<String>,
}

impl Responder {
    /// Sweeps `scope.account`'s users, roles and groups. Listing failures end the sweep with the
    /// error; a principal whose review fails is reported (its report carries the error) and the
    /// sweep goes on.
    pub async fn audit(&self, scope: &AuditScope) -> Result<AuditReport, AwsError> {
        let started = std::time::Instant::now();
        let started_at = chrono::Utc::now();
        let sweep_id = format!("audit-{}", started_at.format("%Y%m%dT%H%M%SZ"));
        let finding = |principal: PrincipalRef| Finding {
            event_id: sweep_id.clone(),
            source: SourceKind::Audit,
            detail_type: "Audit".into(),
            event_name: "Audit".into(),
            account: scope.account.clone(),
            region: scope.region.clone(),
            partition: scope.partition.clone(),
            time: started_at,
            actor: Actor::default(),
            subject: Subject::PrincipalReview { principal },
            only_rules: None,
            also: vec![],
            raw_detail: serde_json::Value::Null,
        };
        // The account's IAM port, as the sweep's findings are routed (a member account through
        // its IAM-rewrite role).
        let probe = finding(PrincipalRef {
            kind: PrincipalKind::User,
            name: String::new(),
        });
        let iam = self.route_ports(&probe).await?.iam;
        let PrincipalPage {
            principals,
            policies,
            versions,
            marker,
            pages,
        } = iam.principals(scope.resume.clone(), scope.max_pages.max(1)).await?;
        // Each review's report, as an event's starts.
        let new_report = || {
            let mut report = Report::empty(self.config().mode);
            report.event_id = Some(sweep_id.clone());
            report.detail_type = Some("Audit".into());
            report.account = Some(scope.account.clone());
            report.region = Some(scope.region.clone());
            report
        };
        let reports = self
            .review_each(principals.iter().map(|p| finding(p.clone())).collect(), &new_report)
            .await;
        let out: Vec<AuditedPrincipal> = principals
            .iter()
            .zip(reports)
            .map(|(principal, report)| AuditedPrincipal {
                principal: principal.clone(),
                report,
            })
            .collect();
        // Each user's access keys, as a finding of their own: a key's status is changed only
        // through the containment capability (in a member account, its containment role).
        let users: Vec<&PrincipalRef> = principals.iter().filter(|p| p.kind == PrincipalKind::User).collect();
        let keys_probe = Finding {
            subject: Subject::UserAccessKeys {
                user: PrincipalRef {
                    kind: PrincipalKind::User,
                    name: String::new(),
                },
            },
            ..probe.clone()
        };
        // Without the capability (a member account, no containment role set) no key is judged,
        // and the report says why; nothing else of the sweep depends on it.
        let keys_skipped = match (users.is_empty(), self.route_ports(&keys_probe).await) {
            (false, Err(e)) => Some(format!("access keys not judged: {e}")),
            _ => None,
        };
        let users = if keys_skipped.is_some() { vec![] } else { users };
        let about = |subject: Subject| Finding {
            subject,
            ..probe.clone()
        };
        let reports = self
            .review_each(
                users
                    .iter()
                    .map(|user| about(Subject::UserAccessKeys { user: (*user).clone() }))
                    .collect(),
                &new_report,
            )
            .await;
        let keys: Vec<AuditedPrincipal> = users
            .iter()
            .zip(reports)
            .map(|(user, report)| AuditedPrincipal {
                principal: (*user).clone(),
                report,
            })
            .collect();
        // Customer-managed policies on their own, attached or not: their default version (the
        // fix: a new default version, withheld when a principal it reaches must not change).
        let reports = self
            .review_each(
                policies
                    .iter()
                    .map(|arn| {
                        about(Subject::ManagedPolicyChanged {
                            policy_arn: arn.clone(),
                            document: None,
                        })
                    })
                    .collect(),
                &new_report,
            )
            .await;
        let reviewed: Vec<AuditedPolicy> = policies
            .iter()
            .zip(reports)
            .map(|(arn, report)| AuditedPolicy {
                policy_arn: arn.clone(),
                report,
            })
            .collect();
        // Their versions that are not the default: dormant grants, judged as the CreatePolicyVersion
        // event that made one would be (the fix deletes it). The responder's own rewrites keep the
        // default they replace as one, for undo: the markers they leave with the undo records
        // (`undo::kept_prefix`) tell those apart by version id and document digest, never by shape.
        let (kept, versions_skipped) = match self.record_store() {
            _ if versions.is_empty() => (Some(crate::undo::KeptIndex::default()), None),
            None => (
                None,
                Some(
                    "UNDO_RECORD_BUCKET is not set: the versions the responder kept for undo cannot be told from \
                     dormant grants, so no non-default version was judged"
                        .to_string(),
                ),
            ),
            Some(store) => match store.list(&crate::undo::kept_prefix(&scope.account)).await {
                Ok(keys) => (Some(crate::undo::KeptIndex::from_keys(&scope.account, &keys)), None),
                Err(e) => (
                    None,
                    Some(format!(
                        "the responder's kept-version markers could not be read ({e}): no non-default version was judged"
                    )),
                ),
            },
        };
        let mut dormant = Vec::new();
        if let Some(kept) = &kept {
            let reports = self
                .review_each(
                    versions
                        .iter()
                        .map(|(arn, version)| {
                            about(Subject::DormantPolicyVersion {
                                policy_arn: arn.clone(),
                                version_id: Some(version.clone()),
                                document: None,
                                kept: kept.digests(arn, version),
                            })
                        })
                        .collect(),
                    &new_report,
                )
                .await;
            dormant = versions
                .iter()
                .zip(reports)
                .map(|((arn, version), report)| AuditedVersion {
                    policy_arn: arn.clone(),
                    version_id: version.clone(),
                    report,
                })
                .collect();
        }
        // The region's taggable resources, once the IAM part is complete (a resumed sweep gets to
        // them in the run that reads IAM's last page).
        let (resources, resources_complete, resource_errors) = if scope.resources && marker.is_none() {
            Box::pin(self.audit_resources(scope, &probe, &new_report)).await
        } else {
            (vec![], false, vec![])
        };
        let mut summary = summarize(&out, &reviewed);
        summary.key_users = keys.len();
        for k in &keys {
            let before = summary.verdicts_failed;
            count(&mut summary, &k.report);
            summary.access_keys_unused += summary.verdicts_failed - before;
        }
        summary.dormant_versions = dormant.len();
        for v in &dormant {
            if count(&mut summary, &v.report) {
                summary.dormant_versions_at_risk += 1;
            }
            if v.report.verdicts.iter().any(is_kept) {
                summary.kept_versions += 1;
            }
        }
        summary.resources = resources.len();
        for r in &resources {
            if count(&mut summary, &r.report) {
                summary.resources_at_risk += 1;
            }
        }
        summary.errors += resource_errors.len();
        // Findings whose risk is gone: only a sweep that saw everything can say so.
        // Each review with what it was about: a principal as `user/name` (its ARN's path is not
        // known when its review failed), a policy or resource by ARN.
        let reviews: Vec<(String, &Report)> = out
            .iter()
            .map(|p| (format!("{}/{}", p.principal.kind.as_str(), p.principal.name), &p.report))
            .chain(keys.iter().map(|k| (format!("user/{}", k.principal.name), &k.report)))
            .chain(reviewed.iter().map(|p| (p.policy_arn.clone(), &p.report)))
            .chain(
                dormant
                    .iter()
                    .map(|v| (format!("{}|{}", v.policy_arn, v.version_id), &v.report)),
            )
            .chain(resources.iter().map(|r| (r.arn.clone(), &r.report)))
            .collect();
        let (passed, passed_skipped) = if scope.resume.is_some() || marker.is_some() {
            (
                vec![],
                Some("the sweep did not read every principal in this run".to_string()),
            )
        } else {
            let swept_resources = scope.resources && resources_complete;
            match Box::pin(self.pass_gone(scope, &probe, &reviews, swept_resources, kept.is_some())).await {
                Ok(ids) => (ids, None),
                Err(e) => {
                    summary.errors += 1;
                    (vec![], Some(format!("findings could not be read or updated: {e}")))
                }
            }
        };
        summary.passed = passed.len();
        Ok(AuditReport {
            account: scope.account.clone(),
            region: scope.region.clone(),
            mode: self.config().mode,
            started_at,
            duration_ms: started.elapsed().as_millis() as u64,
            complete: marker.is_none(),
            resume_marker: marker,
            pages,
            summary,
            principals: out,
            access_keys: keys,
            keys_skipped,
            policies: reviewed,
            versions: dormant,
            versions_skipped,
            resources,
            resources_complete,
            resource_errors,
            passed,
            passed_skipped,
        })
    }

    /// Each finding through [`Responder::handle_finding`], as an event's, [`CONCURRENT_REVIEWS`]
    /// at a time (a review is a handful of sequential reads: the sweep waits on the network, not
    /// the CPU); the settled reports, in order.
    async fn review_each(&self, findings: Vec<Finding>, new_report: &dyn Fn() -> Report) -> Vec<Report> {
        let mut out = Vec::with_capacity(findings.len());
        for batch in findings.chunks(CONCURRENT_REVIEWS) {
            let reviews = batch
                .iter()
                .map(|f| Box::pin(self.handle_finding(f.clone(), new_report())));
            for mut report in join_all(reviews.collect()).await {
                report.settle();
                out.push(report);
            }
        }
        out
    }

    /// After a complete sweep: this product's findings still recorded FAILED whose risk the sweep
    /// no longer found — the principal, policy or resource is gone or now compliant — are set
    /// PASSED. Left alone: findings of rules the sweep does not judge (GuardDuty's, exemption
    /// records) or that are off, dormant policy versions when they were not swept, versions the
    /// responder kept for undo (still a risk), and any finding about something whose review
    /// failed or could not be judged (unknown is not gone). Returns the ids set PASSED.
    async fn pass_gone(
        &self,
        scope: &AuditScope,
        probe: &Finding,
        reviews: &[(String, &Report)],
        swept_resources: bool,
        swept_versions: bool,
    ) -> Result<Vec<String>, AwsError> {
        use crate::rules::{
            iam_access_key_unused, iam_admin_access, iam_open_trust, iam_privilege_escalation, iam_service_wildcard,
            iam_user_direct_policy, required_tags,
        };
        let on = |rule: &str| self.config().mode_of(rule).is_some();
        let iam_rules: Vec<&str> = [
            iam_admin_access::ID,
            iam_service_wildcard::ID,
            iam_privilege_escalation::ID,
            iam_open_trust::ID,
            iam_user_direct_policy::ID,
            iam_access_key_unused::ID,
        ]
        .into_iter()
        .filter(|r| on(r))
        .collect();
        // What the sweep still finds, or could not judge, and what it could not read: never PASSED.
        let mut open: std::collections::BTreeSet<(String, String)> = Default::default();
        let mut unsure: std::collections::BTreeSet<String> = Default::default();
        for (about, r) in reviews {
            let mut doubtful = !r.errors.is_empty();
            for v in &r.verdicts {
                // Gone (not found) and compliant say the risk is gone; unread or unreadable
                // state says nothing.
                let unknown = matches!(
                    v.status,
                    Status::NotEvaluated {
                        kind: SkipKind::StateUnknown | SkipKind::PolicyUnreadable
                    }
                );
                // A kept version is not judged a new risk, but it still grants what it granted.
                if v.status == Status::NonCompliant || unknown || is_kept(v) {
                    open.insert((v.rule_id.to_string(), v.key.clone()));
                }
                doubtful |= unknown;
            }
            if doubtful {
                unsure.insert(about.clone());
                for v in &r.verdicts {
                    if let Some(subject) = key_subject(&v.key) {
                        unsure.insert(subject.to_string());
                    }
                }
            }
        }
        // Whether a finding's subject (an ARN) is one the sweep was unsure of.
        let doubted = |subject: &str| {
            unsure.contains(subject)
                || subject
                    .split_once(":iam::")
                    .and_then(|(_, rest)| rest.split_once(':'))
                    .and_then(|(_, path)| {
                        let kind = path.split('/').next()?;
                        let name = path.rsplit('/').next()?;
                        Some(unsure.contains(&format!("{kind}/{name}")))
                    })
                    .unwrap_or(false)
        };
        let product = crate::asff::product_arn(
            self.config().security_hub_product_arn.as_deref(),
            &scope.partition,
            &self.record_region(probe),
            &scope.account,
        );
        let mut passed = Vec::new();
        let mut places: Vec<(Finding, Vec<&str>)> = vec![(probe.clone(), iam_rules)];
        if swept_resources && on(required_tags::ID) {
            if let Some(resource) = AwsResource::new(
                ResourceKind::SqsQueue,
                "audit",
                &scope.partition,
                &scope.region,
                &scope.account,
            ) {
                let f = Finding {
                    subject: Subject::ResourceTagsCheck { resource },
                    ..probe.clone()
                };
                places.push((f, vec![required_tags::ID]));
            }
        }
        for (place, rules) in places {
            if rules.is_empty() {
                continue;
            }
            let (port, region) = self.record_port(&place).await?;
            let product = if region == self.record_region(probe) {
                product.clone()
            } else {
                crate::asff::product_arn(
                    self.config().security_hub_product_arn.as_deref(),
                    &scope.partition,
                    &region,
                    &scope.account,
                )
            };
            let recorded = port.failed(&product, &scope.account).await?;
            let gone: Vec<String> = recorded
                .into_iter()
                .filter(|f| f.region == region && rules.contains(&f.generator_id.as_str()))
                .filter(|f| {
                    let Some(key) = f.resource_key.as_deref() else {
                        return false;
                    };
                    let Some(subject) = key_subject(key) else { return false };
                    // Resources: this region's only, as the finding's resource says (bucket
                    // ARNs name no region; findings may be recorded in one region for all).
                    // Dormant versions (`policy|v3`): when they were swept.
                    let in_scope = if f.generator_id == required_tags::ID {
                        f.resource_region.as_deref() == Some(scope.region.as_str())
                    } else {
                        swept_versions || !is_dormant_key(key)
                    };
                    in_scope && !open.contains(&(f.generator_id.clone(), key.to_string())) && !doubted(subject)
                })
                .map(|f| f.id)
                .collect();
            if gone.is_empty() {
                continue;
            }
            let why = format!(
                "the complete sweep of account {} at {} no longer found this risk (gone or now compliant)",
                scope.account,
                chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            );
            port.mark_passed(&product, &gone, &why).await?;
            passed.extend(gone);
        }
        Ok(passed)
    }

    /// Every taggable resource of the scope's region, kind by kind, each judged as a
    /// `ResourceTagsCheck` (what an AWS Config compliance change names): through the tagging
    /// capability's ports (a member account's tagging role). A kind that cannot be listed is
    /// reported and the others go on. Returns the reviews, whether every page was read, and the
    /// listing errors.
    async fn audit_resources(
        &self,
        scope: &AuditScope,
        probe: &Finding,
        new_report: &dyn Fn() -> Report,
    ) -> (Vec<AuditedResource>, bool, Vec<String>) {
        let mut out = Vec::new();
        let mut errors = Vec::new();
        let mut complete = true;
        let check = |resource: AwsResource| Finding {
            subject: Subject::ResourceTagsCheck { resource },
            ..probe.clone()
        };
        // Routed as a resource of the region: the tagging capability, the scope's region.
        let Some(sample) = AwsResource::new(
            ResourceKind::SqsQueue,
            "audit",
            &scope.partition,
            &scope.region,
            &scope.account,
        ) else {
            return (out, false, vec![format!("region {} is not a region", scope.region)]);
        };
        let tags = match self.route_ports(&check(sample)).await {
            Ok(ports) => ports.tags,
            Err(e) => return (out, false, vec![format!("resources: {e}")]),
        };
        for kind in ResourceKind::ALL {
            let mut token: Option<String> = None;
            for page in 0.. {
                if page >= scope.max_pages.max(1) {
                    complete = false;
                    break;
                }
                let listed = match tags.list(kind, token.take()).await {
                    Ok(l) => l,
                    Err(e) => {
                        errors.push(format!("{kind:?}: {e}"));
                        complete = false;
                        break;
                    }
                };
                let found: Vec<AwsResource> = listed
                    .names
                    .iter()
                    .filter_map(|n| AwsResource::new(kind, n, &scope.partition, &scope.region, &scope.account))
                    .collect();
                let reports = self
                    .review_each(found.iter().map(|r| check(r.clone())).collect(), new_report)
                    .await;
                out.extend(found.iter().zip(reports).map(|(r, report)| AuditedResource {
                    arn: r.arn.clone(),
                    report,
                }));
                match listed.next {
                    Some(next) => token = Some(next),
                    None => break,
                }
            }
        }
        (out, complete, errors)
    }
}

/// What a verdict key is about: its first part, an ARN (principal, policy or resource).
fn key_subject(key: &str) -> Option<&str> {
    let first = key.split('|').next()?;
    first.starts_with("arn:").then_some(first)
}

/// Whether a review found a risk (or could not be done): what the report shows.
fn at_risk(r: &Report) -> bool {
    r.verdicts.iter().any(|v| v.status == Status::NonCompliant) || !r.errors.is_empty()
}

/// Whether a verdict is about a version the responder kept for undo.
fn is_kept(v: &crate::rules::Verdict) -> bool {
    v.status
        == Status::NotEvaluated {
            kind: SkipKind::KeptForUndo,
        }
}

/// A dormant policy version's key (`<policy arn>|v3`).
fn is_dormant_key(key: &str) -> bool {
    key.split_once('|').is_some_and(|(policy, version)| {
        policy.contains(":policy/") && version.starts_with('v') && version[1..].bytes().all(|b| b.is_ascii_digit())
    })
}

/// Principals reviewed at once.
pub const CONCURRENT_REVIEWS: usize = 8;

/// Runs the futures together; their outputs in order.
async fn join_all<F: std::future::Future + Unpin>(mut futures: Vec<F>) -> Vec<F::Output> {
    use std::task::Poll;
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match std::pin::Pin::new(future).poll(cx) {
                    Poll::Ready(v) => *output = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

fn summarize(principals: &[AuditedPrincipal], policies: &[AuditedPolicy]) -> AuditSummary {
    let mut s = AuditSummary {
        principals: principals.len(),
        policies: policies.len(),
        ..Default::default()
    };
    for p in principals {
        if count(&mut s, &p.report) {
            s.principals_at_risk += 1;
        }
    }
    for p in policies {
        if count(&mut s, &p.report) {
            s.policies_at_risk += 1;
        }
    }
    s
}

/// Adds one review's verdicts and writes to the counts; whether it found a risk.
fn count(s: &mut AuditSummary, r: &Report) -> bool {
    {
        let failed: Vec<usize> = r
            .verdicts
            .iter()
            .enumerate()
            .filter(|(_, v)| v.status == Status::NonCompliant)
            .map(|(i, _)| i)
            .collect();
        s.verdicts_failed += failed.len();
        s.errors += r.errors.len();
        for a in &r.actions {
            if a.result.succeeded() {
                s.fixes_applied += 1;
            } else {
                s.fixes_planned += 1;
            }
        }
        for &i in &failed {
            let v = &r.verdicts[i];
            let counts = s.by_rule.entry(v.rule_id.to_string()).or_default();
            counts.failed += 1;
            if r.actions.iter().any(|a| a.verdicts.contains(&i)) {
                counts.fixes += 1;
            } else {
                counts.withheld += 1;
                s.withheld += 1;
            }
        }
        !failed.is_empty()
    }
}

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A policy document as people read it (pretty JSON; as given when it is not JSON).
fn pretty(document: &str) -> String {
    crate::policy::decode(document)
        .ok()
        .and_then(|d| serde_json::from_str::<serde_json::Value>(&d).ok())
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| document.to_string())
}

/// The document an action writes, if any.
fn written(action: &Action) -> Option<&str> {
    match action {
        Action::PutInlinePolicy { document, .. }
        | Action::CreatePolicyVersion { document, .. }
        | Action::UpdateAssumeRolePolicy { document, .. } => Some(document),
        _ => None,
    }
}

/// A line diff of two texts (longest common subsequence), as HTML lines marked `-`/`+`.
fn diff(before: &str, after: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (before.lines().collect(), after.lines().collect());
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    let mut line = |class: &str, mark: &str, text: &str| {
        out.push_str(&format!("<span class=\"{class}\">{mark} {}</span>\n", esc(text)));
    };
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            line("same", " ", a[i]);
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            line("add", "+", b[j]);
            j += 1;
        } else {
            line("del", "-", a[i]);
            i += 1;
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem;color:#1d1d1f;max-width:1100px}\
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}\
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}\
.counts td{font-size:1.3rem;font-weight:600}.sev-CRITICAL,.sev-HIGH{color:#b00020}.sev-MEDIUM{color:#a15c00}\
pre{background:#f6f8fa;padding:.6rem;overflow-x:auto;font-size:.8rem}.add{color:#116329;background:#dafbe1;display:block}\
.del{color:#82071e;background:#ffebe9;display:block}.same{display:block;color:#57606a}\
.withheld{color:#6e4a00}.principal{margin:1rem 0;padding:.5rem 1rem;border-left:4px solid #b00020}\
.clean{color:#116329}";

impl AuditReport {
    /// The report as one self-contained HTML page (inline style, no script, no external asset).
    pub fn to_html(&self) -> String {
        let s = &self.summary;
        let mode = match self.mode {
            Mode::DryRun => "dry-run: nothing was changed",
            Mode::Remediate => "remediate: the fixes below were applied",
        };
        let mut h = String::new();
        h.push_str("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">");
        h.push_str(&format!(
            "<title>compliance-responder audit {}</title><style>{STYLE}</style></head><body>",
            esc(&self.account)
        ));
        h.push_str(&format!(
            "<h1>compliance-responder audit of account {} ({})</h1><p id=\"mode\">{} at {}; {} page(s) read{}.</p>",
            esc(&self.account),
            esc(&self.region),
            esc(mode),
            esc(&self.started_at.to_rfc3339()),
            self.pages,
            if self.complete {
                String::new()
            } else {
                format!(
                    "; more remain: resume with <code>--resume {}</code>",
                    esc(self.resume_marker.as_deref().unwrap_or_default())
                )
            }
        ));
        h.push_str("<table class=\"counts\" id=\"summary\"><tr><th>principals</th><th>at risk</th><th>violations</th><th>fixes planned</th><th>fixes applied</th><th>withheld</th><th>errors</th></tr>");
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr></table>",
            s.principals,
            s.principals_at_risk,
            s.verdicts_failed,
            s.fixes_planned,
            s.fixes_applied,
            s.withheld,
            s.errors
        ));
        h.push_str(
            "<table id=\"by-rule\"><tr><th>rule</th><th>violations</th><th>with a fix</th><th>withheld</th></tr>",
        );
        for (rule, c) in &s.by_rule {
            h.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(rule),
                c.failed,
                c.fixes,
                c.withheld
            ));
        }
        h.push_str("</table>");
        let principals_at_risk: Vec<&AuditedPrincipal> =
            self.principals.iter().filter(|p| at_risk(&p.report)).collect();
        h.push_str(&format!("<h2>Principals at risk ({})</h2>", principals_at_risk.len()));
        for p in principals_at_risk {
            h.push_str(&principal_html(p));
        }
        let policies_at_risk: Vec<&AuditedPolicy> = self.policies.iter().filter(|p| at_risk(&p.report)).collect();
        if !policies_at_risk.is_empty() {
            h.push_str(&format!(
                "<h2>Customer-managed policies at risk ({})</h2>",
                policies_at_risk.len()
            ));
            for p in policies_at_risk {
                h.push_str(&review_html("policy", &p.policy_arn, &p.report));
            }
        }
        let keys_at_risk: Vec<&AuditedPrincipal> = self.access_keys.iter().filter(|k| at_risk(&k.report)).collect();
        if !keys_at_risk.is_empty() {
            h.push_str(&format!(
                "<h2 id=\"access-keys\">Unused access keys ({})</h2>",
                s.access_keys_unused
            ));
            for k in keys_at_risk {
                h.push_str(&review_html("access-keys", &k.principal.name, &k.report));
            }
        }
        let versions_at_risk: Vec<&AuditedVersion> = self.versions.iter().filter(|v| at_risk(&v.report)).collect();
        if !versions_at_risk.is_empty() {
            h.push_str(&format!(
                "<h2 id=\"dormant\">Dormant policy versions ({}): not the default, in force with one SetDefaultPolicyVersion</h2>",
                versions_at_risk.len()
            ));
            for v in versions_at_risk {
                h.push_str(&review_html(
                    "version",
                    &format!("{} {}", v.version_id, v.policy_arn),
                    &v.report,
                ));
            }
        }
        let kept: Vec<(&AuditedVersion, &crate::rules::Verdict)> = self
            .versions
            .iter()
            .filter_map(|v| v.report.verdicts.iter().find(|x| is_kept(x)).map(|x| (v, x)))
            .collect();
        if !kept.is_empty() {
            h.push_str(&format!(
                "<h2 id=\"kept\">Versions kept for undo ({})</h2><p>The defaults the responder's fixes replaced. They grant nothing until someone makes one the default again; delete each once its fix is accepted.</p><ul>",
                kept.len()
            ));
            for (v, verdict) in kept {
                h.push_str(&format!(
                    "<li><code>{} {}</code> ({}): {}</li>",
                    esc(&v.version_id),
                    esc(&v.policy_arn),
                    esc(verdict.rule_id),
                    esc(&verdict.summary)
                ));
            }
            h.push_str("</ul>");
        }
        if let Some(why) = &self.keys_skipped {
            h.push_str(&format!("<p class=\"withheld\" id=\"keys-skipped\">{}</p>", esc(why)));
        }
        if let Some(why) = &self.versions_skipped {
            h.push_str(&format!(
                "<p class=\"withheld\" id=\"versions-skipped\">Non-default policy versions not judged: {}</p>",
                esc(why)
            ));
        }
        let resources_at_risk: Vec<&AuditedResource> = self.resources.iter().filter(|r| at_risk(&r.report)).collect();
        if !resources_at_risk.is_empty() {
            h.push_str(&format!("<h2>Resources at risk ({})</h2>", resources_at_risk.len()));
            for r in resources_at_risk {
                h.push_str(&review_html("resource", &r.arn, &r.report));
            }
        }
        for e in &self.resource_errors {
            h.push_str(&format!("<p class=\"error\">Resources not listed: {}</p>", esc(e)));
        }
        if !self.passed.is_empty() {
            h.push_str(&format!(
                "<p id=\"passed\">{} finding(s) recorded FAILED whose risk this complete sweep no longer found were set PASSED.</p>",
                self.passed.len()
            ));
        }
        let clean = self.principals.len() - s.principals_at_risk;
        h.push_str(&format!(
            "<h2>Compliant</h2><p class=\"clean\">{clean} principal(s) with no violation; {} of {} customer-managed policies with no violation; {} of {} non-default versions with no violation or kept for undo; {} of {} resources of {}{}.</p></body></html>\n",
            s.policies - s.policies_at_risk,
            s.policies,
            s.dormant_versions - s.dormant_versions_at_risk,
            s.dormant_versions,
            s.resources - s.resources_at_risk,
            s.resources,
            esc(&self.region),
            if self.resources_complete { "" } else { " (not every resource was listed)" }
        ));
        h
    }
}

fn principal_html(p: &AuditedPrincipal) -> String {
    let kind = match p.principal.kind {
        PrincipalKind::User => "user",
        PrincipalKind::Role => "role",
        PrincipalKind::Group => "group",
    };
    review_html(kind, &p.principal.name, &p.report)
}

/// One reviewed principal or policy: its verdicts, changes and what was withheld.
fn review_html(kind: &str, name: &str, r: &Report) -> String {
    let mut h = format!(
        "<div class=\"principal\" data-principal=\"{kind}/{}\"><h3>{kind} {}</h3>",
        esc(name),
        esc(name)
    );
    for e in &r.errors {
        h.push_str(&format!("<p class=\"withheld\">error: {}</p>", esc(&e.to_string())));
    }
    for (i, v) in r.verdicts.iter().enumerate() {
        if v.status != Status::NonCompliant {
            continue;
        }
        let severity = serde_json::to_value(v.severity)
            .ok()
            .and_then(|s| s.as_str().map(str::to_string))
            .unwrap_or_default();
        h.push_str(&format!(
            "<p><b class=\"sev-{0}\">{0}</b> <code>{1}</code> {2}</p>",
            esc(&severity),
            esc(v.rule_id),
            esc(&v.summary)
        ));
        let steps: Vec<_> = r.actions.iter().filter(|a| a.verdicts.contains(&i)).collect();
        if steps.is_empty() {
            let why = r
                .unplanned
                .iter()
                .find(|u| u.verdicts.contains(&i))
                .map(|u| u.reason.clone())
                .or_else(|| v.needs_review.clone())
                .or_else(|| match &v.remedy {
                    crate::plan::Remedy::Manual { reason } => Some(reason.clone()),
                    _ => None,
                })
                .unwrap_or_else(|| "no automatic fix for this verdict".into());
            h.push_str(&format!("<p class=\"withheld\">withheld: {}</p>", esc(&why)));
        }
        for a in steps {
            h.push_str(&format!(
                "<p>{} <code>{}</code>: {}</p>",
                esc(a.result.label()),
                esc(&a.api_call),
                esc(&a.description)
            ));
            match (written(&a.inverse), written(&a.action)) {
                (Some(before), Some(after)) => {
                    h.push_str(&format!(
                        "<pre class=\"diff\">{}</pre>",
                        diff(&pretty(before), &pretty(after))
                    ));
                }
                (None, Some(after)) => {
                    h.push_str(&format!("<pre class=\"after\">{}</pre>", esc(&pretty(after))));
                }
                // A document deleted whole: every line of it goes.
                (Some(before), None) => {
                    h.push_str(&format!("<pre class=\"diff\">{}</pre>", diff(&pretty(before), "")));
                }
                _ => {}
            }
            h.push_str(&format!(
                "<p>inverse (<code>responder undo</code>): {}</p>",
                esc(&a.inverse.describe())
            ));
        }
    }
    h.push_str("</div>");
    h
}

/// Where the scheduled sweep keeps its state, in the record store (`UNDO_RECORD_BUCKET`).
pub const STATE_KEY: &str = "audit/state.json";

/// Where each account's scheduled sweep stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SweepState {
    pub accounts: BTreeMap<String, AccountSweep>,
}

/// One account's scheduled sweep.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct AccountSweep {
    /// When its last sweep reached the end of IAM's pages.
    pub last_complete: Option<chrono::DateTime<chrono::Utc>>,
    /// IAM's marker: the sweep in progress resumes here.
    pub marker: Option<String>,
    pub last_run: Option<chrono::DateTime<chrono::Utc>>,
    /// Why the last run of it failed, if it did (it is tried again next run, from its marker).
    pub last_error: Option<String>,
}

impl SweepState {
    /// Whether `account` is to be swept now: `Some(marker)` (`None`: from the first page) when a
    /// sweep of it is in progress, it was never swept, or its last complete sweep is at least
    /// `interval` old; `None` when it is not due.
    pub fn due(
        &self,
        account: &str,
        now: chrono::DateTime<chrono::Utc>,
        interval: chrono::TimeDelta,
    ) -> Option<Option<String>> {
        let Some(a) = self.accounts.get(account) else {
            return Some(None);
        };
        if a.marker.is_some() {
            return Some(a.marker.clone());
        }
        match a.last_complete {
            Some(t) if now - t < interval => None,
            _ => Some(None),
        }
    }

    /// Records a run of `account` that ended with `result`.
    pub fn record(
        &mut self,
        account: &str,
        now: chrono::DateTime<chrono::Utc>,
        result: Result<Option<String>, String>,
    ) {
        let a = self.accounts.entry(account.to_string()).or_default();
        a.last_run = Some(now);
        match result {
            Ok(None) => {
                a.last_complete = Some(now);
                a.marker = None;
                a.last_error = None;
            }
            Ok(Some(marker)) => {
                a.marker = Some(marker);
                a.last_error = None;
            }
            Err(e) => a.last_error = Some(e),
        }
    }
}

/// One account in a scheduled run.
#[derive(Debug, Clone, Serialize)]
pub struct ScheduledSweep {
    pub account: String,
    /// Continued from where the last run stopped.
    pub resumed: bool,
    pub complete: bool,
    pub pages: usize,
    pub summary: AuditSummary,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What one scheduled run did.
#[derive(Debug, Clone, Serialize)]
pub struct ScheduledAuditReport {
    pub mode: Mode,
    pub sweeps: Vec<ScheduledSweep>,
    /// Swept completely less than `AUDIT_INTERVAL_HOURS` ago.
    pub not_due: Vec<String>,
    /// Not started: the run's time budget was spent (next run).
    pub deferred: Vec<String>,
    pub duration_ms: u64,
}

impl ScheduledAuditReport {
    /// True when an account could not be swept (the invocation fails, so the alarm sees it).
    pub fn failed(&self) -> bool {
        self.sweeps.iter().any(|s| s.error.is_some())
    }
}

impl Responder {
    /// The scheduled sweep (`audit-responder`): each of `accounts` that is due, from where its
    /// last run stopped, at most `AUDIT_MAX_PAGES` pages each, no account started after
    /// `AUDIT_TIME_BUDGET_SECONDS`; the state is written after each account, so a run that is cut
    /// short loses at most that account's progress.
    pub async fn scheduled_audit(
        &self,
        accounts: &[String],
        partition: &str,
        region: &str,
    ) -> Result<ScheduledAuditReport, AwsError> {
        let started = std::time::Instant::now();
        let settings = self.config().audit;
        let store = self.record_store().ok_or_else(|| AwsError {
            service: "s3",
            operation: "GetObject",
            resource: STATE_KEY.into(),
            code: "NoRecordBucket".into(),
            message: "UNDO_RECORD_BUCKET is not set: the scheduled sweep keeps where it stands there".into(),
            retryable: false,
        })?;
        let mut state: SweepState = match store.read(STATE_KEY).await? {
            Some(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                // A sweep only reads and records: starting over is safe.
                tracing::warn!(error = %e, "the sweep state is unreadable: every account starts over");
                SweepState::default()
            }),
            None => SweepState::default(),
        };
        let interval = chrono::TimeDelta::hours(i64::try_from(settings.interval_hours).unwrap_or(i64::MAX / 3_600_000));
        let budget = std::time::Duration::from_secs(settings.time_budget_seconds);
        let mut report = ScheduledAuditReport {
            mode: self.config().mode,
            sweeps: vec![],
            not_due: vec![],
            deferred: vec![],
            duration_ms: 0,
        };
        for account in accounts {
            let now = chrono::Utc::now();
            let Some(marker) = state.due(account, now, interval) else {
                report.not_due.push(account.clone());
                continue;
            };
            if started.elapsed() >= budget {
                report.deferred.push(account.clone());
                continue;
            }
            let scope = AuditScope {
                account: account.clone(),
                region: region.to_string(),
                partition: partition.to_string(),
                max_pages: settings.max_pages,
                resume: marker.clone(),
                resources: true,
            };
            let result = Box::pin(self.audit(&scope)).await;
            let sweep = match &result {
                Ok(r) => ScheduledSweep {
                    account: account.clone(),
                    resumed: marker.is_some(),
                    complete: r.complete,
                    pages: r.pages,
                    summary: r.summary.clone(),
                    error: None,
                },
                Err(e) => ScheduledSweep {
                    account: account.clone(),
                    resumed: marker.is_some(),
                    complete: false,
                    pages: 0,
                    summary: AuditSummary::default(),
                    error: Some(e.to_string()),
                },
            };
            tracing::info!(
                %account,
                complete = sweep.complete,
                principals = sweep.summary.principals,
                at_risk = sweep.summary.principals_at_risk,
                error = sweep.error.as_deref().unwrap_or(""),
                "scheduled sweep"
            );
            state.record(
                account,
                chrono::Utc::now(),
                result.map(|r| r.resume_marker).map_err(|e| e.to_string()),
            );
            report.sweeps.push(sweep);
            store
                .write(STATE_KEY, serde_json::to_vec(&state).unwrap_or_default())
                .await?;
        }
        report.duration_ms = started.elapsed().as_millis() as u64;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::SweepState;

    #[test]
    fn diff_marks_removed_and_added_lines() {
        let d = super::diff("a\nb\nc", "a\nc\nd");
        assert!(d.contains("<span class=\"del\">- b</span>"), "{d}");
        assert!(d.contains("<span class=\"add\">+ d</span>"), "{d}");
        assert!(d.contains("<span class=\"same\">  a</span>"), "{d}");
    }

    #[test]
    fn keys_name_their_subject_and_dormant_versions_are_told_apart() {
        use super::{is_dormant_key, key_subject};
        let role = "arn:aws:iam::123456789012:role/app";
        assert_eq!(key_subject(&format!("{role}|trust")), Some(role));
        assert_eq!(key_subject(&format!("{role}|combined|inline/p")), Some(role));
        assert_eq!(key_subject("arn:aws:s3:::bucket"), Some("arn:aws:s3:::bucket"));
        assert_eq!(key_subject("not-an-arn|x"), None);
        assert!(is_dormant_key("arn:aws:iam::123456789012:policy/P|v3"));
        assert!(!is_dormant_key("arn:aws:iam::123456789012:policy/P"));
        assert!(!is_dormant_key(&format!(
            "{role}|arn:aws:iam::aws:policy/AdministratorAccess"
        )));
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(super::esc("<a href='x'>&"), "&lt;a href=&#39;x&#39;&gt;&amp;");
    }

    #[test]
    fn an_account_is_due_when_new_in_progress_or_its_last_sweep_is_old() {
        let t0: chrono::DateTime<chrono::Utc> = "2026-12-01T00:00:00Z".parse().unwrap();
        let day = chrono::TimeDelta::hours(24);
        let mut s = SweepState::default();
        assert_eq!(s.due("1", t0, day), Some(None));
        s.record("1", t0, Ok(Some("m1".into())));
        assert_eq!(s.due("1", t0, day), Some(Some("m1".into())), "resumes");
        s.record("1", t0, Err("throttled".into()));
        assert_eq!(
            s.due("1", t0, day),
            Some(Some("m1".into())),
            "a failed run keeps its marker"
        );
        s.record("1", t0, Ok(None));
        assert_eq!(s.accounts["1"].last_error, None);
        assert_eq!(s.due("1", t0 + chrono::TimeDelta::hours(23), day), None);
        assert_eq!(s.due("1", t0 + day, day), Some(None), "a new sweep from the first page");
    }
}
