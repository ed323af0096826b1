"""Reading a change from real git repositories made in the test."""

from __future__ import annotations

from pathlib import Path

import pytest

from fuse_ls.changes.git import GitError, read_changes
from tests.changes.gitrepo import Repo

BASE = "".join(f"line {i}\n" for i in range(1, 21))


def by_path(changes: object) -> dict[str, object]:
    return {f.path: f for f in changes.files}  # type: ignore[attr-defined]


def test_uncommitted_sees_modified_added_and_untracked_lines(repo: Repo) -> None:
    repo.write("a.txt", BASE)
    repo.commit("base")
    repo.write("a.txt", BASE.replace("line 5\n", "line five\n").replace("line 12\n", "x\ny\n"))
    repo.write("new.txt", "one\ntwo\n")  # untracked
    repo.write("staged.txt", "s\n")
    repo.git("add", "staged.txt")
    files = by_path(read_changes(repo.root, "uncommitted"))
    assert files["a.txt"].changed == {5, 12, 13}
    assert files["new.txt"].changed == {1, 2} and files["new.txt"].status == "added"
    assert files["staged.txt"].changed == {1}
    assert files["a.txt"].text.splitlines()[4] == "line five"


def test_staged_reads_the_index_not_the_working_tree(repo: Repo) -> None:
    repo.write("a.txt", BASE)
    repo.commit("base")
    repo.write("a.txt", BASE.replace("line 3\n", "staged\n"))
    repo.git("add", "a.txt")
    repo.write("a.txt", BASE.replace("line 3\n", "staged\n").replace("line 9\n", "unstaged\n"))
    changes = read_changes(repo.root, "staged")
    (f,) = changes.files
    assert f.changed == {3}
    assert "unstaged" not in f.text and "staged" in f.text


def test_diff_defaults_to_the_merge_base_with_main(repo: Repo) -> None:
    repo.write("a.txt", BASE)
    repo.commit("base")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("a.txt", BASE.replace("line 2\n", "feature\n"))
    repo.commit("feature work")
    repo.git("checkout", "-q", "main")
    repo.write("other.txt", "main moved on\n")
    repo.commit("main work")
    repo.git("checkout", "-q", "feature")
    changes = read_changes(repo.root, "diff")
    # Only the branch's own work: main's later commit is not part of this change.
    assert [f.path for f in changes.files] == ["a.txt"]
    assert changes.files[0].changed == {2}
    assert "since main" in changes.description


def test_renames_deletions_binaries_and_mode_changes_say_why(repo: Repo) -> None:
    repo.write("old_name.py", "def f():\n    return 1\n" * 10)
    repo.write("gone.txt", "bye\n")
    repo.write("image.bin", b"\x00\x01\x02" * 50)
    repo.write("plain.sh", "echo hi\n")
    repo.commit("base")
    repo.git("mv", "old_name.py", "new_name.py")
    repo.git("rm", "-q", "gone.txt")
    repo.write("image.bin", b"\x00\x09\x02" * 50)
    (repo.root / "plain.sh").chmod(0o755)
    files = by_path(read_changes(repo.root, "uncommitted"))
    assert files["new_name.py"].status == "renamed"
    assert files["new_name.py"].old_path == "old_name.py"
    assert files["new_name.py"].skipped == "renamed without content changes"
    assert files["gone.txt"].status == "deleted" and "deleted" in files["gone.txt"].skipped
    assert files["image.bin"].skipped == "binary file"
    assert files["plain.sh"].skipped == "mode change only"
    assert read_changes(repo.root, "uncommitted").reviewable == ()


def test_renamed_and_edited_file_is_reviewed_under_its_new_name(repo: Repo) -> None:
    repo.write("old.py", BASE)
    repo.commit("base")
    repo.git("mv", "old.py", "new.py")
    repo.write("new.py", BASE.replace("line 7\n", "seven\n"))
    (f,) = read_changes(repo.root, "uncommitted").reviewable
    assert (f.path, f.old_path, f.changed) == ("new.py", "old.py", frozenset({7}))


