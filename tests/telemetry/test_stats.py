"""`fuse-ls stats`: known answers on a hand-built corpus, 10k sessions, JSON, HTML, terminal."""

from __future__ import annotations

import io
import json
import os
import tempfile
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from telemetry_events import JUDGE, POOL, Clock, failed, finding, ok, run_fusion

from fuse_ls.config import TelemetrySettings
from fuse_ls.emulator import Emulator
from fuse_ls.telemetry.html import render_html
from fuse_ls.telemetry.recorder import SessionRecorder
from fuse_ls.telemetry.report import print_report
from fuse_ls.telemetry.stats import compute_stats, load_sessions, percentile, stats_main
from fuse_ls.telemetry.synthetic import generate_corpus
from tests.pool_sample import CODE, home_env, outside_env, run_cli

T0 = 1_750_000_000.0  # 2025-06-15T15:06:40Z
DAY = 86400.0


def _recorder(root: Path, ws: str, source: str, clock: Clock) -> SessionRecorder:
    return SessionRecorder(
        TelemetrySettings(data_dir=str(root)),
        Path(ws),
        source=source,  # type: ignore[arg-type]
        version="0.1.0",
        clock=clock,
    )


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three sessions whose every statistic is known.

    A (server, /ws/one, day 0): an explain (all answer in 2.5 s); 200 s later a best-of
      review where POOL[0] (2 s) wins over POOL[1] (4 s) and POOL[2] fails (429); findings
      2/2 applied and 1/2 dismissed; the session closes 300 s later.
    B (server, /ws/two, day 1): a merge review 10 s in where POOL[2] fails (early error);
      finding 3/3 gets no decision; the session ends 30 s later (abandoned).
    C (cli, /ws/one, day 1): an explain; POOL answers in 1, 2, 3 s.
    """
    root = tmp_path_factory.mktemp("small") / "data"
    clock = Clock(T0)
    a = _recorder(root, "/ws/one", "server", clock)
    run_fusion(a, clock, "A0", task="explain")
    clock.advance(200)
    run_fusion(
        a,
        clock,
        "A1",
        mode="best-of",
        winner=POOL[0],
        results=(ok(POOL[0], 0, latency=2.0), ok(POOL[1], 1, latency=4.0), failed(POOL[2], 2)),
        findings=(finding("A1", 0, 2, 2), finding("A1", 1, 1, 2)),
    )
    clock.advance(5)
    a.record_decision("A1", "A1-0", "applied", kind="finding")
    a.record_decision("A1", "A1-1", "dismissed", kind="finding")
    clock.advance(300)
    a.close()

    clock = Clock(T0 + DAY)
    b = _recorder(root, "/ws/two", "server", clock)
    clock.advance(10)
    run_fusion(
        b,
        clock,
        "B1",
        results=(ok(POOL[0], 0, latency=6.0), ok(POOL[1], 1, latency=8.0), failed(POOL[2], 2)),
        findings=(finding("B1", 0, 3, 3),),
    )
    clock.advance(30)
    b.close()

    clock = Clock(T0 + DAY + 3600)
    c = _recorder(root, "/ws/one", "cli", clock)
    run_fusion(
        c,
        clock,
        "C1",
        task="explain",
        results=tuple(ok(m, i, latency=float(i + 1)) for i, m in enumerate(POOL)),
    )
    c.close()
    return root


def test_known_answers(small_corpus: Path) -> None:
    s = compute_stats(load_sessions(small_corpus))
    t = s["totals"]
    assert t["sessions"] == 3
    assert t["sessionsBySource"] == {"server": 2, "cli": 1}
    assert t["actions"] == 4
    assert t["actionsByType"] == {"review": 2, "explain": 2}
    assert t["fusionsFinished"] == 4
    assert t["modelFailures"] == 2
    # 10 pool answers + 4 judge answers, each 0.01 / 0.002 USD and 1200 / 3000 prompt tokens
    assert t["costUsd"] == pytest.approx(10 * 0.01 + 4 * 0.002)
    assert t["inputTokens"] == 10 * 1200 + 4 * 3000

    assert [d["date"] for d in s["daily"]] == ["2025-06-15", "2025-06-16"]
    assert [(d["sessions"], d["actions"]) for d in s["daily"]] == [(1, 2), (2, 2)]
    assert s["daily"][0]["models"][POOL[0]]["costUsd"] == pytest.approx(0.02)

    models = {m["model"]: m for m in s["models"]}
    assert set(models) == {*POOL, JUDGE}
    m0, m1, m2 = models[POOL[0]], models[POOL[1]], models[POOL[2]]
    # POOL[0] answered in 2.5, 2, 6 and 1 s (nearest-rank percentiles)
    assert m0["latencyS"] == {"p50": 2.0, "p90": 6.0, "p99": 6.0, "mean": 2.875}
    assert m1["latencyS"]["p50"] == 2.5 and m1["latencyS"]["p99"] == 8.0
    assert m2["failures"] == 2 and m2["answered"] == 2
    assert m2["failureRate"] == 0.5
    assert m0["failureRate"] == 0.0
    assert models[JUDGE]["judgeCalls"] == 4
    assert m0["bestOf"] == {"fusions": 1, "wins": 1, "winRate": 1.0}
    assert m1["bestOf"] == {"fusions": 1, "wins": 0, "winRate": 0.0}
    assert m2["bestOf"]["fusions"] == 0  # it failed, so it did not compete

    ws = {w["workspace"]: w for w in s["workspaces"]}
    assert ws["/ws/one"]["sessions"] == 2 and ws["/ws/one"]["actions"] == 3
    assert ws["/ws/two"]["costUsd"] == pytest.approx(2 * 0.01 + 0.002)

    acc = {r["label"]: r for r in s["acceptance"]["byVotes"]}
    assert acc["2/2"]["shown"] == 1 and acc["2/2"]["applied"] == 1
    assert acc["2/2"]["acceptanceRate"] == 1.0
    assert acc["1/2"]["dismissed"] == 1 and acc["1/2"]["acceptanceRate"] == 0.0
    assert acc["3/3"]["left"] == 1 and acc["3/3"]["acceptanceRate"] == 0.0

    ab = s["abandonment"]
    assert (ab["actions"], ab["abandonedActions"], ab["sessions"], ab["abandonedSessions"]) == (
        2,
        1,
        2,
        1,
    )
    ee = s["earlyErrors"]
    assert ee["withEarlyErrors"]["outcomes"] == {
        "applied": 0,
        "dismissed": 0,
        "abandoned": 1,
        "no_decision": 0,
    }
    # A's failure came 200 s after its first line: not early. C had none.
    assert ee["withoutEarlyErrors"]["outcomes"] == {
        "applied": 1,
        "dismissed": 0,
        "abandoned": 0,
        "no_decision": 1,
    }


def test_since_filters_by_session_start(small_corpus: Path) -> None:
    now = T0 + DAY + 7200
    assert len(load_sessions(small_corpus, since_days=0.5, now=now)) == 2
    assert len(load_sessions(small_corpus, since_days=5, now=now)) == 3


def test_percentile() -> None:
    assert percentile([], 50) is None
    assert percentile([1.0], 99) == 1.0
    values = [float(i) for i in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 90), percentile(values, 99)) == (
        50.0,
        90.0,
        99.0,
    )


def test_json_cli(small_corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert stats_main(["--json", "--data-dir", str(small_corpus)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["totals"]["sessions"] == 3
    assert data["dataDir"] == str(small_corpus)


def test_terminal_report(small_corpus: Path) -> None:
    buf = io.StringIO()
    stats = compute_stats(load_sessions(small_corpus))
    print_report(stats, Console(file=buf, width=100, color_system=None))
    text = buf.getvalue()
    for needle in ("Activity", "Models", POOL[0], "/ws/two", "2/2", "100.0%", "Abandonment"):
        assert needle in text
    assert "█" in text
    assert "(last 2 active days)" in text
    one_day = io.StringIO()
    first_day = [s for s in load_sessions(small_corpus) if s.workspace == "/ws/two"]
    print_report(compute_stats(first_day), Console(file=one_day, width=100, color_system=None))
    assert "(last 1 active day)" in one_day.getvalue()
    # Session B alone: its one review was abandoned ("of 1 actions, ... of 1 editor sessions").
    said = " ".join(one_day.getvalue().split())
    assert "100.0% of 1 action, 100.0% of 1 editor session." in said, said
    html = " ".join(render_html(compute_stats(first_day)).split())
    assert "of 1 action; <b>100.0%</b> of 1 editor session ended that way." in html
    empty = io.StringIO()
    print_report(compute_stats([]), Console(file=empty, width=80))
    assert "No sessions recorded yet" in empty.getvalue()


class _Svg(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.charts: dict[str, list[dict[str, str]]] = {}
        self.kpis: dict[str, str] = {}
        self.external: list[str] = []
        self._chart: str | None = None
        self._kpi: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.append(tag)
        for k in ("src", "href"):
            if k in a:
                self.external.append(a[k])
        if tag == "svg":
            self._chart = a.get("id", "")
            self.charts[self._chart] = []
        elif tag == "rect" and "data-value" in a and self._chart is not None:
            self.charts[self._chart].append(a)
        elif tag == "div" and "data-kpi" in a:
            self._kpi = a["data-kpi"]

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._chart = None

    def handle_data(self, data: str) -> None:
        if self._kpi is not None and data.strip():
            self.kpis[self._kpi] = data.strip()
            self._kpi = None


def _bars(p: _Svg, chart: str) -> dict[str, float]:
    return {r["data-label"]: float(r["data-value"] or "nan") for r in p.charts[chart]}


def test_html_report_renders(small_corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    assert stats_main(["--html", str(out), "--data-dir", str(small_corpus)]) == 0
    html = out.read_text("utf-8")
    assert html.startswith("<!DOCTYPE html>")
    p = _Svg()
    p.feed(html)
    p.close()
    # self-contained: no scripts, stylesheets, images or links to anything
    assert "script" not in p.tags and "link" not in p.tags and "img" not in p.tags
    assert p.external == []
    assert "url(" not in html and "@import" not in html
    expected = {
        "chart-actions",
        "chart-sessions",
        "chart-cost-daily",
        "chart-cost-model",
        "chart-cost-workspace",
        "chart-latency",
        "chart-failures",
        "chart-winrate",
        "chart-acceptance",
        "chart-early-errors",
    }
    assert expected <= set(p.charts)
    assert p.kpis["sessions"] == "3"
    assert _bars(p, "chart-acceptance") == {"1/2": 0.0, "2/2": 1.0, "3/3": 0.0}
    assert _bars(p, "chart-winrate") == {POOL[0]: 1.0, POOL[1]: 0.0}
    assert _bars(p, "chart-actions") == {
        "2025-06-15 explain": 1.0,
        "2025-06-15 review": 1.0,
        "2025-06-16 explain": 1.0,
        "2025-06-16 review": 1.0,
    }
    latency = _bars(p, "chart-latency")
    assert latency[f"{POOL[0]} p50"] == 2.0 and latency[f"{POOL[1]} p99"] == 8.0
    failures = _bars(p, "chart-failures")
    assert failures[POOL[2]] == 0.5
    assert _bars(p, "chart-cost-workspace")["/ws/two"] == pytest.approx(0.022)
    early = _bars(p, "chart-early-errors")
    assert early["with early errors (n=1) abandoned"] == 1.0
    assert early["without (n=2) applied"] == 0.5


def test_html_report_says_how_many_sessions_in_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One session was announced as "(1 sessions)"."""
    root = tmp_path / "data"
    clock = Clock(T0)
    one = _recorder(root, "/ws/one", "cli", clock)
    run_fusion(one, clock, "S1", task="explain")
    one.close()
    out = tmp_path / "report.html"
    assert stats_main(["--html", str(out), "--data-dir", str(root)]) == 0
    assert capsys.readouterr().err == f"Wrote {out} (1 session).\n"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert stats_main(["--html", str(out), "--data-dir", str(empty)]) == 0
    assert capsys.readouterr().err == f"Wrote {out} (0 sessions).\n"


