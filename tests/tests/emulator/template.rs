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
            "audit-responder",
            "cloudtrail-responder",
            "config-responder",
            "guardduty-responder",
            "securityhub-responder",
            "tagging-responder"
        ]
    );
    // The custom actions of this product only (Security Hub sends every custom action's events).
    let (_, hub) = &f["SecurityHubResponder"];
    assert_eq!(hub.len(), 1, "{hub:?}");
    assert_eq!(
        hub[0]["detail-type"][0],
        compliance_responder::sources::securityhub::DETAIL_TYPE
    );
    let suffixes: Vec<&str> = hub[0]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["suffix"].as_str().unwrap())
        .collect();
    assert_eq!(
        suffixes,
        [
            format!(
                ":action/custom/{}",
                compliance_responder::sources::securityhub::REMEDIATE_ACTION_ID
            ),
            format!(
                ":action/custom/{}",
                compliance_responder::sources::securityhub::UNDO_ACTION_ID
            ),
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
    // Custom actions are used in this account's Security Hub console: one rule, default bus.
    let (hub, patterns): (Vec<&str>, Vec<&str>) = t
        .lines()
        .filter(|l| l.trim().starts_with("Pattern: "))
        .partition(|l| l.contains("\"aws.securityhub\""));
    assert_eq!(hub.len(), 1);
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
    // Not the custom actions: they happen in the central account's Security Hub console.
    let mut central: Vec<Value> = functions()
        .into_values()
        .flat_map(|(_, p)| p)
        .filter(|p| p["source"][0] != "aws.securityhub")
        .collect();
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
pub(crate) fn template_json(file: &str) -> Value {
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
    resolve_with(v, &Value::Null)
}

/// [`resolve`] with parameter values: `Ref` and `${Name}` take them from `params` (a
/// `CommaDelimitedList` as an array), else a placeholder; `Fn::Sub`'s own variables, `Fn::Join`
/// and `Fn::Split` are evaluated, `Fn::GetAtt` is an example ARN; the pseudo parameters are `aws`, `123456789012`, `us-east-1`
/// and the stack name `compliance-responder`.
pub(crate) fn resolve_with(v: &Value, params: &Value) -> Option<Value> {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    };
    match v {
        Value::Object(m) if m.len() == 1 && m.contains_key("Fn::Sub") => {
            let (template, mut vars) = match &m["Fn::Sub"] {
                Value::Array(a) => (
                    a[0].as_str().unwrap_or_default().to_string(),
                    a.get(1)
                        .and_then(Value::as_object)
                        .map(|o| {
                            o.iter()
                                .filter_map(|(k, v)| resolve_with(v, params).map(|v| (k.clone(), text(&v))))
                                .collect::<Vec<_>>()
                        })
                        .unwrap_or_default(),
                ),
                other => (other.as_str().unwrap_or_default().to_string(), Vec::new()),
            };
            vars.extend([
                ("AWS::Partition".to_string(), "aws".to_string()),
                ("AWS::AccountId".to_string(), "123456789012".to_string()),
                ("AWS::Region".to_string(), "us-east-1".to_string()),
                ("AWS::StackName".to_string(), "compliance-responder".to_string()),
            ]);
            let mut out = String::new();
            let mut rest = template.as_str();
            while let Some(a) = rest.find("${") {
                let Some(b) = rest[a..].find('}').map(|b| a + b) else {
                    break;
                };
                out.push_str(&rest[..a]);
                let name = &rest[a + 2..b];
                let value = vars
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
                    .or_else(|| params.get(name).map(text))
                    .unwrap_or_else(|| "example".into());
                out.push_str(&value);
                rest = &rest[b + 1..];
            }
            out.push_str(rest);
            Some(Value::from(out))
        }
        Value::Object(m) if m.len() == 1 && m.contains_key("Fn::Join") => {
            let delimiter = m["Fn::Join"][0].as_str().unwrap_or_default().to_string();
            let list = resolve_with(&m["Fn::Join"][1], params)?;
            let items: Vec<String> = match list {
                Value::Array(a) => a.iter().map(text).collect(),
                other => vec![text(&other)],
            };
            Some(Value::from(items.join(&delimiter)))
        }
        Value::Object(m) if m.len() == 1 && m.contains_key("Fn::Split") => {
            let delimiter = m["Fn::Split"][0].as_str().unwrap_or(",").to_string();
            let whole = text(&resolve_with(&m["Fn::Split"][1], params)?);
            Some(Value::Array(whole.split(delimiter.as_str()).map(Value::from).collect()))
        }
        Value::Object(m) if m.len() == 1 && m.contains_key("Fn::If") => resolve_with(&m["Fn::If"][1], params),
        // An attribute the parameters name (`UndoRecordBucket.Arn`, as `${…}` resolves it), else
        // an example ARN.
        Value::Object(m) if m.len() == 1 && m.contains_key("Fn::GetAtt") => {
            let resource = m["Fn::GetAtt"][0].as_str().unwrap_or("example");
            let attribute = m["Fn::GetAtt"][1].as_str().unwrap_or("Arn");
            Some(
                params
                    .get(format!("{resource}.{attribute}"))
                    .cloned()
                    .unwrap_or_else(|| Value::from(format!("arn:aws:example:us-east-1:123456789012:{resource}"))),
            )
        }
        Value::Object(m) if m.len() == 1 && m.contains_key("Ref") => {
            let name = m["Ref"].as_str().unwrap_or("");
            (name != "AWS::NoValue").then(|| {
                params
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| Value::from(format!("example-{name}")))
            })
        }
        Value::Object(m) => Some(Value::Object(
            m.iter()
                .filter_map(|(k, v)| resolve_with(v, params).map(|v| (k.clone(), v)))
                .collect(),
        )),
        Value::Array(a) => Some(Value::Array(a.iter().filter_map(|x| resolve_with(x, params)).collect())),
        other => Some(other.clone()),
    }
}

