//! The record store ([`RecordPort`]) over S3, `UNDO_RECORD_BUCKET` in the function's own account
//! and region: one object per fixed finding under `undo/` (the fixing functions write, the
//! function that answers Security Hub's "Undo" reads), the scheduled sweep's state under `audit/`.

use super::RecordPort;
use crate::error::AwsError;
use async_trait::async_trait;

/// [`RecordPort`] over `aws-sdk-s3`; the client is built the first time a record is written or
/// read.
pub struct S3Records {
    sdk: aws_config::SdkConfig,
    bucket: String,
    client: std::sync::OnceLock<aws_sdk_s3::Client>,
}

impl S3Records {
    pub fn new(sdk: &aws_config::SdkConfig, bucket: &str) -> Self {
        S3Records {
            sdk: sdk.clone(),
            bucket: bucket.to_string(),
            client: std::sync::OnceLock::new(),
        }
    }

    fn client(&self) -> &aws_sdk_s3::Client {
        self.client.get_or_init(|| super::path_style_s3(&self.sdk))
    }
}

#[async_trait]
impl RecordPort for S3Records {
    async fn write(&self, key: &str, body: Vec<u8>) -> Result<(), AwsError> {
        self.client()
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .body(body.into())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk("s3", "PutObject", format!("s3://{}/{key}", self.bucket), &e))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, AwsError> {
        let mut keys = Vec::new();
        let mut pages = self
            .client()
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page
                .map_err(|e| AwsError::from_sdk("s3", "ListObjectsV2", format!("s3://{}/{prefix}", self.bucket), &e))?;
            keys.extend(page.contents.unwrap_or_default().into_iter().filter_map(|o| o.key));
        }
        Ok(keys)
    }

    async fn read(&self, key: &str) -> Result<Option<Vec<u8>>, AwsError> {
        let resource = format!("s3://{}/{key}", self.bucket);
        let out = super::absent_when(
            self.client().get_object().bucket(&self.bucket).key(key).send().await,
            |code| code == "NoSuchKey",
            "s3",
            "GetObject",
            &resource,
        )?;
        let Some(out) = out else { return Ok(None) };
        let bytes = out.body.collect().await.map_err(|e| AwsError {
            service: "s3",
            operation: "GetObject",
            resource,
            code: "Transport".into(),
            message: e.to_string(),
            retryable: true,
        })?;
        Ok(Some(bytes.into_bytes().to_vec()))
    }
}
