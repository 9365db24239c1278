//! Applies a plan through the ports. In dry-run mode nothing is called. After the first failed
//! write the remaining steps are not attempted, and each says why: nothing is half-done silently.

use crate::adapters::{Applied, Ports};
use crate::error::AwsError;
use crate::plan::{Action, Plan};
use serde::Serialize;

/// What happened to one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum StepResult {
    Applied,
    /// IAM already was as the step wanted (e.g. the policy had been detached meanwhile).
    AlreadyInPlace,
    /// Dry-run: the call was not made.
    DryRun,
    /// A write limit was reached: the call was not made, the finding says the fix is deferred.
    Deferred {
        reason: String,
    },
    NotAttempted {
        reason: String,
    },
    Failed {
        error: AwsError,
    },
}

impl StepResult {
    /// True when IAM is now in the state the step wanted.
    pub fn succeeded(&self) -> bool {
        matches!(self, StepResult::Applied | StepResult::AlreadyInPlace)
    }

    /// The result's name as it appears in the report (`applied`, `dry-run`, ...).
    pub fn label(&self) -> &'static str {
        match self {
            StepResult::Applied => "applied",
            StepResult::AlreadyInPlace => "already-in-place",
            StepResult::DryRun => "dry-run",
            StepResult::Deferred { .. } => "deferred",
            StepResult::NotAttempted { .. } => "not-attempted",
            StepResult::Failed { .. } => "failed",
        }
    }
}

/// One step with its result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionOutcome {
    /// Indices of the report's verdicts this step serves.
    pub verdicts: Vec<usize>,
    pub api_call: String,
    pub description: String,
    pub action: Action,
    pub inverse: Action,
    #[serde(flatten)]
    pub result: StepResult,
}

/// Marks every step as not attempted (used when a precondition such as recording the finding
/// first could not be met).
pub fn not_attempted(plan: &Plan, reason: &str) -> Vec<ActionOutcome> {
    plan.steps
        .iter()
        .map(|s| {
            outcome(
                s,
                StepResult::NotAttempted {
                    reason: reason.to_string(),
                },
            )
        })
        .collect()
}

fn outcome(s: &crate::plan::PlannedStep, result: StepResult) -> ActionOutcome {
    ActionOutcome {
        verdicts: s.verdicts.clone(),
        api_call: s.action.api_call(),
        description: s.action.describe(),
        action: s.action.clone(),
        inverse: s.inverse.clone(),
        result,
    }
}

/// Whether a step may be applied (decided by the pipeline from modes and write limits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    Apply,
    DryRun,
    Deferred { reason: String },
}

/// Applies the plan in order; `gates[i]` says whether step `i` may be applied.
pub async fn execute(plan: &Plan, gates: &[Gate], ports: &Ports) -> Vec<ActionOutcome> {
    let mut out = Vec::with_capacity(plan.steps.len());
    let mut failed: Option<String> = None;
    for (i, s) in plan.steps.iter().enumerate() {
        let result = if let Some(Gate::DryRun) = gates.get(i) {
            StepResult::DryRun
        } else if let Some(Gate::Deferred { reason }) = gates.get(i) {
            StepResult::Deferred { reason: reason.clone() }
        } else if gates.get(i).is_none() {
            StepResult::NotAttempted {
                reason: "no gate decision for this step".into(),
            }
        } else if let Some(first) = &failed {
            StepResult::NotAttempted {
                reason: format!("an earlier action failed: {first}"),
            }
        } else {
            let started = std::time::Instant::now();
            let r = match ports.apply(&s.action).await {
                Ok(Applied::Done) => StepResult::Applied,
                Ok(Applied::AlreadyInPlace) => StepResult::AlreadyInPlace,
                Err(error) => {
                    failed = Some(s.action.describe());
                    StepResult::Failed { error }
                }
            };
            tracing::info!(
                action = %s.action.api_call(),
                target = %s.action.describe(),
                outcome = ?r,
                duration_ms = started.elapsed().as_millis() as u64,
                "remediation step"
            );
            r
        };
        out.push(outcome(s, result));
    }
    out
}
