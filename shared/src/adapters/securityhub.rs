//! [`FindingsPort`] over `aws-sdk-securityhub` (`BatchImportFindings`, `BatchUpdateFindings`,
//! `GetFindings`).

use super::{FindingsPort, SourceFindingNote};
use crate::asff::AsffFinding;
use crate::error::AwsError;
use async_trait::async_trait;
use aws_sdk_securityhub::types::{
    AwsSecurityFinding, Compliance, ComplianceStatus, Recommendation, Remediation, Resource, Severity, SeverityLabel,
};
use aws_sdk_securityhub::Client;

/// `BatchImportFindings` takes at most 100 findings per request (Security Hub API Reference).
pub const MAX_FINDINGS_PER_IMPORT: usize = 100;
/// Sends of one finding that Security Hub refused (`FailedFindings`), the first included.
pub const IMPORT_ATTEMPTS: usize = 3;
/// `GetFindings` filters: "For each attribute, you can provide up to 20 filter values"
/// (Security Hub API Reference, GetFindings `Filters`).
pub const MAX_FILTER_VALUES: usize = 20;

/// Security Hub through the AWS SDK. Cheap to clone; build once per process.
#[derive(Clone, Debug)]
pub struct AwsSecurityHub {
    client: Client,
}

impl AwsSecurityHub {
    pub fn new(client: Client) -> Self {
        AwsSecurityHub { client }
    }
}

fn to_sdk(f: &AsffFinding) -> AwsSecurityFinding {
    let mut b = AwsSecurityFinding::builder()
        .schema_version(&f.schema_version)
        .id(&f.id)
        .product_arn(&f.product_arn)
        .generator_id(&f.generator_id)
        .aws_account_id(&f.aws_account_id)
        .region(&f.region)
        .created_at(&f.created_at)
        .updated_at(&f.updated_at)
        .severity(
            Severity::builder()
                .label(SeverityLabel::from(f.severity_label.as_str()))
                .build(),
        )
        .title(&f.title)
        .description(&f.description)
        .compliance(
            Compliance::builder()
                .status(ComplianceStatus::from(f.compliance_status.as_str()))
                .build(),
        )
        .remediation(
            Remediation::builder()
                .recommendation(
                    Recommendation::builder()
                        .text(&f.recommendation_text)
                        .url(&f.recommendation_url)
                        .build(),
                )
                .build(),
        )
        .set_product_fields(Some(f.product_fields.clone().into_iter().collect()));
    for t in &f.types {
        b = b.types(t);
    }
    for r in &f.resources {
        b = b.resources(
            Resource::builder()
                .r#type(&r.resource_type)
                .id(&r.id)
                .partition(aws_sdk_securityhub::types::Partition::from(r.partition.as_str()))
                .region(&r.region)
                .build(),
        );
    }
    b.build()
}

impl AwsSecurityHub {
    /// One page of `GetFindings`. The answer is whole ASFF findings, whose deserializer (hundreds
    /// of resource detail types) takes a very large stack frame in debug builds: the call runs as
    /// its own task, polled from the runtime's loop rather than at the bottom of the pipeline's
    /// futures.
    async fn findings_page(
        &self,
        filters: aws_sdk_securityhub::types::AwsSecurityFindingFilters,
        token: Option<String>,
        about: &str,
    ) -> Result<aws_sdk_securityhub::operation::get_findings::GetFindingsOutput, AwsError> {
        let call = self
            .client
            .get_findings()
            .filters(filters)
            .max_results(100)
            .set_next_token(token)
            .send();
        tokio::spawn(call)
            .await
            .map_err(|e| AwsError {
                service: "securityhub",
                operation: "GetFindings",
                resource: about.to_string(),
                code: "TaskFailed".into(),
                message: e.to_string(),
                retryable: true,
            })?
            .map_err(|e| AwsError::from_sdk("securityhub", "GetFindings", about, &e))
    }
}

