"""Secret redaction speed: throughput over realistic text, and how the time grows on the
line shapes that were once quadratic.

    .venv/bin/python bench/bench_redaction.py [--size 32000] [--repeat 3]
        [--shared DIR] [--against REV] [--packages]

Printed, from one run (a benchmark, not a test: nothing is asserted, it exits 0):
- throughput (MB/s, lines/s, redactions) of `core.redact.redact` over this repository's
  files, each redacted whole as the server does; the text files of the shared folder
  (default `../shared` beside the repository) if it is there; the test suite's secrets
  corpus repeated to 1 MB (what tests/core once timed); a synthetic 1 MB line of
  minified JavaScript; one long line of `curl ` repeated. Times are this process's CPU
  time, which other work on a busy machine barely moves;
- for each shape that once made a rule scan a line from every position (a line of
  `curl curl ...`, minified JavaScript full of `//` URLs, a run of spaces...), the time
  for N and 2N bytes and their ratio: ~2 is linear, ~4 a return to quadratic;
- with `--against REV` (e.g. `main`), the same throughput for REV's `redact.py`, and the
  lines whose redaction differs between REV and this tree over the same files (plus
  installed packages with `--packages`): new hits are the false positives a rule change
  would bring, dropped hits what it would stop catching. Lines are shown redacted.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import re
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

from fuse_ls.core import redact as current

HERE = Path(__file__).resolve().parent.parent
MARK = re.compile(r"\[REDACTED:[a-z0-9\-]+\]")
Redact = Callable[[str], str]


def load_revision(rev: str) -> ModuleType:
    """`fuse_ls/core/redact.py` as it is at `rev`, imported under another name."""
    source = subprocess.run(
        ["git", "show", f"{rev}:fuse_ls/core/redact.py"],
        cwd=HERE,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    spec = importlib.util.spec_from_loader(f"redact_at_{rev}", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    exec(compile(source, f"{rev}:fuse_ls/core/redact.py", "exec"), module.__dict__)
    return module


def read_text(path: Path) -> str | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def repo_files() -> Iterator[tuple[str, str]]:
    names = subprocess.run(
        ["git", "ls-files"], cwd=HERE, check=True, capture_output=True, text=True
    ).stdout.splitlines()
    for name in names:
        text = read_text(HERE / name)
        if text is not None:
            yield name, text


def tree_files(root: Path, suffixes: tuple[str, ...] = ()) -> Iterator[tuple[str, str]]:
    for path in sorted(root.rglob("*")):
        if not path.is_file() or (suffixes and path.suffix not in suffixes):
            continue
        if path.stat().st_size > 5_000_000:
            continue
        text = read_text(path)
        if text is not None:
            yield str(path), text


def corpus_text(size: int) -> str:
    """The test suite's redaction corpus (secrets in 29 languages' syntax, look-alikes),
    repeated to about `size` characters: text far denser in secrets than real code."""
    sys.path.insert(0, str(HERE))
    from tests.security.secrets_corpus import build_lookalikes, build_secrets

    block = "\n".join([*(s.text for s in build_secrets()), *(a.text for a in build_lookalikes())])
    return "\n".join([block] * max(1, size // len(block)))


def minified_js(size: int, seed: int = 6) -> str:
    """One line of bundler output: short names, string literals, URLs (`//`), hex ids,
    a base64 data URI now and then; no secret."""
    rng = random.Random(seed)
    alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    parts: list[str] = ["!function(e,t){"]
    length = len(parts[0])
    while length < size:
        name = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(1, 3)))
        kind = rng.random()
        if kind < 0.25:
            piece = f'{name}="https://cdn.example.com/{name}/v{rng.randint(1, 9)}/x.js",'
        elif kind < 0.4:
            hexid = "".join(rng.choice("0123456789abcdef") for _ in range(40))
            piece = f'{name}.key="{hexid}",'
        elif kind < 0.45:
            b64 = "".join(rng.choice(alnum + "+/") for _ in range(200))
            piece = f'{name}.src="data:image/png;base64,{b64}",'
        elif kind < 0.7:
            piece = f"function {name}(e){{return e&&e.__esModule?e:{{default:e}}}}"
        else:
            piece = f"{name}.token=t.token||null,{name}.password=void 0,"
        parts.append(piece)
        length += len(piece)
    return "".join(parts)[:size] + "}"


# Shapes that made a rule scan the rest of a line from every position (each fixed once;
# the comment says where it was measured). Each takes a size in bytes.
SHAPES: dict[str, Callable[[int], str]] = {
    # command-line flags looked for after `curl` (20 KB: 1.8 s before a 300-character bound)
    "curl curl curl ...": lambda n: "curl " * (n // 5),
    "docker login / sshpass / mysql ...": lambda n: "docker login sshpass mysql " * (n // 27),
    # detect-secrets' npm `//.+/:_authToken=` (700 KB of minified JS: 15 s)
    "minified JS with // URLs": minified_js,
    "minified JS + _authToken": lambda n: "_authToken " + minified_js(n),
    # detect-secrets' keyword plugins (not used: minutes for 2,000 spaces)
    "a run of spaces": lambda n: "password" + " " * n + "=",
    "password=password=...": lambda n: "password=" * (n // 9),
    '"api_key": "api_key": ...': lambda n: '"api_key": ' * (n // 11),
    "key = key = ... (entropy)": lambda n: "signing_key = " * (n // 14),
    "base64 on one line": lambda n: ("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3" * (n // 40 + 1))[
        :n
    ],
    "BEGIN PRIVATE KEY, no END": lambda n: "-----BEGIN PRIVATE KEY-----\nQUJD\n" * (n // 34),
    "Private-Lines: + base64": lambda n: "Private-Lines: 1\n" + ("QUJDREVGR0hJ\n" * (n // 13)),
    "htpasswd -b -b -b ...": lambda n: "htpasswd" + " -b" * (n // 3),
    "bot123456789 bot123...": lambda n: "bot123456789:" * (n // 13),
    "String::from(String::from(": lambda n: "password = " + "String::from(" * (n // 13),
    "http -a http -a ...": lambda n: "http -a " * (n // 8),
}


def best_times(fn: Redact, texts: list[str], repeat: int) -> list[float]:
    """The least CPU time of this process for each text, taking turns: CPU time rather
    than wall time, so other work on a busy machine barely moves it."""
    best = [float("inf")] * len(texts)
    for _ in range(max(repeat, 1)):
        for i, text in enumerate(texts):
            start = time.process_time()
            fn(text)
            best[i] = min(best[i], time.process_time() - start)
    return best


def throughput(name: str, files: list[tuple[str, str]], fns: dict[str, Redact]) -> None:
    size = sum(len(t.encode()) for _, t in files)
    lines = sum(t.count("\n") + 1 for _, t in files)
    if not files:
        return
    cells = []
    for label, fn in fns.items():
        start = time.process_time()
        hits = sum(len(MARK.findall(fn(text))) - len(MARK.findall(text)) for _, text in files)
        elapsed = time.process_time() - start
        cells.append(
            f"{label}: {size / 1e6 / elapsed:6.2f} MB/s {lines / elapsed:9,.0f} lines/s "
            f"{hits:5d} hits"
        )
    print(f"  {name:<28} {size / 1e6:6.2f} MB {lines:8,d} lines | " + " | ".join(cells))


def compare(files: list[tuple[str, str]], old: Redact, new: Redact, show: int) -> None:
    """Lines whose marks differ between the two, file by file (each redacted whole)."""
    new_hits: list[str] = []
    dropped: list[str] = []
    changed = 0
    total = 0
    for path, text in files:
        before, after = old(text), new(text)
        total += text.count("\n") + 1
        if before == after:
            continue
        for number, (b, a) in enumerate(
            zip(before.splitlines(), after.splitlines(), strict=False), 1
        ):
            if a == b:
                continue
            changed += 1
            where = f"{path}:{number}: {a.strip()[:140]}"
            if len(MARK.findall(a)) > len(MARK.findall(b)):
                new_hits.append(where)
            elif len(MARK.findall(a)) < len(MARK.findall(b)):
                dropped.append(where)
    print(
        f"  {total:,} lines in {len(files):,} files: {len(new_hits)} new hits, "
        f"{len(dropped)} dropped, {changed} lines differ"
    )
    for label, rows in (("new", new_hits), ("dropped", dropped)):
        for row in rows[:show]:
            print(f"    {label}: {row}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=32_000, help="N in bytes for the N vs 2N table")
    p.add_argument("--repeat", type=int, default=5, help="timed runs per shape (best is kept)")
    p.add_argument("--shared", type=Path, default=HERE.parent / "shared")
    p.add_argument("--against", metavar="REV", help="compare with redact.py at this revision")
    p.add_argument("--packages", action="store_true", help="also compare over site-packages")
    p.add_argument("--show", type=int, default=20, help="differing lines shown per kind")
    p.add_argument(
        "--only",
        action="append",
        choices=["throughput", "shapes", "compare"],
        help="run only these parts (repeatable; default: all)",
    )
    args = p.parse_args()
    parts = set(args.only or ["throughput", "shapes", "compare"])

    fns: dict[str, Redact] = {"this": lambda t: current.redact(t).text}
    if args.against:
        old = load_revision(args.against)
        fns = {args.against: lambda t: old.redact(t).text, **fns}
    for fn in fns.values():
        fn("warm up: compile the rules and import detect-secrets' plugins")

    inputs = {"this repository": list(repo_files())}
    if args.shared.is_dir():
        inputs[f"{args.shared}"] = list(tree_files(args.shared))
    inputs["secrets corpus x ~1 MB"] = [("corpus", corpus_text(1_000_000))]
    inputs["minified JS, one 1 MB line"] = [("min.js", minified_js(1_000_000))]
    inputs["'curl ' x 40,000, one line"] = [("curl", "curl " * 40_000)]
    if "throughput" in parts:
        print("throughput (each file redacted whole):")
        for name, files in inputs.items():
            throughput(name, files, fns)

    if "shapes" in parts:
        shapes(args.size, args.repeat, fns)
    if args.against and "compare" in parts:
        print(f"\nlines redacted differently by {args.against} and this tree:")
        files = [
            f
            for name, fs in inputs.items()
            if not name.startswith(("minified", "'curl", "secrets corpus"))
            for f in fs
        ]
        if args.packages:
            site = Path(sysconfig.get_paths()["purelib"])
            files += list(tree_files(site, (".py", ".md", ".txt", ".toml", ".cfg", ".json")))
        compare(files, fns[args.against], fns["this"], args.show)


def shapes(size: int, repeat: int, fns: dict[str, Redact]) -> None:
    print(f"\ntime for N = {size:,} and 2N bytes (ratio ~2: linear, ~4: quadratic):")
    header = f"  {'shape':<36} " + " ".join(
        f"{label + ' N':>10} {label + ' 2N':>10} {'ratio':>6}" for label in fns
    )
    print(header)
    for name, make in SHAPES.items():
        small, large = make(size), make(2 * size)
        cells = []
        for fn in fns.values():
            t1, t2 = best_times(fn, [small, large], repeat)
            cells.append(f"{t1 * 1e3:8.1f}ms {t2 * 1e3:8.1f}ms {t2 / max(t1, 1e-9):6.2f}")
        print(f"  {name:<36} " + " ".join(cells))


if __name__ == "__main__":
    sys.exit(main())
