#!/usr/bin/env bash
# Reproduces docs/PERFORMANCE.md. Release builds; everything on loopback.
#   scripts/bench.sh                 ours + official crate + raw TCP
#   scripts/bench.sh --quick         1/16 of the data sizes
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

echo "== aws-sdk-bedrockagentcore (official), same server"
cargo build --release -q --manifest-path benches/official/Cargo.toml
port=18777; dir=$(mktemp -d)
target/release/agentcore-local --listen 127.0.0.1:$port --data-dir "$dir" --ready-delay-ms 0 > "$dir/out" 2>/dev/null &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 1 50); do grep -q listening "$dir/out" 2>/dev/null && break; sleep 0.1; done
arn=$(curl -s -X PUT "http://127.0.0.1:$port/runtimes/" -H 'content-type: application/json' \
  -d '{"agentRuntimeName":"official","agentRuntimeArtifact":{"containerConfiguration":{"containerUri":"123456789012.dkr.ecr.us-east-1.amazonaws.com/official:1"}},"roleArn":"arn:aws:iam::123456789012:role/local"}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["agentRuntimeArn"])')
benches/official/target/release/official-bench "http://127.0.0.1:$port" "$arn" $quick | tee target/bench/official.txt

if [[ -n "$build_times" ]]; then
  for p in minimal-ours minimal-official; do
    t=$(mktemp -d)
    s=$(date +%s.%N)
    CARGO_TARGET_DIR="$t" cargo build --release -q --manifest-path "benches/$p/Cargo.toml"
    e=$(date +%s.%N)
    echo "cold release build $p: $(python3 -c "print(round($e-$s,1))") s" | tee -a target/bench/build-times.txt
    rm -rf "$t"
  done
fi
