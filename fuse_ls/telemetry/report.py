"""Terminal rendering of `fuse-ls stats` (rich tables with bar columns)."""

from __future__ import annotations

from typing import Any, Literal

from rich import box
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from fuse_ls.core.counts import counted, noun_for
from fuse_ls.safetext import visible

BAR_WIDTH = 24
RECENT_DAYS = 21  # the terminal shows the last three weeks; --html / --json have all
_NAME_MIN = 16  # below this a folded model id is more lines than name


def bar(value: float, maximum: float, width: int = BAR_WIDTH, style: str = "cyan") -> Text:
    """A left-aligned bar of eighth blocks, `value` relative to `maximum`."""
    if maximum <= 0 or value <= 0:
        return Text("")
    eighths = round(value / maximum * width * 8)
    full, rest = divmod(max(eighths, 1), 8)
    return Text("█" * full + ("▏▎▍▌▋▊▉"[rest - 1] if rest else ""), style=style)


def _pct(rate: float | None) -> str:
    return "–" if rate is None else f"{rate * 100:.1f}%"


def _sec(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}s"


def _usd(value: float) -> str:
    return f"${value:,.2f}" if value >= 1 else f"${value:.4f}"


def _tok(n: int) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)


def _plain(text: str) -> Text:
    """Recorded text (a model id from a repository's config, a workspace path) as written:
    rich would read `[link=...]` in it as a link and `[/]` as an error, which made every
    later `fuse-ls stats` fail while that session was kept."""
    return Text(visible(text))


def _table(title: str, **kwargs: Any) -> Table:
    # Light borders and no edge padding keep the widest table inside 80 columns.
    return Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True, **kwargs)


def _name_column(table: Table, header: str) -> None:
    """A model id or workspace path: the one column that gives way when the terminal is
    narrow. It folds onto more lines, whole (two ids that differ only at the end, `:free`
    and `:nitro`, stay told apart, which an ellipsis would hide); `--json` has it on one."""
    table.add_column(header, overflow="fold", min_width=_NAME_MIN)


def _value_column(table: Table, header: str, justify: Literal["left", "right"] = "right") -> None:
    """Numbers never wrap and never give way to a name: a 67-character model id once left
    the other seven columns of its table a `…` or nothing at 80 columns. A bar (header "")
    is cropped rather than wrapped."""
    overflow: Literal["crop", "ellipsis"] = "crop" if not header else "ellipsis"
    table.add_column(header, justify=justify, no_wrap=True, overflow=overflow)


