"""`fuse-ls stats --html FILE`: one self-contained HTML file with inline SVG charts.

No scripts, fonts, stylesheets or images are loaded from anywhere: the report can be
mailed or archived and opened offline. Every bar carries `data-label` / `data-value`
attributes and a `<title>` tooltip, which is also what the tests check after parsing.
All text that comes from recorded data (workspace paths, model ids) is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from fuse_ls.core.counts import counted

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f")
ACTION_COLORS = {"review": "#4e79a7", "fix": "#59a14f", "explain": "#f28e2b"}
OUTCOME_COLORS = {
    "applied": "#59a14f",
    "dismissed": "#edc948",
    "abandoned": "#e15759",
    "no_decision": "#bab0ac",
}


def _fmt_usd(v: float) -> str:
    return f"${v:,.2f}" if v >= 1 else f"${v:.4f}"


def _fmt_pct(v: float | None) -> str:
    return "–" if v is None else f"{v * 100:.1f}%"


def _fmt_s(v: float | None) -> str:
    return "–" if v is None else f"{v:.2f} s"


def _num(v: float) -> str:
    return f"{v:.6g}"


def hbar_chart(
    chart_id: str,
    title: str,
    rows: Sequence[tuple[str, float, str]],
    *,
    maximum: float | None = None,
    color: str = PALETTE[0],
) -> str:
    """Horizontal bars: rows of (label, value, shown text)."""
    label_w, bar_w, row_h = 260, 360, 22
    height = row_h * max(len(rows), 1) + 30
    top = maximum if maximum is not None else max((v for _, v, _ in rows), default=0.0)
    out = [
        f'<svg class="chart" id="{chart_id}" role="img" width="{label_w + bar_w + 110}" '
        f'height="{height}" viewBox="0 0 {label_w + bar_w + 110} {height}" '
        'xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    if not rows:
        out.append('<text x="10" y="20" class="empty">no data</text>')
    for i, (label, value, shown) in enumerate(rows):
        y = 10 + i * row_h
        w = 0.0 if top <= 0 else max(value, 0.0) / top * bar_w
        out.append(
            f'<text x="{label_w - 8}" y="{y + 14}" text-anchor="end">{escape(label)}</text>'
            f'<rect class="bar" x="{label_w}" y="{y}" width="{w:.1f}" height="{row_h - 6}" '
            f'fill="{color}" data-label="{escape(label)}" data-value="{_num(value)}">'
            f"<title>{escape(label)}: {escape(shown)}</title></rect>"
            f'<text x="{label_w + w + 6:.1f}" y="{y + 14}">{escape(shown)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def grouped_hbar_chart(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None], str]],
    fmt: Any = _fmt_s,
) -> str:
    """Horizontal bars, one group per label, one bar per series (e.g. p50/p90/p99)."""
    label_w, bar_w, bar_h = 260, 360, 12
    group_h = bar_h * len(series) + 10
    height = group_h * max(len(labels), 1) + 40
    top = max((v or 0.0 for _, vals, _ in series for v in vals), default=0.0)
    width = label_w + bar_w + 110
    out = [
        f'<svg class="chart" id="{chart_id}" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for si, (name, _, color) in enumerate(series):
        out.append(
            f'<rect x="{label_w + si * 70}" y="2" width="10" height="10" fill="{color}"/>'
            f'<text x="{label_w + si * 70 + 14}" y="11" class="legend">{escape(name)}</text>'
        )
    for li, label in enumerate(labels):
        y0 = 24 + li * group_h
        out.append(
            f'<text x="{label_w - 8}" y="{y0 + group_h / 2:.0f}" text-anchor="end">'
            f"{escape(label)}</text>"
        )
        for si, (name, vals, color) in enumerate(series):
            v = vals[li]
            w = 0.0 if not top or v is None else v / top * bar_w
            y = y0 + si * bar_h
            out.append(
                f'<rect class="bar" x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h - 2}" '
                f'fill="{color}" data-label="{escape(label)} {escape(name)}" '
                f'data-value="{"" if v is None else _num(v)}">'
                f"<title>{escape(label)} {escape(name)}: {escape(fmt(v))}</title></rect>"
                f'<text x="{label_w + w + 4:.1f}" y="{y + bar_h - 3}" class="small">'
                f"{escape(fmt(v))}</text>"
            )
    out.append("</svg>")
    return "".join(out)


def stacked_vbar_chart(
    chart_id: str,
    title: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float], str]],
    fmt: Any = str,
) -> str:
    """Vertical stacked bars over `categories` (days); x labels thinned to stay legible."""
    n = max(len(categories), 1)
    plot_h, left, bottom = 200, 60, 50
    bar_slot = max(4.0, min(24.0, 900 / n))
    width = int(left + bar_slot * n + 20)
    height = plot_h + bottom + 30
    totals = [sum(vals[i] for _, vals, _ in series) for i in range(len(categories))]
    top = max(totals, default=0.0)
    out = [
        f'<svg class="chart" id="{chart_id}" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{left}" y1="{plot_h + 20}" x2="{width - 10}" y2="{plot_h + 20}" '
        'stroke="#999"/>',
        f'<text x="{left - 6}" y="28" text-anchor="end" class="small">{escape(fmt(top))}</text>',
    ]
    for si, (name, _, color) in enumerate(series):
        out.append(
            f'<rect x="{left + si * 90}" y="2" width="10" height="10" fill="{color}"/>'
            f'<text x="{left + si * 90 + 14}" y="11" class="legend">{escape(name)}</text>'
        )
    step = max(1, round(n / 12))
    for i, cat in enumerate(categories):
        x = left + i * bar_slot
        y = plot_h + 20.0
        for name, vals, color in series:
            v = vals[i]
            if v <= 0 or top <= 0:
                continue
            h = v / top * plot_h
            y -= h
            out.append(
                f'<rect class="bar" x="{x + 1:.1f}" y="{y:.1f}" width="{bar_slot - 2:.1f}" '
                f'height="{h:.1f}" fill="{color}" data-label="{escape(cat)} {escape(name)}" '
                f'data-value="{_num(v)}"><title>{escape(cat)} {escape(name)}: '
                f"{escape(fmt(v))}</title></rect>"
            )
        if i % step == 0:
            out.append(
                f'<text x="{x + bar_slot / 2:.1f}" y="{plot_h + 34}" class="small" '
                f'text-anchor="end" transform="rotate(-45 {x + bar_slot / 2:.1f} '
                f'{plot_h + 34})">{escape(cat)}</text>'
            )
    out.append("</svg>")
    return "".join(out)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], table_id: str) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


CSS = """
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222}
h1{font-size:22px}h2{font-size:17px;margin-top:32px;border-bottom:1px solid #ddd}
.kpis{display:flex;gap:16px;flex-wrap:wrap}.kpi{border:1px solid #ddd;border-radius:6px;
padding:8px 14px}.kpi b{display:block;font-size:20px}
svg.chart{display:block;margin:8px 0;font-size:12px}svg text{fill:#333}
svg .small{font-size:10px}svg .legend{font-size:11px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;
text-align:right}td:first-child,th:first-child{text-align:left}
.note{color:#666;font-size:12px}
"""


def render_html(stats: dict[str, Any]) -> str:
    t = stats["totals"]
    models = stats["models"]
    daily = stats["daily"]
    days = [d["date"] for d in daily]
    sections: list[str] = []

    kpis = [
        ("sessions", str(t["sessions"])),
        ("actions", str(t["actions"])),
        ("cost", _fmt_usd(t["costUsd"])),
        ("input tokens", f"{t['inputTokens']:,}"),
        ("output tokens", f"{t['outputTokens']:,}"),
        ("failed model calls", str(t["modelFailures"])),
    ]
    sections.append(
        '<div class="kpis" id="kpis">'
        + "".join(
            f'<div class="kpi" data-kpi="{escape(k)}"><b>{escape(v)}</b>{escape(k)}</div>'
            for k, v in kpis
        )
        + "</div>"
    )

    action_types = sorted({a for d in daily for a in d["byAction"]})
    sections.append("<h2>Sessions and actions over time</h2>")
    sections.append(
        stacked_vbar_chart(
            "chart-actions",
            "Actions per day",
            days,
            [
                (
                    a,
                    [float(d["byAction"].get(a, 0)) for d in daily],
                    ACTION_COLORS.get(a, PALETTE[i % len(PALETTE)]),
                )
                for i, a in enumerate(action_types)
            ],
            fmt=lambda v: f"{v:.0f}",
        )
    )
    sections.append(
        stacked_vbar_chart(
            "chart-sessions",
            "Sessions per day",
            days,
            [("sessions", [float(d["sessions"]) for d in daily], PALETTE[4])],
            fmt=lambda v: f"{v:.0f}",
        )
    )

    model_ids = [m["model"] for m in models]
    sections.append("<h2>Tokens and cost</h2>")
    sections.append(
        stacked_vbar_chart(
            "chart-cost-daily",
            "Cost per day by model",
            days,
            [
                (
                    mid,
                    [d["models"].get(mid, {}).get("costUsd", 0.0) for d in daily],
                    PALETTE[i % len(PALETTE)],
                )
                for i, mid in enumerate(model_ids)
            ],
            fmt=_fmt_usd,
        )
    )
    sections.append(
        hbar_chart(
            "chart-cost-model",
            "Cost per model",
            [(m["model"], m["costUsd"], _fmt_usd(m["costUsd"])) for m in models],
            color=PALETTE[1],
        )
    )
    sections.append(
        _table(
            ["model", "calls", "input", "output", "cache read", "cache write", "cost"],
            [
                [
                    m["model"],
                    str(m["calls"]),
                    f"{m['inputTokens']:,}",
                    f"{m['outputTokens']:,}",
                    f"{m['cacheReadTokens']:,}",
                    f"{m['cacheWriteTokens']:,}",
                    _fmt_usd(m["costUsd"]),
                ]
                for m in models
            ],
            "table-models",
        )
    )
    sections.append(
        hbar_chart(
            "chart-cost-workspace",
            "Cost per workspace",
            [(w["workspace"], w["costUsd"], _fmt_usd(w["costUsd"])) for w in stats["workspaces"]],
            color=PALETTE[6],
        )
    )
    sections.append(
        _table(
            ["workspace", "sessions", "actions", "input", "output", "cost"],
            [
                [
                    w["workspace"],
                    str(w["sessions"]),
                    str(w["actions"]),
                    f"{w['inputTokens']:,}",
                    f"{w['outputTokens']:,}",
                    _fmt_usd(w["costUsd"]),
                ]
                for w in stats["workspaces"]
            ],
            "table-workspaces",
        )
    )
    sections.append(
        _table(
            ["day", "sessions", "actions", "input", "output", "cost"],
            [
                [
                    d["date"],
                    str(d["sessions"]),
                    str(d["actions"]),
                    f"{d['inputTokens']:,}",
                    f"{d['outputTokens']:,}",
                    _fmt_usd(d["costUsd"]),
                ]
                for d in reversed(daily)
            ],
            "table-daily",
        )
    )

    sections.append("<h2>Latency and reliability</h2>")
    sections.append(
        grouped_hbar_chart(
            "chart-latency",
            "Latency percentiles per model",
            model_ids,
            [
                (p, [m["latencyS"][p] for m in models], c)
                for p, c in (("p50", PALETTE[0]), ("p90", PALETTE[1]), ("p99", PALETTE[3]))
            ],
        )
    )
    sections.append(
        hbar_chart(
            "chart-failures",
            "Failure rate per model",
            [
                (
                    m["model"],
                    m["failureRate"] or 0.0,
                    f"{_fmt_pct(m['failureRate'])} of {m['answered'] + m['failures']}",
                )
                for m in models
            ],
            maximum=max([m["failureRate"] or 0.0 for m in models] + [0.01]),
            color=PALETTE[3],
        )
    )
    sections.append("<h2>Best-of win rate</h2>")
    sections.append(
        hbar_chart(
            "chart-winrate",
            "Best-of win rate per model",
            [
                (
                    m["model"],
                    m["bestOf"]["winRate"] or 0.0,
                    f"{_fmt_pct(m['bestOf']['winRate'])} of {m['bestOf']['fusions']}",
                )
                for m in models
                if m["bestOf"]["fusions"]
            ],
            maximum=1.0,
            color=PALETTE[2],
        )
    )

    acc = stats["acceptance"]
    sections.append("<h2>Finding acceptance by vote count</h2>")
    rows = [
        (r["label"], r["acceptanceRate"] or 0.0, f"{_fmt_pct(r['acceptanceRate'])} of {r['shown']}")
        for r in acc["byVotes"]
    ]
    if acc["fixes"]["shown"]:
        fx = acc["fixes"]
        rows.append(
            (
                "fixes",
                fx["acceptanceRate"] or 0.0,
                f"{_fmt_pct(fx['acceptanceRate'])} of {fx['shown']}",
            )
        )
    sections.append(
        hbar_chart("chart-acceptance", "Acceptance rate", rows, maximum=1.0, color=PALETTE[2])
    )

    ab = stats["abandonment"]
    ee = stats["earlyErrors"]
    sections.append("<h2>Abandonment and early errors</h2>")
    sections.append(
        f'<p id="abandonment">Left within {ab["windowS"]:.0f} s of starting a review or fix '
        f"without a decision: <b>{_fmt_pct(ab['actionRate'])}</b> of "
        f"{counted(ab['actions'], 'action')}; <b>{_fmt_pct(ab['sessionRate'])}</b> of "
        f"{counted(ab['sessions'], 'editor session')} ended that way.</p>"
    )
    groups = [("with early errors", ee["withEarlyErrors"]), ("without", ee["withoutEarlyErrors"])]
    sections.append(
        grouped_hbar_chart(
            "chart-early-errors",
            f"How sessions ended, by errors in the first {ee['windowS']:.0f} s",
            [f"{label} (n={g['sessions']})" for label, g in groups],
            [
                (o.replace("_", " "), [g["rates"][o] for _, g in groups], OUTCOME_COLORS[o])
                for o in OUTCOME_COLORS
            ],
            fmt=_fmt_pct,
        )
    )

    generated = escape(str(stats.get("generatedAt", "")))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        "<title>fuse-ls stats</title>"
        f"<style>{CSS}</style></head><body>"
        f'<h1>fuse-ls stats</h1><p class="note">Generated {generated} from '
        f"{escape(str(stats.get('dataDir', '')))}; range {escape(str(stats['range']['first']))}"
        f" to {escape(str(stats['range']['last']))}.</p>" + "\n".join(sections) + "</body></html>\n"
    )
