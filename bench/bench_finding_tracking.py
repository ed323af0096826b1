"""What keeping published findings on their code costs the language server.

Run: .venv/bin/python bench/bench_finding_tracking.py

A 2,000-line document with findings every few lines; a user types while a review runs
(runs of keys, backspaces and newlines at one place, then the cursor moves). Printed side
by side:
- the edit log a review keeps: keystrokes vs logged changes once merged (anchors.record);
- placing the review's findings when it ends: through every keystroke vs the merged log;
- one didChange: moving every published finding through one change;
- one publish: diagnostics.unique over two reviews' findings (similarity dedup).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from lsprotocol import types
from pygls.workspace import TextDocument
from pygls.workspace.position_codec import PositionCodec

from fuse_ls.server.anchors import Snapshot, record
from fuse_ls.server.diagnostics import Reported, track_all, unique

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


if __name__ == "__main__":
    main()
