//! The report: what was found, done, skipped and why. It is the Lambda's JSON response and is
//! logged as structured JSON.

use crate::asff::ComplianceStatus;
use crate::config::Mode;
use crate::error::{AwsError, InputError};
use crate::executor::ActionOutcome;
use crate::finding::Actor;
use crate::plan::Remedy;
use crate::rules::{Status, Verdict};
use serde::Serialize;

/// The overall outcome of one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReportStatus {
    /// At least one fix was applied and nothing failed.
    Remediated,
    /// Dry-run: fixes were planned and reported, not applied.
    DryRun,
    /// A write limit was reached: fixes were deferred (the findings say so), nothing failed.
    Deferred,
    /// Evaluated; nothing needed (or could safely be) changed.
    NoAction,
    /// A rule could not judge (the resource vanished, state unreadable): nothing written.
    Skipped,
    /// A well-formed event that no rule acts on.
    Ignored,
    /// Bad input: nothing was read or written.
    Rejected,
    /// An AWS call failed; see `errors` and `actions`. The Lambda returns an error so it is retried.
    Failed,
}

/// A Security Hub finding this event posted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PostedFinding {
    pub id: String,
    pub rule_id: String,
    pub compliance: ComplianceStatus,
}

/// What happened to the note on the source product's finding (GuardDuty's, in Security Hub).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum AnnotationResult {
    Updated,
    Failed { error: AwsError },
}

/// The note put on the source product's finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceAnnotation {
    pub note: crate::adapters::SourceFindingNote,
    #[serde(flatten)]
    pub result: AnnotationResult,
}

/// What a Security Hub custom action did with one chosen finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HubResult {
    /// "Remediate": the fix was applied.
    Applied,
    /// "Remediate": the live state no longer has the risk; the finding is set PASSED.
    Resolved,
    /// "Remediate": judged, not applied (kill switch, protected, exempt, suppressed, deferred,
    /// conditional: `detail` says which).
    NotApplied,
    /// "Remediate": the live state, judged again, does not show this finding.
    NotReproduced,
    /// "Undo": the recorded inverse was applied.
    Undone,
    /// "Undo": not undone (no record, or the state changed since the fix: `detail`).
    Refused,
    /// Not this product's finding, or not one that can be acted on from Security Hub.
    Ignored,
    /// A call failed (`errors`): the event fails and is retried.
    Failed,
}

/// One chosen finding of a custom action.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HubFindingResult {
    pub finding_id: String,
    pub result: HubResult,
    pub detail: String,
    /// The note and workflow status put on the finding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<SourceAnnotation>,
}

/// A Security Hub custom action ("Remediate" or "Undo") and what it did with each finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HubActionReport {
    pub action: crate::sources::securityhub::HubAction,
    pub findings: Vec<HubFindingResult>,
}

/// Everything about one event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub status: ReportStatus,
    pub mode: Mode,
    pub event_id: Option<String>,
    pub detail_type: Option<String>,
    pub event_name: Option<String>,
    pub account: Option<String>,
    pub region: Option<String>,
    pub actor: Option<Actor>,
    /// Why the event was ignored or skipped, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Why the event was rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_error: Option<InputError>,
    pub verdicts: Vec<Verdict>,
    pub actions: Vec<ActionOutcome>,
    /// Fixes the planner could not turn into a safe write, and why (left for a person).
    pub unplanned: Vec<crate::plan::Unplanned>,
    pub findings: Vec<PostedFinding>,
    /// Why fixes were forced to dry-run by the kill switch, when they were.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kill_switch: Option<String>,
    /// GuardDuty events: the note and workflow status put on GuardDuty's own finding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_finding: Option<SourceAnnotation>,
    /// Security Hub custom actions: what was done with each chosen finding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hub_action: Option<HubActionReport>,
    /// AWS calls that failed (reads, writes, Security Hub).
    pub errors: Vec<AwsError>,
    /// Calls that failed without failing the event: the note on GuardDuty's finding, after its
    /// own retries (the fix is in place and recorded; retrying the event would only repeat it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<AwsError>,
    /// What happened, in order, when it was not the usual record → fix → update (containment
    /// applied before its record could be made).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sequence: Vec<String>,
    pub duration_ms: u64,
}

