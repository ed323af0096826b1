# Over 500 lines: intent sidecars and SQL lineage scans share the file-walking limits here.
"""What a review sees beyond the selected lines: the code's stated purpose (intent) and
who consumes it downstream (blast radius), plus turning a selection into a FusionRequest.

Intent and lineage follow Rocky's conventions (see the shared notes): a TOML sidecar with
the model's stem, folder `_defaults.toml`, inline `---toml` front matter, and
`.rocky/catalog/catalog.json`. Everything here reads user files that may be half-written
while the user types, so every reader tolerates bad input and returns None instead of
raising, and all scanning is capped so the editor never stalls.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import time
import tomllib
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from attrs import frozen

from fuse_ls.config import Settings
from fuse_ls.core.errors import BadRange
from fuse_ls.core.lines import split_keepends
from fuse_ls.core.types import FusionRequest, Task

_log = logging.getLogger(__name__)

# --- languages ------------------------------------------------------------------------

_BY_SUFFIX: dict[str, str] = {
    **dict.fromkeys((".py", ".pyi", ".pyw"), "python"),
    ".sql": "sql",
    ".rocky": "rocky",
    **dict.fromkeys((".ts", ".mts", ".cts"), "typescript"),
    ".tsx": "typescriptreact",
    **dict.fromkeys((".js", ".mjs", ".cjs"), "javascript"),
    ".jsx": "javascriptreact",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    **dict.fromkeys((".kt", ".kts"), "kotlin"),
    ".scala": "scala",
    **dict.fromkeys((".c", ".h"), "c"),
    **dict.fromkeys((".cc", ".cpp", ".cxx", ".hh", ".hpp", ".hxx"), "cpp"),
    ".cs": "csharp",
    ".swift": "swift",
    **dict.fromkeys((".m", ".mm"), "objective-c"),
    ".rb": "ruby",
    ".php": "php",
    ".lua": "lua",
    **dict.fromkeys((".sh", ".bash", ".zsh"), "shellscript"),
    ".ps1": "powershell",
    ".r": "r",
    ".jl": "julia",
    ".dart": "dart",
    **dict.fromkeys((".ex", ".exs"), "elixir"),
    ".erl": "erlang",
    ".hs": "haskell",
    **dict.fromkeys((".ml", ".mli"), "ocaml"),
    **dict.fromkeys((".clj", ".cljs"), "clojure"),
    ".zig": "zig",
    ".vue": "vue",
    ".svelte": "svelte",
    **dict.fromkeys((".html", ".htm"), "html"),
    ".css": "css",
    ".scss": "scss",
    ".json": "json",
    ".jsonc": "jsonc",
    **dict.fromkeys((".yaml", ".yml"), "yaml"),
    ".toml": "toml",
    **dict.fromkeys((".md", ".markdown"), "markdown"),
    **dict.fromkeys((".tf", ".tfvars"), "terraform"),
    ".proto": "proto",
    ".graphql": "graphql",
    ".dockerfile": "dockerfile",
}
_BY_NAME = {"dockerfile": "dockerfile", "makefile": "makefile", "gnumakefile": "makefile"}


def language_for(path: Path) -> str:
    """An LSP language id from the file name; "plaintext" when unknown."""
    return _BY_NAME.get(path.name.lower()) or _BY_SUFFIX.get(path.suffix.lower(), "plaintext")


# --- small tolerant readers -----------------------------------------------------------

_SQL_SUFFIXES = (".sql", ".rocky")
_MAX_META_BYTES = 256 * 1024  # sidecars and defaults are tiny; anything bigger is not one
_MAX_SQL_BYTES = 1024 * 1024
_MAX_CATALOG_BYTES = 64 * 1024 * 1024


def _read_text(path: Path, limit: int) -> str | None:
    try:
        if not path.is_file() or path.stat().st_size > limit:
            return None
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _parse_toml(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        return tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError):
        # Half-typed (or nested past the parser's depth): no intent, no error popup.
        return None


# Rocky's inline form: `---toml` on the first line, TOML, then a line starting `---`.
_FRONT_MATTER = re.compile(r"\A\s*---toml[ \t]*\r?\n(.*?)^---", re.DOTALL | re.MULTILINE)


def _front_matter(text: str) -> dict[str, Any] | None:
    found = _FRONT_MATTER.match(text)
    return _parse_toml(found[1]) if found else None


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _absolute(path: Path) -> Path:
    # Not resolve(): following symlinks costs syscalls and would move a linked models
    # folder out of its workspace.
    return Path(os.path.abspath(path))


# --- intent ---------------------------------------------------------------------------

_MAX_INTENT_CHARS = 2000
_MAX_COLUMNS = 40
_MAX_DESCRIPTION_CHARS = 300


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _intent_of(config: dict[str, Any] | None) -> str | None:
    intent = (config or {}).get("intent")
    return intent.strip() or None if isinstance(intent, str) else None


def _column_lines(config: dict[str, Any] | None) -> list[str]:
    columns = (config or {}).get("columns")
    if not isinstance(columns, dict):
        return []
    lines = []
    for name, value in columns.items():
        # `[columns.amount] description = "..."`; a bare string is accepted too.
        text = value.get("description") if isinstance(value, dict) else value
        if isinstance(text, str) and text.strip():
            lines.append(f"- {name}: {_clip(text, _MAX_DESCRIPTION_CHARS)}")
    if len(lines) > _MAX_COLUMNS:
        lines = [*lines[:_MAX_COLUMNS], f"- ... {len(lines) - _MAX_COLUMNS} more columns"]
    return lines


def _model_config(path: Path, sql: bool) -> tuple[dict[str, Any] | None, str]:
    """The model's own config: the sidecar, else (SQL only) inline front matter."""
    if path.suffix.lower() != ".toml":
        sidecar = path.with_suffix(".toml")
        config = _parse_toml(_read_text(sidecar, _MAX_META_BYTES))
        if config is not None:
            return config, sidecar.name
    if sql:
        text = _read_text(path, _MAX_SQL_BYTES)
        if text is not None:
            return _front_matter(text), f"front matter of {path.name}"
    return None, ""


