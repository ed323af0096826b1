"""Command line entry points. Placeholder until the CLI lands."""

from __future__ import annotations

import sys

from fuse_ls import __version__


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "--version":
        print(f"fuse-ls {__version__}")
        return 0
    print("fuse-ls: not implemented yet", file=sys.stderr)
    return 2
