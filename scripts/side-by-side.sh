#!/usr/bin/env bash
# agentcore-sdk and AWS's official aws-sdk-bedrockagentcore, interleaved run by run against
# one agentcore-local server (see benches/official/src/bin/side_by_side.rs).
#   scripts/side-by-side.sh            20 throughput/RSS pairs of 256 MiB, 2000 first-event pairs
#   scripts/side-by-side.sh --quick    5 pairs of 64 MiB, 300 first-event pairs (labelled so)
# Extra arguments go to the binary (--pairs N, --first-event-pairs N, --mib N).
set -euo pipefail
cd "$(dirname "$0")/.."
args=()
for a in "$@"; do
  case "$a" in
    --quick) args+=(--pairs 5 --first-event-pairs 300 --mib 64);;
    *) args+=("$a");;
  esac
done
cargo build --release -q -p agentcore-local
cargo build --release -q --manifest-path benches/official/Cargo.toml --bin side-by-side
port=18778; dir=$(mktemp -d); chmod 711 "$dir"
target/release/agentcore-local --listen 127.0.0.1:$port --data-dir "$dir" --ready-delay-ms 0 > "$dir/out" 2>/dev/null &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 1 50); do grep -q listening "$dir/out" 2>/dev/null && break; sleep 0.1; done
arn=$(curl -s -X PUT "http://127.0.0.1:$port/runtimes/" -H 'content-type: application/json' \
  -d '{"agentRuntimeName":"sidebyside","agentRuntimeArtifact":{"containerConfiguration":{"containerUri":"123456789012.dkr.ecr.us-east-1.amazonaws.com/side:1"}},"roleArn":"arn:aws:iam::123456789012:role/local"}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["agentRuntimeArn"])')
mkdir -p target/bench
benches/official/target/release/side-by-side "http://127.0.0.1:$port" "$arn" "${args[@]}" | tee target/bench/side-by-side.md
