//! Entry point: a Security Hub custom action. A person chose "Remediate" or "Undo" on findings
//! of this product (`sources/securityhub.rs` says which findings are this product's).
//!
//! - **Remediate**: the finding's subject is judged again on the live state through the same
//!   stages as an event ([`Responder::handle_decided`]), only the chosen finding kept, and its fix
//!   applied whatever the rule's mode ([`Decision::Approved`]); the kill switch, guards,
//!   exemptions, suppressions and write limits still win. The finding is set PASSED when fixed
//!   (or found fixed), and gets a note and workflow status (RESOLVED, else NOTIFIED with why).
//! - **Undo**: the inverse recorded when the fix was applied (`UNDO_RECORD_BUCKET`, never the
//!   finding's own text) is applied through the account's undo role, only while the live state is
//!   still what the fix left. The finding is set SUPPRESSED first (so the responder does not fix
//!   it again: suppression is an exemption), then the subject is judged again without fixing
//!   ([`Decision::RecordOnly`]), which records it FAILED.

use super::expand::read_missing;
use super::*;
use crate::finding::Capability;
use crate::report::{HubActionReport, HubFindingResult, HubResult};
use crate::sources::securityhub::{self as hub, HubAction, Request, Selected};

impl Responder {
    pub(super) async fn hub_action(&self, env: &Envelope, mut report: Report) -> Report {
        let rule_ids: Vec<&str> = self.rules.iter().map(|r| r.meta().id).collect();
        let request = match hub::parse(env, self.config.security_hub_product_arn.as_deref(), &rule_ids) {
            Ok(r) => r,
            Err(e) => {
                report.input_error = Some(e);
                return report;
            }
        };
        let (action, selected, ignored) = match request {
            Request::Act {
                action,
                selected,
                ignored,
            } => (action, selected, ignored),
            Request::NotOurs { reason } => {
                report.reason = Some(reason);
                return report;
            }
        };
        report.event_name = Some(action.as_str().into());
        // In the order of the event's findings.
        let mut results: Vec<(usize, HubFindingResult)> = ignored
            .into_iter()
            .map(|i| {
                (
                    i.index,
                    HubFindingResult {
                        finding_id: i.finding_id,
                        result: HubResult::Ignored,
                        detail: i.reason,
                        note: None,
                    },
                )
            })
            .collect();
        for sel in selected {
            let finding = match &sel.finding {
                Ok(f)
                    if self.config.allowed_accounts.is_empty() || self.config.allowed_accounts.contains(&f.account) =>
                {
                    f.clone()
                }
                Ok(f) => {
                    results.push((
                        sel.index,
                        ignored_result(&sel, format!("account {} is not in ALLOWED_ACCOUNTS", f.account)),
                    ));
                    continue;
                }
                Err(reason) => {
                    results.push((sel.index, ignored_result(&sel, reason.clone())));
                    continue;
                }
            };
            // The subject is judged again from here, not from within the steps below: one
            // poll frame fewer on the way down (debug builds run the tests on 2 MB stacks).
            let result = match action {
                HubAction::Remediate => {
                    let ids: BTreeSet<String> = [sel.finding_id.clone()].into();
                    let sub = Box::pin(self.handle_decided(
                        finding.clone(),
                        Report::empty(self.config.mode),
                        &Decision::Approved(ids),
                    ))
                    .await;
                    Box::pin(self.remediated(&sel, finding, sub, &mut report)).await
                }
                HubAction::Undo => match Box::pin(self.undo(&sel, &finding, &mut report)).await {
                    Err(done) => *done,
                    Ok(restored) => {
                        // Judged again, fixing nothing: recorded as the state now is (FAILED).
                        let sub = Box::pin(self.handle_decided(
                            finding.clone(),
                            Report::empty(self.config.mode),
                            &Decision::RecordOnly,
                        ))
                        .await;
                        report.absorb(sub);
                        let detail = format!("undone: {}", restored.join("; "));
                        let text = format!(
                            "{detail}; SUPPRESSED: set the workflow status to NEW to let the responder fix it again"
                        );
                        let note = Box::pin(self.note_finding(
                            &sel,
                            &finding,
                            Capability::Undo,
                            Workflow::Suppressed,
                            &text,
                            &mut report,
                        ))
                        .await;
                        HubFindingResult {
                            finding_id: sel.finding_id.clone(),
                            result: HubResult::Undone,
                            detail,
                            note,
                        }
                    }
                },
            };
            results.push((sel.index, result));
        }
        results.sort_by_key(|(i, _)| *i);
        let results: Vec<HubFindingResult> = results.into_iter().map(|(_, r)| r).collect();
        if results.iter().all(|r| r.result == HubResult::Ignored) {
            report.reason = Some(format!(
                "no finding of this product to {}: {}",
                action.as_str(),
                results.iter().map(|r| r.detail.as_str()).collect::<Vec<_>>().join("; ")
            ));
        }
        report.hub_action = Some(HubActionReport {
            action,
            findings: results,
        });
        report
    }

