"""fuse-ls: multi-model consensus (fused review, explain, fix) for any LSP editor."""

import logging
import sys

# The one place the version is written: pyproject.toml reads it from here (hatch's
# version source), so asking for it costs nothing (importlib.metadata and its search of
# the installed distributions cost ~20-40 ms in a server's start-up or `--version`).
__version__ = "0.1.0"


# stamina (provider and upload retries) logs every scheduled retry at WARNING; with no
# logging configured, Python would print each one on a terminal in the middle of the CLI's
# output. fuse-ls reports retries itself; a configured log (`serve --log-file`) still
# receives stamina's records.
logging.getLogger("stamina").addHandler(logging.NullHandler())

# `import httpx` also imports httpx's own command-line client (click, pygments,
# rich.progress, rich.syntax: 40-80 ms, the largest single import of a cached review
# rerun) whenever click is installed, and uvicorn (the emulator) requires click. fuse-ls
# never runs that client; a module marked absent makes httpx define its stub `main`, as
# it does when click is missing. Skipped if httpx was imported before fuse-ls.
if "httpx" not in sys.modules:
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
