#!/usr/bin/env bash
# A headless browser for the audit report test (tests/tests/emulator/audit.rs renders report.html
# and takes a screenshot): Debian's chromium, test time only, never shipped. Idempotent.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
as_root=()
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
  else
    echo "error: chromium is missing and this user cannot install it (apt-get install chromium as root)" >&2
    exit 1
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: chromium is missing and there is no apt-get here; install chromium (headless) by hand" >&2
  exit 1
fi
echo "installing chromium (headless browser for the report test)" >&2
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 \
  || { "${as_root[@]}" apt-get update -qq && "${as_root[@]}" apt-get install -y --no-install-recommends chromium >/dev/null; }
command -v chromium >/dev/null
