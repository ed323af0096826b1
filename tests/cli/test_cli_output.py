"""What `fuse-ls` prints for a person: the fused fix as code, plain progress lines in logs."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

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


def test_log_lines_tell_a_member_not_waited_for_from_a_failed_one(tmp_path: Path) -> None:
    """Outside a terminal (CI logs) each finished call is one line; a member the quorum
    made unnecessary did not fail, and no line names the model twice."""
    (tmp_path / "app.py").write_text(CODE)
    slow, broken = "slow/model", "broken/model"
    script = {
        "strict_models": False,
        "models": {
            "*": {"ttft_ms": 5},
            broken: {"fault": {"kind": "http", "status": 400, "message": "no such model"}},
        },
    }
    lines: list[str] = []
    with Emulator(script) as emu:
        env = home_env(emu.base_url, tmp_path / "home")
        env.update(FUSE_LS_JUDGE=JUDGE, COLUMNS="200")
        env["FUSE_LS_MODELS"] = f"{POOL[0]},{POOL[1]},{broken}"
        res = run_cli(["review", "app.py"], env, tmp_path)
        assert res.returncode == 0, res.stderr
        lines += [line for line in res.stderr.splitlines() if line.startswith("[fuse-ls]")]
        emu.hold(slow)  # answers only after the run: a quorum of 2 never waits for it
        env.update(FUSE_LS_MODELS=f"{POOL[0]},{POOL[1]},{slow}", FUSE_LS_QUORUM__MIN_RESPONSES="2")
        res = run_cli(["review", "app.py"], env, tmp_path)
        emu.release()
        assert res.returncode == 0, res.stderr
        lines += [line for line in res.stderr.splitlines() if line.startswith("[fuse-ls]")]
    assert any(line.startswith(f"[fuse-ls] model not waited for: {slow} ") for line in lines), lines
    assert any(line.startswith(f"[fuse-ls] model failed: {broken} ") for line in lines), lines
    assert not any(line.count(slow) > 1 or line.count(broken) > 1 for line in lines), lines


@pytest.mark.parametrize("args", [["doctor", "--offline", "--json"], ["cache", "stats", "--json"]])
def test_a_reader_that_went_away_stops_the_output_without_a_traceback(
    tmp_path: Path, args: list[str]
) -> None:
    """`fuse-ls ... | head` closes the pipe early: no traceback, no 'Exception ignored'."""
    env = home_env("http://127.0.0.1:9/api/v1", tmp_path / "home")
    proc = subprocess.Popen(
        [sys.executable, "-m", "fuse_ls", *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    proc.stdout.close()  # before anything is written: every write meets a closed pipe
    _, err = proc.communicate(timeout=60)
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert proc.returncode == 0, err  # as `fuse-ls stats` does: the reader chose to stop


def test_emulator_help_names_the_command_as_typed(tmp_path: Path) -> None:
    env = home_env("http://127.0.0.1:9/api/v1", tmp_path / "home")
    assert run_cli(["emulator", "--help"], env, tmp_path).stdout.startswith(
        "usage: fuse-ls emulator "
    )
    res = subprocess.run(
        [sys.executable, "-m", "fuse_ls.emulator", "--help"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.stdout.startswith("usage: python -m fuse_ls.emulator "), res.stdout


@pytest.mark.parametrize("command", [["emulator"], ["serve", "--tcp"], ["serve", "--ws"]])
@pytest.mark.parametrize(
    ("port", "said"),
    [("99999", "expected a port from 0 to 65535, got 99999"), ("-1", None), ("x", None)],
)
def test_a_port_out_of_range_is_bad_usage_not_a_traceback(
    tmp_path: Path, command: list[str], port: str, said: str | None
) -> None:
    env = home_env("http://127.0.0.1:9/api/v1", tmp_path / "home")
    res = run_cli([*command, "--port", port], env, tmp_path, timeout=30)
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
    last = res.stderr.splitlines()[-1]
    assert last.startswith(f"fuse-ls {command[0]}: error: argument --port: expected a port"), last
    assert said is None or last.endswith(said)


@pytest.mark.parametrize("transport", ["--tcp", "--ws"])
def test_a_port_in_use_is_said_not_a_traceback(tmp_path: Path, transport: str) -> None:
    env = home_env("http://127.0.0.1:9/api/v1", tmp_path / "home")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        res = run_cli(["serve", transport, "--port", str(port)], env, tmp_path, timeout=60)
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
    assert res.stderr.strip() == (
        f"fuse-ls serve: cannot listen on 127.0.0.1:{port}: address already in use; "
        "choose another --port"
    ), res.stderr


def test_a_small_budget_is_named_as_set_not_rounded_to_zero(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(CODE)
    with Emulator({"models": {JUDGE: {}}}) as emu:
        env = home_env(emu.base_url, tmp_path / "home")
        env.update(
            FUSE_LS_MODELS=",".join(POOL),
            FUSE_LS_JUDGE=JUDGE,
            FUSE_LS_BUDGET__MAX_USD_PER_REQUEST="0.00001",
            COLUMNS="300",
        )
        res = run_cli(["review", "app.py"], env, tmp_path)
        assert emu.requests == []  # refused before any call
    assert res.returncode == 2, res.stderr
    assert "per-request budget of $0.00001." in res.stderr, res.stderr


def test_a_deadline_below_a_tenth_of_a_second_is_named_as_set_not_as_zero(
    tmp_path: Path,
) -> None:
    """`--deadline 0.000001` was said as "the 0s fusion deadline" (and as "1e-06s" when it
    cut a change review's run): what was set must be readable where it is named."""
    (tmp_path / "app.py").write_text(CODE)
    with Emulator({"models": {"*": {"ttft_ms": 50}}}) as emu:
        env = home_env(emu.base_url, tmp_path / "home")
        env.update(FUSE_LS_MODELS=",".join(POOL), FUSE_LS_JUDGE=JUDGE, COLUMNS="300")
        single = run_cli(["review", "app.py", "--deadline", "0.000001", "--json"], env, tmp_path)
        change = run_cli(
            ["review", "app.py", "--no-cache", "--deadline", "0.000001", "--quiet"], env, tmp_path
        )
    assert single.returncode == 3, single.stderr  # every model was cut
    assert "cut to keep the 0.000001s fusion deadline (quorum.deadline_s)" in single.stderr
    assert " 0s " not in single.stderr
    assert change.returncode == 4, change.stderr  # nothing was reviewed
    assert "stopped: the run's 0.000001s deadline had passed" in change.stdout, change.stdout
    # No model saw the code: not a clean review in green.
    assert "Nothing was reviewed: the run stopped first." in change.stdout
    assert "No findings" not in change.stdout


def test_the_models_table_names_every_model_in_full_at_80_columns(tmp_path: Path) -> None:
    """Beside a note column rich cut the ids to `anthropic/cl…`; a judge that was not asked
    cost `?` (it cost nothing)."""
    (tmp_path / "app.py").write_text(CODE)
    broken = "broken/model"
    fault = {"kind": "http", "status": 400, "message": "no such model: broken/model"}
    script = {"strict_models": False, "models": {broken: {"fault": fault}}}
    with Emulator(script) as emu:
        env = home_env(emu.base_url, tmp_path / "home")
        env.update(FUSE_LS_MODELS=",".join([*POOL, broken]), FUSE_LS_JUDGE=JUDGE, COLUMNS="80")
        res = run_cli(["fix", "app.py:1-2"], env, tmp_path)
    assert res.returncode == 0, res.stderr
    table = res.stdout[res.stdout.index("models") :]
    # The table fits; the notes under it are whole lines (a log wraps them, not rich).
    assert max(len(line) for line in table.splitlines() if line[:1] in "┏┃┡│└") <= 80
    for model in (*POOL, broken, f"{JUDGE} (judge)"):
        assert f"│ {model} " in table, table
    assert "…" not in table
    judge = next(line for line in table.splitlines() if "(judge)" in line)
    cells = [cell.strip() for cell in judge.split("│")[1:-1]]
    assert cells == [f"{JUDGE} (judge)", "skipped", "-", "0/0", "-"], judge


def test_change_review_progress_stays_one_line_in_an_80_column_terminal() -> None:
    """The live line runs to ~190 characters with the model list: wrapped, every redraw
    took three lines of the terminal."""
    import io

    from rich.console import Console

    from fuse_ls.changes.output import RunProgress
    from fuse_ls.changes.progress import RunState

    console = Console(file=io.StringIO(), force_terminal=True, width=80, color_system=None)
    progress = RunProgress(console)
    with progress:
        progress(RunState(units=12, done=3, models=POOL, judge=JUDGE, stage="reviewing"))
        shown = console.render_lines(progress.live.renderable, console.options)
    assert len(shown) == 1
    text = "".join(segment.text for segment in shown[0])
    assert text.startswith("fuse-ls: reviewing · units 3/12 (0 cached)") and text.endswith("…")


@pytest.mark.parametrize("who", ["member", "judge"])
def test_a_failure_is_said_once_under_the_models_table(tmp_path: Path, who: str) -> None:
    """The failed model's row repeated, folded into its cell, the note printed below."""
    (tmp_path / "app.py").write_text(CODE)
    found = {"match": "eval(", "message": "eval of input", "severity": "error"}
    other = {"match": "return", "message": "returns", "severity": "hint"}
    models: dict[str, Any] = {m: {"findings": [found]} for m in POOL}
    models[POOL[0]] = {"findings": [found, other]}  # a disagreement: the judge is asked
    models[JUDGE] = {}
    failing = JUDGE if who == "judge" else POOL[2]
    models[failing] = {"fault": {"kind": "http", "status": 400, "message": "zzz-distinct"}}
    with Emulator({"models": models}) as emu:
        env = home_env(emu.base_url, tmp_path / "home")
        env.update(FUSE_LS_MODELS=",".join(POOL), FUSE_LS_JUDGE=JUDGE, COLUMNS="100")
        res = run_cli(["review", "app.py"], env, tmp_path)
    assert res.returncode == 0, res.stderr
    table = res.stdout[res.stdout.index("models") :]
    assert table.count("zzz-distinct") == 1, table
    row = next(line for line in table.splitlines() if f"│ {failing} " in line)
    cells = [cell.strip() for cell in row.split("│")[1:-1]]
    assert cells[1:] == ["error", cells[2], "0/0", "-"], row
    assert any(line.startswith("note: ") and "zzz-distinct" in line for line in table.splitlines())
