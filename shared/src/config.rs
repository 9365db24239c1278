//! Configuration read once at start-up from environment variables.
//!
//! | variable | values | default |
//! |---|---|---|
//! | `MODE` | `remediate`, `dry-run` | `dry-run` |
//! | `SECURITY_HUB_PRODUCT_ARN` | an ASFF product ARN | `arn:<partition>:securityhub:<region>:<account>:product/<account>/default` |
//! | `SECURITY_HUB_REGION` | an AWS region: every finding is recorded there | the region each finding is about (below) |
//! | `GLOBAL_FINDINGS_REGION` | an AWS region: where findings about IAM (a global service) are recorded, whatever region reported them | the partition's IAM region (`us-east-1`, `cn-north-1`, `us-gov-west-1`) |
//! | `RESPONDER_ROLE_ARNS` | comma-separated exact role ARNs of the responder's own roles (account `*`: that role name in every account, for the member roles): events they caused are dropped before any AWS call | none |
//! | `LOG_LEVEL` | `error`, `warn`, `info`, `debug`, `trace` or a `tracing` filter | `info` |
//! | `REQUIRED_TAGS` | `Key[=default];...`; defaults may use `${creator}`, `${account}`, `${region}` | `Owner=${creator};CostCenter=unassigned` |
//! | `REQUIRED_TAG_VALUES` | `Key=value1\|value2;...`: the only values a key may have | none |
//! | `GUARDDUTY_MIN_SEVERITY` | 0–10: GuardDuty findings below it are ignored | `4` |
//! | `GUARDDUTY_FINDING_TYPES` | comma-separated finding types, `*` wildcards allowed | the five IAM credential types |
//! | `GUARDDUTY_QUARANTINE` | `true`/`false`: also attach `AWSDenyAll` to the principal | `false` |
//! | `ANNOTATE_SOURCE_FINDINGS` | `true`/`false`: note what was done on the GuardDuty finding in Security Hub | `true` |
//! | `RULE_MODES` | `rule-id=remediate\|dry-run\|off;...` | every rule follows `MODE` |
//! | `PROTECTED_PRINCIPALS` | comma-separated ARN patterns, never modified (added to the built-in ones) | none |
//! | `EXEMPT_TAG` | the exemption tag key (reason in `<key>-reason`) | `compliance-responder:exempt` |
//! | `EXEMPT_ARNS` | comma-separated ARN patterns, reported but never fixed | none |
//! | `ALLOWED_ACCOUNTS` | comma-separated account ids; events from others are dropped | any account |
//! | `MAX_WRITES_PER_EVENT` | writes one event may make; the rest are deferred | `10` |
//! | `MAX_WRITES_PER_RULE` / `RATE_WINDOW_SECONDS` | writes per rule per window, per container | `50` / `3600` |
//! | `AWS_MAX_ATTEMPTS` | attempts per AWS call (standard retry mode, exponential backoff) | `4` |
//! | `KILL_SWITCH_PARAMETER` | an SSM parameter name: `on` forces dry-run everywhere; missing or unreadable also does | unset: no kill switch |
//! | `KILL_SWITCH_TTL_SECONDS` | how long a read of the kill switch is reused | `30` |
//! | `MEMBER_ROLE_NAME` | role assumed in member accounts for IAM policy and trust rewrites | unset: single account |
//! | `MEMBER_TAGGING_ROLE_NAME` | role assumed in member accounts to tag created resources | unset |
//! | `MEMBER_CONTAINMENT_ROLE_NAME` | role assumed in member accounts to contain leaked credentials | unset |
//! | `MEMBER_UNDO_ROLE_NAME` | role assumed in member accounts to apply the recorded inverse of a fix on a person's "Undo" in Security Hub | unset |
//! | `MEMBER_ROLE_EXTERNAL_ID` | ExternalId for those roles | unset |
//! | `AUDIT_INTERVAL_HOURS` | the scheduled sweep (`audit-responder`) sweeps an account again this long after its last complete sweep | `24` |
//! | `AUDIT_MAX_PAGES` | pages of `GetAccountAuthorizationDetails` (100 principals each) one scheduled run sweeps per account before it stops and resumes next run | `10` |
//! | `AUDIT_TIME_BUDGET_SECONDS` | a scheduled run starts no further account after this long (the rest wait for the next run) | `600` |
//! | `UNDO_RECORD_BUCKET` | an S3 bucket (in the function's account and region): every applied fix's inverse is written there, so that Security Hub's "Undo" applies exactly what was recorded | unset: no records, "Undo" refused |
//! | `CONFIG_RULE_MAP` | `config-rule-name-fragment=rule-id;...` | the four AWS managed rules, see [`DEFAULT_CONFIG_RULE_MAP`] |
//! | `ACCESS_KEY_MAX_UNUSED_DAYS` | 1–3650: an active access key not used for this many days (or never used and this old) is deactivated by `iam-access-key-unused` (the sweep; Security Hub's "Remediate") | `90` (Security Hub control IAM.8) |
//! | `SETTINGS_PARAMETER_PATH` | an SSM parameter path such as `/compliance-responder/settings`: the list settings that grow with the organization are also read from parameters under it at start-up (see [`PARAMETER_SETTINGS`]) | unset: environment only |
//!
//! An invalid value is a start-up error: the function refuses to run rather than guess.
//!
//! ## Settings in SSM parameters
//!
//! Lambda's environment holds 4 KB in all, which a list of an organization's accounts or
//! break-glass roles outgrows. The list settings of [`PARAMETER_SETTINGS`] can therefore also be
//! kept in SSM Parameter Store under `SETTINGS_PARAMETER_PATH`: a parameter named
//! `<path>/<SETTING>` or `<path>/<SETTING>/<part>` (String, StringList or SecureString; parts let
//! a list grow past one parameter's 4 KB, or 8 KB for the advanced tier) adds its comma- or
//! newline-separated entries to the environment variable's. They are read once, at start-up
//! (`GetParametersByPath`, recursive, every page): a parameter under the path that names no such
//! setting (a typo such as `ALLOWED_ACOUNTS` would otherwise allow every account), or a path that
//! cannot be read, stops the function from starting.

