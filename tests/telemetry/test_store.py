"""Crash safety, concurrent writers and retention of the session store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from telemetry_events import session_files, validate_transcript

from fuse_ls.telemetry import store

REPO = Path(__file__).resolve().parents[2]


def _spawn(code: str, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _wait_for(path: Path, predicate: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and predicate(path.read_bytes()):  # type: ignore[operator]
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {path}")


TORN_WRITER = """
import os, sys, time
from pathlib import Path
from fuse_ls.telemetry import store
f = store.AppendOnlyFile(Path(sys.argv[1]))
for i in range(50):
    f.append(store.dumps({"n": i, "pad": "x" * 100}))
# What a kill in the middle of os.write leaves behind: half a record, no newline.
line = store.dumps({"n": 50, "pad": "y" * 100})
os.write(f._fd, line[: len(line) // 2].encode())
print("ready", flush=True)
time.sleep(60)
"""


def test_kill_mid_line_leaves_one_torn_line_that_readers_skip(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    proc = _spawn(TORN_WRITER, str(path))
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"ready"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    records = list(store.iter_records(path))
    assert [r["n"] for r in records] == list(range(50))  # earlier lines intact
    assert not path.read_bytes().endswith(b"\n")  # the torn tail is really there
    # A new writer (the next session part, a restarted server) isolates the fragment.
    f = store.AppendOnlyFile(path)
    f.append(store.dumps({"n": 51}))
    f.close()
    assert [r["n"] for r in store.iter_records(path)] == [*range(50), 51]
    assert b"\n" + b'{"n":51}\n' in path.read_bytes()
    assert store.complete_bytes(path).count(b"\n") == 51


RECORDER_WRITER = """
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from telemetry_events import Clock, run_fusion
from fuse_ls.config import TelemetrySettings
from fuse_ls.telemetry.recorder import SessionRecorder
settings = TelemetrySettings(data_dir=sys.argv[1], record_content=True)
rec = SessionRecorder(settings, Path("/w"), source="server", version="0.1.0")
code = "x = 1\\n" * 20000  # ~120 kB lines: a kill can land inside a write
i = 0
while True:
    run_fusion(rec, None, f"f{i}", code=code)
    i += 1
"""


def test_recorder_killed_while_writing(tmp_path: Path) -> None:
    root = tmp_path / "data"
    proc = _spawn(RECORDER_WRITER, str(root), str(Path(__file__).parent))
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            files = session_files(root)
            if files and files[0].stat().st_size > 2_000_000:
                break
            time.sleep(0.01)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    [path] = session_files(root)
    data = path.read_bytes()
    complete = data[: data.rfind(b"\n") + 1]
    clean = tmp_path / path.name
    clean.write_bytes(complete)
    # every complete line conforms (chain, uuids, separators) ...
    lines = validate_transcript(clean)
    assert len(lines) > 10
    # ... and the reader yields exactly those lines, whatever the tail looks like.
    assert len(list(store.iter_records(path))) == len(lines)


CONCURRENT_WRITER = """
import sys
from pathlib import Path
from fuse_ls.telemetry import store
path, writer = Path(sys.argv[1]), int(sys.argv[2])
f = store.AppendOnlyFile(path)
for i in range(400):
    # sizes around and above PIPE_BUF / page size, where interleaving would show
    pad = "abcdefghij"[writer] * (100 + (i * 997 + writer * 131) % 12000)
    f.append(store.dumps({"w": writer, "i": i, "pad": pad}))
"""


def test_concurrent_writers_never_interleave(tmp_path: Path) -> None:
    path = tmp_path / "shared.jsonl"
    procs = [_spawn(CONCURRENT_WRITER, str(path), str(w)) for w in range(4)]
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err.decode()
    raw = path.read_bytes().split(b"\n")
    assert raw[-1] == b""
    seen: dict[int, list[int]] = {w: [] for w in range(4)}
    for line in raw[:-1]:
        rec = json.loads(line)  # no torn or merged lines
        assert set(rec["pad"]) == {"abcdefghij"[rec["w"]]}
        seen[rec["w"]].append(rec["i"])
    for w in range(4):
        assert seen[w] == list(range(400)), f"writer {w} lost or reordered lines"


def test_readers_skip_garbage_lines(tmp_path: Path) -> None:
    path = tmp_path / "g.jsonl"
    path.write_bytes(b'{"a":1}\n{"a":\n[1,2]\nnot json\n\n{"a":2}\n{"a":3')
    assert [r["a"] for r in store.iter_records(path)] == [1, 2]
    assert store.complete_bytes(path) == b'{"a":1}\n{"a":2}\n'


def test_encode_workspace_like_claude_code() -> None:
    assert store.encode_workspace("/home/u/src/my.app") == "-home-u-src-my-app"
    assert store.encode_workspace("C:\\Users\\u\\proj") == "C--Users-u-proj"


def _touch(path: Path, size: int, age_days: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    t = time.time() - age_days * 86400
    os.utime(path, (t, t))


def test_retention_by_age_and_size(tmp_path: Path) -> None:
    root = tmp_path
    ws = root / "sessions" / "-w"
    old = ws / "old.jsonl"
    live = ws / "live.jsonl"
    _touch(old, 10, 100)
    _touch(live, 10, 200)  # the live session is never deleted, however old
    mids = [ws / f"m{i}.jsonl" for i in range(4)]
    for i, p in enumerate(mids):
        _touch(p, 400_000, 10 - i)  # m0 oldest
    deleted = store.prune(root, retention_days=90, max_total_mb=1, keep={live})
    assert old in deleted and live not in deleted
    # 4 x 400 kB > 1 MiB: the two oldest go, leaving 800 kB
    assert mids[0] in deleted and mids[1] in deleted
    assert all(p.exists() for p in (live, mids[2], mids[3]))
    # both limits off: nothing is touched
    assert store.prune(root, retention_days=0, max_total_mb=0) == []


def test_prune_removes_empty_workspace_folders(tmp_path: Path) -> None:
    p = tmp_path / "sessions" / "-gone" / "a.jsonl"
    _touch(p, 5, 400)
    store.prune(tmp_path, retention_days=30, max_total_mb=0)
    assert not p.parent.exists()
