#!/usr/bin/env bash
# Install the peers the benchmark compares against, pinned, under bench/.peers/ (not committed):
# - LiteLLM's proxy in its own virtualenv (bench/.peers/litellm/bin/litellm), every package pinned
#   by bench/pins/litellm.txt;
# - Portkey's open-source gateway from npm (bench/.peers/portkey/node_modules/@portkey-ai/gateway),
#   pinned with its whole tree by bench/pins/portkey/package.json and package-lock.json (npm ci);
# - Granian (bench/.peers/granian/bin/granian), the Rust HTTP server the server comparison
#   (python -m bench --servers) runs Bastion's app under.
# Everything is downloaded here, once: the benchmark itself runs offline. A peer that cannot be
# installed is reported and left out; the benchmark then runs without it. `make bench-peers` runs this.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-.venv/bin/python}
GRANIAN_VERSION=${GRANIAN_VERSION:-2.8.9}

install_litellm() {
    local peer=bench/.peers/litellm
    [ -x "$peer/bin/python" ] || "$PYTHON" -m venv "$peer"
    "$peer/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    if ! "$peer/bin/python" -m pip install --quiet --disable-pip-version-check -r bench/pins/litellm.txt; then
        echo "bench-peers: LiteLLM could not be installed (bench/pins/litellm.txt); the benchmark will run without it." >&2
        return 0
    fi
    echo "bench-peers: installed $("$peer/bin/python" -m pip show litellm 2>/dev/null | sed -n 's/^Version: /litellm[proxy]==/p') in $peer"
}

install_portkey() {
    local peer=bench/.peers/portkey
    if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
        echo "bench-peers: node and npm are needed for Portkey's gateway; the benchmark will run without it." >&2
        return 0
    fi
    mkdir -p "$peer"
    cp bench/pins/portkey/package.json bench/pins/portkey/package-lock.json "$peer/"
    # --ignore-scripts: the gateway's only install script is patch-package, with no patches shipped.
    if ! (cd "$peer" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error); then
        echo "bench-peers: Portkey's gateway could not be installed (bench/pins/portkey); the benchmark will run without it." >&2
        return 0
    fi
    echo "bench-peers: installed @portkey-ai/gateway@$(node -p "require('./$peer/node_modules/@portkey-ai/gateway/package.json').version") in $peer (node $(node --version))"
}

install_granian() {
    local peer=bench/.peers/granian
    [ -x "$peer/bin/python" ] || "$PYTHON" -m venv "$peer"
    if ! "$peer/bin/python" -m pip install --quiet --disable-pip-version-check "granian==${GRANIAN_VERSION}"; then
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
install_portkey
install_granian
