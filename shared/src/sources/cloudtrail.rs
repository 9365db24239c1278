//! "AWS API Call via CloudTrail" events: IAM policy changes (`source` = `aws.iam`) and the create
//! calls of taggable resources ([`super::created`]).

use crate::envelope::Envelope;
use crate::error::InputError;
use crate::finding::{Actor, Finding, PrincipalKind, PrincipalRef, SourceKind, Subject, TagTarget};
use crate::policy::{DocumentKind, PolicyDocument};
use serde::Deserialize;
use serde_json::Value;

pub const DETAIL_TYPE: &str = "AWS API Call via CloudTrail";
/// IAM's CloudTrail events reach EventBridge with this source, in us-east-1 only.
pub const SOURCE: &str = "aws.iam";
pub const EVENT_SOURCE: &str = "iam.amazonaws.com";

/// The IAM API calls this source turns into findings rules act on.
pub const HANDLED_EVENT_NAMES: &[&str] = &[
    "CreatePolicy",
    "CreatePolicyVersion",
    "SetDefaultPolicyVersion",
    "CreateRole",
    "UpdateAssumeRolePolicy",
    "AttachUserPolicy",
    "AttachRolePolicy",
    "AttachGroupPolicy",
    "PutUserPolicy",
    "PutRolePolicy",
    "PutGroupPolicy",
    // Grants that do not touch a policy: the principal is reviewed as a whole.
    "UpdateUser",
    "UpdateGroup",
    "AddUserToGroup",
    "PutUserPermissionsBoundary",
    "PutRolePermissionsBoundary",
    "DeleteUserPermissionsBoundary",
    "DeleteRolePermissionsBoundary",
    // Tags, for the exemption record.
    "CreateUser",
    "TagUser",
    "TagRole",
    "TagPolicy",
    "UntagUser",
    "UntagRole",
    "UntagPolicy",
];

pub fn recognizes(envelope: &Envelope) -> bool {
    envelope.detail_type == DETAIL_TYPE && envelope.source.starts_with("aws.")
}

/// The parts of a CloudTrail record the responder needs: the call (`eventSource`, `eventName`) and
/// its parameters. Everything else is optional. `userIdentity` is read leniently by [`actor_of`]:
/// CloudTrail documents many identity shapes (`IAMUser`, `Root`, `AssumedRole`, `Role`,
/// `FederatedUser`, `AWSService`, `AWSAccount`, `IdentityCenterUser`, `WebIdentityUser`,
/// `SAMLUser`, `Unknown`), each with optional parts that may be missing, empty (`"sessionIssuer":
/// {}` for a console IAM user) or null. Who made a call only names the creator tag and the report's
/// actor; a shape that names nobody leaves those to a person and never rejects the event.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiCall {
    event_source: String,
    event_name: String,
    #[serde(default)]
    request_parameters: Value,
    #[serde(default)]
    user_identity: Value,
}

/// Turns a CloudTrail IAM event into a finding. Input is validated strictly where the responder
/// acts on it: names and ARNs must have IAM's shape, and an ARN may only name the envelope's own
/// account (or AWS-managed policies). Who made the call is read leniently (see [`ApiCall`]).
pub fn normalize(envelope: &Envelope) -> Result<Finding, InputError> {
    let call: ApiCall = serde_json::from_value(envelope.detail.clone()).map_err(|e| InputError::InvalidDetail {
        detail_type: DETAIL_TYPE.into(),
        message: e.to_string(),
    })?;
    if !matches!(call.user_identity, Value::Object(_) | Value::Null) {
        return Err(InputError::InvalidDetail {
            detail_type: DETAIL_TYPE.into(),
            message: "userIdentity must be an object".into(),
        });
    }
    if let Some(recipient) = envelope.detail.get("recipientAccountId").and_then(Value::as_str) {
        if recipient != envelope.account {
            return Err(InputError::InvalidDetail {
                detail_type: DETAIL_TYPE.into(),
                message: format!(
                    "recipientAccountId {recipient} does not match the envelope account {}",
                    envelope.account
                ),
            });
        }
    }
    let actor = actor_of(&call.user_identity);
    let (subject, also) = subject_of(envelope, &call)?;
    Ok(Finding {
        event_id: envelope.id.clone(),
        source: SourceKind::CloudTrail,
        detail_type: envelope.detail_type.clone(),
        event_name: call.event_name.clone(),
        account: envelope.account.clone(),
        region: envelope.region.clone(),
        partition: envelope.partition().to_string(),
        time: envelope.time,
        actor,
        subject,
        only_rules: None,
        also,
        raw_detail: envelope.detail.clone(),
    })
}

