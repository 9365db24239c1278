//! The SAM template routes exactly the events the code handles, each to the function that handles
//! it: every EventBridge pattern in template.yaml becomes a rule on moto's EventBridge with an SQS
//! queue per function as its target, every sample event under events/ is put on the bus, and the
//! queues say which function it reached (moto's pattern matcher, not ours; moto 5.2 does not
//! implement `TestEventPattern`).

use compliance_responder::sources::cloudtrail::HANDLED_EVENT_NAMES;
use compliance_responder::sources::created::CREATE_EVENTS;
use integration_tests::{repo_root, sample_events, Env, REGION};
use serde_json::Value;
use std::collections::BTreeMap;

/// Samples that exercise a function's own filter for events its pattern already keeps away.
const ROUTED_NOWHERE: &[&str] = &["config/compliance-compliant-bucket.json"];

/// Function resource name → (binary, its distinct EventBridge patterns). Patterns are written as
/// JSON flow mappings on the `Pattern:` line, so they are read exactly as deployed.
fn functions() -> BTreeMap<String, (String, Vec<Value>)> {
    let t = std::fs::read_to_string(repo_root().join("template.yaml")).unwrap();
    let mut out: BTreeMap<String, (String, Vec<Value>)> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in t.lines() {
        if line.starts_with("  ") && !line.starts_with("   ") && line.trim_end().ends_with(':') {
            current = Some(line.trim().trim_end_matches(':').to_string());
        }
        let Some(name) = &current else { continue };
        if let Some(binary) = line.trim().strip_prefix("Binary: ") {
            out.entry(name.clone()).or_default().0 = binary.to_string();
        }
        if let Some(pattern) = line.trim().strip_prefix("Pattern: ") {
            let v: Value = serde_json::from_str(pattern).unwrap_or_else(|e| panic!("{name}: {e}: {pattern}"));
            // Each rule exists twice, on the default bus and on the central bus, with one pattern.
            let patterns = &mut out.entry(name.clone()).or_default().1;
            if !patterns.contains(&v) {
                patterns.push(v);
            }
        }
    }
    out
}

