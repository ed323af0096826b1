"""The words a command line takes (modes, tasks, severities): plain constants, so parsing
`fuse-ls --help` or `--version` loads no attrs classes (core/types.py re-exports them)."""

from __future__ import annotations

from typing import Literal

Mode = Literal["best-of", "merge", "debate"]
MODES: tuple[Mode, ...] = ("best-of", "merge", "debate")
Task = Literal["review", "explain", "fix"]
Severity = Literal["error", "warning", "info", "hint"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info", "hint")
