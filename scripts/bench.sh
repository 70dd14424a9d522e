#!/usr/bin/env bash
# Reproduces docs/PERFORMANCE.md. Release builds; everything on loopback.
#   scripts/bench.sh                 ours alone, then ours vs the official crate interleaved
#   scripts/bench.sh --quick         1/16 of the data sizes, fewer pairs (rows say what ran)
#   scripts/bench.sh --build-times   also cold release build times of a minimal program each
set -euo pipefail
cd "$(dirname "$0")/.."
quick=""; build_times=""
for a in "$@"; do
  case "$a" in --quick) quick="--quick";; --build-times) build_times=1;; esac
done
mkdir -p target/bench
cargo build --release -q -p agentcore-local -p agentcore-bench
cargo build --release -q -p examples --example race   # the fleet rows' agent
echo "== agentcore-sdk"
target/release/agentcore-bench --server target/release/agentcore-local --agent-bin target/release/examples/race \
  $quick --json target/bench/ours.json | tee target/bench/ours.txt

echo "== side by side with aws-sdk-bedrockagentcore (official), interleaved run by run, one server"
scripts/side-by-side.sh $quick

if [[ -n "$build_times" ]]; then
  for p in minimal-ours-env minimal-official-env minimal-ours minimal-official; do
    t=$(mktemp -d)
    s=$(date +%s.%N)
    CARGO_TARGET_DIR="$t" cargo build --release -q --manifest-path "benches/$p/Cargo.toml"
    e=$(date +%s.%N)
    echo "cold release build $p: $(python3 -c "print(round($e-$s,1))") s" | tee -a target/bench/build-times.txt
    rm -rf "$t"
  done
fi
