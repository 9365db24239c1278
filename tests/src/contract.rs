//! AWS rules that moto does not enforce, enforced by the test proxy ([`crate::proxy`]) so a test
//! fails where AWS would. Each rule names the document that states it.
//!
//! Security Hub `BatchImportFindings` (Security Hub API Reference, BatchImportFindings):
//! - **caller owns the findings**: with the default product ARN (`product/<account>/default`) the
//!   calling account must be the finding's `AwsAccountId` and the product's account, and the
//!   product ARN's region the region called; a finding that breaks this is refused (`FailedFindings`);
//! - **at most 100 findings per request** (`Findings`: "Array Members: Minimum 1, Maximum 100"),
//!   and 6 MB per request (Security Hub quotas): the whole request is refused;
//! - **240 KB per finding**: "An error is returned for any finding larger than 240 Kb";
//! - **`UpdatedAt` must move forward**: an update whose `UpdatedAt` is not later than the stored
//!   finding's is ignored (Security Hub user guide, "Using BatchImportFindings to create and update
//!   findings"): accepted, but the stored finding does not change.
//!
//! Security Hub `BatchUpdateFindings` (Security Hub API Reference, BatchUpdateFindings), which
//! moto does not implement at all, so the proxy answers it itself and keeps the updates for tests:
//! - **who may update**: "Administrator accounts can update findings for their account and their
//!   member accounts. A member account can update findings only for their own account"; an
//!   identifier the caller may not update is returned in `UnprocessedFindings`;
//! - **findings are regional**: a finding exists in the region it was imported in (and its
//!   product ARN names that region); asked for in another region it is not found. (Cross-region
//!   aggregation lets the aggregation region update linked regions' findings; the responder never
//!   relies on it, so the proxy does not model it.)
//! - **1 to 100 identifiers per request** ("update up to 100 findings at a time"); `Note.Text` at
//!   most 512 characters, `Note.UpdatedBy` at most 128 (ASFF `Note`).
//!
//! Security Hub `GetFindings` (moto ignores `Filters` and never sees `BatchUpdateFindings`): at most
//! 10 filter attributes of at most 20 values, `MaxResults` 1–100; the `EQUALS` filters on id,
//! product, generator, account, compliance and workflow status are applied to moto's answer, and
//! each finding's workflow status is the one `BatchUpdateFindings` last set.
//!
//! IAM `GetAccountAuthorizationDetails` is paged as AWS pages it (`MaxItems`, default 100); moto
//! answers everything at once ([`paginate_authorization_details`]).
//!
//! The proxy learns which account each access key belongs to from the credentials the harness
//! hands out ([`Contract::register`]) and from the `AssumeRole` answers that pass through it; an
//! unknown key is moto's default account, as in moto.

use serde_json::{json, Value};
use std::collections::HashMap;

/// moto's account for credentials it does not know.
pub const DEFAULT_ACCOUNT: &str = "123456789012";
pub const MAX_FINDINGS_PER_REQUEST: usize = 100;
pub const MAX_FINDING_BYTES: usize = 240 * 1024;
pub const MAX_REQUEST_BYTES: usize = 6 * 1024 * 1024;
pub const MAX_NOTE_TEXT: usize = 512;
pub const MAX_NOTE_UPDATED_BY: usize = 128;

/// A `BatchUpdateFindings` change the contract accepted, as Security Hub would store it.
#[derive(Debug, Clone, PartialEq)]
pub struct FindingUpdate {
    pub id: String,
    pub product_arn: String,
    /// The account that made the update.
    pub by_account: String,
    pub region: String,
    pub workflow: Option<String>,
    pub note: Option<String>,
    pub updated_by: Option<String>,
}

/// What the proxy does with a request.
#[derive(Debug, PartialEq)]
pub enum Decision {
    /// Forward it unchanged.
    Forward,
    /// Forward this body instead; then add `failed` to the answer's `FailedFindings`.
    Rewrite { body: Vec<u8>, failed: Vec<Value> },
    /// Answer without forwarding: everything in the request was refused or ignored.
    Answer { status: u16, body: Value },
}