    /// What a "Remediate" did with the finding (`sub`: the subject judged again), noted on it.
    async fn remediated(&self, sel: &Selected, finding: Finding, sub: Report, report: &mut Report) -> HubFindingResult {
        let mine: Vec<usize> = (0..sub.verdicts.len())
            .filter(|&i| {
                let v = &sub.verdicts[i];
                asff::finding_id_in(&sel.record_region, &finding.account, v.rule_id, &v.key) == sel.finding_id
            })
            .collect();
        let steps: Vec<&executor::ActionOutcome> = sub
            .actions
            .iter()
            .filter(|a| a.verdicts.iter().any(|v| mine.contains(v)))
            .collect();
        let described = steps
            .iter()
            .map(|a| format!("{} ({})", a.description, a.result.label()))
            .collect::<Vec<_>>()
            .join("; ");
        let (result, detail) =
            if !sub.errors.is_empty() || steps.iter().any(|a| matches!(a.result, StepResult::Failed { .. })) {
                (
                    HubResult::Failed,
                    format!(
                        "not fixed: {}",
                        sub.errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; ")
                    ),
                )
            } else if let Some(v) = mine.first().map(|&i| &sub.verdicts[i]) {
                match (&v.status, &v.remedy) {
                    (Status::Resolved, _) => (
                        HubResult::Resolved,
                        "the live state no longer has this risk: recorded PASSED, nothing changed".to_string(),
                    ),
                    (Status::NotEvaluated { .. }, _) => (HubResult::NotApplied, format!("not judged: {}", v.summary)),
                    _ if !steps.is_empty() && steps.iter().all(|a| a.result.succeeded()) => {
                        (HubResult::Applied, format!("fixed: {described}"))
                    }
                    (_, Remedy::Manual { reason }) => (HubResult::NotApplied, format!("not fixed: {reason}")),
                    _ if !steps.is_empty() => (
                        HubResult::NotApplied,
                        match &sub.kill_switch {
                            Some(k) => format!("not fixed: the kill switch is on ({k}); would: {described}"),
                            None => format!("not fixed: {described}"),
                        },
                    ),
                    _ => (
                        HubResult::NotApplied,
                        sub.unplanned
                            .iter()
                            .find(|u| u.verdicts.iter().any(|x| mine.contains(x)))
                            .map(|u| format!("not fixed: {}", u.reason))
                            .unwrap_or_else(|| format!("not fixed: {}", v.summary)),
                    ),
                }
            } else {
                (
                HubResult::NotReproduced,
                "judged again on the live state, the finding's risk is not there under the same key: nothing changed"
                    .to_string(),
            )
            };
        report.absorb(sub);
        let workflow = match result {
            HubResult::Applied | HubResult::Resolved => Workflow::Resolved,
            _ => Workflow::Notified,
        };
        let note = self
            .note_finding(
                sel,
                &finding,
                finding.subject.capability(),
                workflow,
                &format!("Remediate: {detail}"),
                report,
            )
            .await;
        HubFindingResult {
            finding_id: sel.finding_id.clone(),
            result,
            detail,
            note,
        }
    }

