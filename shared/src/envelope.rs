//! The EventBridge envelope every event arrives in.

use crate::error::InputError;
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

/// Largest payload accepted. EventBridge caps events at 256 KiB.
pub const MAX_EVENT_BYTES: usize = 256 * 1024;

/// A validated EventBridge envelope: every field the pipeline needs is present.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Envelope {
    pub id: String,
    pub detail_type: String,
    pub source: String,
    pub account: String,
    pub region: String,
    pub time: DateTime<Utc>,
    pub resources: Vec<String>,
    #[serde(skip)]
    pub detail: Value,
}

impl Envelope {
    /// Parses raw bytes (as `cargo lambda invoke` or a test hands them over).
    pub fn from_slice(bytes: &[u8]) -> Result<Self, InputError> {
        if bytes.len() > MAX_EVENT_BYTES {
            return Err(InputError::InvalidEnvelope {
                message: format!(
                    "payload is {} bytes, over EventBridge's {MAX_EVENT_BYTES}-byte limit",
                    bytes.len()
                ),
            });
        }
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| InputError::MalformedJson { message: e.to_string() })?;
        Self::from_value(value)
    }

    /// Validates an already-parsed JSON value (as the Lambda runtime hands it over).
    pub fn from_value(value: Value) -> Result<Self, InputError> {
        if !value.is_object() {
            return Err(InputError::InvalidEnvelope {
                message: "payload is not a JSON object".into(),
            });
        }
        let event: EventBridgeEvent<Value> =
            serde_json::from_value(value).map_err(|e| InputError::InvalidEnvelope { message: e.to_string() })?;
        let required = |field: &str, v: Option<String>| {
            v.filter(|s| !s.trim().is_empty())
                .ok_or_else(|| InputError::MissingField {
                    field: field.to_string(),
                    message: "required in the EventBridge envelope".into(),
                })
        };
        let account = required("account", event.account)?;
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InputError::MissingField {
                field: "account".into(),
                message: format!("{account:?} is not a 12-digit AWS account id"),
            });
        }
        let region = required("region", event.region)?;
        if !is_region(&region) {
            return Err(InputError::MissingField {
                field: "region".into(),
                message: format!("{region:?} is not an AWS region"),
            });
        }
        if !event.detail.is_object() {
            return Err(InputError::MissingField {
                field: "detail".into(),
                message: "must be a JSON object".into(),
            });
        }
        Ok(Envelope {
            id: required("id", event.id)?,
            detail_type: event.detail_type,
            source: event.source,
            account,
            region,
            time: event.time.ok_or_else(|| InputError::MissingField {
                field: "time".into(),
                message: "required in the EventBridge envelope".into(),
            })?,
            resources: event.resources.unwrap_or_default(),
            detail: event.detail,
        })
    }

    /// The AWS partition the envelope's region belongs to.
    pub fn partition(&self) -> &'static str {
        partition_of(&self.region)
    }
}

/// Whether `s` is shaped like an AWS region name (`us-east-1`, `ap-southeast-3`,
/// `us-gov-west-1`, `us-isob-east-1`): letters-dashes-digits, lowercase. The region picks which
/// endpoint the event's reads and writes go to, so nothing else is accepted.
pub fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    s.len() <= 32
        && parts.len() >= 3
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

/// `aws`, `aws-cn`, `aws-us-gov`, `aws-iso`, `aws-iso-b` from a region name.
pub fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else {
        "aws"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_names() {
        for ok in [
            "us-east-1",
            "eu-central-2",
            "ap-southeast-3",
            "us-gov-west-1",
            "us-isob-east-1",
            "cn-north-1",
        ] {
            assert!(is_region(ok), "{ok}");
        }
        for bad in [
            "",
            "us",
            "us-east",
            "US-EAST-1",
            "us-east-1a",
            "us..east-1",
            "us-east-1/x",
            "evil.com-x-1",
            "-east-1",
        ] {
            assert!(!is_region(bad), "{bad}");
        }
    }
    use serde_json::json;

    fn base() -> Value {
        json!({"version":"0","id":"e-1","detail-type":"AWS API Call via CloudTrail","source":"aws.iam",
               "account":"123456789012","time":"2026-11-20T10:00:00Z","region":"us-east-1","resources":[],"detail":{}})
    }

    #[test]
    fn accepts_a_complete_envelope() {
        let e = Envelope::from_value(base()).unwrap();
        assert_eq!(e.account, "123456789012");
        assert_eq!(e.partition(), "aws");
    }

    #[test]
    fn rejects_malformed_and_incomplete_envelopes() {
        assert!(matches!(
            Envelope::from_slice(b"{\"id\":"),
            Err(InputError::MalformedJson { .. })
        ));
        assert!(matches!(
            Envelope::from_slice(b"[]"),
            Err(InputError::InvalidEnvelope { .. })
        ));
        for (field, value) in [
            ("account", json!("12345")),
            ("region", json!("US EAST")),
            ("detail", json!("x")),
        ] {
            let mut v = base();
            v[field] = value;
            assert!(
                matches!(Envelope::from_value(v), Err(InputError::MissingField { .. })),
                "{field}"
            );
        }
        let mut v = base();
        v.as_object_mut().unwrap().remove("detail-type");
        assert!(matches!(
            Envelope::from_value(v),
            Err(InputError::InvalidEnvelope { .. })
        ));
        let mut v = base();
        v["time"] = json!("yesterday");
        assert!(matches!(
            Envelope::from_value(v),
            Err(InputError::InvalidEnvelope { .. })
        ));
    }

    #[test]
    fn partitions() {
        assert_eq!(partition_of("cn-north-1"), "aws-cn");
        assert_eq!(partition_of("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition_of("eu-west-1"), "aws");
    }
}
