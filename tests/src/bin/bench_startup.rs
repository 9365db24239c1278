//! `make bench-startup`: start-up of the release bootstraps beside Cloud Custodian's Lambda handler,
//! measured in one run by the same harness.
//!
//! For each function (`target/lambda/<name>/bootstrap`, built by `make build`) the harness serves a
//! minimal Lambda Runtime API on 127.0.0.1, spawns the bootstrap against it and against moto (in
//! dry-run), hands it the largest sample event of its source, and records
//!   * ready: from spawn until the process asks for its first event (`GET .../invocation/next`),
//!     i.e. the end of the Lambda init phase;
//!   * first response: until it posts the result of that event;
//!   * peak RSS (`VmHWM`) just after the response, and the binary's size.
//!
//! The same clock times two references:
//!   * `startup-floor`: a std-only program that makes the same two Runtime API calls and nothing
//!     else — what spawning a process and one HTTP round trip cost on this machine;
//!   * Cloud Custodian (`c7n`, pinned in `scripts/requirements-bench.txt`, installed by `make
//!     bench-startup` into `.tools/bench-venv`): a fresh Python process imports `c7n.handler` and
//!     loads the IAM and S3 resource types, then prints "ready".
//!
//! Each figure is the median of `--runs` runs (default 20; c7n a quarter of that, at least 3).
//! Prints a table, the c7n/ready ratios, and one JSON line with every figure.
//!
//! Usage: bench-startup [--runs N] [--env NAME=VALUE ...] [--only FUNCTION]
//! (`--env` adds a setting to the functions' environment, e.g. to time another `LOG_LEVEL`.)

use integration_tests::{repo_root, sample_events, Moto};
use serde_json::json;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const FUNCTIONS: [(&str, &str); 3] = [
    ("cloudtrail-responder", "cloudtrail"),
    ("config-responder", "config"),
    ("guardduty-responder", "guardduty"),
];

/// What the Runtime API saw of one process.
enum Seen {
    Ready(Instant),
    Response(Instant, String),
}

/// One HTTP/1.1 request: request line and body (headers parsed for Content-Length only).
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<(String, Vec<u8>)> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 {
            return None;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).ok()?;
    Some((line.trim_end().to_string(), body))
}

/// Serves one connection (the runtime client keeps connections alive): the first `next` gets
/// `event`, later ones are held until the process is killed; responses are acknowledged.
fn serve(stream: TcpStream, event: &[u8], first: bool, seen: &mpsc::Sender<Seen>) {
    let _ = stream.set_nodelay(true);
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let mut writer = stream;
    let mut served = !first;
    while let Some((line, body)) = read_request(&mut reader) {
        if line.starts_with("GET ") && line.contains("/runtime/invocation/next") {
            let _ = seen.send(Seen::Ready(Instant::now()));
            if served {
                // Hold the second `next` until the harness kills the process.
                let _ = reader.read_to_end(&mut Vec::new());
                return;
            }
            served = true;
            let deadline = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() + 30_000)
                .unwrap_or_default();
            let head = format!(
                "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: bench-1\r\nLambda-Runtime-Deadline-Ms: {deadline}\r\n\
                 Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:bench\r\n\
                 Lambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                event.len()
            );
            let _ = writer.write_all(&[head.as_bytes(), event].concat());
        } else if line.starts_with("POST ") {
            let kind = line
                .split_whitespace()
                .nth(1)
                .unwrap_or("")
                .rsplit('/')
                .next()
                .unwrap_or("")
                .to_string();
            let at = Instant::now();
            let _ = writer.write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n");
            if line.contains("/invocation/") {
                let _ = seen.send(Seen::Response(
                    at,
                    format!("{kind}: {}", String::from_utf8_lossy(&body)),
                ));
            }
        } else {
            let _ = writer.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
        }
    }
}

struct Run {
    ready_ms: f64,
    response_ms: f64,
    peak_rss_kb: Option<u64>,
    response: String,
}