def _folder_defaults(path: Path, workspace: Path | None) -> tuple[str | None, str]:
    """The nearest `_defaults.toml` intent, walking up to the workspace root (inclusive).

    Outside a workspace only the file's own folder counts: walking up to / could pick
    up an unrelated project's defaults.
    """
    folder = _absolute(path).parent
    root = _absolute(workspace) if workspace is not None else None
    while True:
        defaults = folder / "_defaults.toml"
        intent = _intent_of(_parse_toml(_read_text(defaults, _MAX_META_BYTES)))
        if intent:
            return intent, str(defaults.relative_to(root)) if root else defaults.name
        if root is None or folder == root or not _inside(folder, root):
            return None, ""
        folder = folder.parent


def find_intent(path: Path, workspace: Path | None) -> str | None:
    """The stated purpose of the code at `path`, as short text for the prompt, or None.

    Order follows Rocky's loader (rocky-core `models.rs`): the model's own config (the
    sidecar `<stem>.toml`, or for SQL without a sidecar its `---toml` front matter) wins
    over folder `_defaults.toml`; a model-level statement is more specific than a folder
    default. Column descriptions come from the model's own config. Non-SQL files only
    get the generic sidecar.
    """
    sql = path.suffix.lower() in _SQL_SUFFIXES
    config, label = _model_config(path, sql)
    intent = _intent_of(config)
    if intent is None and sql:
        intent, label = _folder_defaults(path, workspace)
    columns = _column_lines(config)
    if intent is None and not columns:
        return None
    parts = [f"Stated intent (from {label}): {_clip(intent, 800)}"] if intent else []
    if columns:
        parts += ["Column descriptions:", *columns]
    return _clip_lines(parts, _MAX_INTENT_CHARS)


def _clip_lines(lines: list[str], limit: int) -> str:
    text = "\n".join(lines)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- blast radius: Rocky's catalog ----------------------------------------------------

_MAX_NAMES = 15  # per list in the text: the reviewer needs the shape, not an inventory
# A model or column name is an identifier; the catalog is the repository's, and 1,000-
# character names in it made every review of the model's file cost 80 times as much.
_MAX_NAME_CHARS = 120
_MAX_BLAST_CHARS = 4000
_MAX_DEPTH = 3  # direct consumers, then two more levels as "indirectly"


