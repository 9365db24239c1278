//! The test's own door to the shared emulator: a small HTTP proxy on 127.0.0.1 in front of moto,
//! one per test. Every call the responder makes in a test goes through it, so it can
//!
//! - **record** the calls of this test only (moto's own recorder is global to the server, which
//!   every test of a binary shares; the proxy sees only its own test's traffic);
//! - **inject faults**: requests whose text (request line, headers, body) contains a needle get a
//!   throttling error, a 5xx, a dropped connection or extra latency, a given number of times or
//!   always;
//! - count every request, so tests can count the attempts a call took;
//! - **enforce AWS's documented rules that moto lacks** ([`crate::contract`]): Security Hub imports
//!   only for the caller's own account and region, at most 100 findings per request and 240 KB
//!   per finding, stale `UpdatedAt` ignored; and `BatchUpdateFindings`, which moto lacks, answered
//!   by the proxy under AWS's rules (a finding's own account or its administrator, in the
//!   finding's region). Every emulator test goes through it;
//! - **speak AWS's wire format where moto does not**: AWS Config timestamps, which moto writes as
//!   text and the SDK (rightly) refuses, are sent as epoch seconds; IAM's
//!   `GetAccountAuthorizationDetails` comes in pages of `MaxItems` (default 100), as from AWS.
//!
//! It runs on a thread of its own (with its own single-threaded runtime), so a test that blocks
//! its thread (waiting for a child process) never stalls it. Everything not faulted is forwarded
//! to moto unchanged.

use crate::contract::{self, Contract, Decision};
use crate::ApiCall;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What to do to a matching request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The service's throttling error (`Throttling` for query APIs, `ThrottlingException` + 429
    /// for JSON APIs).
    Throttle,
    /// HTTP 500 `InternalFailure`.
    ServerError,
    /// Close the connection without answering.
    Drop,
    /// Forward, after this delay.
    Delay(Duration),
}

#[derive(Debug, Clone)]
struct Rule {
    needle: String,
    fault: Fault,
    /// `None`: every time.
    remaining: Option<usize>,
}

#[derive(Default)]
struct State {
    rules: Vec<Rule>,
    /// Every request's text, faulted or not.
    requests: Vec<String>,
    recording: bool,
    recorded: Vec<ApiCall>,
    contract: Contract,
    /// Days IAM's access key dates are moved back by ([`Proxy::age_access_keys`]).
    key_age_days: Option<i64>,
}

