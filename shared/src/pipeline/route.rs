//! Stage: route. Where a finding's work happens: the ports of its account and region (a member
//! account's through the member role of the fix's capability), the region its findings are
//! recorded in, and whether the event is the responder's own change.

use super::*;

impl Responder {
    /// The region a finding about `finding` is recorded in: `SECURITY_HUB_REGION` when set;
    /// for IAM (global) one region whatever region reported it (`GLOBAL_FINDINGS_REGION`, by
    /// default the partition's IAM region); otherwise the event's region.
    pub fn record_region(&self, finding: &Finding) -> String {
        if let Some(r) = &self.config.security_hub_region {
            return r.clone();
        }
        if finding.subject.is_global() {
            return self
                .config
                .global_findings_region
                .clone()
                .unwrap_or_else(|| crate::finding::iam_region(&finding.partition).to_string());
        }
        finding.region.clone()
    }

    /// The ports of `account` in `region`.
    pub(super) async fn ports_in(&self, finding: &Finding, region: &str) -> Result<Ports, crate::error::AwsError> {
        self.ports_as(finding, region, finding.subject.capability()).await
    }

    /// The ports of `account` in `region` for a write of `capability` (a member account's
    /// through that capability's member role).
    pub(super) async fn ports_as(
        &self,
        finding: &Finding,
        region: &str,
        capability: crate::finding::Capability,
    ) -> Result<Ports, crate::error::AwsError> {
        let Some(directory) = &self.directory else {
            return Ok(self.ports.clone());
        };
        Ok(directory
            .ports(
                &finding.account,
                region,
                &finding.partition,
                &finding.event_id,
                capability,
            )
            .await?
            .unwrap_or_else(|| self.ports.clone()))
    }

    /// Where a finding is recorded: the findings port of its account in [`Self::record_region`],
    /// and that region.
    pub(crate) async fn record_port(
        &self,
        finding: &Finding,
    ) -> Result<(std::sync::Arc<dyn crate::adapters::FindingsPort>, String), crate::error::AwsError> {
        let region = self.record_region(finding);
        Ok((self.ports_in(finding, &region).await?.findings, region))
    }

    /// The ports a finding's reads and writes use (its account and region).
    pub(crate) async fn route_ports(&self, finding: &Finding) -> Result<Ports, crate::error::AwsError> {
        self.ports_in(finding, &finding.region).await
    }

    /// Where the finding's work happens: reads and writes in its account and region, records in
    /// its account and [`Self::record_region`].
    pub(super) async fn route(&self, finding: &Finding) -> Result<Route, crate::error::AwsError> {
        let ports = self.ports_in(finding, &finding.region).await?;
        let record_region = self.record_region(finding);
        let record = if record_region == finding.region {
            ports.findings.clone()
        } else {
            self.ports_in(finding, &record_region).await?.findings
        };
        Ok(Route {
            ports,
            record,
            record_region,
        })
    }

    /// Whether the event was caused by the responder itself (its own functions' roles, or the
    /// member roles they assume): its own writes match its own CloudTrail patterns, and must not
    /// re-trigger it.
    pub(super) fn own_change(&self, finding: &Finding) -> Option<String> {
        if finding.source != SourceKind::CloudTrail {
            return None;
        }
        let (account, role) = finding.actor.assumed_role()?;
        let own = self.config.responder_roles.iter().any(|arn| {
            let parts: Vec<&str> = arn.splitn(6, ':').collect();
            parts.len() == 6
                && (parts[4] == account || parts[4] == "*")
                && parts[5]
                    .rsplit('/')
                    .next()
                    .is_some_and(|n| n.eq_ignore_ascii_case(role))
        }) || self.config.member_roles.names().any(|m| m.eq_ignore_ascii_case(role));
        own.then(|| format!("the change was made by the responder's own role {role} in {account}; its own changes do not re-trigger it"))
    }
}