@frozen
class _Catalog:
    downstream: dict[str, tuple[str, ...]]  # model (lowercase) -> direct consumers
    columns: dict[tuple[str, str], tuple[str, ...]]  # (source, target) -> target columns


_catalog_cache: dict[Path, tuple[tuple[int, int], _Catalog | None]] = {}


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _load_catalog(path: Path) -> _Catalog | None:
    """Parse catalog.json once per version of the file: it can be megabytes."""
    try:
        stat = path.stat()
    except OSError:
        return None
    stamp = (stat.st_mtime_ns, stat.st_size)
    cached = _catalog_cache.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    catalog = None
    text = _read_text(path, _MAX_CATALOG_BYTES)
    try:
        data = json.loads(text) if text is not None else None
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, dict):
        downstream: dict[str, tuple[str, ...]] = {}
        for asset in _dicts(data.get("assets")):
            name = asset.get("model_name")
            if isinstance(name, str):
                downstream[name.lower()] = tuple(_strings(asset.get("downstream_models")))
        columns: dict[tuple[str, str], list[str]] = {}
        for edge in _dicts(data.get("edges")):
            source, target, column = (
                edge.get(k) for k in ("source_model", "target_model", "target_column")
            )
            if isinstance(source, str) and isinstance(target, str) and isinstance(column, str):
                found = columns.setdefault((source.lower(), target.lower()), [])
                if column not in found:
                    found.append(column)
        catalog = _Catalog(downstream, {k: tuple(v) for k, v in columns.items()})
    _catalog_cache.clear()  # one workspace at a time is the common case; bound memory
    _catalog_cache[path] = (stamp, catalog)
    return catalog


def _walk_downstream(
    start: str, consumers: Callable[[str], Iterable[str]], limit: int = 60
) -> tuple[list[str], list[str]]:
    """Direct consumers and those further down (breadth first, cycles and caps safe)."""
    direct: list[str] = list(dict.fromkeys(consumers(start)))
    seen = {start.lower(), *(d.lower() for d in direct)}
    further: list[str] = []
    level = direct
    for _ in range(_MAX_DEPTH - 1):
        following = []
        for name in level:
            for consumer in consumers(name):
                if consumer.lower() not in seen and len(seen) < limit:
                    seen.add(consumer.lower())
                    following.append(consumer)
        further += following
        level = following
    return direct, further


def _listing(names: list[str], columns: dict[str, list[str]] | None = None) -> str:
    shown = []
    for name in names[:_MAX_NAMES]:
        cols = [_clip(c, _MAX_NAME_CHARS) for c in (columns or {}).get(name.lower(), ())]
        name = _clip(name, _MAX_NAME_CHARS)
        shown.append(
            f"{name} ({', '.join(cols[:8])}{', ...' if len(cols) > 8 else ''})" if cols else name
        )
    more = len(names) - _MAX_NAMES
    return ", ".join(shown) + (f", and {more} more" if more > 0 else "")


def _describe(
    direct: list[str], further: list[str], columns: dict[str, list[str]], note: str
) -> str | None:
    if not direct:
        return None
    # Alphabetical: stable across runs and file systems, so prompts (and caches) are too.
    text = "Downstream: " + _listing(sorted(direct, key=str.lower), columns)
    if further:
        text += "; indirectly: " + _listing(sorted(further, key=str.lower))
    return _clip_lines([text + (f" ({note})" if note else "")], _MAX_BLAST_CHARS)


def _from_catalog(catalog: _Catalog, model: str) -> str | None:
    key = model.lower()
    if key not in catalog.downstream:
        return None

    def consumers(name: str) -> tuple[str, ...]:
        return catalog.downstream.get(name.lower(), ())

    direct, further = _walk_downstream(model, consumers)
    columns = {d.lower(): list(catalog.columns.get((key, d.lower()), ())) for d in direct}
    return _describe(direct, further, columns, "from .rocky/catalog/catalog.json")


