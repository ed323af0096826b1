"""Trojan Source (CVE-2021-42574) through the models: Unicode bidi controls in a fused fix
or a finding reorder what the terminal displays, so the fix shown can read as other code
than the fix applied, and a finding as other words than it says. A model led by the
code it reads can be made to write them. On screen (a terminal, a piped table, a CI log)
each is shown as `<U+202E>`; `--json` keeps the model's text exactly (as `\\u202e`
escapes), and so do `fix --apply` and the code of a piped `fuse-ls fix`, which is the
code itself (`> fixed.py`)."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

from fuse_ls.emulator import Emulator
from fuse_ls.safetext import BIDI_CONTROLS, bidi_shown
from tests.changes.gitrepo import Repo
from tests.pool_sample import JUDGE, POOL, home_env, run_cli
from tests.security.counts import record

ORIGINAL = "def load(raw):\n    return eval(raw)\n"
# Displayed, the override makes the line read `return ast.literal_eval(raw)  # safe`
# style text while the characters run in another order.
RLO, LRI, PDI = "\u202e", "\u2066", "\u2069"
FIXED = (
    "def load(raw):\n"
    f'    role = "user{RLO} {LRI}# admin only{PDI} {LRI}"  # check\n'
    "    return ast.literal_eval(raw)\n"
)
EXPLANATION = f"Parse literals only{RLO} (no eval){PDI}."
MESSAGE = f"eval runs any code {RLO}ton si siht{PDI} and \u200fmarks\u200e \u061cthis"


def _bare(text: str) -> bool:
    return not any(char in text for char in BIDI_CONTROLS)


def _env(base_url: str, home: Path) -> dict[str, str]:
    env = home_env(base_url, home)
    env.update(FUSE_LS_MODELS=",".join(POOL), FUSE_LS_JUDGE=JUDGE, COLUMNS="200")
    return env


def on_terminal(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str]:
    """`fuse-ls ARGS` with a pseudo-terminal (200x50) as its stdin, stdout and stderr."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    env = {k: v for k, v in env.items() if k not in ("COLUMNS", "NO_COLOR")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "fuse_ls", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=cwd,
        env=env,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the process closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=120), b"".join(chunks).decode("utf-8", "replace")


def test_a_fused_fix_shows_its_bidi_controls_on_a_terminal(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(ORIGINAL)
    fix = {"replacement": FIXED, "explanation": EXPLANATION}
    script = {"models": {**{m: {"fix": fix} for m in POOL}, JUDGE: {}}}
    with Emulator(script) as emu:
        env = _env(emu.base_url, tmp_path / "home")
        status, screen = on_terminal(["fix", "app.py:1-2"], env, tmp_path)
        piped = run_cli(["fix", "app.py:1-2"], env, tmp_path)
        as_json = run_cli(["fix", "app.py:1-2", "--json"], env, tmp_path)
        applied = run_cli(["fix", "app.py:1-2", "--apply"], env, tmp_path)
    assert status == 0, screen
    assert _bare(screen), screen
    assert "<U+202E>" in screen and "<U+2066># admin only<U+2069>" in screen
    assert "(no eval)<U+2069>" in screen  # the explanation too
    # Piped, the code is the code (`> fixed.py`); the words around it are marked.
    assert piped.returncode == 0, piped.stderr
    assert FIXED.rstrip("\n") in piped.stdout
    assert bidi_shown(EXPLANATION) in piped.stdout and EXPLANATION not in piped.stdout
    assert json.loads(as_json.stdout)["answer"].rstrip("\n") == FIXED.rstrip("\n")
    assert _bare(as_json.stdout)  # escaped as \u202e: the same data, nothing reordered
    assert applied.returncode == 0, applied.stderr
    assert (tmp_path / "app.py").read_text() == FIXED
    assert _bare(applied.stderr)
    record("bidi controls shown, not obeyed", "fix")


def test_a_finding_shows_its_bidi_controls_and_json_keeps_them(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(ORIGINAL)
    finding = {"match": "eval(", "message": MESSAGE, "severity": "error", "category": "secu"}
    script = {"models": {**{m: {"findings": [finding]} for m in POOL}, JUDGE: {}}}
    with Emulator(script) as emu:
        env = _env(emu.base_url, tmp_path / "home")
        status, screen = on_terminal(["review", "app.py"], env, tmp_path)
        piped = run_cli(["review", "app.py"], env, tmp_path)
        as_json = run_cli(["review", "app.py", "--format", "json"], env, tmp_path)
    assert status == 0, screen
    for shown in (screen, piped.stdout):
        assert _bare(shown), shown
        assert "<U+202E>ton si siht<U+2069>" in shown
        assert "<U+200F>marks<U+200E>" in shown and "<U+061C>this" in shown
    messages = [f["message"] for f in json.loads(as_json.stdout)["findings"]]
    assert MESSAGE in messages and _bare(as_json.stdout)
    record("bidi controls shown, not obeyed", "review")


def test_a_change_review_shows_bidi_controls_and_its_fix_diff_on_a_terminal(
    tmp_path: Path,
) -> None:
    repo = Repo(tmp_path / "project")
    repo.write("app.py", "def load(raw):\n    return raw\n")
    repo.commit("base")
    repo.write("app.py", ORIGINAL)
    rule = {"match": "eval(", "replace": f"ast.literal_eval({RLO}", "message": MESSAGE}
    script = {"models": {**{m: {"findings": [{**rule, "severity": "error"}]} for m in POOL}}}
    script["models"][JUDGE] = {}
    with Emulator(script) as emu:
        env = _env(emu.base_url, tmp_path / "home")
        piped = run_cli(["review", "--uncommitted"], env, repo.root)
        status, screen = on_terminal(["review", "--uncommitted", "--fix"], env, repo.root)
        patch = run_cli(["review", "--uncommitted", "--fix"], env, repo.root)
    assert piped.returncode == 0, piped.stderr
    assert _bare(piped.stdout) and "<U+202E>ton si siht<U+2069>" in piped.stdout
    assert status == 0, screen
    assert _bare(screen) and "ast.literal_eval(<U+202E>" in screen
    # Piped, the diff is a patch, byte for byte: what `--apply` would write.
    assert f"+    return ast.literal_eval({RLO}raw)" in patch.stdout
    record("bidi controls shown, not obeyed", "change review")
