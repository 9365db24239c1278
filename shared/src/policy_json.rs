//! Reading a policy document whose JSON is ambiguous. JSON leaves duplicate object keys to the
//! reader (RFC 8259 §4: "the names within an object SHOULD be unique"), and readers differ: most
//! keep the last, some the first, some refuse. A document `{"Effect": "Deny", "Effect": "Allow"}`
//! would then be judged one way here and enforced another way by IAM. So a document with
//! duplicate keys is read the **most permissive** way and reported as ambiguous:
//!
//! - duplicate `Statement` lists are all kept;
//! - a statement's duplicate `Effect` is `Allow` if any of them is;
//! - an `Allow` statement's duplicate `Action`, `Resource` or `Principal` grants the union, its
//!   duplicate `NotAction` / `NotResource` excludes only what every copy excludes, and a duplicate
//!   `Condition` restricts nothing (the statement is read unconditioned);
//! - a `Deny` statement with any duplicate key is read as denying nothing (left out);
//! - any other duplicate key keeps its last value.
//!
//! The reading is for judging only: a fix of an ambiguous document is left to a person, since no
//! rewrite can know which reading IAM enforces (`rules/documents.rs`).

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// JSON as written: objects keep every key, duplicates included, in order.
enum Raw {
    Scalar(Value),
    Array(Vec<Raw>),
    Object(Vec<(String, Raw)>),
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Raw;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Raw, E> {
                Ok(Raw::Scalar(Value::Bool(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Raw, E> {
                Ok(Raw::Scalar(Value::from(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Raw, E> {
                Ok(Raw::Scalar(Value::from(v)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Raw, E> {
                Ok(Raw::Scalar(
                    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number),
                ))
            }
            fn visit_str<E>(self, v: &str) -> Result<Raw, E> {
                Ok(Raw::Scalar(Value::String(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Raw, E> {
                Ok(Raw::Scalar(Value::String(v)))
            }
            fn visit_unit<E>(self) -> Result<Raw, E> {
                Ok(Raw::Scalar(Value::Null))
            }
            fn visit_none<E>(self) -> Result<Raw, E> {
                Ok(Raw::Scalar(Value::Null))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = seq.next_element()? {
                    out.push(v);
                }
                Ok(Raw::Array(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Raw>()? {
                    out.push((k, v));
                }
                Ok(Raw::Object(out))
            }
        }
        d.deserialize_any(V)
    }
}

impl Raw {
    /// Plain JSON, a duplicate key keeping its last value (serde_json's own reading).
    fn plain(self) -> Value {
        match self {
            Raw::Scalar(v) => v,
            Raw::Array(a) => Value::Array(a.into_iter().map(Raw::plain).collect()),
            Raw::Object(entries) => {
                let mut m = Map::new();
                for (k, v) in entries {
                    m.insert(k, v.plain());
                }
                Value::Object(m)
            }
        }
    }

    fn has_duplicates(&self) -> bool {
        match self {
            Raw::Scalar(_) => false,
            Raw::Array(a) => a.iter().any(Raw::has_duplicates),
            Raw::Object(entries) => {
                let mut seen = std::collections::BTreeSet::new();
                entries
                    .iter()
                    .any(|(k, v)| !seen.insert(k.as_str()) || v.has_duplicates())
            }
        }
    }
}

/// The document `text` as JSON, read the most permissive way when it has duplicate keys, with a
/// description of each ambiguity (empty for an unambiguous document).
pub fn read(text: &str) -> Result<(Value, Vec<String>), serde_json::Error> {
    let raw: Raw = serde_json::from_str(text)?;
    if !raw.has_duplicates() {
        return Ok((raw.plain(), Vec::new()));
    }
    let mut notes = Vec::new();
    let Raw::Object(entries) = raw else {
        return Ok((raw.plain(), notes));
    };
    let mut top = Map::new();
    let mut statements: Vec<Raw> = Vec::new();
    let mut statement_keys = 0;
    for (k, v) in entries {
        if k == "Statement" {
            statement_keys += 1;
            match v {
                Raw::Array(items) => statements.extend(items),
                other => statements.push(other),
            }
        } else {
            if top.contains_key(&k) {
                notes.push(format!("duplicate top-level key {k:?}: the last is read"));
            }
            top.insert(k, v.plain());
        }
    }
    if statement_keys > 1 {
        notes.push(format!(
            "{statement_keys} Statement keys: every statement of each is read"
        ));
    }
    if statement_keys > 0 {
        let kept: Vec<Value> = statements
            .into_iter()
            .enumerate()
            .filter_map(|(i, s)| statement(i, s, &mut notes))
            .collect();
        top.insert("Statement".into(), Value::Array(kept));
    }
    Ok((Value::Object(top), notes))
}

/// One statement, its duplicate keys read the most permissive way; `None` for a Deny left out.
fn statement(index: usize, raw: Raw, notes: &mut Vec<String>) -> Option<Value> {
    let Raw::Object(entries) = raw else {
        return Some(raw.plain());
    };
    let mut grouped: Vec<(String, Vec<Value>)> = Vec::new();
    for (k, v) in entries {
        let v = v.plain();
        match grouped.iter_mut().find(|(name, _)| *name == k) {
            Some((_, values)) => values.push(v),
            None => grouped.push((k, vec![v])),
        }
    }
    let duplicated: Vec<&str> = grouped
        .iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|(k, _)| k.as_str())
        .collect();
    if duplicated.is_empty() {
        return Some(Value::Object(
            grouped.into_iter().map(|(k, mut v)| (k, v.remove(0))).collect(),
        ));
    }
    let effects: Vec<&Value> = grouped
        .iter()
        .filter(|(k, _)| k == "Effect")
        .flat_map(|(_, v)| v.iter())
        .collect();
    let allow = effects.iter().any(|e| e.as_str() == Some("Allow"));
    if !allow {
        notes.push(format!(
            "statement {index}: duplicate {}: a Deny read as denying nothing",
            duplicated.join(", ")
        ));
        return None;
    }
    notes.push(format!(
        "statement {index}: duplicate {}: read as its most permissive Allow",
        duplicated.join(", ")
    ));
    let mut out = Map::new();
    for (k, values) in grouped {
        let merged = match k.as_str() {
            "Effect" => Value::String("Allow".into()),
            "Action" | "Resource" | "Principal" if values.len() > 1 => union(values),
            "NotAction" | "NotResource" if values.len() > 1 => common(values),
            "Condition" if values.len() > 1 => continue,
            _ => values.into_iter().last().unwrap_or(Value::Null),
        };
        out.insert(k, merged);
    }
    Some(Value::Object(out))
}

/// The patterns of a string or a list of strings.
fn patterns(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    }
}

/// Every copy's patterns together (for `Principal` objects: each key's, together).
fn union(values: Vec<Value>) -> Value {
    if values.iter().all(Value::is_object) {
        let mut out = Map::new();
        for v in values {
            if let Value::Object(m) = v {
                for (k, x) in m {
                    let mut all = out.remove(&k).map(|e| patterns(&e)).unwrap_or_default();
                    for p in patterns(&x) {
                        if !all.contains(&p) {
                            all.push(p);
                        }
                    }
                    out.insert(k, Value::Array(all));
                }
            }
        }
        return Value::Object(out);
    }
    if values.iter().any(|v| v.as_str() == Some("*")) {
        return Value::String("*".into());
    }
    let mut all: Vec<Value> = Vec::new();
    for v in &values {
        for p in patterns(v) {
            if !all.contains(&p) {
                all.push(p);
            }
        }
    }
    Value::Array(all)
}

/// The patterns every copy has (what all of them exclude).
fn common(values: Vec<Value>) -> Value {
    let lists: Vec<Vec<Value>> = values.iter().map(patterns).collect();
    let first = lists.first().cloned().unwrap_or_default();
    Value::Array(
        first
            .into_iter()
            .filter(|p| lists.iter().all(|l| l.contains(p)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::read;
    use serde_json::json;

    #[test]
    fn an_unambiguous_document_reads_as_json_does() {
        let text =
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
        let (v, notes) = read(text).unwrap();
        assert!(notes.is_empty());
        assert_eq!(v, serde_json::from_str::<serde_json::Value>(text).unwrap());
    }

    #[test]
    fn duplicate_keys_are_read_the_most_permissive_way() {
        let (v, notes) = read(
            r#"{"Statement":[
                {"Effect":"Deny","Effect":"Allow","Action":"s3:GetObject","Action":"iam:*","Resource":"*"},
                {"Effect":"Allow","NotAction":["iam:*","s3:*"],"NotAction":["iam:*"],"Resource":"*",
                 "Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}},"Condition":{}},
                {"Effect":"Deny","Action":"*","Action":"iam:Get*","Resource":"*"}
            ]}"#,
        )
        .unwrap();
        let s = v["Statement"].as_array().unwrap();
        assert_eq!(s.len(), 2, "the ambiguous Deny denies nothing: {v}");
        assert_eq!(s[0]["Effect"], "Allow");
        assert_eq!(s[0]["Action"], json!(["s3:GetObject", "iam:*"]));
        assert_eq!(s[1]["NotAction"], json!(["iam:*"]));
        assert!(s[1].get("Condition").is_none(), "{}", s[1]);
        assert_eq!(notes.len(), 3, "{notes:?}");
    }

    #[test]
    fn two_statement_lists_are_both_read() {
        let (v, notes) = read(
            r#"{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}],
                "Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        )
        .unwrap();
        assert_eq!(v["Statement"].as_array().unwrap().len(), 2);
        assert!(notes[0].contains("2 Statement keys"), "{notes:?}");
    }

    #[test]
    fn a_principal_object_is_merged_key_by_key() {
        let (v, _) = read(
            r#"{"Statement":[{"Effect":"Allow","Action":"sts:AssumeRole",
                "Principal":{"Service":"ec2.amazonaws.com"},"Principal":{"AWS":"*"}}]}"#,
        )
        .unwrap();
        assert_eq!(
            v["Statement"][0]["Principal"],
            json!({"Service": ["ec2.amazonaws.com"], "AWS": ["*"]})
        );
    }
}
