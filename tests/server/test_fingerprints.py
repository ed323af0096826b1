"""What the server remembers to dismiss a finding by its id (finding id -> repository,
fingerprint) stays bounded: it kept one entry per finding ever shown, for the whole
session. Dismissing from the editor still works after many reviews."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pygls.workspace.position_codec import PositionCodec

from fuse_ls.emulator import Emulator
from fuse_ls.server.anchors import Snapshot
from fuse_ls.server.diagnostics import GONE_KEPT, Reported, forget_gone
from tests.changes.gitrepo import GIT_ENV, Repo
from tests.lsp_sample import JUDGE, POOL, SOURCE
from tests.server.conftest import start_session, wait_for

SNAPSHOT = Snapshot("file:///app.py", SOURCE, 1, PositionCodec())


def reported(finding_id: str) -> Reported:
    r = SNAPSHOT.line_range(1, 1)
    assert r is not None
    return Reported(
        fusion_id=finding_id.rsplit("-", 1)[0],
        finding_id=finding_id,
        anchor=SNAPSHOT.anchor(r),
        severity="warning",
        category="bugs",
        message="m",
        votes=2,
        pool_size=3,
        models=("a", "b"),
    )


def test_fingerprints_of_findings_gone_are_forgotten_but_the_newest() -> None:
    fingerprints: dict[str, tuple[str, str]] = {}
    published: dict[str, list[Reported]] = {}
    for n in range(500):  # 500 reviews of two documents, three findings each
        doc = f"doc{n % 2}"
        ids = [f"f{n}-{i}" for i in range(3)]
        fingerprints.update((i, ("/repo", "fp-" + i)) for i in ids)
        published[doc] = [reported(i) for i in ids]  # a new review replaces the last
        forget_gone(fingerprints, published.values())
        assert len(fingerprints) <= 6 + GONE_KEPT
    # Every published finding can be dismissed, and those a moment ago replaced.
    assert {r.finding_id for rs in published.values() for r in rs} <= set(fingerprints)
    assert {"f497-0", "f496-2"} <= set(fingerprints)
    assert "f0-0" not in fingerprints
    # A closed document's findings are gone too.
    published.pop("doc0")
    for _ in range(GONE_KEPT):  # newer findings push them out
        n += 1
        ids = [f"f{n}-0"]
        fingerprints.update((i, ("/repo", "fp-" + i)) for i in ids)
        published["doc1"] = [reported(i) for i in ids]
        forget_gone(fingerprints, published.values())
    assert not any(i.startswith("f498-") for i in fingerprints)


FINDINGS = [
    {"match": "eval(", "category": "security", "severity": "error", "message": "eval of input"},
    {"match": "== None", "category": "style", "severity": "warning", "message": "use is None"},
]
SCRIPT = {"models": {**{m: {"findings": FINDINGS} for m in POOL}, JUDGE: {}}}


async def test_dismiss_from_the_editor_after_many_reviews(
    emulator_factory: Callable[..., Emulator], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in GIT_ENV.items():  # git identity for the server's git
        monkeypatch.setenv(key, value)
    lsp, stop = await start_session("neovim", emulator_factory(SCRIPT), tmp_path)
    try:
        repo = Repo(lsp.workspace)
        repo.write("app.py", SOURCE)
        repo.commit("app")
        uri = lsp.open("app.py", SOURCE)
        results: list[dict[str, Any]] = []
        for _ in range(GONE_KEPT // 2 + 2):  # enough to forget some (two per review)
            results.append(await lsp.execute("fuse-ls.review", {"uri": uri}))
            assert len(results[-1]["findings"]) == 2
        # The shown `style` finding, and the `security` one a newer review just replaced.
        style = next(f for f in results[-1]["findings"] if f["category"] == "style")
        security = next(f for f in results[-2]["findings"] if f["category"] == "security")
        for finding in (style, security):
            await lsp.execute(
                "fuse-ls.findingDecision",
                {"uri": uri, "findingId": finding["findingId"], "decision": "dismissed"},
            )
        again = await lsp.execute("fuse-ls.review", {"uri": uri})
        assert again["findings"] == [] and again["hidden"] == {"dismissed": 2}
        await wait_for(lambda: lsp.diagnostics(uri) == [], what="no diagnostics")
    finally:
        await stop()
