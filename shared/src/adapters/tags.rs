//! [`TagPort`] over the AWS SDK.
//!
//! Reads go to each service's own API, because only it tells "exists with no tags" from "does not
//! exist" (the Resource Groups Tagging API lists only resources that have, or once had, tags).
//! Writes go through the Resource Groups Tagging API (`TagResources` / `UntagResources`), which
//! adds keys without replacing the others; SQS queues use `TagQueue` / `UntagQueue`.

use super::{Applied, TagPort};
use crate::error::AwsError;
use crate::resource::{AwsResource, ResourceKind, Tags};
use async_trait::async_trait;
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// The tag adapter's SDK clients. Each service client is built once, the first time a resource of
/// that service is read or tagged, and kept for the life of the execution environment: a function
/// that only ever sees IAM events never builds the seven others (each client build re-reads the
/// TLS trust store), and none is ever built per event.
#[derive(Debug)]
pub struct AwsTags {
    sdk: aws_config::SdkConfig,
    tagging: OnceLock<aws_sdk_resourcegroupstagging::Client>,
    s3: OnceLock<aws_sdk_s3::Client>,
    ec2: OnceLock<aws_sdk_ec2::Client>,
    lambda: OnceLock<aws_sdk_lambda::Client>,
    dynamodb: OnceLock<aws_sdk_dynamodb::Client>,
    rds: OnceLock<aws_sdk_rds::Client>,
    sqs: OnceLock<aws_sdk_sqs::Client>,
    sns: OnceLock<aws_sdk_sns::Client>,
    /// Queue ARN → URL: the read and the write of one event resolve a queue once.
    queue_urls: Mutex<HashMap<String, String>>,
}

impl AwsTags {
    /// The adapter over one SDK configuration (honours `AWS_ENDPOINT_URL`); builds no client yet.
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig) -> Self {
        AwsTags {
            sdk: sdk.clone(),
            tagging: OnceLock::new(),
            s3: OnceLock::new(),
            ec2: OnceLock::new(),
            lambda: OnceLock::new(),
            dynamodb: OnceLock::new(),
            rds: OnceLock::new(),
            sqs: OnceLock::new(),
            sns: OnceLock::new(),
            queue_urls: Mutex::new(HashMap::new()),
        }
    }

    fn tagging(&self) -> &aws_sdk_resourcegroupstagging::Client {
        self.tagging
            .get_or_init(|| aws_sdk_resourcegroupstagging::Client::new(&self.sdk))
    }

    fn s3(&self) -> &aws_sdk_s3::Client {
        self.s3.get_or_init(|| super::path_style_s3(&self.sdk))
    }

    fn ec2(&self) -> &aws_sdk_ec2::Client {
        self.ec2.get_or_init(|| aws_sdk_ec2::Client::new(&self.sdk))
    }

    fn lambda(&self) -> &aws_sdk_lambda::Client {
        self.lambda.get_or_init(|| aws_sdk_lambda::Client::new(&self.sdk))
    }

    fn dynamodb(&self) -> &aws_sdk_dynamodb::Client {
        self.dynamodb.get_or_init(|| aws_sdk_dynamodb::Client::new(&self.sdk))
    }

    fn rds(&self) -> &aws_sdk_rds::Client {
        self.rds.get_or_init(|| aws_sdk_rds::Client::new(&self.sdk))
    }

    fn sqs(&self) -> &aws_sdk_sqs::Client {
        self.sqs.get_or_init(|| aws_sdk_sqs::Client::new(&self.sdk))
    }

    fn sns(&self) -> &aws_sdk_sns::Client {
        self.sns.get_or_init(|| aws_sdk_sns::Client::new(&self.sdk))
    }

    /// The service clients built so far (for tests and diagnostics).
    pub fn built_clients(&self) -> Vec<&'static str> {
        [
            ("tagging", self.tagging.get().is_some()),
            ("s3", self.s3.get().is_some()),
            ("ec2", self.ec2.get().is_some()),
            ("lambda", self.lambda.get().is_some()),
            ("dynamodb", self.dynamodb.get().is_some()),
            ("rds", self.rds.get().is_some()),
            ("sqs", self.sqs.get().is_some()),
            ("sns", self.sns.get().is_some()),
        ]
        .into_iter()
        .filter_map(|(name, built)| built.then_some(name))
        .collect()
    }
}

/// Error codes services use for "no such resource".
fn is_not_found(code: &str) -> bool {
    code.contains("NotFound")
        || code.starts_with("NoSuch")
        || code.contains("NonExistent")
        || code == "QueueDoesNotExist"
        || code == "ResourceNotFoundException"
}

