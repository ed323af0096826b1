"""The configurations shipped for editors the suite cannot run (Helix, Zed, Sublime Text)
and the Emacs package start today's server command, send settings fuse-ls accepts
without a problem, and call commands the server has."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from fuse_ls.config import load_settings
from fuse_ls.server import actions

EDITORS = Path(__file__).resolve().parents[2] / "editors"
SERVE = ["fuse-ls", "serve"]
COMMANDS = {v for k, v in vars(actions).items() if k.isupper() and isinstance(v, str)}
COMMANDS = {c for c in COMMANDS if re.fullmatch(r"fuse-ls\.[a-zA-Z]+", c)}


def jsonc(path: Path) -> Any:
    """Zed's and Sublime's settings files: JSON with whole-line // comments."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return json.loads("\n".join(line for line in lines if not line.lstrip().startswith("//")))


def accepted(editor_settings: Any, tmp_path: Path) -> Any:
    """The settings as the server would load them from the editor, with no problem."""
    loaded = load_settings(
        workspace=tmp_path, editor=editor_settings, env={}, user_config=tmp_path / "none.toml"
    )
    assert not loaded.problems, [str(p) for p in loaded.problems]
    return loaded.settings


def test_the_server_has_the_commands_the_editors_call() -> None:
    assert {"fuse-ls.review", "fuse-ls.cancel", "fuse-ls.stats"} <= COMMANDS
    called = re.findall(
        r'"command_name": "([^"]+)"', (EDITORS / "sublime" / "Default.sublime-commands").read_text()
    )
    called += re.findall(r'"(fuse-ls\.[a-zA-Z]+)"', (EDITORS / "emacs" / "fuse-ls.el").read_text())
    called += re.findall(
        r"lsp-workspace-command (fuse-ls\.[a-zA-Z]+)", (EDITORS / "helix" / "README.md").read_text()
    )
    assert len(called) >= 8
    assert set(called) <= COMMANDS


def test_helix(tmp_path: Path) -> None:
    config = tomllib.loads((EDITORS / "helix" / "languages.toml").read_text())
    server = config["language-server"]["fuse-ls"]
    assert [server["command"], *server["args"]] == SERVE
    # Helix sends `config` as initializationOptions and answers workspace/configuration
    # for section "fuseLs" from it: both must be the settings the file shows.
    settings = accepted(server["config"], tmp_path)
    assert settings.quorum.deadline_s == server["config"]["fuseLs"]["quorum"]["deadline_s"]
    assert all("fuse-ls" in lang["language-servers"] for lang in config["language"])


@pytest.mark.parametrize("key", ["initialization_options", "settings"])
def test_zed(key: str, tmp_path: Path) -> None:
    lsp = jsonc(EDITORS / "zed" / "settings.json")["lsp"]["fuse-ls"]
    accepted(lsp[key], tmp_path)
    source = (EDITORS / "zed" / "src" / "lib.rs").read_text()
    assert 'worktree.which("fuse-ls")' in source and 'vec!["serve".to_string()]' in source


@pytest.mark.parametrize("key", ["initializationOptions", "settings"])
def test_sublime(key: str, tmp_path: Path) -> None:
    client = jsonc(EDITORS / "sublime" / "LSP.sublime-settings")["clients"]["fuse-ls"]
    assert client["command"] == SERVE
    accepted(client[key], tmp_path)


def test_emacs_starts_the_server() -> None:
    source = (EDITORS / "emacs" / "fuse-ls.el").read_text()
    default = re.search(r"\(defcustom fuse-ls-command '\(([^)]*)\)", source)
    assert default and default.group(1).split() == [f'"{w}"' for w in SERVE]


def test_the_protocol_lists_every_command_and_code_action_kind() -> None:
    protocol = (EDITORS.parent / "docs" / "protocol.md").read_text(encoding="utf-8")
    table = protocol[protocol.index("## Commands") :].split("\n## ", 1)[0]
    assert set(re.findall(r"^\| `(fuse-ls\.[a-zA-Z]+)`", table, re.M)) == COMMANDS
    kinds = {actions.KIND_REVIEW, actions.KIND_EXPLAIN, actions.KIND_FIX, actions.KIND_VERIFY_FIX}
    assert not [kind for kind in kinds if f"`{kind}`" not in protocol]
