//! IAM policy documents: decoding, a typed model, and the matching the rules need.
//!
//! Choices (also in ARCHITECTURE.md):
//! - Documents arrive as JSON text or URL-encoded JSON (as `GetPolicyVersion`, `GetUserPolicy`,
//!   `GetRolePolicy`, `GetGroupPolicy` and Config return them). URL-encoded text is decoded with `+`
//!   read as a space; a literal `+` is always encoded as `%2B` by those services.
//! - Anything over [`MAX_DOCUMENT_BYTES`] is rejected before parsing: no IAM document is that large.
//! - `Statement` may be an object or an array; `Action`/`NotAction`/`Resource`/`NotResource` a string
//!   or an array of strings. Anything else is a typed error, never a panic.
//! - Each statement keeps its original JSON so a rewrite keeps the untouched statements byte for
//!   byte (same keys, same order, same values).

use crate::error::PolicyError;
use serde::Serialize;
use serde_json::{Map, Value};

/// Upper bound on the raw (possibly URL-encoded) document size we parse at all. Customer documents
/// are bound by IAM's quotas ([`DocumentKind::limit`], at most 10,240 characters), but AWS-managed
/// policies are not: the largest (e.g. ReadOnlyAccess-style policies) are about 150 KB. The bound
/// exists to refuse hostile input early.
pub const MAX_DOCUMENT_BYTES: usize = 512 * 1024;

/// `Allow` or `Deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Effect {
    Allow,
    Deny,
}

/// `Action` or `NotAction` with its patterns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "patterns")]
pub enum ActionBlock {
    Action(Vec<String>),
    NotAction(Vec<String>),
}

/// `Resource` or `NotResource` with its patterns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "patterns")]
pub enum ResourceBlock {
    Resource(Vec<String>),
    NotResource(Vec<String>),
}

/// `Principal` or `NotPrincipal`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "spec")]
pub enum PrincipalBlock {
    Principal(PrincipalSpec),
    NotPrincipal(PrincipalSpec),
}

/// `"*"`, or a map such as `{"AWS": [...], "Service": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrincipalSpec {
    /// `"Principal": "*"`.
    pub any: bool,
    /// Principal type (`AWS`, `Service`, `Federated`, `CanonicalUser`) to values.
    pub entries: std::collections::BTreeMap<String, Vec<String>>,
}

impl PrincipalSpec {
    /// True for `"*"` and for `{"AWS": "*"}` (alone or in a list): anyone at all.
    pub fn includes_everyone(&self) -> bool {
        self.any || self.entries.get("AWS").is_some_and(|v| v.iter().any(|p| p == "*"))
    }
}

/// Which limit applies to a document (IAM quotas, counted without whitespace).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DocumentKind {
    Managed,
    InlineUser,
    InlineRole,
    InlineGroup,
    Trust,
}

impl std::fmt::Display for DocumentKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DocumentKind::Managed => "managed policy",
            DocumentKind::InlineUser => "user inline policy",
            DocumentKind::InlineRole => "role inline policy",
            DocumentKind::InlineGroup => "group inline policy",
            DocumentKind::Trust => "role trust policy",
        })
    }
}

impl DocumentKind {
    /// IAM's character limit, whitespace excluded. Inline limits are per principal in IAM (all
    /// inline policies together), so a single document over them can never be valid. The trust
    /// limit is the raised quota (the default is 2,048).
    pub fn limit(self) -> usize {
        match self {
            DocumentKind::Managed => 6_144,
            DocumentKind::InlineUser => 2_048,
            DocumentKind::InlineRole => 10_240,
            DocumentKind::InlineGroup => 5_120,
            DocumentKind::Trust => 4_096,
        }
    }
}

/// One statement, typed, with its original JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Statement {
    /// Position in the document's statement list (0-based).
    pub index: usize,
    pub sid: Option<String>,
    pub effect: Effect,
    pub actions: ActionBlock,
    /// Absent in trust policies.
    pub resources: Option<ResourceBlock>,
    /// Present in trust and resource policies.
    pub principal: Option<PrincipalBlock>,
    pub has_condition: bool,
    /// The condition keys used (lower-cased), e.g. `aws:principalorgid`.
    pub condition_keys: Vec<String>,
    #[serde(skip)]
    pub raw: Value,
}