/// Who made the call, from any documented `userIdentity` shape. Every part is optional: a part
/// that is missing, null, empty or of another type counts as absent. No type → `Unknown`.
pub fn actor_of(identity: &Value) -> Actor {
    let text = |pointer: &str| {
        identity
            .pointer(pointer)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let identity_type = text("/type").unwrap_or_else(|| "Unknown".into());
    let arn = text("/arn");
    // A session's name is the ARN's last segment (assumed-role/<role>/<session>,
    // federated-user/<name>); IAM Identity Center names the person in onBehalfOf.
    let session_name = || {
        arn.as_deref()
            .filter(|_| {
                matches!(
                    identity_type.as_str(),
                    "AssumedRole" | "FederatedUser" | "WebIdentityUser" | "SAMLUser"
                )
            })
            .and_then(|a| a.rsplit('/').next())
            .filter(|s| !s.is_empty() && !s.starts_with("arn:"))
            .map(str::to_string)
    };
    let name = text("/userName")
        .or_else(&session_name)
        .or_else(|| text("/onBehalfOf/userId").filter(|_| identity_type == "IdentityCenterUser"));
    Actor {
        arn,
        name,
        account_id: text("/accountId"),
        identity_type,
    }
}

/// The subject of a call, and the further subjects the same call names (see [`Finding::also`]).
fn subject_of(envelope: &Envelope, call: &ApiCall) -> Result<(Subject, Vec<Subject>), InputError> {
    let subject = main_subject(envelope, call)?;
    let params = &call.request_parameters;
    let mut also = Vec::new();
    match (&subject, call.event_name.as_str()) {
        (Subject::TrustPolicyChanged { role, .. }, "CreateRole") => {
            let keys = tag_keys(params)?;
            if !keys.is_empty() {
                also.push(Subject::TagsChanged {
                    target: TagTarget::Principal(role.clone()),
                    keys,
                });
            }
        }
        (Subject::PrincipalReview { .. }, "AddUserToGroup") => also.push(Subject::PrincipalReview {
            principal: PrincipalRef {
                kind: PrincipalKind::Group,
                name: iam_name(params, "groupName", 128)?,
            },
        }),
        _ => {}
    }
    Ok((subject, also))
}

/// The tag keys a call sets (`tags: [{key, value}]`) or removes (`tagKeys: [key]`).
fn tag_keys(params: &Value) -> Result<Vec<String>, InputError> {
    let bad = |field: &str| InputError::MissingField {
        field: format!("detail.requestParameters.{field}"),
        message: "must be a list of tags ({key, value}) or of tag keys".into(),
    };
    let mut keys = Vec::new();
    match params.get("tags") {
        None | Some(Value::Null) => {}
        Some(Value::Array(tags)) => {
            for t in tags {
                let key = t
                    .get("key")
                    .or_else(|| t.get("Key"))
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad("tags"))?;
                keys.push(key.to_string());
            }
        }
        Some(_) => return Err(bad("tags")),
    }
    match params.get("tagKeys") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            for k in list {
                keys.push(k.as_str().ok_or_else(|| bad("tagKeys"))?.to_string());
            }
        }
        Some(_) => return Err(bad("tagKeys")),
    }
    // IAM tag keys are at most 128 characters.
    if keys.iter().any(|k| k.is_empty() || k.chars().count() > 128) {
        return Err(bad("tags"));
    }
    Ok(keys)
}

