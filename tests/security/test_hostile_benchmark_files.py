"""`fuse-ls eval replay DIR` on a benchmark copy and `fuse-ls eval live CASES` on a case set
someone else packed: their JSON files can be any size, nested past the decoder's depth,
hold a 5000-digit number or counts no tool could score. Each is one sentence naming the
file, never a traceback or a MemoryError."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.eval.test_replay import write_dataset
from tests.pool_sample import home_env
from tests.security.counts import record
from tests.security.memory_limit import make_sparse, run_capped

JUDGE = "anthropic_claude-opus-4-5-20251101"
COUNTED: set[str] = set()


def _evaluations(root: Path) -> Path:
    return root / "results" / JUDGE / "evaluations.json"


def _deep(root: Path) -> str:
    (root / "golden_comments" / "repo.json").write_text("[" * 100_000 + "]" * 100_000)
    return "repo.json: not readable JSON (nested too deeply)"


def _long_number(root: Path) -> str:
    path = _evaluations(root)
    path.write_text(path.read_text().replace('"tp": 1', '"tp": ' + "9" * 5000, 1))
    return "evaluations.json: not readable JSON (Exceeds the limit"


def _negative(root: Path) -> str:
    path = _evaluations(root)
    data = json.loads(path.read_text())
    data["https://example.test/pr/1"]["a"]["fn"] = -1000
    path.write_text(json.dumps(data))
    return "a: 'fn' is -1000, not a count"


def _boolean(root: Path) -> str:
    path = _evaluations(root)
    data = json.loads(path.read_text())
    data["https://example.test/pr/1"]["b"]["tp"] = True
    path.write_text(json.dumps(data))
    return "b: 'tp' is true, not a count"


def _sparse(root: Path) -> str:
    make_sparse(root / "golden_comments" / "zz.json", "[]")
    return "zz.json: 3,072 MB, over the 64 MB allowed"


@pytest.mark.parametrize("attack", [_deep, _long_number, _negative, _boolean, _sparse])
def test_a_hostile_benchmark_file_is_one_sentence(
    tmp_path: Path, attack: Callable[[Path], str]
) -> None:
    root = write_dataset(tmp_path / "ds")
    needle = attack(root)
    home = tmp_path / "ws"
    home.mkdir()
    env = home_env("http://127.0.0.1:9/api/v1", home)  # replay calls no model
    res = run_capped(["eval", "replay", str(root), "--pool-size", "2"], env, home)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "Traceback" not in res.stderr and "MemoryError" not in res.stderr, res.stderr
    assert needle in res.stderr, res.stderr
    COUNTED.add(attack.__name__)
    record("hostile benchmark files refused with a sentence", len(COUNTED))


def _case_deep(case: Path) -> str:
    (case / "case.json").write_text("[" * 100_000 + "]" * 100_000)
    return "case.json: not readable JSON (nested too deeply)"


def _case_long_number(case: Path) -> str:
    (case / "case.json").write_text('{"file": "app.py", "golden": [], "n": ' + "9" * 5000 + "}")
    return "case.json: not readable JSON (Exceeds the limit"


def _case_sparse(case: Path) -> str:
    make_sparse(case / "case.json", '{"file": "app.py", "golden": []}')
    return "case.json: 3,072 MB, over the 2 MB allowed"


@pytest.mark.parametrize("attack", [_case_deep, _case_long_number, _case_sparse])
def test_a_hostile_case_file_is_one_sentence(tmp_path: Path, attack: Callable[[Path], str]) -> None:
    case = tmp_path / "cases" / "c1"
    case.mkdir(parents=True)
    (case / "app.py").write_text("x = 1\n")
    needle = attack(case)
    home = tmp_path / "ws"
    home.mkdir()
    env = home_env("http://127.0.0.1:9/api/v1", home)  # refused before any model call
    res = run_capped(["eval", "live", str(case.parent)], env, home)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "Traceback" not in res.stderr and "MemoryError" not in res.stderr, res.stderr
    assert needle in res.stderr, res.stderr
    COUNTED.add(attack.__name__)
    record("hostile benchmark files refused with a sentence", len(COUNTED))
