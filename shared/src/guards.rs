//! Safety guards applied to every fix before it is planned. Pure.
//!
//! - **Protected principals** are never modified, whatever the mode: service-linked roles,
//!   `OrganizationAccountAccessRole`, AWS Control Tower and IAM Identity Center roles, the
//!   responder's own roles, the root user, and the patterns in `PROTECTED_PRINCIPALS`.
//! - **Allow-listed ARNs** (`EXEMPT_ARNS`, wildcards allowed) are reported, never fixed.
//! - **Confused deputy:** a fix whose resource ARN names another account than the event's is
//!   withheld.
//!
//! A withheld fix keeps its finding (the risk is real); its remedy becomes `Manual` with the reason.

use crate::plan::Remedy;
use crate::policy::wildcard_match;
use crate::rules::{Status, Verdict};

/// Principals no configuration can unprotect.
pub const BUILTIN_PROTECTED: &[&str] = &[
    "arn:*:iam::*:root",
    "arn:*:iam::*:role/aws-service-role/*",
    "arn:*:iam::*:role/OrganizationAccountAccessRole",
    "arn:*:iam::*:role/AWSControlTowerExecution",
    "arn:*:iam::*:role/aws-controltower-*",
    "arn:*:iam::*:role/service-role/AWSControlTower*",
    "arn:*:iam::*:role/aws-reserved/sso.amazonaws.com/*",
    "arn:*:iam::*:role/*compliance-responder*",
];

/// The guard settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Guards {
    /// Extra protected principal patterns (`PROTECTED_PRINCIPALS`).
    pub protected: Vec<String>,
    /// ARN patterns that are reported but never fixed (`EXEMPT_ARNS`).
    pub exempt_arns: Vec<String>,
}

/// The account an ARN names, if any (`arn:partition:service:region:account:...`).
fn account_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

impl Guards {
    /// Why a fix touching `arn` must not be made, if it must not.
    pub fn withhold(&self, arn: &str, account: &str) -> Option<String> {
        if let Some(p) = BUILTIN_PROTECTED
            .iter()
            .copied()
            .chain(self.protected.iter().map(String::as_str))
            .find(|p| wildcard_match(p, arn))
        {
            return Some(format!("{arn} is a protected principal ({p})"));
        }
        if let Some(p) = self.exempt_arns.iter().find(|p| wildcard_match(p, arn)) {
            return Some(format!("{arn} is exempt by EXEMPT_ARNS ({p})"));
        }
        match account_of(arn) {
            Some(a) if a != account && a != "aws" => Some(format!(
                "{arn} belongs to account {a}, but the event came from {account}: nothing is written across accounts"
            )),
            _ => None,
        }
    }

    /// Withholds the fixes of verdicts that touch a guarded resource.
    pub fn apply(&self, verdicts: &mut [Verdict], account: &str) {
        for v in verdicts.iter_mut() {
            if v.status != Status::NonCompliant || !matches!(v.remedy, Remedy::Edit { .. } | Remedy::Apply { .. }) {
                continue;
            }
            let reason = v
                .resources
                .iter()
                .filter(|r| r.arn.starts_with("arn:"))
                .find_map(|r| self.withhold(&r.arn, account));
            if let Some(reason) = reason {
                v.summary = format!("{} — not fixed: {reason}", v.summary);
                v.remedy = Remedy::Manual { reason };
                v.needs_review = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protected_exempt_and_foreign() {
        let g = Guards {
            protected: vec!["arn:aws:iam::*:role/break-glass-*".into()],
            exempt_arns: vec!["arn:aws:s3:::legacy-*".into()],
        };
        let acct = "123456789012";
        for arn in [
            "arn:aws:iam::123456789012:role/aws-service-role/elasticloadbalancing.amazonaws.com/AWSServiceRoleForElasticLoadBalancing",
            "arn:aws:iam::123456789012:role/OrganizationAccountAccessRole",
            "arn:aws:iam::123456789012:role/aws-controltower-AdministratorExecutionRole",
            "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0a1b",
            "arn:aws:iam::123456789012:role/compliance-responder-GuardDutyResponderRole-1X2Y",
            "arn:aws:iam::123456789012:role/break-glass-admin",
            "arn:aws:iam::123456789012:root",
        ] {
            assert!(g.withhold(arn, acct).unwrap().contains("protected"), "{arn}");
        }
        assert!(g
            .withhold("arn:aws:s3:::legacy-logs", acct)
            .unwrap()
            .contains("EXEMPT_ARNS"));
        assert!(g
            .withhold("arn:aws:iam::999999999999:user/alice", acct)
            .unwrap()
            .contains("across accounts"));
        for ok in [
            "arn:aws:iam::123456789012:user/alice",
            "arn:aws:iam::aws:policy/AdministratorAccess",
            "arn:aws:s3:::team-data",
            "arn:aws:iam::123456789012:role/app-service-role-x",
        ] {
            assert_eq!(g.withhold(ok, acct), None, "{ok}");
        }
    }
}
