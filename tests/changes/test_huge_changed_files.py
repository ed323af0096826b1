"""A changed file of gigabytes (a sparse file costs no disk) is skipped on its size before
git reads it: git diffs both sides of a file whole, and a 3 GB one held a review for 30 s
before fuse-ls's own cap could apply.

What git read is observed, not how long it took: the bytes the review's processes read
(`rchar`, which a parent collects from the children it reaps) for a working-tree file,
and the CPU time of git's processes for a blob, which git maps rather than reads.
"""

from __future__ import annotations

import hashlib
import json
import resource
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from fuse_ls.changes.git import read_changes
from fuse_ls.emulator import Emulator
from tests.changes.gitrepo import Repo
from tests.changes.test_review_changes_cli import BASE, fuse

GB3 = 3 * 1024**3
# Far above what a review of one small file reads (Python's own modules included), far
# below the 3 GB git read whole before.
READ_BOUND = 512 * 1024**2


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


def bytes_read() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


def children_cpu_s() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


needs_proc_io = pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="Linux /proc")


def sparse(repo: Repo, path: str) -> None:
    with open(repo.root / path, "r+b" if (repo.root / path).exists() else "wb") as fh:
        fh.truncate(GB3)


def project(repo: Repo) -> Repo:
    repo.write("app.py", BASE)
    repo.write("big.py", "x = 1\n")
    repo.commit("base")
    return repo


@needs_proc_io
@pytest.mark.parametrize("scope", [["--uncommitted"], ["--diff", "main"]])
def test_a_sparse_3_gb_file_is_skipped_unread(repo: Repo, emu: Emulator, scope: list[str]) -> None:
    project(repo)
    if scope[0] == "--diff":
        repo.git("checkout", "-q", "-b", "topic")
    sparse(repo, "big.py")
    (repo.root / "app.py").write_text(BASE.replace("return data\n", "return eval(data)\n"))
    before = bytes_read()
    res = fuse(["review", *scope, "--format", "json"], repo, emu)
    read = bytes_read() - before
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert {"path": "big.py", "reason": "larger than 2 MB (3.0 GB)"} in data["skipped_files"]
    assert [u["path"] for u in data["units"]] == ["app.py"]
    assert read < READ_BOUND, f"the review read {read:,} bytes"


def test_the_text_output_names_the_skipped_file(repo: Repo, emu: Emulator) -> None:
    project(repo)
    sparse(repo, "big.py")
    sparse(repo, "new_big.py")
    res = fuse(["review", "--uncommitted"], repo, emu)
    assert res.returncode == 0, res.stderr
    assert "skipped big.py: larger than 2 MB (3.0 GB)" in res.stdout
    assert "skipped new_big.py: new file larger than 2 MB (3.0 GB)" in res.stdout


@pytest.fixture(scope="module")
def zero_blob(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, bytes]:
    """A 3 GB blob of zeros as a loose object (14 MB compressed), made without git, which
    would take many seconds to hash and compress it."""
    header = b"blob %d\0" % GB3
    digest = hashlib.sha1(header)
    pack = zlib.compressobj(1)
    parts = [pack.compress(header)]
    chunk = bytes(64 * 1024**2)
    for _ in range(GB3 // len(chunk)):
        digest.update(chunk)
        parts.append(pack.compress(chunk))
    parts.append(pack.flush())
    return digest.hexdigest(), b"".join(parts)


def add_blob(repo: Repo, blob: tuple[str, bytes], path: str) -> None:
    sha, data = blob
    folder = repo.root / ".git" / "objects" / sha[:2]
    folder.mkdir(exist_ok=True)
    (folder / sha[2:]).write_bytes(data)
    repo.git("update-index", "--add", "--cacheinfo", f"100644,{sha},{path}")


def test_a_staged_3_gb_blob_is_skipped_uninflated(repo: Repo, zero_blob: tuple[str, bytes]) -> None:
    project(repo)
    repo.write("app.py", BASE + "\nprint(1)\n")
    repo.git("add", "app.py")
    add_blob(repo, zero_blob, "big.py")
    add_blob(repo, zero_blob, "new_big.py")
    before = children_cpu_s()
    files = {f.path: f for f in read_changes(repo.root, "staged").files}
    used = children_cpu_s() - before
    assert files["big.py"].skipped == "larger than 2 MB (3.0 GB)"
    assert files["new_big.py"].skipped == "larger than 2 MB (3.0 GB)"
    assert files["app.py"].changed == {17, 18}
    assert used < 2.0, f"git used {used:.1f} s of CPU"  # inflating 3 GB twice: over 10 s


def test_a_3_gb_file_of_the_base_is_not_diffed(repo: Repo, zero_blob: tuple[str, bytes]) -> None:
    """Replacing (or deleting) a huge file: git would read the old side whole."""
    project(repo)
    add_blob(repo, zero_blob, "big.py")
    add_blob(repo, zero_blob, "gone.py")
    repo.git("commit", "-q", "-m", "huge")
    (repo.root / "big.py").write_text("x = 2\n")
    (repo.root / "gone.py").unlink(missing_ok=True)
    repo.write("app.py", BASE + "\nprint(1)\n")
    before = children_cpu_s()
    changes = read_changes(repo.root, "diff", "HEAD")
    used = children_cpu_s() - before
    files = {f.path: f for f in changes.files}
    assert files["big.py"].skipped == "larger than 2 MB before this change (3.0 GB)"
    assert files["gone.py"].skipped == "deleted (nothing left to review)"
    assert files["app.py"].changed == {17, 18}
    assert used < 2.0, f"git used {used:.1f} s of CPU"
    assert sorted(files) == ["app.py", "big.py", "gone.py"]


def test_an_unsaved_buffer_over_the_cap_is_skipped_as_the_saved_file_is(repo: Repo) -> None:
    """The editor's change review reads open buffers: an unsaved paste into a small file
    went to the models whole (3 MB here), where the same text saved is skipped."""
    repo.write("gen.js", "x = 1\n")
    repo.write("bundle.js", "y = 2\n" * 600_000)  # 3.6 MB, unchanged
    repo.commit("base")
    pasted = "z = 3\n" * 524_288  # 3 MB
    buffers = {repo.root / "gen.js": pasted, repo.root / "bundle.js": "y = 2\n" * 600_000}
    files = {f.path: f for f in read_changes(repo.root, "uncommitted", buffers=buffers).files}
    assert set(files) == {"gen.js"}  # an unchanged file stays out, however large
    assert files["gen.js"].text is None
    assert files["gen.js"].skipped == "larger than 2 MB (3,145,728 bytes)"
    repo.write("gen.js", pasted)
    saved = {f.path: f for f in read_changes(repo.root, "uncommitted").files}
    assert saved["gen.js"].skipped == files["gen.js"].skipped
