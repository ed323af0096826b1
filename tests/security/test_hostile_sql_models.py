"""A SQL model's review scans the repository's other models for the ones that read it
(its blast radius), parsing them with sqlglot, which is pure Python and cannot be
interrupted: the scan's 1.5 s budget is only checked between files. A repository's
consumer model with 2,000 output columns (17 KB) made the column lineage take minutes
(sqlglot copied the whole SELECT once per column), and 5,000 UNION branches 41 s. The
review runs here with its CPU time capped: far above what the scan now needs, far below
what it took."""

from __future__ import annotations

import json
import resource
from pathlib import Path

from fuse_ls.emulator import Emulator
from tests.pool_sample import JUDGE, POOL, home_env, run_cli
from tests.security.counts import record

CPU_CAP_S = 30


def _cap_cpu() -> None:
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_CAP_S, CPU_CAP_S))


def test_a_hostile_consumer_model_cannot_stall_a_review(tmp_path: Path) -> None:
    models = tmp_path / "ws" / "models"
    models.mkdir(parents=True)
    (models / "orders.sql").write_text("select id, amount from raw_orders\n")
    columns = ", ".join(f"a c{i}" for i in range(2000))  # 17 KB
    (models / "wide.sql").write_text(f"select {columns} from orders\n")
    union = " union all ".join("select id from orders" for _ in range(5000))
    (models / "unions.sql").write_text(union + "\n")
    script = {"models": {**{m: {"findings": []} for m in POOL}, JUDGE: {}}}
    with Emulator(script) as emu:
        env = home_env(emu.base_url, tmp_path / "home")
        env.update(FUSE_LS_MODELS=",".join(POOL), FUSE_LS_JUDGE=JUDGE)
        res = run_cli(
            ["review", "models/orders.sql"], env, models.parent, timeout=600, preexec_fn=_cap_cpu
        )
        sent = json.dumps([r.body for r in emu.requests])
    assert res.returncode == 0, (res.returncode, res.stderr[-2000:])
    # Both consumers are still found; the wide one with its columns.
    assert "Downstream: unions, wide (c0, c1, c2" in sent, sent[:3000]
    record("hostile SQL models: review within CPU cap (s)", CPU_CAP_S)
