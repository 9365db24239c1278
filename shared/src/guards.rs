//! Safety guards applied to every fix before it is planned. Pure.
//!
//! - **Protected principals** are never modified, whatever the mode: service-linked roles,
//!   `OrganizationAccountAccessRole`, AWS Control Tower and IAM Identity Center roles, the root
//!   user, and the patterns in `PROTECTED_PRINCIPALS` (the templates put the responder's own roles
//!   there by their exact ARNs). Patterns match in any letter case and a pattern without a path
//!   matches the name at any IAM path: IAM names are unique in an account whatever their case and
//!   path, so `/x/OrganizationAccountAccessRole` is the one `OrganizationAccountAccessRole`. No
//!   built-in pattern is a substring a role creator could borrow (`evil-compliance-responder-x`
//!   is an ordinary role).
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

/// An IAM user, role, group or policy ARN without its path (`role/a/b/Name` → `role/Name`), when it
/// has one.
fn without_path(arn: &str) -> Option<String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() != 6 || parts[2] != "iam" {
        return None;
    }
    let (kind, rest) = parts[5].split_once('/')?;
    let name = rest.rsplit('/').next()?;
    if !matches!(kind, "user" | "role" | "group" | "policy") || name == rest || name.is_empty() {
        return None;
    }
    Some(format!("{}:{kind}/{name}", parts[..5].join(":")))
}

/// Whether `pattern` names `arn`: wildcards, any letter case, and for IAM principals and policies
/// at any path (see the module docs).
pub fn names(pattern: &str, arn: &str) -> bool {
    wildcard_match(pattern, arn) || without_path(arn).is_some_and(|bare| wildcard_match(pattern, &bare))
}

impl Guards {
    /// Why a fix touching `arn` must not be made, if it must not.
    pub fn withhold(&self, arn: &str, account: &str) -> Option<String> {
        if let Some(p) = BUILTIN_PROTECTED
            .iter()
            .copied()
            .chain(self.protected.iter().map(String::as_str))
            .find(|p| names(p, arn))
        {
            return Some(format!("{arn} is a protected principal ({p})"));
        }
        if let Some(p) = self.exempt_arns.iter().find(|p| names(p, arn)) {
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
            protected: vec![
                "arn:aws:iam::*:role/break-glass-*".into(),
                // The templates pass the responder's own roles by their exact ARNs.
                "arn:aws:iam::123456789012:role/compliance-responder-GuardDutyResponderRole-1X2Y".into(),
            ],
            exempt_arns: vec!["arn:aws:s3:::legacy-*".into()],
        };
        let acct = "123456789012";
        for arn in [
            "arn:aws:iam::123456789012:role/aws-service-role/elasticloadbalancing.amazonaws.com/AWSServiceRoleForElasticLoadBalancing",
            "arn:aws:iam::123456789012:role/OrganizationAccountAccessRole",
            // Any path, any letter case: IAM names are unique in an account regardless of both.
            "arn:aws:iam::123456789012:role/x/OrganizationAccountAccessRole",
            "arn:aws:iam::123456789012:role/team/ops/organizationaccountaccessrole",
            "arn:aws:iam::123456789012:role/deep/path/Break-Glass-Admin",
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
            // Names that only contain a protected role's words are ordinary roles.
            "arn:aws:iam::123456789012:role/evil-compliance-responder-x",
            "arn:aws:iam::123456789012:role/compliance-responder-GuardDutyResponderRole-1X2Y-copy",
            "arn:aws:iam::123456789012:role/x/OrganizationAccountAccessRole2",
            "arn:aws:iam::123456789012:user/OrganizationAccountAccessRole",
        ] {
            assert_eq!(g.withhold(ok, acct), None, "{ok}");
        }
    }
}
