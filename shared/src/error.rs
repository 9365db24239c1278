//! Error types. Input errors are the caller's fault and never retried; AWS errors carry the
//! operation that failed and whether a retry can help.

use serde::Serialize;

/// Why an event was rejected before anything was read from or written to AWS.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum InputError {
    /// The payload is not JSON at all.
    #[error("payload is not valid JSON: {message}")]
    MalformedJson { message: String },
    /// The payload is JSON but not an EventBridge envelope.
    #[error("payload is not an EventBridge event: {message}")]
    InvalidEnvelope { message: String },
    /// The envelope's detail-type/source is not one this function handles.
    #[error("unsupported event: source {event_source:?}, detail-type {detail_type:?}")]
    UnsupportedEvent { event_source: String, detail_type: String },
    /// The envelope's detail does not have the shape its detail-type promises.
    #[error("invalid {detail_type} detail: {message}")]
    InvalidDetail { detail_type: String, message: String },
    /// A field the handler needs is missing or has the wrong type.
    #[error("field {field} is missing or invalid: {message}")]
    MissingField { field: String, message: String },
    /// A policy document could not be decoded or parsed.
    #[error("policy document {location}: {reason}")]
    PolicyDocument { location: String, reason: PolicyError },
}

/// What was wrong with a policy document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "problem", rename_all = "kebab-case")]
pub enum PolicyError {
    #[error("document is {size} bytes, over the {limit}-byte limit")]
    TooLarge { size: usize, limit: usize },
    #[error("document has {chars} non-whitespace characters, over IAM's {limit} for a {kind}")]
    OverLimit {
        kind: crate::policy::DocumentKind,
        chars: usize,
        limit: usize,
    },
    #[error("document is not valid URL encoding: {message}")]
    BadEncoding { message: String },
    #[error("document is not valid JSON: {message}")]
    NotJson { message: String },
    #[error("document is not a JSON object")]
    NotAnObject,
    #[error("statement {index}: {message}")]
    BadStatement { index: usize, message: String },
    #[error("{message}")]
    BadShape { message: String },
}

/// A failed AWS call, with the operation and resource it concerned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[error("{service}:{operation} on {resource} failed: {code}: {message}")]
pub struct AwsError {
    pub service: &'static str,
    pub operation: &'static str,
    pub resource: String,
    /// The AWS error code (e.g. `Throttling`, `AccessDenied`), or `Transport` for network errors.
    pub code: String,
    pub message: String,
    /// True when a later retry could succeed (throttling, 5xx, timeouts, dropped connections).
    pub retryable: bool,
}

impl AwsError {
    /// Builds an error from any SDK error, classifying whether a retry could help.
    pub fn from_sdk<E, R>(
        service: &'static str,
        operation: &'static str,
        resource: impl Into<String>,
        err: &aws_sdk_iam::error::SdkError<E, R>,
    ) -> Self
    where
        E: aws_sdk_iam::error::ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        use aws_sdk_iam::error::SdkError;
        let (code, message, retryable) = match err {
            SdkError::ServiceError(ctx) => {
                let e = ctx.err();
                let code = e.code().unwrap_or("Unknown").to_string();
                let retryable = matches!(
                    code.as_str(),
                    "Throttling"
                        | "ThrottlingException"
                        | "RequestLimitExceeded"
                        | "TooManyRequestsException"
                        | "ServiceFailure"
                        | "ServiceUnavailable"
                        | "InternalFailure"
                        | "InternalException"
                );
                (code, e.message().unwrap_or("").to_string(), retryable)
            }
            SdkError::TimeoutError(_) => ("Timeout".into(), format!("{err}"), true),
            SdkError::DispatchFailure(_) => ("Transport".into(), format!("{err:?}"), true),
            SdkError::ResponseError(_) => ("ResponseError".into(), format!("{err:?}"), true),
            SdkError::ConstructionFailure(_) => ("ConstructionFailure".into(), format!("{err:?}"), false),
            _ => ("Unknown".into(), format!("{err:?}"), false),
        };
        AwsError {
            service,
            operation,
            resource: resource.into(),
            code,
            message,
            retryable,
        }
    }
}
