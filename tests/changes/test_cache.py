"""The SQLite review cache: shared by processes, capped, and rebuilt when broken."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from fuse_ls.changes.cache import ReviewCache
from fuse_ls.changes.cache_entries import (
    from_entry,
    plugins_version,
    redaction_digest,
    to_entry,
)
from fuse_ls.changes.types import UnitOutcome
from fuse_ls.changes.units import Unit
from fuse_ls.core.types import FusedFinding


def _writer(path: str, worker: int) -> None:
    with ReviewCache(Path(path)) as cache:
        for i in range(40):
            cache.put(f"{worker}-{i}", {"findings": [], "n": i})
            assert cache.get(f"{worker}-{i}") == {"findings": [], "n": i}
        assert not cache.notes, cache.notes


def test_several_processes_write_at_once(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(path), w)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    with ReviewCache(path) as cache:
        assert cache.stats().entries == 160


def test_a_corrupted_database_is_rebuilt_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    with ReviewCache(path) as cache:
        cache.put("k", {"findings": []})
    path.write_bytes(b"this is not a database" * 100)
    with ReviewCache(path) as cache:
        assert cache.get("k") is None
        assert any("rebuilt" in n for n in cache.notes)
        cache.put("k2", {"findings": []})
        assert cache.get("k2") == {"findings": []}
    assert list(tmp_path.glob("c.sqlite3.corrupt-*"))  # kept for inspection


def test_size_cap_drops_least_recently_used(tmp_path: Path) -> None:
    with ReviewCache(tmp_path / "c.sqlite3", max_bytes=4000) as cache:
        for i in range(20):
            cache.put(f"k{i}", {"findings": [], "pad": "x" * 400})
            cache.get("k0")  # keep touching the first one
        stats = cache.stats()
        assert stats.size_bytes <= 4000
        assert cache.get("k0") is not None and cache.get("k1") is None
        assert cache.get("k19") is not None


def test_clear_keeps_dismissed_findings(tmp_path: Path) -> None:
    with ReviewCache(tmp_path / "c.sqlite3") as cache:
        cache.put("k", {"findings": []})
        cache.dismiss("/repo", "abc")
        assert cache.clear() == 1
        assert cache.stats().entries == 0
        assert cache.dismissed("/repo") == {"abc"} and cache.dismissed("/other") == set()
        assert cache.undismiss("/repo", "abc") and not cache.dismissed("/repo")


def test_unwritable_location_means_no_cache(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with ReviewCache(blocker / "c.sqlite3") as cache:
        cache.put("k", {"findings": []})
        assert cache.get("k") is None
        assert cache.notes and "unavailable" in cache.notes[0]


def test_stored_findings_keep_members_not_waited_for_and_older_entries_still_load() -> None:
    unit = Unit("app.py", "python", 10, 14, frozenset({11}), "x = eval(s)\n", "", "", "lines")
    found = FusedFinding(
        11, 11, "error", "security", "eval", 2, 2, ("a", "b"), did_not_answer=0, not_waited_for=1
    )
    entry = to_entry(UnitOutcome(unit, "k" * 16, findings=[found]))
    [again] = (from_entry(unit, "k" * 16, entry) or UnitOutcome(unit, "")).findings
    assert again.agreement == "2/2 models; 1 of 3 not waited for"
    # An entry written before members not waited for were counted has no such field.
    for stored in entry["findings"]:
        del stored["not_waited_for"]
    [old] = (from_entry(unit, "k" * 16, entry) or UnitOutcome(unit, "")).findings
    assert (old.start_line, old.not_waited_for, old.agreement) == (11, 0, "2/2 models")


def test_redaction_digest_in_cache_keys_is_unchanged_without_importlib_metadata() -> None:
    """The detect-secrets version in every cache key is read from its package, not
    looked up through importlib.metadata: the keys (and so every stored review) stay
    what they were when it was."""
    import hashlib
    import importlib.metadata

    import fuse_ls.core.redact

    installed = importlib.metadata.version("detect-secrets")
    assert plugins_version() == installed
    source = Path(fuse_ls.core.redact.__file__).read_bytes()
    assert redaction_digest() == hashlib.sha256(source + installed.encode()).hexdigest()[:16]
