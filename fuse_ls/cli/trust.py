"""`fuse-ls trust [PATH] [--list | --remove]`: the workspaces whose config file may
choose endpoints, API key variables and the data directory."""

from __future__ import annotations

import argparse
from pathlib import Path

from fuse_ls import trust
from fuse_ls.cli import _console
from fuse_ls.safetext import visible


def cmd_trust(args: argparse.Namespace) -> int:
    out, err = _console(), _console(stderr=True)
    try:
        if args.list:
            folders = trust.trusted_folders()
            for folder in folders:
                # A folder name from a tarball may hold an ESC: shown, not run.
                out.print(visible(str(folder)), markup=False)
            if not folders:
                listed_in = visible(str(trust.default_trust_file()))
                err.print(f"No trusted workspaces ({listed_in}).", markup=False)
            return 0
        folder = Path(args.path or ".")
        if args.remove:
            if trust.remove_trusted(folder):
                err.print(f"No longer trusted: {visible(str(folder.resolve()))}", markup=False)
                return 0
            err.print(f"Not on the trust list: {visible(str(folder.resolve()))}", markup=False)
            return 1
        if not folder.is_dir():
            err.print(f"error: {visible(str(folder))} is not a directory.", markup=False)
            return 2
        added = trust.add_trusted(folder)
    except trust.TrustFileError as exc:
        err.print(visible(f"error: {exc}"), markup=False)
        return 2
    err.print(
        f"Trusted: {visible(str(added))}. Its .fuse-ls.toml / [tool.fuse-ls] may now choose "
        "endpoints, API key variables, the telemetry directory and OpenTelemetry endpoint, and the "
        "verify.commands run to check fixes (limits can still only be tightened).",
        markup=False,
    )
    return 0