impl Statement {
    /// True when the statement's Action/NotAction covers `action` (IAM wildcard rules).
    pub fn matches_action(&self, action: &str) -> bool {
        match &self.actions {
            ActionBlock::Action(p) => p.iter().any(|p| wildcard_match(p, action)),
            ActionBlock::NotAction(p) => !p.iter().any(|p| wildcard_match(p, action)),
        }
    }

    /// For Allow: true when the statement reaches every resource. `Resource: "*"` does; so does
    /// `NotResource` (it excludes a few resources and grants the rest — treated as everywhere,
    /// erring towards reporting). A statement with no Resource (trust policies) does not.
    pub fn allow_reaches_all_resources(&self) -> bool {
        match &self.resources {
            Some(ResourceBlock::Resource(r)) => r.iter().any(|r| is_all_stars(r)),
            Some(ResourceBlock::NotResource(_)) => true,
            None => false,
        }
    }

    /// For Deny: true only for an unconditional `Resource: "*"`. A Deny with a Condition or on
    /// particular resources removes nothing from a finding (we cannot know it always applies).
    pub fn denies_everywhere(&self) -> bool {
        self.effect == Effect::Deny
            && !self.has_condition
            && matches!(&self.resources, Some(ResourceBlock::Resource(r)) if r.iter().any(|r| is_all_stars(r)))
    }

    /// Like [`Statement::matches_action`], but an `Action` list's every-action patterns (`*`,
    /// `*:*`) are not counted: what the statement grants besides "everything" (judged by the
    /// admin rule), so a rule still sees `iam:PutUserPolicy` in `["*", "iam:PutUserPolicy"]`.
    pub fn matches_action_besides_any(&self, action: &str) -> bool {
        match &self.actions {
            ActionBlock::Action(p) => p
                .iter()
                .filter(|p| !is_any_action(p))
                .any(|p| wildcard_match(p, action)),
            ActionBlock::NotAction(_) => self.matches_action(action),
        }
    }

    /// True when the Action list holds an every-action pattern (`*`, `*:*`).
    pub fn has_any_action_pattern(&self) -> bool {
        matches!(&self.actions, ActionBlock::Action(p) if p.iter().any(|p| is_any_action(p)))
    }

    /// A label for reports: the Sid when there is one, else the position.
    pub fn label(&self) -> String {
        match &self.sid {
            Some(s) if !s.is_empty() => format!("Sid {s:?}"),
            _ => format!("statement #{}", self.index),
        }
    }

    /// True when this statement allows every action on every resource (`*` or `*:*` on `*`),
    /// ignoring any Condition (callers decide what a Condition means).
    pub fn allows_all_actions_on_all_resources(&self) -> bool {
        let all_actions = match &self.actions {
            ActionBlock::Action(p) => p.iter().any(|p| is_any_action(p)),
            ActionBlock::NotAction(_) => false,
        };
        let all_resources = match &self.resources {
            Some(ResourceBlock::Resource(r)) => r.iter().any(|r| is_all_stars(r)),
            _ => false,
        };
        self.effect == Effect::Allow && all_actions && all_resources
    }
}

fn is_all_stars(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c == '*')
}

/// A pattern that matches every action: `*`, `*:*` (and redundant forms such as `**`).
pub fn is_any_action(pattern: &str) -> bool {
    let colons = pattern.matches(':').count();
    !pattern.is_empty()
        && pattern.chars().all(|c| c == '*' || c == ':')
        && colons <= 1
        && pattern.split(':').all(|part| !part.is_empty())
}

/// IAM-style wildcard match: `*` any run, `?` one character, ASCII case-insensitive.
pub fn wildcard_match(pattern: &str, value: &str) -> bool {
    let p: Vec<char> = pattern.chars().map(|c| c.to_ascii_lowercase()).collect();
    let v: Vec<char> = value.chars().map(|c| c.to_ascii_lowercase()).collect();
    crate::catalogue::glob_by(&p, &v, '*', '?')
}

