//! Replays the CloudTrail create events under events/cloudtrail/ against moto and asserts the
//! tags each resource has afterwards (read back through the Resource Groups Tagging API, which the
//! responder itself never reads with), the findings, and the calls moto received.

use compliance_responder::rules::{SkipKind, Status};
use compliance_responder::{Mode, ReportStatus};
use integration_tests::{record_fix_update, Env, REGION};
use std::collections::BTreeMap;

fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[tokio::test]
async fn every_create_event_gets_the_missing_tags_and_keeps_the_existing_ones() {
    let env = Env::seeded().await;
    let instance = env.ids.real("i-0a1b2c3d4e5f60001").to_string();
    let volume = env.ids.real("vol-0a1b2c3d4e5f60001").to_string();
    let group = env.ids.real("sg-0a1b2c3d4e5f60001").to_string();
    let a = env.account_id();
    let r = REGION;
    let cases: Vec<(&str, String, BTreeMap<String, String>, &str)> = vec![
        (
            "create-bucket.json",
            format!("arn:aws:s3:::{}", env.ids.real("team-data-lake-raw")),
            tags(&[("Owner", "jane@example.com"), ("CostCenter", "unassigned")]),
            "tagging:TagResources",
        ),
        (
            // Owner was set at launch: kept, never overwritten with the creator.
            "run-instances.json",
            format!("arn:aws:ec2:{r}:{a}:instance/{instance}"),
            tags(&[
                ("Name", "web-1"),
                ("Owner", "platform-team"),
                ("CostCenter", "unassigned"),
            ]),
            "tagging:TagResources",
        ),
        (
            "create-volume.json",
            format!("arn:aws:ec2:{r}:{a}:volume/{volume}"),
            tags(&[("Owner", "alice"), ("CostCenter", "unassigned")]),
            "tagging:TagResources",
        ),
        (
            "create-security-group.json",
            format!("arn:aws:ec2:{r}:{a}:security-group/{group}"),
            tags(&[("Owner", "raj@example.com"), ("CostCenter", "unassigned")]),
            "tagging:TagResources",
        ),
        (
            "create-function.json",
            format!("arn:aws:lambda:{r}:{a}:function:orders-api"),
            tags(&[("Owner", "raj@example.com"), ("CostCenter", "4410")]),
            "tagging:TagResources",
        ),
        (
            "create-table.json",
            format!("arn:aws:dynamodb:{r}:{a}:table/orders"),
            tags(&[("Owner", "carol"), ("CostCenter", "unassigned")]),
            "tagging:TagResources",
        ),
        (
            "create-db-instance.json",
            format!("arn:aws:rds:{r}:{a}:db:orders-db"),
            tags(&[
                ("DataClass", "confidential"),
                ("Owner", "jane@example.com"),
                ("CostCenter", "unassigned"),
            ]),
            "tagging:TagResources",
        ),
        (
            // The Resource Groups Tagging API does not tag SQS queues here: TagQueue does.
            "create-queue.json",
            format!("arn:aws:sqs:{r}:{a}:orders-events"),
            tags(&[("team", "orders"), ("Owner", "carol"), ("CostCenter", "unassigned")]),
            "sqs:TagQueue",
        ),
        (
            // The root user has no name: the principal ARN is the owner.
            "create-topic.json",
            format!("arn:aws:sns:{r}:{a}:ops-alerts"),
            tags(&[
                ("Owner", &format!("arn:aws:iam::{a}:root")),
                ("CostCenter", "unassigned"),
            ]),
            "tagging:TagResources",
        ),
    ];
    for (file, arn, want, write) in cases {
        let (report, writes) = env.replay(&format!("cloudtrail/{file}"), Mode::Remediate).await;
        assert_eq!(report.status, ReportStatus::Remediated, "{file}: {report:#?}");
        assert_eq!(writes, record_fix_update(&[write]), "{file}");
        assert_eq!(env.inspect.tags(&arn).await, want, "{file}");
        let finding = env
            .inspect
            .findings()
            .await
            .into_iter()
            .find(|f| f.resource_ids.contains(&arn))
            .unwrap_or_else(|| panic!("{file}: no finding for {arn}"));
        assert_eq!(finding.generator_id, "required-tags");
        assert_eq!(finding.compliance, "PASSED", "{file}");
    }
    assert_eq!(env.inspect.findings().await.len(), 9, "one finding per resource");
}

#[tokio::test]
async fn replaying_a_create_event_three_times_tags_once_and_posts_one_finding() {
    let env = Env::seeded().await;
    let arn = &format!("arn:aws:s3:::{}", env.ids.real("team-data-lake-raw"));
    let mut tag_writes = 0;
    for _ in 0..3 {
        let (report, writes) = env.replay("cloudtrail/create-bucket.json", Mode::Remediate).await;
        assert_ne!(report.status, ReportStatus::Failed, "{report:#?}");
        tag_writes += writes.iter().filter(|w| w.contains("Tag")).count();
    }
    assert_eq!(tag_writes, 1);
    assert_eq!(env.inspect.tags(arn).await.len(), 2);
    let findings = env.inspect.findings().await;
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].compliance, "PASSED");
}

