//! CloudWatch metrics in Embedded Metric Format (EMF): one JSON line per event on stdout, which
//! Lambda sends to CloudWatch Logs and CloudWatch turns into metrics without any API call.
//! Namespace `ComplianceResponder`, dimension sets `[Function, Rule, Outcome]`, `[Rule, Outcome]`
//! and `[Outcome]` (the alarms' view); outcomes `found`,
//! `fixed`, `dry-run`, `skipped`, `deferred`, `failed`, `exempt` (a fix withheld by a guard or an
//! exemption), `annotation-failed` (the note on GuardDuty's finding could not be made). Pure: the caller prints the line.

use crate::executor::StepResult;
use crate::plan::Remedy;
use crate::report::Report;
use crate::rules::Status;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

pub const NAMESPACE: &str = "ComplianceResponder";

/// (rule id, outcome) → count for one report.
pub fn counts(report: &Report) -> BTreeMap<(String, &'static str), u64> {
    let mut out: BTreeMap<(String, &'static str), u64> = BTreeMap::new();
    let mut add = |rule: &str, outcome: &'static str| *out.entry((rule.to_string(), outcome)).or_default() += 1;
    for v in &report.verdicts {
        match (&v.status, &v.remedy) {
            (Status::NonCompliant, Remedy::Manual { reason }) => {
                add(v.rule_id, "found");
                if reason.contains("exempt") || reason.contains("protected") {
                    add(v.rule_id, "exempt");
                }
            }
            (Status::NonCompliant, _) => add(v.rule_id, "found"),
            (Status::NotEvaluated { .. }, _) => add(v.rule_id, "skipped"),
            _ => {}
        }
    }
    for a in &report.actions {
        let outcome = match &a.result {
            StepResult::Applied | StepResult::AlreadyInPlace => "fixed",
            StepResult::DryRun => "dry-run",
            StepResult::Deferred { .. } => "deferred",
            StepResult::NotAttempted { .. } | StepResult::Failed { .. } => "failed",
        };
        for &i in &a.verdicts {
            if let Some(v) = report.verdicts.get(i) {
                add(v.rule_id, outcome);
            }
        }
    }
    if let Some(crate::report::SourceAnnotation {
        result: crate::report::AnnotationResult::Failed { .. },
        ..
    }) = &report.source_finding
    {
        add(crate::rules::guardduty_credentials::ID, "annotation-failed");
    }
    out
}

/// The EMF lines for one report (one per rule and outcome), or none when nothing was judged.
pub fn emf_lines(function: &str, report: &Report, timestamp_ms: i64) -> Vec<String> {
    counts(report)
        .into_iter()
        .map(|((rule, outcome), count)| {
            let mut line = Map::new();
            line.insert(
                "_aws".into(),
                json!({
                    "Timestamp": timestamp_ms,
                    "CloudWatchMetrics": [{
                        "Namespace": NAMESPACE,
                        // `[Outcome]` alone feeds the template's alarms on failed, deferred and
                        // annotation-failed outcomes across every rule and function.
                        "Dimensions": [["Function", "Rule", "Outcome"], ["Rule", "Outcome"], ["Outcome"]],
                        "Metrics": [{"Name": "Count", "Unit": "Count"}],
                    }],
                }),
            );
            line.insert("Function".into(), Value::from(function));
            line.insert("Rule".into(), Value::from(rule));
            line.insert("Outcome".into(), Value::from(outcome));
            line.insert("Count".into(), Value::from(count));
            if let Some(id) = &report.event_id {
                line.insert("EventId".into(), Value::from(id.as_str()));
            }
            Value::Object(line).to_string()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Mode;
    use crate::executor::ActionOutcome;
    use crate::plan::Action;
    use crate::rules::{Severity, Verdict};

    #[test]
    fn one_line_per_rule_and_outcome() {
        let mut r = Report::empty(Mode::Remediate);
        r.event_id = Some("e-1".into());
        let verdict = |rule: &'static str, status: Status, remedy: Remedy| Verdict {
            rule_id: rule,
            status,
            severity: Severity::High,
            summary: String::new(),
            resources: vec![],
            key: String::new(),
            matched_statements: vec![],
            matched_actions: vec![],
            remedy,
            needs_review: None,
        };
        r.verdicts = vec![
            verdict("iam-admin-access", Status::NonCompliant, Remedy::None),
            verdict(
                "required-tags",
                Status::NonCompliant,
                Remedy::Manual {
                    reason: "arn:aws:s3:::b is exempt".into(),
                },
            ),
        ];
        let action = Action::DeleteInlinePolicy {
            principal: crate::finding::PrincipalRef {
                kind: crate::finding::PrincipalKind::User,
                name: "u".into(),
            },
            policy_name: "p".into(),
        };
        r.actions = vec![ActionOutcome {
            verdicts: vec![0],
            api_call: action.api_call(),
            description: action.describe(),
            inverse: action.clone(),
            action,
            result: StepResult::Applied,
        }];
        let c = counts(&r);
        assert_eq!(c[&("iam-admin-access".to_string(), "found")], 1);
        assert_eq!(c[&("iam-admin-access".to_string(), "fixed")], 1);
        assert_eq!(c[&("required-tags".to_string(), "exempt")], 1);
        let lines = emf_lines("cloudtrail-responder", &r, 1_700_000_000_000);
        assert_eq!(lines.len(), 4);
        let v: Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Namespace"], NAMESPACE);
        assert_eq!(v["Function"], "cloudtrail-responder");
        assert_eq!(v["EventId"], "e-1");
        assert!(v["Count"].as_u64().unwrap() >= 1);
    }
}