def test_submodule_pointer_is_skipped_with_a_reason(repo: Repo, tmp_path: Path) -> None:
    sub = Repo(tmp_path / "sub")
    sub.write("s.txt", "1\n")
    sub.commit("s1")
    repo.write("a.txt", "a\n")
    repo.commit("base")
    repo.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub.root), "sub")
    repo.commit("add submodule")
    sub.write("s.txt", "2\n")
    sub.commit("s2")
    (repo.root / "sub" / "s.txt").write_text("2\n")
    inner = Repo.__new__(Repo)
    inner.root = repo.root / "sub"
    inner.git("add", "-A")
    inner.git("commit", "-q", "-m", "moved")
    files = by_path(read_changes(repo.root, "uncommitted"))
    assert "submodule" in files["sub"].skipped
    assert files["sub"].text is None


def test_pure_deletion_marks_where_code_went_missing(repo: Repo) -> None:
    repo.write("a.txt", BASE)
    repo.commit("base")
    repo.write("a.txt", BASE.replace("line 10\nline 11\n", ""))
    (f,) = read_changes(repo.root, "uncommitted").files
    assert f.changed == {9}


def test_pathspec_limits_the_change(repo: Repo) -> None:
    repo.write("src/a.py", "a = 1\n")
    repo.write("docs/b.md", "b\n")
    repo.commit("base")
    repo.write("src/a.py", "a = 2\n")
    repo.write("docs/b.md", "c\n")
    changes = read_changes(repo.root, "uncommitted", pathspec=[str(repo.root / "src")])
    assert [f.path for f in changes.files] == ["src/a.py"]


def test_detached_head_diff_works_and_no_default_branch_is_explained(repo: Repo) -> None:
    repo.write("a.txt", BASE)
    first = repo.commit("base")
    repo.write("a.txt", BASE.replace("line 1\n", "one\n"))
    repo.commit("second")
    repo.git("checkout", "-q", "--detach", "HEAD")
    changes = read_changes(repo.root, "diff", base=first)
    assert changes.files[0].changed == {1}
    repo.git("branch", "-q", "-m", "main", "work")  # no main/master any more
    with pytest.raises(GitError, match="name the base"):
        read_changes(repo.root, "diff")


def test_no_commit_yet(repo: Repo) -> None:
    repo.write("a.py", "x = 1\n")
    repo.git("add", "a.py")
    assert read_changes(repo.root, "staged").files[0].changed == {1}
    assert read_changes(repo.root, "uncommitted").files[0].changed == {1}
    with pytest.raises(GitError, match="no commits yet, so there is no base"):
        read_changes(repo.root, "diff")


def test_not_a_repository_and_unknown_base(tmp_path: Path, repo: Repo) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(GitError, match="not inside a git repository"):
        read_changes(plain, "uncommitted")
    repo.write("a.txt", "a\n")
    repo.commit()
    with pytest.raises(GitError, match="Unknown revision 'nope'"):
        read_changes(repo.root, "diff", base="nope")


def test_odd_file_names_are_exact(repo: Repo) -> None:
    name = 'dir with space/quo"te\tand tab.py'
    repo.write(name, "a = 1\n")
    repo.commit("base")
    repo.write(name, "a = 2\n")
    (f,) = read_changes(repo.root, "uncommitted").files
    assert f.path == name and f.changed == {1}


def test_emptied_and_oversized_files_say_why(repo: Repo) -> None:
    repo.write("empty_me.py", "x = 1\ny = 2\n")
    repo.write("big.txt", "a\n")
    repo.commit("base")
    repo.write("empty_me.py", "")
    repo.write("big.txt", "a\n" * (1024 * 1024 + 10))
    repo.write("huge_new.txt", "b\n" * (1024 * 1024 + 10))
    files = by_path(read_changes(repo.root, "uncommitted"))
    assert files["empty_me.py"].skipped == "emptied (nothing left to review)"
    assert files["big.txt"].skipped == "larger than 2 MB (2,097,172 bytes)"
    assert files["huge_new.txt"].skipped == "new file larger than 2 MB (2,097,172 bytes)"