fn peak_rss_kb(pid: u32) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// Spawns `binary` against a fresh Runtime API serving `event`; times ready and first response.
fn run_function(binary: &Path, event: &[u8], env: &[(String, String)]) -> Run {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind runtime API");
    let api = listener.local_addr().expect("runtime API address");
    let (tx, rx) = mpsc::channel();
    let event = event.to_vec();
    std::thread::spawn(move || {
        let mut first = true;
        for stream in listener.incoming().flatten() {
            let (event, tx) = (event.clone(), tx.clone());
            let is_first = first;
            first = false;
            std::thread::spawn(move || serve(stream, &event, is_first, &tx));
        }
    });
    let start = Instant::now();
    let mut child = Command::new(binary)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("AWS_LAMBDA_RUNTIME_API", api.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", binary.display()));
    let (mut ready, mut response) = (None, None);
    while response.is_none() {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Seen::Ready(at)) => {
                ready.get_or_insert(at);
            }
            Ok(Seen::Response(at, body)) => response = Some((at, body)),
            Err(_) => break,
        }
    }
    let peak = peak_rss_kb(child.id());
    let _ = child.kill();
    let _ = child.wait();
    let (Some(ready), Some((responded, body))) = (ready, response) else {
        panic!("{}: no response from the function", binary.display());
    };
    Run {
        ready_ms: (ready - start).as_secs_f64() * 1e3,
        response_ms: (responded - start).as_secs_f64() * 1e3,
        peak_rss_kb: peak,
        response: body,
    }
}

