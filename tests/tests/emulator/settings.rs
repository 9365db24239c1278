//! Settings that grow with the organization (allowed accounts, protected principals, exempt ARNs,
//! the responder's own roles) kept in SSM Parameter Store under `SETTINGS_PARAMETER_PATH`, read at
//! start-up with `GetParametersByPath` (recursive, every page), against moto. AWS rules encoded:
//! Lambda's environment variables hold 4 KB in all (Lambda quotas), a standard parameter 4 KB and
//! an advanced one 8 KB (Systems Manager quotas): so a list is split over parts, and the read
//! must follow pages (`GetParametersByPath` returns at most 10 parameters per page).

use compliance_responder::adapters::read_settings;
use compliance_responder::{Config, ReportStatus, Responder};
use integration_tests::{Env, ALL_SOURCES};

fn env_lookup<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
}

/// An allow-list of 1,200 accounts (about 15 KB: more than Lambda's whole environment, more than
/// one advanced parameter) in 24 parts under the path, and a protected user in another parameter:
/// every part is read (three pages and more), the entries joined, and the protected user's
/// over-permission reported but not fixed.
#[tokio::test]
async fn list_settings_read_from_ssm_parameters_take_effect() {
    let env = Env::seeded().await;
    let path = format!("/cr-{}/settings", env.account_id());
    let accounts: Vec<String> = (0..1200).map(|i| format!("{:012}", 500_000_000_000u64 + i)).collect();
    for (n, chunk) in accounts.chunks(50).enumerate() {
        env.put_parameter(&format!("{path}/ALLOWED_ACCOUNTS/{n:02}"), &chunk.join(","))
            .await;
    }
    env.put_parameter(&format!("{path}/ALLOWED_ACCOUNTS/this"), env.account_id())
        .await;
    env.put_parameter(&format!("{path}/PROTECTED_PRINCIPALS"), "arn:aws:iam::*:user/alice")
        .await;
    // Another function's settings beside the path are not read.
    env.put_parameter(&format!("{path}-other/MODE"), "remediate").await;

    let parameters = read_settings(&env.sdk, &path).await.expect("read the settings");
    assert_eq!(parameters.len(), 26, "every page read");
    let vars = [("MODE", "remediate")];
    let config = Config::from_lookup_and_parameters(env_lookup(&vars), &path, &parameters).unwrap();
    assert_eq!(config.allowed_accounts.len(), 1201);
    let responder = Responder::from_sdk_config(
        Config {
            annotate_source_findings: false,
            ..config
        },
        ALL_SOURCES,
        &env.sdk,
    );
    let before = env.inspect.attached("user", "alice").await;
    let (report, writes) = env
        .replay_with(&responder, "cloudtrail/attach-admin-to-user.json")
        .await;
    assert_eq!(report.status, ReportStatus::NoAction, "{report:#?}");
    assert!(
        report.verdicts[0].summary.contains("protected principal"),
        "{report:#?}"
    );
    assert_eq!(writes, vec!["securityhub:BatchImportFindings"], "reported, not fixed");
    assert_eq!(env.inspect.attached("user", "alice").await, before);
}

/// A parameter under the path that names no setting (a typo of `ALLOWED_ACCOUNTS` would
/// otherwise leave every account allowed) stops the start, as does a path that cannot be read.
#[tokio::test]
async fn a_misnamed_or_unreadable_settings_parameter_stops_the_start() {
    let env = Env::empty().await;
    let path = format!("/cr-{}/settings", env.account_id());
    env.put_parameter(&format!("{path}/ALLOWED_ACOUNTS"), "111111111111")
        .await;
    let parameters = read_settings(&env.sdk, &path).await.unwrap();
    let err = Config::from_lookup_and_parameters(|_| None, &path, &parameters).unwrap_err();
    assert!(err.to_string().contains("ALLOWED_ACOUNTS"), "{err}");

    env.proxy.inject(
        "GetParametersByPath",
        integration_tests::proxy::Fault::ServerError,
        None,
    );
    let config = Config::default();
    let sdk = env.sdk_config_for(&config).await;
    let err = read_settings(&sdk, &path).await.unwrap_err();
    assert_eq!(err.operation, "GetParametersByPath", "{err}");
}