/// The contract's memory for one proxy (one test).
#[derive(Debug, Default)]
pub struct Contract {
    accounts: HashMap<String, String>,
    /// (product ARN, finding id) → the `UpdatedAt` stored.
    updated_at: HashMap<(String, String), chrono::DateTime<chrono::FixedOffset>>,
    /// (product ARN, finding id) → (account, region) of every finding Security Hub holds: the
    /// ones imported through the proxy and the ones a test seeds (another product's, e.g.
    /// GuardDuty's, which its integration imports).
    findings: HashMap<(String, String), (String, String)>,
    /// member account → its Security Hub administrator account.
    administrators: HashMap<String, String>,
    /// Accepted `BatchUpdateFindings` changes, in order.
    pub updates: Vec<FindingUpdate>,
    /// Refusals and ignored updates, for tests to read.
    pub violations: Vec<String>,
}

fn failed(id: &str, code: &str, message: String) -> Value {
    json!({"Id": id, "ErrorCode": code, "ErrorMessage": message})
}

impl Contract {
    /// Credentials with access key `key` act in `account`.
    pub fn register(&mut self, key: &str, account: &str) {
        self.accounts.insert(key.to_string(), account.to_string());
    }

    /// Security Hub holds finding `id` of `product_arn`, about `account`, in `region` (what a
    /// product integration such as GuardDuty's would have imported).
    pub fn seed_finding(&mut self, product_arn: &str, id: &str, account: &str, region: &str) {
        self.findings.insert(
            (product_arn.to_string(), id.to_string()),
            (account.to_string(), region.to_string()),
        );
    }

    /// `admin` is the Security Hub administrator of `member`.
    pub fn register_administrator(&mut self, admin: &str, member: &str) {
        self.administrators.insert(member.to_string(), admin.to_string());
    }

    /// The account an access key acts in.
    pub fn account_of(&self, key: &str) -> &str {
        self.accounts.get(key).map(String::as_str).unwrap_or(DEFAULT_ACCOUNT)
    }

    /// Learns the account of the credentials an STS `AssumeRole` answer hands out.
    pub fn learn_assumed_role(&mut self, request_body: &str, response: &str) {
        let Some(role_arn) = request_body
            .split('&')
            .find_map(|kv| kv.strip_prefix("RoleArn="))
            .map(|v| percent_encoding::percent_decode_str(v).decode_utf8_lossy().into_owned())
        else {
            return;
        };
        let Some(account) = role_arn.split(':').nth(4) else {
            return;
        };
        let key = response
            .split("<AccessKeyId>")
            .nth(1)
            .and_then(|rest| rest.split("</AccessKeyId>").next());
        if let Some(key) = key {
            self.register(key, account);
        }
    }

    /// Judges a `BatchImportFindings` request body sent by `caller` to `region`.
    pub fn batch_import_findings(&mut self, body: &[u8], caller: &str, region: &str) -> Decision {
        if body.len() > MAX_REQUEST_BYTES {
            self.violations.push(format!("request of {} bytes", body.len()));
            return Decision::Answer {
                status: 413,
                body: json!({"__type": "InvalidInputException", "Message": "request larger than 6 MB"}),
            };
        }
        let Ok(mut request) = serde_json::from_slice::<Value>(body) else {
            return Decision::Forward;
        };
        let findings = request["Findings"].as_array().cloned().unwrap_or_default();
        if findings.len() > MAX_FINDINGS_PER_REQUEST {
            self.violations
                .push(format!("{} findings in one request", findings.len()));
            return Decision::Answer {
                status: 400,
                body: json!({"__type": "InvalidInputException",
                             "Message": format!("Findings: {} members, at most {MAX_FINDINGS_PER_REQUEST}", findings.len())}),
            };
        }
        let mut kept = Vec::new();
        let mut refused = Vec::new();
        let mut ignored = 0usize;
        for f in findings {
            let id = f["Id"].as_str().unwrap_or_default().to_string();
            let product = f["ProductArn"].as_str().unwrap_or_default().to_string();
            let size = serde_json::to_vec(&f).map(|b| b.len()).unwrap_or(0);
            let parts: Vec<&str> = product.splitn(6, ':').collect();
            let default_product = parts.len() == 6 && parts[5].ends_with("/default");
            let owner = f["AwsAccountId"].as_str().unwrap_or_default();
            if size > MAX_FINDING_BYTES {
                self.violations.push(format!("{id}: {size} bytes"));
                refused.push(failed(
                    &id,
                    "InvalidInput",
                    format!("finding of {size} bytes, at most 240 KB"),
                ));
                continue;
            }
            if default_product && (owner != caller || parts[4] != caller || parts[3] != region) {
                self.violations.push(format!(
                    "{id}: account {owner} / product {product} imported by {caller} in {region}"
                ));
                refused.push(failed(
                    &id,
                    "AccessDeniedException",
                    format!("account {caller} in {region} cannot import findings of {owner} for {product}"),
                ));
                continue;
            }
            let updated = f["UpdatedAt"]
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
            let key = (product.clone(), id.clone());
            match (updated, self.updated_at.get(&key)) {
                (Some(new), Some(old)) if new <= *old => {
                    self.violations.push(format!(
                        "{id}: UpdatedAt {new} is not later than the stored {old}: ignored"
                    ));
                    ignored += 1;
                    continue;
                }
                (Some(new), _) => {
                    self.updated_at.insert(key, new);
                }
                (None, _) => {}
            }
            self.findings
                .insert((product, id), (owner.to_string(), region.to_string()));
            kept.push(f);
        }
        if refused.is_empty() && ignored == 0 {
            return Decision::Forward;
        }
        if kept.is_empty() {
            return Decision::Answer {
                status: 200,
                body: json!({"FailedCount": refused.len(), "SuccessCount": ignored, "FailedFindings": refused}),
            };
        }
        request["Findings"] = Value::Array(kept);
        Decision::Rewrite {
            body: serde_json::to_vec(&request).unwrap_or_default(),
            failed: refused,
        }
    }
}

