"""Dependencies point down (docs/architecture.md): a package imports only packages of a
lower layer, so `fuse-ls stats` (telemetry) never loads the CLI's parser and a front-end
can be replaced without touching what is under it. Read from the source, lazy imports
inside functions included."""

from __future__ import annotations

import ast
from pathlib import Path

import fuse_ls

PACKAGE = Path(fuse_ls.__file__).parent

# Bottom first. "fuse_ls" is the package's own __init__ (the version); a top-level module
# (context.py) is named as a package is. Two packages of one layer import neither way.
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"core"}),
    frozenset({"fuse_ls"}),
    frozenset({"safetext", "retry_after", "trust", "sarif"}),
    frozenset({"config"}),
    frozenset({"context", "fusion", "verify", "emulator"}),
    frozenset({"changes", "telemetry"}),
    frozenset({"cli", "server"}),
    frozenset({"eval", "__main__"}),
)
RANK = {name: rank for rank, layer in enumerate(LAYERS) for name in layer}


def _part(module: str) -> str:
    """The package (or top-level module) of `fuse_ls.x.y`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "fuse_ls"


def _imports(path: Path, package: Path) -> list[str]:
    """The fuse_ls modules `path` (in `package`) imports, anywhere in it."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: a relative import"
            if node.module == "fuse_ls":
                # `from fuse_ls import cli` imports the subpackage.
                found += [
                    f"fuse_ls.{a.name}"
                    if (package / a.name).is_dir() or (package / f"{a.name}.py").is_file()
                    else "fuse_ls"
                    for a in node.names
                ]
            elif node.module:
                found.append(node.module)
    return [name for name in found if name == "fuse_ls" or name.startswith("fuse_ls.")]


def upward_imports(package: Path) -> list[str]:
    """Every import in `package` of a package that is not in a lower layer."""
    wrong: list[str] = []
    for path in sorted(package.rglob("*.py")):
        module = ".".join(path.relative_to(package.parent).with_suffix("").parts)
        mine = _part(module)
        for target in _imports(path, package):
            theirs = _part(target)
            if theirs != mine and RANK[theirs] >= RANK[mine]:
                wrong.append(f"{module} imports {target}")
    return wrong


def test_every_package_has_a_layer() -> None:
    names = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    names |= {p.name for p in PACKAGE.iterdir() if p.is_dir() and any(p.glob("*.py"))}
    assert names - set(RANK) == set(), "place these in LAYERS (and docs/architecture.md)"


def test_imports_point_down() -> None:
    assert upward_imports(PACKAGE) == []


def test_an_upward_import_is_caught(tmp_path: Path) -> None:
    # The check itself, on a copy of one lower module that imports the CLI's parser.
    package = tmp_path / "fuse_ls"
    (package / "telemetry").mkdir(parents=True)
    (package / "telemetry" / "stats.py").write_text(
        "def main():\n    from fuse_ls.cli.parser import build_parser\n"
    )
    (package / "core").mkdir()
    (package / "core" / "arguments.py").write_text("from fuse_ls import telemetry\n")
    assert upward_imports(package) == [
        "fuse_ls.core.arguments imports fuse_ls.telemetry",
        "fuse_ls.telemetry.stats imports fuse_ls.cli.parser",
    ]
