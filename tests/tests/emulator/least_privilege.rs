//! Least privilege, proven (issue 16): every sample event is replayed, in remediate mode, by a
//! responder configured as the function the template routes it to; every AWS call that reaches
//! the emulator is recorded, turned into its IAM action and resource, and evaluated with the
//! project's own policy engine, within each role's permissions boundary, against that function's
//! role in `template.yaml` and against the member role of the fix's capability in
//! `member-template.yaml` (which makes the same calls in a member account). Each applied fix is
//! then undone with `responder undo`, and its calls are evaluated against the undo role. Every
//! call made must be allowed; every action a role grants must be made by some replay here, or be
//! listed in [`KEPT`] with the reason it is kept.

use crate::responder_undo::undo_succeeds;
use crate::template::{granted, template_json, RolePolicy};
use compliance_responder::grants::Decision;
use compliance_responder::sources::created::CREATE_EVENTS;
use compliance_responder::ReportStatus;
use integration_tests::{responder_with_env, sample_events, ApiCall, Env};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The account the templates' policies are resolved for (`${AWS::AccountId}`): the calls'
/// resources are written in it too.
const ACCOUNT: &str = "123456789012";

/// Granted actions that no sample replay makes, and why each is kept. Per role: the template
/// resource (central function roles, member roles) and the action.
const KEPT: &[(&str, &str, &str)] = &[
    ("CloudTrailResponderRole", "iam:PutUserPolicy", "a user's inline policy keeping other statements is rewritten (the user samples' are admin-only: deleted)"),
    ("GuardDutyResponderRole", "iam:GetAccessKeyLastUsed", "the owner of a key that is not in the named user's list (guardduty_replay.rs)"),
    ("GuardDutyResponderRole", "iam:GetUserPolicy", "an existing AWSRevokeOlderSessions policy on a user is read (temporary ASIA keys, guardduty_replay.rs)"),
    ("GuardDutyResponderRole", "iam:ListUserPolicies", "a user's inline policies are counted against IAM's quota before a revocation"),
    ("GuardDutyResponderRole", "iam:PutUserPolicy", "a user's sessions are revoked for temporary ASIA keys (guardduty_replay.rs)"),
    ("CloudTrailResponderRole", "iam:DeleteGroupPolicy", "a group's emptied inline policy is deleted (no group sample)"),
    ("CloudTrailResponderRole", "iam:DeleteRolePolicy", "an emptied inline role policy is deleted (the samples keep statements)"),
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
    ("ConfigResponderRole", "iam:ListGroupsForUser", "a user's configuration item judges the user with its groups' policies (iam-privilege-escalation; the sample is a role)"),
    ("ConfigResponderRole", "iam:UpdateAssumeRolePolicy", "an open trust found in a role's configuration item"),
    ("ConfigResponderRole", "iam:DeletePolicyVersion", "at IAM's five versions the oldest is deleted first"),
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
    ("AuditResponderRole", "s3:PutBucketTagging", "service tag call behind tag:TagResources"),
    ("AuditResponderRole", "ec2:CreateTags", "service tag call behind tag:TagResources"),
    ("AuditResponderRole", "lambda:TagResource", "service tag call behind tag:TagResources"),
    ("AuditResponderRole", "dynamodb:TagResource", "service tag call behind tag:TagResources"),
    ("AuditResponderRole", "rds:AddTagsToResource", "service tag call behind tag:TagResources"),
    ("AuditResponderRole", "sns:TagResource", "service tag call behind tag:TagResources"),
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
    // The member roles: the same fixes as the central roles', made in a member account.
    ("RemediationRole", "iam:PutUserPolicy", "a user's inline policy keeping other statements is rewritten"),
    ("RemediationRole", "iam:DeleteRolePolicy", "an emptied inline role policy is deleted (the samples keep statements)"),
    ("RemediationRole", "iam:DeleteGroupPolicy", "a group's emptied inline policy is deleted (no group sample)"),
    ("RemediationRole", "iam:ListRoles", "the scan when AWS Config cannot resolve a role id"),
    ("RemediationRole", "iam:ListGroups", "the scan when AWS Config cannot resolve a group id"),
    ("RemediationRole", "iam:ListPolicies", "the scan when AWS Config cannot resolve a policy id"),
    ("TaggingRole", "config:BatchGetResourceConfig", "a required-tags result known by its Config resource id (RDS)"),
    ("TaggingRole", "s3:PutBucketTagging", "service tag call behind tag:TagResources"),
    ("TaggingRole", "ec2:CreateTags", "service tag call behind tag:TagResources"),
    ("TaggingRole", "lambda:TagResource", "service tag call behind tag:TagResources"),
    ("TaggingRole", "dynamodb:TagResource", "service tag call behind tag:TagResources"),
    ("TaggingRole", "rds:AddTagsToResource", "service tag call behind tag:TagResources"),
    ("TaggingRole", "sns:TagResource", "service tag call behind tag:TagResources"),
    ("ContainmentRole", "iam:GetUserPolicy", "an existing AWSRevokeOlderSessions policy on a user is read"),
    ("ContainmentRole", "iam:ListUserPolicies", "a user's inline policies are counted against IAM's quota before a revocation"),
    ("ContainmentRole", "iam:PutUserPolicy", "a user's sessions are revoked for temporary ASIA keys"),
    // The undo role: the inverse of every write the function roles may make.
    ("UndoRole", "iam:DeleteUserPolicy", "the inverse of a revocation put on a user"),
    ("UndoRole", "iam:DeleteGroupPolicy", "the inverse of a group inline policy put"),
    ("UndoRole", "s3:GetBucketTagging", "service call behind tag:UntagResources for a bucket"),
    ("UndoRole", "s3:PutBucketTagging", "service call behind tag:UntagResources for a bucket"),
    ("UndoRole", "ec2:DeleteTags", "service untag call behind tag:UntagResources"),
    ("UndoRole", "lambda:UntagResource", "service untag call behind tag:UntagResources"),
    ("UndoRole", "dynamodb:UntagResource", "service untag call behind tag:UntagResources"),
    ("UndoRole", "rds:RemoveTagsFromResource", "service untag call behind tag:UntagResources"),
    ("UndoRole", "sns:UntagResource", "service untag call behind tag:UntagResources"),
    // Security Hub's "Undo" reads the state a fix left before undoing it (the sample undoes a
    // role's inline policy: GetRolePolicy).
    ("UndoRole", "iam:GetUserPolicy", "the state check of an undone user inline policy"),
    ("UndoRole", "iam:GetGroupPolicy", "the state check of an undone group inline policy"),
    ("UndoRole", "iam:GetPolicy", "the state check of an undone rewrite of a customer-managed policy"),
    ("UndoRole", "iam:GetRole", "the state check of an undone trust policy"),
    ("UndoRole", "iam:ListAccessKeys", "the state check of an undone key deactivation"),
    ("UndoRole", "iam:ListAttachedUserPolicies", "the state check of an undone detach"),
    ("UndoRole", "iam:ListAttachedRolePolicies", "the state check of an undone detach"),
    ("UndoRole", "iam:ListAttachedGroupPolicies", "the state check of an undone detach"),
    ("UndoRole", "ec2:DescribeInstances", "the state check of undone tags"),
    ("UndoRole", "ec2:DescribeVolumes", "the state check of undone tags"),
    ("UndoRole", "ec2:DescribeSecurityGroups", "the state check of undone tags"),
    ("UndoRole", "lambda:ListTags", "the state check of undone tags"),
    ("UndoRole", "dynamodb:ListTagsOfResource", "the state check of undone tags"),
    ("UndoRole", "rds:DescribeDBInstances", "the state check of undone tags"),
    ("UndoRole", "sqs:ListQueueTags", "the state check of undone tags"),
    ("UndoRole", "sns:ListTagsForResource", "the state check of undone tags"),
    ("TaggingRole", "securityhub:BatchUpdateFindings", "the note of a person's Remediate of a required-tags finding"),
    ("SecurityHubResponderRole", "ssm:GetParametersByPath", "the settings, read at init"),
    ("AuditResponderRole", "ssm:GetParametersByPath", "the settings, read at init"),
    ("AuditResponderRole", "sts:AssumeRole", "the IAM-rewrite role of member accounts (audit.rs: --account)"),
    ("SecurityHubResponderRole", "iam:ListAccessKeys", "Remediate of an iam-access-key-unused finding (hub_actions.rs: remediate_and_undo_an_unused_access_key checks its calls against this role)"),
    ("SecurityHubResponderRole", "iam:GetAccessKeyLastUsed", "as iam:ListAccessKeys"),
    ("SecurityHubResponderRole", "iam:UpdateAccessKey", "as iam:ListAccessKeys"),
    ("AuditResponderRole", "iam:UpdateAccessKey", "an access key unused for too long is deactivated (the sandbox's keys are new: audit.rs ages them)"),
];