impl Contract {
    /// Judges and answers a `BatchUpdateFindings` request body sent by `caller` to `region`
    /// (moto has no such operation: the answer is always the proxy's).
    pub fn batch_update_findings(&mut self, body: &[u8], caller: &str, region: &str) -> Decision {
        let invalid = |message: String| Decision::Answer {
            status: 400,
            body: json!({"__type": "InvalidInputException", "Message": message}),
        };
        let Ok(request) = serde_json::from_slice::<Value>(body) else {
            return invalid("request body is not JSON".into());
        };
        let identifiers = request["FindingIdentifiers"].as_array().cloned().unwrap_or_default();
        if identifiers.is_empty() || identifiers.len() > MAX_FINDINGS_PER_REQUEST {
            self.violations
                .push(format!("BatchUpdateFindings with {} identifiers", identifiers.len()));
            return invalid(format!(
                "FindingIdentifiers: {} members, 1 to {MAX_FINDINGS_PER_REQUEST}",
                identifiers.len()
            ));
        }
        let note = request["Note"]["Text"].as_str().map(str::to_string);
        let updated_by = request["Note"]["UpdatedBy"].as_str().map(str::to_string);
        if note.as_ref().is_some_and(|t| t.chars().count() > MAX_NOTE_TEXT)
            || updated_by
                .as_ref()
                .is_some_and(|t| t.chars().count() > MAX_NOTE_UPDATED_BY)
        {
            self.violations.push("BatchUpdateFindings note too long".into());
            return invalid(format!(
                "Note: Text at most {MAX_NOTE_TEXT} characters, UpdatedBy at most {MAX_NOTE_UPDATED_BY}"
            ));
        }
        let workflow = request["Workflow"]["Status"].as_str().map(str::to_string);
        let mut processed = Vec::new();
        let mut unprocessed = Vec::new();
        for ident in identifiers {
            let id = ident["Id"].as_str().unwrap_or_default().to_string();
            let product = ident["ProductArn"].as_str().unwrap_or_default().to_string();
            let refuse = |code: &str, message: String| {
                json!({"FindingIdentifier": {"Id": id, "ProductArn": product},
                       "ErrorCode": code, "ErrorMessage": message})
            };
            let held = self
                .findings
                .get(&(product.clone(), id.clone()))
                .filter(|(_, r)| r == region)
                .cloned();
            let Some((owner, _)) = held else {
                self.violations
                    .push(format!("{id}: BatchUpdateFindings in {region}: no such finding there"));
                unprocessed.push(refuse(
                    "FindingNotFound",
                    format!("no finding {id} of {product} in {region}"),
                ));
                continue;
            };
            let administers = self.administrators.get(&owner).is_some_and(|a| a == caller);
            if owner != caller && !administers {
                self.violations.push(format!(
                    "{id}: BatchUpdateFindings by {caller} on a finding of {owner}, not its administrator"
                ));
                unprocessed.push(refuse(
                    "AccessDeniedException",
                    format!("account {caller} cannot update findings of account {owner}"),
                ));
                continue;
            }
            self.updates.push(FindingUpdate {
                id: id.clone(),
                product_arn: product.clone(),
                by_account: caller.to_string(),
                region: region.to_string(),
                workflow: workflow.clone(),
                note: note.clone(),
                updated_by: updated_by.clone(),
            });
            processed.push(json!({"Id": id, "ProductArn": product}));
        }
        Decision::Answer {
            status: 200,
            body: json!({"ProcessedFindings": processed, "UnprocessedFindings": unprocessed}),
        }
    }
}

