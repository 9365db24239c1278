# compliance-responder: every entry point a developer or CI needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help
TOOLS := .tools/venv/bin
export PATH := $(CURDIR)/$(TOOLS):$(PATH)

.PHONY: help tools demo audit-report test lint build build-ci fuzz-check bench bench-startup bench-calls bench-audit bench-entropy fuzz differential clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

tools: ## Install the pinned test tools (moto, cargo-lambda, zig) into .tools/
	@scripts/install-tools.sh

demo: tools ## Start moto, seed over-permissive IAM, replay events/ and show what was found, fixed and reported
	cargo run --quiet -p integration-tests --bin demo -- $(EVENTS)

audit-report: tools ## Start moto, seed the sandbox, run the audit sweep (dry-run) and write report.html + report.json (REPORT=path; opens nothing)
	cargo run --quiet -p integration-tests --bin demo -- --audit-report $(or $(REPORT),report.html)

lint: tools ## rustfmt, clippy and cfn-lint; warnings are errors
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cfn-lint template.yaml member-template.yaml scp-template.yaml

test: tools lint ## Everything a change must pass: lint, unit/property/table tests, emulator and cargo-lambda replay tests
	cargo test --workspace

fuzz-check: ## Type-check the cargo-fuzz targets (a separate workspace: it re-checks the SDK with its own features, ~4 min cold)
	cp Cargo.lock fuzz/Cargo.lock  # same dependency versions as the workspace
	cargo check --quiet --manifest-path fuzz/Cargo.toml --target-dir "$${CARGO_TARGET_DIR:-$(CURDIR)/target}"

bench: tools ## Criterion benchmark: policy evaluations per second over the AWS-managed policies
	cargo bench -p compliance-responder --bench policy_eval

fuzz: fuzz-check ## Fuzz both targets, FUZZ_SECONDS each (default 60): event → finding → plan, and policy parse → judge → rewrite (nightly + cargo-fuzz; see fuzz/README.md)
	command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --version 0.13.2
	mkdir -p fuzz/corpus/event_pipeline fuzz/corpus/policy_parse
	cp events/*/*.json tests/fixtures/bad-input/*.json fuzz/corpus/event_pipeline/
	cp Cargo.lock fuzz/Cargo.lock
	cd fuzz && for t in event_pipeline policy_parse; do \
	  cargo +nightly fuzz run -s none $$t corpus/$$t -- -max_total_time=$${FUZZ_SECONDS:-60} -print_final_stats=1 || exit 1; \
	done

FUNCTIONS := cloudtrail-responder tagging-responder config-responder guardduty-responder securityhub-responder audit-responder
# The template's Architecture parameter: x86_64 (its default, what the tests run) or arm64.
ARCH ?= x86_64
ARCH_FLAG := $(if $(filter arm64,$(ARCH)),--arm64,--x86-64)

build: tools ## Release bootstraps for Lambda in target/lambda/ (ARCH=x86_64 or arm64), with the shipped (size-optimised, fat LTO) profile, checked (ELF machine, size)
	cargo lambda build --release $(ARCH_FLAG) $(addprefix -p ,$(FUNCTIONS))
	scripts/check-bootstraps.py $(ARCH) "$${CARGO_TARGET_DIR:-$(CURDIR)/target}/lambda" $(FUNCTIONS)

build-ci: tools ## The six bootstraps for Lambda (ARCH, default x86_64) with the quick `ci` profile: proves they build, not what ships
	cargo lambda build --profile ci --disable-optimizations $(ARCH_FLAG) $(addprefix -p ,$(FUNCTIONS))
	scripts/check-bootstraps.py $(ARCH) "$${CARGO_TARGET_DIR:-$(CURDIR)/target}/lambda" $(FUNCTIONS)

bench-startup: build ## Start-to-ready, first response, size and peak RSS of the bootstraps beside Cloud Custodian's handler
	@test -x .tools/bench-venv/bin/python || python3 -m venv .tools/bench-venv
	@cmp -s scripts/requirements-bench.txt .tools/bench-venv/.installed || { .tools/bench-venv/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements-bench.txt && cp scripts/requirements-bench.txt .tools/bench-venv/.installed; }
	cargo build --quiet -p integration-tests --bin bench-startup --bin startup-floor
	"$${CARGO_TARGET_DIR:-$(CURDIR)/target}/debug/bench-startup" $(BENCH_ARGS)

bench-calls: tools ## AWS API calls per sample event, counted at moto, beside the minimum (events/api-calls.tsv)
	API_CALLS_REPORT=1 cargo test -p integration-tests --test emulator api_calls:: -- --nocapture --test-threads=1

bench-audit: tools ## responder audit over 1,000 principals and 5,000 policies in moto: wall time, API calls, peak memory
	cargo build --quiet --workspace --bins
	"$${CARGO_TARGET_DIR:-$(CURDIR)/target}/debug/bench-audit" $(BENCH_ARGS)

bench-entropy: ## First random draw of aws-lc with and without its CPU-jitter entropy source
	scripts/bench-entropy.sh

clean: ## Remove build output and installed tools
	cargo clean
	rm -rf .tools

differential: tools ## The policy engine against an independent IAM simulator over 100,000 queries (make test runs 6,000)
	DIFFERENTIAL_QUERIES=$${DIFFERENTIAL_QUERIES:-100000} cargo test --workspace --test emulator -- differential --nocapture