/// Functions whose fixes are another's: the securityhub function's "Remediate" makes the fixes of
/// the cloudtrail and config functions (the same subjects, judged again), the audit sweep those of
/// the cloudtrail function (a principal's policies). A fix grant of such a role is justified when
/// one of those functions' replays makes it, or keeps it here with its reason.
const REMEDIATES_AS: &[(&str, &[&str])] = &[
    ("SecurityHubResponderRole", &["CloudTrailResponder", "ConfigResponder"]),
    ("AuditResponderRole", &["CloudTrailResponder"]),
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
        // The undo records: objects of the record bucket.
        ("s3", "PUT" | "GET")
            if !target.contains("?tagging")
                && !target.contains("list-type=2")
                && target
                    .split('?')
                    .next()
                    .unwrap_or_default()
                    .trim_start_matches('/')
                    .contains('/') =>
        {
            let path = target.split('?').next().unwrap_or_default();
            let (bucket, key) = path.trim_start_matches('/').split_once('/').unwrap_or_default();
            let bucket = bucket
                .trim_end_matches(|c: char| c.is_ascii_digit())
                .trim_end_matches('-');
            let action = if method == "PUT" { "PutObject" } else { "GetObject" };
            return Some((format!("s3:{action}"), format!("arn:aws:s3:::{bucket}/{key}")));
        }
        // ListObjectsV2: `GET /bucket?list-type=2&prefix=…`.
        ("s3", "GET") if target.contains("list-type=2") => {
            let path = target.split('?').next().unwrap_or_default();
            let bucket = path
                .trim_matches('/')
                .trim_end_matches(|c: char| c.is_ascii_digit())
                .trim_end_matches('-');
            return Some(("s3:ListBucket".to_string(), format!("arn:aws:s3:::{bucket}")));
        }
        // ListBuckets: `GET /` (any query: `?bucket-region=…&max-buckets=…`).
        ("s3", "GET") if target.split('?').next() == Some("/") => "ListAllMyBuckets".to_string(),
        ("lambda", "GET")
            if target
                .split('?')
                .next()
                .is_some_and(|p| p.trim_end_matches('/').ends_with("/functions")) =>
        {
            "ListFunctions".to_string()
        }
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
        "securityhub" if operation == "GetFindings" || operation == "BatchUpdateFindings" => {
            format!("arn:aws:securityhub:us-east-1:{ACCOUNT}:hub/default")
        }
        "sts" if operation == "AssumeRole" => in_account(p.get("RoleArn").map(String::as_str).unwrap_or("*")),
        "securityhub" if operation == "BatchImportFindings" => {
            let v: Value = serde_json::from_str(body).unwrap_or_default();
            in_account(v["Findings"][0]["ProductArn"].as_str().unwrap_or("*"))
        }
        _ => "*".to_string(),
    };
    Some((format!("{prefix}:{operation}"), resource))
}

