#!/usr/bin/env bash
# agentcore-sdk's public API against its checked-in baseline, agentcore-sdk/public-api.txt:
# every public item with its signature, and the external crates those signatures name (the
# crate's public dependencies). A change to the surface must be deliberate:
#   scripts/public-api.sh           fails with a diff if the surface changed
#   scripts/public-api.sh --bless   rewrites the baseline (commit it with the change)
# rustdoc's JSON output is built by the stable toolchain (RUSTC_BOOTSTRAP) in its own target
# directory, so it never invalidates the main build.
set -euo pipefail
cd "$(dirname "$0")/.."
RUSTC_BOOTSTRAP=1 RUSTDOCFLAGS="-Z unstable-options --output-format json" \
  CARGO_TARGET_DIR=target/public-api cargo doc -q -p agentcore-sdk --no-deps --all-features
json=target/public-api/doc/agentcore_sdk.json
current=target/public-api/public-api.txt
{
  python3 scripts/public_api.py "$json" --crates | sed 's/^/extern crate /'
  python3 scripts/public_api.py "$json"
} > "$current"
baseline=agentcore-sdk/public-api.txt
if [[ "${1:-}" == "--bless" ]]; then
  cp "$current" "$baseline"
  echo "public API baseline written: $baseline ($(wc -l < "$baseline") lines)"
  exit 0
fi
if ! diff -u "$baseline" "$current"; then
  echo "public API changed (above). If deliberate: scripts/public-api.sh --bless, and a CHANGELOG line." >&2
  exit 1
fi
echo "public API: unchanged ($(wc -l < "$baseline") lines)"
