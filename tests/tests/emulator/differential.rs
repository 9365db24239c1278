//! The differential oracle (issue 14): the engine's answer to "is action A on resource R allowed
//! by this policy?" ([`Grants::allows`]) against an independent IAM simulator,
//! `@cloud-copilot/iam-simulate` (pinned in tests/oracle/package-lock.json, installed into
//! .tools/oracle by `make tools`; test time only, never shipped). Queries come from generated
//! policies (Allow/Deny, Action/NotAction, Resource/NotResource, wildcards at the start, middle and
//! end of action names and ARNs, `?`, letter case) and from the AWS-managed policies moto ships
//! (Conditions stripped on both sides: the engine's question is what a policy grants before
//! conditions). Every disagreement is a bug in one of the two: the engine is fixed, or the case is
//! listed in tests/oracle/known-differences.tsv with the reason.
//!
//! `make test` runs a bounded sample (`DIFFERENTIAL_QUERIES`, default 6,000);
//! `make differential` runs 100,000.

use compliance_responder::catalogue::{ActionId, Catalogue};
use compliance_responder::grants::{Decision, Grants};
use compliance_responder::policy::PolicyDocument;
use integration_tests::repo_root;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

const SERVICES: &[&str] = &[
    "s3", "iam", "ec2", "lambda", "logs", "sqs", "dynamodb", "kms", "sns", "sts",
];
const NAMES: &[&str] = &[
    "app",
    "app-logs",
    "secret-data",
    "admin",
    "x1",
    "reports/2026",
    "team/app",
];
const ACCOUNTS: &[&str] = &["123456789012", "111122223333"];
const REGIONS: &[&str] = &["us-east-1", "eu-west-1"];

/// splitmix64: deterministic, so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.below(v.len())]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

fn random_action(rng: &mut Rng, cat: &Catalogue) -> ActionId {
    let service = cat.service_index(rng.pick(SERVICES)).expect("service in the catalogue");
    let n = cat.services[service as usize].actions.len();
    ActionId {
        service,
        action: rng.below(n) as u16,
    }
}