# --- blast radius: scanning plain SQL models ------------------------------------------
#
# sqlglot rather than a regex: it ignores names in comments and strings, tells a CTE
# called `orders` from the model `orders`, handles quoting and schema prefixes, and its
# lineage says which *output columns* of a consumer come from this model, which is the
# part a reviewer cares about. Parsing is only done for files whose text mentions a
# name we look for, and a regex on FROM/JOIN/ref() remains for what sqlglot cannot
# parse (dbt Jinja, Rocky's DSL, dialect oddities).

_MAX_FILES = 2000
_MAX_ENTRIES = 50_000  # directory entries looked at, files or not
# All the models' text is kept while the scan runs: 2,000 (sparse, so free to ship) 1 MB
# files were 2 GB in memory, as fast as the disk could give them.
_MAX_SCAN_CHARS = 64 * 1024 * 1024
_SCAN_BUDGET_S = 1.5
# sqlglot is pure Python and cannot be interrupted, so the scan's deadline is only checked
# between files: these bound one file's share. Parsing 50,000 characters takes up to a
# second; column lineage costs more (5,000 UNION branches: 41 s), so bigger files give
# the tables they read without columns.
_MAX_PARSE_CHARS = 50_000
_MAX_LINEAGE_CHARS = 20_000
_SKIP_DIRS = {"node_modules", "target", "dist", "build", "venv", "__pycache__", "site-packages"}


@frozen
class _Refs:
    tables: frozenset[str]  # lowercase model names this file reads
    columns: dict[str, tuple[str, ...]]  # lowercase source -> output columns that use it


def _iter_models(root: Path, deadline: float) -> Iterator[Path]:
    """SQL/Rocky files under root, skipping hidden and vendored folders, capped."""
    seen_files = entries = 0
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS)
        entries += len(dirs) + len(files)
        for name in sorted(files):
            if name.lower().endswith(_SQL_SUFFIXES):
                seen_files += 1
                yield Path(folder) / name
                if seen_files >= _MAX_FILES:
                    return
        if entries >= _MAX_ENTRIES or time.monotonic() > deadline:
            return


def _scan_root(path: Path, workspace: Path | None) -> Path:
    """The models folder holding `path` (Rocky and dbt keep models under `models/`),
    else the workspace, else the file's folder."""
    path = _absolute(path)
    root = _absolute(workspace) if workspace is not None else None
    for folder in path.parents:
        if root is not None and not _inside(folder, root):
            break
        if folder.name.lower() == "models":
            return folder
    return root if root is not None and _inside(path, root) else path.parent


_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)
_FROM_JOIN = re.compile(r"""\b(?:from|join)\s+((?:[\w"`\[\]]+\.)*[\w"`\[\]]+)""", re.IGNORECASE)
_DBT_REF = re.compile(r"""\bref\(\s*['"]([\w.]+)['"]\s*\)""")


def _regex_refs(text: str) -> _Refs:
    text = _COMMENTS.sub(" ", text)
    names = {m.rsplit(".", 1)[-1].strip('"`[]').lower() for m in _FROM_JOIN.findall(text)}
    names |= {m.lower() for m in _DBT_REF.findall(text)}
    return _Refs(frozenset(names), {})


def _sqlglot_refs(text: str) -> _Refs | None:
    """Tables read and per-source output columns; None when sqlglot cannot parse it."""
    try:
        import sqlglot  # lazy: a tenth of a second to import, only SQL reviews need it
        from sqlglot import exp
        from sqlglot.lineage import lineage
    except ImportError:
        return None
    found = _FRONT_MATTER.match(text)
    if found:  # keep line numbers, drop Rocky's TOML header
        text = "\n" * found[0].count("\n") + text[found.end() :].split("\n", 1)[-1]
    # Third-party parser on arbitrary, possibly half-typed SQL: any failure means "use
    # the regex", never an exception in the editor.
    try:
        statements = [s for s in sqlglot.parse(text) if s is not None]
    except Exception:
        return None
    tables: set[str] = set()
    columns: dict[str, list[str]] = {}
    for statement in statements:
        ctes = {cte.alias_or_name.lower(): cte for cte in statement.find_all(exp.CTE)}
        for table in statement.find_all(exp.Table):
            name = table.name.lower()
            if name in ctes and not _within(table, ctes[name]):
                continue  # a reference to the CTE, not to the model of that name
            if name:
                tables.add(name)
        query = statement if isinstance(statement, exp.Query) else statement.find(exp.Query)
        if query is None:
            continue
        if len(text) > _MAX_LINEAGE_CHARS:
            continue
        try:
            # trim_selects copies the whole SELECT once per output column: 250 columns
            # took 3 s, 1,000 took 38 s. Untrimmed, the lineage walk is the same.
            nodes = lineage(None, query, {}, trim_selects=False)
        except Exception:
            continue  # tables are known; only the column detail is lost
        for output, node in nodes.items():
            for source in {
                n.expression.name.lower()
                for n in node.walk()
                if isinstance(n.expression, exp.Table)
            }:
                columns.setdefault(source, []).append(output)
    return _Refs(frozenset(tables), {k: tuple(dict.fromkeys(v)) for k, v in columns.items()})