def test_staged_oversized_files_are_skipped_too(repo: Repo) -> None:
    """The pre-commit hook reviews --staged: a staged generated file over 2 MB (a bundle,
    a lockfile) is skipped like in the working tree, not sent to the models whole."""
    repo.write("big.txt", "a\n")
    repo.commit("base")
    repo.write("big.txt", "a\n" * (1024 * 1024 + 10))
    repo.write("huge_new.txt", "b\n" * (1024 * 1024 + 10))
    repo.write("small.txt", "c\n")
    repo.git("add", "big.txt", "huge_new.txt", "small.txt")
    files = by_path(read_changes(repo.root, "staged"))
    assert files["big.txt"].skipped == "larger than 2 MB (2,097,172 bytes)"
    assert files["huge_new.txt"].skipped == "larger than 2 MB (2,097,172 bytes)"
    assert files["small.txt"].skipped is None and files["small.txt"].changed == {1}


@pytest.mark.parametrize(
    "new",
    [
        BASE.replace("line 5\n", "line five\n").replace("line 12\n", "x\ny\n"),
        BASE.replace("line 7\n", "").replace("line 8\n", ""),  # a pure deletion
        "top\n" + BASE + "bottom\n",
        BASE.replace("line 1\n", ""),
    ],
)
def test_unsaved_buffers_mark_the_same_lines_git_would(repo: Repo, new: str) -> None:
    repo.write("a.txt", BASE)
    repo.write("clean.txt", "same\n")
    repo.commit("base")
    file = repo.root / "a.txt"
    buffered = by_path(read_changes(repo.root, "uncommitted", buffers={file: new}))
    assert (repo.root / "a.txt").read_text() == BASE  # the buffer was never saved
    repo.write("a.txt", new)
    saved = by_path(read_changes(repo.root, "uncommitted"))
    assert buffered["a.txt"].changed == saved["a.txt"].changed
    assert buffered["a.txt"].text == new
    # A buffer equal to the disk adds nothing; one that undoes the change removes it.
    same = read_changes(repo.root, "uncommitted", buffers={repo.root / "clean.txt": "same\n"})
    assert "clean.txt" not in by_path(same)
    undone = read_changes(repo.root, "uncommitted", buffers={file: BASE})
    assert "a.txt" not in by_path(undone)
    assert by_path(read_changes(repo.root, "staged", buffers={file: BASE})) == {}


def test_a_buffer_of_a_file_of_repeated_lines_is_compared_like_git(repo: Repo) -> None:
    """Blank lines, braces, a data file of one value: a matcher quadratic in repeated
    lines kept the server's thread busy (10,000 identical lines: 42 s; this file: hours).
    git's own diff marks the edited line at once, as it does for the saved file."""
    lines = ["x\n"] * 200_000
    repo.write("data.txt", "".join(lines))
    repo.commit("base")
    lines[150_000] = "y\n"
    edited = "".join(lines)
    file = repo.root / "data.txt"
    buffered = by_path(read_changes(repo.root, "uncommitted", buffers={file: edited}))
    assert buffered["data.txt"].changed == {150_001}
    repo.write("data.txt", edited)
    assert by_path(read_changes(repo.root, "uncommitted"))["data.txt"].changed == {150_001}


@pytest.mark.parametrize("scope", ["uncommitted", "staged"])
def test_changed_text_beyond_the_total_cap_is_skipped_with_a_note(repo: Repo, scope: str) -> None:
    """Each file is under the per-file cap, but together they are not held at once: the
    files past the total are skipped and say why (the review lists the reason)."""
    for name in ("a.py", "b.py", "c.py"):
        repo.write(name, "old = 0\n")
    repo.commit("base")
    body = "x = 1\n" * 50  # 300 bytes
    for name in ("a.py", "b.py", "c.py", "d.py", "e.py"):  # 3 modified, 2 new
        repo.write(name, body)
    repo.write("logo.bin", b"\0" * 50)  # binary: skipped as such, holds no budget
    if scope == "staged":
        repo.git("add", "-A")
    changes = read_changes(repo.root, scope, max_total_bytes=700)  # type: ignore[arg-type]
    files = by_path(changes)
    assert [f.path for f in changes.reviewable] == ["a.py", "b.py"]
    for name in ("c.py", "d.py", "e.py"):
        f = files[name]
        assert f.text is None  # type: ignore[attr-defined]
        assert "700 bytes" in f.skipped and "review fewer paths" in f.skipped  # type: ignore[attr-defined]
    assert "binary" in files["logo.bin"].skipped  # type: ignore[attr-defined]
