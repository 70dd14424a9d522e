#!/usr/bin/env bash
# Installs the system tools the project uses, only when missing: bash, util-linux
# (unshare, mount) for session sandboxes, tmux for terminal tests, python3-venv for the boto3
# interop test. Idempotent; needs root (or sudo) only when something is missing.
set -euo pipefail

need=()
command -v bash >/dev/null || need+=(bash)
command -v unshare >/dev/null || need+=(util-linux)
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