/// A fresh Python imports Cloud Custodian's Lambda handler and the IAM / S3 resource types.
fn run_c7n(python: &Path) -> (f64, Option<u64>) {
    let code = "import sys\nfrom c7n import handler\nfrom c7n.resources import load_resources\n\
                load_resources(('aws.iam-user', 'aws.iam-role', 'aws.s3'))\n\
                sys.stdout.write('ready\\n'); sys.stdout.flush()\nsys.stdin.read()\n";
    let start = Instant::now();
    let mut child = Command::new(python)
        .args(["-c", code])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn c7n python");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read c7n");
    let ready = start.elapsed().as_secs_f64() * 1e3;
    let peak = peak_rss_kb(child.id());
    drop(child.stdin.take());
    let _ = child.wait();
    assert_eq!(line.trim(), "ready", "c7n did not load");
    (ready, peak)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn largest_sample(source: &str) -> PathBuf {
    sample_events(source)
        .into_iter()
        .max_by_key(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .expect("sample events")
}

fn sibling_binary(name: &str) -> PathBuf {
    let me = std::env::current_exe().expect("current exe");
    me.with_file_name(name)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runs: usize = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(20)
        .max(1);
    let extra_env: Vec<(String, String)> = args
        .windows(2)
        .filter(|w| w[0] == "--env")
        .filter_map(|w| w[1].split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect();
    let only: Option<&String> = args.iter().position(|a| a == "--only").and_then(|i| args.get(i + 1));
    let root = repo_root();
    let moto = Moto::start();
    let mut env: Vec<(String, String)> = moto.child_env();
    env.extend(
        [
            ("PATH", std::env::var("PATH").unwrap_or_default()),
            ("AWS_LAMBDA_FUNCTION_NAME", "bench".into()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".into()),
            ("MODE", "dry-run".into()),
            ("LOG_LEVEL", "error".into()),
            ("ANNOTATE_SOURCE_FINDINGS", "false".into()),
        ]
        .map(|(k, v)| (k.to_string(), v)),
    );
    env.extend(extra_env);

    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let mut rows = Vec::new();
    let mut targets: Vec<(String, PathBuf, PathBuf)> = FUNCTIONS
        .iter()
        .map(|(name, source)| {
            (
                name.to_string(),
                target.join("lambda").join(name).join("bootstrap"),
                largest_sample(source),
            )
        })
        .collect();
    targets.push((
        "startup-floor".into(),
        sibling_binary("startup-floor"),
        largest_sample("cloudtrail"),
    ));
    targets.retain(|(name, _, _)| only.is_none_or(|o| o == name || name == "startup-floor"));
    for (name, binary, sample) in &targets {
        if !binary.exists() {
            eprintln!("{} missing: run `make build` first", binary.display());
            std::process::exit(2);
        }
        let event = std::fs::read(sample).expect("read sample");
        // One unmeasured run first: every program is timed with its files in the page cache.
        run_function(binary, &event, &env);
        let results: Vec<Run> = (0..runs).map(|_| run_function(binary, &event, &env)).collect();
        let last = &results[results.len() - 1].response;
        if name != "startup-floor" && !last.starts_with("response: ") {
            eprintln!("{name}: the event was not handled: {last}");
            std::process::exit(1);
        }
        rows.push(json!({
            "function": name,
            "size_mb": std::fs::metadata(binary).map(|m| m.len() as f64 / 1e6).unwrap_or(0.0),
            "ready_ms": median(results.iter().map(|r| r.ready_ms).collect()),
            "ready_min_ms": results.iter().map(|r| r.ready_ms).fold(f64::INFINITY, f64::min),
            "first_response_ms": median(results.iter().map(|r| r.response_ms).collect()),
            "peak_rss_mb": results.iter().filter_map(|r| r.peak_rss_kb).max().unwrap_or(0) as f64 / 1024.0,
            "event": format!("{} ({} bytes)", sample.strip_prefix(root.join("events")).unwrap_or(sample).display(), event.len()),
        }));
    }
    drop(moto);

    let python = root.join(".tools/bench-venv/bin/python");
    if !python.exists() {
        eprintln!("c7n missing: run `make bench-startup` (it installs scripts/requirements-bench.txt)");
        std::process::exit(2);
    }
    let c7n_runs = (runs / 4).max(3);
    run_c7n(&python);
    let c7n: Vec<(f64, Option<u64>)> = (0..c7n_runs).map(|_| run_c7n(&python)).collect();
    let c7n_ms = median(c7n.iter().map(|r| r.0).collect());
    let c7n_rss = c7n.iter().filter_map(|r| r.1).max().unwrap_or(0) as f64 / 1024.0;

    println!(
        "{:<22} {:>8} {:>9} {:>9} {:>12} {:>12}  c7n/ready",
        "function", "size MB", "ready ms", "(min)", "1st resp ms", "peak RSS MB"
    );
    for r in &rows {
        let ready = r["ready_ms"].as_f64().unwrap_or(f64::NAN);
        println!(
            "{:<22} {:>8.2} {:>9.2} {:>9.2} {:>12.2} {:>12.1}  {:>8.0}x",
            r["function"].as_str().unwrap_or(""),
            r["size_mb"].as_f64().unwrap_or(0.0),
            ready,
            r["ready_min_ms"].as_f64().unwrap_or(f64::NAN),
            r["first_response_ms"].as_f64().unwrap_or(f64::NAN),
            r["peak_rss_mb"].as_f64().unwrap_or(0.0),
            c7n_ms / ready
        );
    }
    println!(
        "{:<22} {:>8} {:>9.1} {:>9} {:>12} {:>12.1}",
        "c7n handler + IAM/S3", "", c7n_ms, "", "", c7n_rss
    );
    println!(
        "\nruns: {runs} per function (median; min = fastest run), c7n: {c7n_runs} (median); largest sample event per source; \
         moto on 127.0.0.1; startup-floor = spawn + the same two Runtime API calls, nothing else"
    );
    println!(
        "{}",
        json!({"functions": rows, "c7n_ready_ms": c7n_ms, "c7n_peak_rss_mb": c7n_rss, "runs": runs})
    );
}