/// Each recorded call with what it needs granted: its own action and resource, and what AWS also
/// requires for the call to answer as the code expects. S3 answers a GetObject of a key that does
/// not exist with 403 AccessDenied, not 404 NoSuchKey, unless the caller may also `s3:ListBucket`
/// the bucket (S3 API reference, GetObject, "Permissions"): the reads that expect "no record yet"
/// (the state of an account never swept, "Undo" of an unrecorded finding) need it. moto answers
/// NoSuchKey either way.
pub(crate) fn authorized(calls: &[ApiCall]) -> Vec<(ApiCall, String, String)> {
    let mut out = Vec::new();
    for call in calls {
        let Some((action, resource)) = authorization(call) else {
            continue;
        };
        if action == "s3:GetObject" {
            if let Some((bucket, _)) = resource.split_once('/') {
                out.push((call.clone(), "s3:ListBucket".to_string(), bucket.to_string()));
            }
        }
        out.push((call.clone(), action, resource));
    }
    out
}

/// The member role a replay acts through in a member account: the one of the fix's capability,
/// as the template configures each function.
fn member_role_of(function: &str, event: &Value) -> &'static str {
    match function {
        "GuardDutyResponder" => "ContainmentRole",
        "TaggingResponder" => "TaggingRole",
        "CloudTrailResponder" => "RemediationRole",
        _ => {
            let d = &event["detail"];
            let kind = [
                &d["configurationItem"]["resourceType"],
                &d["configurationItemSummary"]["resourceType"],
                &d["resourceType"],
            ]
            .into_iter()
            .find_map(Value::as_str)
            .unwrap_or_default();
            if kind.starts_with("AWS::IAM::") {
                "RemediationRole"
            } else {
                "TaggingRole"
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_is_allowed_and_every_grant_is_used() {
    let central = template_json("template.yaml");
    let member = template_json("member-template.yaml");

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
    let dir = std::env::temp_dir().join(format!("least-privilege-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut used: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut denied = Vec::new();
    let mut undone = 0;
    for (name, function, extra) in &runs {
        let (env, bucket) = sandbox().await;
        let mut vars = vec![
            ("MODE", "remediate"),
            ("KILL_SWITCH_PARAMETER", "/compliance-responder/kill-switch"),
            ("ANNOTATE_SOURCE_FINDINGS", "true"),
            ("UNDO_RECORD_BUCKET", bucket.as_str()),
        ];
        vars.extend(extra.iter().copied());
        let r = responder_with_env(&env.sdk, &vars);
        env.start_recording();
        let bytes = env.event(name);
        let report = r.handle_bytes(&bytes).await;
        let event: Value = serde_json::from_slice(&bytes).unwrap();
        let role = format!("{function}Role");
        let central_role = RolePolicy::of(&central, &role).untagged();
        // The member role of the fix's capability makes the same calls in a member account (not
        // the SSM reads of the central stack's own parameters).
        let member_role = member_role_of(function, &event);
        let member_policy = RolePolicy::of(&member, member_role).untagged();
        for (_, action, resource) in authorized(&env.recorded_calls()) {
            if central_role.allows(&action, &resource) != Decision::Allowed {
                denied.push(format!("{name}: {role} may not {action} on {resource}"));
            }
            if !central_only(&action) {
                if member_policy.allows(&action, &resource) != Decision::Allowed {
                    denied.push(format!("{name}: member {member_role} may not {action} on {resource}"));
                }
                used.entry(member_role).or_default().insert(action.clone());
            }
            used.entry(function).or_default().insert(action);
        }
        // What was applied is undone as `responder undo --role-arn` does it: every call of the
        // inverses must be the undo role's.
        if report.status == ReportStatus::Remediated {
            let file = dir.join("report.json");
            std::fs::write(&file, serde_json::to_vec(&report).unwrap()).unwrap();
            env.start_recording();
            undo_succeeds(&env, &file, &[]);
            let undo = RolePolicy::of(&member, "UndoRole").untagged();
            for (_, action, resource) in authorized(&env.recorded_calls()) {
                if undo.allows(&action, &resource) != Decision::Allowed {
                    denied.push(format!("{name} undone: UndoRole may not {action} on {resource}"));
                }
                used.entry("UndoRole").or_default().insert(action);
            }
            undone += 1;
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(undone >= 10, "{undone} replays undone");
    Box::pin(custom_actions(&central, &member, &mut used, &mut denied)).await;
    Box::pin(scheduled_sweep(&central, &member, &mut used, &mut denied)).await;
    assert!(
        denied.is_empty(),
        "calls the templates do not allow:\n{}",
        denied.join("\n")
    );

    let kept_for = |role: &str, action: &str| KEPT.iter().any(|(r, a, _)| *r == role && *a == action);
    let kept = |role: &str, action: &str| {
        kept_for(role, action)
            || REMEDIATES_AS.iter().filter(|(r, _)| *r == role).any(|(_, functions)| {
                functions
                    .iter()
                    .any(|f| used.get(f).is_some_and(|u| u.contains(action)) || kept_for(&format!("{f}Role"), action))
            })
    };
    let mut unused = Vec::new();
    let roles = [
        (&central, "CloudTrailResponderRole", "CloudTrailResponder"),
        (&central, "TaggingResponderRole", "TaggingResponder"),
        (&central, "ConfigResponderRole", "ConfigResponder"),
        (&central, "GuardDutyResponderRole", "GuardDutyResponder"),
        (&central, "SecurityHubResponderRole", "SecurityHubResponder"),
        (&central, "AuditResponderRole", "AuditResponder"),
        (&member, "RemediationRole", "RemediationRole"),
        (&member, "TaggingRole", "TaggingRole"),
        (&member, "ContainmentRole", "ContainmentRole"),
        (&member, "UndoRole", "UndoRole"),
    ];
    for (template, role, key) in roles {
        let made = used.get(key).cloned().unwrap_or_default();
        for action in granted(&RolePolicy::of(template, role).identity) {
            let infrastructure = action == "sqs:SendMessage"; // Lambda's on-failure destination
            if !made.contains(&action) && !infrastructure && !kept(role, &action) {
                unused.push(format!("{role}: {action}"));
            }
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
        let (template, key) = roles
            .iter()
            .find(|(_, r, _)| r == role)
            .map(|(t, _, k)| (*t, *k))
            .unwrap_or_else(|| panic!("KEPT names an unknown role {role}"));
        if !granted(&RolePolicy::of(template, role).identity).contains(*action) {
            stale.push(format!("{role} {action}: no longer granted"));
        } else if used.get(key).is_some_and(|u| u.contains(*action)) {
            stale.push(format!("{role} {action}: a replay makes it now"));
        }
    }
    assert!(stale.is_empty(), "stale KEPT entries:\n{}", stale.join("\n"));
}

/// Calls made only in the central account, with the function's own role: its settings and kill
/// switch (SSM) and the undo records (S3).
fn central_only(action: &str) -> bool {
    action.starts_with("ssm:") || matches!(action, "s3:PutObject" | "s3:GetObject" | "s3:ListBucket")
}

/// Security Hub's custom actions, as the template routes them to the securityhub function: a
/// finding recorded in dry-run is remediated on a person's "Remediate", then undone on "Undo".
/// The function's own calls are checked against its role (and, but for the central ones, the
/// IAM-rewrite member role, which makes them in a member account); the calls made with the undo
/// role's credentials (assumed even in the function's own account) against the undo role.
async fn custom_actions(
    central: &Value,
    member: &Value,
    used: &mut BTreeMap<&'static str, BTreeSet<String>>,
    denied: &mut Vec<String>,
) {
    let (env, bucket) = sandbox().await;
    let vars = [
        ("MODE", "dry-run"),
        ("KILL_SWITCH_PARAMETER", "/compliance-responder/kill-switch"),
        ("UNDO_RECORD_BUCKET", bucket.as_str()),
        ("MEMBER_UNDO_ROLE_NAME", "compliance-responder-undo"),
    ];
    // Recorded in dry-run by the cloudtrail function (its own responder: the kill switch it reads
    // is not the securityhub function's).
    let (report, _) = env
        .replay_bytes(
            &responder_with_env(&env.sdk, &vars),
            &env.event("cloudtrail/put-inline-mixed-admin.json"),
        )
        .await;
    let hub = responder_with_env(&env.sdk, &vars);
    assert_eq!(report.status, ReportStatus::DryRun, "{report:#?}");
    let own = env.access_key();
    let function = RolePolicy::of(central, "SecurityHubResponderRole").untagged();
    let rewrite = RolePolicy::of(member, "RemediationRole").untagged();
    let undo = RolePolicy::of(member, "UndoRole").untagged();
    for sample in [
        "securityhub/remediate-inline-admin.json",
        "securityhub/undo-inline-admin.json",
    ] {
        let (report, _) = env.replay_bytes(&hub, &env.hub_event(sample)).await;
        assert_eq!(report.status, ReportStatus::Remediated, "{sample}: {report:#?}");
        for (call, action, resource) in authorized(&env.recorded_calls()) {
            let mut check = |role: &'static str, policy: &RolePolicy| {
                if policy.allows(&action, &resource) != Decision::Allowed {
                    denied.push(format!("{sample}: {role} may not {action} on {resource}"));
                }
                used.entry(role).or_default().insert(action.clone());
            };
            if call.access_key != own {
                check("UndoRole", &undo);
                continue;
            }
            check("SecurityHubResponder", &function);
            if !central_only(&action) && action != "sts:AssumeRole" {
                check("RemediationRole", &rewrite);
            }
        }
    }
}

/// The scheduled sweep in remediate mode over the sandbox (every existing violation fixed there),
/// as the audit function: its calls checked against its role and, but for the central ones, the
/// IAM-rewrite member role (which the sweep uses in a member account).
async fn scheduled_sweep(
    central: &Value,
    member: &Value,
    used: &mut BTreeMap<&'static str, BTreeSet<String>>,
    denied: &mut Vec<String>,
) {
    let (env, bucket) = sandbox().await;
    let vars = [
        ("MODE", "remediate"),
        ("KILL_SWITCH_PARAMETER", "/compliance-responder/kill-switch"),
        ("UNDO_RECORD_BUCKET", bucket.as_str()),
    ];
    let sweeper =
        integration_tests::responder_for(&env.sdk, &vars, &[compliance_responder::finding::SourceKind::Audit]);
    let schedule = serde_json::json!({"scheduled-audit": {}});
    env.start_recording();
    let report = compliance_responder::lambda::run_scheduled_audit(&sweeper, &schedule)
        .await
        .unwrap();
    assert!(
        report["sweeps"][0]["summary"]["fixes_applied"]
            .as_u64()
            .unwrap_or_default()
            > 0,
        "{report}"
    );
    let function = RolePolicy::of(central, "AuditResponderRole").untagged();
    let rewrite = RolePolicy::of(member, "RemediationRole").untagged();
    let tagging = RolePolicy::of(member, "TaggingRole").untagged();
    let containment = RolePolicy::of(member, "ContainmentRole").untagged();
    for (_, action, resource) in authorized(&env.recorded_calls()) {
        if function.allows(&action, &resource) != Decision::Allowed {
            denied.push(format!(
                "scheduled sweep: AuditResponderRole may not {action} on {resource}"
            ));
        }
        used.entry("AuditResponder").or_default().insert(action.clone());
        // In a member account the access keys are swept through its containment role, the
        // region's resources through its tagging role.
        if matches!(
            action.as_str(),
            "iam:ListAccessKeys" | "iam:GetAccessKeyLastUsed" | "iam:UpdateAccessKey"
        ) {
            if containment.allows(&action, &resource) != Decision::Allowed {
                denied.push(format!(
                    "scheduled sweep: member ContainmentRole may not {action} on {resource}"
                ));
            }
            used.entry("ContainmentRole").or_default().insert(action);
        } else if !central_only(&action) && !action.starts_with("iam:") && !action.starts_with("securityhub:") {
            if tagging.allows(&action, &resource) != Decision::Allowed {
                denied.push(format!(
                    "scheduled sweep: member TaggingRole may not {action} on {resource}"
                ));
            }
            used.entry("TaggingRole").or_default().insert(action);
        } else if !central_only(&action) {
            if rewrite.allows(&action, &resource) != Decision::Allowed {
                denied.push(format!(
                    "scheduled sweep: member RemediationRole may not {action} on {resource}"
                ));
            }
            used.entry("RemediationRole").or_default().insert(action);
        }
    }
}

/// A seeded account with the kill switch off and a record bucket (its name returned).
async fn sandbox() -> (Env, String) {
    let env = Env::seeded().await;
    env.put_parameter("/compliance-responder/kill-switch", "off").await;
    let bucket = format!("cr-undo-records-{}", env.account_id());
    env.create_bucket(&bucket).await;
    (env, bucket)
}
