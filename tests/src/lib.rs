//! Test and demo harness: starts the moto AWS emulator on a free loopback port, seeds the sandbox
//! account the sample events refer to, and reads back IAM, Security Hub and the calls the
//! emulator received (through moto's request recorder).

pub mod fault;

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
    /// Method, path, query and body: two calls with the same `request` asked the same thing.
    pub request: String,
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
        let request = format!(
            "{} {} {body}",
            v["method"].as_str().unwrap_or("?"),
            url.split_once("://")
                .map_or(url, |(_, u)| u.find('/').map_or("/", |i| &u[i..]))
        );
        Some(ApiCall {
            service,
            operation,
            request,
        })
    }

    /// True for calls that change state.
    pub fn is_write(&self) -> bool {
        let read = ["Get", "List", "Describe", "GET ", "HEAD "]
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
    pub resources: SeedResources,
}

/// Taggable resources, all in [`REGION`].
#[derive(Debug, Deserialize)]
pub struct SeedResources {
    pub buckets: Vec<SeedResource>,
    pub instances: Vec<SeedResource>,
    pub volumes: Vec<SeedResource>,
    pub security_groups: Vec<SeedResource>,
    pub functions: Vec<SeedResource>,
    pub tables: Vec<SeedResource>,
    pub db_instances: Vec<SeedResource>,
    pub queues: Vec<SeedResource>,
    pub topics: Vec<SeedResource>,
}

#[derive(Debug, Deserialize)]
pub struct SeedResource {
    #[serde(default)]
    pub name: String,
    /// The id the sample events use where the emulator assigns its own (EC2 ids).
    #[serde(default)]
    pub sample_id: Option<String>,
    /// The resource id (`db-...`) the sample events use for an RDS instance.
    #[serde(default)]
    pub sample_resource_id: Option<String>,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// Sample id → the id moto assigned, for every id the sample events use that moto chooses
/// itself (EC2 ids, access key ids, IAM unique ids, RDS resource ids).
#[derive(Debug, Default, Clone)]
pub struct IdMap {
    pub pairs: BTreeMap<String, String>,
}

impl IdMap {
    fn add(&mut self, sample: &str, real: impl Into<String>) {
        self.pairs.insert(sample.to_string(), real.into());
    }

    /// The emulator's id for a sample id.
    pub fn real<'a>(&'a self, sample: &'a str) -> &'a str {
        self.pairs.get(sample).map(String::as_str).unwrap_or(sample)
    }

    /// A sample event with every sample id replaced by the emulator's.
    pub fn rewrite(&self, event: &[u8]) -> Vec<u8> {
        let mut text = String::from_utf8_lossy(event).into_owned();
        for (sample, real) in &self.pairs {
            text = text.replace(sample.as_str(), real);
        }
        text.into_bytes()
    }
}

#[derive(Debug, Deserialize)]
pub struct SeedPolicy {
    pub name: String,
    /// The policy id (`ANPA...`) the sample events use.
    #[serde(default)]
    pub sample_id: Option<String>,
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
    /// The unique id (`AIDA...`) the sample events use.
    #[serde(default)]
    pub sample_id: Option<String>,
    /// Sample ids of the access keys to create (each maps to the key moto creates).
    #[serde(default)]
    pub access_keys: Vec<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
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

