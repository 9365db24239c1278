//! Privilege-escalation methods as data (`shared/data/escalation-methods.json`), and the question
//! the `iam-privilege-escalation` rule asks of a grant model: which methods does this document (or
//! a principal's policies read as one) complete, and which statements hold the grant a fix takes
//! away. Pure; the data is compiled in and read once.

use crate::grants::Grants;
use crate::policy::{wildcard_match, PolicyDocument, Statement};
use serde::Deserialize;
use std::sync::OnceLock;

/// One escalation method: every group of `needs` granted on every resource (any one action of the
/// group) lets a principal give itself more.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Method {
    pub id: String,
    pub needs: Vec<Vec<String>>,
    /// The service the method passes a role to: `iam:PassRole` must let the role be passed to it.
    #[serde(default)]
    pub pass_to: Option<String>,
    /// The grants a fix takes away, from whichever policy holds them.
    pub removes: Vec<String>,
}

#[derive(Deserialize)]
struct File {
    #[allow(dead_code)]
    about: Vec<String>,
    methods: Vec<Method>,
}

const DATA: &str = include_str!("../data/escalation-methods.json");

pub const PASS_ROLE: &str = "iam:PassRole";

/// Every method, in the data file's order.
pub fn methods() -> &'static [Method] {
    static METHODS: OnceLock<Vec<Method>> = OnceLock::new();
    METHODS.get_or_init(|| {
        // The file is part of the build and checked by the tests: a broken one is a build defect.
        serde_json::from_str::<File>(DATA)
            .expect("shared/data/escalation-methods.json is valid (checked by the tests)")
            .methods
    })
}

/// A method a document completes.
#[derive(Debug, Clone)]
pub struct Completed {
    pub method: &'static Method,
    /// One granted action per group (what the finding shows).
    pub shown: Vec<String>,
    /// Statement index → the `removes` actions it grants (the statements a fix edits).
    pub holders: Vec<(usize, Vec<String>)>,
}

const PASSED_TO_SERVICE: &str = "iam:passedtoservice";

/// Whether a PassRole statement lets the role be passed to `service` (`lambda.amazonaws.com`):
/// yes unless a positive condition on `iam:PassedToService` lists only other services. Negated and
/// `IfExists` forms narrow nothing.
pub fn passes_to(statement: &Statement, service: &str) -> bool {
    let Some(condition) = statement.raw.get("Condition").and_then(|c| c.as_object()) else {
        return true;
    };
    for (operator, block) in condition {
        let op = operator.to_ascii_lowercase();
        let op = op.strip_prefix("foranyvalue:").unwrap_or(&op);
        if !matches!(op, "stringequals" | "stringequalsignorecase" | "stringlike") {
            continue;
        }
        let Some(block) = block.as_object() else { continue };
        for (key, values) in block {
            if key.to_ascii_lowercase() != PASSED_TO_SERVICE {
                continue;
            }
            let values: Vec<&str> = match values {
                serde_json::Value::Array(v) => v.iter().filter_map(|x| x.as_str()).collect(),
                serde_json::Value::String(v) => vec![v.as_str()],
                _ => vec![],
            };
            // Every positive condition must hold: one that admits no such service closes the path.
            if !values.iter().any(|v| wildcard_match(v, service)) {
                return false;
            }
        }
    }
    true
}

/// Whether a Condition on `statement` is only about `iam:PassedToService` (judged by
/// [`passes_to`], so it does not lower severity).
pub fn only_passed_to(statement: &Statement) -> bool {
    statement.condition_keys.iter().all(|k| k == PASSED_TO_SERVICE)
}

/// Statements of `doc` that grant `action` on every resource (net of unconditional Deny) and, for
/// PassRole in a method that passes to a service, let the role be passed to it. `with_any`: count
/// every-action patterns too.
fn granting(
    doc: &PolicyDocument,
    grants: &Grants<'_>,
    action: &str,
    pass_to: Option<&str>,
    with_any: bool,
) -> Vec<usize> {
    let Some(id) = grants.catalogue().find(action) else {
        return vec![];
    };
    grants
        .granting(id, with_any)
        .into_iter()
        .filter(|&i| match pass_to {
            Some(service) if action.eq_ignore_ascii_case(PASS_ROLE) => passes_to(&doc.statements[i], service),
            _ => true,
        })
        .collect()
}

