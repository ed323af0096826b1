"""Module size: a module over 500 lines says on its first line why it stays whole."""

from __future__ import annotations

from pathlib import Path

import fuse_ls

PACKAGE = Path(fuse_ls.__file__).parent
LIMIT = 500
REASON = "# Over 500 lines: "


def test_every_big_module_gives_its_reason_on_the_first_line() -> None:
    unexplained = []
    for path in sorted(PACKAGE.rglob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        if len(lines) <= LIMIT:
            continue
        first = lines[0] if lines else ""
        # A reason is a few words after the prefix, not the bare prefix.
        if not first.startswith(REASON) or len(first.removeprefix(REASON).split()) < 3:
            unexplained.append(f"{path.relative_to(PACKAGE.parent)} ({len(lines)} lines)")
    assert not unexplained, f"split these modules or start them with '{REASON}<why>': {unexplained}"
