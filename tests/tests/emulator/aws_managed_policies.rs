//! The AWS-managed policies moto ships (the real documents), judged by the engine.

use compliance_responder::policy::{DocumentKind, PolicyDocument};
use compliance_responder::rules;
use integration_tests::Env;
use std::collections::BTreeSet;

#[tokio::test]
async fn aws_managed_policies_get_the_expected_verdicts() {
    let env = Env::empty().await;
    let iam = aws_sdk_iam::Client::new(&env.direct);
    let registry = rules::registry(&compliance_responder::Config::default());
    let expected: [(&str, &[&str]); 5] = [
        ("AdministratorAccess", &["iam-admin-access"]),
        ("PowerUserAccess", &["iam-privilege-escalation", "iam-service-wildcard"]),
        ("IAMFullAccess", &["iam-privilege-escalation", "iam-service-wildcard"]),
        ("ReadOnlyAccess", &[]),
        ("SecurityAudit", &[]),
    ];
    for (name, want) in expected {
        let arn = format!("arn:aws:iam::aws:policy/{name}");
        let policy = iam.get_policy().policy_arn(&arn).send().await.unwrap().policy.unwrap();
        let version = policy.default_version_id.unwrap();
        let raw = iam
            .get_policy_version()
            .policy_arn(&arn)
            .version_id(version)
            .send()
            .await
            .unwrap()
            .policy_version
            .unwrap()
            .document
            .unwrap();
        let doc = PolicyDocument::parse(&raw).unwrap_or_else(|e| panic!("{name}: {e}"));
        let got: BTreeSet<&str> = rules::check_document(&registry, &doc, DocumentKind::Managed)
            .into_iter()
            .map(|(m, _)| m.id)
            .collect();
        assert_eq!(got, want.iter().copied().collect::<BTreeSet<_>>(), "{name}");
    }
}

/// Findings per rule over every AWS-managed policy moto ships (the README's table): printed, and
/// bounded so a change in the engine that floods or empties a rule is seen.
#[test]
fn findings_per_rule_over_every_aws_managed_policy() {
    let registry = rules::registry(&compliance_responder::Config::default());
    let docs = crate::differential::managed_policy_documents();
    assert!(docs.len() > 1_000, "moto ships the AWS-managed policies");
    let mut per_rule: std::collections::BTreeMap<&str, usize> = Default::default();
    let mut admin: Vec<&str> = Vec::new();
    for (name, doc) in &docs {
        let doc = PolicyDocument::from_value(doc.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        for (meta, _) in rules::check_document(&registry, &doc, DocumentKind::Managed) {
            *per_rule.entry(meta.id).or_default() += 1;
            if meta.id == "iam-admin-access" {
                admin.push(name);
            }
        }
    }
    println!("AWS-managed policies judged: {}", docs.len());
    for (rule, n) in &per_rule {
        println!("  {rule}: {n}");
    }
    // AWSMcpServiceActionsFullAccess is `*` on `*` under a Condition (reported one severity lower).
    admin.sort_unstable();
    assert_eq!(admin, ["AWSMcpServiceActionsFullAccess", "AdministratorAccess"]);
    for rule in ["iam-service-wildcard", "iam-privilege-escalation"] {
        let n = per_rule.get(rule).copied().unwrap_or(0);
        assert!(n > 10 && n < docs.len() / 2, "{rule}: {n}");
    }
}