/// Checks a decoded document against IAM's size limit for its kind.
pub fn check_size(text: &str, kind: DocumentKind) -> Result<(), PolicyError> {
    let chars = text.chars().filter(|c| !c.is_whitespace()).count();
    if chars > kind.limit() {
        return Err(PolicyError::OverLimit {
            kind,
            chars,
            limit: kind.limit(),
        });
    }
    Ok(())
}

/// A parsed policy document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyDocument {
    pub version: Option<String>,
    pub statements: Vec<Statement>,
    /// Why the document's JSON can be read more than one way (duplicate keys), when it can: it is
    /// then judged on its most permissive reading ([`crate::policy_json`]).
    pub ambiguities: Vec<String>,
    /// The decoded document's top level as it was, to rewrite it faithfully.
    #[serde(skip)]
    top: Map<String, Value>,
}

impl PolicyDocument {
    /// Decodes (if URL-encoded) and parses a document.
    pub fn parse(raw: &str) -> Result<Self, PolicyError> {
        let text = decode(raw)?;
        Self::read(&text)
    }

    /// Parses decoded text; duplicate keys are read the most permissive way and noted.
    fn read(text: &str) -> Result<Self, PolicyError> {
        let (value, ambiguities) =
            crate::policy_json::read(text).map_err(|e| PolicyError::NotJson { message: e.to_string() })?;
        let mut doc = Self::from_value(value)?;
        let statements = std::mem::replace(&mut doc.ambiguities, ambiguities);
        doc.ambiguities.extend(statements);
        Ok(doc)
    }

    /// Several documents read as one: a principal's permission policies (IAM allows what any of
    /// them allows; an explicit Deny in any of them wins). Statement `i` of the result is
    /// statement `origin[i].1` of document `origin[i].0`.
    pub fn merged(docs: &[&PolicyDocument]) -> (PolicyDocument, Vec<(usize, usize)>) {
        let mut statements = Vec::new();
        let mut origin = Vec::new();
        let mut ambiguities = Vec::new();
        for (d, doc) in docs.iter().enumerate() {
            for s in &doc.statements {
                origin.push((d, s.index));
                statements.push(Statement {
                    index: statements.len(),
                    ..s.clone()
                });
            }
            ambiguities.extend(doc.ambiguities.iter().cloned());
        }
        let merged = PolicyDocument {
            version: Some("2012-10-17".into()),
            statements,
            ambiguities,
            top: Map::new(),
        };
        (merged, origin)
    }

    /// Decodes, checks IAM's size limit for `kind`, and parses.
    pub fn parse_as(raw: &str, kind: DocumentKind) -> Result<Self, PolicyError> {
        let text = decode(raw)?;
        check_size(&text, kind)?;
        Self::read(&text)
    }

    /// Parses an already-decoded JSON value.
    pub fn from_value(value: Value) -> Result<Self, PolicyError> {
        let Value::Object(top) = value else {
            return Err(PolicyError::NotAnObject);
        };
        let version = match top.get("Version") {
            None => None,
            Some(Value::String(v)) => Some(v.clone()),
            Some(_) => {
                return Err(PolicyError::BadShape {
                    message: "Version must be a string".into(),
                })
            }
        };
        let raw_statements: Vec<Value> = match top.get("Statement") {
            Some(Value::Array(items)) => items.clone(),
            Some(obj @ Value::Object(_)) => vec![obj.clone()],
            Some(_) => {
                return Err(PolicyError::BadShape {
                    message: "Statement must be an object or an array of objects".into(),
                })
            }
            None => {
                return Err(PolicyError::BadShape {
                    message: "Statement is missing".into(),
                })
            }
        };
        let mut ambiguities = Vec::new();
        let statements = raw_statements
            .into_iter()
            .enumerate()
            .map(|(index, raw)| parse_statement(index, raw, &mut ambiguities))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PolicyDocument {
            version,
            statements,
            ambiguities,
            top,
        })
    }

    /// The document as JSON text without the statements at `drop` (by index), or `None` when no
    /// statement would remain. Untouched statements and top-level keys are kept as they were.
    pub fn without_statements(&self, drop: &[usize]) -> Option<String> {
        let kept: Vec<Value> = self
            .statements
            .iter()
            .filter(|s| !drop.contains(&s.index))
            .map(|s| s.raw.clone())
            .collect();
        self.with_statements(kept)
    }

    /// The document's top level with `statements` as its Statement list; `None` when empty.
    pub fn with_statements(&self, statements: Vec<Value>) -> Option<String> {
        if statements.is_empty() {
            return None;
        }
        let mut top = self.top.clone();
        top.insert("Statement".into(), Value::Array(statements));
        Some(Value::Object(top).to_string())
    }

    /// True when an unconditional Deny on every resource covers `action`. Such a Deny removes the
    /// risk of any Allow of the same action; a Deny with a Condition or on particular resources
    /// removes nothing (it may not apply when it matters).
    pub fn denies_everywhere(&self, action: &str) -> bool {
        self.statements
            .iter()
            .any(|s| s.denies_everywhere() && s.matches_action(action))
    }

    /// The document as compact JSON text.
    pub fn to_json(&self) -> String {
        Value::Object(self.top.clone()).to_string()
    }
}