/// A concrete ARN of one of the action's resource types (`*` for actions without any).
fn resource_for(rng: &mut Rng, cat: &Catalogue, id: ActionId) -> String {
    let formats = cat.arn_formats(id);
    if formats.is_empty() {
        return "*".into();
    }
    let mut out = String::new();
    let mut rest = rng.pick(&formats);
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').map(|e| start + e + 1).unwrap_or(rest.len());
        let name = &rest[start + 2..end - 1];
        out.push_str(match name {
            "Partition" => "aws",
            "Region" => rng.pick(REGIONS),
            "Account" => rng.pick(ACCOUNTS),
            _ => rng.pick(NAMES),
        });
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn action_pattern(rng: &mut Rng, cat: &Catalogue) -> String {
    let id = random_action(rng, cat);
    let service = &cat.service(id).prefix;
    let name = &cat.action(id).name;
    let cut = |rng: &mut Rng, s: &str| {
        let chars: Vec<char> = s.chars().collect();
        let at = 1 + rng.below(chars.len().max(2) - 1);
        chars[..at.min(chars.len())].iter().collect::<String>()
    };
    match rng.below(9) {
        0 | 1 => format!("{service}:{name}"),
        2 => format!("{service}:{}", name.to_ascii_lowercase()),
        3 => format!("{service}:*"),
        4 => format!("{service}:{}*", cut(rng, name)),
        5 => {
            // A wildcard in the middle: Get*Policy, *Object*.
            let chars: Vec<char> = name.chars().collect();
            let a = rng.below(chars.len());
            let b = a + rng.below(chars.len() - a);
            format!(
                "{service}:{}*{}",
                chars[..a].iter().collect::<String>(),
                chars[b..].iter().collect::<String>()
            )
        }
        6 => {
            let mut chars: Vec<char> = name.chars().collect();
            let i = rng.below(chars.len());
            chars[i] = '?';
            format!("{service}:{}", chars.iter().collect::<String>())
        }
        7 => format!("{service}:*{}", &name[name.len().saturating_sub(1 + rng.below(5))..]),
        _ => "*".into(),
    }
}

fn resource_pattern(rng: &mut Rng, cat: &Catalogue) -> String {
    let id = random_action(rng, cat);
    let arn = resource_for(rng, cat, id);
    match rng.below(8) {
        0 => "*".into(),
        1 | 2 => arn,
        // Wildcards only in the resource part: IAM refuses a Resource that is not an ARN of six
        // parts (`arn:a*app` is a malformed policy, not a pattern).
        3 | 4 if arn.starts_with("arn:") => {
            let head = arn.match_indices(':').nth(4).map(|(i, _)| i + 1).unwrap_or(arn.len());
            let tail = &arn[head..];
            if rng.chance(50) {
                // Truncated and a `*` appended.
                format!("{}{}*", &arn[..head], &tail[..rng.below(tail.len() + 1)])
            } else {
                // A wildcard in the middle.
                let a = rng.below(tail.len() + 1);
                let b = a + rng.below(tail.len() - a + 1);
                format!("{}{}*{}", &arn[..head], &tail[..a], &tail[b..])
            }
        }
        3 | 4 => "*".into(),
        5 => (rng.pick(&[
            "arn:aws:iam::*:role/*",
            "arn:aws:s3:::app*",
            "arn:aws:*:*:123456789012:*",
        ]))
        .into(),
        6 => arn.replacen(rng.pick(ACCOUNTS), "*", 1),
        _ => arn.replace(rng.pick(NAMES), "?*"),
    }
}

fn generated_policy(rng: &mut Rng, cat: &Catalogue) -> Value {
    let statements: Vec<Value> = (0..1 + rng.below(4))
        .map(|_| {
            let effect = if rng.chance(65) { "Allow" } else { "Deny" };
            let actions: Vec<String> = (0..1 + rng.below(3)).map(|_| action_pattern(rng, cat)).collect();
            let resources: Vec<String> = (0..1 + rng.below(2)).map(|_| resource_pattern(rng, cat)).collect();
            let mut s = json!({"Effect": effect});
            s[if rng.chance(20) { "NotAction" } else { "Action" }] = json!(actions);
            s[if rng.chance(20) { "NotResource" } else { "Resource" }] = json!(resources);
            s
        })
        .collect();
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// The action names a policy spells out (queries aim at them half of the time).
fn named_actions(policy: &Value, cat: &Catalogue) -> Vec<ActionId> {
    let mut out = Vec::new();
    for s in policy["Statement"].as_array().into_iter().flatten() {
        for key in ["Action", "NotAction"] {
            match &s[key] {
                Value::String(p) => out.extend(cat.expand(p).into_iter().take(50)),
                Value::Array(list) => {
                    for p in list.iter().filter_map(Value::as_str) {
                        out.extend(cat.expand(p).into_iter().take(50));
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// AWS-managed policies moto ships, as they are (name, document).
pub fn managed_policy_documents() -> Vec<(String, Value)> {
    let lib = repo_root().join(".tools/venv/lib");
    let Some(path) = std::fs::read_dir(&lib)
        .ok()
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("site-packages/moto/iam/aws_managed_policies.py"))
        .find(|p| p.exists())
    else {
        return vec![];
    };
    let text = std::fs::read_to_string(path).unwrap();
    let start = text.find("\"\"\"").unwrap() + 3;
    let end = text.rfind("\"\"\"").unwrap();
    let all: Value = serde_json::from_str(&text[start..end]).unwrap();
    all.as_object()
        .unwrap()
        .iter()
        .map(|(name, p)| (name.clone(), p["Document"].clone()))
        .collect()
}

/// AWS-managed policies moto ships, Conditions removed.
fn managed_policies() -> Vec<Value> {
    managed_policy_documents()
        .into_iter()
        .map(|(_, mut doc)| {
            let list = match doc["Statement"].take() {
                Value::Array(v) => v,
                one => vec![one],
            };
            doc["Statement"] = Value::Array(
                list.into_iter()
                    .map(|mut s| {
                        if let Some(o) = s.as_object_mut() {
                            o.remove("Condition");
                        }
                        s
                    })
                    .collect(),
            );
            doc
        })
        .collect()
}

struct Query {
    policy: usize,
    action: String,
    resource: String,
}

fn ours(doc: &PolicyDocument, q: &Query) -> &'static str {
    match Grants::of(doc).allows(&q.action, &q.resource) {
        Decision::Allowed => "Allowed",
        Decision::ExplicitDeny => "ExplicitlyDenied",
        Decision::ImplicitDeny => "ImplicitlyDenied",
    }
}

/// The simulator's known difference (tests/oracle/known-differences.tsv, "inner-wildcard"): it
/// does not match a `*` in the resource part that has more pattern after it (`*/*`,
/// `security-group*/*`, `*:*`) the way IAM's documented glob does; every Allow that grants the
/// query does so through such a pattern.
fn inner_wildcard_grant(doc: &PolicyDocument, q: &Query) -> bool {
    use compliance_responder::policy::{Effect, ResourceBlock};
    let inner = |p: &str| {
        let head = p.match_indices(':').nth(4).map(|(i, _)| i + 1).unwrap_or(p.len());
        let tail = &p[head..];
        tail.find('*').is_some_and(|i| i + 1 < tail.len())
    };
    let granting: Vec<&String> = doc
        .statements
        .iter()
        .filter(|s| s.effect == Effect::Allow && s.matches_action(&q.action))
        .filter_map(|s| match &s.resources {
            Some(ResourceBlock::Resource(list)) => list
                .iter()
                .find(|p| compliance_responder::catalogue::glob(p.as_bytes(), q.resource.as_bytes())),
            _ => None,
        })
        .collect();
    !granting.is_empty() && granting.iter().all(|p| inner(p))
}

/// Known differences: `<substring of the policy JSON>\t<substring of the query>\t<reason>`.
fn known_differences() -> Vec<(String, String)> {
    std::fs::read_to_string(repo_root().join("tests/oracle/known-differences.tsv"))
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let mut parts = l.split('\t');
            Some((parts.next()?.to_string(), parts.next()?.to_string()))
        })
        .collect()
}

fn run(total: usize, seed: u64) {
    let oracle = repo_root().join(".tools/oracle");
    let node = std::fs::read_to_string(oracle.join(".node"))
        .expect("the oracle is not installed: run `make tools` (scripts/install-oracle.sh)");
    let cat = Catalogue::get();
    let mut rng = Rng(seed);
    let mut policies: Vec<Value> = managed_policies();
    let managed = policies.len();
    let mut queries: Vec<Query> = Vec::new();
    // A fifth of the queries go to the AWS-managed policies, the rest to generated ones.
    for i in 0..total / 5 {
        if managed == 0 {
            break;
        }
        let p = (i * 7919) % managed;
        let named = named_actions(&policies[p], cat);
        let id = if !named.is_empty() && rng.chance(60) {
            rng.pick(&named)
        } else {
            random_action(&mut rng, cat)
        };
        queries.push(Query {
            policy: p,
            action: cat.name(id),
            resource: resource_for(&mut rng, cat, id),
        });
    }
    while queries.len() < total {
        let policy = generated_policy(&mut rng, cat);
        let named = named_actions(&policy, cat);
        let p = policies.len();
        policies.push(policy);
        for _ in 0..10 {
            let id = if !named.is_empty() && rng.chance(50) {
                rng.pick(&named)
            } else {
                random_action(&mut rng, cat)
            };
            let mut action = cat.name(id);
            if rng.chance(10) {
                action = action.to_ascii_uppercase();
            }
            queries.push(Query {
                policy: p,
                action,
                resource: resource_for(&mut rng, cat, id),
            });
        }
    }
    queries.truncate(total);

    let mut child = Command::new(node.trim())
        .arg(oracle.join("simulate.mjs"))
        .current_dir(&oracle)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start node");
    let mut stdin = child.stdin.take().unwrap();
    let lines: Vec<String> = queries
        .iter()
        .enumerate()
        .map(|(i, q)| {
            json!({"id": i, "policy": policies[q.policy], "action": q.action, "resource": q.resource}).to_string()
        })
        .collect();
    let writer = std::thread::spawn(move || {
        for l in lines {
            writeln!(stdin, "{l}").unwrap();
        }
    });
    let reader = BufReader::new(child.stdout.take().unwrap());
    let mut answers: Vec<Value> = reader
        .lines()
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    writer.join().unwrap();
    child.wait().unwrap();
    answers.sort_by_key(|a| a["id"].as_u64());
    assert_eq!(answers.len(), queries.len(), "one answer per query");

    let docs: Vec<PolicyDocument> = policies
        .iter()
        .map(|p| PolicyDocument::from_value(p.clone()).expect("policy parses"))
        .collect();
    let known = known_differences();
    let (mut errors, mut agree, mut excused) = (0usize, 0usize, 0usize);
    let mut differ: Vec<String> = Vec::new();
    for (q, a) in queries.iter().zip(&answers) {
        let theirs = a["result"].as_str().unwrap_or("error");
        if theirs == "error" {
            errors += 1;
            continue;
        }
        let mine = ours(&docs[q.policy], q);
        if mine == theirs {
            agree += 1;
            continue;
        }
        let policy = policies[q.policy].to_string();
        let query = format!("{} {}", q.action, q.resource);
        let lower = query.to_ascii_lowercase();
        if known
            .iter()
            .any(|(p, qq)| policy.contains(p.as_str()) && lower.contains(&qq.to_ascii_lowercase()))
        {
            excused += 1;
            continue;
        }
        if mine == "ImplicitlyDenied"
            && theirs == "Allowed"
            && q.resource == "*"
            && docs[q.policy]
                .statements
                .iter()
                .any(|s| s.effect == compliance_responder::policy::Effect::Allow && s.matches_action(&q.action))
        {
            // "catalogue-skew" (known-differences.tsv): their data gives the action resource types
            // ours does not, and a `*` resource is then a question about any resource.
            excused += 1;
            continue;
        }
        if mine == "Allowed" && theirs == "ImplicitlyDenied" && inner_wildcard_grant(&docs[q.policy], q) {
            excused += 1;
            continue;
        }
        differ.push(format!("ours {mine}, theirs {theirs}: {query}\n  policy: {policy}"));
    }
    println!(
        "differential: {} queries ({} on AWS-managed policies), {agree} agree, {} differ, {excused} known differences, {errors} the simulator refused",
        queries.len(),
        total / 5,
        differ.len()
    );
    let first_error = answers
        .iter()
        .find(|a| a["result"] == "error")
        .map(|a| a["error"].to_string());
    println!("differential: a refusal, for example: {first_error:?}");
    assert!(
        errors * 10 < queries.len(),
        "the simulator refused {errors} queries (a harness problem), e.g. {first_error:?}"
    );
    assert!(
        differ.is_empty(),
        "{} disagreements, first ones:\n{}",
        differ.len(),
        differ.iter().take(15).cloned().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn the_engine_agrees_with_an_independent_simulator() {
    let total = std::env::var("DIFFERENTIAL_QUERIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6_000);
    let seed = std::env::var("DIFFERENTIAL_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5EED_2026);
    run(total, seed);
}
