"""The settings the docs name are the settings fuse-ls has: docs/protocol.md's table lists
every key with its real default, and no page names a key or a FUSE_LS_ variable that
does not exist (a user who copies one would get an "unknown key" warning or nothing)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import attrs

from fuse_ls.config import _ENV_SHORTCUTS, _USER_CONFIG_ENV
from fuse_ls.config.spelling import snake
from fuse_ls.core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL = ROOT / "docs" / "protocol.md"
# Pages a user reads for settings (the emulator's README has its own script keys).
PAGES = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
    *sorted((ROOT / "editors").rglob("README.md")),
    ROOT / "vscode-extension" / "README.md",
]


def real_settings() -> dict[str, Any]:
    """Every settings key (`section.key`, or a top-level key) and its default."""
    out: dict[str, Any] = {}
    defaults = Settings()
    for field in attrs.fields(Settings):
        value = getattr(defaults, field.name)
        if attrs.has(type(value)) and field.name != "judge":
            for sub in attrs.fields(type(value)):
                out[f"{field.name}.{sub.name}"] = getattr(value, sub.name)
        else:
            out[field.name] = value
    return out


def documented_rows() -> dict[str, str]:
    """docs/protocol.md's settings table: key -> documented default. A row such as
    `timeouts.connect_s` / `request_s` with `10 / 120` stands for two keys."""
    text = PROTOCOL.read_text(encoding="utf-8")
    table = text[text.index("| key | type | default | meaning |") :].split("\n\n", 1)[0]
    rows: dict[str, str] = {}
    for line in table.splitlines()[2:]:
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        keys = re.findall(r"`([a-z_.]+)`", cells[0])
        section = keys[0].rsplit(".", 1)[0] + "." if "." in keys[0] else ""
        names = [keys[0]] + [section + k for k in keys[1:]]
        defaults = [d.strip() for d in cells[2].split(" / ")]
        for i, name in enumerate(names):
            rows[name] = defaults[i] if len(defaults) == len(names) else cells[2]
    return rows


def _literal(text: str) -> Any:
    """A documented default as a value, or ... when it is prose ("3 frontier models")."""
    if text in ("true", "false"):
        return text == "true"
    if text == "null" or text.startswith("null ("):
        return None
    if text == "`[]`":
        return []
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return float(text)
    if re.fullmatch(r"`[^`]+`(, `[^`]+`)+", text):
        return re.findall(r"`([^`]+)`", text)
    if re.fullmatch(r"`[^`]+`", text):
        return text.strip("`")
    return ...


def test_the_settings_table_lists_every_key_and_no_other() -> None:
    documented, real = documented_rows(), real_settings()
    assert not set(real) - set(documented), "add to docs/protocol.md's settings table"
    assert not set(documented) - set(real), "docs/protocol.md documents keys that do not exist"


def test_documented_defaults_are_the_real_ones() -> None:
    real = real_settings()
    checked = 0
    for key, shown in documented_rows().items():
        expected = _literal(shown)
        if expected is ...:
            continue
        value = real[key]
        if isinstance(expected, float) and not isinstance(value, bool):
            assert value == expected, f"docs/protocol.md: {key} defaults to {value!r}, not {shown}"
        else:
            # The judge's and the pool's defaults are model specs, shown by their ids.
            actual = [m.id for m in value] if key == "pool" else getattr(value, "id", value)
            assert actual == expected, f"docs/protocol.md: {key} defaults to {value!r}, not {shown}"
        checked += 1
    assert checked > 30  # the parser above still understands the table


def test_every_key_a_page_names_exists() -> None:
    real = real_settings()
    sections = {key.split(".")[0] for key in real if "." in key}
    missing = []
    for page in PAGES:
        for m in re.finditer(r"`([a-z][a-zA-Z_]*)\.([a-z][a-zA-Z_]*)\b", page.read_text()):
            section, key = m.group(1), snake(m.group(2))
            if section in sections and f"{section}.{key}" not in real:
                missing.append(f"{page.relative_to(ROOT)}: {m.group(0)}`")
    assert not missing


def test_every_variable_a_page_names_exists() -> None:
    """FUSE_LS_<SECTION>__<KEY> must name a real key; other FUSE_LS_ names must be read
    somewhere in the code, the scripts or the extension."""
    real = real_settings()
    sources = "\n".join(
        p.read_text(encoding="utf-8", errors="replace")
        for folder in ("fuse_ls", "scripts", "vscode-extension/src", "vscode-extension/e2e")
        for p in (ROOT / folder).rglob("*")
        if p.suffix in (".py", ".sh", ".ts", ".mjs", ".js") and "node_modules" not in p.parts
    )
    wrong = []
    for page in PAGES:
        for name in set(re.findall(r"\bFUSE_LS_[A-Z0-9_]+", page.read_text())):
            if "__" in name:
                section, key = name[len("FUSE_LS_") :].lower().split("__", 1)
                if f"{section}.{key}" not in real:
                    wrong.append(f"{page.relative_to(ROOT)}: {name}")
            elif name not in sources:
                wrong.append(f"{page.relative_to(ROOT)}: {name}")
    assert not wrong


def test_every_variable_the_config_reads_is_documented() -> None:
    text = PROTOCOL.read_text(encoding="utf-8")
    names = [*_ENV_SHORTCUTS, "FUSE_LS_MODELS", _USER_CONFIG_ENV]
    missing = [n for n in names if not re.search(rf"\b{n}\b", text)]
    assert not missing, "list them in docs/protocol.md#settings"
