//! Test and demo harness: one moto AWS emulator per test binary (started on first use on a free
//! loopback port, ended with the binary), one AWS account of it per test (moto keeps its state
//! per account; STS credentials of an assumed role select the account), a proxy per test in front
//! of it that records that test's calls and injects faults (`proxy.rs`), the sandbox account the
//! sample events refer to, and read-backs of IAM, tags and Security Hub.
//!
//! Tests of one binary run in parallel on the one emulator and never see each other's state: no
//! reset, no shared account, no shared recorder.

pub mod contract;
pub mod proxy;

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
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
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

/// The command that runs moto's server: the tools venv's Python with `tests/moto/server.py`
/// (moto's own server, with AWS-managed policies set up once per server instead of once per
/// account and partition; see that file). `MOTO_PYTHON` names another Python with moto installed.
fn moto_command() -> Command {
    let python = std::env::var_os("MOTO_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".tools/venv/bin/python"));
    assert!(
        python.exists(),
        "{} not found: run `make tools` (scripts/install-tools.sh) first",
        python.display()
    );
    let mut command = Command::new(python);
    command.arg(repo_root().join("tests/moto/server.py"));
    command
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
    /// Starts moto with AWS-managed IAM policies loaded and waits until it answers. Stopped when
    /// the returned value is dropped.
    pub fn start() -> Moto {
        Moto::spawn(false)
    }

    /// An emulator the tests of this binary share. A small pool is started on first use, one
    /// server per core (moto serves requests on one core: Python's global lock), each from a
    /// thread that lives as long as the process and with a parent-death signal, so the servers
    /// end with the test binary (also when a test panics or the binary is killed). Each call
    /// hands out the next server in turn; a test keeps every account of its own on the one it
    /// got ([`Env::moto`]). Tests share the servers through accounts of their own ([`Env`]),
    /// never through their state.
    pub fn shared() -> &'static Moto {
        static POOL: OnceLock<Vec<Moto>> = OnceLock::new();
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let pool = POOL.get_or_init(|| {
            let size = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 4));
            let (tx, rx) = std::sync::mpsc::channel();
            for i in 0..size {
                let tx = tx.clone();
                std::thread::Builder::new()
                    .name(format!("moto-parent-{i}"))
                    .spawn(move || {
                        tx.send(Moto::spawn(true)).expect("hand over moto");
                        // The parent-death signal fires when the *thread* that spawned the
                        // child ends: this one parks for the life of the process.
                        loop {
                            std::thread::park();
                        }
                    })
                    .expect("spawn moto parent thread");
            }
            rx.iter().take(size).collect()
        });
        let i = NEXT.fetch_add(1, Ordering::Relaxed) as usize % pool.len();
        &pool[i]
    }

    fn spawn(die_with_parent: bool) -> Moto {
        for _ in 0..3 {
            let port = free_port();
            let dir = std::env::temp_dir().join(format!("compliance-responder-moto-{}-{port}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("create moto work dir");
            let mut command = moto_command();
            command
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
                .current_dir(&dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            if die_with_parent {
                use std::os::unix::process::CommandExt;
                // SAFETY: prctl is async-signal-safe and touches only the child's own state.
                unsafe {
                    command.pre_exec(|| {
                        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                        Ok(())
                    });
                }
            }
            let child = command.spawn().expect("spawn moto_server");
            let mut moto = Moto { child, port, dir };
            let deadline = Instant::now() + Duration::from_secs(60);
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
    /// The access key that signed it (which credentials, own or assumed, made the call).
    pub access_key: String,
}

impl ApiCall {
    /// The call a raw HTTP/1.1 request (as the SDK sends it) makes: the service from the SigV4
    /// credential scope, the operation from the query API's `Action`, the JSON protocols'
    /// `X-Amz-Target`, or the REST path.
    pub fn from_http(raw: &str) -> Option<ApiCall> {
        let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw, ""));
        let mut lines = head.split("\r\n");
        let mut request_line = lines.next()?.split(' ');
        let method = request_line.next()?;
        let target = request_line.next()?;
        let header = |name: &str| {
            head.split("\r\n").skip(1).find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
            })
        };
        let credential = header("authorization")?.split("Credential=").nth(1)?;
        let access_key = credential.split('/').next()?.to_string();
        let service = credential.split('/').nth(3)?.to_string();
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let form_action = body
            .split('&')
            .chain(query.split('&'))
            .find_map(|kv| kv.strip_prefix("Action="))
            .map(str::to_string);
        let operation = if let Some(a) = form_action {
            a
        } else if let Some(t) = header("x-amz-target") {
            t.rsplit('.').next().unwrap_or(t).to_string()
        } else {
            match (service.as_str(), path) {
                ("securityhub", "/findings/import") => "BatchImportFindings".into(),
                ("securityhub", "/findings/batchupdate") => "BatchUpdateFindings".into(),
                ("securityhub", "/findings") => "GetFindings".into(),
                ("securityhub", "/accounts") => "EnableSecurityHub".into(),
                _ => format!("{method} {path}"),
            }
        };
        Some(ApiCall {
            service,
            operation,
            request: format!("{method} {target} {body}"),
            access_key,
        })
    }

    /// True for calls that change state.
    pub fn is_write(&self) -> bool {
        let read = ["Get", "List", "Describe", "BatchGet", "GET ", "HEAD "]
            .iter()
            .any(|p| self.operation.starts_with(p));
        !read
    }
}

