"""A review of one file (`fuse-ls review FILE[:A-B]`) shows the fingerprints `fuse-ls
dismiss` takes, the same a change review shows for the same finding, and hides what was
dismissed (it printed none and hid nothing: a finding could not be dismissed there)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fuse_ls.emulator import Emulator
from tests.changes.gitrepo import GIT_ENV, Repo
from tests.pool_sample import CODE, JUDGE, POOL, home_env, run_cli

EVAL = {"match": "eval(", "message": "eval of user input", "severity": "error"}
EVAL["category"] = "security"
EXCEPT = {"match": "except:", "message": "bare except", "severity": "warning"}
EXCEPT["category"] = "errors"
SCRIPT: dict[str, Any] = {"models": {**{m: {"findings": [EVAL, EXCEPT]} for m in POOL}, JUDGE: {}}}


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(SCRIPT) as emulator:
        yield emulator


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    project = Repo(tmp_path / "repo")
    project.write("src/app.py", CODE)
    project.commit("app")
    return project


def fuse(args: list[str], cwd: Path, emu: Emulator, columns: int = 200) -> Any:
    """`fuse-ls` with its config, data (the dismissals) and caches beside the repository."""
    repo = next(p for p in (cwd, *cwd.parents) if p.name == "repo")
    env = home_env(emu.base_url, repo.parent / "home")
    env.update(GIT_ENV, FUSE_LS_MODELS=",".join(POOL), FUSE_LS_JUDGE=JUDGE)
    env["COLUMNS"] = str(columns)
    return run_cli(args, env, cwd)


def findings(args: list[str], cwd: Path, emu: Emulator) -> dict[str, Any]:
    res = fuse([*args, "--json"], cwd, emu)
    assert res.returncode in (0, 1), res.stderr
    data: dict[str, Any] = json.loads(res.stdout)
    return data


def by_category(data: dict[str, Any]) -> dict[str, str]:
    return {f["category"]: f["fingerprint"] for f in data["findings"]}


def test_a_file_review_shows_the_fingerprints_a_change_review_shows(
    repo: Repo, emu: Emulator
) -> None:
    single = by_category(findings(["review", "src/app.py"], repo.root, emu))
    # --no-cache makes it a change review of the same file.
    change = by_category(findings(["review", "src/app.py", "--no-cache"], repo.root, emu))
    assert set(single) == {"security", "errors"}
    assert single == change
    # From a folder inside the repository the file is still the repository's src/app.py.
    inside = by_category(findings(["review", "app.py:1-7"], repo.root / "src", emu))
    assert inside == single
    table = fuse(["review", "src/app.py"], repo.root, emu)
    assert table.returncode == 0, table.stderr
    assert single["security"] in table.stdout and single["errors"] in table.stdout
    sarif = json.loads(fuse(["review", "src/app.py", "--sarif"], repo.root, emu).stdout)
    prints = {
        r["ruleId"]: r["partialFingerprints"]["fuseLsFinding/v1"]
        for r in sarif["runs"][0]["results"]
    }
    assert prints == {f"fuse-ls/{c}": fp for c, fp in single.items()}


def test_a_file_review_and_a_change_review_print_a_finding_in_one_json_shape(
    repo: Repo, emu: Emulator
) -> None:
    """A file review's findings carried an `id` (the fusion's own numbering, "3c1f...-0")
    beside `fingerprint`; the table's "id" column showed the fingerprint. One name now:
    a finding is keyed by `fingerprint` in both JSON shapes and in both tables' headers."""
    single = findings(["review", "src/app.py"], repo.root, emu)["findings"]
    change = findings(["review", "src/app.py", "--no-cache"], repo.root, emu)["findings"]
    # A change review spans files and unchanged context: those two keys are its own.
    assert {tuple(sorted(f)) for f in single} == {
        tuple(sorted(set(f) - {"path", "on_changed_line"})) for f in change
    }
    assert all("id" not in f and "fingerprint" in f for f in single + change)
    for args in (["review", "src/app.py"], ["review", "src/app.py", "--no-cache"]):
        table = fuse(args, repo.root, emu, columns=100).stdout
        header = next(line for line in table.splitlines() if "severity" in line)
        assert header.split("┃")[-2].strip() == "fingerprint", table


