"""fuse-ls: multi-model consensus (fused review, explain, fix) for any LSP editor."""

import logging
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    __version__: str
else:
    # Hidden from mypy, which would otherwise type every misspelt `fuse_ls.name` as str.

    def __getattr__(name: str) -> str:
        # The installed version is looked up on first use: importlib.metadata and its
        # search of the installed distributions cost ~20 ms that most commands never need.
        if name != "__version__":
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version("fuse-ls")
        except PackageNotFoundError:  # running from a source tree without an install
            found = "0.0.0"
        globals()["__version__"] = found
        return found


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
