#!/usr/bin/env bash
# Install the peers the benchmark compares against, each in its own virtualenv under bench/.peers/.
# Today: LiteLLM's proxy (bench/.peers/litellm/bin/litellm). `make bench-peers` runs this.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-.venv/bin/python}
# Newest release whose dependencies resolve on the package index this project uses (1.103.8 and
# later need certifi>=2026.10.19, which it does not have yet).
LITELLM_VERSION=${LITELLM_VERSION:-1.103.5}
PEER=bench/.peers/litellm

if ! "$PYTHON" -m pip index versions litellm 2>/dev/null | grep -q "^litellm ("; then
    echo "bench-peers: litellm is not available from the package index; the benchmark will run without it." >&2
    exit 0
fi
if [ ! -x "$PEER/bin/python" ]; then
    "$PYTHON" -m venv "$PEER"
fi
"$PEER/bin/python" -m pip install --quiet --upgrade pip
"$PEER/bin/python" -m pip install --quiet "litellm[proxy]==${LITELLM_VERSION}"
echo "bench-peers: installed litellm[proxy]==${LITELLM_VERSION} in $PEER"
