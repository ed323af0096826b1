"""Outputs of `fuse-ls eval`: JSON, a terminal table and a self-contained HTML chart."""

from __future__ import annotations

from html import escape
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from fuse_ls.eval.replay import PoolResult, Replay, Score
from fuse_ls.safetext import visible


def shown(name: str) -> Text:
    """A dataset's name (a tool, a judge) for the terminal, as written: not read as rich
    markup (`[link=...]` made a hidden link, `[/]` a traceback), an ESC shown as `\\x1b`
    rather than run by the terminal (a downloaded benchmark could retitle the window or
    write the clipboard with OSC 52)."""
    return Text(visible(name))


def _pct(v: float) -> str:
    return f"{v * 100:.1f}"


def replay_json(r: Replay) -> dict[str, Any]:
    return {
        "dataset": str(r.dataset.root),
        "judge": r.dataset.judge,
        "pull_requests": len(r.dataset.prs),
        "golden": r.dataset.golden_total,
        "tools": {name: s.as_json() for name, s in r.tools.items()},
        "pools": [
            {
                "members": list(p.members),
                "fused": p.fused.as_json(),
                "best_member": {"name": p.best_member, "f1": round(p.best_member_f1, 6)},
                "beats_best_member": p.beats_best,
                "reported": p.shown,
                "minority": p.minority,
                "merge": p.pairs.as_json(),
                "member_stats": {
                    name: st.as_json() for name, st in zip(p.members, p.member_stats, strict=True)
                },
            }
            for p in r.pools
        ],
        "summary": {
            "median_fused_f1": round(r.median_fused_f1, 6),
            "beat_share": round(r.beat_share, 6),
            "merge_precision": round(r.pairs.precision, 6),
            "merge_recall": round(r.pairs.recall, 6),
        },
    }


def print_replay(console: Console, r: Replay, max_pools: int = 20) -> None:
    tools = Table(
        title=Text(f"per tool: {len(r.dataset.prs)} pull requests, judge ") + shown(r.dataset.judge)
    )
    for col in ("tool", "P", "R", "F1"):
        tools.add_column(col, justify="left" if col == "tool" else "right")
    for name, s in r.tools.items():
        tools.add_row(shown(name), _pct(s.precision), _pct(s.recall), _pct(s.f1))
    console.print(tools)
    pools = Table(title="fused pools (product clustering, votes and policy)")
    for col in ("pool", "P", "R", "F1", "best member", "F1 ", "beats", "shown", "hints"):
        pools.add_column(col, justify="left" if col in ("pool", "best member") else "right")
    for p in r.pools[:max_pools]:
        pools.add_row(
            shown(", ".join(p.members)),
            _pct(p.fused.precision),
            _pct(p.fused.recall),
            _pct(p.fused.f1),
            shown(p.best_member),
            _pct(p.best_member_f1),
            "yes" if p.beats_best else "no",
            str(p.shown),
            str(p.minority),
        )
    if len(r.pools) > max_pools:
        pools.caption = f"first {max_pools} of {len(r.pools)} pools (--json lists all)"
    console.print(pools)
    if r.pools and len(r.pools[0].members) > 1:
        first = r.pools[0]
        members = Table(title="members of the first pool")
        for col in ("member", "findings", "corroborated %", "lone", "lone right %"):
            members.add_column(col, justify="left" if col == "member" else "right")
        for name, st in zip(first.members, first.member_stats, strict=True):
            members.add_row(
                shown(name),
                str(st.findings),
                _pct(st.corroborated_share),
                str(st.lone),
                _pct(st.lone_precision),
            )
        console.print(members)
    console.print(
        f"pools: {len(r.pools)}  median fused F1 {_pct(r.median_fused_f1)}  "
        f"beat their best member: {_pct(r.beat_share)}%"
    )
    pairs = r.pairs
    console.print(
        f"clustering: merge precision {_pct(pairs.precision)}%  merge recall "
        f"{_pct(pairs.recall)}%  (pairs of findings the judge matched to golden comments: "
        f"{pairs.merged_same} merged right, {pairs.merged_different} merged wrong, "
        f"{pairs.split_same} missed)"
    )


def _point(x: float, y: float, size: float, width: float, height: float) -> tuple[float, float]:
    return 50 + x * (width - 70), height - 40 - y * (height - 60) + 0 * size


