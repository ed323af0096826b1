"""Repository files fuse-ls parses on every run (pyproject.toml, .fuse-ls.toml, an
intent sidecar, Rocky's catalog.json) nested 100,000 levels deep: Python's parsers
recurse per level and raised RecursionError, so `fuse-ls review` ended in a traceback in
any such repository. The file is reported (or ignored) and the review runs."""

from __future__ import annotations

from pathlib import Path

from fuse_ls.emulator import Emulator
from tests.pool_sample import CODE, JUDGE, POOL, home_env, run_cli
from tests.security.counts import record
from tests.security.memory_limit import make_sparse, run_capped

DEEP = "[" * 100_000 + "]" * 100_000


def _review(repo: Path, target: str, home: Path) -> tuple[int, str, str]:
    finding = {"match": "eval(", "message": "eval runs any code", "severity": "error"}
    sql = {"match": "from", "message": "unbounded scan", "severity": "warning"}
    script = {"models": {**{m: {"findings": [finding, sql]} for m in POOL}, JUDGE: {}}}
    with Emulator(script) as emu:
        env = home_env(emu.base_url, home)
        env.update(FUSE_LS_MODELS=",".join(POOL), FUSE_LS_JUDGE=JUDGE, COLUMNS="200")
        res = run_cli(["review", target], env, repo)
    return res.returncode, res.stdout, res.stderr


def test_a_deep_pyproject_is_reported_and_the_review_runs(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "app.py").write_text(CODE)
    (repo / "pyproject.toml").write_text(f'[project]\nname = "x"\nkeywords = {DEEP}\n')
    code, out, err = _review(repo, "app.py", tmp_path / "home")
    assert code == 0, err
    assert "eval runs any code" in out
    assert "Traceback" not in err and "nested too deeply" in err
    record("deeply nested repository files survived", "pyproject.toml")


def test_a_deep_sidecar_and_catalog_leave_the_sql_review_running(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "models").mkdir(parents=True)
    (repo / "models" / "orders.sql").write_text("select id from raw_orders\n")
    (repo / "models" / "orders.toml").write_text(f"intent = {DEEP}\n")
    (repo / ".rocky" / "catalog").mkdir(parents=True)
    (repo / ".rocky" / "catalog" / "catalog.json").write_text(DEEP)
    code, out, err = _review(repo, "models/orders.sql", tmp_path / "home")
    assert code == 0, err
    assert "unbounded scan" in out and "Traceback" not in err
    record("deeply nested repository files survived", "sidecar, catalog.json")


def test_a_huge_config_file_is_reported_and_the_review_runs(tmp_path: Path) -> None:
    """pyproject.toml and .fuse-ls.toml were read whole on every run: a repository with a
    3 GB (sparse) one ended every command, and the editor's server start, in a
    MemoryError."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "app.py").write_text(CODE)
    make_sparse(repo / "pyproject.toml", '[tool.fuse-ls]\nmode = "merge"\n#')
    with Emulator() as emu:
        env = home_env(emu.base_url, tmp_path / "home")
        env.update(FUSE_LS_MODELS=",".join(POOL), FUSE_LS_JUDGE=JUDGE, COLUMNS="300")
        res = run_capped(["review", "app.py"], env, repo)
    assert res.returncode in (0, 1) and "Traceback" not in res.stderr, res.stderr[-2000:]
    assert "pyproject.toml: larger than 4 MB" in " ".join(res.stderr.split())
    assert emu.requests, "the review still ran"


def test_a_huge_git_head_still_records_the_branch(tmp_path: Path) -> None:
    """Telemetry reads `.git/HEAD` for the branch at every action: a 3 GB (sparse) one was
    read whole each time, and the branch was lost."""
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "app.py").write_text(CODE)
    make_sparse(repo / ".git" / "HEAD", "ref: refs/heads/main\n")
    home = tmp_path / "home"
    with Emulator() as emu:
        env = home_env(emu.base_url, home)
        env.update(FUSE_LS_MODELS=",".join(POOL), FUSE_LS_JUDGE=JUDGE)
        res = run_capped(["review", "app.py"], env, repo)
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr[-2000:]
    recorded = "".join(p.read_text() for p in (home / "data").rglob("*.jsonl"))
    assert '"gitBranch":"main"' in recorded
