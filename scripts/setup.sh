#!/usr/bin/env bash
# Installs the system tools the tests use, only when missing, and says what it could not do.
#
#   scripts/setup.sh              install what is missing (as root, or with sudo when it needs
#                                 no password); otherwise name each missing tool and the
#                                 command that installs it, and go on: the tests that need a
#                                 missing tool say that they did not run, and why.
#   scripts/setup.sh --ci-users   also (root only, for CI; never on a developer's machine)
#                                 create two unprivileged test users, agentcore-ci-sub with a
#                                 subordinate id range and agentcore-ci-nosub without, and
#                                 give /dev/net/tun the mode most distributions give it (0666).
#
# Tools: uidmap (newuidmap/newgidmap) and slirp4netns for rootless session sandboxes, tmux for
# terminal tests, git, python3 with venv (boto3 interop), iproute2 and gcc (some sandbox
# tests), chromium (the preview's browser test), Node.js and npm (the JavaScript SDK interop;
# it needs Node.js 20 or newer and says so when the distribution's is older).
set -euo pipefail

ci_users=false
for arg in "$@"; do
  case "$arg" in
    --ci-users) ci_users=true ;;
    *) echo "setup: unknown argument $arg" >&2; exit 2 ;;
  esac
done

# tool → Debian package
declare -A packages=(
  [newuidmap]=uidmap
  [slirp4netns]=slirp4netns
  [tmux]=tmux
  [git]=git
  [python3]=python3
  [ip]=iproute2
  [gcc]=gcc
  [chromium]=chromium
  [shellcheck]=shellcheck
  [node]=nodejs
  [npm]=npm
)
need=()
for tool in "${!packages[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || need+=("${packages[$tool]}")
done
if command -v python3 >/dev/null 2>&1 && ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  need+=(python3-venv)
fi

if ((${#need[@]})); then
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      sudo="sudo -n"
    else
      for p in "${need[@]}"; do
        echo "setup: missing $p (install it: sudo apt-get install $p); the tests that need it will say they did not run" >&2
      done
      need=()
    fi
  fi
  if ((${#need[@]})); then
    echo "setup: installing ${need[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
fi

# Subordinate ids: a root server maps sessions to a high range of its own and needs none; an
# ordinary user's sandboxes use the user's range (useradd gives every new user one).
if [[ $(id -u) -ne 0 ]] && ! grep -qs "^\($(id -un)\|$(id -u)\):" /etc/subuid; then
  echo "setup: no subordinate id range for $(id -un): sessions get a single id (add one: sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 $(id -un), choosing a range no one has)" >&2
fi

if $ci_users; then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: --ci-users needs root" >&2
    exit 2
  fi
  for user in agentcore-ci-sub agentcore-ci-nosub; do
    id "$user" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$user"
  done
  # useradd gives a range (from a free part of the id space) when /etc/subuid exists.
  for f in /etc/subuid /etc/subgid; do
    touch "$f"
    if ! grep -q '^agentcore-ci-sub:' "$f"; then
      flag=--add-subuids; [[ $f == /etc/subgid ]] && flag=--add-subgids
      last=$(awk -F: '{ e = $2 + $3; if (e > m) m = e } END { print (m > 100000 ? m : 100000) }' "$f")
      usermod "$flag" "$last-$((last + 65535))" agentcore-ci-sub
    fi
    sed -i '/^agentcore-ci-nosub:/d' "$f"
  done
  [[ -e /dev/net/tun ]] && chmod 0666 /dev/net/tun
fi