/// Decodes a document that may be URL-encoded; enforces [`MAX_DOCUMENT_BYTES`].
pub fn decode(raw: &str) -> Result<String, PolicyError> {
    if raw.len() > MAX_DOCUMENT_BYTES {
        return Err(PolicyError::TooLarge {
            size: raw.len(),
            limit: MAX_DOCUMENT_BYTES,
        });
    }
    let trimmed = raw.trim_start();
    if trimmed.starts_with('{') || !trimmed.starts_with('%') {
        return Ok(raw.to_string());
    }
    let plus_as_space = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&plus_as_space)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|e| PolicyError::BadEncoding { message: e.to_string() })
}

fn string_list(index: usize, key: &str, v: &Value) -> Result<Vec<String>, PolicyError> {
    let bad = || PolicyError::BadStatement {
        index,
        message: format!("{key} must be a string or an array of strings"),
    };
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|i| i.as_str().map(str::to_string).ok_or_else(bad))
            .collect(),
        _ => Err(bad()),
    }
}

/// `ambiguities` gets what the statement leaves to the reader (an `Effect` that is neither
/// `Allow` nor `Deny`: read the most permissive way, as `Allow`).
fn parse_statement(index: usize, raw: Value, ambiguities: &mut Vec<String>) -> Result<Statement, PolicyError> {
    let Value::Object(obj) = &raw else {
        return Err(PolicyError::BadStatement {
            index,
            message: "statement is not an object".into(),
        });
    };
    let bad = |message: &str| PolicyError::BadStatement {
        index,
        message: message.into(),
    };
    let sid = match obj.get("Sid") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(bad("Sid must be a string")),
    };
    let effect = match obj.get("Effect") {
        Some(Value::String(e)) if e == "Allow" => Effect::Allow,
        Some(Value::String(e)) if e == "Deny" => Effect::Deny,
        // IAM refuses such a statement when it is written, but a document can reach the responder
        // other ways (Config items, `check-policy`): judged as the grant it would be, never as a
        // Deny that protects, and never rewritten.
        other => {
            let shown = other.map_or_else(|| "missing".to_string(), |v| format!("{v}"));
            let shown: String = shown.chars().take(40).collect();
            ambiguities.push(format!(
                "statement #{index}: Effect {shown} is neither \"Allow\" nor \"Deny\", read as Allow"
            ));
            Effect::Allow
        }
    };
    let actions = match (obj.get("Action"), obj.get("NotAction")) {
        (Some(a), None) => ActionBlock::Action(string_list(index, "Action", a)?),
        (None, Some(n)) => ActionBlock::NotAction(string_list(index, "NotAction", n)?),
        (Some(_), Some(_)) => return Err(bad("Action and NotAction cannot both be present")),
        (None, None) => return Err(bad("Action or NotAction is required")),
    };
    let resources = match (obj.get("Resource"), obj.get("NotResource")) {
        (Some(r), None) => Some(ResourceBlock::Resource(string_list(index, "Resource", r)?)),
        (None, Some(n)) => Some(ResourceBlock::NotResource(string_list(index, "NotResource", n)?)),
        (Some(_), Some(_)) => return Err(bad("Resource and NotResource cannot both be present")),
        (None, None) => None,
    };
    let principal = match (obj.get("Principal"), obj.get("NotPrincipal")) {
        (Some(p), None) => Some(PrincipalBlock::Principal(principal_spec(index, "Principal", p)?)),
        (None, Some(n)) => Some(PrincipalBlock::NotPrincipal(principal_spec(index, "NotPrincipal", n)?)),
        (Some(_), Some(_)) => return Err(bad("Principal and NotPrincipal cannot both be present")),
        (None, None) => None,
    };
    let mut condition_keys = Vec::new();
    match obj.get("Condition") {
        None => {}
        Some(Value::Object(ops)) => {
            for (op, block) in ops {
                let Value::Object(keys) = block else {
                    return Err(bad(&format!("Condition operator {op} must map keys to values")));
                };
                for (key, value) in keys {
                    let ok = match value {
                        Value::String(_) | Value::Bool(_) | Value::Number(_) => true,
                        Value::Array(items) => items.iter().all(|i| i.is_string() || i.is_boolean() || i.is_number()),
                        _ => false,
                    };
                    if !ok {
                        return Err(bad(&format!(
                            "Condition value of {key} must be a scalar or a list of scalars"
                        )));
                    }
                    condition_keys.push(key.to_ascii_lowercase());
                }
            }
        }
        Some(_) => return Err(bad("Condition must be an object")),
    }
    let has_condition = !condition_keys.is_empty();
    Ok(Statement {
        index,
        sid,
        effect,
        actions,
        resources,
        principal,
        has_condition,
        condition_keys,
        raw,
    })
}

