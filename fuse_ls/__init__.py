"""fuse-ls: multi-model consensus (fused review, explain, fix) for any LSP editor."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("fuse-ls")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0"