use crate::finding::Capability;
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

/// A rule's own mode (`RULE_MODES`): a rule can only be made more careful than `MODE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RuleMode {
    Off,
    DryRun,
    Remediate,
}

/// Default `REQUIRED_TAGS`.
pub const DEFAULT_REQUIRED_TAGS: &str = "Owner=${creator};CostCenter=unassigned";

/// Default `GUARDDUTY_FINDING_TYPES`: GuardDuty's IAM credential findings.
pub const DEFAULT_GUARDDUTY_TYPES: &[&str] = &[
    "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
    "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.InsideAWS",
    "CredentialAccess:IAMUser/AnomalousBehavior",
    "PrivilegeEscalation:IAMUser/AnomalousBehavior",
    "Persistence:IAMUser/AnomalousBehavior",
    "Policy:IAMUser/RootCredentialUsage",
];

/// Default `CONFIG_RULE_MAP`: AWS Config managed rule names (organizations and conformance packs
/// add prefixes and suffixes, so a Config rule matches when its name *contains* the fragment).
pub const DEFAULT_CONFIG_RULE_MAP: &str = "iam-policy-no-statements-with-admin-access=iam-admin-access;\
iam-policy-no-statements-with-full-access=iam-service-wildcard;\
iam-user-no-policies-check=iam-user-direct-policy;\
required-tags=required-tags";

/// Default `ACCESS_KEY_MAX_UNUSED_DAYS`: Security Hub's IAM.8 ("unused IAM user credentials
/// should be removed") checks 90 days.
pub const DEFAULT_ACCESS_KEY_MAX_UNUSED_DAYS: u32 = 90;

/// One required tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequiredTag {
    pub key: String,
    /// The value written when the tag is missing (may contain `${creator}`); `None`: report only.
    pub default: Option<String>,
    /// When not empty, the only values the tag may have.
    pub allowed: Vec<String>,
}

/// The tags every resource must carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct TagPolicy {
    pub required: Vec<RequiredTag>,
}

/// Which GuardDuty findings the responder acts on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GuardDutySettings {
    pub min_severity: f64,
    /// Finding types (with `*` wildcards).
    pub finding_types: Vec<String>,
    /// Also attach `AWSDenyAll` to the principal whose credentials leaked.
    pub quarantine: bool,
}

impl Default for GuardDutySettings {
    fn default() -> Self {
        GuardDutySettings {
            min_severity: 4.0,
            finding_types: DEFAULT_GUARDDUTY_TYPES.iter().map(|s| s.to_string()).collect(),
            quarantine: false,
        }
    }
}