/// moto's AWS Config answers (`BatchGetResourceConfig`, `GetResourceConfigHistory`) write
/// timestamps as `"2026-12-06 16:42:36.722797"`; AWS Config's JSON protocol (awsJson1_1) sends
/// epoch seconds, and the SDK refuses anything else. The proxy rewrites them as AWS sends them.
/// `None` when nothing needed rewriting.
pub fn config_timestamps(body: &[u8]) -> Option<Vec<u8>> {
    fn fix(v: &mut Value) -> bool {
        match v {
            Value::Object(map) => {
                let mut changed = false;
                for (k, x) in map.iter_mut() {
                    if let (true, Some(s)) = (k.ends_with("Time"), x.as_str()) {
                        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f") {
                            *x = json!(t.and_utc().timestamp_millis() as f64 / 1000.0);
                            changed = true;
                            continue;
                        }
                    }
                    changed |= fix(x);
                }
                changed
            }
            Value::Array(items) => items.iter_mut().fold(false, |c, x| fix(x) | c),
            _ => false,
        }
    }
    let mut v: Value = serde_json::from_slice(body).ok()?;
    fix(&mut v).then(|| serde_json::to_vec(&v).unwrap_or_default())
}

/// Security Hub `GetFindings` filters (API Reference, GetFindings `Filters`): "You can filter by up
/// to 10 finding attributes. For each attribute, you can provide up to 20 filter values";
/// `MaxResults` 1–100.
pub const MAX_FILTER_ATTRIBUTES: usize = 10;
pub const MAX_FILTER_VALUES: usize = 20;

/// The finding attributes whose `EQUALS` filters the proxy applies (moto ignores `Filters`), and
/// where each is in a finding.
const FILTERABLE: &[(&str, &str)] = &[
    ("Id", "/Id"),
    ("ProductArn", "/ProductArn"),
    ("GeneratorId", "/GeneratorId"),
    ("AwsAccountId", "/AwsAccountId"),
    ("ComplianceStatus", "/Compliance/Status"),
    ("WorkflowStatus", "/Workflow/Status"),
    ("RecordState", "/RecordState"),
];

impl Contract {
    /// Judges a `GetFindings` request before it reaches moto: `Some(answer)` refuses it as AWS
    /// would (too many attributes or values, `MaxResults` out of range, a filter the proxy does
    /// not model).
    pub fn get_findings_request(&mut self, body: &[u8]) -> Option<Decision> {
        let request: Value = serde_json::from_slice(body).unwrap_or_else(|_| json!({}));
        let invalid = |message: String| Decision::Answer {
            status: 400,
            body: json!({"__type": "InvalidInputException", "Message": message}),
        };
        let filters = request["Filters"].as_object().cloned().unwrap_or_default();
        if filters.len() > MAX_FILTER_ATTRIBUTES {
            self.violations
                .push(format!("GetFindings with {} filter attributes", filters.len()));
            return Some(invalid(format!("at most {MAX_FILTER_ATTRIBUTES} filter attributes")));
        }
        for (name, values) in &filters {
            let count = values.as_array().map_or(0, Vec::len);
            if count > MAX_FILTER_VALUES {
                self.violations
                    .push(format!("GetFindings filter {name} with {count} values"));
                return Some(invalid(format!("{name}: at most {MAX_FILTER_VALUES} filter values")));
            }
            let modelled = FILTERABLE.iter().any(|(n, _)| n == name)
                && values
                    .as_array()
                    .into_iter()
                    .flatten()
                    .all(|f| f["Comparison"] == "EQUALS");
            if !modelled {
                self.violations
                    .push(format!("GetFindings filter {name} is not modelled by the test proxy"));
                return Some(invalid(format!("the test proxy does not model the filter {name}")));
            }
        }
        match request["MaxResults"].as_u64() {
            Some(n) if !(1..=100).contains(&n) => {
                self.violations.push(format!("GetFindings MaxResults {n}"));
                Some(invalid("MaxResults must be a number between 1 and 100".into()))
            }
            _ => None,
        }
    }

