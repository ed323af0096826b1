"""The bundled demo: a small Python file with real issues and a three-model pool script."""

from __future__ import annotations

from pathlib import Path

from fuse_ls.emulator.script import EmulatorScript, load_script

DEMO_POOL: tuple[str, ...] = (
    "anthropic/claude-sonnet-4.5",
    "openai/gpt-5",
    "google/gemini-2.5-pro",
)
DEMO_JUDGE = "openai/gpt-5-mini"

_HERE = Path(__file__).parent


def demo_source_path() -> Path:
    """`orders.py`: eval of user input, SQL by concatenation, a mutable default, bare except."""
    return _HERE / "orders.py"


def demo_script() -> EmulatorScript:
    return load_script(_HERE / "script.json")