/// The responder's settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Config {
    pub mode: Mode,
    /// Explicit product ARN; `None` means the account's default product for custom findings.
    pub security_hub_product_arn: Option<String>,
    /// Region every finding is recorded in; `None`: the region the finding is about.
    pub security_hub_region: Option<String>,
    /// Region findings about IAM (global) are recorded in; `None`: the partition's IAM region.
    pub global_findings_region: Option<String>,
    /// The responder's own roles (`RESPONDER_ROLE_ARNS`): their changes must not re-trigger it.
    pub responder_roles: Vec<String>,
    pub log_level: String,
    pub tags: TagPolicy,
    pub guardduty: GuardDutySettings,
    /// Mark GuardDuty's own finding in Security Hub (`BatchUpdateFindings`) with what was done.
    pub annotate_source_findings: bool,
    /// (Config rule name fragment, responder rule id).
    pub config_rule_map: Vec<(String, String)>,
    /// Per-rule modes; rules not listed follow `mode`.
    pub rule_modes: std::collections::BTreeMap<String, RuleMode>,
    pub guards: crate::guards::Guards,
    /// Accounts whose events are handled; empty means any.
    pub allowed_accounts: Vec<String>,
    pub max_writes_per_event: usize,
    pub max_writes_per_rule: usize,
    pub rate_window_seconds: u64,
    /// Attempts per AWS call, first one included.
    pub max_attempts: u32,
    /// SSM parameter whose value `on` forces dry-run (`KILL_SWITCH_PARAMETER`).
    pub kill_switch_parameter: Option<String>,
    pub kill_switch_ttl_seconds: u64,
    /// The roles assumed in member accounts, one per capability; none: single account.
    pub member_roles: MemberRoles,
    pub member_external_id: Option<String>,
    /// The exemption tag key (`EXEMPT_TAG`).
    pub exempt_tag: String,
    /// Where every applied fix's inverse is recorded (`UNDO_RECORD_BUCKET`); the scheduled
    /// sweep keeps its state there too.
    pub undo_record_bucket: Option<String>,
    /// The scheduled sweep: how often, how much per run, how long per run.
    pub audit: AuditSettings,
    /// `iam-access-key-unused`: days an active key may go unused (`ACCESS_KEY_MAX_UNUSED_DAYS`).
    pub access_key_max_unused_days: u32,
}

/// The scheduled sweep's bounds (`AUDIT_INTERVAL_HOURS`, `AUDIT_MAX_PAGES`,
/// `AUDIT_TIME_BUDGET_SECONDS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AuditSettings {
    pub interval_hours: u64,
    pub max_pages: usize,
    pub time_budget_seconds: u64,
}

impl Default for AuditSettings {
    fn default() -> Self {
        AuditSettings {
            interval_hours: 24,
            max_pages: 10,
            time_budget_seconds: 600,
        }
    }
}

/// The role assumed in member accounts for each capability (`MEMBER_ROLE_NAME` for IAM
/// rewrites, `MEMBER_TAGGING_ROLE_NAME`, `MEMBER_CONTAINMENT_ROLE_NAME`). A function is given only
/// the ones it needs; a fix whose capability has no role is not made in a member account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MemberRoles {
    pub iam_rewrite: Option<String>,
    pub tagging: Option<String>,
    pub containment: Option<String>,
    pub undo: Option<String>,
}

impl MemberRoles {
    /// The role of `capability`, if this function has one.
    pub fn of(&self, capability: Capability) -> Option<&str> {
        match capability {
            Capability::IamRewrite => self.iam_rewrite.as_deref(),
            Capability::Tagging => self.tagging.as_deref(),
            Capability::Containment => self.containment.as_deref(),
            Capability::Undo => self.undo.as_deref(),
        }
    }

    /// Whether any member role is set (an organization deployment).
    pub fn any(&self) -> bool {
        self.names().next().is_some()
    }

    /// Every member role name set.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        [&self.iam_rewrite, &self.tagging, &self.containment, &self.undo]
            .into_iter()
            .filter_map(|r| r.as_deref())
    }
}

impl Config {
    /// The mode a rule runs in: `None` when it is off.
    pub fn mode_of(&self, rule_id: &str) -> Option<Mode> {
        match (self.rule_modes.get(rule_id), self.mode) {
            (Some(RuleMode::Off), _) => None,
            (Some(RuleMode::DryRun), _) | (_, Mode::DryRun) => Some(Mode::DryRun),
            _ => Some(Mode::Remediate),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mode: Mode::DryRun,
            security_hub_product_arn: None,
            security_hub_region: None,
            global_findings_region: None,
            responder_roles: vec![],
            log_level: "info".into(),
            tags: parse_required_tags(DEFAULT_REQUIRED_TAGS, "").expect("the default tag policy is valid"),
            guardduty: GuardDutySettings::default(),
            annotate_source_findings: true,
            config_rule_map: parse_rule_map(DEFAULT_CONFIG_RULE_MAP).expect("the default rule map is valid"),
            rule_modes: Default::default(),
            guards: Default::default(),
            allowed_accounts: vec![],
            max_writes_per_event: 10,
            max_writes_per_rule: 50,
            rate_window_seconds: 3600,
            max_attempts: 4,
            kill_switch_parameter: None,
            kill_switch_ttl_seconds: 30,
            member_roles: MemberRoles::default(),
            member_external_id: None,
            exempt_tag: crate::exemptions::EXEMPT_TAG.into(),
            undo_record_bucket: None,
            audit: AuditSettings::default(),
            access_key_max_unused_days: DEFAULT_ACCESS_KEY_MAX_UNUSED_DAYS,
        }
    }
}