/// `Ok(None)` when the service says the resource does not exist.
fn absent<T, E, R>(
    result: Result<T, SdkError<E, R>>,
    service: &'static str,
    operation: &'static str,
    resource: &AwsResource,
) -> Result<Option<T>, AwsError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    super::absent_when(result, is_not_found, service, operation, &resource.arn)
}

fn pairs<I: IntoIterator<Item = (Option<String>, Option<String>)>>(it: I) -> Tags {
    it.into_iter()
        .filter_map(|(k, v)| Some((k?, v.unwrap_or_default())))
        .collect()
}

impl AwsTags {
    /// The queue's URL (`None` when the queue does not exist); resolved once per queue, because a
    /// queue's URL never changes (it is made of the account and the name).
    async fn queue_url(&self, r: &AwsResource) -> Result<Option<String>, AwsError> {
        if let Some(url) = self.queue_urls.lock().ok().and_then(|c| c.get(&r.arn).cloned()) {
            return Ok(Some(url));
        }
        let out = absent(
            self.sqs()
                .get_queue_url()
                .queue_name(&r.name)
                .queue_owner_aws_account_id(&r.account)
                .send()
                .await,
            "sqs",
            "GetQueueUrl",
            r,
        )?;
        let url = out.and_then(|o| o.queue_url);
        if let (Some(url), Ok(mut cache)) = (&url, self.queue_urls.lock()) {
            cache.insert(r.arn.clone(), url.clone());
        }
        Ok(url)
    }

    /// The Tagging API answers 200 and lists per-resource failures: one for `r` is an error.
    fn outcome(
        operation: &'static str,
        r: &AwsResource,
        failures: Option<std::collections::HashMap<String, aws_sdk_resourcegroupstagging::types::FailureInfo>>,
    ) -> Result<Applied, AwsError> {
        match failures.and_then(|m| m.get(&r.arn).cloned()) {
            None => Ok(Applied::Done),
            Some(f) => Err(Self::failed(
                operation,
                r,
                f.error_code
                    .map(|c| c.as_str().to_string())
                    .unwrap_or_else(|| "Failed".into()),
                f.error_message.unwrap_or_default(),
            )),
        }
    }

    fn failed(operation: &'static str, r: &AwsResource, code: String, message: String) -> AwsError {
        AwsError {
            service: "tag",
            operation,
            resource: r.arn.clone(),
            code,
            message,
            retryable: false,
        }
    }
}

#[async_trait]
impl TagPort for AwsTags {
    async fn read_tags(&self, r: &AwsResource) -> Result<Option<Tags>, AwsError> {
        use ResourceKind::*;
        Ok(match r.kind {
            // Bucket ARNs name no account: S3 itself checks the bucket belongs to the event's
            // account (403 otherwise, so its tags stay unknown and nothing is tagged).
            S3Bucket => match self
                .s3()
                .get_bucket_tagging()
                .bucket(&r.name)
                .expected_bucket_owner(&r.account)
                .send()
                .await
            {
                Ok(out) => Some(out.tag_set.into_iter().map(|t| (t.key, t.value)).collect()),
                Err(e) if e.as_service_error().and_then(|s| s.code()) == Some("NoSuchTagSet") => Some(Tags::new()),
                Err(e) => absent::<(), _, _>(Err(e), "s3", "GetBucketTagging", r)?.map(|_| Tags::new()),
            },
            Ec2Instance => absent(
                self.ec2().describe_instances().instance_ids(&r.name).send().await,
                "ec2",
                "DescribeInstances",
                r,
            )?
            .and_then(|out| {
                out.reservations
                    .unwrap_or_default()
                    .into_iter()
                    .flat_map(|res| res.instances.unwrap_or_default())
                    .find(|i| i.instance_id.as_deref() == Some(r.name.as_str()))
            })
            .filter(|i| {
                !matches!(
                    i.state.as_ref().and_then(|s| s.name.as_ref()),
                    Some(aws_sdk_ec2::types::InstanceStateName::Terminated)
                        | Some(aws_sdk_ec2::types::InstanceStateName::ShuttingDown)
                )
            })
            .map(|i| pairs(i.tags.unwrap_or_default().into_iter().map(|t| (t.key, t.value)))),
            Ec2Volume => absent(
                self.ec2().describe_volumes().volume_ids(&r.name).send().await,
                "ec2",
                "DescribeVolumes",
                r,
            )?
            .and_then(|out| out.volumes.unwrap_or_default().into_iter().next())
            .map(|v| pairs(v.tags.unwrap_or_default().into_iter().map(|t| (t.key, t.value)))),
            Ec2SecurityGroup => absent(
                self.ec2().describe_security_groups().group_ids(&r.name).send().await,
                "ec2",
                "DescribeSecurityGroups",
                r,
            )?
            .and_then(|out| out.security_groups.unwrap_or_default().into_iter().next())
            .map(|g| pairs(g.tags.unwrap_or_default().into_iter().map(|t| (t.key, t.value)))),
            LambdaFunction => absent(
                self.lambda().list_tags().resource(&r.arn).send().await,
                "lambda",
                "ListTags",
                r,
            )?
            .map(|out| out.tags.unwrap_or_default().into_iter().collect()),
            DynamoDbTable => absent(
                self.dynamodb()
                    .list_tags_of_resource()
                    .resource_arn(&r.arn)
                    .send()
                    .await,
                "dynamodb",
                "ListTagsOfResource",
                r,
            )?
            .map(|out| {
                out.tags
                    .unwrap_or_default()
                    .into_iter()
                    .map(|t| (t.key, t.value))
                    .collect()
            }),
            RdsDbInstance => absent(
                self.rds()
                    .describe_db_instances()
                    .db_instance_identifier(&r.name)
                    .send()
                    .await,
                "rds",
                "DescribeDBInstances",
                r,
            )?
            .and_then(|out| out.db_instances.unwrap_or_default().into_iter().next())
            .filter(|db| db.db_instance_status.as_deref() != Some("deleting"))
            .map(|db| pairs(db.tag_list.unwrap_or_default().into_iter().map(|t| (t.key, t.value)))),
            SqsQueue => match self.queue_url(r).await? {
                None => None,
                Some(url) => absent(
                    self.sqs().list_queue_tags().queue_url(url).send().await,
                    "sqs",
                    "ListQueueTags",
                    r,
                )?
                .map(|out| out.tags.unwrap_or_default().into_iter().collect()),
            },
            SnsTopic => absent(
                self.sns().list_tags_for_resource().resource_arn(&r.arn).send().await,
                "sns",
                "ListTagsForResource",
                r,
            )?
            .map(|out| {
                out.tags
                    .unwrap_or_default()
                    .into_iter()
                    .map(|t| (t.key, t.value))
                    .collect()
            }),
        })
    }

