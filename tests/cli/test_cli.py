"""The `fuse-ls` command line, run as a real process against the loopback emulator."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fuse_ls.emulator import Emulator
from tests.pool_sample import CODE, JUDGE, POOL, A, B, C, outside_env, run_cli

EVAL = {
    "match": "eval(",
    "message": "eval of user input",
    "severity": "error",
    "category": "security",
    "replace": "ast.literal_eval(",
}
EXCEPT = {"match": "except:", "message": "bare except", "severity": "warning", "category": "errors"}
SCRIPT: dict[str, Any] = {
    "models": {
        A: {
            "findings": [EVAL, EXCEPT],
            "text": "It loads rows.",
            "fix": {"find": "eval(", "replace": "ast.literal_eval("},
        },
        B: {
            "findings": [EVAL],
            "text": "It loads rows too.",
            "fix": {"find": "eval(", "replace": "ast.literal_eval("},
        },
        C: {
            "findings": [EVAL],
            "text": "Loads rows.",
            "fix": {"find": "eval(", "replace": "ast.literal_eval("},
        },
        JUDGE: {},
    }
}
SECRET = "sk-or-v1-" + "9f8e7d6c5b4a" * 5


def origin(base_url: str) -> str:
    """http://127.0.0.1:PORT of the emulator's base URL."""
    return base_url.removesuffix("/").removesuffix("/api/v1")


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(SCRIPT) as emulator:
        yield emulator


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / ".git").mkdir()
    (tmp_path / "app.py").write_text(CODE)
    return tmp_path


def fuse(
    args: list[str], cwd: Path, base_url: str | None, **env: str
) -> subprocess.CompletedProcess[str]:
    environ = outside_env()
    environ.update(
        XDG_CONFIG_HOME=str(cwd / ".config"),
        FUSE_LS_DATA_DIR=str(cwd / ".data"),
        FUSE_LS_MODELS=",".join(POOL),
        FUSE_LS_JUDGE=JUDGE,
        COLUMNS="160",
    )
    environ.update(env)
    if base_url:
        environ["FUSE_LS_BASE_URL"] = base_url
    return run_cli(args, environ, cwd, timeout=120)


def test_version() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "fuse_ls", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0 and out.stdout.startswith("fuse-ls ")


def test_demo_runs_without_a_key(tmp_path: Path) -> None:
    res = fuse(["demo"], tmp_path, None)
    assert res.returncode == 0, res.stderr
    assert "DEMO" in res.stdout and "emulator" in res.stdout
    assert "3/3" in res.stdout and "2/3" in res.stdout
    assert "OPENROUTER_API_KEY" in res.stdout  # says how to use real models
    data = json.loads(fuse(["demo", "--json"], tmp_path, None).stdout)
    assert data["demo"] is True and data["findings"]


def test_demo_next_steps_paste_into_a_shell_at_80_columns(tmp_path: Path) -> None:
    res = fuse(["demo"], tmp_path, None, COLUMNS="80")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    # Panels and tables fit; a line of text (the summary) is whole when piped.
    assert max(len(line) for line in lines if not line.startswith("mode ")) <= 80
    start = next(i for i, line in enumerate(lines) if "Or with a local" in line) + 1
    end = next(i for i, line in enumerate(lines) if "In your editor" in line)
    pasted = "\n".join(lines[start:end])  # what a user selects and pastes, padding and all
    assert in_a_shell(pasted) == [
        "FUSE_LS_BASE_URL=http://localhost:11434/v1",
        "FUSE_LS_JUDGE=qwen2.5-coder:7b",
        "FUSE_LS_MODELS=qwen2.5-coder:7b,llama3.1:8b",
        "args: review path/to/file.py",
    ]


def next_steps_editor_lines(stdout: str) -> list[str]:
    lines = [line.strip() for line in stdout.splitlines()]
    start = next(i for i, line in enumerate(lines) if line.startswith("In your editor"))
    end = next(i for i, line in enumerate(lines) if line.startswith("Check your setup"))
    return lines[start + 1 : end]