fn list(s: &str) -> Vec<String> {
    s.split([',', '\n'])
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(str::to_string)
        .collect()
}

/// Parses `RULE_MODES`.
pub fn parse_rule_modes(s: &str) -> Result<std::collections::BTreeMap<String, RuleMode>, ConfigError> {
    entries(s)
        .map(|entry| {
            let bad = || {
                invalid(
                    "RULE_MODES",
                    entry,
                    "rule-id=remediate|dry-run|off;... with registered rule ids",
                )
            };
            let (rule, mode) = entry.split_once('=').ok_or_else(bad)?;
            let (rule, mode) = (rule.trim(), mode.trim().to_ascii_lowercase());
            if !crate::rules::RULE_IDS.contains(&rule) {
                return Err(bad());
            }
            let mode = match mode.as_str() {
                "remediate" => RuleMode::Remediate,
                "dry-run" | "dryrun" => RuleMode::DryRun,
                "off" => RuleMode::Off,
                _ => return Err(bad()),
            };
            Ok((rule.to_string(), mode))
        })
        .collect()
}

fn number<T: std::str::FromStr + PartialOrd>(
    variable: &'static str,
    value: Option<String>,
    default: T,
    min: T,
    expected: &'static str,
) -> Result<T, ConfigError> {
    match value {
        None => Ok(default),
        Some(v) => v
            .parse::<T>()
            .ok()
            .filter(|n| *n >= min)
            .ok_or_else(|| invalid(variable, &v, expected)),
    }
}

/// The settings that may also come from SSM parameters under `SETTINGS_PARAMETER_PATH`.
pub const PARAMETER_SETTINGS: &[&str] = &[
    "ALLOWED_ACCOUNTS",
    "PROTECTED_PRINCIPALS",
    "EXEMPT_ARNS",
    "RESPONDER_ROLE_ARNS",
];

/// The entries SSM parameters under `path` add to each of [`PARAMETER_SETTINGS`]: `parameters`
/// are (name, value) pairs as `GetParametersByPath` returns them. The parts of one setting are
/// joined in name order. A parameter that names no such setting is an error.
pub fn parameter_settings(
    path: &str,
    parameters: &[(String, String)],
) -> Result<std::collections::BTreeMap<&'static str, String>, ConfigError> {
    let prefix = format!("{}/", path.trim_end_matches('/'));
    let mut sorted: Vec<&(String, String)> = parameters.iter().collect();
    sorted.sort();
    let mut out: std::collections::BTreeMap<&'static str, String> = std::collections::BTreeMap::new();
    for (name, value) in sorted {
        let setting = name
            .strip_prefix(&prefix)
            .and_then(|rest| rest.split('/').next())
            .and_then(|s| PARAMETER_SETTINGS.iter().find(|known| **known == s))
            .ok_or_else(|| {
                invalid(
                    "SETTINGS_PARAMETER_PATH",
                    name,
                    "parameters named <path>/<SETTING> or <path>/<SETTING>/<part>, SETTING one of ALLOWED_ACCOUNTS, PROTECTED_PRINCIPALS, EXEMPT_ARNS, RESPONDER_ROLE_ARNS",
                )
            })?;
        let entry = out.entry(setting).or_default();
        if !entry.is_empty() {
            entry.push(',');
        }
        entry.push_str(value);
    }
    Ok(out)
}

/// Checks a `SETTINGS_PARAMETER_PATH` value: an absolute SSM path.
pub fn check_parameter_path(path: &str) -> Result<(), ConfigError> {
    let ok = path.starts_with('/')
        && path.len() > 1
        && path.len() <= 1011
        && path.chars().all(|c| c.is_ascii_alphanumeric() || "/_.-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "SETTINGS_PARAMETER_PATH",
            path,
            "an SSM parameter path such as /compliance-responder/settings",
        ))
    }
}

fn invalid(variable: &'static str, value: &str, expected: &'static str) -> ConfigError {
    ConfigError::Invalid {
        variable,
        value: value.to_string(),
        expected,
    }
}

fn entries(s: &str) -> impl Iterator<Item = &str> {
    s.split([';', '\n']).map(str::trim).filter(|e| !e.is_empty())
}