#[tokio::test]
async fn resource_deleted_before_the_event_arrived_is_skipped_without_any_write() {
    let env = Env::seeded().await;
    let (report, writes) = env
        .replay("cloudtrail/create-bucket-already-deleted.json", Mode::Remediate)
        .await;
    assert_eq!(report.status, ReportStatus::Skipped, "{report:#?}");
    assert_eq!(
        report.verdicts[0].status,
        Status::NotEvaluated {
            kind: SkipKind::ResourceNotFound
        }
    );
    assert!(report.verdicts[0].summary.contains("no longer exists"), "{report:#?}");
    assert!(writes.is_empty(), "{writes:?}");
    assert!(env.inspect.findings().await.is_empty());
}

#[tokio::test]
async fn dry_run_reports_the_tags_it_would_add_and_writes_none() {
    let env = Env::seeded().await;
    let (report, writes) = env.replay("cloudtrail/create-table.json", Mode::DryRun).await;
    assert_eq!(report.status, ReportStatus::DryRun, "{report:#?}");
    assert_eq!(writes, vec!["securityhub:BatchImportFindings"]);
    assert!(report.actions[0].description.contains("Owner=carol"), "{report:#?}");
    assert!(env
        .inspect
        .tags(&format!("arn:aws:dynamodb:{REGION}:{}:table/orders", env.account_id()))
        .await
        .is_empty());
}

#[tokio::test]
async fn exempt_resource_is_reported_and_not_tagged() {
    let env = Env::seeded().await;
    let arn = &format!("arn:aws:s3:::{}", env.ids.real("legal-hold-archive"));
    let before = env.inspect.tags(arn).await;
    let (report, writes) = env
        .replay("cloudtrail/create-bucket-exempt.json", Mode::Remediate)
        .await;
    assert_eq!(report.status, ReportStatus::NoAction, "{report:#?}");
    assert_eq!(writes, vec!["securityhub:BatchImportFindings"]);
    assert_eq!(env.inspect.tags(arn).await, before);
    assert!(
        report.verdicts[0]
            .summary
            .contains("exempt until 2099-12-31 (legal hold SEC-42)"),
        "{report:#?}"
    );
}

/// FIFO queues and topics are named `<name>.fifo`: valid names, tagged like any other.
#[tokio::test]
async fn fifo_queues_and_topics_are_tagged() {
    let env = Env::seeded().await;
    aws_sdk_sqs::Client::new(&env.direct)
        .create_queue()
        .queue_name("jobs.fifo")
        .attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "true")
        .send()
        .await
        .unwrap();
    aws_sdk_sns::Client::new(&env.direct)
        .create_topic()
        .name("alerts.fifo")
        .attributes("FifoTopic", "true")
        .send()
        .await
        .unwrap();
    let retarget = |sample: &str, field: &str, name: &str, response: (&str, String)| {
        let mut e: serde_json::Value = serde_json::from_slice(&env.event(sample)).unwrap();
        e["detail"]["requestParameters"][field] = name.into();
        e["detail"]["responseElements"][response.0] = response.1.into();
        serde_json::to_vec(&e).unwrap()
    };
    let a = env.account_id();
    let queue = retarget(
        "cloudtrail/create-queue.json",
        "queueName",
        "jobs.fifo",
        ("queueUrl", format!("https://sqs.{REGION}.amazonaws.com/{a}/jobs.fifo")),
    );
    let topic = retarget(
        "cloudtrail/create-topic.json",
        "name",
        "alerts.fifo",
        ("topicArn", format!("arn:aws:sns:{REGION}:{a}:alerts.fifo")),
    );
    let r = integration_tests::responder(&env.sdk, Mode::Remediate);
    for (payload, arn) in [
        (queue, format!("arn:aws:sqs:{REGION}:{a}:jobs.fifo")),
        (topic, format!("arn:aws:sns:{REGION}:{a}:alerts.fifo")),
    ] {
        let (report, _) = env.replay_bytes(&r, &payload).await;
        assert_eq!(report.status, ReportStatus::Remediated, "{report:#?}");
        assert_eq!(env.inspect.tags(&arn).await["CostCenter"], "unassigned", "{arn}");
    }
}

/// A bucket ARN names no account: the tag read asks S3 to check that the bucket belongs to the
/// event's account (`x-amz-expected-bucket-owner`; S3 answers 403 otherwise, and an unknown tag
/// state is never acted on). moto ignores the header, so the test checks it is sent.
#[tokio::test]
async fn bucket_reads_ask_s3_to_check_the_owner() {
    let env = Env::seeded().await;
    let (report, _) = env.replay("cloudtrail/create-bucket.json", Mode::Remediate).await;
    assert_eq!(report.status, ReportStatus::Remediated, "{report:#?}");
    assert_eq!(
        env.proxy
            .count(&format!("x-amz-expected-bucket-owner: {}", env.account_id())),
        1,
        "GetBucketTagging names the expected owner"
    );
}
