#!/usr/bin/env bash
# The whole test suite, from a fresh clone: install, lint, type-check, build the VS Code
# extension, run every test. The README's test command and CI (.ci/run) run exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".[test,release]"

# In CI, also install Emacs + eglot so the Emacs smoke test runs instead of skipping.
# Best effort: a missing package only turns that one test into a skip.
if [ "${CI:-}" = "true" ] && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null && ! command -v emacs >/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends emacs-nox elpa-eglot) >/dev/null 2>&1 \
    || echo "note: could not install emacs-nox/elpa-eglot; the Emacs smoke test will skip"
fi

echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy --strict fuse_ls"
.venv/bin/mypy

echo "== wheel and sdist (python -m build, twine check, the wheel installs and runs)"
bash scripts/build-dist.sh

if [ -f vscode-extension/package.json ]; then
  echo "== VS Code extension (typecheck, lint, unit tests, bundle, .vsix with the server inside)"
  (cd vscode-extension && npm ci --no-audit --no-fund --loglevel=error && npm run ci)

  # The .vsix in a real VS Code: code-server + Debian's Chromium driven by playwright-core
  # (vscode-extension/e2e). The first install builds code-server's native modules (a few
  # minutes); with CI=true as root it apt-gets its system packages first. FUSE_LS_E2E=0
  # skips it; outside CI a machine without the prerequisites skips it with a note.
  echo "== real VS Code (code-server + Chromium): the .vsix on a machine without fuse-ls"
  if [ "${FUSE_LS_E2E:-1}" = "0" ]; then
    echo "skipped: FUSE_LS_E2E=0"
  elif bash vscode-extension/e2e/install.sh; then
    node vscode-extension/e2e/run.mjs
  elif [ "${CI:-}" = "true" ]; then
    echo "the real-VS-Code test could not be installed" >&2
    exit 1
  else
    echo "note: the real-VS-Code test's tools could not be installed here (see above); it did not run"
  fi
fi

echo "== Rudel contract (Node packages for Rudel's vendored transcript schemas)"
(cd tests/telemetry/rudel && npm ci --no-audit --no-fund --loglevel=error)

echo "== pytest"
set +e
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure, not a pass." >&2
  exit 1
fi
exit "$rc"