impl Report {
    pub(crate) fn empty(mode: Mode) -> Self {
        Report {
            status: ReportStatus::NoAction,
            mode,
            event_id: None,
            detail_type: None,
            event_name: None,
            account: None,
            region: None,
            actor: None,
            reason: None,
            input_error: None,
            verdicts: vec![],
            actions: vec![],
            unplanned: vec![],
            findings: vec![],
            source_finding: None,
            hub_action: None,
            kill_switch: None,
            errors: vec![],
            warnings: vec![],
            sequence: vec![],
            duration_ms: 0,
        }
    }

    /// Derives the overall status from the parts.
    pub(crate) fn settle(&mut self) {
        self.status = if self.input_error.is_some() {
            ReportStatus::Rejected
        } else if !self.errors.is_empty()
            || self
                .hub_action
                .as_ref()
                .is_some_and(|h| h.findings.iter().any(|f| f.result == HubResult::Failed))
            || self.actions.iter().any(|a| {
                !a.result.succeeded()
                    && !matches!(
                        a.result,
                        crate::executor::StepResult::DryRun | crate::executor::StepResult::Deferred { .. }
                    )
            })
        {
            ReportStatus::Failed
        } else if self.reason.is_some() && self.verdicts.is_empty() {
            ReportStatus::Ignored
        } else if self
            .actions
            .iter()
            .any(|a| matches!(a.result, crate::executor::StepResult::Applied))
        {
            ReportStatus::Remediated
        } else if self
            .actions
            .iter()
            .any(|a| matches!(a.result, crate::executor::StepResult::Deferred { .. }))
        {
            ReportStatus::Deferred
        } else if self
            .actions
            .iter()
            .any(|a| matches!(a.result, crate::executor::StepResult::DryRun))
        {
            ReportStatus::DryRun
        } else if !self.verdicts.is_empty()
            && self
                .verdicts
                .iter()
                .all(|v| matches!(v.status, Status::NotEvaluated { .. }))
        {
            ReportStatus::Skipped
        } else {
            ReportStatus::NoAction
        };
    }

    /// Adds a report of the same event (one chosen finding of a custom action): its verdicts
    /// follow ours, so the indices its actions and unplanned fixes give are shifted.
    pub(crate) fn absorb(&mut self, other: Report) {
        let base = self.verdicts.len();
        self.verdicts.extend(other.verdicts);
        self.actions.extend(other.actions.into_iter().map(|mut a| {
            a.verdicts.iter_mut().for_each(|v| *v += base);
            a
        }));
        self.unplanned.extend(other.unplanned.into_iter().map(|mut u| {
            u.verdicts.iter_mut().for_each(|v| *v += base);
            u
        }));
        self.findings.extend(other.findings);
        self.errors.extend(other.errors);
        self.warnings.extend(other.warnings);
        self.sequence.extend(other.sequence);
        if self.kill_switch.is_none() {
            self.kill_switch = other.kill_switch;
        }
    }

    /// True when a retry of the whole event could help (Lambda should see an error).
    pub fn should_retry(&self) -> bool {
        self.status == ReportStatus::Failed
    }

    /// A short human summary, e.g. for the demo and logs.
    pub fn one_line(&self) -> String {
        let fixes = self.actions.iter().filter(|a| a.result.succeeded()).count();
        let manual = self
            .verdicts
            .iter()
            .filter(|v| matches!(v.remedy, Remedy::Manual { .. }))
            .count();
        format!(
            "{:?}: {} verdict(s), {} action(s) ({} applied), {} manual, {} finding update(s), {} error(s)",
            self.status,
            self.verdicts.len(),
            self.actions.len(),
            fixes,
            manual,
            self.findings.len(),
            self.errors.len()
        )
    }
}
