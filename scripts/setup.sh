#!/usr/bin/env bash
# Installs the system tools the project uses, only when missing: bash, util-linux
# (unshare, nsenter, mount), uidmap (newuidmap, and a subordinate id range for the user) and
# slirp4netns for session sandboxes, tmux for terminal tests, python3-venv for the boto3
# interop test. Idempotent; needs root (or sudo) only when something is missing.
set -euo pipefail

need=()
command -v bash >/dev/null || need+=(bash)
command -v unshare >/dev/null || need+=(util-linux)
command -v newuidmap >/dev/null || need+=(uidmap)
command -v slirp4netns >/dev/null || need+=(slirp4netns)
command -v ip >/dev/null || need+=(iproute2)
command -v mount >/dev/null || need+=(mount)
command -v tmux >/dev/null || need+=(tmux)
command -v git >/dev/null || need+=(git)
command -v python3 >/dev/null || need+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)

if ((${#need[@]})); then
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  echo "setup: installing ${need[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

# Session sandboxes map root inside to the user's subordinate ids (/etc/subuid, /etc/subgid).
me=$(id -un)
for f in /etc/subuid /etc/subgid; do
  if ! grep -qs "^\($me\|$(id -u)\):" "$f"; then
    if [[ $(id -u) -eq 0 ]]; then
      echo "$me:100000:65536" >> "$f"
    else
      echo "setup: no range for $me in $f: sessions will run with a single mapped id (see docs/ARCHITECTURE.md)" >&2
    fi
  fi
done