def test_html_escapes_recorded_text() -> None:
    stats = compute_stats([])
    stats["workspaces"] = [
        {
            "workspace": '<script>alert("x")</script>',
            "sessions": 1,
            "actions": 1,
            "inputTokens": 1,
            "outputTokens": 1,
            "costUsd": 1.0,
        }
    ]
    html = render_html(stats)
    assert "<script>" not in html and "&lt;script&gt;" in html


def _stats_of(root: Path) -> tuple[dict[str, Any], float]:
    start = time.perf_counter()
    stats = compute_stats(load_sessions(root))
    return stats, time.perf_counter() - start


@pytest.fixture
def big_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder for 10,000 files: on tmpfs when there is one, because creating and
    (later) deleting that many files on a disk mounted with `discard` takes longer than
    the whole rest of the suite."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        with tempfile.TemporaryDirectory(dir=shm, prefix="fuse-ls-test-") as d:
            yield Path(d)
    else:
        yield tmp_path


def test_ten_thousand_sessions(big_dir: Path) -> None:
    root = big_dir / "data"
    generate_corpus(root, 10_000, unique=300, seed=3)
    stats, elapsed = _stats_of(root)
    print(f"\nstats over 10,000 sessions: {elapsed:.2f} s")
    t = stats["totals"]
    assert t["sessions"] == 10_000
    assert t["actions"] > 10_000
    # the generator's built-in effects show up in the numbers
    by_votes = {r["votes"]: r["acceptanceRate"] for r in stats["acceptance"]["byVoteCount"]}
    assert by_votes[3] > by_votes[2] > by_votes[1]
    rates = {m["model"]: m["failureRate"] for m in stats["models"]}
    assert rates["google/gemini-2.5-pro"] > rates["anthropic/claude-sonnet-4.5"]
    ee = stats["earlyErrors"]
    assert ee["withEarlyErrors"]["rates"]["applied"] < ee["withoutEarlyErrors"]["rates"]["applied"]
    html = render_html(stats)
    assert html.count("<svg") >= 10


