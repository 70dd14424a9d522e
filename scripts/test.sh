#!/usr/bin/env bash
# The test command: installs what the tests need on a fresh machine, then runs every test.
#   scripts/test.sh            all tests
#   scripts/test.sh --lint     also rustfmt, clippy -D warnings, rustdoc -D warnings and the
#                              public-API baseline (scripts/public-api.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

if [[ "${1:-}" == "--lint" ]]; then
  cargo fmt --all -- --check
  cargo clippy --workspace --all-targets -- -D warnings
  RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps
  # The SDK's feature subsets build warning-free (the library; its tests need the defaults).
  cargo clippy -p agentcore-sdk --no-default-features -- -D warnings
  cargo clippy -p agentcore-sdk --no-default-features --features shell -- -D warnings
  # agentcore-local alone (as a user builds it), not with features the workspace unifies in.
  cargo clippy -p agentcore-local -- -D warnings
  scripts/public-api.sh
fi

# The binaries and examples that tests run as processes are built first, so no test builds
# them while others run (timing-sensitive tests then see a quiet machine).
cargo build --workspace --bins --examples

# Two test threads: the machine has 2 cores and many tests run real processes.
cargo test --workspace -- --test-threads=2
