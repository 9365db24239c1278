//! Policy evaluations per second over every AWS-managed policy moto ships (the real documents).
//!
//! Run: `make bench` (or `cargo bench -p compliance-responder --bench policy_eval`). Needs the
//! pinned moto from `make tools`; set `AWS_MANAGED_POLICIES` to another copy of moto's
//! `aws_managed_policies.py` to use that instead.

use compliance_responder::policy::{DocumentKind, PolicyDocument};
use compliance_responder::rules;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use std::path::PathBuf;

fn managed_policy_documents() -> Vec<String> {
    let path = std::env::var("AWS_MANAGED_POLICIES")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            let lib = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.tools/venv/lib");
            std::fs::read_dir(&lib)
                .expect("run `make tools` first (moto provides the AWS-managed policies)")
                .filter_map(|e| e.ok())
                .map(|e| e.path().join("site-packages/moto/iam/aws_managed_policies.py"))
                .find(|p| p.exists())
                .expect("moto's aws_managed_policies.py")
        });
    let text = std::fs::read_to_string(&path).expect("read aws_managed_policies.py");
    let start = text.find("\"\"\"").expect("opening quotes") + 3;
    let end = text.rfind("\"\"\"").expect("closing quotes");
    let all: serde_json::Value = serde_json::from_str(&text[start..end]).expect("policy data is JSON");
    all.as_object()
        .expect("name → policy")
        .values()
        .map(|p| p["Document"].to_string())
        .collect()
}

fn evaluate_all(c: &mut Criterion) {
    let docs = managed_policy_documents();
    let registry = rules::registry(&compliance_responder::Config::default());
    let mut group = c.benchmark_group("aws-managed-policies");
    group.throughput(Throughput::Elements(docs.len() as u64));
    group.bench_function(format!("parse+evaluate all rules ({} policies)", docs.len()), |b| {
        b.iter(|| {
            let mut findings = 0usize;
            for d in &docs {
                let doc = PolicyDocument::parse(black_box(d)).expect("AWS-managed policies parse");
                findings += rules::check_document(&registry, &doc, DocumentKind::Managed).len();
            }
            findings
        })
    });
    group.finish();
}

criterion_group!(benches, evaluate_all);
criterion_main!(benches);
