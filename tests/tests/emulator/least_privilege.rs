//! Least privilege, proven (issue 16): every sample event is replayed, in remediate mode, by a
//! responder configured as the function the template routes it to; every AWS call that reaches
//! the emulator is recorded, turned into its IAM action and resource, and evaluated with the
//! project's own policy engine against that function's role in `template.yaml` and against the
//! member remediation role in `member-template.yaml` (which makes the same calls in a member
//! account). Every call made must be allowed; every action a role grants must be made by some
//! replay here, or be listed in [`KEPT`] with the reason it is kept.

use crate::template::{granted, resolve_with, template_json};
use compliance_responder::grants::{Decision, Grants};
use compliance_responder::policy::PolicyDocument;
use compliance_responder::sources::created::CREATE_EVENTS;
use integration_tests::{responder_with_env, sample_events, ApiCall, Env};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The account the templates' policies are resolved for (`${AWS::AccountId}`): the calls'
/// resources are written in it too.
const ACCOUNT: &str = "123456789012";

/// Granted actions that no sample replay makes, and why each is kept. Per role: the template
/// resource (or "member") and the action.
const KEPT: &[(&str, &str, &str)] = &[
    ("CloudTrailResponderRole", "iam:PutUserPolicy", "a user's inline policy keeping other statements is rewritten (the user samples' are admin-only: deleted)"),
    ("GuardDutyResponderRole", "iam:GetAccessKeyLastUsed", "the owner of a key that is not in the named user's list (guardduty_replay.rs)"),
    ("GuardDutyResponderRole", "iam:GetUserPolicy", "an existing AWSRevokeOlderSessions policy on a user is read (temporary ASIA keys, guardduty_replay.rs)"),
    ("GuardDutyResponderRole", "iam:ListUserPolicies", "a user's inline policies are counted against IAM's quota before a revocation"),
    ("GuardDutyResponderRole", "iam:PutUserPolicy", "a user's sessions are revoked for temporary ASIA keys (guardduty_replay.rs)"),
    ("CloudTrailResponderRole", "iam:DeleteGroupPolicy", "a group's emptied inline policy is deleted (no group sample)"),
    ("CloudTrailResponderRole", "iam:DeleteRolePolicy", "an emptied inline role policy is deleted (the samples keep statements)"),
    ("CloudTrailResponderRole", "iam:SetDefaultPolicyVersion", "the recorded inverse of a rewrite, applied by `responder undo`"),
    ("CloudTrailResponderRole", "sts:AssumeRole", "the member role, in member accounts (regions.rs, safety_replay.rs)"),
    ("CloudTrailResponderRole", "ssm:GetParametersByPath", "the settings, read at init (settings.rs, cargo_lambda_replay.rs)"),
    ("ConfigResponderRole", "iam:DetachUserPolicy", "an AWS-managed admin policy found by a Config rule is detached (the Config samples rewrite customer-managed ones)"),
    ("ConfigResponderRole", "iam:DetachRolePolicy", "as DetachUserPolicy, for roles"),
    ("ConfigResponderRole", "iam:DetachGroupPolicy", "as DetachUserPolicy, for groups"),
    ("ConfigResponderRole", "iam:PutUserPolicy", "inline user policies named by a configuration item (the sample is a role)"),
    ("ConfigResponderRole", "iam:PutGroupPolicy", "inline group policies named by a configuration item (the sample is a role)"),
    ("ConfigResponderRole", "iam:DeleteUserPolicy", "an emptied inline policy is deleted"),
    ("ConfigResponderRole", "iam:DeleteRolePolicy", "an emptied inline policy is deleted"),
    ("ConfigResponderRole", "iam:DeleteGroupPolicy", "an emptied inline policy is deleted"),
    ("ConfigResponderRole", "iam:UpdateAssumeRolePolicy", "an open trust found in a role's configuration item"),
    ("ConfigResponderRole", "iam:DeletePolicyVersion", "at IAM's five versions the oldest is deleted first"),
    ("ConfigResponderRole", "iam:SetDefaultPolicyVersion", "the recorded inverse of a rewrite (`responder undo`)"),
    ("ConfigResponderRole", "iam:GetGroup", "a group named by Config (no group sample)"),
    ("ConfigResponderRole", "iam:GetGroupPolicy", "a group named by Config (no group sample)"),
    ("ConfigResponderRole", "iam:ListAttachedGroupPolicies", "a group named by Config (no group sample)"),
    ("ConfigResponderRole", "iam:ListGroupPolicies", "a group named by Config (no group sample)"),
    ("ConfigResponderRole", "iam:GetUserPolicy", "a user's inline policy named by Config (the user sample has managed ones)"),
    ("ConfigResponderRole", "iam:ListRoles", "the scan when AWS Config cannot resolve a role id (moto's Config knows roles)"),
    ("ConfigResponderRole", "iam:ListGroups", "the scan when AWS Config cannot resolve a group id (no group sample)"),
    ("ConfigResponderRole", "iam:ListPolicies", "the scan when AWS Config cannot resolve a policy id (config_replay.rs fault test)"),
    ("ConfigResponderRole", "ec2:DescribeInstances", "required-tags results for instances (the samples are a bucket and a DB instance)"),
    ("ConfigResponderRole", "ec2:DescribeVolumes", "required-tags results for volumes"),
    ("ConfigResponderRole", "ec2:DescribeSecurityGroups", "required-tags results for security groups"),
    ("ConfigResponderRole", "lambda:ListTags", "required-tags results for functions"),
    ("ConfigResponderRole", "dynamodb:ListTagsOfResource", "required-tags results for tables"),
    ("ConfigResponderRole", "sqs:GetQueueUrl", "required-tags results for queues"),
    ("ConfigResponderRole", "sqs:ListQueueTags", "required-tags results for queues"),
    ("ConfigResponderRole", "sqs:TagQueue", "queues are tagged through SQS's own API"),
    ("ConfigResponderRole", "sns:ListTagsForResource", "required-tags results for topics"),
    ("ConfigResponderRole", "s3:PutBucketTagging", "kept for buckets the tagging API cannot tag"),
    ("ConfigResponderRole", "ec2:CreateTags", "kept for EC2 resources the tagging API cannot tag"),
    ("ConfigResponderRole", "lambda:TagResource", "service tag call behind tag:TagResources"),
    ("ConfigResponderRole", "dynamodb:TagResource", "service tag call behind tag:TagResources"),
    ("ConfigResponderRole", "rds:AddTagsToResource", "service tag call behind tag:TagResources"),
    ("ConfigResponderRole", "sns:TagResource", "service tag call behind tag:TagResources"),
    ("ConfigResponderRole", "sts:AssumeRole", "the member role, in member accounts"),
    ("ConfigResponderRole", "ssm:GetParametersByPath", "the settings, read at init"),
    ("TaggingResponderRole", "s3:PutBucketTagging", "kept for buckets the tagging API cannot tag"),
    ("TaggingResponderRole", "ec2:CreateTags", "service tag call behind tag:TagResources"),
    ("TaggingResponderRole", "lambda:TagResource", "service tag call behind tag:TagResources"),
    ("TaggingResponderRole", "dynamodb:TagResource", "service tag call behind tag:TagResources"),
    ("TaggingResponderRole", "rds:AddTagsToResource", "service tag call behind tag:TagResources"),
    ("TaggingResponderRole", "sns:TagResource", "service tag call behind tag:TagResources"),
    ("TaggingResponderRole", "sts:AssumeRole", "the member role, in member accounts"),
    ("TaggingResponderRole", "ssm:GetParametersByPath", "the settings, read at init"),
    ("GuardDutyResponderRole", "sts:AssumeRole", "the member role, in member accounts"),
    ("GuardDutyResponderRole", "ssm:GetParametersByPath", "the settings, read at init"),
];

