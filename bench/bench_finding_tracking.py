"""What keeping published findings on their code costs the language server.

Run: .venv/bin/python bench/bench_finding_tracking.py

A 2,000-line document with findings every few lines; a user types while a review runs
(runs of keys, backspaces and newlines at one place, then the cursor moves). Printed side
by side:
- the edit log a review keeps: keystrokes vs logged changes once merged (anchors.record);
- placing the review's findings when it ends: through every keystroke vs the merged log;
- one didChange: moving every published finding through one change;
- one publish: diagnostics.unique over two reviews' findings (similarity dedup);
- a publish after each keystroke (findings moved, same messages): unique() scoring every
  pair anew, as it did, vs looking up the scores it kept for those messages; the same
  diagnostics either way.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from lsprotocol import types
from pygls.workspace import TextDocument
from pygls.workspace.position_codec import PositionCodec

from fuse_ls.core.types import Finding
from fuse_ls.fusion.findings import MERGE_THRESHOLD, Vote, pair_similarities
from fuse_ls.server import diagnostics
from fuse_ls.server.anchors import Snapshot, record
from fuse_ls.server.diagnostics import Reported, overlaps, track_all, unique

WORDS = "value parse text eval config load save path data cache".split()


def document(lines: int) -> str:
    rng = random.Random(1)
    return "".join(
        f"    {rng.choice(WORDS)}_{n} = {rng.choice(WORDS)}({rng.choice(WORDS)})\n"
        for n in range(lines)
    )


def findings(snapshot: Snapshot, count: int, fusion: str) -> list[Reported]:
    rng = random.Random(fusion)
    out = []
    for n in range(count):
        line = rng.randrange(snapshot.line_count)
        r = snapshot.line_range(line + 1, line + 1)
        assert r is not None
        word = rng.choice(WORDS)
        out.append(
            Reported(
                fusion_id=fusion,
                finding_id=f"{fusion}-{n}",
                anchor=snapshot.anchor(r),
                severity="warning",
                category="bug",
                message=f"`{word}` may be None here; {rng.choice(WORDS)} fails on it.",
                votes=2,
                pool_size=3,
                models=("a", "b"),
            )
        )
    return out


def typing(text: str, keys: int) -> tuple[list[types.TextDocumentContentChangePartial], str]:
    rng = random.Random(2)
    doc = TextDocument("file:///bench.py", text)
    out = []
    while len(out) < keys:
        line = rng.randrange(len(doc.lines))
        col = len(doc.lines[line].rstrip("\n"))
        for _ in range(rng.randrange(5, 40)):
            roll = rng.random()
            if roll < 0.8:
                new, end = rng.choice("abcdefgh ()_"), col
                col += 1
            elif roll < 0.95 and col > 0:
                new, end, col = "", col, col - 1
            else:
                new, end = "\n", col
            start = types.Position(line=line, character=col - (1 if new and new != "\n" else 0))
            if new == "\n":
                start = types.Position(line=line, character=col)
                line, col = line + 1, 0
            c = types.TextDocumentContentChangePartial(
                range=types.Range(start=start, end=types.Position(line=start.line, character=end)),
                text=new,
            )
            doc.apply_change(c)
            out.append(c)
    return out, doc.source


def per_call(fn: Callable[[], object], repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def scored_anew(items: list[Reported]) -> dict[int, set[int]]:
    """unique()'s pairs as it found them before it kept scores: the clustering's scores of
    every pair of the findings, on each publish."""
    reviews = {f: n for n, f in enumerate(dict.fromkeys(r.fusion_id for r in items))}
    if len(reviews) < 2:
        return {}
    votes = [
        Vote(
            reviews[r.fusion_id],
            "",
            Finding(
                r.anchor.range.start.line + 1,
                r.anchor.range.end.line + 1,
                r.severity,
                r.category,
                r.message,
            ),
        )
        for r in items
    ]
    out: dict[int, set[int]] = {}
    for (i, j), score in pair_similarities(votes).items():
        first = items[i].anchor.range
        if score >= MERGE_THRESHOLD and overlaps(items[j], first.start.line, first.end.line):
            out.setdefault(i, set()).add(j)
            out.setdefault(j, set()).add(i)
    return out


def keystrokes(
    codec: PositionCodec, text: str, found: list[Reported], keys: int
) -> list[list[Reported]]:
    """The findings as each of `keys` keystrokes leaves them."""
    changes, _ = typing(text, keys)
    doc = TextDocument("file:///bench.py", text)
    out = []
    for n, c in enumerate(changes[:keys]):
        doc.apply_change(c)
        found = track_all(found, [c], Snapshot("bench", doc.source, n + 2, codec))
        out.append(found)
    return out


def publish_per_keystroke(codec: PositionCodec, text: str, then: Snapshot) -> None:
    print(
        f"\n{'findings':>8} {'keys':>5} {'unique(), scored anew':>22} "
        f"{'unique(), kept scores':>22} {'ratio':>6} {'same output':>12}"
    )
    kept = diagnostics._same_finding_pairs
    for count in (20, 50, 200):
        older = findings(then, count, "old")
        moved = keystrokes(codec, text, findings(then, count, "new"), 50)
        versions = [[*older, *found] for found in moved]
        diagnostics._similarity.cache_clear()
        unique(versions[0])  # the publish when the review ended scores the messages
        diagnostics._same_finding_pairs = scored_anew
        try:
            before = [unique(v) for v in versions]
            anew = per_call(lambda: [unique(v) for v in versions])  # noqa: B023
        finally:
            diagnostics._same_finding_pairs = kept
        after = [unique(v) for v in versions]
        cached = per_call(lambda: [unique(v) for v in versions])  # noqa: B023
        n = len(versions)
        print(
            f"{2 * count:>8} {n:>5} {anew / n * 1e3:>19.3f} ms {cached / n * 1e3:>19.3f} ms"
            f" {anew / cached:>5.1f}x {before == after!s:>12}"
        )


def main() -> None:
    codec = PositionCodec()
    text = document(2000)
    then = Snapshot("bench", text, 1, codec)
    print(
        f"{'findings':>8} {'keys':>6} {'logged':>6} {'place, every key':>17} "
        f"{'place, merged':>14} {'ratio':>6} {'one didChange':>14} {'unique()':>10}"
    )
    for count in (20, 50, 200):
        found = findings(then, count, "new")
        older = findings(then, count, "old")
        for keys in (200, 2000):
            changes, after = typing(text, keys)
            now = Snapshot("bench", after, 2, codec)
            log: list[types.TextDocumentContentChangeEvent] = []
            for c in changes:
                record(log, [c])
            raw = per_call(lambda: track_all(found, changes, now))  # noqa: B023
            merged = per_call(lambda: track_all(found, log, now))  # noqa: B023
            one = per_call(lambda: track_all(found, changes[:1], now))  # noqa: B023
            dedup = per_call(lambda: unique([*older, *found]))  # noqa: B023
            print(
                f"{count:>8} {keys:>6} {len(log):>6} {raw * 1e3:>14.2f} ms {merged * 1e3:>11.2f} ms"
                f" {raw / merged:>5.1f}x {one * 1e3:>11.3f} ms {dedup * 1e3:>7.2f} ms"
            )
    publish_per_keystroke(codec, text, then)


if __name__ == "__main__":
    main()