def _within(node: Any, ancestor: Any) -> bool:
    parent = node.parent
    while parent is not None:
        if parent is ancestor:
            return True
        parent = parent.parent
    return False


def _load_sql_parser() -> None:
    """Import sqlglot now if it is installed. The scan budget is for reading the project:
    the parser's one-time import can take longer than the whole budget on a busy machine,
    which made the first SQL review of a session report a "partial scan"."""
    with contextlib.suppress(ImportError):
        import sqlglot.lineage  # noqa: F401


_WORDS = re.compile(r"\w+")
_ASCII_WORD = re.compile(r"[a-z0-9_]+")


class _ModelScan:
    """The SQL models under one folder, read once, and what parsing them found.

    A change review asks for every changed file's blast radius; `blast` gives each file
    what a scan made for that file alone would (itself left out), so prompts and cache
    keys do not depend on which files were reviewed together. Text is read when the scan
    is made: files edited later in the run are not seen.
    """

    def __init__(self, root: Path, deadline: float) -> None:
        self.root = root
        found = list(_iter_models(root, deadline))
        self.listed_all = len(found) < _MAX_FILES
        # One file more than a scan for a single file keeps: that one leaves itself out,
        # so it may read past the cap by its own size (see `blast`).
        cap = _MAX_SCAN_CHARS + _MAX_SQL_BYTES
        self.entries: list[tuple[str, Path, str | None]] = []  # (model key, file, text)
        self._paths: list[str] = []
        kept = 0
        self.read_all = True
        for file in found:
            if time.monotonic() > deadline or kept > cap:
                self.read_all = False
                break
            text = _read_text(file, _MAX_SQL_BYTES)
            self.entries.append((file.stem.lower(), file, text))
            self._paths.append(str(_absolute(file)))  # compared with each file asked about
            kept += len(text) if text is not None else 0
        self._refs: dict[int, _Refs] = {}
        self._readers: dict[str, frozenset[int]] = {}  # model key -> entries reading it
        # model key (an ASCII word) -> ASCII entries holding it as a word, made when
        # first needed: one pass over the text instead of one per name looked for
        self._names: dict[str, list[int]] | None = None
        self._unindexed: list[int] = []  # entries with text beyond ASCII
        self._keys: set[str] = set()  # the model keys _names may hold

    def _refs_of(self, index: int) -> _Refs:
        if index not in self._refs:
            _key, file, text = self.entries[index]
            assert text is not None
            # Rocky DSL is not SQL, and a huge generated file could parse for seconds.
            sql = file.suffix.lower() == ".sql" and len(text) <= _MAX_PARSE_CHARS
            parsed = _sqlglot_refs(text) if sql else None
            self._refs[index] = parsed or _regex_refs(text)
        return self._refs[index]

    def _readers_of(self, key: str, deadline: float) -> tuple[frozenset[int], bool]:
        """Entries whose model reads `key`, and whether that is all of them: a search
        the deadline cut short is not remembered (the next file asking searches again)."""
        if key in self._readers:
            return self._readers[key], True
        word = re.compile(rf"\b{re.escape(key)}\b", re.IGNORECASE)
        found: list[int] = []
        for index in self._mentioning(key, deadline):
            other, _file, text = self.entries[index]
            if time.monotonic() > deadline:
                return frozenset(found), False
            # The word search is the cheap filter that keeps parsing to likely consumers.
            if (
                text is not None
                and other != key
                and word.search(text)
                and key in self._refs_of(index).tables
            ):
                found.append(index)
        self._readers[key] = frozenset(found)
        return self._readers[key], True

    def _mentioning(self, key: str, deadline: float) -> Iterable[int]:
        """Entries whose text may hold `key` as a word (all of them, in order, when the
        index cannot tell): the word search then runs on a few files, not on all."""
        if self._names is None:
            self._keys = {k for k, _f, _t in self.entries if _ASCII_WORD.fullmatch(k)}
            self._names = {}
            for index, (_key, _file, text) in enumerate(self.entries):
                if text is None:
                    continue
                # Case-insensitive matching outside ASCII has its own rules (the Kelvin
                # sign matches "k"), and splitting a big file into words costs more than
                # searching it for a name: such files are searched for every name.
                big = len(text) > _MAX_PARSE_CHARS or time.monotonic() > deadline
                if big or not text.isascii():
                    self._unindexed.append(index)
                else:
                    for name in self._keys.intersection(_WORDS.findall(text.lower())):
                        self._names.setdefault(name, []).append(index)
        if key not in self._keys:  # not a model of this folder, or not an ASCII word
            return range(len(self.entries))
        return sorted([*self._names.get(key, ()), *self._unindexed])

    def blast(self, path: Path, model: str, deadline: float) -> str | None:
        me = str(_absolute(path))
        # The models as a scan for `path` alone keeps them: by name, the last file of a
        # name winning, in the order names were first seen, without `path` itself, and
        # no more text than _MAX_SCAN_CHARS.
        files: dict[str, int] = {}
        partial = not self.listed_all or not self.read_all
        kept = 0
        for index, (key, _file, text) in enumerate(self.entries):
            if kept > _MAX_SCAN_CHARS:
                partial = True
                break
            if text is not None and self._paths[index] != me:
                files[key] = index
                kept += len(text)
        position = {index: place for place, index in enumerate(files.values())}

        def consumers(name: str) -> list[str]:
            nonlocal partial
            readers, complete = self._readers_of(name.lower(), deadline)
            partial = partial or not complete
            shown = sorted((position[i], i) for i in readers if i in position)
            return [self.entries[i][1].stem for _place, i in shown]

        direct, further = _walk_downstream(model, consumers)
        columns = {
            d.lower(): list(self._refs_of(files[d.lower()]).columns.get(model.lower(), ()))
            for d in direct
        }
        if time.monotonic() > deadline:
            partial = True
        return _describe(
            direct,
            further,
            columns,
            f"found in {self.root.name}/" + (", partial scan" if partial else ""),
        )