#[async_trait]
impl FindingsPort for AwsSecurityHub {
    /// Imports `findings` in requests of at most [`MAX_FINDINGS_PER_IMPORT`]. Findings Security Hub
    /// refuses (`FailedFindings`) are sent again, alone, up to [`IMPORT_ATTEMPTS`] times in all;
    /// those accepted are never sent twice. Any still refused make the import fail, naming each.
    async fn import(&self, findings: &[AsffFinding]) -> Result<(), AwsError> {
        let mut refused = Vec::new();
        for chunk in findings.chunks(MAX_FINDINGS_PER_IMPORT) {
            let mut pending: Vec<&AsffFinding> = chunk.iter().collect();
            for attempt in 1..=IMPORT_ATTEMPTS {
                let ids = pending.iter().map(|f| f.id.as_str()).collect::<Vec<_>>().join(",");
                let out = self
                    .client
                    .batch_import_findings()
                    .set_findings(Some(pending.iter().map(|f| to_sdk(f)).collect()))
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("securityhub", "BatchImportFindings", &ids, &e))?;
                let failed = out.failed_findings.unwrap_or_default();
                if failed.is_empty() {
                    break;
                }
                let failed_ids: std::collections::HashSet<&str> =
                    failed.iter().filter_map(|f| f.id.as_deref()).collect();
                pending.retain(|f| failed_ids.contains(f.id.as_str()));
                tracing::warn!(
                    attempt,
                    failed = failed.len(),
                    "Security Hub refused findings; retrying only those"
                );
                if attempt == IMPORT_ATTEMPTS || pending.is_empty() {
                    refused.extend(failed.into_iter().map(|f| {
                        format!(
                            "{}: {} {}",
                            f.id.unwrap_or_default(),
                            f.error_code.unwrap_or_default(),
                            f.error_message.unwrap_or_default()
                        )
                    }));
                    break;
                }
            }
        }
        if refused.is_empty() {
            return Ok(());
        }
        Err(AwsError {
            service: "securityhub",
            operation: "BatchImportFindings",
            resource: findings.iter().map(|f| f.id.as_str()).collect::<Vec<_>>().join(","),
            code: "FailedFindings".into(),
            message: refused.join("; "),
            retryable: false,
        })
    }

    /// `GetFindings` for the ids, [`MAX_FILTER_VALUES`] at a time, filtered by product and by
    /// workflow status `SUPPRESSED` (every page).
    async fn suppressed(
        &self,
        product_arn: &str,
        ids: &[String],
    ) -> Result<std::collections::BTreeSet<String>, AwsError> {
        use aws_sdk_securityhub::types::{AwsSecurityFindingFilters, StringFilter, StringFilterComparison};
        let equals = |v: &str| {
            StringFilter::builder()
                .value(v)
                .comparison(StringFilterComparison::Equals)
                .build()
        };
        let mut out = std::collections::BTreeSet::new();
        for chunk in ids.chunks(MAX_FILTER_VALUES) {
            let filters = AwsSecurityFindingFilters::builder()
                .product_arn(equals(product_arn))
                .workflow_status(equals("SUPPRESSED"))
                .set_id(Some(chunk.iter().map(|id| equals(id)).collect()))
                .build();
            let mut token: Option<String> = None;
            loop {
                let page = self
                    .findings_page(filters.clone(), token.take(), &chunk.join(","))
                    .await?;
                out.extend(
                    page.findings
                        .unwrap_or_default()
                        .into_iter()
                        .filter(|f| chunk.contains(&f.id().unwrap_or_default().to_string()))
                        .filter(|f| f.workflow().and_then(|w| w.status()).map(|s| s.as_str()) == Some("SUPPRESSED"))
                        .filter_map(|f| f.id),
                );
                token = page.next_token.filter(|t| !t.is_empty());
                if token.is_none() {
                    break;
                }
            }
        }
        Ok(out)
    }

    async fn failed(&self, product_arn: &str, account: &str) -> Result<Vec<super::RecordedFinding>, AwsError> {
        use aws_sdk_securityhub::types::{AwsSecurityFindingFilters, StringFilter, StringFilterComparison};
        let equals = |v: &str| {
            StringFilter::builder()
                .value(v)
                .comparison(StringFilterComparison::Equals)
                .build()
        };
        let filters = AwsSecurityFindingFilters::builder()
            .product_arn(equals(product_arn))
            .aws_account_id(equals(account))
            .compliance_status(equals("FAILED"))
            .record_state(equals("ACTIVE"))
            .build();
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self.findings_page(filters.clone(), token.take(), account).await?;
            for f in page.findings.unwrap_or_default() {
                let status = f.compliance().and_then(|c| c.status()).map(|s| s.as_str().to_string());
                if f.product_arn() != Some(product_arn)
                    || f.aws_account_id() != Some(account)
                    || status.as_deref() != Some("FAILED")
                {
                    continue;
                }
                out.push(super::RecordedFinding {
                    id: f.id().unwrap_or_default().to_string(),
                    generator_id: f.generator_id().unwrap_or_default().to_string(),
                    resource_key: f
                        .product_fields()
                        .and_then(|p| p.get("compliance-responder/ResourceKey"))
                        .cloned(),
                    region: f.region().unwrap_or_default().to_string(),
                    resource_region: f.resources().first().and_then(|r| r.region()).map(str::to_string),
                });
            }
            token = page.next_token.filter(|t| !t.is_empty());
            if token.is_none() {
                return Ok(out);
            }
        }
    }

    async fn mark_passed(&self, product_arn: &str, ids: &[String], why: &str) -> Result<usize, AwsError> {
        use aws_sdk_securityhub::types::{
            AwsSecurityFindingFilters, Compliance, ComplianceStatus, StringFilter, StringFilterComparison,
        };
        let equals = |v: &str| {
            StringFilter::builder()
                .value(v)
                .comparison(StringFilterComparison::Equals)
                .build()
        };
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut updated = 0;
        for chunk in ids.chunks(MAX_FILTER_VALUES) {
            let filters = AwsSecurityFindingFilters::builder()
                .product_arn(equals(product_arn))
                .set_id(Some(chunk.iter().map(|id| equals(id)).collect()))
                .build();
            let page = self.findings_page(filters, None, &chunk.join(",")).await?;
            // The finding as it is, but PASSED, later, and saying why: Security Hub keeps one
            // finding per id, so this updates it (the provider owns Compliance; the workflow is
            // the customer's, set through BatchUpdateFindings, and left alone).
            let findings: Vec<_> = page
                .findings
                .unwrap_or_default()
                .into_iter()
                .filter(|f| f.id().is_some_and(|id| chunk.iter().any(|c| c == id)))
                .map(|mut f| {
                    f.compliance = Some(Compliance::builder().status(ComplianceStatus::Passed).build());
                    f.updated_at = Some(now.clone());
                    let fields = f.product_fields.get_or_insert_with(Default::default);
                    fields.insert("compliance-responder/Outcome".into(), "gone".into());
                    fields.insert(
                        "compliance-responder/PassedBecause".into(),
                        crate::asff::truncate(why, 2048),
                    );
                    f.workflow = None;
                    f.note = None;
                    f.user_defined_fields = None;
                    f
                })
                .collect();
            if findings.is_empty() {
                continue;
            }
            let n = findings.len();
            let out = self
                .client
                .batch_import_findings()
                .set_findings(Some(findings))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("securityhub", "BatchImportFindings", chunk.join(","), &e))?;
            if out.failed_count.unwrap_or(0) > 0 {
                return Err(AwsError {
                    service: "securityhub",
                    operation: "BatchImportFindings",
                    resource: chunk.join(","),
                    code: "FailedFindings".into(),
                    message: format!("{} of {n} findings refused", out.failed_count.unwrap_or(0)),
                    retryable: true,
                });
            }
            updated += n;
        }
        Ok(updated)
    }

    async fn annotate(&self, note: &SourceFindingNote) -> Result<(), AwsError> {
        use aws_sdk_securityhub::types::{AwsSecurityFindingIdentifier, NoteUpdate, WorkflowStatus, WorkflowUpdate};
        let identifier = AwsSecurityFindingIdentifier::builder()
            .id(&note.id)
            .product_arn(&note.product_arn)
            .build();
        let text: String = note.text.chars().take(512).collect();
        let out = self
            .client
            .batch_update_findings()
            .finding_identifiers(identifier)
            .note(NoteUpdate::builder().text(text).updated_by(&note.updated_by).build())
            .workflow(
                WorkflowUpdate::builder()
                    .status(WorkflowStatus::from(note.workflow.as_str()))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("securityhub", "BatchUpdateFindings", &note.id, &e))?;
        if let Some(failed) = out.unprocessed_findings.filter(|f| !f.is_empty()) {
            let detail: Vec<String> = failed
                .iter()
                .map(|f| format!("{}: {}", f.error_code().unwrap_or("?"), f.error_message().unwrap_or("")))
                .collect();
            return Err(AwsError {
                service: "securityhub",
                operation: "BatchUpdateFindings",
                resource: note.id.clone(),
                code: "UnprocessedFindings".into(),
                message: detail.join("; "),
                retryable: false,
            });
        }
        Ok(())
    }
}
