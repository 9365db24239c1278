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