def _blast_radius(
    path: Path, workspace: Path | None, scan: Callable[[Path, float], _ModelScan]
) -> str | None:
    if path.suffix.lower() not in _SQL_SUFFIXES:
        return None
    model = path.stem
    if workspace is not None:
        catalog = _load_catalog(workspace / ".rocky" / "catalog" / "catalog.json")
        if catalog is not None and model.lower() in catalog.downstream:
            return _from_catalog(catalog, model)
    try:
        _load_sql_parser()
        deadline = time.monotonic() + _SCAN_BUDGET_S
        return scan(_scan_root(path, workspace), deadline).blast(path, model, deadline)
    except (OSError, RecursionError, KeyError):
        return None


def find_blast_radius(path: Path, workspace: Path | None) -> str | None:
    """Who reads the SQL model at `path`, as "Downstream: fct_revenue (total), dash_orders".

    Rocky's catalog (`.rocky/catalog/catalog.json` in the workspace) is used when it
    knows the model; otherwise the models folder is scanned. None for non-SQL files and
    for models nobody reads (or none was found within the scan's limits).
    """
    return _blast_radius(path, workspace, _ModelScan)


class BlastRadii:
    """`find_blast_radius` for many files of one run (a change review): each models
    folder is scanned once, and each file's answer is the one `find_blast_radius` gives.

    The scan's time budget covers reading the folder once, then each file's search of
    it; a search cut short by its budget is not remembered. Files edited while the run
    goes on are not read again: the run reviews the repository as it was when it began.
    """

    def __init__(self, workspace: Path | None) -> None:
        self.workspace = workspace
        self._scans: dict[Path, _ModelScan] = {}
        self._answers: dict[Path, str | None] = {}

    @property
    def scans(self) -> int:
        """Folders scanned so far (read once each)."""
        return len(self._scans)

    def __call__(self, path: Path) -> str | None:
        key = _absolute(path)
        if key not in self._answers:
            self._answers[key] = _blast_radius(path, self.workspace, self._scan)
            _log.debug("blast radius of %s: %s", path.name, self.summary())
        return self._answers[key]

    def _scan(self, root: Path, deadline: float) -> _ModelScan:
        scan = self._scans.get(root)
        if scan is None:
            scan = self._scans[root] = _ModelScan(root, deadline)
            _log.debug(
                "blast radius: scanned %s once for this run (%d models read)",
                root.name + "/",
                len(scan.entries),
            )
        return scan

    def summary(self) -> str:
        """For the debug log: how often the scans answered, and how much was parsed."""
        return (
            f"{len(self._answers)} file(s) answered from "
            f"{len(self._scans)} scan(s), "
            f"{sum(len(s._refs) for s in self._scans.values())} model(s) parsed"
        )


