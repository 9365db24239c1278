#!/usr/bin/env bash
# Installs every tool the demo and the tests need into .tools/ (git-ignored), pinned and idempotent.
# Needs only python3 (>= 3.9) with the venv module and the Rust toolchain.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.tools"
venv="$tools/venv"
req="$root/scripts/requirements-tools.txt"
stamp="$venv/.installed-requirements"

if ! { [ -f "$stamp" ] && cmp -s "$req" "$stamp" && [ -x "$venv/bin/moto_server" ] && [ -x "$venv/bin/cargo-lambda" ] && [ -x "$venv/bin/cfn-lint" ]; }; then
  echo "installing pinned tools into $tools" >&2
  mkdir -p "$tools"
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
  fi
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req"
  cp "$req" "$stamp"
  echo "tools ready: $("$venv/bin/moto_server" --version 2>/dev/null || echo moto), $("$venv/bin/cargo-lambda" lambda --version)" >&2
fi
# arm64 (Graviton) bootstraps: `make build ARCH=arm64` cross-compiles with cargo-lambda (zig links
# them); it needs the standard library of the aarch64 target. Not needed by the tests: a machine
# that cannot fetch it still tests, and says so.
if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
  rustup target add aarch64-unknown-linux-gnu >&2 || echo "warning: rustup could not add aarch64-unknown-linux-gnu; make build ARCH=arm64 will not work here" >&2
fi
# The policy engine's differential oracle (test time only).
"$root/scripts/install-oracle.sh"
# A headless browser for the audit report test (test time only).
"$root/scripts/install-browser.sh"