fn main_subject(envelope: &Envelope, call: &ApiCall) -> Result<Subject, InputError> {
    // EventBridge names the service in `source` (aws.s3 for s3.amazonaws.com); they must agree.
    let service = call.event_source.strip_suffix(".amazonaws.com").unwrap_or_default();
    if service.is_empty() || envelope.source != format!("aws.{service}") {
        return Err(InputError::InvalidDetail {
            detail_type: DETAIL_TYPE.into(),
            message: format!(
                "eventSource {:?} does not match the envelope source {:?}",
                call.event_source, envelope.source
            ),
        });
    }
    if let Some(code) = envelope.detail.get("errorCode").and_then(Value::as_str) {
        return Ok(Subject::Unhandled {
            reason: format!("the {} call failed with {code}; nothing changed", call.event_name),
        });
    }
    if call.event_source != EVENT_SOURCE {
        return match super::created::kind_of(&call.event_source, &call.event_name) {
            Some(kind) => super::created::subject(envelope, kind),
            None => Ok(Subject::Unhandled {
                reason: format!("no rule acts on {service}:{}", call.event_name),
            }),
        };
    }
    let params = &call.request_parameters;
    let name = call.event_name.as_str();
    if !HANDLED_EVENT_NAMES.contains(&name) {
        return Ok(Subject::Unhandled {
            reason: format!("no rule acts on iam:{name}"),
        });
    }
    if !params.is_object() {
        return Err(InputError::MissingField {
            field: "detail.requestParameters".into(),
            message: format!("{name} events carry their parameters here"),
        });
    }
    let user = |field: &str| -> Result<PrincipalRef, InputError> {
        Ok(PrincipalRef {
            kind: PrincipalKind::User,
            name: iam_name(params, field, 64)?,
        })
    };
    let role = || -> Result<PrincipalRef, InputError> {
        Ok(PrincipalRef {
            kind: PrincipalKind::Role,
            name: iam_name(params, "roleName", 64)?,
        })
    };
    match name {
        // A rename moves every grant to the new name: review the principal under it. UpdateUser
        // and UpdateGroup may also only change the path (no new name).
        "UpdateUser" | "UpdateGroup" => {
            let (kind, field, new_field, max) = if name == "UpdateUser" {
                (PrincipalKind::User, "userName", "newUserName", 64)
            } else {
                (PrincipalKind::Group, "groupName", "newGroupName", 128)
            };
            let field = match params.get(new_field) {
                None | Some(Value::Null) => field,
                Some(_) => new_field,
            };
            Ok(Subject::PrincipalReview {
                principal: PrincipalRef {
                    kind,
                    name: iam_name(params, field, max)?,
                },
            })
        }
        // The user gets what the group grants: the user is reviewed here, the group beside it.
        "AddUserToGroup" => Ok(Subject::PrincipalReview {
            principal: user("userName")?,
        }),
        // A boundary removed or replaced can widen what the principal's policies let it do.
        "PutUserPermissionsBoundary" | "DeleteUserPermissionsBoundary" => Ok(Subject::PrincipalReview {
            principal: user("userName")?,
        }),
        "PutRolePermissionsBoundary" | "DeleteRolePermissionsBoundary" => {
            Ok(Subject::PrincipalReview { principal: role()? })
        }
        "CreateUser" | "TagUser" | "UntagUser" | "TagRole" | "UntagRole" | "TagPolicy" | "UntagPolicy" => {
            let target = if name.ends_with("Policy") {
                let arn = string_param(params, "policyArn")?;
                validate_policy_arn(&arn, envelope)?;
                TagTarget::Policy { arn }
            } else if name.ends_with("User") {
                TagTarget::Principal(user("userName")?)
            } else {
                TagTarget::Principal(role()?)
            };
            let keys = tag_keys(params)?;
            if keys.is_empty() {
                return Ok(Subject::Unhandled {
                    reason: format!("the {name} call set no tags; nothing to review"),
                });
            }
            Ok(Subject::TagsChanged { target, keys })
        }
        "CreatePolicy" => {
            let policy_name = iam_name(params, "policyName", 128)?;
            let document = document_param(params, "policyDocument", DocumentKind::Managed)?;
            let path = params.get("path").and_then(Value::as_str).unwrap_or("/");
            let from_response = envelope
                .detail
                .pointer("/responseElements/policy/arn")
                .and_then(Value::as_str)
                .map(str::to_string);
            let policy_arn = from_response.unwrap_or_else(|| {
                format!(
                    "arn:{}:iam::{}:policy{path}{policy_name}",
                    envelope.partition(),
                    envelope.account
                )
            });
            validate_policy_arn(&policy_arn, envelope)?;
            Ok(Subject::ManagedPolicyChanged { policy_arn, document })
        }
        "CreatePolicyVersion" | "SetDefaultPolicyVersion" => {
            let policy_arn = string_param(params, "policyArn")?;
            validate_policy_arn(&policy_arn, envelope)?;
            if name == "SetDefaultPolicyVersion" {
                return Ok(Subject::ManagedPolicyChanged {
                    policy_arn,
                    document: None,
                });
            }
            let document = document_param(params, "policyDocument", DocumentKind::Managed)?;
            // `setAsDefault` is a boolean; absent means false (IAM's default).
            let set_as_default = match params.get("setAsDefault") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(Value::String(s)) if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") => {
                    s.eq_ignore_ascii_case("true")
                }
                Some(_) => {
                    return Err(InputError::MissingField {
                        field: "detail.requestParameters.setAsDefault".into(),
                        message: "must be a boolean".into(),
                    })
                }
            };
            if set_as_default {
                return Ok(Subject::ManagedPolicyChanged { policy_arn, document });
            }
            let version_id = match envelope
                .detail
                .pointer("/responseElements/policyVersion/versionId")
                .and_then(Value::as_str)
            {
                None => None,
                Some(id) if is_version_id(id) => Some(id.to_string()),
                Some(id) => {
                    return Err(InputError::MissingField {
                        field: "detail.responseElements.policyVersion.versionId".into(),
                        message: format!("{id:?} is not a policy version id (v1, v2, ...)"),
                    })
                }
            };
            Ok(Subject::DormantPolicyVersion {
                policy_arn,
                version_id,
                document,
                kept: vec![],
            })
        }
        "CreateRole" | "UpdateAssumeRolePolicy" => {
            let role = PrincipalRef {
                kind: PrincipalKind::Role,
                name: iam_name(params, "roleName", 64)?,
            };
            let field = if name == "CreateRole" {
                "assumeRolePolicyDocument"
            } else {
                "policyDocument"
            };
            let document = document_param(params, field, DocumentKind::Trust)?;
            Ok(Subject::TrustPolicyChanged { role, document })
        }
        _ => {
            let (kind, name_field, max_len, doc_kind) = match name {
                "AttachUserPolicy" | "PutUserPolicy" => (PrincipalKind::User, "userName", 64, DocumentKind::InlineUser),
                "AttachRolePolicy" | "PutRolePolicy" => (PrincipalKind::Role, "roleName", 64, DocumentKind::InlineRole),
                _ => (PrincipalKind::Group, "groupName", 128, DocumentKind::InlineGroup),
            };
            let principal = PrincipalRef {
                kind,
                name: iam_name(params, name_field, max_len)?,
            };
            if name.starts_with("Attach") {
                let policy_arn = string_param(params, "policyArn")?;
                validate_policy_arn(&policy_arn, envelope)?;
                return Ok(Subject::PolicyAttached { principal, policy_arn });
            }
            let policy_name = iam_name(params, "policyName", 128)?;
            let document = document_param(params, "policyDocument", doc_kind)?;
            Ok(Subject::InlinePolicyPut {
                principal,
                policy_name,
                document,
            })
        }
    }
}