    /// moto's `GetFindings` answer as Security Hub would give it: each finding's workflow status
    /// is the latest one `BatchUpdateFindings` set (moto never sees those), and the request's
    /// filters are applied (`EQUALS`: any value of an attribute, every attribute).
    pub fn get_findings_answer(&self, request: &[u8], answer: &[u8]) -> Option<Vec<u8>> {
        let request: Value = serde_json::from_slice(request).unwrap_or_else(|_| json!({}));
        let mut answer: Value = serde_json::from_slice(answer).ok()?;
        let findings = answer["Findings"].as_array_mut()?;
        for f in findings.iter_mut() {
            let key = (
                f["ProductArn"].as_str().unwrap_or_default().to_string(),
                f["Id"].as_str().unwrap_or_default().to_string(),
            );
            let latest = self
                .updates
                .iter()
                .rev()
                .find(|u| u.product_arn == key.0 && u.id == key.1)
                .and_then(|u| u.workflow.clone());
            // Security Hub makes an imported finding ACTIVE unless the provider says otherwise
            // (ASFF `RecordState`); moto leaves the field out.
            if f.pointer("/RecordState").is_none() {
                f["RecordState"] = json!("ACTIVE");
            }
            if let Some(status) = latest {
                f["Workflow"] = json!({"Status": status});
            } else if f.pointer("/Workflow/Status").is_none() {
                f["Workflow"] = json!({"Status": "NEW"});
            }
        }
        let filters = request["Filters"].as_object().cloned().unwrap_or_default();
        findings.retain(|f| {
            filters.iter().all(|(name, values)| {
                let Some((_, path)) = FILTERABLE.iter().find(|(n, _)| n == name) else {
                    return true;
                };
                let have = f.pointer(path).and_then(Value::as_str).unwrap_or_default();
                values
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|v| v["Value"].as_str() == Some(have))
            })
        });
        serde_json::to_vec(&answer).ok()
    }
}

/// IAM `GetAccountAuthorizationDetails` pages its answer (IAM API Reference: `MaxItems` 1–1000,
/// default 100; `IsTruncated` and `Marker` say where the next page starts); moto answers every
/// item at once. The proxy cuts moto's answer into AWS's pages: the items of the user, group,
/// role and policy lists, in that order, from the request's `Marker` (one the proxy issued,
/// `proxy-<offset>`), at most `MaxItems` of them. `None` when the answer is not one to page.
pub fn paginate_authorization_details(request_body: &str, answer: &[u8]) -> Option<Vec<u8>> {
    let param = |name: &str| {
        request_body
            .split('&')
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .map(|v| percent_encoding::percent_decode_str(v).decode_utf8_lossy().into_owned())
    };
    let max: usize = param("MaxItems")
        .and_then(|m| m.parse().ok())
        .unwrap_or(100)
        .clamp(1, 1000);
    let offset: usize = param("Marker")
        .and_then(|m| m.strip_prefix("proxy-").and_then(|o| o.parse().ok()))
        .unwrap_or(0);
    let text = String::from_utf8_lossy(answer).into_owned();
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    let mut index = 0usize;
    for list in ["UserDetailList", "GroupDetailList", "RoleDetailList", "Policies"] {
        let (open, close) = (format!("<{list}>"), format!("</{list}>"));
        let (Some(a), Some(b)) = (rest.find(&open), rest.find(&close)) else {
            continue;
        };
        let inner = &rest[a + open.len()..b];
        out.push_str(&rest[..a + open.len()]);
        // The list's own <member> elements (items nest <member>s of their own).
        let (mut depth, mut start, mut i) = (0usize, 0usize, 0usize);
        while i < inner.len() {
            if inner[i..].starts_with("<member>") {
                if depth == 0 {
                    start = i;
                }
                depth += 1;
                i += "<member>".len();
            } else if inner[i..].starts_with("</member>") {
                depth = depth.saturating_sub(1);
                i += "</member>".len();
                if depth == 0 {
                    if (offset..offset + max).contains(&index) {
                        out.push_str(&inner[start..i]);
                    }
                    index += 1;
                }
            } else {
                i += inner[i..].chars().next().map_or(1, char::len_utf8);
            }
        }
        out.push_str(&close);
        rest = &rest[b + close.len()..];
    }
    out.push_str(rest);
    let truncated = index > offset + max;
    let marker = if truncated {
        format!("<IsTruncated>true</IsTruncated><Marker>proxy-{}</Marker>", offset + max)
    } else {
        "<IsTruncated>false</IsTruncated>".to_string()
    };
    Some(out.replace("<IsTruncated>false</IsTruncated>", &marker).into_bytes())
}