def test_a_finding_dismissed_from_a_file_review_is_hidden_there_and_undone(
    repo: Repo, emu: Emulator
) -> None:
    before = findings(["review", "src/app.py"], repo.root, emu)
    assert before["hidden"] == {}
    security = by_category(before)["security"]
    res = fuse(["dismiss", security], repo.root, emu)
    assert res.returncode == 0 and "dismissed" in res.stdout, res.stdout + res.stderr
    after = findings(["review", "src/app.py"], repo.root, emu)
    assert set(by_category(after)) == {"errors"}
    assert after["hidden"] == {"dismissed": 1}
    table = fuse(["review", "src/app.py", "--fail-on", "error"], repo.root, emu)
    # The only error was dismissed: CI no longer fails on it.
    assert table.returncode == 0, table.stdout + table.stderr
    assert "eval of user input" not in table.stdout
    assert "not shown: 1 dismissed" in table.stdout
    # The change review of the same file hides it too: one memory for both.
    change = findings(["review", "src/app.py", "--no-cache"], repo.root, emu)
    assert set(by_category(change)) == {"errors"}
    fuse(["dismiss", "--undo", security], repo.root, emu)
    assert by_category(findings(["review", "src/app.py"], repo.root, emu))["security"] == security


def test_a_mistyped_fingerprint_is_an_error_on_stderr_and_dismisses_none(
    repo: Repo, emu: Emulator
) -> None:
    """The error went to stdout, after the fingerprints before it were already dismissed;
    and one a digit short was "dismissed in ..." yet matched nothing: the finding stayed."""
    security = by_category(findings(["review", "src/app.py"], repo.root, emu))["security"]
    for typo in ("not-hex", security[:-1], security + "0"):
        res = fuse(["dismiss", security, typo], repo.root, emu)
        assert res.returncode == 2
        assert res.stdout == ""
        assert res.stderr.startswith("usage: fuse-ls dismiss "), res.stderr
        assert res.stderr.splitlines()[-1] == (
            "fuse-ls dismiss: error: argument FINGERPRINT: expected a finding's "
            f"fingerprint, 16 hex digits such as 3f9a0c1d2b4e5f60, got '{typo}'"
        )
    after = findings(["review", "src/app.py"], repo.root, emu)
    assert by_category(after)["security"] == security and after["hidden"] == {}
    # Copied with a space or in capitals, it is the same id.
    res = fuse(["dismiss", f" {security.upper()} "], repo.root, emu)
    assert res.stdout == f"{security}: dismissed in {repo.root}\n", res.stderr


def test_at_80_columns_each_fingerprint_is_whole_on_one_line(repo: Repo, emu: Emulator) -> None:
    """The 16-hex id wrapped (`39df75c1690fbfe` / `c`): it could not be copied."""
    prints = by_category(findings(["review", "src/app.py"], repo.root, emu)).values()
    for args in (["review", "src/app.py"], ["review", "src/app.py", "--no-cache"]):
        table = fuse(args, repo.root, emu, columns=80)
        assert table.returncode == 0, table.stderr
        # The tables fit (the lines of text under them are whole: a log wraps them).
        rows = [line for line in table.stdout.splitlines() if line[:1] in "┏┃┡│└┌├"]
        assert rows and max(len(line) for line in rows) <= 80
        for fp in prints:
            assert fp in table.stdout, (args, table.stdout)


def test_an_ignore_comment_hides_the_finding_in_a_file_review_too(
    repo: Repo, emu: Emulator
) -> None:
    """`# fuse-ls: ignore[security]` hid it from a change review only."""
    code = CODE.replace("eval(user_input)", "eval(user_input)  # fuse-ls: ignore[security]")
    repo.write("src/app.py", code)
    single = findings(["review", "src/app.py"], repo.root, emu)
    change = findings(["review", "src/app.py", "--no-cache"], repo.root, emu)
    for data in (single, change):
        assert set(by_category(data)) == {"errors"}
        assert data["hidden"] == {"suppressed": 1}
    table = fuse(["review", "src/app.py"], repo.root, emu)
    assert "not shown: 1 suppressed" in table.stdout


def test_cache_stats_json_stays_json_when_the_cache_had_to_be_rebuilt(
    repo: Repo, emu: Emulator
) -> None:
    """The rebuild note was printed on stdout before the JSON: `| jq` failed."""
    cache = repo.root.parent / "home" / "data" / "review-cache.sqlite3"
    cache.parent.mkdir(parents=True)
    cache.write_text("not a database")
    res = fuse(["cache", "stats", "--json"], repo.root, emu)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["entries"] == 0
    assert "note: the review cache was unreadable" in res.stderr, res.stderr


def test_findings_over_the_cap_name_the_option_that_shows_them(repo: Repo, emu: Emulator) -> None:
    res = fuse(["review", "src/app.py", "--max-findings", "1"], repo.root, emu)
    assert res.returncode == 0, res.stderr
    assert "not shown: 1 over --max-findings" in res.stdout.splitlines(), res.stdout
