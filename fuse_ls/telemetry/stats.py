"""`fuse-ls stats`: the local dashboard over recorded sessions.

Reading is built for corpora of 10,000+ sessions: each line's `fuseLs` object (always
the last key, see transcript.py) is decoded on its own with `raw_decode`, so the bulk of
a line (message content, usage blocks) is never parsed. A line whose `fuseLs` object is
not followed by exactly the closing brace is torn or foreign and is skipped.

Definitions (also in docs/telemetry.md):

- *session*: a logical session; rotated files sharing a `rootSessionId` count once.
- *failure rate* of a model: failed calls / (answered + failed); cancelled and skipped
  calls (quorum reached, deadline) are not failures.
- *best-of win rate*: in best-of fusions, wins / fusions in which the model answered.
- *acceptance by vote count*: review findings grouped by `votes/pool size`; a finding is
  applied, dismissed or left (an explicit "left", or no decision at all); rate =
  applied / shown.
- *abandonment*: a review or fix in a server session whose session ended within 60 s of
  the action starting, with no decision on that fusion. Explain has nothing to decide
  and a CLI run has no editor to decide in, so neither can be abandoned.
- *early errors*: failed model calls and failed fusions in the first 120 s of a session;
  sessions are split by whether they had any, and compared by how they ended: applied
  (something applied), dismissed (decisions, none applied), abandoned, no decision.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from fuse_ls.config import TelemetrySettings
from fuse_ls.telemetry import store

ABANDON_WINDOW_S: Final = 60.0
EARLY_WINDOW_S: Final = 120.0
OUTCOMES: Final = ("applied", "dismissed", "abandoned", "no_decision")

_decoder = json.JSONDecoder()
_MARK: Final = '"fuseLs":'
_TS_KEY: Final = '"timestamp":"'


class _Part:
    """What one session file contributes (rotated parts are merged by root id)."""

    __slots__ = (
        "actions",
        "calls",
        "decisions",
        "end",
        "errors",
        "failed_fusions",
        "finished",
        "root",
        "source",
        "start",
        "workspace",
    )

    def __init__(self, root: str) -> None:
        self.root = root
        self.workspace = ""
        self.source = ""
        self.start = math.inf
        self.end = -math.inf
        # (ts, fusion id, action)
        self.actions: list[tuple[float, str, str]] = []
        # (ts, fusion id, model, role, status, latency, cost, in, out, cache read, cache write)
        self.calls: list[
            tuple[float, str, str, str, str, float | None, float, int, int, int, int]
        ] = []
        # fusion id -> (action, mode, winner, [(finding id, votes, pool size)], has answer)
        self.finished: dict[str, tuple[str, str, str | None, list[tuple[str, int, int]], bool]] = {}
        # (ts, fusion id, item id, decision, kind, votes, pool size)
        self.decisions: list[tuple[float, str, str, str, str, int | None, int | None]] = []
        self.errors: list[float] = []
        self.failed_fusions = 0


_minute_cache: dict[str, float] = {}


def _parse_ts(value: str) -> float:
    """Epoch seconds of `2025-06-01T12:34:56.789Z`; minutes are cached because a corpus
    has far fewer distinct minutes than lines, and datetime parsing dominates otherwise."""
    if len(value) == 24 and value[19] == "." and value[23] == "Z":
        base = _minute_cache.get(value[:16])
        if base is None:
            base = datetime.fromisoformat(value[:16] + ":00+00:00").timestamp()
            if len(_minute_cache) < 500_000:
                _minute_cache[value[:16]] = base
        return base + float(value[17:23])
    return datetime.fromisoformat(value).timestamp()


def _facts_of_line(line: str) -> tuple[str, str] | None:
    """(timestamp text, the `fuseLs` object's JSON text) of one line, or None."""
    if not line.endswith("}"):
        return None
    i = line.rfind(_MARK)
    if i < 0:
        return None
    k = line.rfind(_TS_KEY, 0, i)
    if k < 0:
        return None
    k += len(_TS_KEY)
    q = line.find('"', k)
    if q < 0 or q > i:
        return None
    return line[k:q], line[i + len(_MARK) : -1]


def _decode_lines(lines: list[str]) -> list[tuple[str, Any]]:
    """Decode the `fuseLs` objects of many lines with one `json.loads` call.

    Joining the fragments into one JSON array and parsing it once is about twice as fast
    as a `raw_decode` per line. When any line is torn or foreign the array does not parse
    (or has the wrong length) and we fall back to validating line by line.
    """
    pieces = [p for p in map(_facts_of_line, lines) if p is not None]
    if not pieces:
        return []
    try:
        decoded = json.loads("[" + ",".join(f'["{ts}",{facts}]' for ts, facts in pieces) + "]")
        if len(decoded) == len(pieces) and all(
            isinstance(d, list) and len(d) == 2 and isinstance(d[1], dict) for d in decoded
        ):
            return [(d[0], d[1]) for d in decoded]
    except ValueError:
        pass
    out: list[tuple[str, Any]] = []
    for line in lines:
        i = line.rfind(_MARK)
        if i < 0:
            continue
        try:
            facts, j = _decoder.raw_decode(line, i + len(_MARK))
        except ValueError:
            continue
        piece = _facts_of_line(line)
        if line[j:] != "}" or not isinstance(facts, dict) or piece is None:
            continue  # torn, or not one of our lines
        out.append((piece[0], facts))
    return out


def scan_file(path: Path) -> _Part | None:
    """Extract the facts of one session file; None when it has no usable line."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    cut = data.rfind(b"\n")
    if cut < 0:
        return None
    part = _Part(path.stem)
    seen = False
    for ts_text, facts in _decode_lines(data[:cut].decode("utf-8", "replace").split("\n")):
        try:
            ts = _parse_ts(ts_text)
        except ValueError:
            continue
        seen = True
        if ts < part.start:
            part.start = ts
        if ts > part.end:
            part.end = ts
        _apply(part, facts, ts)
    return part if seen else None


def _apply(part: _Part, f: dict[str, Any], ts: float) -> None:
    event = f.get("event")
    if event == "model_answer" or event == "model_failed":
        usage = f.get("usage") or {}
        status = f.get("status", "ok")
        part.calls.append(
            (
                ts,
                f.get("fusionId", ""),
                f.get("model", "?"),
                f.get("role", "pool"),
                status,
                f.get("latencyS"),
                f.get("costUsd") or 0.0,
                usage.get("in", 0),
                usage.get("out", 0),
                usage.get("cacheRead", 0),
                usage.get("cacheWrite", 0),
            )
        )
        if status == "error":
            part.errors.append(ts)
    elif event == "action":
        part.actions.append((ts, f.get("fusionId", ""), f.get("action", "unknown")))
    elif event == "fusion_finished":
        findings = [
            (x.get("id", ""), x.get("votes", 0), x.get("poolSize", 0))
            for x in f.get("findings", ())
        ]
        part.finished[f.get("fusionId", "")] = (
            f.get("action", "unknown"),
            f.get("mode", "?"),
            f.get("winner"),
            findings,
            bool(f.get("hasAnswer")),
        )
    elif event == "decision":
        part.decisions.append(
            (
                ts,
                f.get("fusionId", ""),
                f.get("itemId", ""),
                f.get("decision", "left"),
                f.get("kind", "finding"),
                f.get("votes"),
                f.get("poolSize"),
            )
        )
    elif event == "fusion_failed":
        if not f.get("cancelled"):
            part.errors.append(ts)
            part.failed_fusions += 1
    elif event == "session_start":
        part.root = f.get("rootSessionId", part.root)
        part.workspace = f.get("workspace", "")
        part.source = f.get("source", "")


def load_sessions(
    root: Path, *, since_days: float | None = None, now: float | None = None
) -> list[_Part]:
    """Every logical session under `root` (rotated parts merged), optionally only those
    that started within the last `since_days` days."""
    now = time.time() if now is None else now
    cutoff = now - since_days * 86400 if since_days is not None else None
    merged: dict[str, _Part] = {}
    for path in store.list_session_files(root):
        if cutoff is not None:
            # A file last written before the cutoff cannot hold a session that started
            # after it: skip it without reading (the common case for --since).
            try:
                if path.stat().st_mtime < cutoff:
                    continue
            except OSError:
                continue
        part = scan_file(path)
        if part is None:
            continue
        if not part.workspace:
            part.workspace = path.parent.name
        prev = merged.get(part.root)
        if prev is None:
            merged[part.root] = part
        else:
            _merge(prev, part)
    sessions = list(merged.values())
    if cutoff is not None:
        sessions = [s for s in sessions if s.start >= cutoff]
    return sessions


def _merge(into: _Part, other: _Part) -> None:
    into.start = min(into.start, other.start)
    into.end = max(into.end, other.end)
    into.workspace = into.workspace or other.workspace
    into.source = into.source or other.source
    into.actions.extend(other.actions)
    into.calls.extend(other.calls)
    into.finished.update(other.finished)
    into.decisions.extend(other.decisions)
    into.errors.extend(other.errors)
    into.failed_fusions += other.failed_fusions


# --- aggregation ----------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile of an ascending sequence (None when empty)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d")


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


class _Tokens:
    __slots__ = ("cache_read", "cache_write", "cost", "inp", "out")

    def __init__(self) -> None:
        self.inp = self.out = self.cache_read = self.cache_write = 0
        self.cost = 0.0

    def add(self, cost: float, inp: int, out: int, cr: int, cw: int) -> None:
        self.cost += cost
        self.inp += inp
        self.out += out
        self.cache_read += cr
        self.cache_write += cw

    def as_dict(self) -> dict[str, Any]:
        return {
            "inputTokens": self.inp,
            "outputTokens": self.out,
            "cacheReadTokens": self.cache_read,
            "cacheWriteTokens": self.cache_write,
            "costUsd": round(self.cost, 6),
        }


def compute_stats(sessions: Iterable[_Part]) -> dict[str, Any]:
    sessions = list(sessions)
    day_cache: dict[int, str] = {}

    def day(ts: float) -> str:
        key = int(ts // 86400)
        d = day_cache.get(key)
        if d is None:
            d = day_cache[key] = _day(ts)
        return d

    daily: dict[str, dict[str, Any]] = defaultdict(
        lambda: {
            "sessions": 0,
            "actions": 0,
            "byAction": defaultdict(int),
            "tokens": _Tokens(),
            "models": defaultdict(_Tokens),
        }
    )
    workspaces: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"sessions": 0, "actions": 0, "tokens": _Tokens(), "models": defaultdict(_Tokens)}
    )
    models: dict[str, dict[str, Any]] = defaultdict(
        lambda: {
            "ok": 0,
            "failed": 0,
            "cancelled": 0,
            "judge": 0,
            "lat": [],
            "tokens": _Tokens(),
            "bestOf": 0,
            "wins": 0,
        }
    )
    totals = _Tokens()
    actions_by_type: dict[str, int] = defaultdict(int)
    by_source: dict[str, int] = defaultdict(int)
    n_actions = n_finished = n_failed_fusions = 0
    # acceptance: (votes, pool) -> [shown, applied, dismissed, left]
    accept: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    fixes = [0, 0, 0, 0]
    abandon_actions = abandoned_actions = 0
    abandon_sessions = abandoned_sessions = 0
    early: dict[bool, dict[str, int]] = {
        True: dict.fromkeys(OUTCOMES, 0),
        False: dict.fromkeys(OUTCOMES, 0),
    }
    first_ts = math.inf
    last_ts = -math.inf

    for s in sessions:
        first_ts = min(first_ts, s.start)
        last_ts = max(last_ts, s.end)
        by_source[s.source or "unknown"] += 1
        sd = daily[day(s.start)]
        sd["sessions"] += 1
        ws = workspaces[s.workspace]
        ws["sessions"] += 1
        for ts, _fid, action in s.actions:
            dd = daily[day(ts)]
            dd["actions"] += 1
            dd["byAction"][action] += 1
            ws["actions"] += 1
            actions_by_type[action] += 1
        n_actions += len(s.actions)

        ok_models: dict[str, set[str]] = defaultdict(set)
        for ts, fid, model, role, status, lat, cost, inp, out, cr, cw in s.calls:
            m = models[model]
            if status == "ok":
                m["ok"] += 1
                if lat is not None:
                    m["lat"].append(lat)
                if role == "pool":
                    ok_models[fid].add(model)
            elif status == "error":
                m["failed"] += 1
            else:
                m["cancelled"] += 1
            if role == "judge":
                m["judge"] += 1
            m["tokens"].add(cost, inp, out, cr, cw)
            totals.add(cost, inp, out, cr, cw)
            dd = daily[day(ts)]
            dd["tokens"].add(cost, inp, out, cr, cw)
            dd["models"][model].add(cost, inp, out, cr, cw)
            ws["tokens"].add(cost, inp, out, cr, cw)
            ws["models"][model].add(cost, inp, out, cr, cw)

        # decisions: (fusion, item) -> final decision; "applied" wins over later changes
        final: dict[tuple[str, str], str] = {}
        decided_fusions: set[str] = set()
        fix_items: dict[str, set[str]] = defaultdict(set)
        extra_votes: dict[tuple[str, str], tuple[int | None, int | None]] = {}
        for _ts, fid, item, decision, kind, votes, pool in sorted(s.decisions):
            key = (fid, item)
            if final.get(key) != "applied":
                final[key] = decision
            decided_fusions.add(fid)
            if kind == "fix":
                fix_items[fid].add(item)
            else:
                extra_votes[key] = (votes, pool)

        applied_any = any(d == "applied" for d in final.values())
        for fid, (action, mode, winner, findings, has_answer) in s.finished.items():
            n_finished += 1
            if mode == "best-of":
                for model in ok_models.get(fid, ()):
                    models[model]["bestOf"] += 1
                    if model == winner:
                        models[model]["wins"] += 1
            for fnd_id, votes, pool in findings:
                bucket = accept[(votes, pool)]
                bucket[0] += 1
                decision = final.get((fid, fnd_id), "left")
                bucket[_OUTCOME_COL[decision]] += 1
                extra_votes.pop((fid, fnd_id), None)
            if action == "fix" and has_answer:
                items = fix_items.get(fid) or {fid}
                for item in items:
                    fixes[0] += 1
                    fixes[_OUTCOME_COL[final.get((fid, item), "left")]] += 1
        # Decisions on findings whose fusion_finished line is missing (a crash, a
        # provisional finding) still count when the decision carries the vote count.
        for key, (votes, pool) in extra_votes.items():
            if votes is not None and pool is not None:
                bucket = accept[(votes, pool)]
                bucket[0] += 1
                bucket[_OUTCOME_COL[final[key]]] += 1

        # abandonment
        last_decidable_abandoned = False
        has_decidable = False
        if s.source == "server":
            for ts, fid, action in sorted(s.actions):
                if action not in ("review", "fix"):
                    continue
                has_decidable = True
                abandon_actions += 1
                gone = s.end - ts <= ABANDON_WINDOW_S and fid not in decided_fusions
                if gone:
                    abandoned_actions += 1
                last_decidable_abandoned = gone
            if has_decidable:
                abandon_sessions += 1
                if last_decidable_abandoned:
                    abandoned_sessions += 1

        n_failed_fusions += s.failed_fusions
        if s.actions:
            had_early = any(ts - s.start <= EARLY_WINDOW_S for ts in s.errors)
            if applied_any:
                outcome = "applied"
            elif final:
                outcome = "dismissed"
            elif last_decidable_abandoned:
                outcome = "abandoned"
            else:
                outcome = "no_decision"
            early[had_early][outcome] += 1

    model_rows = []
    for model, m in sorted(models.items(), key=lambda kv: -kv[1]["tokens"].cost):
        lats = sorted(m["lat"])
        attempts = m["ok"] + m["failed"]
        model_rows.append(
            {
                "model": model,
                "calls": attempts + m["cancelled"],
                "answered": m["ok"],
                "failures": m["failed"],
                "cancelled": m["cancelled"],
                "judgeCalls": m["judge"],
                "failureRate": _rate(m["failed"], attempts),
                "latencyS": {
                    "p50": percentile(lats, 50),
                    "p90": percentile(lats, 90),
                    "p99": percentile(lats, 99),
                    "mean": round(sum(lats) / len(lats), 3) if lats else None,
                },
                **m["tokens"].as_dict(),
                "bestOf": {
                    "fusions": m["bestOf"],
                    "wins": m["wins"],
                    "winRate": _rate(m["wins"], m["bestOf"]),
                },
            }
        )

    def outcome_block(counts: dict[str, int]) -> dict[str, Any]:
        n = sum(counts.values())
        return {
            "sessions": n,
            "outcomes": dict(counts),
            "rates": {k: _rate(v, n) for k, v in counts.items()},
        }

    return {
        "generatedAt": datetime.now(tz=UTC).isoformat(timespec="seconds"),
        "range": {
            "first": _day(first_ts) if sessions else None,
            "last": _day(last_ts) if sessions else None,
        },
        "totals": {
            "sessions": len(sessions),
            "sessionsBySource": dict(by_source),
            "actions": n_actions,
            "actionsByType": dict(actions_by_type),
            "fusionsFinished": n_finished,
            "fusionsFailed": n_failed_fusions,
            "modelCalls": sum(r["calls"] for r in model_rows),
            "modelFailures": sum(r["failures"] for r in model_rows),
            **totals.as_dict(),
        },
        "daily": [
            {
                "date": d,
                "sessions": v["sessions"],
                "actions": v["actions"],
                "byAction": dict(v["byAction"]),
                **v["tokens"].as_dict(),
                "models": {k: t.as_dict() for k, t in sorted(v["models"].items())},
            }
            for d, v in sorted(daily.items())
        ],
        "models": model_rows,
        "workspaces": [
            {
                "workspace": w,
                "sessions": v["sessions"],
                "actions": v["actions"],
                **v["tokens"].as_dict(),
                "models": {k: t.as_dict() for k, t in sorted(v["models"].items())},
            }
            for w, v in sorted(workspaces.items(), key=lambda kv: -kv[1]["tokens"].cost)
        ],
        "acceptance": {
            "byVotes": [
                {
                    "votes": votes,
                    "poolSize": pool,
                    "label": f"{votes}/{pool}",
                    "shown": c[0],
                    "applied": c[1],
                    "dismissed": c[2],
                    "left": c[3],
                    "acceptanceRate": _rate(c[1], c[0]),
                }
                for (votes, pool), c in sorted(accept.items(), key=lambda kv: (kv[0][1], kv[0][0]))
            ],
            "byVoteCount": _by_vote_count(accept),
            "fixes": {
                "shown": fixes[0],
                "applied": fixes[1],
                "dismissed": fixes[2],
                "left": fixes[3],
                "acceptanceRate": _rate(fixes[1], fixes[0]),
            },
        },
        "abandonment": {
            "windowS": ABANDON_WINDOW_S,
            "actions": abandon_actions,
            "abandonedActions": abandoned_actions,
            "actionRate": _rate(abandoned_actions, abandon_actions),
            "sessions": abandon_sessions,
            "abandonedSessions": abandoned_sessions,
            "sessionRate": _rate(abandoned_sessions, abandon_sessions),
        },
        "earlyErrors": {
            "windowS": EARLY_WINDOW_S,
            "withEarlyErrors": outcome_block(early[True]),
            "withoutEarlyErrors": outcome_block(early[False]),
        },
    }


_OUTCOME_COL: Final = {"applied": 1, "dismissed": 2, "left": 3}


def _by_vote_count(accept: dict[tuple[int, int], list[int]]) -> list[dict[str, Any]]:
    """Acceptance by the number of votes alone, pooling pool sizes (1 vote of 2 or of 3)."""
    merged: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for (votes, _pool), c in accept.items():
        m = merged[votes]
        for i in range(4):
            m[i] += c[i]
    return [
        {"votes": v, "shown": c[0], "applied": c[1], "acceptanceRate": _rate(c[1], c[0])}
        for v, c in sorted(merged.items())
    ]


# --- CLI ------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fuse-ls stats",
        description="Local dashboard over the recorded fuse-ls sessions (nothing is sent).",
    )
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.add_argument("--html", metavar="FILE", help="write a self-contained HTML report")
    p.add_argument(
        "--since", metavar="DAYS", type=float, help="only sessions of the last DAYS days"
    )
    p.add_argument(
        "--data-dir", metavar="DIR", help="telemetry folder (default: platform data dir)"
    )
    return p


def stats_main(argv: list[str], settings: TelemetrySettings | None = None) -> int:
    """`fuse-ls stats [--json] [--html FILE] [--since DAYS] [--data-dir DIR]`.

    `settings` (the loaded telemetry settings) supplies `data_dir` when `--data-dir` is
    not given; without either, FUSE_LS_DATA_DIR, then the platform data dir.
    """
    args = build_parser().parse_args(argv)
    if args.since is not None and args.since <= 0:
        print("fuse-ls stats: --since needs a positive number of days", file=sys.stderr)
        return 2
    root = store.data_dir(settings or _configured(args.data_dir), override=args.data_dir)
    started = time.perf_counter()
    sessions = load_sessions(root, since_days=args.since)
    stats = compute_stats(sessions)
    stats["dataDir"] = str(root)
    stats["since"] = args.since
    stats["elapsedS"] = round(time.perf_counter() - started, 3)
    if args.html:
        from fuse_ls.telemetry.html import render_html

        out = Path(args.html).expanduser()
        try:
            out.write_text(render_html(stats), encoding="utf-8")
        except OSError as e:
            print(f"fuse-ls stats: cannot write {out}: {e.strerror or e}", file=sys.stderr)
            return 1
        if not args.json:
            print(f"Wrote {out} ({stats['totals']['sessions']} sessions).", file=sys.stderr)
    try:
        if args.json:
            json.dump(stats, sys.stdout, indent=2)
            sys.stdout.write("\n")
            sys.stdout.flush()
        elif not args.html:
            from fuse_ls.telemetry.report import print_report

            print_report(stats)
    except BrokenPipeError:
        # `fuse-ls stats --json | head`: the reader left; that is not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return 0


def _configured(data_dir: str | None) -> TelemetrySettings | None:
    """The telemetry settings from the config files (for `telemetry.data_dir`), when the
    caller passed none and no --data-dir overrides them."""
    if data_dir:
        return None
    try:
        from fuse_ls.config import load_settings

        return load_settings(Path.cwd()).settings.telemetry
    except Exception:  # a broken config must not stop the dashboard; defaults apply
        return None