    /// Creates every policy, user, role and group, with attachments and inline policies, the
    /// taggable resources, and enables Security Hub. Returns the sample id → emulator id map.
    pub async fn seed(&self, sdk: &SdkConfig) -> IdMap {
        let mut ids = IdMap::default();
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
                .expect("policy");
            if let (Some(sample), Some(real)) = (&p.sample_id, &arn.policy_id) {
                ids.add(sample, real);
            }
            let arn = arn.arn.expect("policy arn");
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
            let tags: Vec<aws_sdk_iam::types::Tag> = u
                .tags
                .iter()
                .map(|(k, v)| aws_sdk_iam::types::Tag::builder().key(k).value(v).build().expect("tag"))
                .collect();
            let user = iam
                .create_user()
                .user_name(&u.name)
                .set_tags(Some(tags).filter(|t| !t.is_empty()))
                .send()
                .await
                .expect("create user");
            if let (Some(sample), Some(real)) = (&u.sample_id, user.user) {
                ids.add(sample, real.user_id);
            }
            for sample in &u.access_keys {
                let key = iam
                    .create_access_key()
                    .user_name(&u.name)
                    .send()
                    .await
                    .expect("create access key")
                    .access_key
                    .expect("access key");
                ids.add(sample, key.access_key_id);
            }
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
        self.seed_resources(sdk, &mut ids).await;
        let hub = aws_sdk_securityhub::Client::new(sdk);
        hub.enable_security_hub().send().await.expect("enable Security Hub");
        ids
    }

    async fn seed_resources(&self, sdk: &SdkConfig, ids: &mut IdMap) {
        let r = &self.resources;
        let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(sdk).force_path_style(true).build());
        for b in &r.buckets {
            s3.create_bucket().bucket(&b.name).send().await.expect("create bucket");
            if !b.tags.is_empty() {
                let tags = b
                    .tags
                    .iter()
                    .map(|(k, v)| aws_sdk_s3::types::Tag::builder().key(k).value(v).build().expect("tag"))
                    .collect();
                s3.put_bucket_tagging()
                    .bucket(&b.name)
                    .tagging(
                        aws_sdk_s3::types::Tagging::builder()
                            .set_tag_set(Some(tags))
                            .build()
                            .expect("tagging"),
                    )
                    .send()
                    .await
                    .expect("tag bucket");
            }
        }
        let ec2 = aws_sdk_ec2::Client::new(sdk);
        let ec2_tags = |kind: aws_sdk_ec2::types::ResourceType, tags: &BTreeMap<String, String>| {
            aws_sdk_ec2::types::TagSpecification::builder()
                .resource_type(kind)
                .set_tags(Some(
                    tags.iter()
                        .map(|(k, v)| aws_sdk_ec2::types::Tag::builder().key(k).value(v).build())
                        .collect(),
                ))
                .build()
        };
        let image = ec2
            .describe_images()
            .owners("amazon")
            .send()
            .await
            .expect("describe images")
            .images
            .unwrap_or_default()
            .into_iter()
            .find_map(|i| i.image_id)
            .expect("moto ships AMIs");
        for i in &r.instances {
            let mut run = ec2
                .run_instances()
                .image_id(&image)
                .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
                .min_count(1)
                .max_count(1);
            if !i.tags.is_empty() {
                run = run.tag_specifications(ec2_tags(aws_sdk_ec2::types::ResourceType::Instance, &i.tags));
            }
            let id = run.send().await.expect("run instance").instances.unwrap_or_default()[0]
                .instance_id
                .clone()
                .expect("instance id");
            ids.add(i.sample_id.as_deref().expect("instances have a sample_id"), id);
        }
        for v in &r.volumes {
            let id = ec2
                .create_volume()
                .availability_zone(format!("{REGION}a"))
                .size(20)
                .send()
                .await
                .expect("create volume")
                .volume_id
                .expect("volume id");
            ids.add(v.sample_id.as_deref().expect("volumes have a sample_id"), id);
        }
        for g in &r.security_groups {
            let id = ec2
                .create_security_group()
                .group_name(&g.name)
                .description("seeded")
                .send()
                .await
                .expect("create security group")
                .group_id
                .expect("group id");
            ids.add(g.sample_id.as_deref().expect("security groups have a sample_id"), id);
        }
        let lambda = aws_sdk_lambda::Client::new(sdk);
        for f in &r.functions {
            // The smallest valid zip archive (an empty one).
            let mut zip = b"PK\x05\x06".to_vec();
            zip.extend([0u8; 18]);
            lambda
                .create_function()
                .function_name(&f.name)
                .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
                .handler("bootstrap")
                .role(format!(
                    "arn:aws:iam::{ACCOUNT}:role/{}",
                    f.role.as_deref().expect("functions have a role")
                ))
                .code(
                    aws_sdk_lambda::types::FunctionCode::builder()
                        .zip_file(aws_sdk_lambda::primitives::Blob::new(zip))
                        .build(),
                )
                .set_tags(Some(f.tags.clone().into_iter().collect()))
                .send()
                .await
                .expect("create function");
        }
        let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
        for t in &r.tables {
            use aws_sdk_dynamodb::types::{
                AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
            };
            dynamodb
                .create_table()
                .table_name(&t.name)
                .attribute_definitions(
                    AttributeDefinition::builder()
                        .attribute_name("pk")
                        .attribute_type(ScalarAttributeType::S)
                        .build()
                        .expect("attribute"),
                )
                .key_schema(
                    KeySchemaElement::builder()
                        .attribute_name("pk")
                        .key_type(KeyType::Hash)
                        .build()
                        .expect("key"),
                )
                .billing_mode(BillingMode::PayPerRequest)
                .send()
                .await
                .expect("create table");
        }
        let rds = aws_sdk_rds::Client::new(sdk);
        for d in &r.db_instances {
            let db = rds
                .create_db_instance()
                .db_instance_identifier(&d.name)
                .db_instance_class("db.t4g.micro")
                .engine("postgres")
                .allocated_storage(20)
                .master_username("app")
                .master_user_password("not-a-real-password-1")
                .set_tags(Some(
                    d.tags
                        .iter()
                        .map(|(k, v)| aws_sdk_rds::types::Tag::builder().key(k).value(v).build())
                        .collect(),
                ))
                .send()
                .await
                .expect("create db instance")
                .db_instance
                .expect("db instance");
            if let (Some(sample), Some(real)) = (&d.sample_resource_id, db.dbi_resource_id) {
                ids.add(sample, real);
            }
        }
        let sqs = aws_sdk_sqs::Client::new(sdk);
        for q in &r.queues {
            sqs.create_queue()
                .queue_name(&q.name)
                .set_tags(Some(q.tags.clone().into_iter().collect()))
                .send()
                .await
                .expect("create queue");
        }
        let sns = aws_sdk_sns::Client::new(sdk);
        for t in &r.topics {
            sns.create_topic().name(&t.name).send().await.expect("create topic");
        }
    }
}