/// IAM policy version ids: `v` and a number.
fn is_version_id(id: &str) -> bool {
    id.len() > 1 && id.len() <= 10 && id.starts_with('v') && id[1..].chars().all(|c| c.is_ascii_digit())
}

/// An optional policy document parameter: validated (decoding, IAM size limit, shape) if present.
fn document_param(params: &Value, field: &str, kind: DocumentKind) -> Result<Option<String>, InputError> {
    match params.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(doc)) => {
            PolicyDocument::parse_as(doc, kind).map_err(|reason| InputError::PolicyDocument {
                location: format!("detail.requestParameters.{field}"),
                reason,
            })?;
            Ok(Some(doc.clone()))
        }
        Some(_) => Err(InputError::MissingField {
            field: format!("detail.requestParameters.{field}"),
            message: "must be a string".into(),
        }),
    }
}

fn string_param(params: &Value, field: &str) -> Result<String, InputError> {
    params
        .get(field)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| InputError::MissingField {
            field: format!("detail.requestParameters.{field}"),
            message: "required string".into(),
        })
}

/// IAM names: 1..=max characters of letters, digits and `+=,.@_-`.
fn iam_name(params: &Value, field: &str, max: usize) -> Result<String, InputError> {
    let name = string_param(params, field)?;
    let ok = !name.is_empty()
        && name.len() <= max
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
    if ok {
        Ok(name)
    } else {
        Err(InputError::MissingField {
            field: format!("detail.requestParameters.{field}"),
            message: format!("{name:?} is not a valid IAM name (1-{max} of A-Z a-z 0-9 +=,.@_-)"),
        })
    }
}

