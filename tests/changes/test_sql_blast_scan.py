"""A change review finds every changed SQL model's blast radius from one scan of the
models, and tells each model what a scan for that model alone would: the prompts are the
same byte for byte as when each file scanned the project itself (the way it was done
before, and still is for one review in the editor)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from fuse_ls.context import BlastRadii, find_blast_radius
from fuse_ls.emulator import Emulator
from tests.changes.gitrepo import GIT_ENV, Repo
from tests.changes.sqlmodels import change_models, make_models
from tests.pool_sample import JUDGE, POOL, outside_env

# The review as it ran before: each changed file scans the models itself.
_PER_FILE = """
import sys
from fuse_ls.changes.planning import Planner
from fuse_ls.context import find_blast_radius
Planner.blast_radius = lambda self, file: find_blast_radius(file, self.root)
from fuse_ls.cli import main
raise SystemExit(main())
"""


def test_one_scan_answers_each_file_as_its_own_scan_would(tmp_path: Path) -> None:
    paths = make_models(tmp_path, 200)
    models = tmp_path / "models"
    # What a shared scan could get wrong: two files of one name (the other one is the
    # model when one of them is asked about), a name in capitals, text beyond ASCII.
    (models / "x").mkdir()
    (models / "x" / "stg_0003.sql").write_text("select id from stg_0010\n")
    (models / "x" / "Dup_Name.sql").write_text("-- café\nselect id, amount from STG_0001\n")
    (models / "y").mkdir()
    (models / "y" / "dup_name.sql").write_text("select id from stg_0001 join stg_0002 using (id)\n")
    (models / "y" / "reader.sql").write_text("select id from dup_name\n")
    changed = [
        *change_models(paths, 30),
        models / "x" / "stg_0003.sql",
        models / "staging" / "stg_0003.sql",
        models / "staging" / "stg_0010.sql",  # read by the last of the two stg_0003
        models / "x" / "Dup_Name.sql",
        models / "y" / "dup_name.sql",
    ]
    radii = BlastRadii(tmp_path)
    shared = [radii(path) for path in changed]
    alone = [find_blast_radius(path, tmp_path) for path in changed]
    assert shared == alone
    assert sum(a is not None for a in alone) >= 20  # most changed models have readers
    assert any("indirectly" in (a or "") for a in alone)
    assert any(a is not None and "(id" in a for a in alone)  # columns come through
    # As a scan for one file keeps them: of two files named stg_0003, the last one found
    # (x/, which reads stg_0010) is the model of that name.
    assert "stg_0003 (id)" in (radii(models / "staging" / "stg_0010.sql") or "")
    assert radii.scans == 1
    # Asked again (a change review asks once for its cost bound, once for the units).
    assert [radii(path) for path in changed] == shared
    assert radii.scans == 1


def _review(repo: Repo, emu: Emulator, per_file: bool) -> tuple[list[str], str]:
    """The messages each pool model was sent for each unit (sorted: calls run side by
    side), and the run's stderr (debug log)."""
    env = outside_env()
    env.update(GIT_ENV)
    env.update(
        XDG_CONFIG_HOME=str(repo.root.parent / ".config"),
        FUSE_LS_DATA_DIR=str(repo.root.parent / ".data"),
        FUSE_LS_MODELS=",".join(POOL),
        FUSE_LS_JUDGE=JUDGE,
        FUSE_LS_BASE_URL=emu.base_url,
        FUSE_LS_LOG_LEVEL="debug",
    )
    seen = len(emu.requests)
    start = [sys.executable, "-c", _PER_FILE] if per_file else [sys.executable, "-m", "fuse_ls"]
    done = subprocess.run(
        [*start, "review", "--uncommitted", "--no-cache", "--format", "json"],
        env=env,
        cwd=repo.root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    asked = [
        json.dumps(r.body["messages"], sort_keys=True)
        for r in emu.requests[seen:]
        if r.path.endswith("/chat/completions") and r.model in POOL
    ]
    return sorted(asked), done.stderr


def test_change_review_scans_the_models_once_and_sends_the_same_prompts(repo: Repo) -> None:
    paths = make_models(repo.root, 300)
    repo.commit("models")
    changed = change_models(paths, 30)
    with Emulator() as emu:
        before, before_log = _review(repo, emu, per_file=True)
        after, after_log = _review(repo, emu, per_file=False)
    assert len(after) == len(POOL) * len(changed)  # one unit per changed model
    assert sum("Downstream: " in p for p in after) >= 15 * len(POOL)
    assert after == before
    assert after_log.count("blast radius: scanned models/ once for this run") == 1
    assert f"{len(changed)} file(s) answered from 1 scan(s)" in after_log
    assert "blast radius: scanned" not in before_log
