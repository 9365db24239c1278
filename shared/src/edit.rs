//! Statement-level edits of a policy document, applied to the original JSON. Every edit only ever
//! takes permissions away (or, for trust policies, principals): a statement is dropped, patterns are
//! removed from an `Action` list, actions are added to a `NotAction` list, or the wildcard is removed
//! from a `Principal`. `Deny` statements are never touched, so the result never allows an
//! action/resource pair the original did not.

use crate::policy::{Effect, PolicyDocument};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One change to one statement (by index in the document).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "edit", rename_all = "kebab-case")]
pub enum StatementEdit {
    /// Drop the whole statement.
    Remove { statement: usize },
    /// Remove these exact patterns from the statement's `Action` list.
    RemoveActionPatterns { statement: usize, patterns: Vec<String> },
    /// Add these actions to the statement's `NotAction` list.
    AddNotActions { statement: usize, actions: Vec<String> },
    /// Remove `"*"` from the statement's `Principal` (`"*"` itself, or `AWS: "*"`).
    RemoveWildcardPrincipal { statement: usize },
}

impl StatementEdit {
    pub fn statement(&self) -> usize {
        match self {
            StatementEdit::Remove { statement }
            | StatementEdit::RemoveActionPatterns { statement, .. }
            | StatementEdit::AddNotActions { statement, .. }
            | StatementEdit::RemoveWildcardPrincipal { statement } => *statement,
        }
    }
}

fn as_list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    }
}

/// Applies one edit to a statement object; `None` when the statement no longer grants anything.
fn apply_one(mut obj: Map<String, Value>, edit: &StatementEdit) -> Option<Map<String, Value>> {
    match edit {
        StatementEdit::Remove { .. } => None,
        StatementEdit::RemoveActionPatterns { patterns, .. } => {
            let Some(current) = obj.get("Action") else {
                return Some(obj);
            };
            let was_list = current.is_array();
            let kept: Vec<Value> = as_list(current)
                .into_iter()
                .filter(|a| !a.as_str().is_some_and(|a| patterns.iter().any(|p| p == a)))
                .collect();
            if kept.is_empty() {
                return None;
            }
            let value = if kept.len() == 1 && !was_list {
                kept[0].clone()
            } else {
                Value::Array(kept)
            };
            obj.insert("Action".into(), value);
            Some(obj)
        }
        StatementEdit::AddNotActions { actions, .. } => {
            let Some(current) = obj.get("NotAction") else {
                return Some(obj);
            };
            let mut list = as_list(current);
            for a in actions {
                if !list.iter().any(|v| v.as_str() == Some(a.as_str())) {
                    list.push(Value::String(a.clone()));
                }
            }
            obj.insert("NotAction".into(), Value::Array(list));
            Some(obj)
        }
        StatementEdit::RemoveWildcardPrincipal { .. } => {
            match obj.get("Principal") {
                Some(Value::String(s)) if s == "*" => return None,
                Some(Value::Object(map)) => {
                    let mut map = map.clone();
                    if let Some(aws) = map.get("AWS") {
                        let was_list = aws.is_array();
                        let kept: Vec<Value> = as_list(aws).into_iter().filter(|v| v.as_str() != Some("*")).collect();
                        if kept.is_empty() {
                            map.remove("AWS");
                        } else if kept.len() == 1 && !was_list {
                            map.insert("AWS".into(), kept[0].clone());
                        } else {
                            map.insert("AWS".into(), Value::Array(kept));
                        }
                    }
                    if map.is_empty() {
                        return None;
                    }
                    obj.insert("Principal".into(), Value::Object(map));
                }
                _ => {}
            }
            Some(obj)
        }
    }
}

/// The document with `edits` applied, as JSON text; `None` when no statement remains.
/// Edits naming a `Deny` statement are ignored (removing a Deny would grant more).
pub fn apply_edits(doc: &PolicyDocument, edits: &[StatementEdit]) -> Option<String> {
    let mut kept = Vec::new();
    for s in &doc.statements {
        let Value::Object(obj) = &s.raw else { continue };
        let mut current = Some(obj.clone());
        if s.effect == Effect::Allow {
            for e in edits.iter().filter(|e| e.statement() == s.index) {
                current = current.and_then(|o| apply_one(o, e));
            }
        }
        if let Some(o) = current {
            kept.push(Value::Object(o));
        }
    }
    doc.with_statements(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(s: &str) -> PolicyDocument {
        PolicyDocument::parse(s).unwrap()
    }

    #[test]
    fn removes_patterns_and_keeps_shape() {
        let d = doc(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*","iam:PassRole","ec2:Describe*"],"Resource":"*"}]}"#,
        );
        let out = apply_edits(
            &d,
            &[StatementEdit::RemoveActionPatterns {
                statement: 0,
                patterns: vec!["s3:*".into(), "iam:PassRole".into()],
            }],
        )
        .unwrap();
        assert_eq!(
            out,
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ec2:Describe*"],"Resource":"*"}]}"#
        );
    }

    #[test]
    fn empty_action_list_drops_the_statement_and_empty_document_is_none() {
        let d = doc(r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#);
        assert_eq!(
            apply_edits(
                &d,
                &[StatementEdit::RemoveActionPatterns {
                    statement: 0,
                    patterns: vec!["s3:*".into()]
                }]
            ),
            None
        );
    }

    #[test]
    fn not_action_grows() {
        let d = doc(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}]}"#);
        let out = apply_edits(
            &d,
            &[StatementEdit::AddNotActions {
                statement: 0,
                actions: vec!["lambda:UpdateFunctionCode".into()],
            }],
        )
        .unwrap();
        assert!(
            out.contains(r#""NotAction":["iam:*","lambda:UpdateFunctionCode"]"#),
            "{out}"
        );
    }

    #[test]
    fn wildcard_principal_is_removed_and_deny_is_never_touched() {
        let d = doc(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:root","*"]},"Action":"sts:AssumeRole"},{"Effect":"Deny","Action":"*","Resource":"*"}]}"#,
        );
        let out = apply_edits(
            &d,
            &[
                StatementEdit::RemoveWildcardPrincipal { statement: 0 },
                StatementEdit::Remove { statement: 1 },
            ],
        )
        .unwrap();
        assert_eq!(
            out,
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:root"]},"Action":"sts:AssumeRole"},{"Effect":"Deny","Action":"*","Resource":"*"}]}"#
        );
        let open = doc(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}]}"#,
        );
        assert_eq!(
            apply_edits(&open, &[StatementEdit::RemoveWildcardPrincipal { statement: 0 }]),
            None
        );
    }
}
