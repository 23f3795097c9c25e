#!/usr/bin/env bash
# What the SDK's and the browser's tests need, installed from Debian's and npm's registries:
#   - clients/js/node_modules from package-lock.json (npm ci: exact pinned versions)
#   - tests/clients/node_modules: the real agents and SDKs tests/e2e/test_real_clients.py drives
#     (Claude Code, OpenCode, the Vercel AI SDK), pinned the same way; their install scripts run,
#     as they do for a user: each puts its agent's native binary (from the platform package npm
#     just installed) in place, offline
#   - Debian's chromium, only when /usr/bin/chromium is missing (never a browser download)
# Without npm or apt-get (a laptop), it says what is missing and the tests that need it skip;
# in CI (CI set) a missing tool is an error.
set -euo pipefail
cd "$(dirname "$0")"

missing() {
  if [ -n "${CI:-}" ]; then
    echo "install-test-tools: $1 (CI needs it)" >&2
    exit 1
  fi
  echo "install-test-tools: $1; the tests that need it will skip" >&2
}

if command -v npm >/dev/null 2>&1; then
  stamp="node_modules/.installed-$(sha256sum package-lock.json | cut -c1-12)"
  if [ ! -e "$stamp" ]; then
    npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
    touch "$stamp"
  fi
  clients_stamp="../../tests/clients/node_modules/.installed-$(sha256sum ../../tests/clients/package-lock.json | cut -c1-12)"
  if [ ! -e "$clients_stamp" ]; then
    (cd ../../tests/clients && npm ci --no-audit --no-fund --loglevel=error)
    touch "$clients_stamp"
  fi
else
  missing "npm is not installed (Node 20 with npm runs the SDK tests)"
fi

if [ ! -x /usr/bin/chromium ]; then
  if command -v apt-get >/dev/null 2>&1; then
    sudo=""
    if [ "$(id -u)" != 0 ]; then
      if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; else
        missing "chromium is not installed and installing it needs root (apt-get install chromium)"
        exit 0
      fi
    fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium
  else
    missing "chromium is not installed and there is no apt-get"
  fi
fi
