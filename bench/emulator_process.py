"""The model emulator in its own process, so its CPU never counts against what is measured."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from typing import Any


class EmulatorProcess:
    def __init__(self, script: dict[str, Any]) -> None:
        fd, self.script_path = tempfile.mkstemp(suffix=".json")
        with os.fdopen(fd, "w") as fh:
            json.dump(script, fh)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "fuse_ls.emulator", "--port", "0", "--script", self.script_path],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        # The emulator's first line is "fuse-ls emulator listening on <base url>".
        self.base_url = self.proc.stdout.readline().rsplit(" ", 1)[-1].strip()

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        os.unlink(self.script_path)
