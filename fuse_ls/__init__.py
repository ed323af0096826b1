"""fuse-ls: multi-model consensus (fused review, explain, fix) for any LSP editor."""

import logging
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("fuse-ls")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0"

# stamina (provider and upload retries) logs every scheduled retry at WARNING; with no
# logging configured, Python would print each one on a terminal in the middle of the CLI's
# output. fuse-ls reports retries itself; a configured log (`serve --log-file`) still
# receives stamina's records.
logging.getLogger("stamina").addHandler(logging.NullHandler())
