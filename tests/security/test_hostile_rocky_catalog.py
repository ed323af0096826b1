"""A repository's Rocky catalog (`.rocky/catalog/catalog.json`) names the models that read
the one under review; their names (and the columns they take) go into every request about
that model as its blast radius, which the user never sees. The catalog is the
repository's: 1,000-character names made each review of a one-line model cost 80 times as
much, and 100,000-character ones made every review of it a budget error ("select less
code"). Each name is now clipped to an identifier's length and the text to 4,000
characters."""

from __future__ import annotations

import json
from pathlib import Path

from fuse_ls.emulator import Emulator
from tests.pool_sample import JUDGE, POOL, home_env, run_cli
from tests.security.counts import record


def _review(tmp_path: Path, name_chars: int | None) -> tuple[int, list[int], str]:
    ws = tmp_path / f"ws{name_chars}"
    (ws / "models").mkdir(parents=True)
    (ws / "models" / "orders.sql").write_text("select id, amount from raw_orders\n")
    if name_chars is not None:
        long = "x" * name_chars
        names = [f"fct_{i}_{long}" for i in range(15)]
        catalog = {
            "assets": [
                {"model_name": "orders", "downstream_models": ["dash_orders", *names]},
                {"model_name": names[0], "downstream_models": [f"more_{long}"]},
            ],
            "edges": [
                {"source_model": "orders", "target_model": n, "target_column": f"c{j}_{long}"}
                for n in names
                for j in range(8)
            ],
        }
        folder = ws / ".rocky" / "catalog"
        folder.mkdir(parents=True)
        (folder / "catalog.json").write_text(json.dumps(catalog))
    script = {"models": {**{m: {"findings": []} for m in POOL}, JUDGE: {}}}
    with Emulator(script) as emu:
        env = home_env(emu.base_url, tmp_path / "home")
        env.update(FUSE_LS_MODELS=",".join(POOL), FUSE_LS_JUDGE=JUDGE)
        res = run_cli(["review", "models/orders.sql"], env, ws)
        bodies = [json.dumps(r.body) for r in emu.requests]
    return res.returncode, [len(b) for b in bodies], res.stderr + "".join(bodies[:1])


def test_a_catalog_of_huge_names_cannot_inflate_every_request(tmp_path: Path) -> None:
    code, plain, _ = _review(tmp_path, None)
    assert code == 0 and plain
    for chars in (1_000, 100_000):
        code, sizes, seen = _review(tmp_path, chars)
        assert code == 0, seen[-2000:]  # not a budget error
        assert "dash_orders" in seen and "fct_0_xxx" in seen  # the blast radius is still sent
        # The blast radius adds at most its 4,000 characters (JSON-escaped: a little more).
        assert max(sizes) < max(plain) + 5_000, (sizes, plain)
    record("hostile Rocky catalog: request growth bounded", "4,000 characters")