def render(stats: dict[str, Any]) -> Group:
    t = stats["totals"]
    parts: list[Any] = []
    rng = stats["range"]
    by_type = ", ".join(f"{k} {v}" for k, v in sorted(t["actionsByType"].items())) or "none"
    summary = (
        f"[b]{t['sessions']}[/b] {noun_for(t['sessions'], 'session')} "
        f"({rng['first'] or '–'} → {rng['last'] or '–'}), "
        f"[b]{t['actions']}[/b] {noun_for(t['actions'], 'action')} ({by_type}), "
        f"[b]{_usd(t['costUsd'])}[/b], {_tok(t['inputTokens'])} in / "
        f"{_tok(t['outputTokens'])} out tokens, "
        f"{counted(t['modelFailures'], 'failed model call')}"
    )
    parts.append(
        Panel(summary, title="fuse-ls stats", subtitle=_plain(str(stats.get("dataDir", ""))))
    )

    daily = stats["daily"][-RECENT_DAYS:]
    if daily:
        table = _table(
            f"Activity (last {counted(len(daily), 'active day')})",
            title_justify="left",
        )
        for col in ("day", "sessions", "actions", "", "cost"):
            table.add_column(col, justify="right" if col not in ("day", "") else "left")
        top = max(d["actions"] for d in daily)
        for d in daily:
            table.add_row(
                d["date"],
                str(d["sessions"]),
                str(d["actions"]),
                bar(d["actions"], top),
                _usd(d["costUsd"]),
            )
        parts.append(table)

    if stats["models"]:
        table = _table(
            "Models: latency, failures, best-of wins (won / of best-of fusions)",
            title_justify="left",
        )
        _name_column(table, "model")
        for col in ("calls", "failed", "p50", "p90", "p99", "won", "of"):
            _value_column(table, col)
        for m in stats["models"]:
            lat = m["latencyS"]
            bo = m["bestOf"]
            table.add_row(
                _plain(m["model"]),
                str(m["calls"]),
                _pct(m["failureRate"]),
                _sec(lat["p50"]),
                _sec(lat["p90"]),
                _sec(lat["p99"]),
                _pct(bo["winRate"]),
                str(bo["fusions"]) if bo["fusions"] else "–",
            )
        parts.append(table)
        table = _table("Models: tokens and cost", title_justify="left")
        _name_column(table, "model")
        for col in ("input", "output", "cache read", "cost", ""):
            _value_column(table, col, "left" if col == "" else "right")
        top_cost = max(m["costUsd"] for m in stats["models"])
        for m in stats["models"]:
            table.add_row(
                _plain(m["model"]),
                _tok(m["inputTokens"]),
                _tok(m["outputTokens"]),
                _tok(m["cacheReadTokens"]),
                _usd(m["costUsd"]),
                bar(m["costUsd"], top_cost, 12, "magenta"),
            )
        parts.append(table)

    if stats["workspaces"]:
        table = _table("Workspaces", title_justify="left")
        _name_column(table, "workspace")
        for col in ("sessions", "actions", "input", "output", "cost", ""):
            _value_column(table, col, "left" if col == "" else "right")
        top_cost = max(w["costUsd"] for w in stats["workspaces"])
        for w in stats["workspaces"]:
            table.add_row(
                _plain(w["workspace"]),
                str(w["sessions"]),
                str(w["actions"]),
                _tok(w["inputTokens"]),
                _tok(w["outputTokens"]),
                _usd(w["costUsd"]),
                bar(w["costUsd"], top_cost, 12, "magenta"),
            )
        parts.append(table)

    acc = stats["acceptance"]
    if acc["byVotes"] or acc["fixes"]["shown"]:
        table = _table("Finding acceptance by agreement", title_justify="left")
        for col in ("votes", "shown", "applied", "dismissed", "left", "rate", ""):
            table.add_column(col, justify="left" if col in ("votes", "") else "right")
        for row in acc["byVotes"]:
            table.add_row(
                row["label"],
                str(row["shown"]),
                str(row["applied"]),
                str(row["dismissed"]),
                str(row["left"]),
                _pct(row["acceptanceRate"]),
                bar(row["acceptanceRate"] or 0.0, 1.0, 20, "green"),
            )
        fx = acc["fixes"]
        if fx["shown"]:
            table.add_row(
                "fixes",
                str(fx["shown"]),
                str(fx["applied"]),
                str(fx["dismissed"]),
                str(fx["left"]),
                _pct(fx["acceptanceRate"]),
                bar(fx["acceptanceRate"] or 0.0, 1.0, 20, "green"),
            )
        parts.append(table)

    ab = stats["abandonment"]
    ee = stats["earlyErrors"]
    table = _table(
        f"How sessions ended, by errors in their first {ee['windowS']:.0f} s",
        title_justify="left",
    )
    table.add_column("sessions")
    table.add_column("n", justify="right")
    for outcome in ("applied", "dismissed", "abandoned", "no_decision"):
        table.add_column(outcome.replace("_", " "), justify="right")
    for label, key in (("with early errors", "withEarlyErrors"), ("without", "withoutEarlyErrors")):
        block = ee[key]
        table.add_row(
            label,
            str(block["sessions"]),
            *(
                _pct(block["rates"][o])
                for o in ("applied", "dismissed", "abandoned", "no_decision")
            ),
        )
    parts.append(table)
    parts.append(
        Text.from_markup(
            f"Abandonment (left within {ab['windowS']:.0f} s of a review/fix, no decision): "
            f"[b]{_pct(ab['actionRate'])}[/b] of {counted(ab['actions'], 'action')}, "
            f"[b]{_pct(ab['sessionRate'])}[/b] of {counted(ab['sessions'], 'editor session')}."
        )
    )
    return Group(*parts)


def print_report(stats: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    if not stats["totals"]["sessions"]:
        console.print(
            f"No sessions recorded yet in {stats.get('dataDir', 'the data folder')}. "
            "fuse-ls records sessions locally while telemetry.enabled is true.",
            markup=False,
        )
        return
    console.print(render(stats))