def test_demo_points_at_editor_set_ups_that_exist(tmp_path: Path) -> None:
    """Installed from the wheel, the demo sent users to editors/ and vscode-extension/,
    folders only a clone has. The package alone, as a wheel installs it, is run here."""
    clone = Path(__file__).resolve().parents[2]
    site = tmp_path / "site"
    shutil.copytree(
        clone / "fuse_ls", site / "fuse_ls", ignore=shutil.ignore_patterns("__pycache__")
    )
    installed = fuse(["demo"], tmp_path, None, COLUMNS="80", PYTHONPATH=str(site))
    assert installed.returncode == 0, installed.stderr
    assert "editors/" not in installed.stdout and "vscode-extension" not in installed.stdout
    readme = (clone / "README.md").read_text()
    (link,) = next_steps_editor_lines(installed.stdout)
    assert link == "https://github.com/fuse-ls/fuse-ls#in-the-editor"
    assert "\n## In the editor\n" in readme  # the section the anchor names
    # From the clone (an editable install), its folders, wherever the demo runs.
    for cwd, shown in ((clone, ["editors/", "vscode-extension/"]), (tmp_path, None)):
        res = fuse(["demo"], cwd, None, COLUMNS="80", FUSE_LS_DATA_DIR=str(tmp_path / "d"))
        assert res.returncode == 0, res.stderr
        folders = next_steps_editor_lines(res.stdout)
        assert shown is None or folders == shown
        assert [(cwd / f).is_dir() for f in folders] == [True, True], folders


def test_demo_shows_the_ids_dismiss_takes_and_honours_them(project: Path) -> None:
    """The demo showed no id column, unlike the review it demonstrates: `fuse-ls dismiss`
    could not be tried on it. A demo writes no review cache of its own."""
    first = json.loads(fuse(["demo", "--json"], project, None).stdout)
    prints = [f["fingerprint"] for f in first["findings"]]
    assert prints and all(re.fullmatch(r"[0-9a-f]{16}", fp) for fp in prints), prints
    assert not (project / ".data").exists()
    table = fuse(["demo"], project, None, COLUMNS="80").stdout
    assert all(fp in table for fp in prints), table
    assert fuse(["dismiss", prints[0]], project, None).returncode == 0
    again = json.loads(fuse(["demo", "--json"], project, None).stdout)
    assert [f["fingerprint"] for f in again["findings"]] == prints[1:]
    assert again["hidden"] == {"dismissed": 1}
    assert "not shown: 1 dismissed" in fuse(["demo"], project, None).stdout


