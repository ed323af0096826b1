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
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from fuse_ls.config import TelemetrySettings
from fuse_ls.core.arguments import positive_number
from fuse_ls.core.ci_log import ci_safe_json
from fuse_ls.core.counts import counted
from fuse_ls.telemetry import store
from fuse_ls.telemetry.aggregate import SessionFacts, compute_stats, percentile

__all__ = ["SessionFacts", "compute_stats", "load_sessions", "percentile", "stats_main"]

_decoder = json.JSONDecoder()
_MARK: Final = '"fuseLs":'
_TS_KEY: Final = '"timestamp":"'


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


def scan_file(path: Path) -> SessionFacts | None:
    """Extract the facts of one session file; None when it has no usable line."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    cut = data.rfind(b"\n")
    if cut < 0:
        return None
    part = SessionFacts(path.stem)
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


def _apply(part: SessionFacts, f: dict[str, Any], ts: float) -> None:
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
) -> list[SessionFacts]:
    """Every logical session under `root` (rotated parts merged), optionally only those
    that started within the last `since_days` days."""
    now = time.time() if now is None else now
    cutoff = now - since_days * 86400 if since_days is not None else None
    merged: dict[str, SessionFacts] = {}
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
            prev.merge(part)
    sessions = list(merged.values())
    if cutoff is not None:
        sessions = [s for s in sessions if s.start >= cutoff]
    return sessions


# --- CLI ------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="fuse-ls stats",
        description="Local dashboard over the recorded fuse-ls sessions (nothing is sent).",
    )
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.add_argument("--html", metavar="FILE", help="write a self-contained HTML report")
    p.add_argument(
        "--since",
        metavar="DAYS",
        type=positive_number("days"),
        help="only sessions of the last DAYS days",
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
            n = stats["totals"]["sessions"]
            print(f"Wrote {out} ({counted(n, 'session')}).", file=sys.stderr)
    try:
        if args.json:
            sys.stdout.write(ci_safe_json(stats, indent=2))
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
