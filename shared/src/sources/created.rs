//! CloudTrail "create" calls of taggable resources: which resources they created, the tags the
//! call already set, and who made it (the value of the creator tag). Pure.

use crate::envelope::Envelope;
use crate::error::InputError;
use crate::finding::Subject;
use crate::resource::{clamp_value, AwsResource, ResourceKind, Tags};
use serde_json::Value;

/// (eventSource, eventName, kind) of every create call the `required-tags` rule handles.
pub const CREATE_EVENTS: &[(&str, &str, ResourceKind)] = &[
    ("s3.amazonaws.com", "CreateBucket", ResourceKind::S3Bucket),
    ("ec2.amazonaws.com", "RunInstances", ResourceKind::Ec2Instance),
    ("ec2.amazonaws.com", "CreateVolume", ResourceKind::Ec2Volume),
    (
        "ec2.amazonaws.com",
        "CreateSecurityGroup",
        ResourceKind::Ec2SecurityGroup,
    ),
    (
        "lambda.amazonaws.com",
        "CreateFunction20150331",
        ResourceKind::LambdaFunction,
    ),
    ("dynamodb.amazonaws.com", "CreateTable", ResourceKind::DynamoDbTable),
    ("rds.amazonaws.com", "CreateDBInstance", ResourceKind::RdsDbInstance),
    ("sqs.amazonaws.com", "CreateQueue", ResourceKind::SqsQueue),
    ("sns.amazonaws.com", "CreateTopic", ResourceKind::SnsTopic),
];

/// The kind a create call makes, if it is one of [`CREATE_EVENTS`].
pub fn kind_of(event_source: &str, event_name: &str) -> Option<ResourceKind> {
    CREATE_EVENTS
        .iter()
        .find(|(s, n, _)| *s == event_source && *n == event_name)
        .map(|(_, _, k)| *k)
}

/// The creator tag value from `userIdentity`: the IAM user name; for an assumed role the session
/// name (for IAM Identity Center the person's user name or email); the federated user's name;
/// otherwise the principal ARN. Never empty: `None` when the identity names nobody.
pub fn creator_of(identity: &Value) -> Option<String> {
    let text = |field: &str| {
        identity
            .get(field)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let arn = text("arn");
    let last_segment = || arn.and_then(|a| a.rsplit('/').next()).filter(|s| !s.is_empty());
    let chosen = match text("type").unwrap_or_default() {
        "IAMUser" => text("userName").or(arn),
        "AssumedRole" | "FederatedUser" => last_segment().or(arn),
        "IdentityCenterUser" => identity
            .pointer("/onBehalfOf/userId")
            .and_then(Value::as_str)
            .or(text("userName"))
            .or(arn),
        "AWSService" => text("invokedBy").or(arn),
        _ => arn.or(text("principalId")),
    };
    chosen.map(clamp_value).filter(|s| !s.is_empty())
}

/// Tags as CloudTrail records them: a list of `{key, value}` (any capitalisation) or a map.
fn tags_from(value: Option<&Value>) -> Tags {
    let mut tags = Tags::new();
    match value {
        Some(Value::Array(items)) => {
            for item in items {
                let field = |names: [&str; 2]| names.iter().find_map(|n| item.get(*n).and_then(Value::as_str));
                if let (Some(k), Some(v)) = (field(["key", "Key"]), field(["value", "Value"])) {
                    tags.insert(k.to_string(), v.to_string());
                }
            }
        }
        Some(Value::Object(map)) => {
            for (k, v) in map {
                if let Some(v) = v.as_str() {
                    tags.insert(k.clone(), v.to_string());
                }
            }
        }
        _ => {}
    }
    tags
}

/// EC2's `tagSpecificationSet`: the tags for one resource type.
fn ec2_tags(params: &Value, resource_type: &str) -> Tags {
    let mut tags = Tags::new();
    if let Some(Value::Array(items)) = params.pointer("/tagSpecificationSet/items") {
        for spec in items.iter().filter(|s| s["resourceType"] == resource_type) {
            let inner = spec.get("tags").or_else(|| spec.pointer("/tagSet/items"));
            tags.extend(tags_from(inner));
        }
    }
    tags
}

fn missing(field: &str, message: &str) -> InputError {
    InputError::MissingField {
        field: field.to_string(),
        message: message.to_string(),
    }
}

fn str_at<'a>(detail: &'a Value, pointer: &str) -> Option<&'a str> {
    detail
        .pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The subject of a create call of `kind`.
