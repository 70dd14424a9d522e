#!/usr/bin/env bash
# Runs every cargo-fuzz target (nightly toolchain) for N seconds each (default 300).
# The corpora in fuzz/corpus/ grow as they run; crashes land in fuzz/artifacts/<target>/.
#   scripts/fuzz.sh [seconds] [target...]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-300}; shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(event_stream shell_frame status_json ids http_surface)
command -v cargo-fuzz >/dev/null || cargo install -q cargo-fuzz --locked
for t in "${targets[@]}"; do
  echo "== $t (${secs}s)"
  (cd fuzz && cargo +nightly fuzz run "$t" -- -max_total_time="$secs" -max_len=131072 -print_final_stats=1 2>&1 | tail -n 15)
done
