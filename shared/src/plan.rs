//! Remediation plans: plain data. Each step is an action with the exact action that undoes it.
//! Dry-run prints the plan, the executor applies it, and the report and Security Hub record both.

use crate::finding::PrincipalRef;
use serde::Serialize;

/// One IAM write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    DetachPolicy {
        principal: PrincipalRef,
        policy_arn: String,
    },
    AttachPolicy {
        principal: PrincipalRef,
        policy_arn: String,
    },
    PutInlinePolicy {
        principal: PrincipalRef,
        policy_name: String,
        document: String,
    },
    DeleteInlinePolicy {
        principal: PrincipalRef,
        policy_name: String,
    },
}

impl Action {
    /// A one-line description for logs, reports and Security Hub.
    pub fn describe(&self) -> String {
        match self {
            Action::DetachPolicy { principal, policy_arn } => format!("detach {policy_arn} from {principal}"),
            Action::AttachPolicy { principal, policy_arn } => format!("attach {policy_arn} to {principal}"),
            Action::PutInlinePolicy {
                principal, policy_name, ..
            } => {
                format!("put inline policy {policy_name} on {principal}")
            }
            Action::DeleteInlinePolicy { principal, policy_name } => {
                format!("delete inline policy {policy_name} from {principal}")
            }
        }
    }

    /// The AWS API call this action makes, e.g. `iam:DetachUserPolicy`.
    pub fn api_call(&self) -> String {
        let (verb, p) = match self {
            Action::DetachPolicy { principal, .. } => ("Detach", principal),
            Action::AttachPolicy { principal, .. } => ("Attach", principal),
            Action::PutInlinePolicy { principal, .. } => ("Put", principal),
            Action::DeleteInlinePolicy { principal, .. } => ("Delete", principal),
        };
        let kind = match p.kind {
            crate::finding::PrincipalKind::User => "User",
            crate::finding::PrincipalKind::Role => "Role",
            crate::finding::PrincipalKind::Group => "Group",
        };
        format!("iam:{verb}{kind}Policy")
    }
}

/// An action and the action that undoes it, computed from the state observed before the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub action: Action,
    pub inverse: Action,
}

/// What a verdict asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "remedy", rename_all = "kebab-case")]
pub enum Remedy {
    /// Nothing to do.
    None,
    /// Apply these steps, in order.
    Fix { steps: Vec<Step> },
    /// A person must decide; the reason says why no automatic fix is safe.
    Manual { reason: String },
}

/// A step of the plan, tied to the verdict that asked for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedStep {
    /// Index into the report's verdicts.
    pub verdict: usize,
    #[serde(flatten)]
    pub step: Step,
}

/// The whole plan for one event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub steps: Vec<PlannedStep>,
}

impl Plan {
    /// Collects the steps of every verdict's remedy, dropping exact duplicates (two rules that
    /// ask for the same write get one write).
    pub fn from_remedies<'a>(remedies: impl IntoIterator<Item = &'a Remedy>) -> Plan {
        let mut steps: Vec<PlannedStep> = Vec::new();
        for (verdict, remedy) in remedies.into_iter().enumerate() {
            if let Remedy::Fix { steps: s } = remedy {
                for step in s {
                    if !steps.iter().any(|p| p.step.action == step.action) {
                        steps.push(PlannedStep {
                            verdict,
                            step: step.clone(),
                        });
                    }
                }
            }
        }
        Plan { steps }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::PrincipalKind;

    #[test]
    fn plan_dedups_identical_actions() {
        let p = PrincipalRef {
            kind: PrincipalKind::User,
            name: "a".into(),
        };
        let step = Step {
            action: Action::DetachPolicy {
                principal: p.clone(),
                policy_arn: "x".into(),
            },
            inverse: Action::AttachPolicy {
                principal: p.clone(),
                policy_arn: "x".into(),
            },
        };
        let remedies = [
            Remedy::Fix {
                steps: vec![step.clone()],
            },
            Remedy::Manual { reason: "r".into() },
            Remedy::Fix {
                steps: vec![step.clone()],
            },
        ];
        let plan = Plan::from_remedies(remedies.iter());
        assert_eq!(plan.steps.len(), 1);
        assert_eq!(plan.steps[0].verdict, 0);
        assert_eq!(step.action.api_call(), "iam:DetachUserPolicy");
    }
}
