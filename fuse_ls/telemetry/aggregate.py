"""The numbers of `fuse-ls stats`, aggregated from the facts of each session.

`SessionFacts` is what reading one session yields (stats.py); `compute_stats` folds any
number of them into the report. Each metric has its own small step in `_Aggregate`
(activity, calls, decisions, acceptance, abandonment, early errors) and its own block in
the report; the definitions are in stats.py's docstring and in docs/telemetry.md.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from attrs import define, field

ABANDON_WINDOW_S: Final = 60.0
EARLY_WINDOW_S: Final = 120.0
OUTCOMES: Final = ("applied", "dismissed", "abandoned", "no_decision")
_OUTCOME_COL: Final = {"applied": 1, "dismissed": 2, "left": 3}

# (ts, fusion id, model, role, status, latency, cost, in, out, cache read, cache write)
Call = tuple[float, str, str, str, str, float | None, float, int, int, int, int]
# action, mode, winner, [(finding id, votes, pool size)], has answer
Finished = tuple[str, str, str | None, list[tuple[str, int, int]], bool]
# (ts, fusion id, item id, decision, kind, votes, pool size)
DecisionFact = tuple[float, str, str, str, str, int | None, int | None]


class SessionFacts:
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
        self.actions: list[tuple[float, str, str]] = []  # (ts, fusion id, action)
        self.calls: list[Call] = []
        self.finished: dict[str, Finished] = {}
        self.decisions: list[DecisionFact] = []
        self.errors: list[float] = []
        self.failed_fusions = 0

    def merge(self, other: SessionFacts) -> None:
        self.start = min(self.start, other.start)
        self.end = max(self.end, other.end)
        self.workspace = self.workspace or other.workspace
        self.source = self.source or other.source
        self.actions.extend(other.actions)
        self.calls.extend(other.calls)
        self.finished.update(other.finished)
        self.decisions.extend(other.decisions)
        self.errors.extend(other.errors)
        self.failed_fusions += other.failed_fusions


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


@define
class _Slice:
    """Activity and tokens of one day or one workspace."""

    sessions: int = 0
    actions: int = 0
    by_action: dict[str, int] = field(factory=lambda: defaultdict(int))
    tokens: _Tokens = field(factory=_Tokens)
    models: dict[str, _Tokens] = field(factory=lambda: defaultdict(_Tokens))

    def tokens_by_model(self) -> dict[str, Any]:
        return {k: t.as_dict() for k, t in sorted(self.models.items())}


@define
class _Model:
    ok: int = 0
    failed: int = 0
    cancelled: int = 0
    judge: int = 0
    latencies: list[float] = field(factory=list)
    tokens: _Tokens = field(factory=_Tokens)
    best_of: int = 0
    wins: int = 0


@define
class _Decisions:
    """A session's decisions: the final one per item ("applied" wins over later ones)."""

    final: dict[tuple[str, str], str]
    decided_fusions: set[str]
    fix_items: dict[str, set[str]]
    # findings decided without their fusion_finished line (a crash, a provisional finding)
    orphan_votes: dict[tuple[str, str], tuple[int | None, int | None]]

    @classmethod
    def of(cls, s: SessionFacts) -> _Decisions:
        final: dict[tuple[str, str], str] = {}
        decided: set[str] = set()
        fix_items: dict[str, set[str]] = defaultdict(set)
        votes_of: dict[tuple[str, str], tuple[int | None, int | None]] = {}
        for _ts, fid, item, decision, kind, votes, pool in sorted(s.decisions):
            key = (fid, item)
            if final.get(key) != "applied":
                final[key] = decision
            decided.add(fid)
            if kind == "fix":
                fix_items[fid].add(item)
            else:
                votes_of[key] = (votes, pool)
        return cls(final, decided, fix_items, votes_of)

    @property
    def applied_any(self) -> bool:
        return any(d == "applied" for d in self.final.values())


