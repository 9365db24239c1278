//! Test and demo harness: starts the moto AWS emulator on a free loopback port, seeds the sandbox
//! account the sample events refer to, and reads back IAM, Security Hub and the calls the
//! emulator received (through moto's request recorder).

use aws_config::{BehaviorVersion, Region, SdkConfig};
use compliance_responder::finding::SourceKind;
use compliance_responder::{Config, Mode, Responder};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The sample events of one source, sorted by file name.
pub fn sample_events(source: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo_root().join("events").join(source))
        .expect("events folder exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

fn moto_binary() -> PathBuf {
    if let Ok(p) = std::env::var("MOTO_SERVER") {
        return PathBuf::from(p);
    }
    let local = repo_root().join(".tools/venv/bin/moto_server");
    assert!(
        local.exists(),
        "moto_server not found at {}: run `make tools` (scripts/install-tools.sh) first",
        local.display()
    );
    local
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// A running moto server, stopped on drop.
pub struct Moto {
    child: Child,
    pub port: u16,
    dir: PathBuf,
}

impl Moto {
    /// Starts moto with AWS-managed IAM policies loaded and waits until it answers.
    pub fn start() -> Moto {
        for _ in 0..3 {
            let port = free_port();
            let dir = std::env::temp_dir().join(format!("compliance-responder-moto-{}-{port}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("create moto work dir");
            let child = Command::new(moto_binary())
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
                .env("MOTO_RECORDER_FILEPATH", dir.join("recording.jsonl"))
                .current_dir(&dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn moto_server");
            let mut moto = Moto { child, port, dir };
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if moto.http("GET", "/moto-api/", "").is_ok() {
                    return moto;
                }
                if let Ok(Some(_)) = moto.child.try_wait() {
                    break; // port taken between probe and bind: try another
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        panic!("moto_server did not start on 127.0.0.1");
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A minimal HTTP/1.0 request to moto's own API.
    pub fn http(&self, method: &str, path: &str, body: &str) -> std::io::Result<String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        write!(
            s,
            "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        match out.split_once("\r\n\r\n") {
            Some((head, body)) if head.starts_with("HTTP/1.") && head.split(' ').nth(1) == Some("200") => {
                Ok(body.to_string())
            }
            _ => Err(std::io::Error::other(format!(
                "moto answered: {}",
                out.lines().next().unwrap_or("")
            ))),
        }
    }

    /// SDK configuration pointing at this server (static test credentials, us-east-1).
    pub async fn sdk_config(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(self.endpoint())
            .credentials_provider(aws_sdk_iam::config::Credentials::new(
                "testing", "testing", None, None, "moto",
            ))
            .load()
            .await
    }

    /// Environment for a child process (the Lambda binary) to talk to this server.
    pub fn child_env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", REGION.into()),
            ("AWS_DEFAULT_REGION", REGION.into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Starts recording every request moto receives (clears earlier recordings).
    pub fn start_recording(&self) {
        self.http("POST", "/moto-api/recorder/reset-recording", "")
            .expect("reset recording");
        self.http("POST", "/moto-api/recorder/start-recording", "")
            .expect("start recording");
    }

    /// Stops recording and returns the API calls received since [`Moto::start_recording`].
    pub fn recorded_calls(&self) -> Vec<ApiCall> {
        self.http("POST", "/moto-api/recorder/stop-recording", "")
            .expect("stop recording");
        let text = self
            .http("GET", "/moto-api/recorder/download-recording", "")
            .expect("download recording");
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .filter_map(ApiCall::from_recording)
            .collect()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One request moto received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiCall {
    pub service: String,
    pub operation: String,
}

impl ApiCall {
    fn from_recording(line: &str) -> Option<ApiCall> {
        use base64::Engine;
        let v: Value = serde_json::from_str(line).ok()?;
        let auth = v["headers"]["Authorization"].as_str().unwrap_or_default();
        let service = auth.split("Credential=").nth(1)?.split('/').nth(3)?.to_string();
        let url = v["url"].as_str().unwrap_or_default();
        let mut body = v["body"].as_str().unwrap_or_default().to_string();
        if v["body_encoded"].as_bool() == Some(true) {
            body = String::from_utf8_lossy(&base64::engine::general_purpose::STANDARD.decode(&body).ok()?).into_owned();
        }
        let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
        let form_action = body
            .split('&')
            .chain(query.split('&'))
            .find_map(|kv| kv.strip_prefix("Action="))
            .map(str::to_string);
        let path = url
            .split("://")
            .nth(1)
            .and_then(|u| u.find('/').map(|i| &u[i..]))
            .unwrap_or("/");
        let path = path.split('?').next().unwrap_or("/");
        let operation = if let Some(a) = form_action {
            a
        } else if let Some(t) = v["headers"]["X-Amz-Target"].as_str() {
            t.rsplit('.').next().unwrap_or(t).to_string()
        } else {
            match (service.as_str(), path) {
                ("securityhub", "/findings/import") => "BatchImportFindings".into(),
                ("securityhub", "/findings/batchupdate") => "BatchUpdateFindings".into(),
                ("securityhub", "/findings") => "GetFindings".into(),
                ("securityhub", "/accounts") => "EnableSecurityHub".into(),
                _ => format!("{} {path}", v["method"].as_str().unwrap_or("?")),
            }
        };
        Some(ApiCall { service, operation })
    }

    /// True for calls that change state.
    pub fn is_write(&self) -> bool {
        let read = ["Get", "List", "Describe"]
            .iter()
            .any(|p| self.operation.starts_with(p));
        !read
    }
}

/// The sandbox account, as `tests/fixtures/sandbox.json` describes it.
#[derive(Debug, Deserialize)]
pub struct Sandbox {
    pub managed_policies: Vec<SeedPolicy>,
    pub users: Vec<SeedPrincipal>,
    pub roles: Vec<SeedPrincipal>,
    pub groups: Vec<SeedPrincipal>,
}

#[derive(Debug, Deserialize)]
pub struct SeedPolicy {
    pub name: String,
    pub description: String,
    /// Earlier versions, oldest first (the policy is created with the first).
    #[serde(default)]
    pub versions: Vec<Value>,
    /// The current default version.
    pub document: Value,
}

#[derive(Debug, Deserialize)]
pub struct SeedPrincipal {
    pub name: String,
    #[serde(default)]
    pub trust: Option<Value>,
    #[serde(default)]
    pub attached: Vec<String>,
    #[serde(default)]
    pub inline: BTreeMap<String, Value>,
}

impl Sandbox {
    pub fn load() -> Sandbox {
        let text = std::fs::read_to_string(repo_root().join("tests/fixtures/sandbox.json")).expect("sandbox.json");
        serde_json::from_str(&text).expect("sandbox.json is valid")
    }

    /// Creates every policy, user, role and group, with attachments and inline policies, and
    /// enables Security Hub.
    pub async fn seed(&self, sdk: &SdkConfig) {
        let iam = aws_sdk_iam::Client::new(sdk);
        for p in &self.managed_policies {
            let mut docs = p.versions.iter().chain(std::iter::once(&p.document));
            let first = docs.next().expect("at least the document");
            let arn = iam
                .create_policy()
                .policy_name(&p.name)
                .description(&p.description)
                .policy_document(first.to_string())
                .send()
                .await
                .expect("create policy")
                .policy
                .and_then(|p| p.arn)
                .expect("policy arn");
            for doc in docs {
                iam.create_policy_version()
                    .policy_arn(&arn)
                    .policy_document(doc.to_string())
                    .set_as_default(true)
                    .send()
                    .await
                    .expect("create policy version");
            }
        }
        for u in &self.users {
            iam.create_user().user_name(&u.name).send().await.expect("create user");
            for arn in &u.attached {
                iam.attach_user_policy()
                    .user_name(&u.name)
                    .policy_arn(arn)
                    .send()
                    .await
                    .expect("attach");
            }
            for (name, doc) in &u.inline {
                iam.put_user_policy()
                    .user_name(&u.name)
                    .policy_name(name)
                    .policy_document(doc.to_string())
                    .send()
                    .await
                    .expect("put user policy");
            }
        }
        for r in &self.roles {
            let trust = r.trust.as_ref().expect("roles have a trust policy").to_string();
            iam.create_role()
                .role_name(&r.name)
                .assume_role_policy_document(trust)
                .send()
                .await
                .expect("role");
            for arn in &r.attached {
                iam.attach_role_policy()
                    .role_name(&r.name)
                    .policy_arn(arn)
                    .send()
                    .await
                    .expect("attach");
            }
            for (name, doc) in &r.inline {
                iam.put_role_policy()
                    .role_name(&r.name)
                    .policy_name(name)
                    .policy_document(doc.to_string())
                    .send()
                    .await
                    .expect("put role policy");
            }
        }
        for g in &self.groups {
            iam.create_group()
                .group_name(&g.name)
                .send()
                .await
                .expect("create group");
            for arn in &g.attached {
                iam.attach_group_policy()
                    .group_name(&g.name)
                    .policy_arn(arn)
                    .send()
                    .await
                    .expect("attach");
            }
            for (name, doc) in &g.inline {
                iam.put_group_policy()
                    .group_name(&g.name)
                    .policy_name(name)
                    .policy_document(doc.to_string())
                    .send()
                    .await
                    .expect("put group policy");
            }
        }
        let hub = aws_sdk_securityhub::Client::new(sdk);
        hub.enable_security_hub().send().await.expect("enable Security Hub");
    }
}

/// A responder over the real SDK adapters, pointed at `sdk`.
pub fn responder(sdk: &SdkConfig, mode: Mode) -> Responder {
    let config = Config {
        mode,
        ..Config::default()
    };
    Responder::from_sdk_config(config, &[SourceKind::CloudTrail], sdk)
}

/// Reads back IAM and Security Hub state.
pub struct Inspect {
    iam: aws_sdk_iam::Client,
    hub: aws_sdk_securityhub::Client,
}

/// A finding as the tests look at it.
#[derive(Debug, Clone)]
pub struct HubFinding {
    pub id: String,
    pub generator_id: String,
    pub compliance: String,
    pub severity: String,
    pub resource_types: Vec<String>,
    pub resource_ids: Vec<String>,
    pub product_fields: BTreeMap<String, String>,
    pub title: String,
}

impl Inspect {
    pub fn new(sdk: &SdkConfig) -> Inspect {
        Inspect {
            iam: aws_sdk_iam::Client::new(sdk),
            hub: aws_sdk_securityhub::Client::new(sdk),
        }
    }

    /// Managed policy ARNs attached to `kind` (`user`, `role`, `group`) `name`.
    pub async fn attached(&self, kind: &str, name: &str) -> Vec<String> {
        let list = match kind {
            "user" => {
                self.iam
                    .list_attached_user_policies()
                    .user_name(name)
                    .send()
                    .await
                    .unwrap()
                    .attached_policies
            }
            "role" => {
                self.iam
                    .list_attached_role_policies()
                    .role_name(name)
                    .send()
                    .await
                    .unwrap()
                    .attached_policies
            }
            "group" => {
                self.iam
                    .list_attached_group_policies()
                    .group_name(name)
                    .send()
                    .await
                    .unwrap()
                    .attached_policies
            }
            other => panic!("unknown principal kind {other}"),
        };
        list.unwrap_or_default()
            .into_iter()
            .filter_map(|p| p.policy_arn)
            .collect()
    }

    /// Inline policy names of `kind` `name`.
    pub async fn inline_names(&self, kind: &str, name: &str) -> Vec<String> {
        match kind {
            "user" => {
                self.iam
                    .list_user_policies()
                    .user_name(name)
                    .send()
                    .await
                    .unwrap()
                    .policy_names
            }
            "role" => {
                self.iam
                    .list_role_policies()
                    .role_name(name)
                    .send()
                    .await
                    .unwrap()
                    .policy_names
            }
            "group" => {
                self.iam
                    .list_group_policies()
                    .group_name(name)
                    .send()
                    .await
                    .unwrap()
                    .policy_names
            }
            other => panic!("unknown principal kind {other}"),
        }
    }

    /// An inline policy's document, decoded and parsed.
    pub async fn inline_document(&self, kind: &str, name: &str, policy: &str) -> Value {
        let raw = match kind {
            "user" => {
                self.iam
                    .get_user_policy()
                    .user_name(name)
                    .policy_name(policy)
                    .send()
                    .await
                    .unwrap()
                    .policy_document
            }
            "role" => {
                self.iam
                    .get_role_policy()
                    .role_name(name)
                    .policy_name(policy)
                    .send()
                    .await
                    .unwrap()
                    .policy_document
            }
            "group" => {
                self.iam
                    .get_group_policy()
                    .group_name(name)
                    .policy_name(policy)
                    .send()
                    .await
                    .unwrap()
                    .policy_document
            }
            other => panic!("unknown principal kind {other}"),
        };
        let text = compliance_responder::policy::decode(&raw).expect("decodable");
        serde_json::from_str(&text).expect("inline policy is JSON")
    }

    /// A managed policy's versions (id, is default) and its default version's document.
    pub async fn policy_versions(&self, arn: &str) -> (Vec<(String, bool)>, Value) {
        let listed = self.iam.list_policy_versions().policy_arn(arn).send().await.unwrap();
        let mut versions: Vec<(String, bool)> = listed
            .versions
            .unwrap_or_default()
            .into_iter()
            .map(|v| (v.version_id.unwrap_or_default(), v.is_default_version))
            .collect();
        versions.sort_by_key(|(id, _)| id.trim_start_matches('v').parse::<u32>().unwrap_or(0));
        let default = versions
            .iter()
            .find(|(_, d)| *d)
            .map(|(id, _)| id.clone())
            .expect("a default version");
        let raw = self
            .iam
            .get_policy_version()
            .policy_arn(arn)
            .version_id(default)
            .send()
            .await
            .unwrap()
            .policy_version
            .and_then(|v| v.document)
            .unwrap_or_default();
        let text = compliance_responder::policy::decode(&raw).expect("decodable");
        (versions, serde_json::from_str(&text).expect("JSON"))
    }

    /// A role's trust policy, decoded and parsed.
    pub async fn trust_policy(&self, role: &str) -> Value {
        let raw = self
            .iam
            .get_role()
            .role_name(role)
            .send()
            .await
            .unwrap()
            .role
            .unwrap()
            .assume_role_policy_document;
        let text = compliance_responder::policy::decode(&raw.unwrap_or_default()).expect("decodable");
        serde_json::from_str(&text).expect("JSON")
    }

    /// Every finding in Security Hub.
    pub async fn findings(&self) -> Vec<HubFinding> {
        let out = self
            .hub
            .get_findings()
            .max_results(100)
            .send()
            .await
            .expect("GetFindings");
        out.findings
            .unwrap_or_default()
            .into_iter()
            .map(|f| HubFinding {
                id: f.id.clone().unwrap_or_default(),
                generator_id: f.generator_id.clone().unwrap_or_default(),
                compliance: f
                    .compliance
                    .as_ref()
                    .and_then(|c| c.status.as_ref())
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                severity: f
                    .severity
                    .as_ref()
                    .and_then(|s| s.label.as_ref())
                    .map(|l| l.as_str().to_string())
                    .unwrap_or_default(),
                resource_types: f.resources.iter().flatten().filter_map(|r| r.r#type.clone()).collect(),
                resource_ids: f.resources.iter().flatten().filter_map(|r| r.id.clone()).collect(),
                product_fields: f.product_fields.clone().unwrap_or_default().into_iter().collect(),
                title: f.title.clone().unwrap_or_default(),
            })
            .collect()
    }
}
