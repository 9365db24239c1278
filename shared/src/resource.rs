//! Taggable AWS resources the `required-tags` rule looks after, as plain data: their kinds, ARNs
//! and the names the service APIs take. Pure.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Tags as key → value.
pub type Tags = BTreeMap<String, String>;

/// AWS allows at most this many user tags on a resource.
pub const MAX_TAGS: usize = 50;
/// Longest tag key.
pub const MAX_TAG_KEY: usize = 128;
/// Longest tag value.
pub const MAX_TAG_VALUE: usize = 256;
/// Keys with this prefix are reserved for AWS.
pub const RESERVED_PREFIX: &str = "aws:";

/// The kinds of resource this project tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResourceKind {
    S3Bucket,
    Ec2Instance,
    Ec2Volume,
    Ec2SecurityGroup,
    LambdaFunction,
    DynamoDbTable,
    RdsDbInstance,
    SqsQueue,
    SnsTopic,
}

impl ResourceKind {
    pub const ALL: [ResourceKind; 9] = [
        ResourceKind::S3Bucket,
        ResourceKind::Ec2Instance,
        ResourceKind::Ec2Volume,
        ResourceKind::Ec2SecurityGroup,
        ResourceKind::LambdaFunction,
        ResourceKind::DynamoDbTable,
        ResourceKind::RdsDbInstance,
        ResourceKind::SqsQueue,
        ResourceKind::SnsTopic,
    ];

    /// The AWS Config resource type (`AWS::S3::Bucket`, ...).
    pub fn config_type(self) -> &'static str {
        match self {
            ResourceKind::S3Bucket => "AWS::S3::Bucket",
            ResourceKind::Ec2Instance => "AWS::EC2::Instance",
            ResourceKind::Ec2Volume => "AWS::EC2::Volume",
            ResourceKind::Ec2SecurityGroup => "AWS::EC2::SecurityGroup",
            ResourceKind::LambdaFunction => "AWS::Lambda::Function",
            ResourceKind::DynamoDbTable => "AWS::DynamoDB::Table",
            ResourceKind::RdsDbInstance => "AWS::RDS::DBInstance",
            ResourceKind::SqsQueue => "AWS::SQS::Queue",
            ResourceKind::SnsTopic => "AWS::SNS::Topic",
        }
    }

    pub fn from_config_type(t: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.config_type() == t)
    }

    /// The ASFF resource type (`AwsS3Bucket`, ...).
    pub fn asff_type(self) -> &'static str {
        match self {
            ResourceKind::S3Bucket => "AwsS3Bucket",
            ResourceKind::Ec2Instance => "AwsEc2Instance",
            ResourceKind::Ec2Volume => "AwsEc2Volume",
            ResourceKind::Ec2SecurityGroup => "AwsEc2SecurityGroup",
            ResourceKind::LambdaFunction => "AwsLambdaFunction",
            ResourceKind::DynamoDbTable => "AwsDynamoDbTable",
            ResourceKind::RdsDbInstance => "AwsRdsDbInstance",
            ResourceKind::SqsQueue => "AwsSqsQueue",
            ResourceKind::SnsTopic => "AwsSnsTopic",
        }
    }

    /// Whether `name` has the shape the service allows (rejects injection attempts early).
    fn valid_name(self, name: &str) -> bool {
        let charset = |extra: &str, max: usize| {
            !name.is_empty()
                && name.len() <= max
                && name.chars().all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
        };
        let ec2_id = |prefix: &str| {
            name.strip_prefix(prefix)
                .is_some_and(|hex| (8..=17).contains(&hex.len()) && hex.chars().all(|c| c.is_ascii_hexdigit()))
        };
        match self {
            ResourceKind::S3Bucket => {
                (3..=63).contains(&name.len())
                    && name
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
            }
            ResourceKind::Ec2Instance => ec2_id("i-"),
            ResourceKind::Ec2Volume => ec2_id("vol-"),
            ResourceKind::Ec2SecurityGroup => ec2_id("sg-"),
            ResourceKind::LambdaFunction => charset("-_", 64),
            ResourceKind::DynamoDbTable => charset("-_.", 255) && name.len() >= 3,
            ResourceKind::RdsDbInstance => {
                charset("-", 63) && name.starts_with(|c: char| c.is_ascii_alphabetic()) && !name.ends_with('-')
            }
            // FIFO queues and topics end in `.fifo`, which counts toward the length (SQS and SNS
            // API references: CreateQueue QueueName, CreateTopic Name).
            ResourceKind::SqsQueue | ResourceKind::SnsTopic => {
                let max = if self == ResourceKind::SqsQueue { 80 } else { 256 };
                let base = name.strip_suffix(".fifo").unwrap_or(name);
                name.len() <= max
                    && !base.is_empty()
                    && base.chars().all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
            }
        }
    }
}

