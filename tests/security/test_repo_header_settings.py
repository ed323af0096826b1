"""A repository's `provider.title` / `provider.referer` are sent as HTTP headers. A
non-ASCII title (`"café reviews"`) crashed every review with a traceback, and one with a
line break failed every model call; both are now a settings error naming the file, and
the review runs with the default."""

from __future__ import annotations

from pathlib import Path

import pytest

from fuse_ls.emulator import Emulator
from tests.pool_sample import CODE, POOL, home_env, run_cli


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("title", "café reviews"),
        ("title", "x\r\nAuthorization: Bearer stolen"),
        ("referer", "https://example.test/\nX-Evil: 1"),
    ],
)
def test_a_repositorys_bad_header_setting_is_an_error_and_the_review_runs(
    emulator: Emulator, tmp_path: Path, key: str, value: str
) -> None:
    project = tmp_path / "repo"
    project.mkdir()
    (project / "app.py").write_text(CODE)
    escaped = value.replace("\r", "\\r").replace("\n", "\\n")
    (project / ".fuse-ls.toml").write_text(f'[provider]\n{key} = "{escaped}"\n', encoding="utf-8")
    env = home_env(emulator.base_url, tmp_path / "home")
    env.update(FUSE_LS_MODELS=",".join(POOL), OPENROUTER_API_KEY="test-key")
    done = run_cli(["review", "app.py", "--format", "json"], env, project)
    said = " ".join(done.stderr.split())
    assert "Traceback" not in said
    assert f"Invalid setting 'provider.{key}'" in said and "sent as an HTTP header" in said
    assert '"findings"' in done.stdout
    header = {"title": "x-openrouter-title", "referer": "http-referer"}[key]
    default = {"title": "fuse-ls", "referer": "https://github.com/fuse-ls/fuse-ls"}[key]
    sent = [r.headers.get(header) for r in emulator.requests]
    assert sent and all(v == default for v in sent)
