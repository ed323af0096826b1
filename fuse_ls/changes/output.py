"""A change review for people (terminal), scripts (JSON), code scanning (SARIF) and
reviewdog (rdjson), which turns findings into pull-request review comments."""

from __future__ import annotations

from itertools import groupby
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from fuse_ls.changes.review import ChangeReview, RunState
from fuse_ls.core.types import SEVERITIES, Severity
from fuse_ls.safetext import bidi_shown, inert_markdown, quiet_mentions, visible
from fuse_ls.sarif import SarifEntry, sarif_log, source_artifact

_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan", "hint": "dim"}


def _lines(start: int, end: int) -> str:
    return str(start) if start == end else f"{start}-{end}"


def _money(value: float | None) -> str:
    return "?" if value is None else f"${value:.4f}"


class RunProgress:
    """One live line for the whole run (a plain line per finished unit outside a terminal)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.live = Live(console=console, refresh_per_second=8, transient=True)
        self._last_done = -1

    def __enter__(self) -> RunProgress:
        if self.console.is_terminal:
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.console.is_terminal:
            self.live.__exit__(None, None, None)

    def _line(self, s: RunState) -> Text:
        models = ", ".join(s.models) + f" + judge {s.judge}"
        failed = f" · {s.failed} failed" if s.failed else ""
        return Text(
            f"fuse-ls: {s.stage} · units {s.done}/{s.units} ({s.cached} cached){failed} · "
            f"calls in flight {s.calls_active} · cost so far ${s.cost_usd:.4f} · {models}"
        )

    def __call__(self, state: RunState) -> None:
        if self.console.is_terminal:
            # One line, cut at the width: wrapped (it runs to ~190 characters with the
            # model list), each redraw took three lines of an 80-column terminal.
            line = self._line(state)
            line.no_wrap, line.overflow = True, "ellipsis"
            self.live.update(line)
        elif state.done != self._last_done and state.stage != "preparing" and state.units:
            # (No units: nothing to report progress on; "units 0/0" was noise in a log.)
            self._last_done = state.done
            self.console.print(self._line(state), highlight=False)


def _say(console: Console, text: Text) -> None:
    """One line: whole when piped (a CI log), where rich folded it at 80 columns."""
    console.print(text, soft_wrap=not console.is_terminal)


def print_review(console: Console, review: ChangeReview) -> None:
    _say(console, Text(review.description, style="bold"))
    for path, why in review.skipped_files:
        _say(console, Text(f"skipped {visible(path)}: {why}", style="dim"))
    by_file = groupby(review.findings, key=lambda r: r.path)
    for path, group in by_file:
        table = Table(title=Text(visible(path)), title_justify="left", show_lines=False)
        table.add_column("lines", justify="right")
        table.add_column("severity")
        table.add_column("votes", justify="center", max_width=14)
        table.add_column("finding", overflow="fold")
        # Whole on one line: it is copied for `fuse-ls dismiss`.
        table.add_column("fingerprint", style="dim", no_wrap=True, min_width=16)
        for r in group:
            f = r.finding
            verdict = " (judge: confirmed)" if f.confirmed else ""
            table.add_row(
                _lines(f.start_line, f.end_line),
                Text(f.severity, style=_STYLE[f.severity]),
                f.votes_text,
                # Text, not a str: model words and file names are never rich markup.
                # Bidi controls shown as <U+202E>: raw, they reorder what the row says.
                Text(
                    bidi_shown(f"[{f.category}] {f.message}{verdict}")
                    + ("" if r.on_changed_line else " (context)")
                ),
                r.fingerprint,
            )
        console.print(table)
    if not review.outcomes:
        why = "every file was skipped" if review.skipped_files else "no changed text in this change"
        _say(console, Text(f"Nothing to review: {why}.", style="green"))
    elif all(o.skipped for o in review.outcomes):
        # Stopped before any unit (a passed deadline, the cost limit): "no findings" in
        # green would read as a clean review of code no model saw.
        _say(console, Text("Nothing was reviewed: the run stopped first.", style="yellow"))
    elif not review.findings:
        _say(console, Text("No findings on the changed lines.", style="green"))
    for outcome in review.outcomes:
        if outcome.error:
            _say(
                console,
                Text(
                    f"{visible(outcome.unit.path)}:{outcome.unit.start_line}: "
                    + bidi_shown(outcome.error),
                    style="red",
                ),
            )
    # The JSON keeps the reasons as keys ("context lines"); the sentence reads "1 on ...".
    said = {"context lines": "on context lines", "over the limit": "over --max-findings"}
    hidden = ", ".join(f"{n} {said.get(why, why)}" for why, n in review.hidden.items())
    if hidden:
        _say(console, Text(f"not shown: {hidden}", style="dim"))
    if review.stopped:
        not_run = sum(1 for o in review.outcomes if o.skipped)
        _say(
            console,
            Text(f"stopped: {review.stopped}; {not_run} unit(s) not reviewed", style="yellow"),
        )
    for note in dict.fromkeys(review.notes):
        _say(console, Text(f"note: {bidi_shown(note)}", style="yellow"))
    _say(console, summary(review))


def summary(review: ChangeReview) -> Text:
    units = len(review.outcomes)
    cached = sum(o.cached for o in review.outcomes)
    est = (
        ""
        if not review.estimated_cost_usd
        else f" (estimated up to {_money(review.estimated_cost_usd)})"
    )
    return Text(
        f"{units} unit(s), {cached} from the cache · {review.calls} model call(s) · mode "
        f"{review.mode} · wall time {review.wall_time_s:.2f}s · cost "
        f"{_money(review.total_cost_usd)}{est}"
    )


def review_json(review: ChangeReview) -> dict[str, Any]:
    return {
        "description": review.description,
        "findings": [
            {
                "path": r.path,
                "fingerprint": r.fingerprint,
                "on_changed_line": r.on_changed_line,
                **r.finding.to_json(),
            }
            for r in review.findings
        ],
        "units": [
            {
                "path": o.unit.path,
                "start_line": o.unit.start_line,
                "end_line": o.unit.end_line,
                "scope": o.unit.scope,
                "changed_lines": sorted(o.unit.changed),
                "cached": o.cached,
                "findings": len(o.findings),
                "cost_usd": o.cost_usd if not o.cached else 0.0,
                "error": o.error,
                "skipped": o.skipped,
                "notes": list(o.notes),
            }
            for o in review.outcomes
        ],
        "skipped_files": [{"path": p, "reason": why} for p, why in review.skipped_files],
        "hidden": review.hidden,
        "pool": list(review.pool),
        "judge": review.judge,
        "mode": review.mode,
        "model_calls": review.calls,
        "estimated_cost_usd": review.estimated_cost_usd,
        "total_cost_usd": review.total_cost_usd,
        "wall_time_s": review.wall_time_s,
        "stopped": review.stopped,
        "notes": list(dict.fromkeys(review.notes)),
    }


def sarif(review: ChangeReview) -> dict[str, Any]:
    """SARIF 2.1.0 of a change review. `partialFingerprints` come from the flagged code,
    not line numbers, so GitHub code scanning matches a finding across runs after lines move."""
    log = sarif_log(
        SarifEntry(
            r.finding,
            source_artifact(r.path),
            fingerprint=r.fingerprint,
            properties={"onChangedLine": r.on_changed_line},
        )
        for r in review.findings
    )
    # Code scanning reads an empty result list as "every alert fixed": a consumer that
    # does not see the exit code learns here that the run stopped or failed (exit 3, 4).
    asked = [o for o in review.outcomes if not o.cached and not o.skipped]
    failed = bool(review.outcomes) and (
        all(o.skipped for o in review.outcomes) or (bool(asked) and all(o.error for o in asked))
    )
    said = [("error", f"{o.unit.path}:{o.unit.start_line}: {o.error}") for o in asked if o.error]
    if review.stopped:
        not_run = sum(1 for o in review.outcomes if o.skipped)
        said.append(("warning", f"stopped: {review.stopped}; {not_run} unit(s) not reviewed"))
    log["runs"][0]["invocations"] = [
        {
            "executionSuccessful": not failed,
            "toolExecutionNotifications": [
                {"level": level, "message": {"text": text}} for level, text in said
            ],
        }
    ]
    return log


_RD_SEVERITY = {"error": "ERROR", "warning": "WARNING", "info": "INFO", "hint": "INFO"}


def rdjson(review: ChangeReview) -> dict[str, Any]:
    """reviewdog's Diagnostic JSON (rdjson): `reviewdog -f=rdjson -reporter=github-pr-review`."""
    diagnostics = []
    for r in review.findings:
        f = r.finding
        diagnostic: dict[str, Any] = {
            # reviewdog posts it as a pull-request comment, which GitHub renders as
            # Markdown: a model's image or HTML would be fetched, so it stays text. A
            # link shows its target as written: as a link it hid a URL the model, led
            # by the code it read, may have filled with that code, one click from sent.
            # An @mention would notify that person or team once per posted comment.
            "message": quiet_mentions(
                inert_markdown(
                    f"{f.message} ({f.agreement}: {', '.join(dict.fromkeys(f.models))})",
                    keep_links=False,
                )
            ),
            "location": {
                "path": r.path,
                "range": {"start": {"line": f.start_line}, "end": {"line": f.end_line}},
            },
            "severity": _RD_SEVERITY[f.severity],
            "code": {"value": f.category},
            "original_output": r.fingerprint,
        }
        if f.replacement is not None:
            text = f.replacement if f.replacement.endswith("\n") else f.replacement + "\n"
            diagnostic["suggestions"] = [
                {
                    "range": {
                        "start": {"line": f.start_line, "column": 1},
                        "end": {"line": f.end_line + 1, "column": 1},
                    },
                    "text": text,
                }
            ]
        diagnostics.append(diagnostic)
    return {
        "source": {"name": "fuse-ls", "url": "https://github.com/fuse-ls/fuse-ls"},
        "severity": "WARNING",
        "diagnostics": diagnostics,
    }


def fails_on(review: ChangeReview, threshold: Severity) -> bool:
    limit = SEVERITIES.index(threshold)
    return any(SEVERITIES.index(r.finding.severity) <= limit for r in review.findings)
