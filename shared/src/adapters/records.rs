//! The undo record store ([`RecordPort`]) over S3: one object per fixed finding in
//! `UNDO_RECORD_BUCKET`, in the function's own account and region. The fixing functions may write
//! under `undo/`; the function that answers Security Hub's "Undo" reads (template.yaml).

use super::RecordPort;
use crate::error::AwsError;
use crate::undo::UndoRecord;
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
        // Path-style addressing: bucket names with dots, and emulators on a plain host.
        self.client.get_or_init(|| {
            aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&self.sdk)
                    .force_path_style(true)
                    .build(),
            )
        })
    }
}

#[async_trait]
impl RecordPort for S3Records {
    async fn put(&self, record: &UndoRecord) -> Result<(), AwsError> {
        let key = crate::undo::object_key(&record.finding_id);
        let body = serde_json::to_vec(record).unwrap_or_default();
        self.client()
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .content_type("application/json")
            .body(body.into())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| AwsError::from_sdk("s3", "PutObject", format!("s3://{}/{key}", self.bucket), &e))
    }

    async fn get(&self, finding_id: &str) -> Result<Option<UndoRecord>, AwsError> {
        let key = crate::undo::object_key(finding_id);
        let resource = format!("s3://{}/{key}", self.bucket);
        let out = super::absent_when(
            self.client().get_object().bucket(&self.bucket).key(&key).send().await,
            |code| code == "NoSuchKey",
            "s3",
            "GetObject",
            &resource,
        )?;
        let Some(out) = out else { return Ok(None) };
        let bytes = out.body.collect().await.map_err(|e| AwsError {
            service: "s3",
            operation: "GetObject",
            resource: resource.clone(),
            code: "Transport".into(),
            message: e.to_string(),
            retryable: true,
        })?;
        serde_json::from_slice(&bytes.into_bytes())
            .map(Some)
            .map_err(|e| AwsError {
                service: "s3",
                operation: "GetObject",
                resource,
                code: "InvalidRecord".into(),
                message: format!("the undo record is not one this version reads: {e}"),
                retryable: false,
            })
    }
}
