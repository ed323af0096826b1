"""Scripted reviewers with known hit and false-alarm rates, for `fuse-ls eval live` in CI.

`scripted_pool` turns a set of cases (code plus golden findings) into an emulator script
in which each pool member finds a fixed, seeded share of the golden findings (in its own
words, on the golden line) and raises a fixed number of false alarms on lines far from
any golden finding. The expected scores of every member and of the fused review follow
from the script alone, so a test can assert them exactly: a member scores its hits and
false alarms; the fused review keeps what at least `confirm_min_votes` members raised
(the emulated judge confirms exactly those).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from attrs import frozen

# Far enough that the clustering never compares a false alarm with a golden finding.
_FAR = 4
_PREFIXES = ("Bug: ", "Issue: ", "Problem here: ", "Defect: ", "Note: ")
_NOISE = (
    "Consider extracting this statement into a helper to improve readability.",
    "This line could use a short comment explaining the intent.",
    "Prefer a more descriptive name here for maintainability.",
)


class _Golden(Protocol):
    @property
    def start_line(self) -> int: ...
    @property
    def message(self) -> str: ...


class _Case(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def golden(self) -> Sequence[_Golden]: ...


@frozen
class Expected:
    """What each member and the fused review must score (tp, fp, golden)."""

    members: dict[str, tuple[int, int, int]]
    fused: tuple[int, int, int]


def _unique_lines(cases: Sequence[_Case]) -> dict[str, int]:
    """Stripped line text -> how many lines of all cases have it."""
    seen: dict[str, int] = {}
    for case in cases:
        for line in case.text.splitlines():
            key = line.strip()
            if key:
                seen[key] = seen.get(key, 0) + 1
    return seen


def scripted_pool(
    cases: Sequence[_Case],
    rates: Mapping[str, tuple[float, float]],
    judge: str,
    *,
    seed: int = 0,
    confirm_min_votes: int = 2,
) -> tuple[dict[str, Any], Expected]:
    """`rates`: model -> (share of golden findings it finds, false alarms per case)."""
    counts = _unique_lines(cases)
    golden = [(c, g) for c in cases for g in c.golden]
    hits_of: dict[tuple[str, int], int] = {}
    models: dict[str, Any] = {}
    member_expect: dict[str, tuple[int, int, int]] = {}
    # False alarms: one line per case at most, dealt to members without replacement.
    spots = []
    for case in cases:
        lines = case.text.splitlines()
        # A diff case is reviewed as a change: only findings on changed lines are shown.
        changed = getattr(case, "changed", None)
        for n, line in enumerate(lines, start=1):
            if changed is not None and n not in changed:
                continue
            key = line.strip()
            near = any(abs(n - g.start_line) < _FAR for g in case.golden)
            if key and counts[key] == 1 and not near and len(key) > 3:
                spots.append((case.name, key))
                break
    rng = random.Random(seed)
    rng.shuffle(spots)
    for m, (model, (hit_rate, noise_rate)) in enumerate(sorted(rates.items())):
        pick = random.Random(f"{seed}:{model}")
        k = round(hit_rate * len(golden))
        chosen = sorted(pick.sample(range(len(golden)), k))
        rules = []
        for i in chosen:
            case, g = golden[i]
            key = case.text.splitlines()[g.start_line - 1].strip()
            if counts.get(key) != 1:
                raise ValueError(f"{case.name}: golden line {g.start_line} is not unique")
            hits_of[(case.name, g.start_line)] = hits_of.get((case.name, g.start_line), 0) + 1
            prefix = _PREFIXES[m % len(_PREFIXES)]
            rules.append(
                {
                    "match": key,
                    "message": prefix + g.message,
                    "severity": "error",
                    "category": "bug",
                }
            )
        n_noise = min(round(noise_rate * len(cases)), len(spots))
        for _case_name, key in spots[:n_noise]:
            rules.append(
                {
                    "match": key,
                    "message": _NOISE[m % len(_NOISE)],
                    "severity": "warning",
                    "category": "style",
                }
            )
        del spots[:n_noise]
        models[model] = {"ttft_ms": 5, "findings": rules}
        member_expect[model] = (k, n_noise, len(golden))
    models[judge] = {"ttft_ms": 5}
    fused_tp = sum(1 for v in hits_of.values() if v >= confirm_min_votes)
    script = {"models": models, "judge": {"confirm_min_votes": confirm_min_votes}}
    return script, Expected(member_expect, (fused_tp, 0, len(golden)))