def in_a_shell(pasted: str) -> list[str]:
    """Pasted lines run in a real shell, with a stand-in for fuse-ls that prints the
    FUSE_LS_ variables it sees and the arguments it got."""
    shell = subprocess.run(
        ["bash", "-c", 'fuse-ls() { env | grep ^FUSE_LS_ | sort; echo "args: $*"; }\n' + pasted],
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert shell.returncode == 0 and shell.stderr == "", shell.stderr
    return shell.stdout.splitlines()


def test_review_json_has_votes_models_and_costs(emu: Emulator, project: Path) -> None:
    res = fuse(["review", "app.py:1-7", "--json"], project, emu.base_url)
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    top = data["findings"][0]
    assert top["start_line"] == 2 and top["votes"] == 3 and set(top["models"]) == {A, B, C}
    assert {c["model"] for c in data["candidates"]} == {A, B, C}
    assert all(
        c["status"] == "ok" and c["latency_s"] > 0 and c["cost_usd"] > 0 for c in data["candidates"]
    )
    assert data["total_cost_usd"] > 0 and data["wall_time_s"] > 0


def test_review_terminal_output_and_fail_on(emu: Emulator, project: Path) -> None:
    res = fuse(["review", "app.py", "--fail-on", "error"], project, emu.base_url)
    assert res.returncode == 1
    assert "3/3" in res.stdout and "eval of user input" in res.stdout
    assert "total cost" in res.stdout
    res = fuse(["review", "app.py:4-7", "--fail-on", "error"], project, emu.base_url)
    assert res.returncode == 0, res.stdout + res.stderr


def test_review_sarif(emu: Emulator, project: Path) -> None:
    res = fuse(["review", "app.py", "--sarif"], project, emu.base_url)
    sarif = json.loads(res.stdout)
    assert sarif["version"] == "2.1.0"
    result = sarif["runs"][0]["results"][0]
    assert (
        result["level"] == "error"
        and result["locations"][0]["physicalLocation"]["region"]["startLine"] == 2
    )
    assert result["properties"]["votes"] == 3


def test_explain_and_fix_apply(emu: Emulator, project: Path) -> None:
    res = fuse(["explain", "app.py:1-7", "--mode", "best-of"], project, emu.base_url)
    assert res.returncode == 0 and "rows" in res.stdout
    res = fuse(["fix", "app.py:2", "--apply"], project, emu.base_url)
    assert res.returncode == 0, res.stderr
    assert "    value = ast.literal_eval(user_input)\n" in (project / "app.py").read_text()


LONG_FIX = "ast.literal_eval(user_input)  # literal_eval: no calls, no names, no attributes ("


def test_a_piped_fix_keeps_its_long_lines_whole(project: Path) -> None:
    """`fuse-ls fix F:A-B | ...` at 80 columns: rich wrapped the fused code in a panel, so
    one long line of the fix came out as two (and the panel's borders around them)."""
    fix = {"find": "eval(user_input)", "replace": LONG_FIX}
    script = {"models": {**{m: {"fix": fix} for m in (A, B, C)}, JUDGE: {}}}
    with Emulator(script) as emulator:
        res = fuse(["fix", "app.py:2"], project, emulator.base_url, COLUMNS="80")
    assert res.returncode == 0, res.stderr
    expected = f"    value = {LONG_FIX}"
    assert len(expected) > 80
    assert expected in res.stdout.splitlines(), res.stdout
    assert res.stdout.splitlines()[0] == "fused fix: app.py:2-2", res.stdout


def test_missing_key_says_what_to_set(project: Path) -> None:
    res = fuse(["review", "app.py"], project, None, COLUMNS="80")
    assert res.returncode == 2
    assert "OPENROUTER_API_KEY" in res.stderr and "fuse-ls demo" in res.stderr
    # The local-server lines paste into a shell at 80 columns (wrapped, they split an
    # assignment from the command it was for).
    pasted = "\n".join(line for line in res.stderr.splitlines() if line.startswith("  "))
    assert in_a_shell(pasted + "\nfuse-ls review app.py") == [
        "FUSE_LS_BASE_URL=http://localhost:11434/v1",
        "FUSE_LS_JUDGE=qwen2.5-coder:7b",
        "FUSE_LS_MODELS=qwen2.5-coder:7b",
        "args: review app.py",
    ], res.stderr


def test_bad_range_and_missing_file(emu: Emulator, project: Path) -> None:
    res = fuse(["review", "app.py:50-60"], project, emu.base_url)
    assert res.returncode == 2 and "past the end of app.py" in res.stderr
    res = fuse(["review", "nope.py"], project, emu.base_url)
    assert res.returncode == 2 and "not a file" in res.stderr


@pytest.mark.parametrize(
    "command", [["explain", "app.py:ten"], ["review", "app.py:1-x", "app.py"], ["fix", "app.py:"]]
)
def test_a_range_that_is_not_one_is_named_so(
    emu: Emulator, project: Path, command: list[str]
) -> None:
    """`app.py:ten` was reported as "app.py:ten is not a file" while app.py is one."""
    res = fuse(command, project, emu.base_url)
    assert res.returncode == 2
    assert res.stderr == (
        f"error: {command[1]}: not a line range; use FILE, FILE:LINE or FILE:START-END.\n"
    )
    assert emu.requests == []


def test_line_zero_is_named_as_written_not_taken_for_line_one(emu: Emulator, project: Path) -> None:
    res = fuse(["review", "app.py:0-2"], project, emu.base_url)
    assert res.returncode == 2
    assert res.stderr == "error: app.py:0-2: lines are numbered from 1 (app.py has 7 lines).\n"
    res = fuse(["review", "app.py:2-0"], project, emu.base_url)
    assert res.returncode == 2
    assert res.stderr == "error: app.py:2-0: the range ends before it starts.\n"
    # Several files go through the change-review path; same check, same words.
    (project / "other.py").write_text("x = 1\n")
    res = fuse(["review", "app.py:0-2", "other.py"], project, emu.base_url)
    assert res.returncode == 2
    assert res.stderr == "error: app.py:0-2: lines are numbered from 1 (app.py has 7 lines).\n"
    assert emu.requests == []


@pytest.mark.parametrize(
    "command",
    [
        ["review", "app.py:5-99"],
        ["explain", "app.py:5-99"],
        ["fix", "app.py:5-99", "--apply"],
        ["review", "app.py:5-99", "--json"],
        ["review", "app.py:5-99", "--min-severity", "info"],  # the change-review path
        ["review", "app.py:5-99", "other.py"],
    ],
)
def test_a_range_past_the_end_names_the_file_and_its_length(
    emu: Emulator, project: Path, command: list[str]
) -> None:
    """It said "Range 5-99 is outside the document (7 lines)": which document, when a
    command names several files? One line, the target as typed, exit 2, no model call."""
    (project / "other.py").write_text("x = 1\n")
    res = fuse(command, project, emu.base_url)
    assert res.returncode == 2
    assert res.stdout == ""
    assert res.stderr == "error: app.py:5-99: past the end of app.py, which has 7 lines.\n"
    assert emu.requests == []
    assert (project / "app.py").read_text() == CODE


def test_the_line_after_a_final_line_break_ends_a_range_in_every_review(
    emu: Emulator, project: Path
) -> None:
    """An editor shows line 8 (empty) after the last line break of a 7-line file: `2-8`
    was the range 2-7 for one file, and "outside the document" beside another file."""
    (project / "other.py").write_text("x = 1\n")
    single = json.loads(fuse(["review", "app.py:2-8", "--json"], project, emu.base_url).stdout)
    change = fuse(["review", "app.py:2-8", "other.py", "--format", "json"], project, emu.base_url)
    assert change.returncode == 0, change.stderr
    in_change = [f for f in json.loads(change.stdout)["findings"] if f["path"] == "app.py"]
    assert [f["start_line"] for f in single["findings"]] == [2]
    assert [f["start_line"] for f in in_change] == [2]
    res = fuse(["review", "app.py:9"], project, emu.base_url)
    assert res.stderr == "error: app.py:9: past the end of app.py, which has 7 lines.\n"


def test_an_empty_file_is_skipped_alone_as_among_others(emu: Emulator, project: Path) -> None:
    """`fuse-ls review empty.py` said "Range 1-1 is outside the document (0 lines)", a
    range nobody typed; beside other files (a change review) it cost a model call each.
    Alone it was then an error (exit 2) where beside another file it is skipped (exit 0):
    a CI step failed or passed on the number of files."""
    (project / "empty.py").write_text("")
    res = fuse(["review", "empty.py"], project, emu.base_url)
    assert (res.returncode, res.stderr) == (0, ""), res.stderr
    assert "skipped empty.py: empty file" in res.stdout
    assert "Nothing to review: every file was skipped." in res.stdout
    res = fuse(["review", "empty.py", "--json"], project, emu.base_url)
    assert res.returncode == 0, res.stderr
    alone = json.loads(res.stdout)
    assert (alone["findings"], alone["units"]) == ([], [])
    assert alone["skipped_files"] == [{"path": "empty.py", "reason": "empty file"}]
    sarif = fuse(["review", "empty.py", "--sarif"], project, emu.base_url)
    assert sarif.returncode == 0 and json.loads(sarif.stdout)["runs"][0]["results"] == []
    assert emu.requests == []
    # A range names lines that do not exist: still an error.
    res = fuse(["review", "empty.py:1"], project, emu.base_url)
    assert res.returncode == 2 and "past the end of empty.py, which is empty" in res.stderr
    res = fuse(["review", "empty.py", "app.py:1-2", "--format", "json"], project, emu.base_url)
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["skipped_files"] == [{"path": "empty.py", "reason": "empty file"}]
    assert [u["path"] for u in data["units"]] == ["app.py"]


def test_bad_config_is_reported_and_the_run_goes_on(emu: Emulator, project: Path) -> None:
    (project / ".fuse-ls.toml").write_text('mode = "fastest"\n')
    res = fuse(["review", "app.py", "--json"], project, emu.base_url)
    assert res.returncode == 0
    assert "mode" in res.stderr and "fastest" in res.stderr
    assert json.loads(res.stdout)["mode"] == "merge"


def test_every_model_failing_lists_reasons(emu: Emulator, project: Path) -> None:
    emu.set_script(
        {"models": {m: {"faults": [{"kind": "http", "status": 401}]} for m in (A, B, C)}}
    )
    res = fuse(["review", "app.py"], project, emu.base_url)
    assert res.returncode == 3
    for model in (A, B, C):
        assert model in res.stderr


def test_doctor_reports_without_leaking_the_key(emu: Emulator, project: Path) -> None:
    res = fuse(
        ["doctor", "--json"],
        project,
        emu.base_url,
        FUSE_LS_PROVIDER__API_KEY_ENV="FUSE_TEST_LOCAL_KEY",
        FUSE_TEST_LOCAL_KEY=SECRET,
    )
    assert res.returncode == 0, res.stdout
    checks = {c["check"]: c for c in json.loads(res.stdout)["checks"]}
    assert checks["key FUSE_TEST_LOCAL_KEY"]["status"] == "ok"
    assert checks[f"model {A}"]["status"] == "ok"
    assert SECRET not in res.stdout + res.stderr
    res = fuse(["doctor", "--json"], project, emu.base_url, FUSE_LS_MODELS="no/such-model")
    checks = {c["check"]: c for c in json.loads(res.stdout)["checks"]}
    assert res.returncode == 1 and checks["model no/such-model"]["status"] == "error"


def test_doctor_says_the_openrouter_key_is_not_sent_to_a_local_server(
    emu: Emulator, project: Path
) -> None:
    res = fuse(["doctor", "--json"], project, emu.base_url, OPENROUTER_API_KEY=SECRET)
    assert res.returncode == 0, res.stdout  # information, not a failure
    checks = {c["check"]: c for c in json.loads(res.stdout)["checks"]}
    key = checks["key OPENROUTER_API_KEY"]
    assert key["status"] == "info"
    assert f"No key is sent to {origin(emu.base_url)}" in key["detail"]
    assert "only goes to OpenRouter" in key["detail"] and "api_key_env" in key["detail"]
    assert SECRET not in res.stdout + res.stderr


def test_doctor_warns_when_a_remote_servers_named_key_is_unset(project: Path) -> None:
    """A proxy the user named a key variable for almost surely wants it, but may take
    none: a warning (yellow, exit 0), the wording Neovim's :checkhealth uses too."""
    keyed = {"FUSE_LS_PROVIDER__API_KEY_ENV": "FUSE_TEST_PROXY_KEY"}
    offline = ["doctor", "--json", "--offline"]
    res = fuse(offline, project, "https://llm.example.invalid/v1", **keyed)
    assert res.returncode == 0, res.stdout
    checks = {c["check"]: c for c in json.loads(res.stdout)["checks"]}
    assert checks["key FUSE_TEST_PROXY_KEY"] == {
        "check": "key FUSE_TEST_PROXY_KEY",
        "status": "warning",
        "detail": "not set: https://llm.example.invalid gets no key. If it needs one, "
        "export FUSE_TEST_PROXY_KEY=...; if it needs none, remove api_key_env.",
    }
    # On this machine a server usually needs no key; OpenRouter always does.
    res = fuse(offline, project, "http://127.0.0.1:9/v1", **keyed)
    checks = {c["check"]: c for c in json.loads(res.stdout)["checks"]}
    assert checks["key FUSE_TEST_PROXY_KEY"]["status"] == "skipped" and res.returncode == 0
    res = fuse(offline, project, "https://openrouter.ai/api/v1", **keyed)
    checks = {c["check"]: c for c in json.loads(res.stdout)["checks"]}
    assert checks["key FUSE_TEST_PROXY_KEY"]["status"] == "error" and res.returncode == 1


def test_openrouter_key_is_not_sent_to_a_local_server(emu: Emulator, project: Path) -> None:
    """The default api_key_env, OPENROUTER_API_KEY exported, a server on this machine: the
    review works and that server never sees the OpenRouter key (no Authorization at all)."""
    res = fuse(["review", "app.py", "--json"], project, emu.base_url, OPENROUTER_API_KEY=SECRET)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["findings"]
    assert {r.model for r in emu.requests} >= {A, B, C}
    assert all("authorization" not in r.headers for r in emu.requests)


def test_a_local_server_that_wants_a_key_says_how_to_give_it_one(project: Path) -> None:
    with Emulator(SCRIPT, require_key="local-server-key") as emu:
        res = fuse(["review", "app.py"], project, emu.base_url, OPENROUTER_API_KEY=SECRET)
        assert res.returncode == 3
        assert all(r.status == 401 and "authorization" not in r.headers for r in emu.requests)
        said = " ".join(res.stderr.split())
        assert f"No key is sent to {origin(emu.base_url)}" in said, res.stderr
        assert "the OpenRouter key (OPENROUTER_API_KEY) only goes to OpenRouter" in said
        assert "FUSE_LS_PROVIDER__API_KEY_ENV" in said
        assert SECRET not in res.stdout + res.stderr

        # The fix it names works: the server's own key, in a variable named for it.
        res = fuse(
            ["review", "app.py", "--json"],
            project,
            emu.base_url,
            OPENROUTER_API_KEY=SECRET,
            FUSE_LS_PROVIDER__API_KEY_ENV="FUSE_TEST_LOCAL_KEY",
            FUSE_TEST_LOCAL_KEY="local-server-key",
        )
        assert res.returncode == 0, res.stderr
        assert json.loads(res.stdout)["findings"]
        assert emu.requests[-1].status == 200


def test_doctor_unreachable_endpoint(project: Path) -> None:
    res = fuse(["doctor", "--json"], project, "http://127.0.0.1:9/v1")
    data = json.loads(res.stdout)
    assert res.returncode == 1
    assert any(c["check"].startswith("endpoint") and c["status"] == "error" for c in data["checks"])


def test_cli_run_records_a_local_session(emu: Emulator, project: Path) -> None:
    (project / ".git" / "HEAD").write_text("ref: refs/heads/feature/cli\n")
    res = fuse(["review", "app.py", "--json"], project, emu.base_url)
    assert res.returncode == 0, res.stderr
    files = list((project / ".data").rglob("*.jsonl"))
    assert len(files) == 1
    lines = [json.loads(line) for line in files[0].read_text().splitlines()]
    assert any(line["type"] == "user" for line in lines)
    # The routed ids in our own field; message.model in the vendor's form (Rudel prices it).
    models = {line["fuseLs"]["model"] for line in lines if line["type"] == "assistant"}
    assert {A, B, C} <= models
    assert "claude-sonnet-4-5" in {
        ln["message"]["model"] for ln in lines if ln["type"] == "assistant"
    }
    assert {line["gitBranch"] for line in lines} == {"feature/cli"}  # the branch at run time
    assert "eval(user_input)" not in files[0].read_text()  # code is not recorded by default


def test_cli_runs_close_together_are_one_session(emu: Emulator, project: Path) -> None:
    for _ in range(2):
        res = fuse(["review", "app.py", "--json"], project, emu.base_url)
        assert res.returncode == 0, res.stderr
    [path] = list((project / ".data").rglob("*.jsonl"))
    events = [json.loads(line)["fuseLs"]["event"] for line in path.read_text().splitlines()]
    assert events.count("action") == 2 and events.count("session_continued") == 1


def test_telemetry_off_writes_nothing(emu: Emulator, project: Path) -> None:
    res = fuse(["review", "app.py", "--json"], project, emu.base_url, FUSE_LS_TELEMETRY="0")
    assert res.returncode == 0, res.stderr
    assert not list((project / ".data").rglob("*.jsonl"))


def test_fix_apply_keeps_a_secret_the_models_only_saw_redacted(
    emu: Emulator, project: Path
) -> None:
    key = "sk-" + "proj-4f9Q2xLmN8vR7tY1wZ3aB6cD9eF0gH2jK5"
    (project / "conf.py").write_text(f'value = eval(data) if data else "{key}"\n')
    res = fuse(["fix", "conf.py:1", "--apply"], project, emu.base_url)
    assert res.returncode == 0, res.stderr
    # The models never saw the key, only its mark; the fix written keeps the real key.
    assert emu.requests and all(key not in json.dumps(r.body) for r in emu.requests)
    assert (project / "conf.py").read_text() == (
        f'value = ast.literal_eval(data) if data else "{key}"\n'
    )


def test_doctor_shows_an_unknown_key_as_a_warning(emu: Emulator, project: Path) -> None:
    (project / ".fuse-ls.toml").write_text("[quorum]\ndeadlin_s = 5\n[debate]\nrounds = 9\n")
    res = fuse(["doctor", "--json", "--offline"], project, emu.base_url)
    config = [c for c in json.loads(res.stdout)["checks"] if c["check"] == "config"]
    by_status = {c["status"]: c["detail"] for c in config}
    assert set(by_status) == {"warning", "error"}
    assert "Unknown setting 'quorum.deadlin_s'" in by_status["warning"]
    assert "did you mean 'quorum.deadline_s'?" in by_status["warning"]
    assert "debate.rounds" in by_status["error"] and res.returncode == 1
    (project / ".fuse-ls.toml").write_text("[quorum]\ndeadlin_s = 5\n")
    res = fuse(["doctor", "--json", "--offline"], project, emu.base_url)
    config = [c for c in json.loads(res.stdout)["checks"] if c["check"] == "config"]
    assert [c["status"] for c in config] == ["warning", "ok"] and res.returncode == 0, res.stdout


def test_a_bad_models_flag_stops_before_any_call(emu: Emulator, project: Path) -> None:
    many = ",".join(f"vendor/model-{i}" for i in range(17))
    for command in (
        ["review", "app.py"],
        ["review", "app.py:1-3", "app.py:4-7"],
        ["fix", "app.py:2"],
    ):
        res = fuse([*command, "--models", many], project, emu.base_url)
        assert res.returncode == 2, res.stdout + res.stderr
        # Reported as argparse reports a bad value: the command's usage, then one line.
        assert res.stderr.startswith(f"usage: fuse-ls {command[0]} "), res.stderr
        assert res.stderr.endswith(
            f"fuse-ls {command[0]}: error: argument --models: expected at most 16 model "
            "calls in total (the sum of every entry's repeat), got 17 model ids\n"
        ), res.stderr
    assert emu.requests == []


@pytest.mark.parametrize(
    ("flag", "value", "said"),
    [
        # These said "Invalid setting '--deadline' (from the command line): got 0.0", in a
        # style of their own, while --max-cost and --concurrency had argparse's.
        ("--deadline", "0", "expected a number of seconds > 0, got 0"),
        ("--deadline", "-1", "expected a number of seconds > 0, got -1"),
        ("--deadline", "abc", "expected a number of seconds, got 'abc'"),
        ("--deadline", "inf", "expected a number of seconds > 0, got inf"),
        (
            "--models",
            "",
            "expected comma-separated model ids such as openai/gpt-5,google/gemini-2.5-pro, got ''",
        ),
        (
            "--models",
            " , ",
            "expected comma-separated model ids such as "
            "openai/gpt-5,google/gemini-2.5-pro, got ' , '",
        ),
        ("--judge", " ", "expected a model id such as openai/gpt-5-mini, got ' '"),
        ("--max-findings", "-3", "expected a whole number >= 0, got -3"),
        (
            "--min-severity",
            "bogus",
            "invalid choice: 'bogus' (choose from 'error', 'warning', 'info', 'hint')",
        ),
        ("--mode", "bogus", "invalid choice: 'bogus' (choose from 'best-of', 'merge', 'debate')"),
    ],
)
def test_a_bad_flag_value_is_bad_usage_named_as_typed(
    emu: Emulator, project: Path, flag: str, value: str, said: str
) -> None:
    for command in (["review", "app.py"], ["review", "app.py:1-3", "app.py:4-7"]):
        res = fuse([*command, flag, value], project, emu.base_url)
        assert res.returncode == 2, res.stdout + res.stderr
        assert res.stderr.startswith("usage: fuse-ls review "), res.stderr
        last = res.stderr.splitlines()[-1]
        assert last == f"fuse-ls review: error: argument {flag}: {said}", res.stderr
        assert res.stdout == ""
    assert emu.requests == []


def test_a_flag_and_the_same_value_from_the_environment(emu: Emulator, project: Path) -> None:
    # From the environment a bad pool is a settings problem, named as the variable (a
    # warning there: the pool falls back to the default one).
    res = fuse(["review", "app.py"], project, emu.base_url, FUSE_LS_MODELS=" , ")
    assert (
        "config: Invalid setting 'FUSE_LS_MODELS' (from the environment): "
        "got []; expected a non-empty list of model ids"
    ) in res.stderr


def test_a_models_flag_below_the_files_quorum_names_the_files_key(
    emu: Emulator, project: Path
) -> None:
    (project / ".fuse-ls.toml").write_text("[quorum]\nmin-responses = 2\n")
    res = fuse(["review", "app.py", "--models", A], project, emu.base_url)
    assert res.returncode == 2, res.stdout + res.stderr
    assert (
        f"Invalid setting 'quorum.min-responses' (from {project / '.fuse-ls.toml'}): got 2; "
        "expected an integer from 1 to the pool size (1) or null."
    ) in res.stderr.replace("\n", "")
    assert emu.requests == []


def test_every_output_says_when_a_pool_member_did_not_answer(emu: Emulator, project: Path) -> None:
    models = {**SCRIPT["models"], C: {"faults": [{"kind": "http", "status": 401}]}}
    emu.set_script({**SCRIPT, "models": models})
    # Both models that answered flag the eval; the third failed, which "2/2" alone would hide.
    said = "2/2 models; 1 of 3 did not answer"
    table = fuse(["review", "app.py"], project, emu.base_url)
    assert table.returncode == 0, table.stderr
    # The votes column wraps its cell: "2/2; 1 of 3" over "did not answer".
    assert re.search(r"│ +2/2; 1 of 3 +│.*\n│.*│ +did not answer +│", table.stdout), table.stdout
    assert "2/3 models answered" in table.stdout
    data = json.loads(fuse(["review", "app.py", "--json"], project, emu.base_url).stdout)
    top = data["findings"][0]
    assert (top["votes"], top["pool_size"], top["did_not_answer"]) == (2, 2, 1)
    assert top["agreement"] == said
    sarif = json.loads(fuse(["review", "app.py", "--sarif"], project, emu.base_url).stdout)
    result = sarif["runs"][0]["results"][0]
    assert result["message"]["text"] == f"eval of user input ({said})"
    assert result["properties"]["didNotAnswer"] == 1


def test_a_member_the_quorum_made_unnecessary_was_not_waited_for(
    emu: Emulator, project: Path
) -> None:
    # Two of three are enough; the third is slow, so the engine stops waiting for it. It did
    # not fail, and no output may say it "did not answer".
    models = {**SCRIPT["models"], C: {**SCRIPT["models"][C], "ttft_ms": 60_000}}
    emu.set_script({**SCRIPT, "models": models})
    (project / ".fuse-ls.toml").write_text("[quorum]\nmin_responses = 2\n")
    said = "2/2 models; 1 of 3 not waited for"
    table = fuse(["review", "app.py"], project, emu.base_url)
    assert table.returncode == 0, table.stderr
    assert re.search(r"│ +2/2; 1 of 3 +│.*\n│.*│ +not waited for +│", table.stdout), table.stdout
    assert "did not answer" not in table.stdout
    data = json.loads(fuse(["review", "app.py", "--json"], project, emu.base_url).stdout)
    top = data["findings"][0]
    assert (top["votes"], top["pool_size"]) == (2, 2)
    assert (top["did_not_answer"], top["not_waited_for"]) == (0, 1)
    assert top["agreement"] == said
    sarif = json.loads(fuse(["review", "app.py", "--sarif"], project, emu.base_url).stdout)
    result = sarif["runs"][0]["results"][0]
    assert result["message"]["text"] == f"eval of user input ({said})"
    assert (result["properties"]["didNotAnswer"], result["properties"]["notWaitedFor"]) == (0, 1)
