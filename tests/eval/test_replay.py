"""`fuse-ls eval replay`: the benchmark's own figures, fused pools, and bad datasets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fuse_ls.cli import main
from fuse_ls.eval.dataset import load_dataset
from fuse_ls.eval.replay import replay, replay_pool, tool_scores
from fuse_ls.fusion.votes import VotePolicy

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO.parent / "shared" / "data" / "code-review-bench"
needs_bench = pytest.mark.skipif(
    not (BENCH / "golden_comments").is_dir(),
    reason=f"Code Review Bench train data not found at {BENCH} (it sits beside the clone in CI)",
)

# The per-tool table of the dataset's README (main judge), to the decimal.
README_TABLE = {
    "augment": (46.6, 63.5, 53.7),
    "bugbot": (45.6, 42.4, 43.9),
    "propel": (47.6, 35.3, 40.5),
    "greptile": (35.6, 37.6, 36.6),
    "qodo": (30.8, 43.5, 36.1),
    "claude": (34.1, 36.5, 35.2),
    "copilot": (25.7, 54.1, 34.8),
    "coderabbit": (26.7, 41.2, 32.4),
    "baz": (38.5, 23.5, 29.2),
    "kg": (48.6, 20.0, 28.3),
    "gemini": (24.3, 29.4, 26.6),
    "graphite": (87.5, 8.2, 15.1),
}


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["eval", "replay", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


@needs_bench
def test_per_tool_table_matches_the_benchmark_to_the_decimal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = run_json(capsys, str(BENCH), "--pool-size", "1")
    got = {
        name: tuple(round(t[k] * 100, 1) for k in ("precision", "recall", "f1"))
        for name, t in out["tools"].items()
    }
    assert got == README_TABLE
    assert list(out["tools"]) == list(README_TABLE)  # best first
    # A pool of one tool is that tool: the top pool of size 1 is augment alone.
    pool = out["pools"][0]
    assert pool["members"] == ["augment"]
    assert round(pool["fused"]["f1"] * 100, 1) == 53.7


@needs_bench
def test_every_single_tool_pool_reproduces_its_benchmark_counts() -> None:
    ds = load_dataset(BENCH)
    tools = tool_scores(ds)
    for name, expected in tools.items():
        fused = replay_pool(ds, [name], tools, VotePolicy()).fused
        assert (fused.tp, fused.fp, fused.golden) == (expected.tp, expected.fp, 85), name


@needs_bench
def test_json_shape_for_random_pools_and_seed_is_reproducible(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = (str(BENCH), "--pools", "random", "--pool-size", "3", "--samples", "6")
    first = run_json(capsys, *args, "--seed", "7")
    again = run_json(capsys, *args, "--seed", "7")
    assert first == again
    assert len(first["pools"]) == 6
    for pool in first["pools"]:
        assert len(pool["members"]) == 3
        assert set(pool["fused"]) >= {"precision", "recall", "f1"}
        assert 0 <= pool["fused"]["f1"] <= 1
        assert pool["best_member"]["name"] in pool["members"]
    summary = first["summary"]
    assert 0 <= summary["beat_share"] <= 1 and 0 < summary["median_fused_f1"] < 1
    assert 0 <= summary["merge_precision"] <= 1 and 0 <= summary["merge_recall"] <= 1


@needs_bench
def test_member_stats_show_why_votes_are_not_weighted_by_agreement(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = run_json(capsys, str(BENCH), "--pool-size", "3")
    pool = out["pools"][0]
    stats = pool["member_stats"]
    assert list(stats) == pool["members"] == ["augment", "bugbot", "propel"]
    ds = load_dataset(BENCH)
    for name, st in stats.items():
        # Every comment of the member is counted once, corroborated or lone, never both.
        assert st["findings"] == sum(len(pr.reviews[name].texts) for pr in ds.prs)
        assert st["corroborated"] + st["lone"] == st["findings"]
        assert 0 <= st["lone_right"] <= st["lone"]
    # The member the others agree with most has the least reliable lone findings
    # (README, "How good is the fused review"): agreement is no reliability weight.
    assert stats["bugbot"]["corroborated_share"] > stats["augment"]["corroborated_share"]
    assert stats["bugbot"]["lone_precision"] < stats["augment"]["lone_precision"]
    table = main(["eval", "replay", str(BENCH), "--pool-size", "3"])
    assert table == 0
    text = capsys.readouterr().out
    assert "members of the first pool" in text and "lone right %" in text


@needs_bench
def test_other_judges_labels_are_selectable() -> None:
    sonnet = tool_scores(load_dataset(BENCH, "anthropic_claude-sonnet-4-5-20250929"))
    opus = tool_scores(load_dataset(BENCH))
    assert set(sonnet) == set(opus)
    assert sonnet["augment"].f1 != opus["augment"].f1


@needs_bench
def test_table_and_html_chart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    html = tmp_path / "replay.html"
    assert main(["eval", "replay", str(BENCH), "--pool-size", "3", "--html", str(html)]) == 0
    out = capsys.readouterr().out
    assert "augment" in out and "merge precision" in out and "median fused F1" in out
    page = html.read_text()
    assert page.count('class="tool"') == 12
    assert 'class="pool' in page and "precision against recall" in page


# --- synthetic datasets -------------------------------------------------------------


def write_dataset(root: Path, *, drop: str | None = None) -> Path:
    """Two tools on one pull request; tool a and b both find golden G1 in other words."""
    url = "https://example.test/pr/1"
    golden = [{"url": url, "comments": [{"comment": "G1 off by one", "severity": "High"}]}]
    cands = {
        url: {
            "a": [{"text": "Loop bound is off by one: `range(n + 1)` reads past the end."}],
            "b": [
                {"text": "Off-by-one in the loop bound: range(n + 1) indexes past the end."},
                {"text": "Rename variable x."},
            ],
        }
    }

    def ev(tool: str, tps: list[str], fps: list[str]) -> dict[str, Any]:
        return {
            "true_positives": [
                {"golden_comment": "G1 off by one", "matched_candidate": t} for t in tps
            ],
            "false_positives": [{"candidate": t} for t in fps],
            "tp": len(tps),
            "fp": len(fps),
            "fn": 1 - len(tps),
        }

    evals = {
        url: {
            "a": ev("a", [cands[url]["a"][0]["text"]], []),
            "b": ev("b", [cands[url]["b"][0]["text"]], [cands[url]["b"][1]["text"]]),
        }
    }
    (root / "golden_comments").mkdir(parents=True)
    (root / "golden_comments" / "repo.json").write_text(json.dumps(golden))
    judge = root / "results" / "anthropic_claude-opus-4-5-20251101"
    judge.mkdir(parents=True)
    (judge / "candidates.json").write_text(json.dumps(cands))
    if drop == "fp":
        del evals[url]["b"]["fp"]
    if drop == "evaluations":
        return root
    (judge / "evaluations.json").write_text(json.dumps(evals))
    return root


def test_synthetic_pool_merges_paraphrases_and_scores_the_shown_text(tmp_path: Path) -> None:
    ds = load_dataset(write_dataset(tmp_path / "ds"))
    r = replay(ds, pool_size=2)
    (pool,) = r.pools
    assert pool.members == ("a", "b")
    # Both tools found G1: merged into one 2-vote finding; b's rename is its own finding.
    assert pool.pairs.merged_same == 1 and pool.pairs.split_same == 0
    assert (pool.fused.tp, pool.fused.golden) == (1, 1)
    a, b = pool.member_stats
    assert (a.findings, a.corroborated, a.lone) == (1, 1, 0)
    # b's rename was raised by b alone and the judge called it a false positive.
    assert (b.findings, b.corroborated, b.lone, b.lone_right) == (2, 1, 1, 0)


@pytest.mark.parametrize(
    ("drop", "needle"),
    [("fp", "'fp'"), ("evaluations", "evaluations.json: file not found")],
)
def test_bad_dataset_names_the_file_and_what_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], drop: str, needle: str
) -> None:
    root = write_dataset(tmp_path / "ds", drop=drop)
    assert main(["eval", "replay", str(root)]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and needle in err
    assert "Traceback" not in err


def test_without_candidates_the_labelled_texts_are_replayed(tmp_path: Path) -> None:
    root = write_dataset(tmp_path / "ds")
    (root / "results" / "anthropic_claude-opus-4-5-20251101" / "candidates.json").unlink()
    pr = load_dataset(root).prs[0]
    assert len(pr.reviews["b"].texts) == 2  # its true positive and its false positive
    (pool,) = replay(load_dataset(root), pool_size=2).pools
    assert (pool.fused.tp, pool.fused.golden) == (1, 1)


def test_unknown_judge_lists_the_judges_found(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A long path: the error used to be folded at 80 columns when piped (a CI log), so
    # the path broke mid-name ("nobod" / "y") and could not be copied.
    root = write_dataset(tmp_path / ("dataset-" * 12))
    assert main(["eval", "replay", str(root), "--judge-labels", "nobody"]) == 2
    err = capsys.readouterr().err
    assert str(root / "results" / "nobody") in err
    assert "anthropic_claude-opus-4-5-20251101" in err


def test_broken_json_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = write_dataset(tmp_path / "ds")
    (root / "golden_comments" / "repo.json").write_text("[{")
    assert main(["eval", "replay", str(root)]) == 2
    assert "repo.json: not readable JSON" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (
            ["replay", "DS", "--pool-size", "0"],
            "argument --pool-size: expected a whole number >= 1, got 0",
        ),
        (
            ["replay", "DS", "--samples", "x"],
            "argument --samples: expected a whole number, got 'x'",
        ),
        (
            ["live", "DS", "--judge", " "],
            "argument --judge: expected a model id such as openai/gpt-5-mini, got ' '",
        ),
    ],
)
def test_a_bad_option_value_reads_as_in_review(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """ "error: --pool-size and --samples must be at least 1" was a style of its own, and
    `eval live --judge ' '` was refused only after the cases were read."""
    with pytest.raises(SystemExit) as stop:
        main(["eval", *[str(BENCH) if a == "DS" else a for a in argv]])
    assert stop.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"fuse-ls eval {argv[0]}: error: {said}"
