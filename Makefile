# compliance-responder: every entry point a developer or CI needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help
TOOLS := .tools/venv/bin
export PATH := $(CURDIR)/$(TOOLS):$(PATH)

.PHONY: help tools demo test lint unit build clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

tools: ## Install the pinned test tools (moto, cargo-lambda, zig) into .tools/
	@scripts/install-tools.sh

demo: tools ## Start moto, seed over-permissive IAM, replay events/ and show what was found, fixed and reported
	cargo run --quiet -p integration-tests --bin demo -- $(EVENTS)

lint: ## rustfmt and clippy, warnings are errors
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

test: tools lint ## Everything CI runs: lint, unit tests, emulator and cargo-lambda replay tests
	cargo test --workspace

build: tools ## Release bootstrap binaries for Lambda (x86_64) in target/lambda/
	cargo lambda build --release --x86-64

clean: ## Remove build output and installed tools
	cargo clean
	rm -rf .tools
