"""An unwritable or misplaced data directory (issue 10 item 8): everything that writes
there degrades to a warning, and the result that was paid for is returned whole."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

from fuse_ls.config import replace
from fuse_ls.emulator import Emulator
from fuse_ls.fusion.engine import FusionEngine
from tests.robustness.support import CODE, cli_env, request, run_cli, script, settings_for


def _unwritable(tmp_path: Path, where: str) -> str:
    if where == "a file":
        blocker = tmp_path / "not-a-dir"
        blocker.write_text("a file where the data dir should be")
        return str(blocker / "data")  # NotADirectoryError
    if not sys.platform.startswith("linux"):
        pytest.skip("needs Linux sysfs, where nobody (root included) may create files")
    return "/sys/kernel/fuse-ls-test-data"  # PermissionError, even for root


@pytest.mark.parametrize("where", ["a file", "under /sys"])
def test_the_engine_returns_the_result_and_says_what_was_not_recorded(
    emulator_factory: Any, tmp_path: Path, where: str
) -> None:
    emu: Emulator = emulator_factory(script())
    settings = settings_for(emu, tmp_path, "merge")
    settings = replace(settings, {"telemetry.data_dir": _unwritable(tmp_path, where)})
    settings = replace(settings, {"budget.max_usd_per_day": 5.0})  # the ledger is needed

    async def go() -> Any:
        async with FusionEngine(settings) as engine:
            return await engine.run(request("review"))

    result = asyncio.run(go())
    assert result.total_cost_usd > 0 and any(f.start_line == 2 for f in result.findings)
    [note] = [n for n in result.notes if "daily spend ledger" in n]
    assert "budget.max_usd_per_day does not count it" in note and "data_dir" in note


@pytest.mark.parametrize("task", ["review", "explain", "fix"])
@pytest.mark.parametrize("where", ["a file", "under /sys"])
def test_the_cli_prints_the_result_with_a_warning(
    emulator_factory: Any, tmp_path: Path, where: str, task: str
) -> None:
    emu: Emulator = emulator_factory(script())
    (tmp_path / "app.py").write_text(CODE)
    env = cli_env(emu, tmp_path, FUSE_LS_BUDGET__MAX_USD_PER_DAY="5")
    env["FUSE_LS_DATA_DIR"] = _unwritable(tmp_path, where)
    done = run_cli([task, "app.py", "--quiet"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "telemetry disabled for this session" in done.stderr
    assert "daily spend ledger" in " ".join(done.stdout.split())
    expected = {"review": "eval() on user input", "explain": "eval()", "fix": "literal_eval"}
    assert expected[task] in done.stdout
