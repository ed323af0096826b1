"""The fuse-ls language server (pygls). `serve_main` is what `fuse-ls serve` runs."""

from __future__ import annotations


def serve_main(argv: list[str]) -> int:
    # Imported on call: `fuse_ls.cli` imports this package for every subcommand, and
    # only `serve` needs pygls and the engine loaded.
    from fuse_ls.server.server import serve_main as run

    return run(argv)


__all__ = ["serve_main"]
