//! Stage: record. The Security Hub findings before and after the fixes, their import through the
//! finding's account, and the note on GuardDuty's own finding.

use super::*;

/// Attempts at noting the outcome on GuardDuty's finding (each with the SDK's own retries), 200 ms
/// and 800 ms apart.
const ANNOTATION_ATTEMPTS: u32 = 3;

impl Responder {
    /// Notes on GuardDuty's own finding in Security Hub what the responder did about it.
    pub(super) async fn annotate_source(
        &self,
        ports: &Ports,
        finding: &Finding,
        cf: &CredentialFinding,
        report: &mut Report,
    ) {
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

    /// The finding posted before any write (and for report-only rules), for verdicts that need one.
    pub(super) fn initial_finding(
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
pub(super) async fn post(record: &Arc<dyn FindingsPort>, findings: &[AsffFinding], report: &mut Report) -> bool {
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

pub(super) fn inverse_json<'a>(inverses: impl Iterator<Item = &'a crate::plan::Action>) -> Option<String> {
    let list: Vec<&crate::plan::Action> = inverses.collect();
    if list.is_empty() {
        None
    } else {
        serde_json::to_string(&list).ok()
    }
}

/// The finding after the executor ran, for verdicts the plan had steps for.
pub(super) fn final_finding(
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