/// The answer moto gave to a rewritten request, with the findings the contract refused added.
pub fn merge_failed(answer: &[u8], failed: &[Value]) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(answer).unwrap_or_else(|_| json!({}));
    let count = v["FailedCount"].as_u64().unwrap_or(0) + failed.len() as u64;
    let mut list = v["FailedFindings"].as_array().cloned().unwrap_or_default();
    list.extend(failed.iter().cloned());
    v["FailedCount"] = count.into();
    v["FailedFindings"] = Value::Array(list);
    serde_json::to_vec(&v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(id: &str, account: &str, updated: &str) -> Value {
        json!({"Id": id, "AwsAccountId": account, "UpdatedAt": updated,
               "ProductArn": format!("arn:aws:securityhub:us-east-1:{account}:product/{account}/default")})
    }

    fn body(findings: Vec<Value>) -> Vec<u8> {
        serde_json::to_vec(&json!({ "Findings": findings })).unwrap()
    }

    #[test]
    fn stale_updates_are_ignored_and_later_ones_pass() {
        let mut c = Contract::default();
        let a = "111111111111";
        let first = body(vec![finding("f", a, "2026-12-01T10:00:00.000Z")]);
        assert_eq!(c.batch_import_findings(&first, a, "us-east-1"), Decision::Forward);
        let same = c.batch_import_findings(&first, a, "us-east-1");
        assert!(matches!(same, Decision::Answer { status: 200, .. }), "{same:?}");
        let later = body(vec![finding("f", a, "2026-12-01T10:00:00.001Z")]);
        assert_eq!(c.batch_import_findings(&later, a, "us-east-1"), Decision::Forward);
    }

    #[test]
    fn other_accounts_regions_and_sizes_are_refused() {
        let mut c = Contract::default();
        let mine = "111111111111";
        let d = c.batch_import_findings(
            &body(vec![finding("x", "222222222222", "2026-12-01T10:00:00Z")]),
            mine,
            "us-east-1",
        );
        assert!(
            matches!(d, Decision::Answer { ref body, .. } if body["FailedCount"] == 1),
            "{d:?}"
        );
        let d = c.batch_import_findings(
            &body(vec![finding("y", mine, "2026-12-01T10:00:00Z")]),
            mine,
            "eu-west-1",
        );
        assert!(
            matches!(d, Decision::Answer { ref body, .. } if body["FailedCount"] == 1),
            "{d:?}"
        );
        let mut big = finding("z", mine, "2026-12-01T10:00:00Z");
        big["Description"] = "x".repeat(MAX_FINDING_BYTES).into();
        let ok = finding("w", mine, "2026-12-01T10:00:00Z");
        let d = c.batch_import_findings(&body(vec![big, ok]), mine, "us-east-1");
        assert!(
            matches!(d, Decision::Rewrite { ref failed, .. } if failed.len() == 1),
            "{d:?}"
        );
        let many: Vec<Value> = (0..101)
            .map(|i| finding(&i.to_string(), mine, "2026-12-01T10:00:00Z"))
            .collect();
        assert!(matches!(
            c.batch_import_findings(&body(many), mine, "us-east-1"),
            Decision::Answer { status: 400, .. }
        ));
    }

    fn update(ids: &[(&str, &str)], note: &str) -> Vec<u8> {
        let idents: Vec<Value> = ids.iter().map(|(id, p)| json!({"Id": id, "ProductArn": p})).collect();
        serde_json::to_vec(&json!({"FindingIdentifiers": idents,
            "Note": {"Text": note, "UpdatedBy": "compliance-responder"},
            "Workflow": {"Status": "RESOLVED"}}))
        .unwrap()
    }

    fn unprocessed(d: &Decision) -> Vec<String> {
        match d {
            Decision::Answer { status: 200, body } => body["UnprocessedFindings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["ErrorCode"].as_str().unwrap().to_string())
                .collect(),
            other => panic!("{other:?}"),
        }
    }

    /// BatchUpdateFindings: a member account updates only its own findings, its administrator
    /// its members' too; a finding is found only in its own region.
    #[test]
    fn findings_are_updated_by_their_account_or_its_administrator_in_their_region() {
        let (member, admin, other) = ("222222222222", "111111111111", "333333333333");
        let gd = "arn:aws:securityhub:eu-west-1::product/aws/guardduty";
        let id = "arn:aws:guardduty:eu-west-1:222222222222:detector/d/finding/f";
        let mut c = Contract::default();
        c.seed_finding(gd, id, member, "eu-west-1");
        c.register_administrator(admin, member);
        let req = update(&[(id, gd)], "contained");
        assert!(unprocessed(&c.batch_update_findings(&req, member, "eu-west-1")).is_empty());
        assert!(unprocessed(&c.batch_update_findings(&req, admin, "eu-west-1")).is_empty());
        assert_eq!(
            unprocessed(&c.batch_update_findings(&req, other, "eu-west-1")),
            ["AccessDeniedException"]
        );
        assert_eq!(
            unprocessed(&c.batch_update_findings(&req, member, "us-east-1")),
            ["FindingNotFound"]
        );
        assert_eq!(c.updates.len(), 2);
        assert_eq!(c.updates[0].by_account, member);
        assert_eq!(c.updates[0].workflow.as_deref(), Some("RESOLVED"));
        assert_eq!(c.violations.len(), 2, "{:?}", c.violations);
    }

    #[test]
    fn findings_imported_through_the_proxy_can_be_updated_by_their_account() {
        let mut c = Contract::default();
        let a = "111111111111";
        let f = finding("mine", a, "2026-12-01T10:00:00Z");
        let product = f["ProductArn"].as_str().unwrap().to_string();
        assert_eq!(
            c.batch_import_findings(&body(vec![f]), a, "us-east-1"),
            Decision::Forward
        );
        let d = c.batch_update_findings(&update(&[("mine", &product)], "ok"), a, "us-east-1");
        assert!(unprocessed(&d).is_empty(), "{d:?}");
    }

    #[test]
    fn oversized_update_requests_are_refused_whole() {
        let mut c = Contract::default();
        let gd = "arn:aws:securityhub:us-east-1::product/aws/guardduty";
        c.seed_finding(gd, "f", "111111111111", "us-east-1");
        let long = update(&[("f", gd)], &"x".repeat(MAX_NOTE_TEXT + 1));
        assert!(matches!(
            c.batch_update_findings(&long, "111111111111", "us-east-1"),
            Decision::Answer { status: 400, .. }
        ));
        let ids: Vec<(String, &str)> = (0..101).map(|i| (i.to_string(), gd)).collect();
        let ids: Vec<(&str, &str)> = ids.iter().map(|(i, p)| (i.as_str(), *p)).collect();
        assert!(matches!(
            c.batch_update_findings(&update(&ids, "n"), "111111111111", "us-east-1"),
            Decision::Answer { status: 400, .. }
        ));
        assert!(matches!(
            c.batch_update_findings(&update(&[], "n"), "111111111111", "us-east-1"),
            Decision::Answer { status: 400, .. }
        ));
        assert!(c.updates.is_empty());
    }

    /// GetFindings: limits refused as AWS refuses them; moto's answer filtered and given the
    /// workflow status BatchUpdateFindings set.
    #[test]
    fn get_findings_applies_filters_and_the_updated_workflow_status() {
        let mut c = Contract::default();
        let p = "arn:aws:securityhub:us-east-1:111122223333:product/111122223333/default";
        c.seed_finding(p, "a", "111122223333", "us-east-1");
        c.seed_finding(p, "b", "111122223333", "us-east-1");
        let mut u = update(&[("a", p)], "not ours to fix");
        u = String::from_utf8(u)
            .unwrap()
            .replace("RESOLVED", "SUPPRESSED")
            .into_bytes();
        assert!(unprocessed(&c.batch_update_findings(&u, "111122223333", "us-east-1")).is_empty());
        let eq = |v: &str| json!({"Value": v, "Comparison": "EQUALS"});
        let ask = serde_json::to_vec(&json!({"Filters": {
            "Id": [eq("a"), eq("b")], "WorkflowStatus": [eq("SUPPRESSED")], "ProductArn": [eq(p)]}}))
        .unwrap();
        assert_eq!(c.get_findings_request(&ask), None);
        let moto = serde_json::to_vec(&json!({"Findings": [
            {"Id": "a", "ProductArn": p}, {"Id": "b", "ProductArn": p}, {"Id": "c", "ProductArn": p}]}))
        .unwrap();
        let answer: Value = serde_json::from_slice(&c.get_findings_answer(&ask, &moto).unwrap()).unwrap();
        let ids: Vec<&str> = answer["Findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["Id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["a"]);
        assert_eq!(answer["Findings"][0]["Workflow"]["Status"], "SUPPRESSED");

        let many: Vec<Value> = (0..21).map(|i| eq(&i.to_string())).collect();
        let too_many = serde_json::to_vec(&json!({"Filters": {"Id": many}})).unwrap();
        assert!(matches!(
            c.get_findings_request(&too_many),
            Some(Decision::Answer { status: 400, .. })
        ));
        let unmodelled = serde_json::to_vec(&json!({"Filters": {"Title": [eq("x")]}})).unwrap();
        assert!(matches!(
            c.get_findings_request(&unmodelled),
            Some(Decision::Answer { status: 400, .. })
        ));
        let big = serde_json::to_vec(&json!({"MaxResults": 101})).unwrap();
        assert!(matches!(
            c.get_findings_request(&big),
            Some(Decision::Answer { status: 400, .. })
        ));
    }

    #[test]
    fn authorization_details_come_in_pages_of_max_items() {
        let answer =
            "<R><UserDetailList><member><UserName>a</UserName><GroupList><member>g</member></GroupList></member>\
<member><UserName>b</UserName></member></UserDetailList><GroupDetailList><member><GroupName>g</GroupName></member>\
</GroupDetailList><RoleDetailList/><Policies></Policies><IsTruncated>false</IsTruncated></R>";
        let page =
            |body: &str| String::from_utf8(paginate_authorization_details(body, answer.as_bytes()).unwrap()).unwrap();
        let first = page("Action=GetAccountAuthorizationDetails&MaxItems=2");
        assert!(
            first.contains("<UserName>a</UserName><GroupList><member>g</member></GroupList>"),
            "{first}"
        );
        assert!(
            first.contains("<UserName>b</UserName>") && !first.contains("<GroupName>g</GroupName>"),
            "{first}"
        );
        assert!(
            first.contains("<IsTruncated>true</IsTruncated><Marker>proxy-2</Marker>"),
            "{first}"
        );
        let second = page("Action=GetAccountAuthorizationDetails&MaxItems=2&Marker=proxy-2");
        assert!(
            second.contains("<GroupName>g</GroupName>") && !second.contains("<UserName>"),
            "{second}"
        );
        assert!(second.contains("<IsTruncated>false</IsTruncated>"), "{second}");
        let all = page("Action=GetAccountAuthorizationDetails");
        assert!(
            all.contains("<UserName>b</UserName>") && all.contains("<GroupName>g</GroupName>"),
            "{all}"
        );
    }

    #[test]
    fn config_timestamps_are_sent_as_epoch_seconds() {
        let body = br#"{"baseConfigurationItems":[{"configurationItemCaptureTime":"2026-12-06 16:42:36.5","resourceName":"x"}]}"#;
        let fixed: Value = serde_json::from_slice(&config_timestamps(body).unwrap()).unwrap();
        let t = fixed["baseConfigurationItems"][0]["configurationItemCaptureTime"]
            .as_f64()
            .unwrap();
        assert_eq!(t, 1_796_575_356.5);
        assert_eq!(config_timestamps(br#"{"a":1}"#), None);
    }

    #[test]
    fn assumed_role_keys_are_learned() {
        let mut c = Contract::default();
        c.learn_assumed_role(
            "Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A210987654321%3Arole%2Fr&RoleSessionName=s",
            "<AssumeRoleResponse><Credentials><AccessKeyId>ASIAEXAMPLE</AccessKeyId></Credentials></AssumeRoleResponse>",
        );
        assert_eq!(c.account_of("ASIAEXAMPLE"), "210987654321");
        assert_eq!(c.account_of("testing"), DEFAULT_ACCOUNT);
    }
}
