#!/usr/bin/env bash
# The test command: installs what the tests need on a fresh machine, then runs every test.
#   scripts/test.sh            all tests
#   scripts/test.sh --lint     also rustfmt, clippy -D warnings (the SDK's feature subsets and
#                              agentcore-local alone, and built as on macOS), rustdoc -D
#                              warnings and the public-API baseline (scripts/public-api.sh)
#   scripts/test.sh --ci       also (as root) the local-runtime, sandbox, shell and example test
#                              binaries again as an unprivileged user with a subordinate id
#                              range and as one without, and the local suite without a sandbox
#                              (AGENTCORE_LOCAL_ISOLATION=none). That is what CI runs, with
#                              --lint.
# Every test that could not run (a missing tool, no sandbox) says so; the list is printed at
# the end.
set -euo pipefail
cd "$(dirname "$0")/.."

lint=false
ci=false
for arg in "$@"; do
  case "$arg" in
    --lint) lint=true ;;
    --ci) ci=true ;;
    *) echo "test.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done

if $ci; then
  scripts/setup.sh --ci-users
else
  scripts/setup.sh
fi

export AGENTCORE_TEST_SKIP_LOG="$PWD/target/skipped.log"
mkdir -p target
: > "$AGENTCORE_TEST_SKIP_LOG"
chmod 0666 "$AGENTCORE_TEST_SKIP_LOG"
summary() {
  if [[ -s "$AGENTCORE_TEST_SKIP_LOG" ]]; then
    echo "test.sh: not run, or not checked in full (and why):"
    sort -u "$AGENTCORE_TEST_SKIP_LOG" | sed 's/^/  /'
  fi
}
trap summary EXIT

if $lint; then
  cargo fmt --all -- --check
  cargo clippy --workspace --all-targets -- -D warnings
  RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps
  # The SDK's feature subsets build warning-free (the library; its tests need the defaults).
  cargo clippy -p agentcore-sdk --no-default-features -- -D warnings
  cargo clippy -p agentcore-sdk --no-default-features --features shell -- -D warnings
  cargo clippy -p agentcore-sdk --no-default-features --features terminal -- -D warnings
  # agentcore-local alone (as a user builds it), not with features the workspace unifies in,
  # and without its Linux sandbox, as it builds on macOS.
  cargo clippy -p agentcore-local -- -D warnings
  cargo clippy -p agentcore-local -p examples --features agentcore-local/portable-check -- -D warnings
  scripts/public-api.sh
  # What each published crate ships: a missing readme or licence fails here, with no build
  # (a full `cargo publish --workspace --dry-run` is measured by hand, not in CI).
  for crate in agentcore-sdk-macros agentcore-sdk agentcore-local agentcore-cli; do
    files=$(cargo package --list -p "$crate")
    grep -qx LICENSE <<< "$files" || { echo "test.sh: $crate ships no LICENSE" >&2; exit 1; }
  done
  if command -v shellcheck >/dev/null; then
    shellcheck scripts/*.sh .ci/run
  else
    echo "SKIPPED shellcheck: not installed (install it: sudo apt-get install shellcheck)" >> "$AGENTCORE_TEST_SKIP_LOG"
  fi
fi

# The binaries and examples that tests run as processes are built first, so no test builds
# them while others run (timing-sensitive tests then see a quiet machine).
cargo build --workspace --bins --examples

# Two test threads: the machine has 2 cores and many tests run real processes.
cargo test --workspace -- --test-threads=2

$ci || exit 0

# The built test binaries, by name.
bins=$(cargo test -p tests --no-run --message-format=json 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and "test" in m["target"]["kind"]:
        print(m["target"]["name"], m["executable"])
')
binary() { awk -v n="$1" '$1 == n { print $2 }' <<< "$bins"; }

# As unprivileged users: a copy of what they run, readable by them (the checkout may not be).
stage=$(mktemp -d /tmp/agentcore-ci-XXXXXX)
trap 'summary; rm -rf "$stage"' EXIT
mkdir -p "$stage/debug/deps" "$stage/debug/examples"
as_users=(local_commands local_shell sandbox_escape unprivileged session_table coding_loop_example
  processes files session_endpoints)
for t in "${as_users[@]}"; do cp "$(binary "$t")" "$stage/debug/deps/$t"; done
cp target/debug/agentcore-local "$stage/debug/"
# The command-line tool's end-to-end tests, with the binary and snapshots they use.
cli_bins=$(cargo test -p agentcore-cli --no-run --message-format=json 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and "test" in m["target"]["kind"]:
        print(m["target"]["name"], m["executable"])
')
cli_as_users=(cli_exec cli_data cli_streams cli_exec_it_tmux cli_local)
for t in "${cli_as_users[@]}"; do
  cp "$(awk -v n="$t" '$1 == n { print $2 }' <<< "$cli_bins")" "$stage/debug/deps/$t"
done
cp target/debug/agentcore-rs "$stage/debug/"
cp -r agentcore-cli/tests/snapshots "$stage/snapshots"
cp target/debug/examples/coding_loop "$stage/debug/examples/"
chmod -R a+rX "$stage"
for user in agentcore-ci-sub agentcore-ci-nosub; do
  for t in "${as_users[@]}"; do
    echo "test.sh: $t as $user"
    (cd /tmp && runuser -u "$user" -- env -i HOME="/home/$user" TMPDIR=/tmp PATH=/usr/local/bin:/usr/bin:/bin \
      LANG=C.UTF-8 AGENTCORE_TEST_SKIP_LOG="$AGENTCORE_TEST_SKIP_LOG" \
      "$stage/debug/deps/$t" --test-threads=2 -q)
  done
  for t in "${cli_as_users[@]}"; do
    echo "test.sh: $t as $user"
    (cd /tmp && runuser -u "$user" -- env -i HOME="/home/$user" TMPDIR=/tmp PATH=/usr/local/bin:/usr/bin:/bin \
      LANG=C.UTF-8 AGENTCORE_TEST_SKIP_LOG="$AGENTCORE_TEST_SKIP_LOG" \
      AGENTCORE_RS_BIN="$stage/debug/agentcore-rs" AGENTCORE_RS_SNAPSHOTS="$stage/snapshots" \
      "$stage/debug/deps/$t" --test-threads=2 -q)
  done
done

# Without a sandbox (what macOS gets): every test that is not about the sandbox passes.
unsandboxed=(local_commands local_shell local_model local_websocket hardening faults workflow
  experiments coding_loop_example library_examples test_attribute sandbox_escape unprivileged
  session_table processes files session_endpoints preview fleet_faults)
for t in "${unsandboxed[@]}"; do
  echo "test.sh: $t without a sandbox"
  AGENTCORE_LOCAL_ISOLATION=none "$(binary "$t")" --test-threads=2 -q
done
for t in "${cli_as_users[@]}"; do
  echo "test.sh: $t without a sandbox"
  AGENTCORE_LOCAL_ISOLATION=none "$stage/debug/deps/$t" --test-threads=2 -q
done
