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
.venv/bin/python -m pip install --quiet -e ".[test]"

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

if [ -f vscode-extension/package.json ]; then
  echo "== VS Code extension (typecheck, lint, unit tests, bundle, .vsix)"
  (cd vscode-extension && npm ci --no-audit --no-fund --loglevel=error && npm run ci)
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
