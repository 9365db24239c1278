//! The `responder` command line: check-policy and plan (offline). `undo` is tested against moto
//! in tests/tests/responder_undo.rs.

use std::path::PathBuf;
use std::process::Command;

fn responder(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_responder"))
        .args(args)
        .output()
        .expect("run responder");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn temp(name: &str, text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("responder-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
fn check_policy_reports_each_violation_as_a_json_line() {
    let f = temp(
        "escalate.json",
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"Ops","Effect":"Allow","Action":["IAM:pass?ole","ec2:RunInstances"],"Resource":"*"}]}"#,
    );
    let (code, out, _) = responder(&["check-policy", &f]);
    assert_eq!(code, 1);
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert_eq!(lines[0]["rule"], "iam-privilege-escalation");
    assert_eq!(lines[0]["severity"], "HIGH");
    assert_eq!(lines[0]["statement"], "Ops");
    assert_eq!(
        lines[0]["matched"],
        serde_json::json!(["iam:PassRole", "ec2:RunInstances"])
    );
    assert_eq!(lines[0]["file"], f.as_str());
}

#[test]
fn check_policy_is_silent_and_zero_for_a_clean_policy() {
    let f = temp(
        "clean.json",
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}"#,
    );
    assert_eq!(responder(&["check-policy", &f]), (0, String::new(), String::new()));
}

#[test]
fn check_policy_trust_mode_and_bad_input() {
    let t = temp(
        "trust.json",
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"}]}"#,
    );
    let (code, out, _) = responder(&["check-policy", "--trust", &t]);
    assert_eq!(code, 1);
    assert!(out.contains("iam-open-trust"));
    // The same document checked as a permission policy: no permission rule applies to it.
    assert_eq!(responder(&["check-policy", &t]).0, 0);
    let bad = temp("bad.json", r#"{"Statement":[{"Effect":"Allow","Action":"*"#);
    let (code, out, err) = responder(&["check-policy", &bad]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(err.contains("not valid JSON"), "{err}");
    assert_eq!(responder(&["check-policy", "/nonexistent/file.json"]).0, 2);
    assert_eq!(responder(&["check-policy"]).0, 2);
    let huge = temp(
        "huge.json",
        &format!(
            r#"{{"Statement":[{}]}}"#,
            vec![r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}"#; 300].join(",")
        ),
    );
    let (code, _, err) = responder(&["check-policy", &huge]);
    assert_eq!(code, 2);
    assert!(err.contains("over IAM's"), "{err}");
}

#[test]
fn plan_shows_verdicts_and_actions_without_aws() {
    // No AWS endpoint is configured: any call would fail the command.
    let event = repo().join("events/cloudtrail/put-inline-mixed-admin.json");
    let (code, out, err) = responder(&["plan", event.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["status"], "dry-run");
    assert_eq!(report["actions"][0]["api_call"], "iam:PutRolePolicy");
    assert!(report["actions"][0]["action"]["document"]
        .as_str()
        .unwrap()
        .contains("WriteCurated"));
    let bad = temp("bad-event.json", "{");
    assert_eq!(responder(&["plan", &bad]).0, 2);
}

/// A document JSON can read more than one way (duplicate keys; RFC 8259 leaves them to the
/// reader) is judged on its most permissive reading and reported as ambiguous, with no fix: a Deny
/// whose Effect is also Allow grants, a duplicated Action grants both.
#[test]
fn an_ambiguous_document_is_judged_on_its_most_permissive_reading() {
    let f = temp(
        "ambiguous.json",
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"Looks","Effect":"Deny","Effect":"Allow","Action":"s3:GetObject","Action":"*","Resource":"*"}]}"#,
    );
    let (code, out, _) = responder(&["check-policy", &f]);
    assert_eq!(code, 1, "{out}");
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(lines.iter().any(|l| l["rule"] == "iam-admin-access"), "{out}");
    for l in &lines {
        assert!(l["ambiguous"][0].as_str().unwrap().contains("duplicate"), "{l}");
        assert!(l["fix"].is_null(), "no rewrite of an ambiguous document: {l}");
    }
}

/// An `Effect` that is neither `Allow` nor `Deny` (IAM refuses it when written; a Config item or a
/// file can still carry it) is read as the grant it would be, reported as ambiguous, never fixed: a
/// lower-case "deny" protects nothing.
#[test]
fn an_unknown_effect_is_read_as_allow_and_reported_as_ambiguous() {
    let f = temp(
        "unknown-effect.json",
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"LooksLikeADeny","Effect":"deny","Action":"iam:CreateAccessKey","Resource":"*"}]}"#,
    );
    let (code, out, _) = responder(&["check-policy", &f]);
    assert_eq!(code, 1, "{out}");
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(lines.iter().any(|l| l["rule"] == "iam-privilege-escalation"), "{out}");
    for l in &lines {
        assert!(l["ambiguous"][0].as_str().unwrap().contains("neither"), "{l}");
        assert!(l["fix"].is_null(), "no rewrite of an ambiguous document: {l}");
    }
}