class _Aggregate:
    def __init__(self) -> None:
        self._day_cache: dict[int, str] = {}
        self.daily: dict[str, _Slice] = defaultdict(_Slice)
        self.workspaces: dict[str, _Slice] = defaultdict(_Slice)
        self.models: dict[str, _Model] = defaultdict(_Model)
        self.totals = _Tokens()
        self.actions_by_type: dict[str, int] = defaultdict(int)
        self.by_source: dict[str, int] = defaultdict(int)
        self.n_sessions = self.n_actions = self.n_finished = self.n_failed_fusions = 0
        # acceptance: (votes, pool) -> [shown, applied, dismissed, left]
        self.accept: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        self.fixes = [0, 0, 0, 0]
        self.abandon_actions = self.abandoned_actions = 0
        self.abandon_sessions = self.abandoned_sessions = 0
        self.early: dict[bool, dict[str, int]] = {
            True: dict.fromkeys(OUTCOMES, 0),
            False: dict.fromkeys(OUTCOMES, 0),
        }
        self.first_ts = math.inf
        self.last_ts = -math.inf

    def day(self, ts: float) -> str:
        key = int(ts // 86400)
        d = self._day_cache.get(key)
        if d is None:
            d = self._day_cache[key] = _day(ts)
        return d

    # --- one session ------------------------------------------------------------------

    def add(self, s: SessionFacts) -> None:
        self.n_sessions += 1
        self.first_ts = min(self.first_ts, s.start)
        self.last_ts = max(self.last_ts, s.end)
        self.by_source[s.source or "unknown"] += 1
        workspace = self.workspaces[s.workspace]
        self._count_activity(s, workspace)
        answered = self._count_calls(s, workspace)
        decisions = _Decisions.of(s)
        self._count_outcomes(s, decisions, answered)
        abandoned = self._count_abandonment(s, decisions)
        self._count_early_errors(s, decisions, abandoned)

    def _count_activity(self, s: SessionFacts, workspace: _Slice) -> None:
        self.daily[self.day(s.start)].sessions += 1
        workspace.sessions += 1
        for ts, _fid, action in s.actions:
            dd = self.daily[self.day(ts)]
            dd.actions += 1
            dd.by_action[action] += 1
            workspace.actions += 1
            self.actions_by_type[action] += 1
        self.n_actions += len(s.actions)

    def _count_calls(self, s: SessionFacts, workspace: _Slice) -> dict[str, set[str]]:
        """Calls, latencies and tokens per model; returns fusion id -> pool models that
        answered (what best-of win rates are measured against)."""
        answered: dict[str, set[str]] = defaultdict(set)
        for ts, fid, model, role, status, lat, cost, inp, out, cr, cw in s.calls:
            m = self.models[model]
            if status == "ok":
                m.ok += 1
                if lat is not None:
                    m.latencies.append(lat)
                if role == "pool":
                    answered[fid].add(model)
            elif status == "error":
                m.failed += 1
            else:
                m.cancelled += 1
            if role == "judge":
                m.judge += 1
            dd = self.daily[self.day(ts)]
            for tokens in (
                m.tokens,
                self.totals,
                dd.tokens,
                dd.models[model],
                workspace.tokens,
                workspace.models[model],
            ):
                tokens.add(cost, inp, out, cr, cw)
        return answered

    def _count_outcomes(
        self, s: SessionFacts, dec: _Decisions, answered: dict[str, set[str]]
    ) -> None:
        """Best-of wins, and what became of each finding and fix that was shown."""
        orphans = dict(dec.orphan_votes)
        for fid, (action, mode, winner, findings, has_answer) in s.finished.items():
            self.n_finished += 1
            if mode == "best-of":
                for model in answered.get(fid, ()):
                    self.models[model].best_of += 1
                    if model == winner:
                        self.models[model].wins += 1
            for finding_id, votes, pool in findings:
                self._shown(self.accept[(votes, pool)], dec.final.get((fid, finding_id), "left"))
                orphans.pop((fid, finding_id), None)
            if action == "fix" and has_answer:
                for item in dec.fix_items.get(fid) or {fid}:
                    self._shown(self.fixes, dec.final.get((fid, item), "left"))
        # Decisions whose fusion_finished line is missing still count when the decision
        # carries the vote count.
        for key, (orphan_votes, orphan_pool) in orphans.items():
            if orphan_votes is not None and orphan_pool is not None:
                self._shown(self.accept[(orphan_votes, orphan_pool)], dec.final[key])

    @staticmethod
    def _shown(counts: list[int], decision: str) -> None:
        counts[0] += 1
        counts[_OUTCOME_COL[decision]] += 1

    def _count_abandonment(self, s: SessionFacts, dec: _Decisions) -> bool:
        """Counts abandoned reviews/fixes; returns whether the session's last one was."""
        if s.source != "server":
            return False
        last_abandoned = False
        decidable = 0
        for ts, fid, action in sorted(s.actions):
            if action not in ("review", "fix"):
                continue
            decidable += 1
            last_abandoned = s.end - ts <= ABANDON_WINDOW_S and fid not in dec.decided_fusions
            self.abandoned_actions += last_abandoned
        self.abandon_actions += decidable
        if decidable:
            self.abandon_sessions += 1
            self.abandoned_sessions += last_abandoned
        return last_abandoned

    def _count_early_errors(self, s: SessionFacts, dec: _Decisions, abandoned: bool) -> None:
        self.n_failed_fusions += s.failed_fusions
        if not s.actions:
            return
        had_early = any(ts - s.start <= EARLY_WINDOW_S for ts in s.errors)
        if dec.applied_any:
            outcome = "applied"
        elif dec.final:
            outcome = "dismissed"
        elif abandoned:
            outcome = "abandoned"
        else:
            outcome = "no_decision"
        self.early[had_early][outcome] += 1

    # --- the report -------------------------------------------------------------------

    def report(self) -> dict[str, Any]:
        model_rows = self._model_rows()
        seen = self.n_sessions > 0
        return {
            "generatedAt": datetime.now(tz=UTC).isoformat(timespec="seconds"),
            "range": {
                "first": _day(self.first_ts) if seen else None,
                "last": _day(self.last_ts) if seen else None,
            },
            "totals": {
                "sessions": self.n_sessions,
                "sessionsBySource": dict(self.by_source),
                "actions": self.n_actions,
                "actionsByType": dict(self.actions_by_type),
                "fusionsFinished": self.n_finished,
                "fusionsFailed": self.n_failed_fusions,
                "modelCalls": sum(r["calls"] for r in model_rows),
                "modelFailures": sum(r["failures"] for r in model_rows),
                **self.totals.as_dict(),
            },
            "daily": [
                {
                    "date": d,
                    "sessions": v.sessions,
                    "actions": v.actions,
                    "byAction": dict(v.by_action),
                    **v.tokens.as_dict(),
                    "models": v.tokens_by_model(),
                }
                for d, v in sorted(self.daily.items())
            ],
            "models": model_rows,
            "workspaces": [
                {
                    "workspace": w,
                    "sessions": v.sessions,
                    "actions": v.actions,
                    **v.tokens.as_dict(),
                    "models": v.tokens_by_model(),
                }
                for w, v in sorted(self.workspaces.items(), key=lambda kv: -kv[1].tokens.cost)
            ],
            "acceptance": self._acceptance(),
            "abandonment": {
                "windowS": ABANDON_WINDOW_S,
                "actions": self.abandon_actions,
                "abandonedActions": self.abandoned_actions,
                "actionRate": _rate(self.abandoned_actions, self.abandon_actions),
                "sessions": self.abandon_sessions,
                "abandonedSessions": self.abandoned_sessions,
                "sessionRate": _rate(self.abandoned_sessions, self.abandon_sessions),
            },
            "earlyErrors": {
                "windowS": EARLY_WINDOW_S,
                "withEarlyErrors": _outcome_block(self.early[True]),
                "withoutEarlyErrors": _outcome_block(self.early[False]),
            },
        }

    def _model_rows(self) -> list[dict[str, Any]]:
        rows = []
        for model, m in sorted(self.models.items(), key=lambda kv: -kv[1].tokens.cost):
            lats = sorted(m.latencies)
            attempts = m.ok + m.failed
            rows.append(
                {
                    "model": model,
                    "calls": attempts + m.cancelled,
                    "answered": m.ok,
                    "failures": m.failed,
                    "cancelled": m.cancelled,
                    "judgeCalls": m.judge,
                    "failureRate": _rate(m.failed, attempts),
                    "latencyS": {
                        "p50": percentile(lats, 50),
                        "p90": percentile(lats, 90),
                        "p99": percentile(lats, 99),
                        "mean": round(sum(lats) / len(lats), 3) if lats else None,
                    },
                    **m.tokens.as_dict(),
                    "bestOf": {
                        "fusions": m.best_of,
                        "wins": m.wins,
                        "winRate": _rate(m.wins, m.best_of),
                    },
                }
            )
        return rows

    def _acceptance(self) -> dict[str, Any]:
        fixes = self.fixes
        return {
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
                for (votes, pool), c in sorted(
                    self.accept.items(), key=lambda kv: (kv[0][1], kv[0][0])
                )
            ],
            "byVoteCount": _by_vote_count(self.accept),
            "fixes": {
                "shown": fixes[0],
                "applied": fixes[1],
                "dismissed": fixes[2],
                "left": fixes[3],
                "acceptanceRate": _rate(fixes[1], fixes[0]),
            },
        }


def _outcome_block(counts: dict[str, int]) -> dict[str, Any]:
    n = sum(counts.values())
    return {
        "sessions": n,
        "outcomes": dict(counts),
        "rates": {k: _rate(v, n) for k, v in counts.items()},
    }


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


def compute_stats(sessions: Iterable[SessionFacts]) -> dict[str, Any]:
    agg = _Aggregate()
    for s in sessions:
        agg.add(s)
    return agg.report()