/// One replay: the sample, the function it goes to, extra settings.
type Run = (String, &'static str, Vec<(&'static str, &'static str)>);

/// The function (template resource) a sample goes to, as the template routes it.
fn function_of(source: &str, event: &Value) -> &'static str {
    match source {
        "guardduty" => "GuardDutyResponder",
        "config" => "ConfigResponder",
        _ => {
            let name = event["detail"]["eventName"].as_str().unwrap_or_default();
            if CREATE_EVENTS.iter().any(|(_, e, _)| *e == name) {
                "TaggingResponder"
            } else {
                "CloudTrailResponder"
            }
        }
    }
}

/// The form parameters of a query-protocol request body, decoded.
fn form(body: &str) -> BTreeMap<String, String> {
    body.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            let v = percent_encoding::percent_decode_str(&v.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned();
            (k.to_string(), v)
        })
        .collect()
}

/// `arn` with any account id in it (a 12-digit field, or path segment as in
/// `product/<account>/default`) replaced by [`ACCOUNT`].
fn in_account(arn: &str) -> String {
    let account = |seg: &str| {
        if seg.len() == 12 && seg.bytes().all(|b| b.is_ascii_digit()) {
            ACCOUNT.to_string()
        } else {
            seg.to_string()
        }
    };
    arn.split(':')
        .map(|part| part.split('/').map(account).collect::<Vec<_>>().join("/"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The IAM action and resource a recorded call is authorized as. `None` for calls that need no
/// permission (`GetCallerIdentity`).
fn authorization(call: &ApiCall) -> Option<(String, String)> {
    let (method, rest) = call.request.split_once(' ').unwrap_or(("", ""));
    let (target, body) = rest.split_once(' ').unwrap_or((rest, ""));
    let prefix = match call.service.as_str() {
        "tagging" => "tag",
        other => other,
    };
    let operation = match (call.service.as_str(), method) {
        ("s3", _) if target.contains("?tagging") => match method {
            "GET" => "GetBucketTagging".to_string(),
            "PUT" => "PutBucketTagging".to_string(),
            _ => "DeleteBucketTagging".to_string(),
        },
        ("lambda", "GET") if target.contains("/tags/") => "ListTags".to_string(),
        ("lambda", "POST") if target.contains("/tags/") => "TagResource".to_string(),
        _ => call.operation.clone(),
    };
    if operation == "GetCallerIdentity" {
        return None;
    }
    let p = form(body);
    let resource = match prefix {
        // IAM authorizes a call on the principal it changes (a policy attached or detached is
        // only a condition key), else on the policy.
        "iam" => {
            if let Some(n) = p.get("UserName") {
                format!("arn:aws:iam::{ACCOUNT}:user/{n}")
            } else if let Some(n) = p.get("RoleName") {
                format!("arn:aws:iam::{ACCOUNT}:role/{n}")
            } else if let Some(n) = p.get("GroupName") {
                format!("arn:aws:iam::{ACCOUNT}:group/{n}")
            } else if let Some(arn) = p.get("PolicyArn") {
                in_account(arn)
            } else if p.contains_key("AccessKeyId") {
                // GetAccessKeyLastUsed: the key's user, unknown before the answer.
                format!("arn:aws:iam::{ACCOUNT}:user/key-owner")
            } else {
                "*".to_string()
            }
        }
        "ssm" => {
            let v: Value = serde_json::from_str(body).unwrap_or_default();
            let name = v["Name"].as_str().or(v["Path"].as_str()).unwrap_or("/");
            format!("arn:aws:ssm:us-east-1:{ACCOUNT}:parameter{name}")
        }
        "securityhub" if operation == "BatchImportFindings" => {
            let v: Value = serde_json::from_str(body).unwrap_or_default();
            in_account(v["Findings"][0]["ProductArn"].as_str().unwrap_or("*"))
        }
        _ => "*".to_string(),
    };
    Some((format!("{prefix}:{operation}"), resource))
}

/// `doc` as it applies to principals without the exemption tag: its conditional denies, which
/// must all be the exemption-tag deny (the engine takes any condition to apply; the tagged case
/// is proven in `template.rs`), left out. Replayed principals carry no exemption tag, or the code
/// withholds the write before IAM is asked.
fn untagged(doc: &Value) -> Value {
    let mut out = doc.clone();
    let statements = doc["Statement"].as_array().cloned().unwrap_or_default();
    for s in &statements {
        if s["Effect"] == "Deny" && s.get("Condition").is_some() {
            assert_eq!(
                s["Condition"],
                serde_json::json!({"Null": {"aws:ResourceTag/compliance-responder:exempt": "false"}}),
                "a conditional deny other than the exemption tag's: {s}"
            );
        }
    }
    out["Statement"] = Value::Array(
        statements
            .into_iter()
            .filter(|s| !(s["Effect"] == "Deny" && s.get("Condition").is_some()))
            .collect(),
    );
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_is_allowed_and_every_grant_is_used() {
    let central = template_json("template.yaml");
    let member = template_json("member-template.yaml");
    let params = serde_json::json!({
        "MemberRoleName": "compliance-responder-remediation",
        "RoleName": "compliance-responder-remediation",
        "KillSwitch": "/compliance-responder/kill-switch",
        "ProtectedPrincipals": "arn:aws:iam::*:role/break-glass-*",
        "ProtectedRoleNames": ["break-glass-admin"],
    });
    let role_doc = |t: &Value, resource: &str| -> Value {
        resolve_with(
            &t["Resources"][resource]["Properties"]["Policies"][0]["PolicyDocument"],
            &params,
        )
        .unwrap()
    };
    let member_doc = role_doc(&member, "RemediationRole");
    let member_policy = PolicyDocument::parse(&untagged(&member_doc).to_string()).unwrap();
    let member_grants = Grants::of(&member_policy);

    // Every sample, by the function the template routes it to; GuardDuty's samples once more
    // with quarantine on; all with the kill switch read and the GuardDuty note attempted.
    let mut runs: Vec<Run> = Vec::new();
    for source in ["cloudtrail", "config", "guardduty"] {
        for path in sample_events(source) {
            let name = format!("{source}/{}", path.file_name().unwrap().to_string_lossy());
            let event: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            let function = function_of(source, &event);
            runs.push((name.clone(), function, vec![]));
            if source == "guardduty" {
                runs.push((name, function, vec![("GUARDDUTY_QUARANTINE", "true")]));
            }
        }
    }
    let mut used: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut denied = Vec::new();
    for (name, function, extra) in &runs {
        let env = Env::seeded().await;
        env.put_parameter("/compliance-responder/kill-switch", "off").await;
        let mut vars = vec![
            ("MODE", "remediate"),
            ("KILL_SWITCH_PARAMETER", "/compliance-responder/kill-switch"),
            ("ANNOTATE_SOURCE_FINDINGS", "true"),
        ];
        vars.extend(extra.iter().copied());
        let r = responder_with_env(&env.sdk, &vars);
        env.start_recording();
        r.handle_bytes(&env.event(name)).await;
        let role = format!("{function}Role");
        let doc = role_doc(&central, &role);
        let policy = PolicyDocument::parse(&untagged(&doc).to_string()).unwrap();
        let grants = Grants::of(&policy);
        for call in env.recorded_calls() {
            let Some((action, resource)) = authorization(&call) else {
                continue;
            };
            if grants.allows(&action, &resource) != Decision::Allowed {
                denied.push(format!("{name}: {role} may not {action} on {resource}"));
            }
            // The member role makes the same calls in a member account (not the SSM reads of
            // the central stack's own parameters).
            if !action.starts_with("ssm:") && member_grants.allows(&action, &resource) != Decision::Allowed {
                denied.push(format!("{name}: the member role may not {action} on {resource}"));
            }
            used.entry(function).or_default().insert(action.clone());
            used.entry("member").or_default().insert(action);
        }
    }
    assert!(
        denied.is_empty(),
        "calls the templates do not allow:\n{}",
        denied.join("\n")
    );

    let kept = |role: &str, action: &str| KEPT.iter().any(|(r, a, _)| *r == role && *a == action);
    let mut unused = Vec::new();
    for function in [
        "CloudTrailResponder",
        "TaggingResponder",
        "ConfigResponder",
        "GuardDutyResponder",
    ] {
        let role = format!("{function}Role");
        let made = used.get(function).cloned().unwrap_or_default();
        for action in granted(&role_doc(&central, &role)) {
            let infrastructure = action == "sqs:SendMessage"; // Lambda's on-failure destination
            if !made.contains(&action) && !infrastructure && !kept(&role, &action) {
                unused.push(format!("{role}: {action}"));
            }
        }
    }
    let made = used.get("member").cloned().unwrap_or_default();
    let central_kept: BTreeSet<&str> = KEPT.iter().map(|(_, a, _)| *a).collect();
    for action in granted(&member_doc) {
        if !made.contains(&action) && !central_kept.contains(action.as_str()) {
            unused.push(format!("member RemediationRole: {action}"));
        }
    }
    assert!(
        unused.is_empty(),
        "granted but never used by a replay, and not in KEPT with a reason:\n{}",
        unused.join("\n")
    );
    // A reason for something no longer granted, or now used, is stale.
    let mut stale = Vec::new();
    for (role, action, _) in KEPT {
        let doc = role_doc(&central, role);
        let function = role.trim_end_matches("Role");
        if !granted(&doc).contains(*action) {
            stale.push(format!("{role} {action}: no longer granted"));
        } else if used.get(function).is_some_and(|u| u.contains(*action)) {
            stale.push(format!("{role} {action}: a replay makes it now"));
        }
    }
    assert!(stale.is_empty(), "stale KEPT entries:\n{}", stale.join("\n"));
}
