//! Properties of the statement-level fixes, over generated policies:
//! 1. the rewritten policy never allows an action/resource pair the original did not;
//! 2. the rewritten policy has no offending statement left (except ones under a Condition, which are
//!    never fixed automatically).

use compliance_responder::edit::apply_edits;
use compliance_responder::policy::{wildcard_match, DocumentKind, Effect, PolicyDocument, ResourceBlock, Statement};
use compliance_responder::rules::{self, iam_privilege_escalation::single_actions};
use proptest::prelude::*;

const PATTERNS: &[&str] = &[
    "*",
    "*:*",
    "s3:*",
    "s3:GetObject",
    "s3:Get*",
    "iam:*",
    "iam:Put*",
    "iam:PassRole",
    "IAM:pass?ole",
    "ec2:RunInstances",
    "ec2:*",
    "lambda:CreateFunction",
    "lambda:InvokeFunction",
    "lambda:Update*",
    "iam:CreateAccessKey",
    "iam:Get*",
    "glue:*",
    "cloudformation:CreateStack",
    "iam:*Policy*",
];
const RESOURCES: &[&str] = &["*", "arn:aws:s3:::b/*", "arn:aws:iam::123456789012:role/*"];
const PROBE_RESOURCES: &[&str] = &[
    "arn:aws:s3:::b/x",
    "arn:aws:iam::123456789012:role/r",
    "arn:aws:ec2:us-east-1:1:instance/i",
];

fn probe_actions() -> Vec<String> {
    let mut v: Vec<String> = single_actions().iter().map(|s| s.to_string()).collect();
    v.extend(
        [
            "iam:PassRole",
            "ec2:RunInstances",
            "lambda:CreateFunction",
            "lambda:InvokeFunction",
            "s3:GetObject",
            "s3:PutObject",
            "ec2:DescribeInstances",
            "dynamodb:GetItem",
            "glue:GetJob",
            "cloudformation:CreateStack",
            "iam:GetUser",
            "sts:AssumeRole",
        ]
        .map(String::from),
    );
    v
}

fn list(items: Vec<&str>) -> String {
    format!(
        "[{}]",
        items.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(",")
    )
}

fn statement() -> impl Strategy<Value = String> {
    (
        prop::bool::weighted(0.8),
        prop::bool::weighted(0.8),
        prop::collection::vec(prop::sample::select(PATTERNS), 1..4),
        prop::bool::weighted(0.9),
        prop::collection::vec(prop::sample::select(RESOURCES), 1..3),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(allow, action, patterns, resource, resources, condition)| {
            format!(
                r#"{{"Effect":"{}","{}":{},"{}":{}{}}}"#,
                if allow { "Allow" } else { "Deny" },
                if action { "Action" } else { "NotAction" },
                list(patterns),
                if resource { "Resource" } else { "NotResource" },
                list(resources),
                if condition {
                    r#","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}"#
                } else {
                    ""
                }
            )
        })
}

fn policy() -> impl Strategy<Value = String> {
    prop::collection::vec(statement(), 1..5)
        .prop_map(|s| format!(r#"{{"Version":"2012-10-17","Statement":[{}]}}"#, s.join(",")))
}

fn reaches(s: &Statement, resource: &str) -> bool {
    match &s.resources {
        Some(ResourceBlock::Resource(r)) => r.iter().any(|p| wildcard_match(p, resource)),
        Some(ResourceBlock::NotResource(r)) => !r.iter().any(|p| wildcard_match(p, resource)),
        None => true,
    }
}

/// IAM's decision, treating every Condition as satisfied (both documents keep the same conditions).
fn allows(doc: &PolicyDocument, action: &str, resource: &str) -> bool {
    let applies = |s: &&Statement| s.matches_action(action) && reaches(s, resource);
    let allowed = doc
        .statements
        .iter()
        .filter(|s| s.effect == Effect::Allow)
        .any(|s| applies(&s));
    let denied = doc
        .statements
        .iter()
        .filter(|s| s.effect == Effect::Deny)
        .any(|s| applies(&s));
    allowed && !denied
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn rewrites_never_grant_more_and_leave_nothing_fixable(text in policy()) {
        let registry = rules::registry(&compliance_responder::Config::default());
        let original = PolicyDocument::parse(&text).unwrap();
        let edits: Vec<_> = rules::check_document(&registry, &original, DocumentKind::Managed)
            .into_iter()
            .flat_map(|(_, violations)| violations)
            .filter(|v| !v.conditioned)
            .flat_map(|v| v.edits)
            .collect();
        let Some(rewritten) = apply_edits(&original, &edits) else {
            return Ok(()); // nothing left: grants nothing
        };
        let rewritten = PolicyDocument::parse(&rewritten).unwrap();
        for action in probe_actions() {
            for resource in PROBE_RESOURCES {
                prop_assert!(
                    !allows(&rewritten, &action, resource) || allows(&original, &action, resource),
                    "rewrite grants {} on {}\noriginal: {}\nrewritten: {}", action, resource, text, rewritten.to_json()
                );
            }
        }
        for (meta, violations) in rules::check_document(&registry, &rewritten, DocumentKind::Managed) {
            let left: Vec<_> = violations.iter().filter(|v| !v.conditioned).collect();
            prop_assert!(left.is_empty(), "{} still finds {:?}\noriginal: {}\nrewritten: {}", meta.id, left, text, rewritten.to_json());
        }
    }
}
