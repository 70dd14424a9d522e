#!/usr/bin/env bash
# Moves the pinned service model (botocore) to its newest release, then runs the model
# conformance suite: what it reports short is what AWS added since the last pin.
#   scripts/bump-model.sh            newest botocore on PyPI
#   scripts/bump-model.sh 1.44.9     a given version
set -euo pipefail
cd "$(dirname "$0")/.."
version="${1:-}"
if [[ -z "$version" ]]; then
  version=$(python3 -m pip index versions botocore 2>/dev/null | sed -n 's/^botocore (\(.*\))$/\1/p')
fi
[[ -n "$version" ]] || { echo "bump-model: cannot find the newest botocore (give a version)" >&2; exit 2; }
old=$(cat tests/model/botocore-version)
echo "$version" > tests/model/botocore-version
echo "bump-model: botocore $old → $version"
cargo test -p tests --test model_conformance -- --nocapture
