"""`fuse-ls eval live` against the emulator: scripted reviewers with known hit and
false-alarm rates, so every member's score and the fused score are known in advance."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from fuse_ls.emulator import Emulator
from fuse_ls.emulator.reviewers import scripted_pool
from fuse_ls.eval.live import CaseError, load_case, load_cases
from tests.pool_sample import home_env, run_cli

REPO = Path(__file__).resolve().parents[2]
CASES = REPO / "evals" / "cases"
JUDGE = "emu/grader"
RATES = {"emu/sharp": (0.8, 0.15), "emu/steady": (0.6, 0.3), "emu/noisy": (0.45, 0.5)}


def env_for(base_url: str, home: Path, models: list[str]) -> dict[str, str]:
    env = home_env(base_url, home)
    env.update(FUSE_LS_MODELS=",".join(models), FUSE_LS_JUDGE=JUDGE, COLUMNS="160")
    return env


def eval_live(home: Path, base_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    home.mkdir(exist_ok=True)
    env = env_for(base_url, home, sorted(RATES))
    return run_cli(["eval", "live", str(CASES), *args], env, home, timeout=300)


def test_shipped_cases_cover_the_languages_and_clean_files() -> None:
    cases = load_cases(CASES)
    assert len(cases) >= 20
    suffixes = {c.path.suffix for c in cases}
    assert {".py", ".ts", ".go", ".java", ".sql"} <= suffixes
    assert sum(1 for c in cases if not c.golden) >= 3
    for case in cases:
        for g in case.golden:
            assert 1 <= g.start_line <= len(case.text.splitlines())


def test_live_scores_equal_the_scripted_rates(tmp_path: Path) -> None:
    cases = load_cases(CASES)
    script, expected = scripted_pool(cases, RATES, JUDGE)
    with Emulator(script) as emu:
        res = eval_live(tmp_path / "ws", emu.base_url, "--json")
        assert res.returncode == 0, res.stderr
        out: dict[str, Any] = json.loads(res.stdout)
        # One grading call per case that has golden findings and something to grade.
        graded = [r for r in emu.requests if r.schema == "eval_match"]
        assert 0 < len(graded) <= sum(1 for c in cases if c.golden)
    for model, (tp, fp, golden) in expected.members.items():
        got = out["members"][model]
        assert (got["tp"], got["fp"], got["golden"]) == (tp, fp, golden), model
    fused = out["fused"]
    assert (fused["tp"], fused["fp"], fused["golden"]) == expected.fused
    # Agreement removes every false alarm while keeping what two members found.
    assert fused["precision"] == 1.0
    assert out["best_member"]["name"] == "emu/sharp"
    assert all(c["judge_error"] is None for c in out["cases"])


def test_live_table(tmp_path: Path) -> None:
    cases = load_cases(CASES)
    script, _ = scripted_pool(cases, RATES, JUDGE)
    with Emulator(script) as emu:
        res = eval_live(tmp_path / "ws", emu.base_url)
    assert res.returncode == 0, res.stderr
    assert "fused" in res.stdout and "emu/sharp" in res.stdout


def test_a_broken_case_names_the_file(tmp_path: Path) -> None:
    case = tmp_path / "bad"
    case.mkdir()
    (case / "case.json").write_text(json.dumps({"file": "a.py", "golden": [{"match": "x"}]}))
    with pytest.raises(CaseError, match=r"case.json: the code file a.py does not exist"):
        load_case(case)
    (case / "a.py").write_text("y = 1\n")
    with pytest.raises(CaseError, match="golden #1 has no 'message'"):
        load_case(case)
    (case / "case.json").write_text(
        json.dumps({"file": "a.py", "golden": [{"match": "zzz", "message": "m"}]})
    )
    with pytest.raises(CaseError, match="no line contains 'zzz'"):
        load_case(case)


def test_diff_cases_are_reviewed_as_changes(tmp_path: Path) -> None:
    """A case that is a base file plus a unified diff goes through the change review:
    the models see the changed code around the hunks (told which lines changed), not the
    whole file, and the scores count findings on changed lines."""
    import shutil

    cases_dir = tmp_path / "cases"
    for name in ("py-diff-sql-injection", "ts-diff-missing-await"):
        shutil.copytree(CASES / name, cases_dir / name)
    cases = load_cases(cases_dir)
    assert all(c.changed for c in cases)
    script, expected = scripted_pool(cases, RATES, JUDGE)
    with Emulator(script) as emu:
        env = env_for(emu.base_url, tmp_path, sorted(RATES))
        res = run_cli(["eval", "live", str(cases_dir), "--json"], env, tmp_path, timeout=300)
        assert res.returncode == 0, res.stderr
        reviews = [str(r.body) for r in emu.requests if r.schema == "review_findings"]
    out: dict[str, Any] = json.loads(res.stdout)
    assert (out["fused"]["tp"], out["fused"]["fp"], out["fused"]["golden"]) == expected.fused
    for model, (tp, fp, golden) in expected.members.items():
        got = out["members"][model]
        assert (got["tp"], got["fp"], got["golden"]) == (tp, fp, golden), model
    py = [r for r in reviews if "orders.py" in r]
    assert py and all("Changed lines: 8-14, 20-21" in r for r in py)
    assert not any("import sqlite3" in r for r in py)  # the unit, not the whole file


def test_a_diff_that_does_not_apply_names_the_case(tmp_path: Path) -> None:
    case = tmp_path / "bad-diff"
    case.mkdir()
    (case / "a.py").write_text("x = 1\n")
    (case / "change.diff").write_text("--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n-y = 2\n+y = 3\n")
    spec = {"file": "a.py", "diff": "change.diff", "golden": []}
    (case / "case.json").write_text(json.dumps(spec))
    with pytest.raises(CaseError, match=r"change\.diff does not apply to a\.py"):
        load_case(case)
