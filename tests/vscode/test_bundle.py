"""The server copy bundled in the .vsix (vscode-extension/bundled, scripts/bundle-server.mjs)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
PINS = REPO / "vscode-extension" / "bundled" / "requirements.txt"
# Compiled, so not in the pure-Python bundle: the server falls back without it.
LEFT_OUT = {"watchfiles"}


def _name(text: str) -> str:
    return re.sub(r"[-_.]+", "-", text).lower()


def _pins() -> dict[str, str]:
    pins = {}
    for line in PINS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"{line!r} is not an exact pin"
            pins[_name(name)] = version
    return pins


def test_every_runtime_dependency_is_pinned_within_its_range() -> None:
    """A dependency added to pyproject.toml must be added to the bundle too, or the
    extension's server fails to import on a machine without fuse-ls."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = _pins()
    for spec in project["dependencies"]:
        requirement = Requirement(spec)
        name = _name(requirement.name)
        if name in LEFT_OUT:
            assert name not in pins
            continue
        assert name in pins, f"{name} is a dependency but not in {PINS.name}"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{name}=={pins[name]} does not satisfy {requirement.specifier}"
        )
