//! `make bench-audit`: the audit sweep (`responder audit`, dry-run) over a seeded account of
//! 1,000 principals (700 users, 200 roles, 100 groups) and 5,000 customer-managed policies
//! (five attached to each principal; one principal in 20 has an admin policy among them; one
//! policy in 100 also has a non-default version; one user in 10 an access key), in moto behind the
//! contract proxy, with a record bucket (`UNDO_RECORD_BUCKET`, as deployed: the sweep then judges
//! non-default versions). Prints the wall time, the AWS API calls by operation (counted at the
//! proxy), the peak memory of the `responder` process, and why each withheld fix was withheld.
//!
//! Usage: bench-audit [PRINCIPALS]   (default 1000; the policies are five per principal)

use integration_tests::Env;
use std::collections::BTreeMap;
use std::process::Command;
use std::time::Instant;

const READ_ONLY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":"arn:aws:s3:::example-reports/*"}]}"#;
const ADMIN: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// Peak resident set of the finished child processes, in MiB (getrusage, Linux reports KiB).
fn children_peak_mib() -> f64 {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct it is given.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    usage.ru_maxrss as f64 / 1024.0
}

#[tokio::main]
async fn main() {
    let principals: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(1000);
    let env = Env::empty().await;
    let iam = aws_sdk_iam::Client::new(&env.direct);
    let seeding = Instant::now();
    let (users, roles) = (principals * 7 / 10, principals * 2 / 10);
    let groups = principals - users - roles;
    let mut policies = 0usize;
    for i in 0..principals {
        let (kind, name) = if i < users {
            ("user", format!("user-{i:04}"))
        } else if i < users + roles {
            ("role", format!("role-{i:04}"))
        } else {
            ("group", format!("group-{i:04}"))
        };
        match kind {
            "user" => {
                iam.create_user().user_name(&name).send().await.expect("user");
                if i % 10 == 0 {
                    iam.create_access_key()
                        .user_name(&name)
                        .send()
                        .await
                        .expect("access key");
                }
            }
            "role" => drop(
                iam.create_role()
                    .role_name(&name)
                    .assume_role_policy_document(TRUST)
                    .send()
                    .await
                    .expect("role"),
            ),
            _ => drop(iam.create_group().group_name(&name).send().await.expect("group")),
        }
        for p in 0..5 {
            let document = if i % 20 == 0 && p == 0 { ADMIN } else { READ_ONLY };
            let arn = iam
                .create_policy()
                .policy_name(format!("{name}-p{p}"))
                .policy_document(document)
                .send()
                .await
                .expect("policy")
                .policy
                .and_then(|p| p.arn)
                .expect("arn");
            policies += 1;
            if policies.is_multiple_of(100) {
                iam.create_policy_version()
                    .policy_arn(&arn)
                    .policy_document(READ_ONLY.replace("example-reports", "example-archive"))
                    .set_as_default(false)
                    .send()
                    .await
                    .expect("non-default version");
            }
            match kind {
                "user" => drop(
                    iam.attach_user_policy()
                        .user_name(&name)
                        .policy_arn(&arn)
                        .send()
                        .await
                        .expect("attach"),
                ),
                "role" => drop(
                    iam.attach_role_policy()
                        .role_name(&name)
                        .policy_arn(&arn)
                        .send()
                        .await
                        .expect("attach"),
                ),
                _ => drop(
                    iam.attach_group_policy()
                        .group_name(&name)
                        .policy_arn(&arn)
                        .send()
                        .await
                        .expect("attach"),
                ),
            }
        }
    }
    println!(
        "seeded {principals} principals ({users} users, {roles} roles, {groups} groups) and {policies} policies in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );

    let responder = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join("responder")))
        .filter(|p| p.exists())
        .expect("target/<profile>/responder (cargo build --workspace --bins)");
    let bucket = format!("cr-undo-records-{}", env.account_id());
    env.create_bucket(&bucket).await;
    let report = std::env::temp_dir().join(format!("bench-audit-{}.json", env.account_id()));
    env.start_recording();
    let started = Instant::now();
    let out = Command::new(&responder)
        .args([
            "audit",
            "--max-pages",
            "1000",
            "--json",
            report.to_str().unwrap_or_default(),
        ])
        .envs(env.child_env())
        .env("UNDO_RECORD_BUCKET", &bucket)
        .output()
        .expect("responder audit");
    let wall = started.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("summary line");
    let mut calls: BTreeMap<String, usize> = BTreeMap::new();
    for c in env.recorded_calls() {
        *calls.entry(format!("{}:{}", c.service, c.operation)).or_default() += 1;
    }
    let total: usize = calls.values().sum();
    println!("responder audit (dry-run, debug build) over {principals} principals:");
    println!(
        "  wall time      {wall:.1} s ({:.1} ms per principal)",
        wall * 1000.0 / principals as f64
    );
    println!(
        "  API calls      {total} ({:.1} per principal)",
        total as f64 / principals as f64
    );
    for (op, n) in &calls {
        println!("    {op:<45} {n}");
    }
    println!(
        "  peak memory    {:.1} MiB (the responder process)",
        children_peak_mib()
    );
    println!("  summary        {}", summary["summary"]);
    // Why each withheld fix was withheld (the report's reason, its first words), by rule.
    let data: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).unwrap_or_default()).unwrap_or_default();
    let mut why: BTreeMap<(String, String), usize> = BTreeMap::new();
    for part in ["principals", "access_keys", "policies", "versions"] {
        for review in data[part].as_array().into_iter().flatten() {
            let r = &review["report"];
            for (i, v) in r["verdicts"].as_array().into_iter().flatten().enumerate() {
                let fixed = r["actions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|a| a["verdicts"].as_array().is_some_and(|vs| vs.iter().any(|x| x == i)));
                if v["status"] != "non-compliant" || fixed {
                    continue;
                }
                let reason = r["unplanned"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|u| u["verdicts"].as_array().is_some_and(|vs| vs.iter().any(|x| x == i)))
                    .and_then(|u| u["reason"].as_str())
                    .or(v["remedy"]["reason"].as_str())
                    .unwrap_or("report only");
                let short: String = reason.split_whitespace().take(12).collect::<Vec<_>>().join(" ");
                *why.entry((v["rule_id"].as_str().unwrap_or_default().to_string(), short))
                    .or_default() += 1;
            }
        }
    }
    println!("  withheld, by rule and reason:");
    for ((rule, reason), n) in &why {
        println!("    {n:>5}  {rule}: {reason}");
    }
    let _ = std::fs::remove_file(&report);
}
