#!/usr/bin/env bash
# Install the peers the benchmark compares against, each in its own virtualenv under bench/.peers/:
# LiteLLM's proxy (bench/.peers/litellm/bin/litellm), and Granian (bench/.peers/granian/bin/granian),
# the Rust HTTP server the server comparison (python -m bench --servers) runs Bastion's app under.
# `make bench-peers` runs this.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-.venv/bin/python}
# Newest release whose dependencies resolve on the package index this project uses (1.103.8 and
# later need certifi>=2026.10.19, which it does not have yet).
LITELLM_VERSION=${LITELLM_VERSION:-1.103.5}
GRANIAN_VERSION=${GRANIAN_VERSION:-2.8.9}

install_litellm() {
    local peer=bench/.peers/litellm
    if ! "$PYTHON" -m pip index versions litellm 2>/dev/null | grep -q "^litellm ("; then
        echo "bench-peers: litellm is not available from the package index; the benchmark will run without it." >&2
        return 0
    fi
    [ -x "$peer/bin/python" ] || "$PYTHON" -m venv "$peer"
    "$peer/bin/python" -m pip install --quiet --upgrade pip
    "$peer/bin/python" -m pip install --quiet "litellm[proxy]==${LITELLM_VERSION}"
    echo "bench-peers: installed litellm[proxy]==${LITELLM_VERSION} in $peer"
}

install_granian() {
    local peer=bench/.peers/granian
    [ -x "$peer/bin/python" ] || "$PYTHON" -m venv "$peer"
    if ! "$peer/bin/python" -m pip install --quiet "granian==${GRANIAN_VERSION}"; then
        echo "bench-peers: granian could not be installed; the server comparison will run without it." >&2
        return 0
    fi
    # Granian imports Bastion's app: give its virtualenv the project's packages (and source).
    local mine theirs
    mine=$("$PYTHON" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    theirs=$("$peer/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    printf '%s\n%s\n' "$mine" "$PWD/src" > "$theirs/bastion-venv.pth"
    echo "bench-peers: installed granian==${GRANIAN_VERSION} in $peer"
}

install_litellm
install_granian
