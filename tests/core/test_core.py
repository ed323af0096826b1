"""The core package: imports nothing else of fuse-ls, and holds the rules kept once."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import fuse_ls
from fuse_ls.config import Settings, TelemetrySettings
from fuse_ls.core import hosts, lines
from fuse_ls.core.paths import data_dir
from fuse_ls.fusion.engine import FusionEngine
from fuse_ls.telemetry import store

CORE = Path(fuse_ls.__file__).parent / "core"


def test_core_imports_nothing_else_of_fuse_ls() -> None:
    outside = []
    for path in sorted(CORE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            outside += [
                f"{path.name}: {n}"
                for n in names
                if n.startswith("fuse_ls") and not n.startswith("fuse_ls.core")
            ]
    assert outside == []


async def test_spend_explanations_and_transcripts_share_one_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FUSE_LS_DATA_DIR used to be ignored by the engine's spend ledger."""
    monkeypatch.setenv("FUSE_LS_DATA_DIR", str(tmp_path / "data"))
    settings = Settings()
    async with FusionEngine(settings) as engine:
        ledger = engine.ledger.folder
    assert ledger == tmp_path / "data" / "spend"
    assert store.data_dir(settings.telemetry) == tmp_path / "data"
    assert data_dir(settings.telemetry.data_dir) == tmp_path / "data"


def test_a_configured_data_dir_expands_home_everywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Explanations used to be written under a literal `~` folder in the working dir."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("FUSE_LS_DATA_DIR", raising=False)
    configured = TelemetrySettings(data_dir="~/fuse-data")
    assert data_dir(configured.data_dir) == tmp_path / "fuse-data"
    assert store.data_dir(configured) == tmp_path / "fuse-data"
    assert store.data_dir(configured, override=tmp_path / "flag") == tmp_path / "flag"


@pytest.mark.parametrize(
    ("url", "openrouter", "loopback"),
    [
        ("https://openrouter.ai/api/v1", True, False),
        ("https://eu.openrouter.ai/api/v1", True, False),
        ("https://openrouter.ai.attacker.example/api/v1", False, False),
        ("https://notopenrouter.ai/v1", False, False),
        ("http://localhost:11434/v1", False, True),
        ("http://127.0.0.2:8080/api/v1", False, True),
        ("http://[::1]:8080/v1", False, True),
        ("http://10.0.0.1/v1", False, False),
    ],
)
def test_hosts_are_recognised_once(url: str, openrouter: bool, loopback: bool) -> None:
    assert hosts.is_openrouter(url) is openrouter
    assert hosts.is_loopback(url) is loopback


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a\nb\n", ["a", "b"]),
        ("a\r\nb\rc", ["a", "b", "c"]),
        ("a\x0cb\u2028c\nd", ["a\x0cb\u2028c", "d"]),  # not line breaks for LSP
        ("", []),
        ("\n", [""]),
    ],
)
def test_one_line_model(text: str, expected: list[str]) -> None:
    assert lines.split_lines(text) == expected
    assert lines.line_count(text) == len(expected)
    assert "".join(lines.split_keepends(text)) == text


def test_prompts_number_lines_as_the_editor_does() -> None:
    """U+2028 and form feed used to start a new number: every later line was one too high."""
    from fuse_ls.core.types import FusionRequest
    from fuse_ls.fusion.prompts import number_lines

    code = "a = '\u2028'\nb = 1\x0c\nc = 2\n"
    assert number_lines(code, 10).splitlines()[-1] == "12| c = 2"
    assert FusionRequest("review", "m.py", "python", code, 10).end_line == 12


def test_every_host_check_uses_the_one_rule() -> None:
    """The OpenTelemetry provider name used to call any host ending in openrouter.ai
    OpenRouter; uploads had their own loopback rule."""
    from fuse_ls.telemetry import otel, upload

    assert otel.provider_name("openai/gpt-5", "https://notopenrouter.ai/v1") == "openai"
    assert otel.provider_name("openai/gpt-5", "https://openrouter.ai/api/v1") == "openrouter"
    assert upload.is_loopback("[::1]") and upload.is_loopback("app.localhost")
    assert hosts.is_loopback("http://app.localhost:8080/v1")