/// The literal actions of a policy document's Allow statements (the templates list them one by
/// one).
pub(crate) fn granted(doc: &Value) -> std::collections::BTreeSet<String> {
    doc["Statement"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["Effect"] == "Allow")
        .flat_map(|s| match &s["Action"] {
            Value::String(a) => vec![a.clone()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).map(str::to_string).collect(),
            _ => vec![],
        })
        .collect()
}

/// The roles that rewrite IAM policies, and the writes that make them able to escalate: a fix
/// is a policy write (`iam-privilege-escalation` reports exactly that of them, now that IAM
/// resources of the role's own account count as every resource). What keeps them from being turned
/// against the organization is their permissions boundary and the trust of the member roles
/// (checked by the template tests above), not the absence of these grants.
const IAM_WRITERS: &[&str] = &[
    "CloudTrailResponderRole",
    "ConfigResponderRole",
    "SecurityHubResponderRole",
    "AuditResponderRole",
    "RemediationRole",
    "UndoRole",
    // Attach only the session-revocation policy (a Condition on iam:PolicyARN the rule reports but
    // cannot judge), put the revocation statement.
    "GuardDutyResponderRole",
    "ContainmentRole",
];
const WRITES_IAM: &[&str] = &[
    "iam:AttachGroupPolicy",
    "iam:AttachRolePolicy",
    "iam:AttachUserPolicy",
    "iam:CreatePolicyVersion",
    "iam:PutGroupPolicy",
    "iam:PutRolePolicy",
    "iam:PutUserPolicy",
    "iam:SetDefaultPolicyVersion",
    "iam:UpdateAssumeRolePolicy",
];