/// The running proxy; stops when dropped.
pub struct Proxy {
    pub port: u16,
    state: Arc<Mutex<State>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Proxy {
    /// Starts a proxy to the server on `127.0.0.1:upstream`.
    pub fn start(upstream: u16) -> Proxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        listener.set_nonblocking(true).expect("non-blocking listener");
        let port = listener.local_addr().expect("proxy address").port();
        let state: Arc<Mutex<State>> = Arc::default();
        let shared = state.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name(format!("proxy-{port}"))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("proxy runtime");
                rt.block_on(async move {
                    let listener = TcpListener::from_std(listener).expect("proxy listener");
                    let accept = async {
                        while let Ok((client, _)) = listener.accept().await {
                            let state = shared.clone();
                            tokio::spawn(async move {
                                let _ = serve(client, upstream, state).await;
                            });
                        }
                    };
                    tokio::select! {
                        _ = accept => {}
                        _ = stopped => {}
                    }
                });
            })
            .expect("spawn proxy thread");
        Proxy {
            port,
            state,
            stop: Some(stop),
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Applies `fault` to requests containing `needle`, `times` times (`None`: always).
    pub fn inject(&self, needle: &str, fault: Fault, times: Option<usize>) {
        self.state.lock().unwrap().rules.push(Rule {
            needle: needle.to_string(),
            fault,
            remaining: times,
        });
    }

    /// Removes every injected fault (the service is back).
    pub fn clear(&self) {
        self.state.lock().unwrap().rules.clear();
    }

    /// How many requests contained `needle` (faulted or not).
    pub fn count(&self, needle: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .requests
            .iter()
            .filter(|r| r.contains(needle))
            .count()
    }

    /// Answers as if every access key had been created, and last used, `days` earlier than moto
    /// says (`ListAccessKeys`' `CreateDate`, `GetAccessKeyLastUsed`'s `LastUsedDate`). moto creates
    /// a key now and cannot backdate one; this is the only way a test sees an old key.
    pub fn age_access_keys(&self, days: i64) {
        self.state.lock().unwrap().key_age_days = Some(days);
    }

    /// Credentials with access key `key` act in `account` (what moto does with them too).
    pub fn register(&self, key: &str, account: &str) {
        self.state.lock().unwrap().contract.register(key, account);
    }

    /// Security Hub holds another product's finding (what GuardDuty's integration imports), so
    /// `BatchUpdateFindings` can find it.
    pub fn seed_finding(&self, product_arn: &str, id: &str, account: &str, region: &str) {
        self.state
            .lock()
            .unwrap()
            .contract
            .seed_finding(product_arn, id, account, region);
    }

    /// `admin` is the Security Hub administrator of `member`.
    pub fn register_administrator(&self, admin: &str, member: &str) {
        self.state
            .lock()
            .unwrap()
            .contract
            .register_administrator(admin, member);
    }

    /// The `BatchUpdateFindings` changes accepted so far.
    pub fn finding_updates(&self) -> Vec<contract::FindingUpdate> {
        self.state.lock().unwrap().contract.updates.clone()
    }

    /// What the AWS contract refused or ignored so far (see [`crate::contract`]).
    pub fn violations(&self) -> Vec<String> {
        self.state.lock().unwrap().contract.violations.clone()
    }

    /// Starts recording the calls that pass (clears earlier recordings).
    pub fn start_recording(&self) {
        let mut s = self.state.lock().unwrap();
        s.recording = true;
        s.recorded.clear();
    }

    /// Stops recording and returns the calls received since [`Proxy::start_recording`] (again
    /// on a second call, until the next start).
    pub fn recorded_calls(&self) -> Vec<ApiCall> {
        let mut s = self.state.lock().unwrap();
        s.recording = false;
        s.recorded.clone()
    }
}

/// Reads one HTTP/1.1 request (headers and a Content-Length body).
async fn read_request(stream: &mut TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < header_end + length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(Some(buf))
}