/// Parses `REQUIRED_TAGS` and `REQUIRED_TAG_VALUES`.
pub fn parse_required_tags(tags: &str, values: &str) -> Result<TagPolicy, ConfigError> {
    const EXPECTED: &str = "Key[=default];... with keys of 1-128 characters, not starting with aws:";
    let mut policy = TagPolicy::default();
    for entry in entries(tags) {
        let (key, default) = match entry.split_once('=') {
            Some((k, d)) => (k.trim(), Some(d.trim().to_string()).filter(|d| !d.is_empty())),
            None => (entry, None),
        };
        let bad_key = key.is_empty()
            || key.chars().count() > crate::resource::MAX_TAG_KEY
            || key.to_ascii_lowercase().starts_with(crate::resource::RESERVED_PREFIX);
        if bad_key || policy.required.iter().any(|r| r.key == key) {
            return Err(invalid("REQUIRED_TAGS", entry, EXPECTED));
        }
        if default
            .as_ref()
            .is_some_and(|d| d.chars().count() > crate::resource::MAX_TAG_VALUE)
        {
            return Err(invalid(
                "REQUIRED_TAGS",
                entry,
                "default values of at most 256 characters",
            ));
        }
        policy.required.push(RequiredTag {
            key: key.to_string(),
            default,
            allowed: vec![],
        });
    }
    for entry in entries(values) {
        let Some((key, list)) = entry.split_once('=') else {
            return Err(invalid("REQUIRED_TAG_VALUES", entry, "Key=value1|value2;..."));
        };
        let Some(tag) = policy.required.iter_mut().find(|r| r.key == key.trim()) else {
            return Err(invalid("REQUIRED_TAG_VALUES", entry, "keys that REQUIRED_TAGS names"));
        };
        tag.allowed = list
            .split('|')
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect();
        if let Some(d) = &tag.default {
            if !d.contains("${") && !tag.allowed.is_empty() && !tag.allowed.contains(d) {
                return Err(invalid(
                    "REQUIRED_TAG_VALUES",
                    entry,
                    "a list that contains the key's default",
                ));
            }
        }
    }
    Ok(policy)
}

/// Parses `CONFIG_RULE_MAP`.
pub fn parse_rule_map(s: &str) -> Result<Vec<(String, String)>, ConfigError> {
    entries(s)
        .map(|entry| match entry.split_once('=') {
            Some((fragment, rule)) if !fragment.trim().is_empty() && crate::rules::RULE_IDS.contains(&rule.trim()) => {
                Ok((fragment.trim().to_string(), rule.trim().to_string()))
            }
            _ => Err(invalid(
                "CONFIG_RULE_MAP",
                entry,
                "config-rule-name-fragment=responder-rule-id;... with a registered rule id",
            )),
        })
        .collect()
}