pub fn subject(envelope: &Envelope, kind: ResourceKind) -> Result<Subject, InputError> {
    let detail = &envelope.detail;
    let params = detail.get("requestParameters").unwrap_or(&Value::Null);
    if !params.is_object() {
        return Err(missing(
            "detail.requestParameters",
            "create events carry their parameters here",
        ));
    }
    let (names, creation_tags): (Vec<(String, &str)>, Tags) = match kind {
        ResourceKind::S3Bucket => (
            vec![(
                str_at(detail, "/requestParameters/bucketName")
                    .ok_or_else(|| missing("detail.requestParameters.bucketName", "required string"))?
                    .to_string(),
                "detail.requestParameters.bucketName",
            )],
            Tags::new(),
        ),
        ResourceKind::Ec2Instance => {
            let items = detail
                .pointer("/responseElements/instancesSet/items")
                .and_then(Value::as_array)
                .filter(|a| !a.is_empty())
                .ok_or_else(|| {
                    missing(
                        "detail.responseElements.instancesSet.items",
                        "RunInstances events list the instances they started",
                    )
                })?;
            let mut ids = Vec::new();
            for item in items {
                let id = item
                    .get("instanceId")
                    .and_then(Value::as_str)
                    .ok_or_else(|| missing("detail.responseElements.instancesSet.items[].instanceId", "required"))?;
                ids.push((
                    id.to_string(),
                    "detail.responseElements.instancesSet.items[].instanceId",
                ));
            }
            (ids, ec2_tags(params, "instance"))
        }
        ResourceKind::Ec2Volume => (
            vec![(
                str_at(detail, "/responseElements/volumeId")
                    .ok_or_else(|| missing("detail.responseElements.volumeId", "required string"))?
                    .to_string(),
                "detail.responseElements.volumeId",
            )],
            ec2_tags(params, "volume"),
        ),
        ResourceKind::Ec2SecurityGroup => (
            vec![(
                str_at(detail, "/responseElements/groupId")
                    .ok_or_else(|| missing("detail.responseElements.groupId", "required string"))?
                    .to_string(),
                "detail.responseElements.groupId",
            )],
            ec2_tags(params, "security-group"),
        ),
        ResourceKind::LambdaFunction => (
            vec![(
                str_at(detail, "/responseElements/functionName")
                    .or(str_at(detail, "/requestParameters/functionName"))
                    .ok_or_else(|| missing("detail.requestParameters.functionName", "required string"))?
                    .to_string(),
                "detail.requestParameters.functionName",
            )],
            tags_from(params.get("tags")),
        ),
        ResourceKind::DynamoDbTable => (
            vec![(
                str_at(detail, "/requestParameters/tableName")
                    .ok_or_else(|| missing("detail.requestParameters.tableName", "required string"))?
                    .to_string(),
                "detail.requestParameters.tableName",
            )],
            tags_from(params.get("tags")),
        ),
        ResourceKind::RdsDbInstance => (
            vec![(
                str_at(detail, "/responseElements/dBInstanceIdentifier")
                    .or(str_at(detail, "/requestParameters/dBInstanceIdentifier"))
                    .ok_or_else(|| missing("detail.requestParameters.dBInstanceIdentifier", "required string"))?
                    // RDS stores identifiers in lower case.
                    .to_ascii_lowercase(),
                "detail.requestParameters.dBInstanceIdentifier",
            )],
            tags_from(params.get("tags")),
        ),
        ResourceKind::SqsQueue => (
            vec![(
                str_at(detail, "/requestParameters/queueName")
                    .ok_or_else(|| missing("detail.requestParameters.queueName", "required string"))?
                    .to_string(),
                "detail.requestParameters.queueName",
            )],
            tags_from(params.get("tags")),
        ),
        ResourceKind::SnsTopic => (
            vec![(
                str_at(detail, "/requestParameters/name")
                    .ok_or_else(|| missing("detail.requestParameters.name", "required string"))?
                    .to_string(),
                "detail.requestParameters.name",
            )],
            tags_from(params.get("tags")),
        ),
    };
    let mut resources = Vec::with_capacity(names.len());
    for (name, field) in names {
        let resource = AwsResource::new(kind, &name, envelope.partition(), &envelope.region, &envelope.account)
            .ok_or_else(|| missing(field, &format!("{name:?} is not a valid {} name", kind.config_type())))?;
        resources.push(resource);
    }
    let identity = detail.get("userIdentity").unwrap_or(&Value::Null);
    Ok(Subject::ResourcesCreated {
        resources,
        creator: creator_of(identity),
        creation_tags,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn creator_from_each_identity_type() {
        let cases = [
            (
                json!({"type":"IAMUser","userName":"alice","arn":"arn:aws:iam::1:user/alice"}),
                Some("alice"),
            ),
            (
                json!({"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/AWSReservedSSO_Dev_0a/jane@example.com"}),
                Some("jane@example.com"),
            ),
            (
                json!({"type":"FederatedUser","arn":"arn:aws:sts::1:federated-user/bob"}),
                Some("bob"),
            ),
            (
                json!({"type":"Root","arn":"arn:aws:iam::1:root"}),
                Some("arn:aws:iam::1:root"),
            ),
            (
                json!({"type":"IAMUser","userName":"  ","arn":"arn:aws:iam::1:user/x"}),
                Some("arn:aws:iam::1:user/x"),
            ),
            (
                json!({"type":"AWSService","invokedBy":"cloudformation.amazonaws.com"}),
                Some("cloudformation.amazonaws.com"),
            ),
            (json!({"type":"Unknown"}), None),
            (json!(null), None),
        ];
        for (identity, want) in cases {
            assert_eq!(creator_of(&identity).as_deref(), want, "{identity}");
        }
    }

    #[test]
    fn tags_in_every_shape() {
        assert_eq!(
            tags_from(Some(&json!([{"key":"a","value":"1"},{"Key":"b","Value":"2"}]))).len(),
            2
        );
        assert_eq!(tags_from(Some(&json!({"a":"1","b":2}))).len(), 1);
        let params = json!({"tagSpecificationSet":{"items":[
            {"resourceType":"instance","tags":[{"key":"Owner","value":"x"}]},
            {"resourceType":"volume","tags":[{"key":"Other","value":"y"}]}]}});
        assert_eq!(ec2_tags(&params, "instance").keys().collect::<Vec<_>>(), vec!["Owner"]);
    }
}