fn principal_spec(index: usize, key: &str, v: &Value) -> Result<PrincipalSpec, PolicyError> {
    match v {
        Value::String(s) if s == "*" => Ok(PrincipalSpec {
            any: true,
            entries: Default::default(),
        }),
        Value::Object(map) if !map.is_empty() => {
            let mut entries = std::collections::BTreeMap::new();
            for (k, v) in map {
                if !matches!(k.as_str(), "AWS" | "Service" | "Federated" | "CanonicalUser") {
                    return Err(PolicyError::BadStatement {
                        index,
                        message: format!("unknown principal type {k:?}"),
                    });
                }
                entries.insert(k.clone(), string_list(index, key, v)?);
            }
            Ok(PrincipalSpec { any: false, entries })
        }
        _ => Err(PolicyError::BadStatement {
            index,
            message: format!("{key} must be \"*\" or a map of principal types to a string or list of strings"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADMIN: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

    #[test]
    fn parses_single_object_statement_and_string_fields() {
        let d = PolicyDocument::parse(r#"{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#)
            .unwrap();
        assert_eq!(d.version, None);
        assert_eq!(d.statements.len(), 1);
        assert_eq!(
            d.statements[0].actions,
            ActionBlock::Action(vec!["s3:GetObject".into()])
        );
    }

    #[test]
    fn detects_admin_forms() {
        for doc in [
            ADMIN,
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*","*:*"],"Resource":["arn:aws:s3:::x","*"]}]}"#,
        ] {
            let d = PolicyDocument::parse(doc).unwrap();
            assert!(
                d.statements.iter().any(Statement::allows_all_actions_on_all_resources),
                "{doc}"
            );
        }
        for doc in [
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#,
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::bucket/*"}]}"#,
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":":*","Resource":"*"}]}"#,
        ] {
            let d = PolicyDocument::parse(doc).unwrap();
            assert!(
                !d.statements.iter().any(Statement::allows_all_actions_on_all_resources),
                "{doc}"
            );
        }
    }

    #[test]
    fn decodes_url_encoded_documents() {
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22*%22%2C%22Resource%22%3A%22*%22%7D%5D%7D";
        let d = PolicyDocument::parse(encoded).unwrap();
        assert!(d.statements[0].allows_all_actions_on_all_resources());
        let spaced = "%7B+%22Statement%22%3A+%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3AGet%2B%22%2C%22Resource%22%3A%22*%22%7D%7D";
        let d = PolicyDocument::parse(spaced).unwrap();
        assert_eq!(d.statements[0].actions, ActionBlock::Action(vec!["s3:Get+".into()]));
    }

    #[test]
    fn rejects_bad_documents_with_typed_errors() {
        assert!(matches!(
            PolicyDocument::parse("not json"),
            Err(PolicyError::NotJson { .. })
        ));
        assert!(matches!(PolicyDocument::parse("[1]"), Err(PolicyError::NotAnObject)));
        assert!(matches!(
            PolicyDocument::parse("%7B%FF%FE"),
            Err(PolicyError::BadEncoding { .. })
        ));
        assert!(matches!(
            PolicyDocument::parse(r#"{"Version":"2012-10-17"}"#),
            Err(PolicyError::BadShape { .. })
        ));
        assert!(matches!(
            PolicyDocument::parse(r#"{"Statement":[{"Effect":"Allow","Action":[1],"Resource":"*"}]}"#),
            Err(PolicyError::BadStatement { .. })
        ));
        assert!(matches!(
            PolicyDocument::parse(r#"{"Statement":[{"Effect":"Allow","Action":"*","NotAction":"x","Resource":"*"}]}"#),
            Err(PolicyError::BadStatement { .. })
        ));
        let huge = format!(
            "{{\"Statement\":[{}]}}",
            "{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"*\"},".repeat(12_000)
        );
        assert!(matches!(
            PolicyDocument::parse(&huge),
            Err(PolicyError::TooLarge { .. })
        ));
    }

    #[test]
    fn an_effect_neither_allow_nor_deny_is_read_as_allow_and_noted() {
        for effect in [r#""Maybe""#, r#""allow""#, r#""deny""#, "1", "null"] {
            let text = format!(
                r#"{{"Statement":[{{"Effect":{effect},"Action":"*","Resource":"*"}},{{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}]}}"#
            );
            let d = PolicyDocument::parse(&text).unwrap();
            assert_eq!(d.statements[0].effect, Effect::Allow, "{effect}");
            assert_eq!(d.ambiguities.len(), 1, "{effect}: {:?}", d.ambiguities);
            assert!(d.ambiguities[0].contains("statement #0"), "{:?}", d.ambiguities);
        }
        let d = PolicyDocument::parse(r#"{"Statement":[{"Action":"iam:*","Resource":"*"}]}"#).unwrap();
        assert!(d.ambiguities[0].contains("missing"), "{:?}", d.ambiguities);
        assert!(PolicyDocument::parse(ADMIN).unwrap().ambiguities.is_empty());
    }

    #[test]
    fn rewrite_keeps_other_statements_verbatim() {
        let doc = r#"{"Version":"2012-10-17","Id":"keep-me","Statement":[{"Sid":"Admin","Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"Read","Effect":"Allow","Action":["s3:GetObject"],"Resource":"arn:aws:s3:::b/*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}]}"#;
        let d = PolicyDocument::parse(doc).unwrap();
        let out = d.without_statements(&[0]).unwrap();
        assert_eq!(
            out,
            r#"{"Version":"2012-10-17","Id":"keep-me","Statement":[{"Sid":"Read","Effect":"Allow","Action":["s3:GetObject"],"Resource":"arn:aws:s3:::b/*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}]}"#
        );
        assert_eq!(d.without_statements(&[0, 1]), None);
    }

    #[test]
    fn wildcards_match_like_iam() {
        assert!(wildcard_match("iam:Put*", "IAM:PutUserPolicy"));
        assert!(wildcard_match("IAM:pass?ole", "iam:PassRole"));
        assert!(wildcard_match("*", "s3:GetObject"));
        assert!(wildcard_match("iam:*Policy*", "iam:AttachRolePolicyX"));
        assert!(!wildcard_match("iam:Get*", "iam:PutUserPolicy"));
        assert!(!wildcard_match("s3:?", "s3:Get"));
        assert!(wildcard_match("a*b*c", "aXXbYYc"));
        assert!(!wildcard_match("a*b*c", "aXXbYY"));
    }
}
