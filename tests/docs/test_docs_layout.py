"""docs/architecture.md's layout is the package's layout, and the bench scripts the docs
name exist with the flags shown beside them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import fuse_ls

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "fuse_ls"
ARCHITECTURE = ROOT / "docs" / "architecture.md"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def layout() -> dict[str, str]:
    """The layout block of docs/architecture.md: package ("" for top-level modules) ->
    the text describing it."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    block = re.search(r"## Layout\n+```\n(.*?)```", text, re.S)
    assert block, "docs/architecture.md has no layout block"
    parts: dict[str, str] = {"": ""}
    current = ""
    for line in block.group(1).splitlines()[1:]:  # the first line is `fuse_ls/`
        entry = re.match(r"  (\w+)(/|\.py)?\s", line + " ")
        if entry and not line.startswith("   "):
            current = entry.group(1) if entry.group(2) == "/" else ""
            parts.setdefault(current, "")
        parts[current] += line + "\n"
    return parts


def modules(package: Path) -> set[str]:
    return {p.name for p in package.glob("*.py") if p.name not in ("__init__.py", "__main__.py")}


def test_every_package_is_in_the_layout() -> None:
    packages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert packages - set(layout()) == set(), "add these packages to docs/architecture.md"


def test_every_module_the_layout_names_exists() -> None:
    wrong = []
    for package, text in layout().items():
        for name in re.findall(r"(?<![\w/.])(\w+\.py)\b", text):
            if not (PACKAGE / package / name).is_file():
                wrong.append(f"{package or 'fuse_ls'}/{name}")
        for path in re.findall(r"\b((?:\w+/)+\w+\.py)\b", text):
            if not (ROOT / path if path.startswith("fuse_ls/") else PACKAGE / path).is_file():
                wrong.append(path)
    assert not wrong, "docs/architecture.md names modules that do not exist"


def test_packages_listed_module_by_module_list_them_all() -> None:
    """Where the layout lists a package's modules (core, fusion, server, ...), a new
    module must be listed too; packages described only in prose (telemetry) are not."""
    missing = []
    for package, text in layout().items():
        named = set(re.findall(r"(?<![\w/.])(\w+\.py)\b", text))
        if package and named:
            missing += [f"{package}/{m}" for m in sorted(modules(PACKAGE / package) - named)]
    top = set(re.findall(r"(?<![\w/.])(\w+\.py)\b", layout()[""]))
    missing += sorted(modules(PACKAGE) - top)
    assert not missing, "add to docs/architecture.md's layout"


def test_documented_bench_scripts_exist_with_their_flags() -> None:
    """`bench/NAME.py --flag`: the script exists and parses that flag."""
    seen = 0
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for m in re.finditer(r"bench/(\w+\.py)((?: +(?:--[\w-]+|[A-Z]+|\w+))*)", text):
            script = ROOT / "bench" / m.group(1)
            assert script.is_file(), f"{page.name}: bench/{m.group(1)} does not exist"
            source = script.read_text(encoding="utf-8")
            for flag in re.findall(r"--[\w-]+", m.group(2)):
                assert f'"{flag}"' in source, f"{page.name}: bench/{m.group(1)} has no {flag}"
            seen += 1
    assert seen >= 10


DATASET_BENCHES = [
    "review_quality",
    "vote_variants",
    "reliability",
    "clustering_variants",
    "held_out",
]


@pytest.mark.parametrize("script", [f"bench_{name}" for name in DATASET_BENCHES])
def test_a_dataset_bench_without_its_dataset_says_where_to_get_it(
    script: str, tmp_path: Path
) -> None:
    """A fresh clone has no dataset beside it: the script says so and exits 2 (it once
    raised a traceback, or printed its headers over nothing and exited 0)."""
    res = subprocess.run(
        [sys.executable, str(ROOT / "bench" / f"{script}.py"), str(tmp_path / "none")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert "Traceback" not in res.stderr and res.stdout == ""
    assert "github.com/withmartian/code-review-benchmark" in res.stderr


def test_the_neovim_readme_names_every_plugin_module() -> None:
    readme = (ROOT / "editors" / "nvim" / "README.md").read_text(encoding="utf-8")
    layout_text = readme[readme.index("## Layout") :].split("\n## ", 1)[0]
    named = set(re.findall(r"`(\w+)`", layout_text)) | {"init"}
    modules = {p.stem for p in (ROOT / "editors" / "nvim" / "lua" / "fuse_ls").glob("*.lua")}
    assert modules - named == set(), "add to editors/nvim/README.md's Layout"


def test_versions_in_the_docs_are_the_versions_built() -> None:
    """File names a user pastes (the wheel, the .vsix, the pre-commit rev) carry today's
    version: after a version bump, `pip install dist/fuse_ls-0.1.0-...` would not exist."""
    extension = json.loads((ROOT / "vscode-extension" / "package.json").read_text())["version"]
    pages = [
        *PAGES,
        *sorted((ROOT / "editors").rglob("README.md")),
        ROOT / "vscode-extension" / "README.md",
    ]
    seen = 0
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for version in re.findall(r"fuse_ls-(\d[\d.]*\d)", text) + re.findall(
            r"rev: v(\d[\d.]*\d)", text
        ):
            assert version == fuse_ls.__version__, f"{page.name}: {version}"
            seen += 1
        for version in re.findall(r"fuse-ls-(\d[\d.]*\d)\.vsix", text):
            assert version == extension, f"{page.name}: {version}.vsix"
            seen += 1
    assert seen >= 3


def test_bench_startup_finds_its_baseline_in_a_clone_of_a_branch(tmp_path: Path) -> None:
    """A fresh clone of a branch has origin/main but no local main: the documented default
    baseline (the merge base with main) must still be found."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import bench_startup
    finally:
        sys.path.remove(str(ROOT / "bench"))

    def git(cwd: Path, *args: str) -> str:
        return bench_startup.git(cwd, *args)

    origin = tmp_path / "origin"
    bench_startup.make_repo(origin)  # main with one commit, a change staged
    git(origin, "commit", "-qm", "on main")
    base = git(origin, "rev-parse", "HEAD")
    git(origin, "checkout", "-qb", "feature")
    (origin / "calc.py").write_text("x = 1\n")
    git(origin, "commit", "-qam", "on feature")
    subprocess.run(
        ["git", "clone", "-q", "-b", "feature", str(origin), str(tmp_path / "clone")], check=True
    )
    original = bench_startup.HERE
    bench_startup.HERE = tmp_path / "clone"
    try:
        assert bench_startup.default_baseline() == base
    finally:
        bench_startup.HERE = original


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes."""
    headings = re.findall(r"^#+ (.+)$", page.read_text(encoding="utf-8"), re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_relative_links_and_anchors_resolve() -> None:
    pages = [*PAGES, *sorted((ROOT / "editors").rglob("README.md"))]
    pages += [ROOT / "vscode-extension" / "README.md", ROOT / "fuse_ls" / "emulator" / "README.md"]
    broken = []
    for page in pages:
        for target, anchor in re.findall(
            r"\]\((?!https?:|mailto:|command:)([^)#\s]*)(?:#([^)\s]+))?\)", page.read_text()
        ):
            linked = (page.parent / target).resolve() if target else page
            if not linked.exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
            elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
                broken.append(f"{page.relative_to(ROOT)}: {target}#{anchor}")
    assert not broken