    async fn tag(&self, r: &AwsResource, tags: &Tags) -> Result<Applied, AwsError> {
        let map: std::collections::HashMap<String, String> = tags.clone().into_iter().collect();
        if r.kind == ResourceKind::SqsQueue {
            let Some(url) = self.queue_url(r).await? else {
                return Err(Self::failed(
                    "TagQueue",
                    r,
                    "NonExistentQueue".into(),
                    "the queue no longer exists".into(),
                ));
            };
            self.sqs()
                .tag_queue()
                .queue_url(url)
                .set_tags(Some(map))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("sqs", "TagQueue", &r.arn, &e))?;
            return Ok(Applied::Done);
        }
        let out = self
            .tagging()
            .tag_resources()
            .resource_arn_list(&r.arn)
            .set_tags(Some(map))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("tag", "TagResources", &r.arn, &e))?;
        Self::outcome("TagResources", r, out.failed_resources_map)
    }

    async fn untag(&self, r: &AwsResource, keys: &[String]) -> Result<Applied, AwsError> {
        if r.kind == ResourceKind::SqsQueue {
            let Some(url) = self.queue_url(r).await? else {
                return Ok(Applied::AlreadyInPlace);
            };
            self.sqs()
                .untag_queue()
                .queue_url(url)
                .set_tag_keys(Some(keys.to_vec()))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("sqs", "UntagQueue", &r.arn, &e))?;
            return Ok(Applied::Done);
        }
        let out = self
            .tagging()
            .untag_resources()
            .resource_arn_list(&r.arn)
            .set_tag_keys(Some(keys.to_vec()))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("tag", "UntagResources", &r.arn, &e))?;
        Self::outcome("UntagResources", r, out.failed_resources_map)
    }

    async fn list(&self, kind: ResourceKind, token: Option<String>) -> Result<super::ResourcePage, AwsError> {
        use ResourceKind::*;
        let region = self.sdk.region().map(|r| r.to_string()).unwrap_or_default();
        let page = |names: Vec<String>, next: Option<String>| super::ResourcePage {
            names,
            next: next.filter(|t| !t.is_empty()),
        };
        Ok(match kind {
            // ListBuckets lists every region's buckets: only this region's are asked for (and
            // kept, should the service ignore the filter).
            S3Bucket => {
                let out = self
                    .s3()
                    .list_buckets()
                    .bucket_region(&region)
                    .max_buckets(1000)
                    .set_continuation_token(token)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("s3", "ListBuckets", &region, &e))?;
                let names = out
                    .buckets
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|b| b.bucket_region.as_deref().is_none_or(|r| r == region))
                    .filter_map(|b| b.name)
                    .collect();
                page(names, out.continuation_token)
            }
            Ec2Instance => {
                // Terminated instances linger in the answer for a while: not resources any more.
                let live = aws_sdk_ec2::types::Filter::builder()
                    .name("instance-state-name")
                    .values("pending")
                    .values("running")
                    .values("stopping")
                    .values("stopped")
                    .build();
                let out = self
                    .ec2()
                    .describe_instances()
                    .filters(live)
                    .max_results(1000)
                    .set_next_token(token)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("ec2", "DescribeInstances", &region, &e))?;
                let names = out
                    .reservations
                    .unwrap_or_default()
                    .into_iter()
                    .flat_map(|r| r.instances.unwrap_or_default())
                    .filter_map(|i| i.instance_id)
                    .collect();
                page(names, out.next_token)
            }
            Ec2Volume => {
                let out = self
                    .ec2()
                    .describe_volumes()
                    .max_results(500)
                    .set_next_token(token)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("ec2", "DescribeVolumes", &region, &e))?;
                let names = out
                    .volumes
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|v| v.volume_id)
                    .collect();
                page(names, out.next_token)
            }
            Ec2SecurityGroup => {
                let out = self
                    .ec2()
                    .describe_security_groups()
                    .max_results(1000)
                    .set_next_token(token)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("ec2", "DescribeSecurityGroups", &region, &e))?;
                let names = out
                    .security_groups
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|g| g.group_id)
                    .collect();
                page(names, out.next_token)
            }
            LambdaFunction => {
                let out = self
                    .lambda()
                    .list_functions()
                    .max_items(50)
                    .set_marker(token)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("lambda", "ListFunctions", &region, &e))?;
                let names = out
                    .functions
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|f| f.function_name)
                    .collect();
                page(names, out.next_marker)
            }
            DynamoDbTable => {
                let out = self
                    .dynamodb()
                    .list_tables()
                    .limit(100)
                    .set_exclusive_start_table_name(token)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("dynamodb", "ListTables", &region, &e))?;
                page(out.table_names.unwrap_or_default(), out.last_evaluated_table_name)
            }
            RdsDbInstance => {
                let out = self
                    .rds()
                    .describe_db_instances()
                    .max_records(100)
                    .set_marker(token)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("rds", "DescribeDBInstances", &region, &e))?;
                let names = out
                    .db_instances
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|db| db.db_instance_status.as_deref() != Some("deleting"))
                    .filter_map(|db| db.db_instance_identifier)
                    .collect();
                page(names, out.marker)
            }
            SqsQueue => {
                let out = self
                    .sqs()
                    .list_queues()
                    .max_results(1000)
                    .set_next_token(token)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("sqs", "ListQueues", &region, &e))?;
                // A queue URL ends with its name.
                let names = out
                    .queue_urls
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|u| u.rsplit('/').next().map(str::to_string))
                    .collect();
                page(names, out.next_token)
            }
            SnsTopic => {
                let out = self
                    .sns()
                    .list_topics()
                    .set_next_token(token)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("sns", "ListTopics", &region, &e))?;
                let names = out
                    .topics
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|t| t.topic_arn?.rsplit(':').next().map(str::to_string))
                    .collect();
                page(names, out.next_token)
            }
        })
    }

    async fn find_db_instance(&self, resource_id: &str) -> Result<Option<(String, Tags)>, AwsError> {
        let filter = aws_sdk_rds::types::Filter::builder()
            .name("dbi-resource-id")
            .values(resource_id)
            .build();
        let out = self
            .rds()
            .describe_db_instances()
            .filters(filter)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("rds", "DescribeDBInstances", resource_id, &e))?;
        Ok(out
            .db_instances
            .unwrap_or_default()
            .into_iter()
            .find(|db| db.dbi_resource_id.as_deref() == Some(resource_id))
            // Being deleted: as gone as it will be in a moment (as `read_tags` sees it).
            .filter(|db| db.db_instance_status.as_deref() != Some("deleting"))
            .and_then(|db| {
                let tags = pairs(db.tag_list.unwrap_or_default().into_iter().map(|t| (t.key, t.value)));
                Some((db.db_instance_identifier?, tags))
            }))
    }
}

#[cfg(test)]
mod tests {
    use super::AwsTags;

    fn sdk() -> aws_config::SdkConfig {
        aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .build()
    }

    #[test]
    fn service_clients_are_built_on_first_use_and_once() {
        let tags = AwsTags::from_sdk_config(&sdk());
        assert!(tags.built_clients().is_empty(), "no client at construction");
        let first: *const aws_sdk_s3::Client = tags.s3();
        let again: *const aws_sdk_s3::Client = tags.s3();
        assert_eq!(first, again, "the same client for every later use");
        let _ = tags.sqs();
        assert_eq!(tags.built_clients(), vec!["s3", "sqs"]);
    }
}
