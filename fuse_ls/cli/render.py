"""Terminal output: live per-model progress while a fusion runs, then the fused result."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.markdown import Markdown
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from fuse_ls.core.events import (
    ChecksFinished,
    ChecksStarted,
    FusionEvent,
    FusionFinished,
    JudgeFailed,
    JudgeFinished,
    JudgeStarted,
    ModelEvent,
    ModelFailed,
    ModelFinished,
    ModelStarted,
    ModelStreaming,
    RoundStarted,
)
from fuse_ls.core.types import FusionResult
from fuse_ls.safetext import bidi_shown, bidi_shown_in

_SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan", "hint": "dim"}
_STATE_STYLE = {
    "waiting": "dim",
    "asking": "blue",
    "streaming": "blue",
    "done": "green",
    "failed": "red",
    "skipped": "dim",
    "cancelled": "yellow",
}


class LiveProgress:
    """An observer that redraws a small table as models start, stream, finish or fail."""

    def __init__(self, console: Console, models: list[str], judge: str) -> None:
        self.console = console
        self.rows: dict[int, dict[str, Any]] = {
            i: {"model": m, "state": "waiting", "detail": ""} for i, m in enumerate(models)
        }
        self.judge = {"model": judge, "state": "waiting", "detail": ""}
        self.stage = "asking the pool"
        self.live = Live(self._table(), console=console, refresh_per_second=8, transient=False)

    def __enter__(self) -> LiveProgress:
        if self.console.is_terminal:
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.console.is_terminal:
            self.live.update(self._table())
            self.live.__exit__(None, None, None)

    def _table(self) -> Table:
        table = Table(title=f"fuse-ls: {self.stage}", title_justify="left", expand=False)
        table.add_column("model")
        table.add_column("state")
        table.add_column("", overflow="fold")
        for row in [*self.rows.values(), self.judge]:
            style = _STATE_STYLE.get(row["state"], "")
            label = row["model"] + (" (judge)" if row is self.judge else "")
            table.add_row(label, Text(row["state"], style=style), row["detail"])
        return table

    def __call__(self, event: FusionEvent) -> None:
        row = self.rows.get(event.index) if isinstance(event, ModelEvent) else None
        match event:
            case ModelStarted() if row is not None:
                row["state"] = "asking"
                if event.round:
                    row["detail"] = f"debate round {event.round}"
            case ModelStreaming() if row is not None:
                row["state"] = "streaming"
            case ModelFinished(candidate=c) if row is not None:
                row["state"] = "done"
                row["detail"] = f"{(c.latency_s or 0):.2f}s" + (
                    f", {len(c.findings)} finding{'s' if len(c.findings) > 1 else ''}"
                    if c.findings
                    else ""
                )
            case ModelFailed(candidate=c) if row is not None:
                row["state"] = "cancelled" if c.status == "cancelled" else "failed"
                row["detail"] = bidi_shown(c.error or "")
            case RoundStarted():
                self.stage = event.message or "debate"
            case JudgeStarted():
                self.stage = "judging"
                self.judge["state"] = "asking"
            case JudgeFinished(judge=judge):
                self.judge["state"] = "done"
                if judge.latency_s is not None:
                    self.judge["detail"] = f"{judge.latency_s:.2f}s"
            case JudgeFailed():
                self.judge["state"] = "failed"
                self.judge["detail"] = bidi_shown(event.message)
            case ChecksStarted():
                self.stage = f"checking {_whose(event.model)}"
            case ChecksFinished():
                self.stage = f"{_whose(event.model)}: {event.report.summary()}"
            case FusionFinished():
                self.stage = "done"
                if self.judge["state"] == "waiting":
                    self.judge["state"] = "skipped"
        if self.console.is_terminal:
            self.live.update(self._table())
        elif isinstance(event, ModelFinished | ModelFailed | JudgeFinished | JudgeFailed):
            # Not a terminal (CI logs): one plain line per completed step instead of redraws.
            kind = event.kind.replace("_", " ")
            if isinstance(event, ModelFailed) and event.candidate.error_kind == "quorum":
                # Cancelled once the quorum answered: it did not fail.
                kind = "model not waited for"
            detail = row["detail"] if row is not None else self.judge["detail"]
            who = event.model
            # Provider errors start with the model id; the line names it once.
            detail = detail.removeprefix(f"{who}: ")
            self.console.print(f"[fuse-ls] {kind}: {who} {detail}", highlight=False)


def line(console: Console, text: Text) -> None:
    """One line of text: whole when piped (a CI log), where rich folded it at 80 columns
    mid-path; a terminal wraps it at its own width."""
    console.print(text, soft_wrap=not console.is_terminal)


def _whose(model: str) -> str:
    return f"{model}'s fix" if model else "the fused fix"


def _money(value: float | None) -> str:
    return "?" if value is None else f"${value:.5f}"


def models_table(result: FusionResult) -> Table:
    """One row per model. A row's note (winner, why it failed, why the judge was not
    asked) goes under the model's id, not in a column of its own: model ids have no
    spaces to wrap at, and beside a note column rich cut them to `anthropic/cl…` at 80
    columns, so which model was which could not be read."""
    table = Table(title="models", title_justify="left")
    ids = [c.model for c in result.candidates]
    if result.judge is not None:
        ids.append(result.judge.model)
    table.add_column("model", min_width=min(max(map(len, ids), default=5), 40))
    table.add_column("status")
    table.add_column("latency", justify="right")
    table.add_column("tokens\nin/out")
    table.add_column("cost", justify="right")

    def model(label: str, note: str) -> Text:
        return Text(label) + (Text("\n" + note, style="dim") if note else Text())

    below = "\n".join(result.notes)

    def unsaid(why: str) -> str:
        # A failure the notes under the table say in full is not said twice.
        return "" if why in below else why

    for c in result.candidates:
        note = unsaid((c.error or "").removeprefix(f"{c.model}: "))
        if result.winner == c.model and c.status == "ok":
            note = "winner"
        table.add_row(
            model(c.model, note),
            Text(c.status, style="green" if c.status == "ok" else "red"),
            "-" if c.latency_s is None else f"{c.latency_s:.2f}s",
            f"{c.usage.prompt_tokens}/{c.usage.completion_tokens}",
            "-" if c.cost_usd is None and c.status != "ok" else _money(c.cost_usd),
        )
    j = result.judge
    if j is not None:
        table.add_row(
            model(f"{j.model} (judge)", j.skipped_reason or unsaid(j.error or "")),
            Text(j.status, style="green" if j.status in ("ok", "skipped") else "red"),
            "-" if j.latency_s is None else f"{j.latency_s:.2f}s",
            f"{j.usage.prompt_tokens}/{j.usage.completion_tokens}",
            # A judge that was not asked cost nothing, not an unknown amount; one that
            # failed is said as a failed model is.
            "-"
            if j.status == "skipped" or (j.status != "ok" and j.usage.cost_usd is None)
            else _money(j.usage.cost_usd),
        )
    return table


def findings_table(
    result: FusionResult, path: str, fingerprints: Sequence[str] = (), models: bool = True
) -> Table:
    """`fingerprints` (one per finding) fill a "fingerprint" column, as in a change
    review: what `fuse-ls dismiss` takes, kept whole on one line to be copied. `models`: a column
    naming who found each (the votes cell counts them; `--json` names them too)."""
    table = Table(title=f"fused findings for {path}", title_justify="left", show_lines=True)
    table.add_column("lines", justify="right")
    table.add_column("severity")
    table.add_column("votes", justify="center", max_width=14)
    table.add_column("finding", overflow="fold")
    if models:
        table.add_column("models", overflow="fold")
    if fingerprints:
        table.add_column("fingerprint", style="dim", no_wrap=True, min_width=16)
    for n, f in enumerate(result.findings):
        lines = str(f.start_line) if f.start_line == f.end_line else f"{f.start_line}-{f.end_line}"
        verdict = {True: " (judge: confirmed)", False: "", None: ""}[f.confirmed]
        table.add_row(
            lines,
            Text(f.severity, style=_SEVERITY_STYLE[f.severity]),
            f.votes_text,
            f"[{f.category}] {f.message}{verdict}"
            + (f"\nfix: {f.replacement.strip()[:200]}" if f.replacement else ""),
            *([", ".join(dict.fromkeys(f.models))] if models else []),
            *([fingerprints[n]] if fingerprints else []),
        )
    return table


def summary(result: FusionResult) -> Text:
    est = (
        ""
        if result.estimated_cost_usd is None
        else f" (estimated up to {_money(result.estimated_cost_usd)})"
    )
    line = Text(
        f"mode {result.mode} · {len(result.answered)}/{len(result.candidates)} models answered · "
        f"wall time {result.wall_time_s:.2f}s · total cost {_money(result.total_cost_usd)}{est}"
    )
    return line


def print_review(
    console: Console,
    result: FusionResult,
    path: str,
    fingerprints: Sequence[str] = (),
    hidden: Mapping[str, int] | None = None,
) -> None:
    result = bidi_shown_in(result)  # what is shown; --json and --sarif keep them
    if result.findings:
        # Below 100 columns the models column left the finding a dozen characters wide.
        wide = console.width >= 100
        console.print(findings_table(result, path, fingerprints, models=wide))
    else:
        line(console, Text(f"No findings for {path}.", style="green"))
    if result.rejected:
        rejected = f"{len(result.rejected)} finding(s) rejected by the judge."
        line(console, Text(rejected, style="dim"))
    from fuse_ls.changes.quiet import hidden_text

    said = hidden_text(hidden or {})  # worded as a change review says it
    if said:
        line(console, Text(said, style="dim"))
    _footer(console, result)


def print_text(
    console: Console,
    result: FusionResult,
    title: str,
    code_path: str | None = None,
    first_line: int = 1,
) -> None:
    """An explanation is Markdown; a fix (`code_path` given) is that file's code, shown
    line for line: as Markdown its lines would run together and comments become headings.

    Bidi controls in model text are shown as `<U+202E>`: raw, a fix's code could display
    as other code than it is. The code of a piped fix is the exception, printed exactly
    (`fuse-ls fix ... > fixed.py`); the text around it is marked."""
    code = result.answer or ""
    result = bidi_shown_in(result)
    answer = result.answer or ""
    if code_path is not None and not console.is_terminal:
        # Piped, the code is printed as it is: in a panel rich wrapped its long lines at 80
        # columns, and a wrapped line read as two lines of the fix and could not be copied.
        line(console, Text(title, style="bold"))
        console.print(Text(code.rstrip("\n")), soft_wrap=True)
        if result.explanation:
            console.print(Text("\n" + result.explanation, style="italic"), soft_wrap=True)
        _footer(console, result)
        return
    # hyperlinks=False: a link shows its target. Otherwise only its words are shown (the
    # URL hidden in an OSC 8 link, or dropped when piped), and a model led by the code it
    # read can word `[the docs](https://host/?d=<the code>)` to be clicked.
    body: list[Any] = [
        Markdown(answer, hyperlinks=False)
        if code_path is None
        else Syntax(
            answer,
            Syntax.guess_lexer(code_path, answer),
            word_wrap=True,
            background_color="default",
            # The file's line numbers: a long line the terminal wraps has none on its
            # continuation, so it does not read as a line of its own.
            line_numbers=True,
            start_line=first_line,
        )
    ]
    if result.explanation:
        body.append(Text("\n" + result.explanation, style="italic"))
    console.print(Panel(Group(*body), title=title, title_align="left"))
    a = result.analysis
    if a is not None and (a.consensus or a.contradictions or a.unique_insights or a.blind_spots):
        lines = []
        lines += [f"- agreed: {c}" for c in a.consensus]
        for c in a.contradictions:
            stances = "; ".join(f"{s.model}: {s.stance}" for s in c.stances)
            lines.append(f"- disputed: {c.topic} ({stances})")
        lines += [f"- only {i.model}: {i.insight}" for i in a.unique_insights]
        lines += [f"- nobody covered: {b}" for b in a.blind_spots]
        analysis = Markdown("\n".join(lines), hyperlinks=False)
        console.print(Panel(analysis, title="analysis", title_align="left"))
    _footer(console, result)


def _footer(console: Console, result: FusionResult) -> None:
    console.print(models_table(result))
    for note in result.notes:
        line(console, Text(f"note: {note}", style="yellow"))
    line(console, summary(result))
