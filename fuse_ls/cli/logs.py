"""Where the log records of a CLI run go: stderr, as one-line notes like the CLI's own.

With no handler configured, Python printed every warning of fuse-ls and of the libraries
under it as it was written (an OpenTelemetry exporter retrying a collector that is down
wrote eight lines of connection-pool reprs into a review's output), and a logged
exception as a whole traceback. A run shows fuse-ls's warnings, and only the errors of
libraries (not the OpenTelemetry exporters': fuse-ls says once that the export did not
finish), each as one `note:` line; `FUSE_LS_LOG_LEVEL=debug` (or info, warning)
shows every logger's records at that level, named, with tracebacks, for a bug report.
"""

from __future__ import annotations

import logging
import os
import sys

LEVEL_ENV = "FUSE_LS_LOG_LEVEL"
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}


class _Notes(logging.Handler):
    """One line per record on the stderr of the moment (a test may have replaced it)."""

    def __init__(self, level: int | None) -> None:
        super().__init__(logging.DEBUG)
        self.verbose = level  # None: the default notes
        self.addFilter(self._shown)

    def _shown(self, record: logging.LogRecord) -> bool:
        if self.verbose is not None:
            return record.levelno >= self.verbose
        ours = record.name == "fuse_ls" or record.name.startswith("fuse_ls.")
        if record.name.startswith("opentelemetry.exporter."):
            return False  # the OpenTelemetry export says once, itself, that it did not finish
        return record.levelno >= (logging.WARNING if ours else logging.ERROR)

    def format(self, record: logging.LogRecord) -> str:
        from fuse_ls.safetext import printable

        if self.verbose is not None:
            head = f"{record.levelname.lower()}: {record.name}: {record.getMessage()}"
            if record.exc_info:
                head += "\n" + logging.Formatter().formatException(record.exc_info)
            return printable(head)
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            # What went wrong, not where: the traceback is for FUSE_LS_LOG_LEVEL=debug.
            exc = record.exc_info[1]
            text += f": {type(exc).__name__}: {exc}" if str(exc) else f": {type(exc).__name__}"
        if not (record.name == "fuse_ls" or record.name.startswith("fuse_ls.")):
            text = f"{record.name.partition('.')[0]}: {text}"
        return "note: " + " ".join(printable(text).split())

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
            stream = sys.stderr
            if stream is not None:
                stream.write(line + "\n")
                stream.flush()
        except Exception:
            self.handleError(record)


def to_stderr(env: dict[str, str] | None = None) -> None:
    """Send this process's log records to stderr as the CLI shows its notes (idempotent:
    an in-process caller may run `main` many times)."""
    raw = (os.environ if env is None else env).get(LEVEL_ENV, "").strip().lower()
    level = _LEVELS.get(raw)
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _Notes)]:
        root.removeHandler(handler)
    root.addHandler(_Notes(level))
    if level is not None:
        root.setLevel(level)
