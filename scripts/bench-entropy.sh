#!/usr/bin/env bash
# `make bench-entropy`: the cost of aws-lc's CPU-jitter entropy source, before and after
# AWS_LC_SYS_NO_JITTER_ENTROPY=1 (which .cargo/config.toml sets for every build of this repo).
# Builds benches/entropy twice (each in its own target dir, so both stay cached), runs each binary
# in fresh processes and prints the medians of the first and second random draws.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-30}"
declare -A first second
for jitter in 0 1; do
  dir="target/entropy-bench/no-jitter-$jitter"
  AWS_LC_SYS_NO_JITTER_ENTROPY=$jitter CARGO_TARGET_DIR="$dir" \
    cargo build --quiet --release --locked --manifest-path benches/entropy/Cargo.toml
  bin="$dir/release/entropy-bench"
  "$bin" >/dev/null   # warm the page cache
  out=$(for _ in $(seq "$RUNS"); do "$bin"; done)
  first[$jitter]=$(awk '{print $1}' <<<"$out" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  second[$jitter]=$(awk '{print $2}' <<<"$out" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
done
awk -v f0="${first[0]}" -v s0="${second[0]}" -v f1="${first[1]}" -v s1="${second[1]}" -v runs="$RUNS" 'BEGIN {
  printf "aws-lc first random draw in a fresh process (median of %d runs)\n", runs
  printf "  with CPU-jitter entropy (AWS_LC_SYS_NO_JITTER_ENTROPY=0):    first %9.3f ms   second %7.3f ms\n", f0/1e6, s0/1e6
  printf "  without (AWS_LC_SYS_NO_JITTER_ENTROPY=1, this repo default): first %9.3f ms   second %7.3f ms\n", f1/1e6, s1/1e6
  if (f1 > 0) printf "  the first draw is %.0fx faster without it\n", f0/f1
}'
