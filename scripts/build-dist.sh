#!/usr/bin/env bash
# The CLI's own self-contained install: builds the wheel and the sdist into dist/
# (python -m build), checks their metadata (twine check --strict), then installs the
# wheel into a throwaway virtual environment and runs `fuse-ls --version` and
# `fuse-ls demo` from it, so the README's "install from a built wheel" line is proven.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}

rm -rf dist
"$PY" -m build --outdir dist . >/dev/null
"$PY" -m twine check --strict dist/*

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PY" -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install --quiet dist/*.whl
"$tmp/venv/bin/fuse-ls" --version
(cd "$tmp" && XDG_DATA_HOME="$tmp/data" XDG_CONFIG_HOME="$tmp/config" FUSE_LS_DATA_DIR="$tmp/data" \
  "$tmp/venv/bin/fuse-ls" demo >"$tmp/demo.txt" 2>&1) || { cat "$tmp/demo.txt"; exit 1; }
grep -q "models" "$tmp/demo.txt"
grep -q "fuse-ls#in-the-editor" "$tmp/demo.txt"  # not the clone's editors/, absent here
echo "dist: $(cd dist && echo *) (the wheel installs and runs the demo)"