/// The methods `doc` completes on its own, per its grant model. `with_any`: count every-action
/// patterns (`*`) too.
pub fn completed(doc: &PolicyDocument, grants: &Grants<'_>, with_any: bool) -> Vec<Completed> {
    let mut out = Vec::new();
    for method in methods() {
        let pass_to = method.pass_to.as_deref();
        let shown: Option<Vec<String>> = method
            .needs
            .iter()
            .map(|group| {
                group
                    .iter()
                    .find(|a| !granting(doc, grants, a, pass_to, with_any).is_empty())
                    .cloned()
            })
            .collect();
        let Some(shown) = shown else { continue };
        let mut holders: Vec<(usize, Vec<String>)> = Vec::new();
        for action in &method.removes {
            for i in granting(doc, grants, action, pass_to, with_any) {
                match holders.iter_mut().find(|(s, _)| *s == i) {
                    Some((_, list)) => list.push(action.clone()),
                    None => holders.push((i, vec![action.clone()])),
                }
            }
        }
        holders.sort_by_key(|(i, _)| *i);
        out.push(Completed { method, shown, holders });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Catalogue;

    #[test]
    fn every_method_names_catalogue_actions_and_removes_one_of_its_needs() {
        let cat = Catalogue::get();
        assert!(methods().len() >= 35, "the published methods are all there");
        let mut ids = std::collections::BTreeSet::new();
        for m in methods() {
            assert!(ids.insert(m.id.as_str()), "{}: ids are unique", m.id);
            assert!(!m.needs.is_empty() && !m.removes.is_empty(), "{}", m.id);
            for a in m.needs.iter().flatten().chain(&m.removes) {
                assert!(cat.find(a).is_some(), "{}: {a} is not in the action catalogue", m.id);
            }
            for r in &m.removes {
                assert!(
                    m.needs.iter().flatten().any(|a| a == r),
                    "{}: removes {r}, which it does not need",
                    m.id
                );
            }
            // Taking one group's grants away breaks the method: `removes` is a whole group.
            assert!(
                m.needs.iter().any(|g| g.iter().all(|a| m.removes.contains(a))),
                "{}: removing {:?} leaves the method complete",
                m.id,
                m.removes
            );
            if m.pass_to.is_some() {
                assert!(m.needs.iter().any(|g| g == &[PASS_ROLE.to_string()]), "{}", m.id);
            }
        }
    }

    fn doc(text: &str) -> PolicyDocument {
        PolicyDocument::parse(text).unwrap()
    }

    fn ids(d: &PolicyDocument) -> Vec<&'static str> {
        completed(d, &Grants::of(d), true)
            .iter()
            .map(|c| c.method.id.as_str())
            .collect()
    }

    #[test]
    fn a_combination_needs_every_group_and_the_pass_to_service() {
        let d = doc(
            r#"{"Statement":[{"Effect":"Allow","Action":["iam:PassRole","ecs:RegisterTaskDefinition"],"Resource":"*"}]}"#,
        );
        assert!(ids(&d).is_empty(), "ECS needs RunTask, StartTask or CreateService too");
        let d = doc(
            r#"{"Statement":[{"Effect":"Allow","Action":["iam:PassRole","ecs:RegisterTaskDefinition","ecs:RunTask"],"Resource":"*"}]}"#,
        );
        assert_eq!(ids(&d), ["passrole-ecs"]);
        let d = doc(
            r#"{"Statement":[{"Effect":"Allow","Action":["iam:PassRole"],"Resource":"*","Condition":{"StringEquals":{"iam:PassedToService":"lambda.amazonaws.com"}}},
            {"Effect":"Allow","Action":["ecs:RegisterTaskDefinition","ecs:RunTask"],"Resource":"*"}]}"#,
        );
        assert!(ids(&d).is_empty(), "PassRole only to Lambda is no ECS path");
    }

    #[test]
    fn holders_are_the_statements_granting_what_the_fix_removes() {
        let d = doc(
            r#"{"Statement":[{"Effect":"Allow","Action":"ec2:RunInstances","Resource":"*"},
            {"Effect":"Allow","Action":"iam:Pass*","Resource":"arn:aws:iam::*:role/*"}]}"#,
        );
        let c = completed(&d, &Grants::of(&d), true);
        let ec2 = c.iter().find(|c| c.method.id == "passrole-ec2").unwrap();
        assert_eq!(ec2.shown, ["iam:PassRole", "ec2:RunInstances"]);
        assert_eq!(ec2.holders, vec![(1, vec!["iam:PassRole".to_string()])]);
    }
}
