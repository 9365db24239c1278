//! "GuardDuty Finding" events (`source` = `aws.guardduty`) about IAM credentials
//! (`resource.resourceType` = `AccessKey`).

use crate::envelope::Envelope;
use crate::error::InputError;
use crate::finding::{Actor, CredentialFinding, CredentialOwner, Finding, SourceKind, Subject};
use serde_json::Value;

pub const DETAIL_TYPE: &str = "GuardDuty Finding";
pub const SOURCE: &str = "aws.guardduty";
/// The finding type that is about the root user whatever the key details say.
pub const ROOT_USAGE: &str = "Policy:IAMUser/RootCredentialUsage";

pub fn recognizes(envelope: &Envelope) -> bool {
    envelope.detail_type == DETAIL_TYPE && envelope.source == SOURCE
}

fn invalid(message: String) -> InputError {
    InputError::InvalidDetail {
        detail_type: DETAIL_TYPE.into(),
        message,
    }
}

fn field<'a>(detail: &'a Value, pointer: &str) -> Result<&'a str, InputError> {
    detail
        .pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| InputError::MissingField {
            field: format!("detail{}", pointer.replace('/', ".")),
            message: "required string".into(),
        })
}

fn iam_name_ok(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
}

fn access_key_ok(id: &str) -> bool {
    (16..=128).contains(&id.len()) && id.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

pub fn normalize(envelope: &Envelope) -> Result<Finding, InputError> {
    let d = &envelope.detail;
    let account = field(d, "/accountId")?;
    if account != envelope.account {
        return Err(invalid(format!(
            "accountId {account} does not match the envelope account {}",
            envelope.account
        )));
    }
    let finding_type = field(d, "/type")?.to_string();
    let finding_arn = field(d, "/arn")?.to_string();
    let arn_prefix = format!("arn:{}:guardduty:", envelope.partition());
    if !finding_arn.starts_with(&arn_prefix)
        || !finding_arn.contains(&format!(":{account}:"))
        || finding_arn.len() > 512
    {
        return Err(invalid(format!(
            "arn {finding_arn:?} is not a GuardDuty finding of account {account}"
        )));
    }
    let severity = d
        .get("severity")
        .and_then(Value::as_f64)
        .filter(|s| (0.0..=10.0).contains(s))
        .ok_or_else(|| InputError::MissingField {
            field: "detail.severity".into(),
            message: "a number from 0 to 10".into(),
        })?;
    let updated_at = chrono::DateTime::parse_from_rfc3339(field(d, "/updatedAt")?)
        .map_err(|e| InputError::MissingField {
            field: "detail.updatedAt".into(),
            message: format!("not an RFC 3339 time: {e}"),
        })?
        .with_timezone(&chrono::Utc);
    let resource_type = field(d, "/resource/resourceType")?;
    let mut actor = Actor::default();
    let subject = if resource_type != "AccessKey" {
        Subject::Unhandled {
            reason: format!("GuardDuty findings about {resource_type} resources are not handled"),
        }
    } else {
        let user_type = field(d, "/resource/accessKeyDetails/userType")?.to_string();
        let user_name = d
            .pointer("/resource/accessKeyDetails/userName")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let key = d
            .pointer("/resource/accessKeyDetails/accessKeyId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        actor = Actor {
            identity_type: user_type.clone(),
            arn: None,
            name: Some(user_name.clone()).filter(|n| !n.is_empty()),
            account_id: Some(account.to_string()),
        };
        let owner = if finding_type == ROOT_USAGE || user_type == "Root" {
            CredentialOwner::Root
        } else if user_type == "IAMUser" || user_type == "AssumedRole" {
            if !iam_name_ok(&user_name) {
                return Err(InputError::MissingField {
                    field: "detail.resource.accessKeyDetails.userName".into(),
                    message: format!("{user_name:?} is not a valid IAM name"),
                });
            }
            if !access_key_ok(&key) {
                return Err(InputError::MissingField {
                    field: "detail.resource.accessKeyDetails.accessKeyId".into(),
                    message: format!("{key:?} is not an access key id"),
                });
            }
            if user_type == "IAMUser" {
                CredentialOwner::IamUser {
                    user_name,
                    access_key_id: key,
                }
            } else {
                CredentialOwner::AssumedRole {
                    role_name: user_name,
                    access_key_id: key,
                }
            }
        } else {
            CredentialOwner::Other { user_type, user_name }
        };
        Subject::CredentialCompromise(CredentialFinding {
            finding_id: d.get("id").and_then(Value::as_str).unwrap_or_default().to_string(),
            finding_arn,
            finding_type: finding_type.clone(),
            severity,
            title: d.get("title").and_then(Value::as_str).unwrap_or_default().to_string(),
            owner,
            updated_at,
        })
    };
    Ok(Finding {
        event_id: envelope.id.clone(),
        source: SourceKind::GuardDuty,
        detail_type: envelope.detail_type.clone(),
        event_name: finding_type,
        account: envelope.account.clone(),
        region: envelope.region.clone(),
        partition: envelope.partition().to_string(),
        time: envelope.time,
        actor,
        subject,
        only_rules: None,
        also: Vec::new(),
        raw_detail: envelope.detail.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(user_type: &str, finding_type: &str) -> Envelope {
        Envelope::from_value(
            json!({"version":"0","id":"g-1","detail-type":DETAIL_TYPE,"source":SOURCE,
            "account":"123456789012","time":"2026-11-20T10:00:00Z","region":"us-east-1","resources":[],
            "detail":{"schemaVersion":"2.0","accountId":"123456789012","region":"us-east-1","partition":"aws",
              "id":"f1","arn":"arn:aws:guardduty:us-east-1:123456789012:detector/d1/finding/f1","type":finding_type,
              "resource":{"resourceType":"AccessKey","accessKeyDetails":{"accessKeyId":"AKIAEXAMPLEEXAMPLE12",
                "principalId":"AIDAX","userType":user_type,"userName":"alice"}},
              "severity":8,"createdAt":"2026-11-20T09:00:00.000Z","updatedAt":"2026-11-20T09:30:00.000Z","title":"t"}}),
        )
        .unwrap()
    }

    #[test]
    fn owners() {
        let f = normalize(&event("IAMUser", "CredentialAccess:IAMUser/AnomalousBehavior")).unwrap();
        assert!(matches!(
            f.subject,
            Subject::CredentialCompromise(CredentialFinding {
                owner: CredentialOwner::IamUser { .. },
                ..
            })
        ));
        let f = normalize(&event("AssumedRole", "Persistence:IAMUser/AnomalousBehavior")).unwrap();
        assert!(matches!(
            f.subject,
            Subject::CredentialCompromise(CredentialFinding {
                owner: CredentialOwner::AssumedRole { .. },
                ..
            })
        ));
        for (t, ft) in [
            ("Root", "CredentialAccess:IAMUser/AnomalousBehavior"),
            ("IAMUser", ROOT_USAGE),
        ] {
            let f = normalize(&event(t, ft)).unwrap();
            assert!(matches!(
                f.subject,
                Subject::CredentialCompromise(CredentialFinding {
                    owner: CredentialOwner::Root,
                    ..
                })
            ));
        }
    }

    #[test]
    fn rejects_foreign_accounts_and_bad_names() {
        let mut e = event("IAMUser", "x");
        e.detail["accountId"] = json!("999999999999");
        assert!(matches!(normalize(&e), Err(InputError::InvalidDetail { .. })));
        let mut e = event("IAMUser", "x");
        e.detail["resource"]["accessKeyDetails"]["userName"] = json!("alice; rm -rf /");
        assert!(matches!(normalize(&e), Err(InputError::MissingField { .. })));
        let mut e = event("IAMUser", "x");
        e.detail["severity"] = json!("high");
        assert!(normalize(&e).is_err());
        let mut e = event("IAMUser", "x");
        e.detail["resource"]["resourceType"] = json!("Instance");
        assert!(matches!(normalize(&e).unwrap().subject, Subject::Unhandled { .. }));
    }
}