fn parse_bool(variable: &'static str, value: Option<String>, default: bool) -> Result<bool, ConfigError> {
    match value.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None => Ok(default),
        Some("true" | "1" | "yes" | "on") => Ok(true),
        Some("false" | "0" | "no" | "off") => Ok(false),
        Some(other) => Err(invalid(variable, other, "true | false")),
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads settings through `get`, with the entries of SSM parameters read under
    /// `SETTINGS_PARAMETER_PATH` (`parameters`, see [`parameter_settings`]) added to the list
    /// settings they name.
    pub fn from_lookup_and_parameters(
        get: impl Fn(&str) -> Option<String>,
        path: &str,
        parameters: &[(String, String)],
    ) -> Result<Self, ConfigError> {
        check_parameter_path(path)?;
        let extra = parameter_settings(path, parameters)?;
        Self::from_lookup(|k| {
            let own = get(k).filter(|v| !v.trim().is_empty());
            match (own, extra.get(k)) {
                (Some(a), Some(b)) => Some(format!("{a},{b}")),
                (a, b) => a.or_else(|| b.cloned()),
            }
        })
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
        let region = |variable: &'static str| -> Result<Option<String>, ConfigError> {
            match non_empty(variable) {
                Some(r) if !crate::envelope::is_region(&r) => {
                    Err(invalid(variable, &r, "an AWS region such as us-east-1"))
                }
                r => Ok(r),
            }
        };
        let security_hub_region = region("SECURITY_HUB_REGION")?;
        let global_findings_region = region("GLOBAL_FINDINGS_REGION")?;
        let responder_roles = list(&non_empty("RESPONDER_ROLE_ARNS").unwrap_or_default());
        if let Some(bad) = responder_roles.iter().find(|a| {
            let parts: Vec<&str> = a.splitn(6, ':').collect();
            parts.len() != 6
                || parts[0] != "arn"
                || parts[2] != "iam"
                || !parts[5].starts_with("role/")
                || parts[..4].iter().chain([&parts[5]]).any(|p| p.contains('*'))
                || (parts[4] != "*" && parts[4].contains('*'))
        }) {
            return Err(invalid(
                "RESPONDER_ROLE_ARNS",
                bad,
                "exact IAM role ARNs, comma-separated (the account may be * for a member role of every account)",
            ));
        }
        let log_level = non_empty("LOG_LEVEL")
            .or_else(|| non_empty("AWS_LAMBDA_LOG_LEVEL").map(|v| v.to_ascii_lowercase()))
            .unwrap_or_else(|| "info".into());
        let tags = parse_required_tags(
            &non_empty("REQUIRED_TAGS").unwrap_or_else(|| DEFAULT_REQUIRED_TAGS.into()),
            &non_empty("REQUIRED_TAG_VALUES").unwrap_or_default(),
        )?;
        let mut guardduty = GuardDutySettings::default();
        if let Some(v) = non_empty("GUARDDUTY_MIN_SEVERITY") {
            guardduty.min_severity = v
                .parse::<f64>()
                .ok()
                .filter(|s| (0.0..=10.0).contains(s))
                .ok_or_else(|| invalid("GUARDDUTY_MIN_SEVERITY", &v, "a number from 0 to 10"))?;
        }
        if let Some(v) = non_empty("GUARDDUTY_FINDING_TYPES") {
            guardduty.finding_types = v
                .split(',')
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect();
        }
        guardduty.quarantine = parse_bool("GUARDDUTY_QUARANTINE", non_empty("GUARDDUTY_QUARANTINE"), false)?;
        let annotate_source_findings =
            parse_bool("ANNOTATE_SOURCE_FINDINGS", non_empty("ANNOTATE_SOURCE_FINDINGS"), true)?;
        let config_rule_map =
            parse_rule_map(&non_empty("CONFIG_RULE_MAP").unwrap_or_else(|| DEFAULT_CONFIG_RULE_MAP.into()))?;
        let rule_modes = parse_rule_modes(&non_empty("RULE_MODES").unwrap_or_default())?;
        let guards = crate::guards::Guards {
            protected: list(&non_empty("PROTECTED_PRINCIPALS").unwrap_or_default()),
            exempt_arns: list(&non_empty("EXEMPT_ARNS").unwrap_or_default()),
        };
        for p in guards.protected.iter().chain(&guards.exempt_arns) {
            if !p.starts_with("arn:") {
                return Err(invalid(
                    "PROTECTED_PRINCIPALS / EXEMPT_ARNS",
                    p,
                    "ARN patterns starting with arn:",
                ));
            }
        }
        let allowed_accounts = list(&non_empty("ALLOWED_ACCOUNTS").unwrap_or_default());
        if let Some(bad) = allowed_accounts
            .iter()
            .find(|a| a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(invalid("ALLOWED_ACCOUNTS", bad, "comma-separated 12-digit account ids"));
        }
        let max_writes_per_event = number(
            "MAX_WRITES_PER_EVENT",
            non_empty("MAX_WRITES_PER_EVENT"),
            10usize,
            0,
            "a whole number",
        )?;
        let max_writes_per_rule = number(
            "MAX_WRITES_PER_RULE",
            non_empty("MAX_WRITES_PER_RULE"),
            50usize,
            0,
            "a whole number",
        )?;
        let rate_window_seconds = number(
            "RATE_WINDOW_SECONDS",
            non_empty("RATE_WINDOW_SECONDS"),
            3600u64,
            1,
            "a whole number of seconds, at least 1",
        )?;
        let max_attempts = number("AWS_MAX_ATTEMPTS", non_empty("AWS_MAX_ATTEMPTS"), 4u32, 1, "1 or more")?;
        let access_key_max_unused_days = number(
            "ACCESS_KEY_MAX_UNUSED_DAYS",
            non_empty("ACCESS_KEY_MAX_UNUSED_DAYS"),
            DEFAULT_ACCESS_KEY_MAX_UNUSED_DAYS,
            1,
            "a whole number of days from 1 to 3650",
        )?;
        if access_key_max_unused_days > 3650 {
            return Err(invalid(
                "ACCESS_KEY_MAX_UNUSED_DAYS",
                &access_key_max_unused_days.to_string(),
                "a whole number of days from 1 to 3650",
            ));
        }
        if max_attempts > 10 {
            return Err(invalid("AWS_MAX_ATTEMPTS", &max_attempts.to_string(), "at most 10"));
        }
        let kill_switch_parameter = non_empty("KILL_SWITCH_PARAMETER");
        if let Some(name) = &kill_switch_parameter {
            let ok = name.len() <= 2048 && name.chars().all(|c| c.is_ascii_alphanumeric() || "_.-/".contains(c));
            if !ok {
                return Err(invalid(
                    "KILL_SWITCH_PARAMETER",
                    name,
                    "an SSM parameter name (a-zA-Z0-9_.-/)",
                ));
            }
        }
        let kill_switch_ttl_seconds = number(
            "KILL_SWITCH_TTL_SECONDS",
            non_empty("KILL_SWITCH_TTL_SECONDS"),
            30u64,
            0,
            "a whole number of seconds",
        )?;
        let role_name = |variable: &'static str| -> Result<Option<String>, ConfigError> {
            match non_empty(variable) {
                Some(r) if r.len() > 64 || !r.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c)) => {
                    Err(invalid(variable, &r, "an IAM role name"))
                }
                r => Ok(r),
            }
        };
        let member_roles = MemberRoles {
            iam_rewrite: role_name(Capability::IamRewrite.setting())?,
            tagging: role_name(Capability::Tagging.setting())?,
            containment: role_name(Capability::Containment.setting())?,
            undo: role_name(Capability::Undo.setting())?,
        };
        let audit = AuditSettings {
            interval_hours: number(
                "AUDIT_INTERVAL_HOURS",
                non_empty("AUDIT_INTERVAL_HOURS"),
                24u64,
                1,
                "a whole number of hours, at least 1",
            )?,
            max_pages: number("AUDIT_MAX_PAGES", non_empty("AUDIT_MAX_PAGES"), 10usize, 1, "1 or more")?,
            time_budget_seconds: number(
                "AUDIT_TIME_BUDGET_SECONDS",
                non_empty("AUDIT_TIME_BUDGET_SECONDS"),
                600u64,
                1,
                "a whole number of seconds, at least 1",
            )?,
        };
        let undo_record_bucket = non_empty("UNDO_RECORD_BUCKET");
        if let Some(b) = &undo_record_bucket {
            let ok = (3..=63).contains(&b.len())
                && b.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
                && b.starts_with(|c: char| c.is_ascii_alphanumeric())
                && b.ends_with(|c: char| c.is_ascii_alphanumeric());
            if !ok {
                return Err(invalid("UNDO_RECORD_BUCKET", b, "an S3 bucket name"));
            }
        }
        let member_external_id = non_empty("MEMBER_ROLE_EXTERNAL_ID");
        let exempt_tag = non_empty("EXEMPT_TAG").unwrap_or_else(|| crate::exemptions::EXEMPT_TAG.into());
        if exempt_tag.chars().count() > crate::resource::MAX_TAG_KEY - "-reason".len()
            || exempt_tag
                .to_ascii_lowercase()
                .starts_with(crate::resource::RESERVED_PREFIX)
        {
            return Err(invalid(
                "EXEMPT_TAG",
                &exempt_tag,
                "a tag key of at most 121 characters, not aws:",
            ));
        }
        Ok(Config {
            mode,
            security_hub_product_arn,
            security_hub_region,
            global_findings_region,
            responder_roles,
            log_level,
            tags,
            guardduty,
            annotate_source_findings,
            config_rule_map,
            rule_modes,
            guards,
            allowed_accounts,
            max_writes_per_event,
            max_writes_per_rule,
            rate_window_seconds,
            max_attempts,
            kill_switch_parameter,
            kill_switch_ttl_seconds,
            member_roles,
            member_external_id,
            exempt_tag,
            undo_record_bucket,
            audit,
            access_key_max_unused_days,
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

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// List settings grow past Lambda's 4 KB environment in SSM parameters: parts are joined in
    /// name order and added to the environment's entries; a name that is no setting (a typo that
    /// would silently allow every account) stops the start.
    #[test]
    fn list_settings_are_extended_from_ssm_parameters() {
        let path = "/cr/settings";
        let env = |k: &str| (k == "PROTECTED_PRINCIPALS").then(|| "arn:aws:iam::*:role/break-glass".to_string());
        let c = Config::from_lookup_and_parameters(
            env,
            path,
            &params(&[
                ("/cr/settings/ALLOWED_ACCOUNTS/2", "333333333333"),
                ("/cr/settings/ALLOWED_ACCOUNTS/1", "111111111111,222222222222"),
                ("/cr/settings/PROTECTED_PRINCIPALS", "arn:aws:iam::*:role/ops-admin"),
                (
                    "/cr/settings/EXEMPT_ARNS",
                    "arn:aws:iam::*:user/legacy-*\narn:aws:s3:::archive",
                ),
            ]),
        )
        .unwrap();
        assert_eq!(c.allowed_accounts, ["111111111111", "222222222222", "333333333333"]);
        assert_eq!(
            c.guards.protected,
            ["arn:aws:iam::*:role/break-glass", "arn:aws:iam::*:role/ops-admin"]
        );
        assert_eq!(c.guards.exempt_arns.len(), 2);
        for bad in [
            "/cr/settings/ALLOWED_ACOUNTS",
            "/cr/settings/MODE",
            "/other/ALLOWED_ACCOUNTS",
        ] {
            let err =
                Config::from_lookup_and_parameters(|_| None, path, &params(&[(bad, "111111111111")])).unwrap_err();
            assert!(err.to_string().contains(bad), "{err}");
        }
        // Entries from parameters are checked like the environment's.
        assert!(Config::from_lookup_and_parameters(
            |_| None,
            path,
            &params(&[("/cr/settings/ALLOWED_ACCOUNTS", "12345")])
        )
        .is_err());
        for bad_path in ["cr/settings", "/", "/cr settings"] {
            assert!(
                Config::from_lookup_and_parameters(|_| None, bad_path, &[]).is_err(),
                "{bad_path}"
            );
        }
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
    fn parses_tag_policy_guardduty_and_rule_map() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.tags.required[0].key, "Owner");
        assert_eq!(c.tags.required[0].default.as_deref(), Some("${creator}"));
        assert_eq!(c.config_rule_map.len(), 4);
        assert!(c.annotate_source_findings && !c.guardduty.quarantine);
        assert_eq!(c.access_key_max_unused_days, 90);
        assert_eq!(
            cfg(&[("ACCESS_KEY_MAX_UNUSED_DAYS", "45")])
                .unwrap()
                .access_key_max_unused_days,
            45
        );
        for bad in ["0", "3651", "-1", "ninety", "4.5"] {
            let err = cfg(&[("ACCESS_KEY_MAX_UNUSED_DAYS", bad)]).unwrap_err();
            assert!(err.to_string().contains("ACCESS_KEY_MAX_UNUSED_DAYS"), "{bad}: {err}");
        }
        let c = cfg(&[
            ("REQUIRED_TAGS", "Owner=${creator}; Environment=dev ;DataClass"),
            ("REQUIRED_TAG_VALUES", "Environment=prod|staging|dev"),
            ("GUARDDUTY_MIN_SEVERITY", "7"),
            (
                "GUARDDUTY_FINDING_TYPES",
                "CredentialAccess:*, Persistence:IAMUser/AnomalousBehavior",
            ),
            ("GUARDDUTY_QUARANTINE", "true"),
            ("ANNOTATE_SOURCE_FINDINGS", "false"),
            ("CONFIG_RULE_MAP", "admin-access=iam-admin-access"),
        ])
        .unwrap();
        assert_eq!(c.tags.required.len(), 3);
        assert_eq!(c.tags.required[1].allowed, vec!["prod", "staging", "dev"]);
        assert_eq!(c.tags.required[2].default, None);
        assert_eq!(c.guardduty.min_severity, 7.0);
        assert_eq!(c.guardduty.finding_types.len(), 2);
        assert!(c.guardduty.quarantine && !c.annotate_source_findings);
        for bad in [
            ("REQUIRED_TAGS", "aws:owner=x"),
            ("REQUIRED_TAGS", "Owner=a;Owner=b"),
            ("REQUIRED_TAG_VALUES", "Missing=a|b"),
            ("GUARDDUTY_MIN_SEVERITY", "11"),
            ("GUARDDUTY_QUARANTINE", "maybe"),
            ("CONFIG_RULE_MAP", "x=no-such-rule"),
        ] {
            assert!(cfg(&[bad]).is_err(), "{bad:?}");
        }
        assert!(cfg(&[("REQUIRED_TAGS", "Env=qa"), ("REQUIRED_TAG_VALUES", "Env=prod|dev")]).is_err());
    }

    #[test]
    fn parses_safety_settings() {
        let c = cfg(&[
            ("MODE", "remediate"),
            ("RULE_MODES", "required-tags=dry-run; iam-user-direct-policy=off"),
            ("PROTECTED_PRINCIPALS", "arn:aws:iam::*:role/break-glass-*"),
            ("ALLOWED_ACCOUNTS", "123456789012, 210987654321"),
            ("MAX_WRITES_PER_EVENT", "3"),
        ])
        .unwrap();
        assert_eq!(c.mode_of("required-tags"), Some(Mode::DryRun));
        assert_eq!(c.mode_of("iam-user-direct-policy"), None);
        assert_eq!(c.mode_of("iam-admin-access"), Some(Mode::Remediate));
        assert_eq!(c.allowed_accounts.len(), 2);
        assert_eq!(c.max_writes_per_event, 3);
        // A rule cannot be more aggressive than MODE.
        let c = cfg(&[("RULE_MODES", "iam-admin-access=remediate")]).unwrap();
        assert_eq!(c.mode_of("iam-admin-access"), Some(Mode::DryRun));
        for bad in [
            ("RULE_MODES", "no-such-rule=off"),
            ("RULE_MODES", "required-tags=sometimes"),
            ("ALLOWED_ACCOUNTS", "12345"),
            ("PROTECTED_PRINCIPALS", "role/x"),
            ("EXEMPT_TAG", "aws:exempt"),
            ("MAX_WRITES_PER_EVENT", "-1"),
            ("RATE_WINDOW_SECONDS", "0"),
            ("AWS_MAX_ATTEMPTS", "50"),
        ] {
            assert!(cfg(&[bad]).is_err(), "{bad:?}");
        }
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