def scatter_svg(r: Replay, width: int = 640, height: int = 480) -> str:
    """Precision (y) against recall (x): tools as grey dots, fused pools as coloured ones,
    each pool joined to its best member so the gain or loss reads at a glance."""
    out = [
        f'<svg id="pr-chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
        "<title>precision against recall: tools and fused pools</title>",
    ]
    x0, y0 = _point(0, 0, 0, width, height)
    x1, y1 = _point(1, 1, 0, width, height)
    out.append(f'<rect x="{x0}" y="{y1}" width="{x1 - x0}" height="{y0 - y1}" class="frame"/>')
    for tick in (0.2, 0.4, 0.6, 0.8):
        tx, ty = _point(tick, tick, 0, width, height)
        out.append(f'<line x1="{tx}" y1="{y0}" x2="{tx}" y2="{y1}" class="grid"/>')
        out.append(f'<line x1="{x0}" y1="{ty}" x2="{x1}" y2="{ty}" class="grid"/>')
        out.append(f'<text x="{tx}" y="{y0 + 16}" class="tick">{int(tick * 100)}</text>')
        out.append(f'<text x="{x0 - 28}" y="{ty + 4}" class="tick">{int(tick * 100)}</text>')
    out.append(f'<text x="{(x0 + x1) / 2}" y="{height - 6}" class="axis">recall %</text>')
    out.append(f'<text x="6" y="{y1 - 6}" class="axis">precision %</text>')
    tools: dict[str, Score] = r.tools
    for name, s in tools.items():
        cx, cy = _point(s.recall, s.precision, 0, width, height)
        out.append(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="5" class="tool" data-label="{escape(name)}" '
            f'data-f1="{s.f1:.4f}"><title>{escape(name)}: P {_pct(s.precision)} R '
            f"{_pct(s.recall)} F1 {_pct(s.f1)}</title></circle>"
        )
        out.append(f'<text x="{cx + 7:.1f}" y="{cy + 4:.1f}" class="lbl">{escape(name)}</text>')
    for n, p in enumerate(r.pools[:200]):
        cx, cy = _point(p.fused.recall, p.fused.precision, 0, width, height)
        best = tools[p.best_member]
        bx, by = _point(best.recall, best.precision, 0, width, height)
        cls = "win" if p.beats_best else "loss"
        label = escape(" + ".join(p.members))
        out.append(f'<line x1="{bx:.1f}" y1="{by:.1f}" x2="{cx:.1f}" y2="{cy:.1f}" class="{cls}"/>')
        out.append(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{7 if n == 0 else 4}" class="pool {cls}" '
            f'data-label="{label}" data-f1="{p.fused.f1:.4f}"><title>{label}: P '
            f"{_pct(p.fused.precision)} R {_pct(p.fused.recall)} F1 {_pct(p.fused.f1)} "
            f"(best member {escape(p.best_member)} {_pct(p.best_member_f1)})</title></circle>"
        )
    out.append("</svg>")
    return "\n".join(out)


def _f1_bars(p: PoolResult, tools: dict[str, Score]) -> str:
    rows = [("fused", p.fused.f1, "fused")] + [(m, tools[m].f1, "tool") for m in p.members]
    out = []
    for label, value, cls in rows:
        out.append(
            f'<div class="bar-row"><span class="name">{escape(label)}</span>'
            f'<span class="bar {cls}" style="width:{value * 400:.0f}px" '
            f'data-label="{escape(label)}" data-value="{value:.4f}"></span>'
            f"<span>{_pct(value)}</span></div>"
        )
    return "\n".join(out)


def replay_html(r: Replay) -> str:
    pairs = r.pairs
    first = r.pools[0] if r.pools else None
    bars = _f1_bars(first, r.tools) if first else "<p>no pools</p>"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>fuse-ls eval replay</title>
<style>
body {{ font: 14px system-ui, sans-serif; margin: 2em; color: #222; }}
.frame {{ fill: none; stroke: #999; }} .grid {{ stroke: #eee; }}
.tick, .lbl {{ font-size: 11px; fill: #555; }} .axis {{ font-size: 12px; fill: #333; }}
.tool {{ fill: #999; }} .pool.win {{ fill: #59a14f; }} .pool.loss {{ fill: #e15759; }}
line.win {{ stroke: #59a14f; stroke-opacity: .35; }} line.loss {{ stroke: #e15759;
 stroke-opacity: .35; }}
.bar-row {{ display: flex; gap: .6em; align-items: center; margin: 2px 0; }}
.name {{ width: 10em; }} .bar {{ height: 14px; display: inline-block; }}
.bar.fused {{ background: #59a14f; }} .bar.tool {{ background: #999; }}
</style></head><body>
<h1>Fused review against single reviewers</h1>
<p>{len(r.dataset.prs)} pull requests, {r.dataset.golden_total} golden comments, labels of
judge <code>{escape(r.dataset.judge)}</code>. {len(r.pools)} pool(s): median fused F1
<b>{_pct(r.median_fused_f1)}</b>, {_pct(r.beat_share)}% beat their best member.
Clustering merge precision {_pct(pairs.precision)}%, recall {_pct(pairs.recall)}%.</p>
<h2>First pool: F1 of the fused review and of each member</h2>
{bars}
<h2>Precision against recall</h2>
<p>Grey: single tools. Green: a fused pool that beats its best member, red: one that does
not; each pool is joined to its best member.</p>
{scatter_svg(r)}
</body></html>
"""