#[test]
fn patterns_name_exactly_the_handled_calls() {
    let f = functions();
    let binaries: Vec<&str> = f.values().map(|(b, _)| b.as_str()).collect();
    assert_eq!(
        binaries,
        vec![
            "cloudtrail-responder",
            "config-responder",
            "guardduty-responder",
            "tagging-responder"
        ]
    );
    let (_, ct) = &f["CloudTrailResponder"];
    assert_eq!(ct.len(), 1, "the IAM function gets IAM calls only: {ct:?}");
    let iam = ct.iter().find(|p| p["source"][0] == "aws.iam").expect("IAM rule");
    let mut names: Vec<&str> = iam["detail"]["eventName"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    names.sort();
    let mut handled = HANDLED_EVENT_NAMES.to_vec();
    handled.sort();
    assert_eq!(names, handled);
    // Create calls go to their own function (its own concurrency: a flood of them never delays an
    // IAM fix).
    let (_, tagging) = &f["TaggingResponder"];
    let mut routed: Vec<(String, String)> = tagging
        .iter()
        .flat_map(|p| {
            let source = p["detail"]["eventSource"][0].as_str().unwrap().to_string();
            p["detail"]["eventName"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |n| (source.clone(), n.as_str().unwrap().to_string()))
        })
        .collect();
    routed.sort();
    let mut created: Vec<(String, String)> = CREATE_EVENTS
        .iter()
        .map(|(s, n, _)| (s.to_string(), n.to_string()))
        .collect();
    created.sort();
    assert_eq!(routed, created);
}

#[tokio::test]
async fn every_sample_event_reaches_exactly_the_function_that_handles_it() {
    let env = Env::empty().await;
    let sdk = &env.direct;
    let events = aws_sdk_eventbridge::Client::new(sdk);
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let functions = functions();
    let mut queues: Vec<(String, String)> = Vec::new();
    for (name, (_, patterns)) in &functions {
        let url = sqs
            .create_queue()
            .queue_name(name)
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        let arn = format!("arn:aws:sqs:{REGION}:{}:{name}", env.account_id());
        for (i, pattern) in patterns.iter().enumerate() {
            let rule = format!("{name}-{i}");
            events
                .put_rule()
                .name(&rule)
                .event_pattern(pattern.to_string())
                .send()
                .await
                .unwrap();
            events
                .put_targets()
                .rule(&rule)
                .targets(
                    aws_sdk_eventbridge::types::Target::builder()
                        .id("fn")
                        .arn(&arn)
                        .build()
                        .unwrap(),
                )
                .send()
                .await
                .unwrap();
        }
        queues.push((name.clone(), url));
    }
    // IAM calls to the IAM function, create calls of other services to the tagging function.
    let owner = |source: &str, event_source: &str| match source {
        "cloudtrail" if event_source == "aws.iam" => "CloudTrailResponder",
        "cloudtrail" => "TaggingResponder",
        "config" => "ConfigResponder",
        _ => "GuardDutyResponder",
    };
    let mut checked = 0;
    for source in ["cloudtrail", "config", "guardduty"] {
        for path in sample_events(source) {
            let v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                .source(v["source"].as_str().unwrap())
                .detail_type(v["detail-type"].as_str().unwrap())
                .detail(v["detail"].to_string())
                .set_resources(Some(
                    v["resources"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|r| r.as_str().unwrap().to_string())
                        .collect(),
                ))
                .build();
            let out = events.put_events().entries(entry).send().await.unwrap();
            assert_eq!(out.failed_entry_count, 0, "{}", path.display());
            let mut matched = Vec::new();
            for (name, url) in &queues {
                let got = sqs
                    .receive_message()
                    .queue_url(url)
                    .max_number_of_messages(10)
                    .send()
                    .await
                    .unwrap()
                    .messages
                    .unwrap_or_default();
                for m in &got {
                    sqs.delete_message()
                        .queue_url(url)
                        .receipt_handle(m.receipt_handle.clone().unwrap())
                        .send()
                        .await
                        .unwrap();
                }
                if !got.is_empty() {
                    matched.push((name.as_str(), got.len()));
                }
            }
            let file = format!("{source}/{}", path.file_name().unwrap().to_string_lossy());
            let want: Vec<(&str, usize)> = if ROUTED_NOWHERE.contains(&file.as_str()) {
                vec![]
            } else {
                vec![(owner(source, v["source"].as_str().unwrap_or_default()), 1)]
            };
            assert_eq!(matched, want, "{file}");
            checked += 1;
        }
    }
    assert!(checked >= 40, "{checked} samples");
}

#[test]
fn every_rule_listens_on_both_the_default_and_the_central_bus() {
    let t = std::fs::read_to_string(repo_root().join("template.yaml")).unwrap();
    let patterns: Vec<&str> = t.lines().filter(|l| l.trim().starts_with("Pattern: ")).collect();
    let central = t
        .lines()
        .filter(|l| l.trim() == "EventBusName: !Ref CentralBus")
        .count();
    assert_eq!(patterns.len() % 2, 0);
    assert_eq!(
        central,
        patterns.len() / 2 + 1,
        "one per central rule, plus the bus policy"
    );
    for p in &patterns {
        assert_eq!(patterns.iter().filter(|q| q == &p).count(), 2, "{p}");
    }
}

/// Member accounts forward exactly the events the central functions handle: the member template's
/// rules carry the same patterns as the central rules, each once.
#[test]
fn member_accounts_forward_exactly_the_handled_events() {
    let member = std::fs::read_to_string(repo_root().join("member-template.yaml")).unwrap();
    let mut forwarded: Vec<Value> = member
        .lines()
        .filter_map(|l| l.trim().strip_prefix("EventPattern: "))
        .map(|p| serde_json::from_str(p).unwrap())
        .collect();
    let mut central: Vec<Value> = functions().into_values().flat_map(|(_, p)| p).collect();
    let key = |v: &Value| v.to_string();
    forwarded.sort_by_key(key);
    central.sort_by_key(key);
    assert_eq!(forwarded, central);
    let iam_rule = member
        .split("\n\n")
        .find(|block| block.contains("\"aws.iam\""))
        .expect("IAM forwarding rule");
    assert!(
        iam_rule.contains("Condition: IsUsEast1"),
        "IAM events exist only in us-east-1"
    );
}

/// A template as JSON, through cfn-lint's CloudFormation YAML reader (short-form tags included).
fn template_json(file: &str) -> Value {
    let python = repo_root().join(".tools/venv/bin/python");
    assert!(python.exists(), "run `make tools` first (cfn-lint)");
    let out = std::process::Command::new(python)
        .args([
            "-c",
            "import json,sys\nfrom cfnlint.decode import decode\nprint(json.dumps(decode(sys.argv[1])[0]))",
        ])
        .arg(repo_root().join(file))
        .output()
        .expect("run cfn-lint's decoder");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Resolves the intrinsic functions a policy uses into plain values (`Fn::Sub` with example
/// values, the first branch of `Fn::If`, `Ref` to a placeholder); drops `AWS::NoValue`.
fn resolve(v: &Value) -> Option<Value> {
    match v {
        Value::Object(m) if m.len() == 1 && m.contains_key("Fn::Sub") => {
            let template = match &m["Fn::Sub"] {
                Value::Array(a) => a[0].as_str().unwrap_or_default().to_string(),
                other => other.as_str().unwrap_or_default().to_string(),
            };
            let mut out = template
                .replace("${AWS::Partition}", "aws")
                .replace("${AWS::AccountId}", "123456789012")
                .replace("${AWS::Region}", "us-east-1");
            while let (Some(a), Some(b)) = (out.find("${"), out.find('}')) {
                if b < a {
                    break;
                }
                out.replace_range(a..=b, "example");
            }
            Some(Value::from(out))
        }
        Value::Object(m) if m.len() == 1 && m.contains_key("Fn::If") => resolve(&m["Fn::If"][1]),
        Value::Object(m) if m.len() == 1 && m.contains_key("Ref") => {
            (m["Ref"] != "AWS::NoValue").then(|| Value::from(format!("example-{}", m["Ref"].as_str().unwrap_or(""))))
        }
        Value::Object(m) => Some(Value::Object(
            m.iter()
                .filter_map(|(k, v)| resolve(v).map(|v| (k.clone(), v)))
                .collect(),
        )),
        Value::Array(a) => Some(Value::Array(a.iter().filter_map(resolve).collect())),
        other => Some(other.clone()),
    }
}

/// The responder's own execution and remediation policies pass its own over-permission rules.
#[test]
fn the_responders_own_policies_pass_its_own_rules() {
    use compliance_responder::policy::{DocumentKind, PolicyDocument};
    use compliance_responder::rules;
    let registry = rules::registry(&compliance_responder::Config::default());
    let mut checked = 0;
    for file in ["template.yaml", "member-template.yaml"] {
        let t = template_json(file);
        for (name, r) in t["Resources"].as_object().unwrap() {
            let props = &r["Properties"];
            let mut documents: Vec<(Value, DocumentKind)> = Vec::new();
            match r["Type"].as_str().unwrap_or_default() {
                "AWS::Serverless::Function" => {
                    for p in props["Policies"].as_array().into_iter().flatten() {
                        documents.push((p.clone(), DocumentKind::InlineRole));
                    }
                }
                "AWS::IAM::Role" => {
                    documents.push((props["AssumeRolePolicyDocument"].clone(), DocumentKind::Trust));
                    for p in props["Policies"].as_array().into_iter().flatten() {
                        documents.push((p["PolicyDocument"].clone(), DocumentKind::InlineRole));
                    }
                }
                _ => {}
            }
            for (doc, kind) in documents {
                let doc = resolve(&doc).unwrap();
                let parsed = PolicyDocument::parse_as(&doc.to_string(), kind)
                    .unwrap_or_else(|e| panic!("{file} {name}: {e}: {doc}"));
                let found = rules::check_document(&registry, &parsed, kind);
                assert!(
                    found.is_empty(),
                    "{file} {name}: {:?}",
                    found.iter().map(|(m, v)| (m.id, v.len())).collect::<Vec<_>>()
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 6, "{checked} documents");
}

/// Failures page someone (issue 15): every alarm notifies the alarm topic; every function has
/// error, throttle and dropped-event alarms; every EventBridge rule has a dead-letter queue, every
/// central-bus rule a failed-invocation alarm; the EMF `failed`, `deferred` and
/// `annotation-failed` outcomes are alarmed; default-bus rules are off in an organization (the
/// central account's events come through the central bus like everyone's: one handling each);
/// inconsistent parameters are refused by the template's `Rules`.
#[test]
fn failures_page_someone_and_each_event_is_handled_once() {
    let t = template_json("template.yaml");
    let resources = t["Resources"].as_object().unwrap();
    let of_type = |ty: &str| -> Vec<(&String, &Value)> { resources.iter().filter(|(_, r)| r["Type"] == ty).collect() };
    let alarms = of_type("AWS::CloudWatch::Alarm");
    assert!(alarms.len() >= 10, "{} alarms", alarms.len());
    for (name, a) in &alarms {
        assert_eq!(
            a["Properties"]["AlarmActions"],
            serde_json::json!([{"Ref": "AlarmTopic"}]),
            "{name} notifies no one"
        );
    }
    let alarm_text = |metric: &str| -> String {
        alarms
            .iter()
            .filter(|(_, a)| a.to_string().contains(&format!("\"MetricName\":\"{metric}\"")))
            .map(|(_, a)| a.to_string())
            .collect()
    };
    let functions = of_type("AWS::Serverless::Function");
    assert_eq!(functions.len(), 4);
    for metric in ["Errors", "Throttles", "AsyncEventsDropped"] {
        let text = alarm_text(metric);
        for (name, _) in &functions {
            assert!(
                text.contains(&format!("{{\"Ref\":\"{name}\"}}")),
                "{name} has no {metric} alarm"
            );
        }
    }
    let failed_invocations = alarm_text("FailedInvocations");
    let mut central_rules = 0;
    for (name, f) in &functions {
        for (event, e) in f["Properties"]["Events"].as_object().unwrap() {
            let p = &e["Properties"];
            assert!(
                p["DeadLetterConfig"]["Arn"].is_object(),
                "{name}.{event}: no dead-letter queue"
            );
            if p["EventBusName"] == serde_json::json!({"Ref": "CentralBus"}) {
                central_rules += 1;
                let rule = p["RuleName"]["Fn::Sub"]
                    .as_str()
                    .expect("central rules are named")
                    .to_string();
                assert!(failed_invocations.contains(&rule), "{rule}: no FailedInvocations alarm");
            } else {
                assert_eq!(
                    p["State"],
                    serde_json::json!({"Fn::If": ["HasOrganization", "DISABLED", "ENABLED"]}),
                    "{name}.{event}: a default-bus rule must be off in an organization"
                );
            }
        }
    }
    assert_eq!(central_rules, 12);
    let outcomes = alarm_text("Count");
    for outcome in ["failed", "deferred", "annotation-failed"] {
        assert!(
            outcomes.contains(&format!("\"Value\":\"{outcome}\"")),
            "no alarm on Outcome={outcome}"
        );
    }
    assert_eq!(
        resources["TaggingResponder"]["Properties"]["ReservedConcurrentExecutions"],
        serde_json::json!({"Ref": "TaggingReservedConcurrency"})
    );
    let rules = t["Rules"].as_object().expect("a Rules section");
    for rule in [
        "MemberRoleNeedsOrganization",
        "OrganizationNeedsMemberRole",
        "ExternalIdNeedsMemberRole",
    ] {
        assert!(
            rules[rule]["Assertions"].as_array().is_some_and(|a| !a.is_empty()),
            "{rule}"
        );
    }

    let m = template_json("member-template.yaml");
    let mut forwarding = 0;
    for (name, r) in m["Resources"].as_object().unwrap() {
        if r["Type"] != "AWS::Events::Rule" {
            continue;
        }
        forwarding += 1;
        for target in r["Properties"]["Targets"].as_array().unwrap() {
            assert!(
                target["DeadLetterConfig"]["Arn"].is_object(),
                "{name}: no dead-letter queue"
            );
        }
    }
    assert_eq!(forwarding, 12);
    assert_eq!(
        m["Resources"]["RemediationRole"]["Condition"], "NeedsRemediationRole",
        "no remediation role in the central account, one per member account (us-east-1)"
    );
}
