"""Reading a dataset in Martian's Code Review Bench layout (its `offline/` part).

Layout: `golden_comments/<repo>.json` (per pull request: `url`, optional `original_url`,
`comments` with `comment` and `severity`), `results/<judge>/candidates.json` (pull request
url -> tool -> [{"text": ...}]) and `results/<judge>/evaluations.json` (pull request url ->
tool -> {"true_positives": [{"golden_comment", "matched_candidate"}], "false_positives":
[{"candidate"}], "tp", "fp", "fn", ...}). Every problem is reported with the file it is in
and what is missing, so a broken copy fails with a sentence rather than a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from attrs import frozen

from fuse_ls.core.errors import FuseError

DEFAULT_JUDGE = "anthropic_claude-opus-4-5-20251101"
Label = Literal["tp", "fp", "neither"]


class DatasetError(FuseError):
    """The dataset is missing a file or a field; the message names both."""


@frozen
class ToolReview:
    """What one tool said about one pull request, with the judge's verdict per text."""

    texts: tuple[str, ...]  # in the tool's own order
    # text -> golden comments it matched (empty for a false positive or an uncounted match)
    matches: dict[str, frozenset[str]]
    false_positives: frozenset[str]
    tp: int  # as the benchmark counted them for this tool
    fp: int
    fn: int

    def label(self, text: str) -> Label:
        if self.matches.get(text):
            return "tp"
        if text in self.false_positives:
            return "fp"
        # Matched a golden comment that a stronger candidate of the same tool already had:
        # the benchmark counts it as neither.
        return "neither"


@frozen
class PullRequest:
    url: str
    golden: tuple[str, ...]
    reviews: dict[str, ToolReview]  # tool -> review


@frozen
class Dataset:
    root: Path
    judge: str
    tools: tuple[str, ...]
    prs: tuple[PullRequest, ...]

    @property
    def golden_total(self) -> int:
        return sum(len(pr.golden) for pr in self.prs)


def judges(root: Path) -> list[str]:
    results = root / "results"
    if not results.is_dir():
        return []
    return sorted(p.name for p in results.iterdir() if (p / "evaluations.json").is_file())


# Code Review Bench's largest file is a few MB. A downloaded copy can hold any size (a
# sparse 3 GB file costs nothing in a tarball), read whole it was a MemoryError.
_MAX_JSON_BYTES = 64 * 1024 * 1024


