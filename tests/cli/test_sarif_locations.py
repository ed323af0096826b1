"""Where a SARIF result says its file is: a valid URI reference, whatever the path."""

from __future__ import annotations

from pathlib import PurePosixPath, PureWindowsPath

from fuse_ls.sarif import file_artifact, source_artifact


def test_a_file_outside_the_workspace_is_a_file_uri() -> None:
    # Its path used to be written as it was: "C:\\src\\app.py" is no URI at all.
    assert file_artifact(PureWindowsPath(r"C:\src\my app.py")) == {
        "uri": "file:///C:/src/my%20app.py"
    }
    assert file_artifact(PurePosixPath("/home/me/app.py")) == {"uri": "file:///home/me/app.py"}


def test_relative_paths_are_percent_encoded() -> None:
    assert file_artifact(PurePosixPath("src/app.py")) == {"uri": "src/app.py"}
    assert file_artifact(PurePosixPath("src/my app#1.py")) == {"uri": "src/my%20app%231.py"}
    assert source_artifact("docs/50% done.py") == {
        "uri": "docs/50%25%20done.py",
        "uriBaseId": "%SRCROOT%",
    }