/// The sandbox account, as `tests/fixtures/sandbox.json` describes it.
#[derive(Debug, Deserialize)]
pub struct Sandbox {
    /// The account it is seeded into (every ARN in the file names it).
    #[serde(skip)]
    pub account: String,
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
    /// Versions created after the default without `setAsDefault` (dormant grants).
    #[serde(default)]
    pub dormant: Vec<Value>,
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
    /// The sandbox as described, in the samples' account ([`ACCOUNT`]).
    pub fn load() -> Sandbox {
        Sandbox::load_for(ACCOUNT)
    }

    /// The sandbox with every mention of the samples' account replaced by `account`.
    pub fn load_for(account: &str) -> Sandbox {
        let text = std::fs::read_to_string(repo_root().join("tests/fixtures/sandbox.json")).expect("sandbox.json");
        let mut sandbox: Sandbox =
            serde_json::from_str(&text.replace(ACCOUNT, account)).expect("sandbox.json is valid");
        sandbox.account = account.to_string();
        sandbox
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
            for doc in &p.dormant {
                iam.create_policy_version()
                    .policy_arn(&arn)
                    .policy_document(doc.to_string())
                    .set_as_default(false)
                    .send()
                    .await
                    .expect("create a non-default policy version");
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
            // Bucket names are global (across accounts, in moto as in AWS): outside the samples'
            // own account each gets the account id as a suffix, and the events are mapped to it.
            let name = if self.account == ACCOUNT {
                b.name.clone()
            } else {
                let name = format!("{}-{}", b.name, self.account);
                ids.add(&b.name, name.clone());
                name
            };
            s3.create_bucket().bucket(&name).send().await.expect("create bucket");
            if !b.tags.is_empty() {
                let tags = b
                    .tags
                    .iter()
                    .map(|(k, v)| aws_sdk_s3::types::Tag::builder().key(k).value(v).build().expect("tag"))
                    .collect();
                s3.put_bucket_tagging()
                    .bucket(&name)
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
        // moto's AMIs are the same in every account and the list is large: read it once per
        // server.
        static IMAGES: std::sync::Mutex<BTreeMap<String, String>> = std::sync::Mutex::new(BTreeMap::new());
        let endpoint = sdk.endpoint_url().unwrap_or_default().to_string();
        let cached = IMAGES.lock().unwrap().get(&endpoint).cloned();
        let image = match cached {
            Some(id) => id,
            None => {
                let id = ec2
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
                IMAGES.lock().unwrap().insert(endpoint, id.clone());
                id
            }
        };
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
                    "arn:aws:iam::{}:role/{}",
                    self.account,
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
pub const ALL_SOURCES: &[SourceKind] = &[
    SourceKind::CloudTrail,
    SourceKind::ResourceCreation,
    SourceKind::Config,
    SourceKind::GuardDuty,
    SourceKind::HubAction,
];

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
/// `vars`), with GuardDuty annotation off unless `vars` sets `ANNOTATE_SOURCE_FINDINGS` (the
/// proxy answers `BatchUpdateFindings` only for findings a test seeded with
/// [`proxy::Proxy::seed_finding`]).
pub fn responder_with_env(sdk: &SdkConfig, vars: &[(&str, &str)]) -> Responder {
    responder_for(sdk, vars, ALL_SOURCES)
}

/// [`responder_with_env`] for the functions that take only `sources` (the audit function:
/// `SourceKind::Audit`).
pub fn responder_for(sdk: &SdkConfig, vars: &[(&str, &str)], sources: &[SourceKind]) -> Responder {
    let config = Config::from_lookup(|k| vars.iter().find(|(name, _)| *name == k).map(|(_, v)| v.to_string()))
        .expect("valid test settings");
    let annotate = vars.iter().any(|(k, _)| *k == "ANNOTATE_SOURCE_FINDINGS") && config.annotate_source_findings;
    Responder::from_sdk_config(
        Config {
            annotate_source_findings: annotate,
            ..config
        },
        sources,
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
    pub description: String,
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
        let document = self.version_document(arn, &default).await;
        (versions, document)
    }

    /// One version's document of a managed policy, decoded and parsed.
    pub async fn version_document(&self, arn: &str, version_id: &str) -> Value {
        let raw = self
            .iam
            .get_policy_version()
            .policy_arn(arn)
            .version_id(version_id)
            .send()
            .await
            .unwrap()
            .policy_version
            .and_then(|v| v.document)
            .unwrap_or_default();
        let text = compliance_responder::policy::decode(&raw).expect("decodable");
        serde_json::from_str(&text).expect("JSON")
    }

    /// Every version of a managed policy as (is default, document), sorted: two policies with the
    /// same versions compare equal whatever ids IAM gave them.
    pub async fn version_documents(&self, arn: &str) -> Vec<(bool, String)> {
        let listed = self.iam.list_policy_versions().policy_arn(arn).send().await.unwrap();
        let mut out = Vec::new();
        for v in listed.versions.unwrap_or_default() {
            let id = v.version_id.unwrap_or_default();
            out.push((v.is_default_version, self.version_document(arn, &id).await.to_string()));
        }
        out.sort();
        out
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
                description: f.description.clone().unwrap_or_default(),
            })
            .collect()
    }
}

/// Accounts handed out by [`Account::create`]: unique within a test binary (and so within its
/// emulator), and far from the samples' own and the ones the samples name (111122223333, ...).
static NEXT_ACCOUNT: AtomicU64 = AtomicU64::new(700_000_000_000);

/// One AWS account of the shared emulator: its id and the credentials that select it (moto maps
/// an assumed role's access key to the account in the role's ARN).
#[derive(Debug, Clone)]
pub struct Account {
    pub id: String,
    pub credentials: aws_sdk_iam::config::Credentials,
}

impl Account {
    /// A new account of `moto`, never handed out before in this process.
    pub async fn create(moto: &Moto) -> Account {
        let id = NEXT_ACCOUNT.fetch_add(1, Ordering::Relaxed).to_string();
        let sts = aws_sdk_sts::Client::new(&moto.sdk_config().await);
        let out = sts
            .assume_role()
            .role_arn(format!("arn:aws:iam::{id}:role/integration-test"))
            .role_session_name("integration-test")
            .send()
            .await
            .expect("AssumeRole on moto")
            .credentials
            .expect("credentials");
        Account {
            credentials: aws_sdk_iam::config::Credentials::new(
                out.access_key_id,
                out.secret_access_key,
                Some(out.session_token),
                None,
                "moto-account",
            ),
            id,
        }
    }

    /// SDK configuration for this account at `endpoint`: the SDK's defaults (standard retries,
    /// no timeouts: a loaded emulator is slow, never wrong, and a timed-out write that is retried
    /// would be sent twice).
    pub async fn plain_sdk_config(&self, endpoint: &str) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(endpoint)
            .credentials_provider(self.credentials.clone())
            .load()
            .await
    }

    /// SDK configuration for this account at `endpoint`, with the function's retry and timeout
    /// settings from `config`.
    pub async fn sdk_config(&self, endpoint: &str, config: &Config) -> SdkConfig {
        compliance_responder::lambda::sdk_loader(config)
            .region(Region::new(REGION))
            .endpoint_url(endpoint)
            .credentials_provider(self.credentials.clone())
            .load()
            .await
    }

    /// Environment for a child process (a Lambda binary, the CLI) acting in this account through
    /// `endpoint`.
    pub fn child_env(&self, endpoint: &str) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", endpoint.to_string()),
            ("AWS_ACCESS_KEY_ID", self.credentials.access_key_id().to_string()),
            (
                "AWS_SECRET_ACCESS_KEY",
                self.credentials.secret_access_key().to_string(),
            ),
            (
                "AWS_SESSION_TOKEN",
                self.credentials.session_token().unwrap_or_default().to_string(),
            ),
            ("AWS_REGION", REGION.into()),
            ("AWS_DEFAULT_REGION", REGION.into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

/// One test's world: an account of the shared emulator of its own, a proxy in front of the
/// emulator that records this test's calls (and injects faults), and read-backs that go straight
/// to the emulator (never recorded).
pub struct Env {
    pub moto: &'static Moto,
    pub proxy: proxy::Proxy,
    pub account: Account,
    /// Through the proxy: what the responder uses.
    pub sdk: SdkConfig,
    /// Straight to the emulator: seeding and inspection.
    pub direct: SdkConfig,
    pub inspect: Inspect,
    /// Sample ids → this account's ids (the samples' account id included).
    pub ids: IdMap,
}

impl Env {
    /// A new, empty account (Security Hub enabled) on the shared emulator.
    pub async fn empty() -> Env {
        let moto = Moto::shared();
        let account = Account::create(moto).await;
        let proxy = proxy::Proxy::start(moto.port);
        proxy.register(account.credentials.access_key_id(), &account.id);
        let sdk = account.plain_sdk_config(&proxy.endpoint()).await;
        let direct = account.plain_sdk_config(&moto.endpoint()).await;
        aws_sdk_securityhub::Client::new(&direct)
            .enable_security_hub()
            .send()
            .await
            .expect("enable Security Hub");
        let mut ids = IdMap::default();
        ids.add(ACCOUNT, account.id.clone());
        Env {
            moto,
            proxy,
            inspect: Inspect::new(&direct),
            account,
            sdk,
            direct,
            ids,
        }
    }

    /// A new account with the sandbox seeded.
    pub async fn seeded() -> Env {
        let mut env = Env::empty().await;
        let ids = Sandbox::load_for(&env.account.id).seed(&env.direct).await;
        env.ids.pairs.extend(ids.pairs);
        env
    }

    /// The access key this test's own calls (and an in-process responder's) are signed with.
    pub fn access_key(&self) -> String {
        self.account.credentials.access_key_id().to_string()
    }

    /// This test's account id.
    pub fn account_id(&self) -> &str {
        &self.account.id
    }

    /// SDK configuration through this test's proxy with the function's retry and timeout
    /// settings from `config`.
    pub async fn sdk_config_for(&self, config: &Config) -> SdkConfig {
        self.account.sdk_config(&self.proxy.endpoint(), config).await
    }

    /// Environment for a child process acting in this account through the proxy.
    pub fn child_env(&self) -> Vec<(String, String)> {
        self.account.child_env(&self.proxy.endpoint())
    }

    /// A new member account of the same emulator, Security Hub enabled, with IAM user `user`
    /// holding AdministratorAccess: the account and a configuration straight to the emulator.
    pub async fn member_with_admin_user(&self, user: &str) -> (Account, SdkConfig) {
        let member = Account::create(self.moto).await;
        let sdk = member.plain_sdk_config(&self.moto.endpoint()).await;
        aws_sdk_securityhub::Client::new(&sdk)
            .enable_security_hub()
            .send()
            .await
            .expect("enable Security Hub");
        let iam = aws_sdk_iam::Client::new(&sdk);
        iam.create_user().user_name(user).send().await.expect("create user");
        iam.attach_user_policy()
            .user_name(user)
            .policy_arn("arn:aws:iam::aws:policy/AdministratorAccess")
            .send()
            .await
            .expect("attach AdministratorAccess");
        (member, sdk)
    }

    /// Puts (or overwrites) a String SSM parameter in this account, straight to the emulator.
    pub async fn put_parameter(&self, name: &str, value: &str) {
        aws_sdk_ssm::Client::new(&self.direct)
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .overwrite(true)
            .send()
            .await
            .expect("put parameter");
    }

    /// Starts recording the calls that reach the emulator through this test's proxy.
    pub fn start_recording(&self) {
        self.proxy.start_recording();
    }

    /// Stops recording; the calls since [`Env::start_recording`].
    pub fn recorded_calls(&self) -> Vec<ApiCall> {
        self.proxy.recorded_calls()
    }

    /// A sample event (`events/<path>`) with its sample ids mapped to the emulator's.
    pub fn event(&self, path: &str) -> Vec<u8> {
        let bytes = std::fs::read(repo_root().join("events").join(path)).expect("sample event");
        self.ids.rewrite(&bytes)
    }

    /// A Security Hub custom-action sample (`events/securityhub/`) with its ids mapped to the
    /// emulator's. This product's finding ids are derived from the rule and the resource key,
    /// which name the account and resources: mapping the ids changes the key, so each of this
    /// product's finding ids (and its `aws/securityhub/FindingId`) is derived again, as the
    /// responder derived it when it recorded the finding.
    pub fn hub_event(&self, path: &str) -> Vec<u8> {
        let mut event: Value = serde_json::from_slice(&self.event(path)).expect("sample event is JSON");
        for f in event["detail"]["findings"].as_array_mut().expect("detail.findings") {
            let Some(key) = f["ProductFields"]["compliance-responder/ResourceKey"].as_str() else {
                continue;
            };
            let id = compliance_responder::asff::finding_id_in(
                f["Region"].as_str().unwrap_or_default(),
                f["AwsAccountId"].as_str().unwrap_or_default(),
                f["GeneratorId"].as_str().unwrap_or_default(),
                key,
            );
            let product = f["ProductArn"].as_str().unwrap_or_default().to_string();
            f["ProductFields"]["aws/securityhub/FindingId"] = Value::String(format!("{product}/{id}"));
            f["Id"] = Value::String(id);
        }
        serde_json::to_vec(&event).unwrap()
    }

    /// A CloudTrail sample (`events/<path>`) as a member account's: its account, recipient
    /// account and caller's account set to `account`.
    pub fn member_event(&self, path: &str, account: &str) -> Vec<u8> {
        let mut e: Value = serde_json::from_slice(&self.event(path)).expect("sample event is JSON");
        e["account"] = account.into();
        e["detail"]["recipientAccountId"] = account.into();
        e["detail"]["userIdentity"]["accountId"] = account.into();
        serde_json::to_vec(&e).unwrap()
    }

    /// An S3 client of this account, straight to moto (path-style, as moto needs).
    pub fn s3(&self) -> aws_sdk_s3::Client {
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&self.direct)
                .force_path_style(true)
                .build(),
        )
    }

    /// Creates an S3 bucket in this account (the undo record bucket of a test).
    pub async fn create_bucket(&self, name: &str) {
        self.s3()
            .create_bucket()
            .bucket(name)
            .send()
            .await
            .expect("create bucket");
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
        self.start_recording();
        let report = responder.handle_bytes(bytes).await;
        let writes = self
            .recorded_calls()
            .iter()
            .filter(|c| c.is_write())
            .map(|c| format!("{}:{}", c.service, c.operation))
            .collect();
        (report, writes)
    }

    /// The role ARNs the recorded calls assumed with STS, in order (the responder's member
    /// roles, the undo role).
    pub fn assumed_roles(&self) -> Vec<String> {
        self.recorded_calls()
            .iter()
            .filter(|c| c.service == "sts" && c.operation == "AssumeRole")
            .filter_map(|c| {
                let body = c.request.split_once("RoleArn=")?.1;
                let arn = body.split('&').next()?;
                Some(
                    percent_encoding::percent_decode_str(arn)
                        .decode_utf8_lossy()
                        .into_owned(),
                )
            })
            .collect()
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

/// Runs `test` on its own current-thread runtime on an 8 MB stack: the member-account path's
/// nested credential providers (STS inside the clients' calls) go deeper than the 2 MB default
/// of test threads in debug builds.
pub fn on_big_stack<F: std::future::Future<Output = ()> + Send + 'static>(test: F) {
    std::thread::Builder::new()
        .stack_size(8 * 1024 * 1024)
        .spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(test)
        })
        .unwrap()
        .join()
        .unwrap();
}