/// Every source kind (the functions each take one; the in-process tests take all).
pub const ALL_SOURCES: &[SourceKind] = &[SourceKind::CloudTrail, SourceKind::Config, SourceKind::GuardDuty];

/// A responder over the real SDK adapters, pointed at `sdk`. moto has no `BatchUpdateFindings`,
/// so GuardDuty findings are not annotated here (the GuardDuty tests cover that call with
/// aws-smithy-mocks).
pub fn responder(sdk: &SdkConfig, mode: Mode) -> Responder {
    let config = Config {
        mode,
        annotate_source_findings: false,
        ..Config::default()
    };
    Responder::from_sdk_config(config, ALL_SOURCES, sdk)
}

/// A responder with settings read as the functions read them (`Config::from_lookup` over
/// `vars`), with GuardDuty annotation off (moto has no `BatchUpdateFindings`).
pub fn responder_with_env(sdk: &SdkConfig, vars: &[(&str, &str)]) -> Responder {
    let config = Config::from_lookup(|k| vars.iter().find(|(name, _)| *name == k).map(|(_, v)| v.to_string()))
        .expect("valid test settings");
    Responder::from_sdk_config(
        Config {
            annotate_source_findings: false,
            ..config
        },
        ALL_SOURCES,
        sdk,
    )
}