/// The responder's own execution and remediation policies pass its own over-permission rules, but
/// for the IAM writes the rewrite roles exist for ([`IAM_WRITERS`]).
#[test]
fn the_responders_own_policies_pass_its_own_rules() {
    use compliance_responder::policy::{DocumentKind, PolicyDocument};
    use compliance_responder::rules;
    let registry = rules::registry(&compliance_responder::Config::default());
    let mut checked = 0;
    let mut unexpected: Vec<String> = Vec::new();
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
                for (meta, violations) in &found {
                    let mut actions: Vec<&str> = violations
                        .iter()
                        .flat_map(|v| v.matched.iter().map(String::as_str))
                        .collect();
                    actions.sort_unstable();
                    actions.dedup();
                    let expected = meta.id == "iam-privilege-escalation"
                        && IAM_WRITERS.contains(&name.as_str())
                        && actions.iter().all(|a| WRITES_IAM.contains(a));
                    if !expected {
                        unexpected.push(format!("{file} {name}: {} {actions:?}", meta.id));
                    }
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 6, "{checked} documents");
    assert!(unexpected.is_empty(), "{unexpected:#?}");
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
    assert_eq!(functions.len(), 6);
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
            } else if e["Type"] == "ScheduleV2" {
                // The audit sweep's schedule: the next run resumes, so no retry; undelivered
                // runs go to the dead-letter queue (checked above).
                assert_eq!(
                    (name.as_str(), p["State"].as_str()),
                    ("AuditResponder", Some("ENABLED"))
                );
                assert_eq!(p["RetryPolicy"]["MaximumRetryAttempts"], 0);
                assert_eq!(
                    p["RoleArn"],
                    serde_json::json!({"Fn::GetAtt": ["AuditScheduleRole", "Arn"]})
                );
            } else if *name == "SecurityHubResponder" {
                // Custom actions reach this account's default bus, organization or not.
                assert_eq!(p["State"], "ENABLED", "{name}.{event}");
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

/// The parameters the role tests resolve the templates with.
fn role_params() -> Value {
    serde_json::json!({
        "RoleName": "compliance-responder-remediation",
        "TaggingRoleName": "compliance-responder-tagging",
        "ContainmentRoleName": "compliance-responder-containment",
        "UndoRoleName": "compliance-responder-undo",
        "ProtectedRoleNames": ["break-glass-admin", "ops-root"],
        "ProtectedPrincipals": "arn:aws:iam::*:role/break-glass-*,arn:aws:iam::*:user/emergency",
        "MemberRoleName": "compliance-responder-remediation",
        "MemberTaggingRoleName": "compliance-responder-tagging",
        "MemberContainmentRoleName": "compliance-responder-containment",
        "MemberUndoRoleName": "compliance-responder-undo",
        "UndoRecordBucket.Arn": "arn:aws:s3:::cr-undo-records",
        "KillSwitch": "/compliance-responder/kill-switch",
        "CentralAccountId": "111122223333",
        "CentralStackName": "compliance-responder",
    })
}

/// A role of a template as IAM evaluates it: its inline policy within its permissions boundary.
pub(crate) struct RolePolicy {
    pub identity: Value,
    pub boundary: Value,
}

impl RolePolicy {
    /// Role `resource` of template `t`, resolved with [`role_params`].
    pub(crate) fn of(t: &Value, resource: &str) -> RolePolicy {
        let props = &t["Resources"][resource]["Properties"];
        let boundary_id = props["PermissionsBoundary"]["Ref"]
            .as_str()
            .unwrap_or_else(|| panic!("{resource}: no permissions boundary of this template"));
        let resolve = |v: &Value| resolve_with(v, &role_params()).unwrap();
        RolePolicy {
            identity: resolve(&props["Policies"][0]["PolicyDocument"]),
            boundary: resolve(&t["Resources"][boundary_id]["Properties"]["PolicyDocument"]),
        }
    }

    /// The same role for a principal without the exemption tag: the conditional denies left out
    /// (the project's engine takes every condition to apply; each must be the exemption tag's).
    pub(crate) fn untagged(&self) -> RolePolicy {
        let strip = |doc: &Value| {
            let mut out = doc.clone();
            let kept: Vec<Value> = doc["Statement"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|s| {
                    let conditional_deny = s["Effect"] == "Deny" && s.get("Condition").is_some();
                    if conditional_deny {
                        assert_eq!(
                            s["Condition"],
                            serde_json::json!({"Null": {"aws:ResourceTag/compliance-responder:exempt": "false"}}),
                            "a conditional deny other than the exemption tag's: {s}"
                        );
                    }
                    !conditional_deny
                })
                .cloned()
                .collect();
            out["Statement"] = Value::Array(kept);
            out
        };
        RolePolicy {
            identity: strip(&self.identity),
            boundary: strip(&self.boundary),
        }
    }

    /// IAM's answer: an explicit Deny in either policy wins; allowed only when both allow.
    pub(crate) fn allows(&self, action: &str, resource: &str) -> compliance_responder::grants::Decision {
        use compliance_responder::grants::{Decision, Grants};
        use compliance_responder::policy::PolicyDocument;
        let identity = PolicyDocument::parse(&self.identity.to_string()).unwrap();
        let boundary = PolicyDocument::parse(&self.boundary.to_string()).unwrap();
        match (
            Grants::of(&identity).allows(action, resource),
            Grants::of(&boundary).allows(action, resource),
        ) {
            (Decision::ExplicitDeny, _) | (_, Decision::ExplicitDeny) => Decision::ExplicitDeny,
            (Decision::Allowed, Decision::Allowed) => Decision::Allowed,
            _ => Decision::ImplicitDeny,
        }
    }
}

/// The member roles (one per capability, and the undo role) and the central functions' roles
/// cannot change a protected principal whatever the code does (issue 16): evaluated with the
/// project's own engine, within each role's permissions boundary, every IAM write a role is
/// granted is explicitly denied on the organization's access role (at any path), AWS's reserved
/// and service-linked roles, Control Tower's and the StackSets' roles, the responder's own roles,
/// the break-glass names or patterns given as parameters, and any user or role carrying the
/// exemption tag; and still allowed on an ordinary user and role, so the denies take nothing the
/// fixes need. The inverses that re-open a risk belong to the undo role alone: no function role
/// may set a default policy version, only the containment roles may change a key's status, and
/// the containment role cannot lift a revocation or quarantine.
#[test]
fn protected_and_exempt_principals_are_denied_at_the_permission_level() {
    use compliance_responder::grants::Decision;
    let arn = |rest: &str| format!("arn:aws:iam::123456789012:{rest}");
    let common = [
        "role/OrganizationAccountAccessRole",
        "role/org/OrganizationAccountAccessRole",
        "role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_0123456789abcdef",
        "role/aws-service-role/guardduty.amazonaws.com/AWSServiceRoleForAmazonGuardDuty",
        "role/AWSControlTowerExecution",
        "role/aws-controltower-AuditAdministratorRole",
        "role/service-role/aws-controltower-ConfigRecorderRole",
        "role/stacksets-exec-0123456789abcdef0123456789abcdef",
        "role/AWSCloudFormationStackSetExecutionRole",
    ];
    let member = template_json("member-template.yaml");
    let central = template_json("template.yaml");
    let member_own = [
        "role/compliance-responder-remediation",
        "role/compliance-responder-tagging",
        "role/compliance-responder-containment",
        "role/compliance-responder-undo",
        "role/compliance-responder-forwarding-eu-west-1",
        "role/break-glass-admin",
        "role/team/ops-root",
    ];
    let central_own = [
        "role/compliance-responder/compliance-responder-cloudtrail",
        "role/break-glass-1",
        "user/emergency",
    ];
    let mut cases: Vec<(&str, RolePolicy, &[&str])> = Vec::new();
    for role in ["RemediationRole", "TaggingRole", "ContainmentRole", "UndoRole"] {
        cases.push((role, RolePolicy::of(&member, role), &member_own));
    }
    for role in [
        "CloudTrailResponderRole",
        "TaggingResponderRole",
        "ConfigResponderRole",
        "GuardDutyResponderRole",
        "SecurityHubResponderRole",
        "AuditResponderRole",
    ] {
        cases.push((role, RolePolicy::of(&central, role), &central_own));
    }
    for (name, role, own) in &cases {
        let plain = role.untagged();
        let writes: Vec<String> = granted(&role.identity)
            .into_iter()
            .filter(|a| {
                let op = a.strip_prefix("iam:").unwrap_or("Get");
                !op.starts_with("Get") && !op.starts_with("List")
            })
            .collect();
        if name.starts_with("Tagging") {
            assert!(writes.is_empty(), "{name}: the tagging roles write no IAM: {writes:?}");
            continue;
        }
        assert!(!writes.is_empty(), "{name}: no IAM write found");
        let kind_of = |action: &str| {
            if action.contains("Role") {
                Some("role/")
            } else if action.contains("User") || action == "iam:UpdateAccessKey" {
                Some("user/")
            } else {
                None
            }
        };
        let protected: Vec<String> = common.iter().chain(own.iter()).map(|r| arn(r)).collect();
        let mut checked = 0;
        for action in &writes {
            let Some(kind) = kind_of(action) else { continue };
            for target in protected.iter().filter(|t| t.contains(&format!(":{kind}"))) {
                assert_eq!(
                    plain.allows(action, target),
                    Decision::ExplicitDeny,
                    "{name}: {action} on protected {target}"
                );
                checked += 1;
            }
            let ordinary = arn(if kind == "role/" { "role/app-team" } else { "user/alice" });
            assert_eq!(
                plain.allows(action, &ordinary),
                Decision::Allowed,
                "{name}: {action} on ordinary {ordinary}: the denies must not take what a fix needs"
            );
            assert_eq!(
                role.allows(action, &ordinary),
                Decision::ExplicitDeny,
                "{name}: {action} on an exempt {ordinary}"
            );
        }
        assert!(checked >= 10, "{name}: {checked} protected checks");
        // The boundaries themselves are out of reach.
        let boundary = arn("policy/compliance-responder/compliance-responder-boundary");
        assert_eq!(
            plain.allows("iam:CreatePolicyVersion", &boundary),
            Decision::ExplicitDeny,
            "{name}: may rewrite its boundary"
        );

        // Inverses that re-open a risk: the undo role's alone.
        let undo = *name == "UndoRole";
        let allowed = |action: &str, target: &str| plain.allows(action, &arn(target)) == Decision::Allowed;
        assert_eq!(
            allowed("iam:SetDefaultPolicyVersion", "policy/app-policy"),
            undo,
            "{name}: iam:SetDefaultPolicyVersion"
        );
        // Key status: the containment roles, and the audit and Security Hub functions', which
        // deactivate keys unused for too long (`iam-access-key-unused`; both also rewrite IAM
        // policies, which is more than re-activating a key).
        let contains = matches!(
            *name,
            "ContainmentRole" | "GuardDutyResponderRole" | "AuditResponderRole" | "SecurityHubResponderRole"
        );
        assert_eq!(
            allowed("iam:UpdateAccessKey", "user/alice"),
            undo || contains,
            "{name}: iam:UpdateAccessKey (IAM has no condition key for the new status)"
        );
        if *name == "ContainmentRole" {
            for action in [
                "iam:DeleteRolePolicy",
                "iam:DeleteUserPolicy",
                "iam:DetachRolePolicy",
                "iam:DetachUserPolicy",
            ] {
                let target = if action.contains("Role") {
                    "role/app-team"
                } else {
                    "user/alice"
                };
                assert!(!allowed(action, target), "{name}: {action} lifts a containment");
            }
        }
    }
}

/// Every role of both templates is capped by a permissions boundary of its template (issue 16),
/// and each boundary allows exactly what the roles it caps are granted (their inline policies
/// and the AWS-managed policies they attach): adding a grant to a role without the boundary, or
/// to the boundary without a role, fails here.
#[test]
fn every_role_is_capped_by_a_boundary_that_allows_exactly_what_its_roles_need() {
    use std::collections::{BTreeMap, BTreeSet};
    // The AWS-managed policies the function roles attach, as AWS publishes them.
    let managed: BTreeMap<&str, &[&str]> = BTreeMap::from([
        (
            "service-role/AWSLambdaBasicExecutionRole",
            &["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"][..],
        ),
        (
            "AWSXrayWriteOnlyAccess",
            &[
                "xray:PutTraceSegments",
                "xray:PutTelemetryRecords",
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
                "xray:GetSamplingStatisticSummaries",
            ][..],
        ),
    ]);
    let mut roles_checked = 0;
    for file in ["template.yaml", "member-template.yaml"] {
        let t = template_json(file);
        let resources = t["Resources"].as_object().unwrap();
        let mut needed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (name, r) in resources {
            if r["Type"] != "AWS::IAM::Role" {
                continue;
            }
            roles_checked += 1;
            let props = &r["Properties"];
            let boundary = props["PermissionsBoundary"]["Ref"]
                .as_str()
                .unwrap_or_else(|| panic!("{file} {name}: no PermissionsBoundary of this template"));
            assert_eq!(resources[boundary]["Type"], "AWS::IAM::ManagedPolicy", "{name}");
            let set = needed.entry(boundary.to_string()).or_default();
            for p in props["Policies"].as_array().into_iter().flatten() {
                set.extend(granted(&resolve_with(&p["PolicyDocument"], &role_params()).unwrap()));
            }
            for arn in props["ManagedPolicyArns"].as_array().into_iter().flatten() {
                let arn = arn["Fn::Sub"].as_str().unwrap_or_default();
                let key = arn.split(":policy/").nth(1).unwrap_or_default();
                let actions = managed
                    .get(key)
                    .unwrap_or_else(|| panic!("{name}: managed policy {arn} not in this test's table"));
                set.extend(actions.iter().map(|a| a.to_string()));
            }
        }
        for (boundary, needed) in needed {
            let doc = resolve_with(&resources[&boundary]["Properties"]["PolicyDocument"], &role_params()).unwrap();
            let allowed = granted(&doc);
            let missing: Vec<_> = needed.difference(&allowed).collect();
            let extra: Vec<_> = allowed.difference(&needed).collect();
            assert!(
                missing.is_empty(),
                "{file} {boundary} caps away what a role needs: {missing:?}"
            );
            assert!(
                extra.is_empty(),
                "{file} {boundary} allows what no role is granted: {extra:?}"
            );
        }
    }
    assert_eq!(
        roles_checked,
        7 + 5,
        "six function roles and the schedule's; three capability, undo and forwarding roles"
    );
}

/// Each member role trusts exactly the central function roles that need its capability (issue
/// 16), by exact ARN (`ArnEquals` on `aws:PrincipalArn`, no wildcard), inside the organization,
/// with the ExternalId when set; and each central function is configured with, and may assume,
/// exactly those member roles. The mapping is read from both templates: a function given a role
/// it should not have (or a trust that lets another function in) fails here.
#[test]
fn each_member_role_trusts_exactly_the_central_functions_that_need_it() {
    use std::collections::{BTreeMap, BTreeSet};
    let central = template_json("template.yaml");
    let member = template_json("member-template.yaml");
    let params = role_params();
    // Member role resource, the central setting naming it, the central parameter with its name.
    let capabilities = [
        ("RemediationRole", "MEMBER_ROLE_NAME", "MemberRoleName"),
        ("TaggingRole", "MEMBER_TAGGING_ROLE_NAME", "MemberTaggingRoleName"),
        (
            "ContainmentRole",
            "MEMBER_CONTAINMENT_ROLE_NAME",
            "MemberContainmentRoleName",
        ),
        ("UndoRole", "MEMBER_UNDO_ROLE_NAME", "MemberUndoRoleName"),
    ];
    let mut users: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut functions = 0;
    for (name, f) in central["Resources"].as_object().unwrap() {
        if f["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        functions += 1;
        let role_id = f["Properties"]["Role"]["Fn::GetAtt"][0]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: a role of its own (Role: !GetAtt <it>.Arn)"));
        let role = &central["Resources"][role_id]["Properties"];
        assert_eq!(role["Path"], "/compliance-responder/", "{role_id}");
        let role_arn = format!(
            "arn:aws:iam::111122223333:role/compliance-responder/{}",
            resolve_with(&role["RoleName"], &params).unwrap().as_str().unwrap()
        );
        let env = &f["Properties"]["Environment"]["Variables"];
        let doc = resolve_with(&role["Policies"][0]["PolicyDocument"], &params).unwrap();
        let assumable: BTreeSet<String> = doc["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["Action"] == "sts:AssumeRole")
            .flat_map(|s| match &s["Resource"] {
                Value::Array(a) => a.iter().filter_map(Value::as_str).map(str::to_string).collect(),
                other => vec![other.as_str().unwrap_or_default().to_string()],
            })
            .collect();
        let mut expected = BTreeSet::new();
        for (member_role, setting, parameter) in capabilities {
            if env.get(setting).is_some() {
                assert_eq!(
                    env[setting]["Fn::If"][1],
                    serde_json::json!({"Ref": parameter}),
                    "{name} {setting}"
                );
                users.entry(member_role).or_default().insert(role_arn.clone());
                expected.insert(format!("arn:aws:iam::*:role/{}", params[parameter].as_str().unwrap()));
            }
        }
        assert!(!expected.is_empty(), "{name}: no member role");
        assert_eq!(
            assumable, expected,
            "{name} may assume exactly the member roles it is configured with"
        );
    }
    assert_eq!(functions, 6);
    for (member_role, _, _) in capabilities {
        // The undo role's first statement is the security team's (below); the function's second.
        let index = usize::from(member_role == "UndoRole");
        let statement = resolve_with(
            &member["Resources"][member_role]["Properties"]["AssumeRolePolicyDocument"]["Statement"][index],
            &params,
        )
        .unwrap();
        let condition = &statement["Condition"];
        assert!(condition.get("ArnLike").is_none(), "no name pattern: {condition}");
        let trusted: BTreeSet<String> = match &condition["ArnEquals"]["aws:PrincipalArn"] {
            Value::Array(a) => a.iter().filter_map(Value::as_str).map(str::to_string).collect(),
            other => [other.as_str().unwrap().to_string()].into(),
        };
        assert_eq!(
            Some(&trusted),
            users.get(member_role),
            "{member_role} trusts exactly the central functions configured to use it"
        );
        assert!(trusted.iter().all(|a| !a.contains('*')));
        assert_eq!(
            condition["StringEquals"]["aws:PrincipalOrgID"],
            "example-OrganizationId"
        );
        assert!(condition["StringEquals"].get("sts:ExternalId").is_some());
    }
    // The undo role: trusted by the security team's principals, and of the functions only by the
    // one that answers Security Hub's "Undo" (checked above).
    let undo = &member["Resources"]["UndoRole"];
    assert_eq!(undo["Condition"], "NeedsUndoRole");
    let statements = undo["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        .as_array()
        .unwrap();
    assert_eq!(statements.len(), 2);
    assert_eq!(
        statements[1]["Fn::If"][0], "AllowsSecurityHubUndo",
        "the function's trust only where the member account allows Security Hub's Undo"
    );
    assert_eq!(member["Parameters"]["SecurityHubUndo"]["Default"], "false");
    assert_eq!(
        statements[0]["Principal"]["AWS"],
        serde_json::json!({"Ref": "UndoPrincipalArns"})
    );
    assert_eq!(
        users.get("UndoRole"),
        Some(&BTreeSet::from([
            "arn:aws:iam::111122223333:role/compliance-responder/compliance-responder-securityhub".to_string()
        ]))
    );
    let output = central["Outputs"]["CentralRoleArns"]["Value"].to_string();
    for f in [
        "CloudTrailResponderRole",
        "TaggingResponderRole",
        "ConfigResponderRole",
        "GuardDutyResponderRole",
        "SecurityHubResponderRole",
        "AuditResponderRole",
    ] {
        assert!(output.contains(f), "CentralRoleArns output lists {f}");
    }
}

/// The organization guard (issue 16): the SCP of `scp-template.yaml`, resolved, fits AWS
/// Organizations' quota for an SCP document (5,120 characters), names only actions the catalogue
/// knows (a typo in a Deny protects nothing), lists in its exemption-tag deny only actions that
/// document `aws:TagKeys` (any other would never match), and covers what the responder depends on:
/// the member and central roles, every forwarding rule (all named `compliance-responder-*`), the
/// central functions and the passing of their roles. Evaluated with the project's engine
/// (conditions taken to apply: the caller is not the excepted role); the ordinary stays untouched.
#[test]
fn the_organization_guard_scp_holds_what_it_promises() {
    use compliance_responder::catalogue::Catalogue;
    use compliance_responder::grants::{Decision, Grants};
    use compliance_responder::policy::PolicyDocument;
    let scp = template_json("scp-template.yaml");
    let params = serde_json::json!({
        "CentralAccountId": "111122223333",
        "CentralStackName": "compliance-responder",
        "MemberRoleName": "compliance-responder-remediation",
        "DeployRoleName": "deploy/cicd-deployer",
        "SecurityTeamRoleName": "security-admin",
        "ExemptionTag": "compliance-responder:exempt",
    });
    let content = resolve_with(&scp["Resources"]["ResponderGuard"]["Properties"]["Content"], &params).unwrap();
    let text = content.to_string();
    assert!(
        text.len() <= 5120,
        "an SCP holds at most 5,120 characters: {}",
        text.len()
    );
    let doc = PolicyDocument::parse(&text).unwrap();
    let g = Grants::of(&doc);
    assert!(g.unknown_deny_actions().is_empty(), "{:?}", g.unknown_deny_actions());
    let denied = |action: &str, resource: &str| {
        assert_eq!(
            g.allows(action, resource),
            Decision::ExplicitDeny,
            "{action} on {resource}"
        );
    };
    let untouched = |action: &str, resource: &str| {
        assert_eq!(
            g.allows(action, resource),
            Decision::ImplicitDeny,
            "{action} on {resource}"
        );
    };
    denied(
        "iam:PutRolePolicy",
        "arn:aws:iam::222233334444:role/compliance-responder-remediation",
    );
    denied(
        "iam:UpdateAssumeRolePolicy",
        "arn:aws:iam::222233334444:role/compliance-responder-remediation",
    );
    denied(
        "iam:DeleteRole",
        "arn:aws:iam::111122223333:role/compliance-responder/compliance-responder-cloudtrail",
    );
    untouched("iam:PutRolePolicy", "arn:aws:iam::222233334444:role/app-team");
    // The forwarding role, by the fixed name the member template gives it.
    let member = template_json("member-template.yaml");
    let forwarding = member["Resources"]["ForwardingRole"]["Properties"]["RoleName"]["Fn::Sub"]
        .as_str()
        .expect("the forwarding role has a fixed name")
        .replace("${AWS::Region}", "eu-west-1");
    denied(
        "iam:PutRolePolicy",
        &format!("arn:aws:iam::222233334444:role/{forwarding}"),
    );
    denied(
        "iam:DeleteRole",
        &format!("arn:aws:iam::222233334444:role/{forwarding}"),
    );
    let mut rules = 0;
    for (name, r) in member["Resources"].as_object().unwrap() {
        if r["Type"] != "AWS::Events::Rule" {
            continue;
        }
        let rule = r["Properties"]["Name"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: a fixed name"));
        assert!(rule.starts_with("compliance-responder-") && rule.len() <= 64, "{rule}");
        for action in [
            "events:DeleteRule",
            "events:DisableRule",
            "events:RemoveTargets",
            "events:PutTargets",
        ] {
            denied(action, &format!("arn:aws:events:eu-west-1:222233334444:rule/{rule}"));
        }
        rules += 1;
    }
    assert_eq!(rules, 12);
    untouched(
        "events:DeleteRule",
        "arn:aws:events:eu-west-1:222233334444:rule/team-rule",
    );
    for function in [
        "CloudTrailResponder",
        "TaggingResponder",
        "ConfigResponder",
        "GuardDutyResponder",
    ] {
        let arn =
            format!("arn:aws:lambda:eu-west-1:111122223333:function:compliance-responder-{function}-AbC123dEf456");
        denied("lambda:UpdateFunctionCode", &arn);
        denied("lambda:UpdateFunctionConfiguration", &arn);
    }
    untouched(
        "lambda:UpdateFunctionCode",
        "arn:aws:lambda:eu-west-1:111122223333:function:team-api",
    );
    denied(
        "iam:PassRole",
        "arn:aws:iam::111122223333:role/compliance-responder/compliance-responder-guardduty",
    );
    untouched("iam:PassRole", "arn:aws:iam::111122223333:role/team-api");

    let cat = Catalogue::get();
    let statements = content["Statement"].as_array().unwrap();
    let exemption = statements
        .iter()
        .find(|s| s["Sid"] == "ExemptionTagOnlyByTheSecurityTeam")
        .expect("the exemption-tag deny");
    let keys = &exemption["Condition"]["ForAnyValue:StringLike"]["aws:TagKeys"];
    assert_eq!(
        keys,
        &serde_json::json!(["compliance-responder:exempt", "compliance-responder:exempt-reason"])
    );
    let listed: Vec<&str> = exemption["Action"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let supports_tag_keys = |action: &str| {
        let id = cat
            .find(action)
            .unwrap_or_else(|| panic!("{action}: not in the catalogue"));
        cat.condition_keys(id)
            .iter()
            .any(|k| k.eq_ignore_ascii_case("aws:TagKeys"))
    };
    for action in &listed {
        assert!(
            supports_tag_keys(action),
            "{action} documents no aws:TagKeys: the deny never applies to it"
        );
    }
    // Every tag write the member role can make through an API that honours aws:TagKeys is
    // guarded, and the IAM tag calls too.
    let member_doc = &member["Resources"]["RemediationRole"]["Properties"]["Policies"][0]["PolicyDocument"];
    let tag_writes: Vec<String> = member_doc["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["Sid"] == "AddTags")
        .flat_map(|s| {
            s["Action"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
        })
        .chain(
            [
                "iam:TagRole",
                "iam:TagUser",
                "iam:TagPolicy",
                "iam:UntagRole",
                "iam:UntagUser",
            ]
            .map(String::from),
        )
        .collect();
    for action in tag_writes.iter().filter(|a| supports_tag_keys(a)) {
        assert!(
            listed.contains(&action.as_str()),
            "{action} can set the exemption tag unguarded"
        );
    }
    let except = exemption["Condition"]["ArnNotLike"]["aws:PrincipalArn"].to_string();
    assert!(
        except.contains("role/security-admin") && except.contains("role/*/security-admin"),
        "{except}"
    );
}