def read_json(path: Path, limit: int) -> Any:
    """A downloaded JSON file, or ValueError saying why not (never a traceback): over
    `limit` bytes, nested past the decoder's depth, an integer of over 4300 digits,
    malformed, not UTF-8 or unreadable. The caller names the file."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ValueError(f"not readable ({exc.strerror})") from None
    if size > limit:
        raise ValueError(f"{size / 1024**2:,.0f} MB, over the {limit / 1024**2:g} MB allowed")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except RecursionError:
        raise ValueError("not readable JSON (nested too deeply)") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        # ValueError: besides malformed JSON, an integer of over 4300 digits.
        raise ValueError(f"not readable JSON ({exc})") from None


def _load_json(path: Path) -> Any:
    if not path.is_file():
        raise DatasetError(f"{path}: file not found")
    try:
        return read_json(path, _MAX_JSON_BYTES)
    except ValueError as exc:
        raise DatasetError(f"{path}: {exc}") from None


def _need(obj: Any, key: str, kind: type, path: Path, where: str) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise DatasetError(f"{path}: {where} has no {key!r}")
    value = obj[key]
    if not isinstance(value, kind):
        raise DatasetError(f"{path}: {where}: {key!r} is not a {kind.__name__}")
    return value


def _count(obj: Any, key: str, path: Path, where: str) -> int:
    """A tp / fp / fn count: `true` or -5 scored a tool above 100%."""
    value = _need(obj, key, int, path, where)
    if isinstance(value, bool) or value < 0:
        raise DatasetError(f"{path}: {where}: {key!r} is {json.dumps(value)}, not a count")
    return int(value)


def _golden(root: Path) -> dict[str, tuple[str, ...]]:
    folder = root / "golden_comments"
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if not files:
        raise DatasetError(f"{folder}: no golden comment files (<repo>.json) found")
    out: dict[str, tuple[str, ...]] = {}
    for path in files:
        data = _load_json(path)
        if not isinstance(data, list):
            raise DatasetError(f"{path}: expected a list of pull requests")
        for n, entry in enumerate(data):
            where = f"pull request #{n + 1}"
            url = _need(entry, "url", str, path, where)
            comments = _need(entry, "comments", list, path, where)
            texts = tuple(
                str(_need(c, "comment", str, path, f"{where} ({url}) comment #{i + 1}"))
                for i, c in enumerate(comments)
            )
            out[url] = texts
            original = entry.get("original_url")
            if isinstance(original, str) and original:
                out[original] = texts
    return out


def _review(
    url: str, tool: str, ev: Any, texts: list[str] | None, path: Path, golden: tuple[str, ...]
) -> ToolReview:
    where = f"{url} / {tool}"
    tps = _need(ev, "true_positives", list, path, where)
    fps = _need(ev, "false_positives", list, path, where)
    counts = [_count(ev, k, path, where) for k in ("tp", "fp", "fn")]
    matches: dict[str, set[str]] = {}
    for i, item in enumerate(tps):
        cand = _need(item, "matched_candidate", str, path, f"{where} true positive #{i + 1}")
        gold = _need(item, "golden_comment", str, path, f"{where} true positive #{i + 1}")
        matches.setdefault(cand.strip(), set()).add(gold)
    false = frozenset(
        str(_need(item, "candidate", str, path, f"{where} false positive #{i + 1}")).strip()
        for i, item in enumerate(fps)
    )
    if texts is None:
        # The benchmark judged this tool on its raw comments: only the labelled texts exist.
        texts = [*matches, *sorted(false - set(matches))]
    clean = tuple(dict.fromkeys(t.strip() for t in texts if t.strip()))
    return ToolReview(
        texts=clean,
        matches={k: frozenset(v) for k, v in matches.items()},
        false_positives=false,
        tp=counts[0],
        fp=counts[1],
        fn=counts[2],
    )


def load_dataset(root: Path, judge: str = DEFAULT_JUDGE) -> Dataset:
    """Load and check a dataset; raise `DatasetError` naming the file and what is missing."""
    if not root.is_dir():
        raise DatasetError(f"{root}: not a directory (expected a Code Review Bench copy)")
    golden = _golden(root)
    folder = root / "results" / judge
    if not folder.is_dir():
        known = ", ".join(judges(root)) or "none"
        raise DatasetError(f"{folder}: no such judge folder (judges found: {known})")
    ev_path, cand_path = folder / "evaluations.json", folder / "candidates.json"
    evaluations = _load_json(ev_path)
    # Without candidates.json every tool was judged on its raw comments: the labelled
    # texts in evaluations.json are all there is (the benchmark's own fallback).
    candidates = _load_json(cand_path) if cand_path.exists() else {}
    if not isinstance(evaluations, dict) or not evaluations:
        raise DatasetError(f"{ev_path}: expected an object of pull request url -> tool -> verdict")
    if not isinstance(candidates, dict):
        raise DatasetError(f"{cand_path}: expected an object of pull request url -> tool -> list")
    tools: set[str] = set()
    prs = []
    for url in sorted(evaluations):
        per_tool = evaluations[url]
        if not isinstance(per_tool, dict):
            raise DatasetError(f"{ev_path}: {url} is not an object of tool -> verdict")
        if url not in golden:
            raise DatasetError(
                f"{root / 'golden_comments'}: no golden comments for {url} (named in {ev_path})"
            )
        cand = candidates.get(url, {})
        if not isinstance(cand, dict):
            raise DatasetError(f"{cand_path}: {url} is not an object of tool -> list")
        reviews = {}
        for tool, ev in sorted(per_tool.items()):
            raw = cand.get(tool)
            texts = None
            if isinstance(raw, list):
                texts = [
                    str(_need(c, "text", str, cand_path, f"{url} / {tool} candidate #{i + 1}"))
                    for i, c in enumerate(raw)
                ]
            reviews[tool] = _review(url, tool, ev, texts, ev_path, golden[url])
            tools.add(tool)
        prs.append(PullRequest(url=url, golden=golden[url], reviews=reviews))
    return Dataset(root=root, judge=judge, tools=tuple(sorted(tools)), prs=tuple(prs))
