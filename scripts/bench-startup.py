#!/usr/bin/env python3
"""Start-up benchmark: the release Lambda bootstraps beside Cloud Custodian's Lambda handler.

For each function in target/lambda/<name>/bootstrap (build them with `make build`):
  * a minimal Lambda Runtime API on 127.0.0.1 serves one event (the largest sample of that
    function's source) and records when the process first asks for an event ("ready") and when it
    posts its first response;
  * the process runs against moto (started here, on 127.0.0.1) in dry-run;
  * peak RSS (VmHWM) is read from /proc just after the response; the binary's size is reported.
For c7n (pinned in scripts/requirements-bench.txt, installed into .tools/bench-venv): a fresh
Python process imports the Lambda handler and loads the IAM and S3 resource types; "ready" is
when it says so. Each figure is the median of --runs runs. Prints a table and the ratios.

Usage: scripts/bench-startup.py [--runs N]     (make bench-startup)
"""

import argparse
import http.server
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = {
    "cloudtrail-responder": "cloudtrail",
    "config-responder": "config",
    "guardduty-responder": "guardduty",
}
API = "/2018-06-01/runtime"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RuntimeApi(http.server.ThreadingHTTPServer):
    """Serves one event, then holds every later /next until shut down."""

    def __init__(self, event: bytes):
        self.event = event
        self.ready_at = None
        self.response_at = None
        self.response = None
        self.done = threading.Event()
        self.served = False
        super().__init__(("127.0.0.1", 0), Handler)


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        srv = self.server
        if self.path == f"{API}/invocation/next":
            if srv.ready_at is None:
                srv.ready_at = time.perf_counter()
            if srv.served:
                srv.done.wait(30)
                self.send_response(500)
                self.end_headers()
                return
            srv.served = True
            self.send_response(200)
            self.send_header("Lambda-Runtime-Aws-Request-Id", "bench-1")
            self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000))
            self.send_header(
                "Lambda-Runtime-Invoked-Function-Arn",
                "arn:aws:lambda:us-east-1:123456789012:function:bench",
            )
            self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(srv.event)))
            self.end_headers()
            self.wfile.write(srv.event)
        else:
            self.send_response(404)
            self.end_headers()

    def do_POST(self):
        srv = self.server
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if "/invocation/" in self.path:
            srv.response_at = time.perf_counter()
            srv.response = (self.path.rsplit("/", 1)[-1], body)
            srv.done.set()
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()


def largest_sample(source):
    files = sorted((ROOT / "events" / source).glob("*.json"), key=lambda p: p.stat().st_size)
    return files[-1]


def run_bootstrap(binary, event, moto):
    api = RuntimeApi(event)
    threading.Thread(target=api.serve_forever, daemon=True).start()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{api.server_address[1]}",
        "AWS_LAMBDA_FUNCTION_NAME": "bench",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": moto,
        "MODE": "dry-run",
        "LOG_LEVEL": "error",
        "ANNOTATE_SOURCE_FINDINGS": "false",
    }
    start = time.perf_counter()
    proc = subprocess.Popen([str(binary)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    api.done.wait(30)
    rss_kb = None
    try:
        for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                rss_kb = int(line.split()[1])
    except OSError:
        pass
    proc.kill()
    proc.wait()
    api.shutdown()
    if api.ready_at is None or api.response_at is None:
        raise SystemExit(f"{binary}: no response from the function")
    return (api.ready_at - start) * 1000, (api.response_at - start) * 1000, rss_kb, api.response[0]


def c7n_ready(python):
    code = (
        "import sys\n"
        "from c7n import handler\n"
        "from c7n.resources import load_resources\n"
        "load_resources(('aws.iam-user', 'aws.iam-role', 'aws.s3'))\n"
        "sys.stdout.write('ready\\n'); sys.stdout.flush()\n"
    )
    start = time.perf_counter()
    proc = subprocess.Popen([python, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = proc.stdout.readline()
    ready = (time.perf_counter() - start) * 1000
    rss_kb = None
    try:
        for l in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
            if l.startswith("VmHWM:"):
                rss_kb = int(l.split()[1])
    except OSError:
        pass
    proc.wait()
    if line.strip() != b"ready":
        raise SystemExit("c7n did not load")
    return ready, rss_kb


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()

    moto_port = free_port()
    moto = subprocess.Popen(
        [str(ROOT / ".tools/venv/bin/moto_server"), "-H", "127.0.0.1", "-p", str(moto_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{moto_port}"
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", moto_port), 0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    rows = []
    try:
        for name, source in FUNCTIONS.items():
            binary = ROOT / "target" / "lambda" / name / "bootstrap"
            if not binary.exists():
                raise SystemExit(f"{binary} missing: run `make build` first")
            sample = largest_sample(source)
            event = sample.read_bytes()
            results = [run_bootstrap(binary, event, endpoint) for _ in range(args.runs)]
            rows.append(
                {
                    "function": name,
                    "size_mb": binary.stat().st_size / 1e6,
                    "ready_ms": statistics.median(r[0] for r in results),
                    "first_response_ms": statistics.median(r[1] for r in results),
                    "peak_rss_mb": max((r[2] or 0) for r in results) / 1024,
                    "event": f"{source}/{sample.name} ({len(event)} bytes)",
                }
            )
    finally:
        moto.kill()
        moto.wait()

    python = ROOT / ".tools/bench-venv/bin/python"
    if not python.exists():
        raise SystemExit("c7n missing: run `make bench-startup` (it installs scripts/requirements-bench.txt)")
    c7n = [c7n_ready(str(python)) for _ in range(max(3, args.runs // 4))]
    c7n_ms = statistics.median(r[0] for r in c7n)
    c7n_rss = max((r[1] or 0) for r in c7n) / 1024

    print(f"{'function':<22} {'size MB':>8} {'ready ms':>9} {'1st resp ms':>12} {'peak RSS MB':>12}  c7n/ready")
    for r in rows:
        print(
            f"{r['function']:<22} {r['size_mb']:>8.2f} {r['ready_ms']:>9.2f} {r['first_response_ms']:>12.2f}"
            f" {r['peak_rss_mb']:>12.1f}  {c7n_ms / r['ready_ms']:>8.0f}x"
        )
    print(f"{'c7n handler + IAM/S3':<22} {'':>8} {c7n_ms:>9.1f} {'':>12} {c7n_rss:>12.1f}")
    print(f"\nruns: {args.runs} per function (median), c7n: {len(c7n)} (median); largest sample event per function; moto on 127.0.0.1")
    print(json.dumps({"functions": rows, "c7n_ready_ms": c7n_ms, "c7n_peak_rss_mb": c7n_rss}))


if __name__ == "__main__":
    sys.exit(main())
