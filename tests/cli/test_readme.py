"""The README's commands work as written (a new user pastes them)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def bash_block_after(heading: str) -> list[list[str]]:
    """The commands of the first ```bash block under `heading`, comments removed."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index(heading) :]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block, f"no bash block under {heading!r}"
    return [shlex.split(line, comments=True) for line in block.group(1).splitlines() if line]


def test_bare_fuse_ls_only_after_the_venv_is_activated() -> None:
    """Step 1 installs into .venv without activating it: the first command that calls
    `fuse-ls` by name must be preceded by the activation (or use .venv/bin/fuse-ls)."""
    lines = README.read_text(encoding="utf-8").splitlines()
    # Only commands count: prose such as "fuse-ls is not on PyPI yet" is not run.
    fences = [i for i, line in enumerate(lines) if line.startswith("```")]
    in_code = {i for a, b in zip(fences[::2], fences[1::2], strict=False) for i in range(a, b)}
    first_bare = next(
        i for i, line in enumerate(lines) if i in in_code and re.match(r"fuse-ls\s", line)
    )
    assert any(". .venv/bin/activate" in line for line in lines[:first_bare]), lines[first_bare]


def test_telemetry_commands_run_offline(tmp_path: Path) -> None:
    commands = bash_block_after("## Session telemetry")
    assert any(argv[:2] == ["fuse-ls", "upload"] for argv in commands)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FUSE_LS_", "RUDEL_"))}
    env.update(FUSE_LS_DATA_DIR=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path / "cfg"))
    for argv in commands:
        assert argv[0] == "fuse-ls", argv
        res = subprocess.run(
            [sys.executable, "-m", "fuse_ls", *argv[1:]],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert res.returncode == 0, (argv, res.stdout, res.stderr)
        if "--dry-run" in argv:
            assert "nothing is sent" in res.stdout, res.stdout