/// Replaces any `Connection` header of a request or response head with `Connection: close`.
fn close_connection(message: &[u8]) -> Vec<u8> {
    let Some(end) = message.windows(4).position(|w| w == b"\r\n\r\n") else {
        return message.to_vec();
    };
    let head = String::from_utf8_lossy(&message[..end]);
    let mut out: Vec<String> = head
        .split("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .map(str::to_string)
        .collect();
    out.push("Connection: close".into());
    let mut bytes = out.join("\r\n").into_bytes();
    bytes.extend_from_slice(&message[end..]);
    bytes
}

fn error_response(fault: Fault, json: bool) -> Vec<u8> {
    let (status, code) = match fault {
        Fault::Throttle if json => ("429 Too Many Requests", "ThrottlingException"),
        Fault::Throttle => ("400 Bad Request", "Throttling"),
        _ => ("500 Internal Server Error", "InternalFailure"),
    };
    let (content_type, body) = if json {
        (
            "application/json",
            format!(r#"{{"__type":"{code}","message":"injected by the test proxy"}}"#),
        )
    } else {
        (
            "text/xml",
            format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>injected by the test proxy</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>"
            ),
        )
    };
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nx-amzn-ErrorType: {code}\r\nx-amzn-RequestId: fault-proxy\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

async fn serve(mut client: TcpStream, upstream: u16, state: Arc<Mutex<State>>) -> std::io::Result<()> {
    let Some(request) = read_request(&mut client).await? else {
        return Ok(());
    };
    let text = String::from_utf8_lossy(&request).into_owned();
    let fault = {
        let mut s = state.lock().unwrap();
        s.requests.push(text.clone());
        let rule = s
            .rules
            .iter_mut()
            .find(|r| text.contains(&r.needle) && r.remaining != Some(0));
        let fault = rule.map(|r| {
            if let Some(n) = r.remaining.as_mut() {
                *n -= 1;
            }
            r.fault
        });
        // Recorded as the emulator would have seen it: only what reaches it.
        if s.recording && matches!(fault, None | Some(Fault::Delay(_))) {
            if let Some(call) = ApiCall::from_http(&text) {
                s.recorded.push(call);
            }
        }
        fault
    };
    let json = !text.contains("Action=");
    match fault {
        Some(Fault::Drop) => return Ok(()),
        Some(f @ (Fault::Throttle | Fault::ServerError)) => {
            client.write_all(&error_response(f, json)).await?;
            return client.shutdown().await;
        }
        Some(Fault::Delay(d)) => tokio::time::sleep(d).await,
        None => {}
    }
    // AWS's rules that moto does not enforce.
    let scope = credential_scope(&text);
    let mut request = request;
    let mut failed = Vec::new();
    if let Some((key, region, service)) = &scope {
        if service == "securityhub" && text.starts_with("PATCH /findings/batchupdate ") {
            let (_, body) = split_message(&request);
            let decision = {
                let mut s = state.lock().unwrap();
                let caller = s.contract.account_of(key).to_string();
                s.contract.batch_update_findings(body, &caller, region)
            };
            if let Decision::Answer { status, body } = decision {
                client.write_all(&json_response(status, &body)).await?;
                return client.shutdown().await;
            }
        }
        if service == "securityhub" && text.starts_with("POST /findings ") {
            let (_, body) = split_message(&request);
            let refused = state.lock().unwrap().contract.get_findings_request(body);
            if let Some(Decision::Answer { status, body }) = refused {
                client.write_all(&json_response(status, &body)).await?;
                return client.shutdown().await;
            }
        }
        if service == "securityhub" && text.starts_with("POST /findings/import ") {
            let (head, body) = split_message(&request);
            let decision = {
                let mut s = state.lock().unwrap();
                let caller = s.contract.account_of(key).to_string();
                s.contract.batch_import_findings(body, &caller, region)
            };
            match decision {
                Decision::Forward => {}
                Decision::Rewrite { body, failed: refused } => {
                    request = with_body(head, &body);
                    failed = refused;
                }
                Decision::Answer { status, body } => {
                    client.write_all(&json_response(status, &body)).await?;
                    return client.shutdown().await;
                }
            }
        }
    }
    let mut server = TcpStream::connect(("127.0.0.1", upstream)).await?;
    server.write_all(&close_connection(&request)).await?;
    let mut response = Vec::new();
    server.read_to_end(&mut response).await?;
    if !failed.is_empty() {
        let (head, body) = split_message(&response);
        response = with_body(head, &contract::merge_failed(body, &failed));
    }
    if matches!(&scope, Some((_, _, service)) if service == "config") {
        let (head, body) = split_message(&response);
        if let Some(fixed) = contract::config_timestamps(body) {
            response = with_body(head, &fixed);
        }
    }
    if matches!(&scope, Some((_, _, service)) if service == "securityhub") && text.starts_with("POST /findings ") {
        let (_, asked) = split_message(&request);
        let (head, body) = split_message(&response);
        let answered = state.lock().unwrap().contract.get_findings_answer(asked, body);
        if let Some(answered) = answered {
            response = with_body(head, &answered);
        }
    }
    if matches!(&scope, Some((_, _, service)) if service == "iam")
        && text.contains("Action=GetAccountAuthorizationDetails")
    {
        let (_, asked) = split_message(&request);
        let (head, body) = split_message(&response);
        if let Some(paged) = contract::paginate_authorization_details(&String::from_utf8_lossy(asked), body) {
            response = with_body(head, &paged);
        }
    }
    let key_age = state.lock().unwrap().key_age_days;
    if let Some(days) = key_age.filter(|_| {
        matches!(&scope, Some((_, _, service)) if service == "iam")
            && (text.contains("Action=ListAccessKeys") || text.contains("Action=GetAccessKeyLastUsed"))
    }) {
        let (head, body) = split_message(&response);
        let aged = age_dates(&String::from_utf8_lossy(body), days);
        response = with_body(head, aged.as_bytes());
    }
    if matches!(&scope, Some((_, _, service)) if service == "sts") && text.contains("Action=AssumeRole&") {
        let (_, body) = split_message(&request);
        let (_, answer) = split_message(&response);
        state
            .lock()
            .unwrap()
            .contract
            .learn_assumed_role(&String::from_utf8_lossy(body), &String::from_utf8_lossy(answer));
    }
    client.write_all(&close_connection(&response)).await?;
    client.shutdown().await
}

/// `body` with the text of every `<CreateDate>` and `<LastUsedDate>` element moved `days` back.
fn age_dates(body: &str, days: i64) -> String {
    let mut out = body.to_string();
    for tag in ["CreateDate", "LastUsedDate"] {
        let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
        let mut from = 0;
        while let Some(start) = out[from..].find(&open).map(|i| from + i + open.len()) {
            let Some(end) = out[start..].find(&close).map(|i| start + i) else {
                break;
            };
            let moved = chrono::DateTime::parse_from_rfc3339(out[start..end].trim())
                .map(|t| (t - chrono::Duration::days(days)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
            if let Ok(moved) = moved {
                out.replace_range(start..end, &moved);
            }
            from = start;
        }
    }
    out
}

/// (access key, region, service) from a SigV4 `Authorization` header.
fn credential_scope(request: &str) -> Option<(String, String, String)> {
    let head = request.split("\r\n\r\n").next()?;
    let auth = head.split("\r\n").find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case("authorization").then_some(v)
    })?;
    let scope = auth.split("Credential=").nth(1)?.split(',').next()?;
    let mut parts = scope.split('/');
    let key = parts.next()?.to_string();
    let _date = parts.next()?;
    let region = parts.next()?.to_string();
    let service = parts.next()?.to_string();
    Some((key, region, service))
}

/// An HTTP message's head (with its blank line) and body.
fn split_message(message: &[u8]) -> (&[u8], &[u8]) {
    match message.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(i) => message.split_at(i + 4),
        None => (message, &[]),
    }
}

/// `head` (ending in its blank line) with `body` and a matching `Content-Length`.
fn with_body(head: &[u8], body: &[u8]) -> Vec<u8> {
    let head = String::from_utf8_lossy(head);
    let mut lines: Vec<String> = head
        .trim_end_matches("\r\n")
        .split("\r\n")
        .filter(|l| {
            !l.to_ascii_lowercase().starts_with("content-length:")
                && !l.to_ascii_lowercase().starts_with("transfer-encoding:")
        })
        .map(str::to_string)
        .collect();
    lines.push(format!("Content-Length: {}", body.len()));
    let mut out = lines.join("\r\n").into_bytes();
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(body);
    out
}

fn json_response(status: u16, body: &serde_json::Value) -> Vec<u8> {
    let text = body.to_string();
    let code = body["__type"].as_str().unwrap_or_default();
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        413 => "Payload Too Large",
        _ => "Error",
    };
    let error_header = if code.is_empty() {
        String::new()
    } else {
        format!("x-amzn-ErrorType: {code}\r\n")
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n{error_header}x-amzn-RequestId: contract-proxy\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    )
    .into_bytes()
}