@pytest.mark.parametrize(
    ("since", "said"),
    [("-3", "expected a number of days > 0, got -3"), ("x", "expected a number of days, got 'x'")],
)
def test_a_bad_since_reads_as_any_bad_option_value(
    since: str, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """It said "fuse-ls stats: --since needs a positive number of days", a style of its own."""
    with pytest.raises(SystemExit) as stop:
        stats_main(["--since", since])
    assert stop.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"fuse-ls stats: error: argument --since: {said}"
    )


LONG_ID = "nousresearch/hermes-3-llama-3.1-405b-instruct-extended-context:free"


def _row(lines: list[str], header: str, name: str) -> tuple[str, list[str]]:
    """The name (its folded pieces joined) and the other cells of `name`'s row in the table
    whose header line starts with `header`."""
    start = next(i for i, line in enumerate(lines) if line.split()[:1] == [header])
    first = next(i for i in range(start, len(lines)) if name.startswith(lines[i].split()[0]))
    piece, *cells = lines[first].split()
    for line in lines[first + 1 :]:
        more = line.split()
        if len(more) != 1:
            break
        piece += more[0]
    return piece, cells


def test_a_long_model_id_folds_and_the_numbers_stay_whole(tmp_path: Path) -> None:
    root = tmp_path / "data"
    clock = Clock(T0)
    rec = _recorder(root, "/ws/one", "cli", clock)
    for n in range(3):
        run_fusion(
            rec,
            clock,
            f"L{n}",
            mode="best-of",
            winner=LONG_ID,
            results=(ok(LONG_ID, 0, latency=12.25), ok(POOL[1], 1, latency=4.0)),
        )
    rec.close()
    env = {**outside_env(), "COLUMNS": "80"}
    shown = run_cli(["stats", "--data-dir", str(root)], env, tmp_path)
    assert shown.returncode == 0, shown.stderr
    lines = [line for line in shown.stdout.splitlines() if line.strip()]
    assert max(len(line.rstrip()) for line in lines) <= 80
    # calls, failed, p50, p90, p99, won, of
    assert _row(lines, "model", LONG_ID) == (
        LONG_ID,
        ["3", "0.0%", "12.2s", "12.2s", "12.2s", "100.0%", "3"],
    )
    tokens = lines[next(i for i, line in enumerate(lines) if "tokens and cost" in line) :]
    name, cells = _row(tokens, "model", LONG_ID)
    assert (name, cells[:4]) == (LONG_ID, ["3.6k", "1.2k", "600", "$0.0300"])
    as_json = run_cli(["stats", "--json", "--data-dir", str(root)], env, tmp_path)
    assert LONG_ID in [m["model"] for m in json.loads(as_json.stdout)["models"]]


def test_one_of_each_reads_in_the_singular(emulator: Emulator, tmp_path: Path) -> None:
    """A real review with one model failing, then `fuse-ls stats`: it said "1 sessions",
    "1 actions" and "1 failed model calls"."""
    emulator.set_script({"models": {POOL[2]: {"fault": {"kind": "http", "status": 400}}}})
    (tmp_path / "app.py").write_text(CODE)
    env = {k: v for k, v in home_env(emulator.base_url, tmp_path).items() if k != "COLUMNS"}
    env.update(FUSE_LS_MODELS=",".join(POOL), FUSE_LS_JUDGE=JUDGE, COLUMNS="200")
    assert run_cli(["review", "app.py"], env, tmp_path).returncode == 0
    done = run_cli(["stats"], env, tmp_path)
    assert done.returncode == 0, done.stderr
    summary = " ".join(done.stdout.split())  # the panel may fold it
    assert "1 session (" in summary, done.stdout
    assert "1 action (review 1)" in summary
    assert "1 failed model call" in summary and "1 failed model calls" not in summary
    assert "(last 1 active day)" in summary