# --- the request ----------------------------------------------------------------------


def _display_path(path: Path, workspace: Path | None) -> str:
    absolute = _absolute(path)
    if workspace is not None:
        root = _absolute(workspace)
        if _inside(absolute, root) and absolute != root:
            return absolute.relative_to(root).as_posix()
    home = Path.home()
    if _inside(absolute, home):  # the user name is nobody's business, models included
        return "~/" + absolute.relative_to(home).as_posix()
    return absolute.as_posix()


@lru_cache(maxsize=4)
def redacted_document(text: str) -> str:
    """The whole document, redacted. Cached: review, explain and a fix of the same
    version of a big file redact it once (about 0.15 s per 1,000 lines)."""
    from fuse_ls.core.redact import redact

    return redact(text).text


def build_request(
    task: Task,
    path: Path,
    text: str,
    start_line: int | None,
    end_line: int | None,
    settings: Settings,
    workspace: Path | None,
    language: str | None = None,
    *,
    instruction: str | None = None,
) -> FusionRequest:
    """The FusionRequest for lines start_line..end_line (1-based, inclusive) of `text`.

    None for either line (an empty selection) means the whole document. Raises BadRange
    when the lines are not in the document. Reads sidecars and scans SQL models for the
    intent and blast radius: call it off the event loop.

    With `review.redact_secrets`, the whole document is redacted before the selection
    is cut, so a secret that starts above the selection (a private key's BEGIN line) is
    still recognised; redaction keeps every line, so line numbers do not move.
    """
    if settings.review.redact_secrets:
        text = redacted_document(text)
    lines = split_keepends(text)
    count = len(lines)
    if start_line is None or end_line is None:
        first, code, before, after = 1, text, "", ""
    else:
        last = end_line
        # The editor shows an empty last line after a final newline; selecting down to
        # it is selecting to the end.
        if last == count + 1 and text.endswith(("\n", "\r")):
            last = count
        if start_line < 1 or start_line > count or last < start_line or last > count:
            raise BadRange(start_line, end_line, count)
        first = start_line
        context = max(settings.review.context_lines, 0)
        code = "".join(lines[first - 1 : last])
        before = "".join(lines[max(first - 1 - context, 0) : first - 1])
        after = "".join(lines[last : last + context])
    # An untitled buffer or a notebook cell has a name but no folder: the server's own
    # working directory is not it (no sidecar from there, no path of it in the prompt).
    on_disk = path.is_absolute()
    return FusionRequest(
        task=task,
        path=_display_path(path, workspace) if on_disk else path.as_posix(),
        language=language or language_for(path),
        code=code,
        start_line=first,
        context_before=before,
        context_after=after,
        intent=find_intent(path, workspace) if on_disk else None,
        blast_radius=find_blast_radius(path, workspace) if on_disk else None,
        instruction=instruction,
    )