/// Reads back IAM and Security Hub state.
pub struct Inspect {
    iam: aws_sdk_iam::Client,
    hub: aws_sdk_securityhub::Client,
    tagging: aws_sdk_resourcegroupstagging::Client,
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
            tagging: aws_sdk_resourcegroupstagging::Client::new(sdk),
        }
    }

    /// A resource's tags, read through the Resource Groups Tagging API (`GetResources`), which
    /// the responder itself never reads with: empty when the resource has none.
    pub async fn tags(&self, arn: &str) -> BTreeMap<String, String> {
        self.tagging
            .get_resources()
            .resource_arn_list(arn)
            .send()
            .await
            .expect("get resources")
            .resource_tag_mapping_list
            .unwrap_or_default()
            .into_iter()
            .filter(|m| m.resource_arn.as_deref() == Some(arn))
            .flat_map(|m| m.tags.unwrap_or_default())
            .map(|t| (t.key, t.value))
            .collect()
    }

    /// A user's access keys and their status (`Active` / `Inactive`).
    pub async fn access_keys(&self, user: &str) -> BTreeMap<String, String> {
        self.iam
            .list_access_keys()
            .user_name(user)
            .send()
            .await
            .expect("list access keys")
            .access_key_metadata
            .into_iter()
            .map(|k| {
                (
                    k.access_key_id.unwrap_or_default(),
                    k.status.map(|s| s.as_str().to_string()).unwrap_or_default(),
                )
            })
            .collect()
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

/// A seeded emulator, ready for replays.
pub struct Env {
    pub moto: Moto,
    pub sdk: SdkConfig,
    pub inspect: Inspect,
    pub ids: IdMap,
}

impl Env {
    /// Starts moto and seeds the sandbox.
    pub async fn seeded() -> Env {
        let moto = Moto::start();
        let sdk = moto.sdk_config().await;
        let ids = Sandbox::load().seed(&sdk).await;
        let inspect = Inspect::new(&sdk);
        Env {
            moto,
            sdk,
            inspect,
            ids,
        }
    }

    /// A sample event (`events/<path>`) with its sample ids mapped to the emulator's.
    pub fn event(&self, path: &str) -> Vec<u8> {
        let bytes = std::fs::read(repo_root().join("events").join(path)).expect("sample event");
        self.ids.rewrite(&bytes)
    }

    /// Replays a sample event through `responder`; returns the report and the writes moto saw,
    /// as `service:Operation`.
    pub async fn replay_with(&self, responder: &Responder, path: &str) -> (compliance_responder::Report, Vec<String>) {
        self.replay_bytes(responder, &self.event(path)).await
    }

    /// Replays any payload through `responder`; returns the report and the writes moto saw.
    pub async fn replay_bytes(
        &self,
        responder: &Responder,
        bytes: &[u8],
    ) -> (compliance_responder::Report, Vec<String>) {
        self.moto.start_recording();
        let report = responder.handle_bytes(bytes).await;
        let writes = self
            .moto
            .recorded_calls()
            .iter()
            .filter(|c| c.is_write())
            .map(|c| format!("{}:{}", c.service, c.operation))
            .collect();
        (report, writes)
    }

    /// Replays a sample event in `mode` with the default configuration.
    pub async fn replay(&self, path: &str, mode: Mode) -> (compliance_responder::Report, Vec<String>) {
        self.replay_with(&responder(&self.sdk, mode), path).await
    }
}

/// The writes a successful remediation makes: the FAILED finding, the fix, the PASSED update.
pub fn record_fix_update(fix: &[&str]) -> Vec<String> {
    let mut want = vec!["securityhub:BatchImportFindings".to_string()];
    want.extend(fix.iter().map(|c| c.to_string()));
    want.push("securityhub:BatchImportFindings".into());
    want
}

/// SDK configuration as the functions build it (bounded retries and timeouts from `config`),
/// pointed at `endpoint` (moto, or the fault proxy in front of it).
pub async fn sdk_config_for(endpoint: &str, config: &Config) -> SdkConfig {
    compliance_responder::lambda::sdk_loader(config)
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_iam::config::Credentials::new(
            "testing", "testing", None, None, "moto",
        ))
        .load()
        .await
}
