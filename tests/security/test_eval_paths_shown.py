"""`fuse-ls eval replay --html FILE` names the file it wrote (or could not write). The
name was read as rich markup: `report[final].html` was announced as `report.html`, and
a name's ESC reached the terminal."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.eval.test_replay import write_dataset
from tests.pool_sample import home_env, run_cli


@pytest.mark.parametrize("name", ["report[final].html", "r\x1b]0;owned\x07.html"])
def test_the_report_file_is_named_as_written(tmp_path: Path, name: str) -> None:
    root = write_dataset(tmp_path / "ds")
    env = home_env("http://127.0.0.1:9/api/v1", tmp_path)  # replay calls no model
    res = run_cli(["eval", "replay", str(root), "--pool-size", "2", "--html", name], env, tmp_path)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / name).is_file()
    shown = name.replace("\x1b", "\\x1b").replace("\x07", "\\x07")
    assert f"wrote {shown}" in res.stderr and "\x1b" not in res.stderr, res.stderr
    missing = tmp_path / "no such folder" / name
    res = run_cli(["eval", "replay", str(root), "--html", str(missing)], env, tmp_path)
    assert res.returncode == 2
    assert "error: cannot write " in res.stderr and "no such folder" in res.stderr
    assert "\x1b" not in res.stderr, res.stderr
