//! Configuration read once at start-up from environment variables.
//!
//! | variable | values | default |
//! |---|---|---|
//! | `MODE` | `remediate`, `dry-run` | `dry-run` |
//! | `SECURITY_HUB_PRODUCT_ARN` | an ASFF product ARN | `arn:<partition>:securityhub:<region>:<account>:product/<account>/default` |
//! | `SECURITY_HUB_REGION` | an AWS region | the function's own region |
//! | `LOG_LEVEL` | `error`, `warn`, `info`, `debug`, `trace` or a `tracing` filter | `info` |
//!
//! An invalid value is a start-up error: the function refuses to run rather than guess.

use serde::Serialize;

/// Whether fixes are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Apply the remediation plan.
    Remediate,
    /// Plan, report and post findings, but make no write call to IAM.
    DryRun,
}

impl std::str::FromStr for Mode {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "remediate" => Ok(Mode::Remediate),
            "dry-run" | "dryrun" | "dry_run" => Ok(Mode::DryRun),
            other => Err(ConfigError::Invalid {
                variable: "MODE",
                value: other.to_string(),
                expected: "remediate | dry-run",
            }),
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::Remediate => "remediate",
            Mode::DryRun => "dry-run",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {variable}={value:?} is invalid; expected {expected}")]
    Invalid {
        variable: &'static str,
        value: String,
        expected: &'static str,
    },
}

/// The responder's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Config {
    pub mode: Mode,
    /// Explicit product ARN; `None` means the account's default product for custom findings.
    pub security_hub_product_arn: Option<String>,
    /// Region Security Hub findings are posted to; `None` means the function's region.
    pub security_hub_region: Option<String>,
    pub log_level: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mode: Mode::DryRun,
            security_hub_product_arn: None,
            security_hub_region: None,
            log_level: "info".into(),
        }
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads settings through `get`, so tests need not touch the process environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let non_empty = |k: &str| get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let mode = match non_empty("MODE") {
            Some(v) => v.parse()?,
            None => Mode::DryRun,
        };
        let security_hub_product_arn = non_empty("SECURITY_HUB_PRODUCT_ARN");
        if let Some(arn) = &security_hub_product_arn {
            if !arn.starts_with("arn:") || !arn.contains(":securityhub:") || !arn.contains(":product/") {
                return Err(ConfigError::Invalid {
                    variable: "SECURITY_HUB_PRODUCT_ARN",
                    value: arn.clone(),
                    expected: "arn:<partition>:securityhub:<region>:<account>:product/<company>/<product>",
                });
            }
        }
        let security_hub_region = non_empty("SECURITY_HUB_REGION");
        if let Some(r) = &security_hub_region {
            let ok = r.split('-').count() >= 3
                && r.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !ok {
                return Err(ConfigError::Invalid {
                    variable: "SECURITY_HUB_REGION",
                    value: r.clone(),
                    expected: "an AWS region such as us-east-1",
                });
            }
        }
        let log_level = non_empty("LOG_LEVEL")
            .or_else(|| non_empty("AWS_LAMBDA_LOG_LEVEL").map(|v| v.to_ascii_lowercase()))
            .unwrap_or_else(|| "info".into());
        Ok(Config {
            mode,
            security_hub_product_arn,
            security_hub_region,
            log_level,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let m: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn defaults_fail_safe_to_dry_run() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.mode, Mode::DryRun);
        assert_eq!(c.log_level, "info");
        assert_eq!(c.security_hub_product_arn, None);
    }

    #[test]
    fn parses_modes() {
        assert_eq!(cfg(&[("MODE", "remediate")]).unwrap().mode, Mode::Remediate);
        assert_eq!(cfg(&[("MODE", " Dry-Run ")]).unwrap().mode, Mode::DryRun);
        assert_eq!(cfg(&[("MODE", "")]).unwrap().mode, Mode::DryRun);
    }

    #[test]
    fn rejects_unknown_mode_instead_of_guessing() {
        let err = cfg(&[("MODE", "fix-everything")]).unwrap_err();
        assert!(err.to_string().contains("MODE"), "{err}");
    }

    #[test]
    fn validates_security_hub_settings() {
        assert!(cfg(&[("SECURITY_HUB_PRODUCT_ARN", "nope")]).is_err());
        assert!(cfg(&[("SECURITY_HUB_REGION", "Mars")]).is_err());
        let c = cfg(&[
            (
                "SECURITY_HUB_PRODUCT_ARN",
                "arn:aws:securityhub:eu-west-1:111122223333:product/111122223333/default",
            ),
            ("SECURITY_HUB_REGION", "eu-west-1"),
            ("AWS_LAMBDA_LOG_LEVEL", "DEBUG"),
        ])
        .unwrap();
        assert_eq!(c.security_hub_region.as_deref(), Some("eu-west-1"));
        assert_eq!(c.log_level, "debug");
    }
}