/// One resource, by kind and name, in one account and region.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AwsResource {
    pub kind: ResourceKind,
    /// What the service's own API calls take: bucket name, instance id, function name, ...
    pub name: String,
    pub arn: String,
    pub region: String,
    pub account: String,
}

impl AwsResource {
    /// Builds the resource and its ARN; `None` when the name does not have the service's shape.
    pub fn new(kind: ResourceKind, name: &str, partition: &str, region: &str, account: &str) -> Option<Self> {
        if !kind.valid_name(name) {
            return None;
        }
        let (p, r, a, n) = (partition, region, account, name);
        let arn = match kind {
            ResourceKind::S3Bucket => format!("arn:{p}:s3:::{n}"),
            ResourceKind::Ec2Instance => format!("arn:{p}:ec2:{r}:{a}:instance/{n}"),
            ResourceKind::Ec2Volume => format!("arn:{p}:ec2:{r}:{a}:volume/{n}"),
            ResourceKind::Ec2SecurityGroup => format!("arn:{p}:ec2:{r}:{a}:security-group/{n}"),
            ResourceKind::LambdaFunction => format!("arn:{p}:lambda:{r}:{a}:function:{n}"),
            ResourceKind::DynamoDbTable => format!("arn:{p}:dynamodb:{r}:{a}:table/{n}"),
            ResourceKind::RdsDbInstance => format!("arn:{p}:rds:{r}:{a}:db:{n}"),
            ResourceKind::SqsQueue => format!("arn:{p}:sqs:{r}:{a}:{n}"),
            ResourceKind::SnsTopic => format!("arn:{p}:sns:{r}:{a}:{n}"),
        };
        Some(AwsResource {
            kind,
            name: name.to_string(),
            arn,
            region: region.to_string(),
            account: account.to_string(),
        })
    }
}

impl std::fmt::Display for AwsResource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind.config_type(), self.name)
    }
}

/// Truncates a tag value to AWS's limit on a character boundary.
pub fn clamp_value(value: &str) -> String {
    value.chars().take(MAX_TAG_VALUE).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_and_names() {
        let r = AwsResource::new(ResourceKind::SqsQueue, "orders", "aws", "eu-west-1", "123456789012").unwrap();
        assert_eq!(r.arn, "arn:aws:sqs:eu-west-1:123456789012:orders");
        let b = AwsResource::new(
            ResourceKind::S3Bucket,
            "my.bucket-1",
            "aws",
            "us-east-1",
            "123456789012",
        )
        .unwrap();
        assert_eq!(b.arn, "arn:aws:s3:::my.bucket-1");
        assert!(AwsResource::new(ResourceKind::Ec2Instance, "i-0abc12345", "aws", "us-east-1", "1").is_some());
        for (kind, bad) in [
            (ResourceKind::S3Bucket, "Bad_Bucket"),
            (ResourceKind::S3Bucket, "a/../b"),
            (ResourceKind::Ec2Instance, "i-xyz"),
            (ResourceKind::LambdaFunction, "f;rm -rf"),
            (ResourceKind::RdsDbInstance, "1db"),
            (ResourceKind::SqsQueue, ""),
        ] {
            assert!(AwsResource::new(kind, bad, "aws", "us-east-1", "1").is_none(), "{bad}");
        }
        assert_eq!(
            ResourceKind::from_config_type("AWS::RDS::DBInstance"),
            Some(ResourceKind::RdsDbInstance)
        );
    }

    #[test]
    fn fifo_queues_and_topics_are_valid_names() {
        for kind in [ResourceKind::SqsQueue, ResourceKind::SnsTopic] {
            assert!(AwsResource::new(kind, "orders.fifo", "aws", "us-east-1", "123456789012").is_some());
            for bad in [".fifo", "orders.fifo.fifo", "orders.txt", "a b.fifo", ""] {
                assert!(
                    AwsResource::new(kind, bad, "aws", "us-east-1", "123456789012").is_none(),
                    "{bad}"
                );
            }
        }
        let long = format!("{}.fifo", "q".repeat(75));
        assert!(AwsResource::new(ResourceKind::SqsQueue, &long, "aws", "us-east-1", "123456789012").is_some());
        let longer = format!("{}.fifo", "q".repeat(76));
        assert!(AwsResource::new(ResourceKind::SqsQueue, &longer, "aws", "us-east-1", "123456789012").is_none());
    }

    #[test]
    fn values_are_clamped_on_char_boundaries() {
        let long = "é".repeat(300);
        assert_eq!(clamp_value(&long).chars().count(), MAX_TAG_VALUE);
    }
}
