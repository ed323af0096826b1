"""What `fuse-ls fix` prints: the fused code as code, one line per line (not Markdown)."""

from __future__ import annotations

from pathlib import Path

from fuse_ls.emulator import Emulator
from tests.pool_sample import JUDGE, POOL, home_env, run_cli

CODE = """\
def load(raw):
    return eval(raw)
"""
# A comment at column 0 would be a Markdown heading, `__init__` bold, and the lines one
# paragraph: the printed fix must keep every line of code as the models wrote it.
FIXED = """\
# Parse a literal only: __init__ and friends are not reachable this way.
def load(raw):
    return ast.literal_eval(raw)"""


def test_fix_prints_the_fused_code_line_by_line(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(CODE)
    fix = {"replacement": FIXED, "explanation": "eval runs any code."}
    script = {"models": {**{m: {"fix": fix} for m in POOL}, JUDGE: {}}}
    with Emulator(script) as emu:
        env = home_env(emu.base_url, tmp_path / "home")
        env.update(FUSE_LS_MODELS=",".join(POOL), FUSE_LS_JUDGE=JUDGE, COLUMNS="120")
        res = run_cli(["fix", "app.py:1-2"], env, tmp_path)
    assert res.returncode == 0, res.stderr
    printed = [line.strip("│ ").rstrip() for line in res.stdout.splitlines()]
    for line in FIXED.splitlines():
        assert any(p.endswith(line.strip()) for p in printed), (line, res.stdout)
    assert "eval runs any code." in res.stdout
    assert (tmp_path / "app.py").read_text() == CODE  # no --apply: nothing written
