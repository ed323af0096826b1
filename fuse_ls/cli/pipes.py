"""A closed output pipe (`fuse-ls review --json | head`) ends a command quietly."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable


def quiet_on_closed_pipe(command: Callable[[], int]) -> int:
    """Run `command`; when the reader of stdout went away, stop without a traceback.

    That is not an error (as in `fuse-ls stats`): the reader chose to stop reading.
    """
    try:
        code = command()
        if not sys.stdout.closed:  # `serve` may have closed it
            sys.stdout.flush()  # buffered output meets the closed pipe here, not at exit
    except BrokenPipeError:
        # Python flushes stdout again at exit; point it at /dev/null so that flush is quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return code