    /// Applies the recorded inverse of the finding's fix; the inverses applied (to judge the
    /// subject again), or the finding's result when nothing (or not everything) was undone.
    async fn undo(
        &self,
        sel: &Selected,
        finding: &Finding,
        report: &mut Report,
    ) -> Result<Vec<String>, Box<HubFindingResult>> {
        let done = |result, detail: String, note| {
            Err(Box::new(HubFindingResult {
                finding_id: sel.finding_id.clone(),
                result,
                detail,
                note,
            }))
        };
        let Some(records) = &self.records else {
            return done(
                HubResult::Refused,
                "UNDO_RECORD_BUCKET is not set: fixes are not recorded, so there is nothing to undo from Security Hub \
                 (`responder undo` with the event's report still can)"
                    .into(),
                None,
            );
        };
        let record = match records.get(&sel.finding_id).await {
            Ok(Some(r)) if r.finding_id == sel.finding_id && r.account == finding.account => r,
            Ok(Some(_)) => {
                return done(
                    HubResult::Refused,
                    "the undo record does not belong to this finding".into(),
                    None,
                )
            }
            Ok(None) => {
                let detail = "no fix of this finding is on record: nothing to undo".to_string();
                return Err(self.refuse_undo(sel, finding, detail, report).await);
            }
            Err(e) => {
                let detail = format!("the undo record could not be read: {e}");
                report.errors.push(e);
                return done(HubResult::Failed, detail, None);
            }
        };
        // The fix must still be what is there: undoing a state someone changed since would
        // overwrite their change.
        let ports = match self.ports_as(finding, &record.region, Capability::Undo).await {
            Ok(p) => p,
            Err(e) => {
                let detail = format!("not undone: {e}");
                report.errors.push(e);
                return done(HubResult::Failed, detail, None);
            }
        };
        let mut observed = Observed::default();
        let errors_before = report.errors.len();
        read_missing(&ports, &crate::undo::lookups(&record), &mut observed, report).await;
        if report.errors.len() > errors_before {
            return done(
                HubResult::Failed,
                "not undone: the live state could not be read".into(),
                None,
            );
        }
        if let Err(why) = crate::undo::fix_in_place(&record, &observed) {
            return Err(self
                .refuse_undo(sel, finding, format!("not undone: {why}"), report)
                .await);
        }
        // Suppressed before anything is written: the responder must not fix it again.
        let also = if record.also_serves.is_empty() {
            String::new()
        } else {
            format!(" (the same writes fixed {} too)", record.also_serves.join(", "))
        };
        let suppress = format!(
            "Undo requested: restoring what the fix of {} wrote{also}; SUPPRESSED so that the responder does not fix \
             it again (set the workflow status to NEW to let it)",
            record.event_id
        );
        let note = self
            .note_finding(sel, finding, Capability::Undo, Workflow::Suppressed, &suppress, report)
            .await;
        if !matches!(
            note,
            Some(SourceAnnotation {
                result: AnnotationResult::Updated,
                ..
            })
        ) {
            return done(
                HubResult::Failed,
                "not undone: the finding could not be suppressed first".into(),
                note,
            );
        }
        let mut failed = false;
        for step in record.steps.iter().rev() {
            let result = if failed {
                StepResult::NotAttempted {
                    reason: "an earlier inverse failed".into(),
                }
            } else {
                match ports.apply(&step.inverse).await {
                    Ok(crate::adapters::Applied::Done) => StepResult::Applied,
                    Ok(crate::adapters::Applied::AlreadyInPlace) => StepResult::AlreadyInPlace,
                    Err(e) => {
                        failed = true;
                        StepResult::Failed { error: e }
                    }
                }
            };
            report.actions.push(executor::ActionOutcome {
                verdicts: vec![],
                api_call: step.inverse.api_call(),
                description: step.inverse.describe(),
                action: step.inverse.clone(),
                inverse: step.action.clone(),
                result,
            });
        }
        let restored: Vec<String> = record.steps.iter().rev().map(|s| s.inverse.describe()).collect();
        if failed {
            let detail = format!("undo failed part-way: {}", restored.join("; "));
            return done(HubResult::Failed, detail, note);
        }
        Ok(restored)
    }

    /// An "Undo" that is not made, noted on the finding (NOTIFIED) with why.
    async fn refuse_undo(
        &self,
        sel: &Selected,
        finding: &Finding,
        detail: String,
        report: &mut Report,
    ) -> Box<HubFindingResult> {
        let text = format!("Undo: {detail}");
        let note = self
            .note_finding(sel, finding, Capability::Undo, Workflow::Notified, &text, report)
            .await;
        Box::new(HubFindingResult {
            finding_id: sel.finding_id.clone(),
            result: HubResult::Refused,
            detail,
            note,
        })
    }

    /// Puts a note and workflow status on the chosen finding, in its account and region, as the
    /// member role of `capability`. A note that cannot be written is a warning.
    async fn note_finding(
        &self,
        sel: &Selected,
        finding: &Finding,
        capability: Capability,
        workflow: Workflow,
        text: &str,
        report: &mut Report,
    ) -> Option<SourceAnnotation> {
        let note = SourceFindingNote {
            id: sel.finding_id.clone(),
            product_arn: sel.product_arn.clone(),
            workflow,
            text: format!("compliance-responder (event {}): {text}", finding.event_id)
                .chars()
                .take(512)
                .collect(),
            updated_by: "compliance-responder".into(),
        };
        let result = match self.ports_as(finding, &sel.record_region, capability).await {
            Ok(ports) => match ports.findings.annotate(&note).await {
                Ok(()) => AnnotationResult::Updated,
                Err(e) => AnnotationResult::Failed { error: e },
            },
            Err(e) => AnnotationResult::Failed { error: e },
        };
        if let AnnotationResult::Failed { error } = &result {
            tracing::warn!(error = %error, finding = %sel.finding_id, "could not note the custom action on the finding");
            report.warnings.push(error.clone());
        }
        Some(SourceAnnotation { note, result })
    }
}

fn ignored_result(sel: &Selected, reason: String) -> HubFindingResult {
    HubFindingResult {
        finding_id: sel.finding_id.clone(),
        result: HubResult::Ignored,
        detail: reason,
        note: None,
    }
}