/// `arn:<partition>:iam::<aws|account>:policy/<path/>name`, in the envelope's partition and account.
fn validate_policy_arn(arn: &str, envelope: &Envelope) -> Result<(), InputError> {
    let bad = |message: String| InputError::MissingField {
        field: "detail.requestParameters.policyArn".into(),
        message,
    };
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() != 6 || parts[0] != "arn" || parts[2] != "iam" || !parts[3].is_empty() {
        return Err(bad(format!("{arn:?} is not an IAM policy ARN")));
    }
    if parts[1] != envelope.partition() {
        return Err(bad(format!(
            "{arn:?} is in partition {}, the event is in {}",
            parts[1],
            envelope.partition()
        )));
    }
    if parts[4] != "aws" && parts[4] != envelope.account {
        return Err(bad(format!(
            "{arn:?} belongs to account {}, the event to {}",
            parts[4], envelope.account
        )));
    }
    let Some(path_and_name) = parts[5].strip_prefix("policy/") else {
        return Err(bad(format!("{arn:?} is not an IAM policy ARN")));
    };
    let name = path_and_name.rsplit('/').next().unwrap_or_default();
    let ok = arn.len() <= 2048
        && !name.is_empty()
        && name.len() <= 128
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
        && path_and_name.chars().all(|c| ('!'..='~').contains(&c));
    if ok {
        Ok(())
    } else {
        Err(bad(format!("{arn:?} has an invalid policy path or name")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(name: &str, params: Value) -> Envelope {
        Envelope::from_value(json!({
            "version":"0","id":"e-1","detail-type":DETAIL_TYPE,"source":SOURCE,"account":"123456789012",
            "time":"2026-11-20T10:00:00Z","region":"us-east-1","resources":[],
            "detail":{"eventVersion":"1.09","userIdentity":{"type":"AssumedRole","principalId":"AROA:jane@example.com",
              "arn":"arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin/jane@example.com","accountId":"123456789012"},
              "eventTime":"2026-11-20T10:00:00Z","eventSource":"iam.amazonaws.com","eventName":name,"awsRegion":"us-east-1",
              "sourceIPAddress":"198.51.100.7","userAgent":"aws-cli/2","requestParameters":params,"responseElements":null,
              "requestID":"r-1","eventID":"c-1","eventType":"AwsApiCall","recipientAccountId":"123456789012"}
        }))
        .unwrap()
    }

    #[test]
    fn normalizes_attach_events() {
        let f = normalize(&event(
            "AttachRolePolicy",
            json!({"roleName":"deployer","policyArn":"arn:aws:iam::aws:policy/AdministratorAccess"}),
        ))
        .unwrap();
        assert_eq!(f.actor.name.as_deref(), Some("jane@example.com"));
        assert_eq!(
            f.subject,
            Subject::PolicyAttached {
                principal: PrincipalRef {
                    kind: PrincipalKind::Role,
                    name: "deployer".into()
                },
                policy_arn: "arn:aws:iam::aws:policy/AdministratorAccess".into()
            }
        );
    }

    #[test]
    fn normalizes_inline_put() {
        let f = normalize(&event(
            "PutGroupPolicy",
            json!({"groupName":"devs","policyName":"p","policyDocument":"{\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}}"}),
        ))
        .unwrap();
        assert!(matches!(f.subject, Subject::InlinePolicyPut { ref policy_name, .. } if policy_name == "p"));
    }

    #[test]
    fn unhandled_calls_are_not_errors() {
        let f = normalize(&event("CreateUser", json!({"userName":"x"}))).unwrap();
        assert!(matches!(f.subject, Subject::Unhandled { .. }));
        let mut e = event(
            "AttachUserPolicy",
            json!({"userName":"x","policyArn":"arn:aws:iam::aws:policy/A"}),
        );
        e.detail["errorCode"] = json!("AccessDenied");
        assert!(matches!(normalize(&e).unwrap().subject, Subject::Unhandled { .. }));
    }

    #[test]
    fn rejects_bad_parameters() {
        let cases = [
            ("AttachUserPolicy", Value::Null),
            ("AttachUserPolicy", json!({"policyArn":"arn:aws:iam::aws:policy/A"})),
            (
                "AttachUserPolicy",
                json!({"userName":"a b","policyArn":"arn:aws:iam::aws:policy/A"}),
            ),
            (
                "AttachUserPolicy",
                json!({"userName":"a","policyArn":"arn:aws:iam::999999999999:policy/A"}),
            ),
            (
                "AttachUserPolicy",
                json!({"userName":"a","policyArn":"arn:aws-cn:iam::aws:policy/A"}),
            ),
            (
                "AttachUserPolicy",
                json!({"userName":"a","policyArn":"arn:aws:s3:::bucket"}),
            ),
            (
                "AttachUserPolicy",
                json!({"userName":"a","policyArn":"arn:aws:iam::aws:policy/A;rm -rf"}),
            ),
            (
                "PutUserPolicy",
                json!({"userName":"a","policyName":"p","policyDocument":"not json"}),
            ),
            (
                "PutUserPolicy",
                json!({"userName":"a","policyName":"p","policyDocument":{"Statement":[]}}),
            ),
            ("PutRolePolicy", json!({"roleName":"r","policyDocument":"{}"})),
        ];
        for (name, params) in cases {
            assert!(normalize(&event(name, params.clone())).is_err(), "{name} {params}");
        }
    }

    #[test]
    fn rejects_account_mismatch_and_bad_detail() {
        let mut e = event("CreateUser", json!({}));
        e.detail["recipientAccountId"] = json!("210987654321");
        assert!(matches!(normalize(&e), Err(InputError::InvalidDetail { .. })));
        let mut e = event("CreateUser", json!({}));
        e.detail["userIdentity"] = json!("root");
        assert!(matches!(normalize(&e), Err(InputError::InvalidDetail { .. })));
        let mut e = event("CreateUser", json!({}));
        e.detail.as_object_mut().unwrap().remove("eventName");
        assert!(matches!(normalize(&e), Err(InputError::InvalidDetail { .. })));
    }

    /// Every `userIdentity.type` of AWS's CloudTrail userIdentity reference, with its optional
    /// parts as documented, missing, empty or null: the event is accepted and the actor read.
    #[test]
    fn every_documented_identity_shape_is_accepted() {
        let acct = "123456789012";
        let cases: Vec<(Value, &str, Option<&str>)> = vec![
            // A console IAM user: sessionContext with an empty sessionIssuer.
            (
                json!({"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::123456789012:user/alice","accountId":acct,
                       "accessKeyId":"ASIAEXAMPLE","userName":"alice",
                       "sessionContext":{"sessionIssuer":{},"webIdFederationData":{},"attributes":{"creationDate":"2026-11-20T09:00:00Z","mfaAuthenticated":"true"}}}),
                "IAMUser",
                Some("alice"),
            ),
            // The root user in the console: no userName.
            (
                json!({"type":"Root","principalId":acct,"arn":"arn:aws:iam::123456789012:root","accountId":acct,"accessKeyId":"ASIAEXAMPLE",
                       "sessionContext":{"sessionIssuer":{},"webIdFederationData":{},"attributes":{"creationDate":"2026-11-20T09:00:00Z","mfaAuthenticated":"true"}}}),
                "Root",
                None,
            ),
            (
                json!({"type":"AssumedRole","principalId":"AROAEXAMPLE:jane","arn":"arn:aws:sts::123456789012:assumed-role/Admin/jane","accountId":acct,
                       "sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAEXAMPLE","arn":"arn:aws:iam::123456789012:role/Admin","accountId":acct,"userName":"Admin"},
                                         "attributes":{"creationDate":"2026-11-20T09:00:00Z","mfaAuthenticated":"false"}}}),
                "AssumedRole",
                Some("jane"),
            ),
            (
                json!({"type":"AssumedRole","principalId":"AROAEXAMPLE:x","accountId":acct,"sessionContext":null}),
                "AssumedRole",
                None,
            ),
            (
                json!({"type":"Role","principalId":"AROAEXAMPLE","arn":"arn:aws:iam::123456789012:role/r"}),
                "Role",
                None,
            ),
            (
                json!({"type":"FederatedUser","principalId":"123456789012:bob","arn":"arn:aws:sts::123456789012:federated-user/bob","accountId":acct,
                       "sessionContext":{"sessionIssuer":{"type":"IAMUser","userName":"broker","arn":"arn:aws:iam::123456789012:user/broker"}}}),
                "FederatedUser",
                Some("bob"),
            ),
            (
                json!({"type":"AWSService","invokedBy":"cloudformation.amazonaws.com"}),
                "AWSService",
                None,
            ),
            (
                json!({"type":"AWSAccount","principalId":"AIDAEXAMPLE","accountId":"111122223333"}),
                "AWSAccount",
                None,
            ),
            (
                json!({"type":"IdentityCenterUser","accountId":acct,"onBehalfOf":{"userId":"544894e8-80c1-707f-60e3-3ba6510dfac1","identityStoreArn":"arn:aws:identitystore::123456789012:identitystore/d-1"},
                       "credentialId":"EXAMPLE"}),
                "IdentityCenterUser",
                Some("544894e8-80c1-707f-60e3-3ba6510dfac1"),
            ),
            (
                json!({"type":"WebIdentityUser","principalId":"accounts.google.com:app:user","userName":"user","identityProvider":"accounts.google.com"}),
                "WebIdentityUser",
                Some("user"),
            ),
            (
                json!({"type":"SAMLUser","principalId":"SampleUkh1i4+ExamplexL/jEvs=:SamlExample","userName":"SamlExample","identityProvider":"bdGOnTesti4+ExamplexL/jEvs="}),
                "SAMLUser",
                Some("SamlExample"),
            ),
            (
                json!({"type":"Unknown","principalId":"","userName":"","accountId":null}),
                "Unknown",
                None,
            ),
            (json!({}), "Unknown", None),
            (
                json!({"type":null,"arn":null,"userName":null,"sessionContext":{"sessionIssuer":null}}),
                "Unknown",
                None,
            ),
            (Value::Null, "Unknown", None),
        ];
        for (identity, want_type, want_name) in cases {
            let mut e = event(
                "AttachUserPolicy",
                json!({"userName":"alice","policyArn":"arn:aws:iam::aws:policy/AdministratorAccess"}),
            );
            e.detail["userIdentity"] = identity.clone();
            let f = normalize(&e).unwrap_or_else(|err| panic!("{identity}: {err}"));
            assert_eq!(f.actor.identity_type, want_type, "{identity}");
            assert_eq!(f.actor.name.as_deref(), want_name, "{identity}");
            assert!(matches!(f.subject, Subject::PolicyAttached { .. }), "{identity}");
        }
        // No identity at all: still handled.
        let mut e = event("ListUsers", json!({}));
        e.detail.as_object_mut().unwrap().remove("userIdentity");
        assert_eq!(normalize(&e).unwrap().actor.identity_type, "Unknown");
    }

    fn review_of(f: &Finding) -> (PrincipalKind, &str) {
        match &f.subject {
            Subject::PrincipalReview { principal } => (principal.kind, principal.name.as_str()),
            other => panic!("expected a review, got {other:?}"),
        }
    }

    #[test]
    fn grants_without_a_policy_review_the_principal_they_reach() {
        let f = normalize(&event("UpdateUser", json!({"userName":"old","newUserName":"new"}))).unwrap();
        assert_eq!(review_of(&f), (PrincipalKind::User, "new"));
        // A path-only update keeps the name.
        let f = normalize(&event("UpdateUser", json!({"userName":"same","newPath":"/ops/"}))).unwrap();
        assert_eq!(review_of(&f), (PrincipalKind::User, "same"));
        let f = normalize(&event("UpdateGroup", json!({"groupName":"a","newGroupName":"b"}))).unwrap();
        assert_eq!(review_of(&f), (PrincipalKind::Group, "b"));
        let f = normalize(&event(
            "AddUserToGroup",
            json!({"userName":"erin","groupName":"admins"}),
        ))
        .unwrap();
        assert_eq!(review_of(&f), (PrincipalKind::User, "erin"));
        assert!(matches!(&f.also[..], [Subject::PrincipalReview { principal }]
            if principal.kind == PrincipalKind::Group && principal.name == "admins"));
        for (name, kind) in [
            ("DeleteUserPermissionsBoundary", PrincipalKind::User),
            ("PutUserPermissionsBoundary", PrincipalKind::User),
        ] {
            let f = normalize(&event(
                name,
                json!({"userName":"u1","permissionsBoundary":"arn:aws:iam::aws:policy/X"}),
            ))
            .unwrap();
            assert_eq!(review_of(&f), (kind, "u1"));
        }
        for name in ["DeleteRolePermissionsBoundary", "PutRolePermissionsBoundary"] {
            let f = normalize(&event(name, json!({"roleName":"r1"}))).unwrap();
            assert_eq!(review_of(&f), (PrincipalKind::Role, "r1"));
        }
        // Bad names are rejected, as for every IAM call.
        assert!(normalize(&event("UpdateUser", json!({"userName":"old","newUserName":"no/slash"}))).is_err());
        assert!(normalize(&event("AddUserToGroup", json!({"userName":"erin"}))).is_err());
    }

    #[test]
    fn a_version_created_without_set_as_default_is_dormant() {
        let arn = "arn:aws:iam::123456789012:policy/p";
        let doc = "{\"Version\":\"2012-10-17\",\"Statement\":[]}";
        let with = |params: Value, response: Value| {
            let mut e = event("CreatePolicyVersion", params);
            e.detail["responseElements"] = response;
            normalize(&e)
        };
        let f = with(
            json!({"policyArn":arn,"policyDocument":doc,"setAsDefault":false}),
            json!({"policyVersion":{"versionId":"v3","isDefaultVersion":false}}),
        )
        .unwrap();
        assert!(matches!(&f.subject, Subject::DormantPolicyVersion { version_id: Some(v), .. } if v == "v3"));
        // setAsDefault absent means false; no response: the newest non-default version is read.
        let f = with(json!({"policyArn":arn,"policyDocument":doc}), Value::Null).unwrap();
        assert!(matches!(
            &f.subject,
            Subject::DormantPolicyVersion { version_id: None, .. }
        ));
        let f = with(
            json!({"policyArn":arn,"policyDocument":doc,"setAsDefault":true}),
            Value::Null,
        )
        .unwrap();
        assert!(matches!(&f.subject, Subject::ManagedPolicyChanged { .. }));
        assert!(with(
            json!({"policyArn":arn,"policyDocument":doc}),
            json!({"policyVersion":{"versionId":"../v1"}})
        )
        .is_err());
        assert!(with(
            json!({"policyArn":arn,"policyDocument":doc,"setAsDefault":7}),
            Value::Null
        )
        .is_err());
    }

    #[test]
    fn tagging_calls_name_their_target_and_keys() {
        let f = normalize(&event(
            "TagUser",
            json!({"userName":"bob","tags":[{"key":"compliance-responder:exempt","value":"true"}]}),
        ))
        .unwrap();
        assert!(
            matches!(&f.subject, Subject::TagsChanged { target: TagTarget::Principal(p), keys }
            if p.name == "bob" && keys == &["compliance-responder:exempt"])
        );
        let f = normalize(&event("UntagRole", json!({"roleName":"r","tagKeys":["a","b"]}))).unwrap();
        assert!(matches!(&f.subject, Subject::TagsChanged { keys, .. } if keys.len() == 2));
        let arn = "arn:aws:iam::123456789012:policy/p";
        let f = normalize(&event(
            "TagPolicy",
            json!({"policyArn":arn,"tags":[{"key":"k","value":""}]}),
        ))
        .unwrap();
        assert!(matches!(&f.subject, Subject::TagsChanged { target: TagTarget::Policy { arn: a }, .. } if a == arn));
        // Another account's policy, malformed tags: rejected. A user created without tags: nothing to do.
        assert!(normalize(&event(
            "TagPolicy",
            json!({"policyArn":"arn:aws:iam::999999999999:policy/p","tags":[]})
        ))
        .is_err());
        assert!(normalize(&event("TagUser", json!({"userName":"bob","tags":"x"}))).is_err());
        assert!(normalize(&event("TagUser", json!({"userName":"bob","tags":[{"value":"v"}]}))).is_err());
        let f = normalize(&event("CreateUser", json!({"userName":"new"}))).unwrap();
        assert!(matches!(f.subject, Subject::Unhandled { .. }));
        // A role created with tags: its trust policy and its tags are both judged.
        let f = normalize(&event(
            "CreateRole",
            json!({"roleName":"r","assumeRolePolicyDocument":"{\"Version\":\"2012-10-17\",\"Statement\":[]}",
                   "tags":[{"key":"compliance-responder:exempt","value":"true"}]}),
        ))
        .unwrap();
        assert!(matches!(f.subject, Subject::TrustPolicyChanged { .. }));
        assert!(matches!(&f.also[..], [Subject::TagsChanged { .. }]));
    }
}
