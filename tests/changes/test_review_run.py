"""The change-review run in process (ChangeReviewer) over real git repositories and the
loopback emulator: how units are scheduled and what each model is sent."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from fuse_ls.changes.cache import ReviewCache
from fuse_ls.changes.git import read_changes
from fuse_ls.changes.review import (
    ChangeReview,
    ChangeReviewer,
    ReviewOptions,
    RunOverBudget,
    RunState,
    Target,
)
from fuse_ls.config import ModelSpec, Settings, replace
from fuse_ls.context import language_for
from fuse_ls.emulator import Emulator
from tests.changes.gitrepo import Repo

POOL = ("pool/a", "pool/b", "pool/c")
JUDGE = "judge/j"


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        emulator.set_script({"models": {m: {"ttft_ms": 5} for m in (*POOL, JUDGE)}})
        yield emulator


def settings_for(emu: Emulator, data: Path, **budget: float | None) -> Settings:
    s = Settings()
    for key, value in {
        "provider.base_url": emu.base_url,
        "pool": [ModelSpec(m) for m in POOL],
        "judge": ModelSpec(JUDGE),
        "mode": "merge",
        "budget.max_usd_per_day": budget.get("day"),
        "budget.max_usd_per_request": None,
        "telemetry.data_dir": str(data),
        "telemetry.enabled": False,
    }.items():
        s = replace(s, {key: value})
    return s


def many_files(repo: Repo, n: int) -> list[Target]:
    for i in range(n):
        repo.write(f"m{i:02d}.py", f"def f{i}(x):\n    return x\n")
    repo.commit("base")
    for i in range(n):
        repo.write(f"m{i:02d}.py", f"def f{i}(x):\n    return eval(x)\n")
    return uncommitted(repo)


def uncommitted(repo: Repo) -> list[Target]:
    changes = read_changes(repo.root, "uncommitted")
    return [
        Target(f.path, repo.root / f.path, language_for(Path(f.path)), f.text or "", f.changed)
        for f in changes.reviewable
    ]


def run(
    settings: Settings, repo: Repo, targets: list[Target], options: ReviewOptions
) -> tuple[ChangeReview, list[int]]:
    """The review, and how many units were planned each time a call started."""
    planned_at_call: list[int] = []
    last_active = 0

    def on_update(state: RunState) -> None:
        nonlocal last_active
        if state.calls_active > last_active:
            planned_at_call.append(state.units)
        last_active = state.calls_active

    with ReviewCache(repo.root.parent / "cache.sqlite3") as cache:
        reviewer = ChangeReviewer(settings, repo.root, options, cache=cache, on_update=on_update)
        return asyncio.run(reviewer.run(targets)), planned_at_call


def test_first_calls_start_before_every_file_is_planned(repo: Repo, emu: Emulator) -> None:
    targets = many_files(repo, 30)
    settings = settings_for(emu, repo.root.parent / "data")
    result, planned = run(settings, repo, targets, ReviewOptions(max_findings=None))
    assert len(result.outcomes) == 30 and all(o.findings for o in result.outcomes)
    assert planned[0] < 30  # streamed: later files were cut while the first models ran
    assert result.planning_s < result.wall_time_s


def test_a_limit_the_run_may_reach_plans_every_unit_before_any_call(
    repo: Repo, emu: Emulator
) -> None:
    targets = many_files(repo, 30)
    settings = settings_for(emu, repo.root.parent / "data")
    # Over the exact estimate, but under the bound taken before the units are cut.
    options = ReviewOptions(max_findings=None, max_cost_usd=2.1)
    result, planned = run(settings, repo, targets, options)
    assert result.estimated_cost_usd is not None and result.estimated_cost_usd < 2.1
    assert planned and min(planned) == 30
    _, planned = run(
        settings,
        repo,
        targets,
        ReviewOptions(max_findings=None, max_cost_usd=100.0, use_cache=False),
    )
    assert planned[0] < 30  # a limit the bound fits does not hold the calls back


def chat_requests(emu: Emulator, model: str) -> list[str]:
    """The user text of each review request `model` was sent."""
    return [
        "".join(str(m["content"]) for m in r.body["messages"])
        for r in emu.requests
        if r.model == model and r.schema == "review_findings"
    ]


def one_unit_over_a_window(repo: Repo, emu: Emulator) -> list[Target]:
    """A change of 300 lines in one unit, over pool/a's window (about 1,500 tokens of code
    fit) and inside the others'; every model flags its eval."""
    finding = {"match": "eval(", "message": "eval of input", "severity": "error"}
    models = {m: {"ttft_ms": 5, "findings": [finding]} for m in POOL}
    models["pool/a"]["context_length"] = 6000
    emu.set_script({"models": {**models, JUDGE: {"ttft_ms": 5}}})
    body = "".join(
        f"    total += compute({i}, 'marker_{i:03d} padding text')\n" for i in range(300)
    )
    repo.write("big.py", "def f(total):\n    return total\n")
    repo.commit("base")
    repo.write("big.py", "def f(total):\n" + body + "    eval(total)\n    return total\n")
    changes = read_changes(repo.root, "uncommitted")
    return [
        Target(f.path, repo.root / f.path, "python", f.text or "", f.changed)
        for f in changes.reviewable
    ]


def test_a_unit_over_a_small_models_window_is_asked_of_it_in_pieces(
    repo: Repo, emu: Emulator
) -> None:
    targets = one_unit_over_a_window(repo, emu)
    settings = settings_for(emu, repo.root.parent / "data")
    result, _ = run(
        settings, repo, targets, ReviewOptions(max_findings=None, unit_token_budget=20000)
    )

    assert len(result.outcomes) == 1  # one unit for the models whose window holds it
    big = chat_requests(emu, "pool/b")
    small = chat_requests(emu, "pool/a")
    assert len(big) == 1 and all(f"marker_{i:03d}" in big[0] for i in range(300))
    assert len(small) > 2 and all(len(text) < len(big[0]) / 2 for text in small)
    for i in range(300):  # every changed line went to the small model in some piece
        assert any(f"marker_{i:03d}" in text for text in small)
    # The small model's findings from its pieces take part in the vote.
    [shown] = [f for f in result.outcomes[0].findings if "eval" in f.message]
    assert shown.votes == 3 and "pool/a" in shown.models
    assert any("pool/a was asked lines 1-" in n for n in result.outcomes[0].notes)


def test_a_model_asked_in_pieces_keeps_its_answer_through_debate_rounds(
    repo: Repo, emu: Emulator
) -> None:
    """A debate round shows the whole unit again. Sent to a model whose window only held
    pieces of it, it was refused (or, by a local server, silently cut); now the model is
    not asked and keeps its first answer, which still votes."""
    targets = one_unit_over_a_window(repo, emu)
    settings = replace(
        settings_for(emu, repo.root.parent / "data"), {"mode": "debate", "debate.rounds": 1}
    )
    result, _ = run(
        settings, repo, targets, ReviewOptions(max_findings=None, unit_token_budget=20000)
    )

    revisions = {
        m: [r for r in emu.requests if r.model == m and r.schema == "debate_revision"] for m in POOL
    }
    assert len(revisions["pool/b"]) == 1 and len(revisions["pool/c"]) == 1
    assert revisions["pool/a"] == []  # nothing over its window was sent
    assert all(r.status in (None, 200) for r in emu.requests)
    [outcome] = result.outcomes
    [shown] = [f for f in outcome.findings if "eval" in f.message]
    assert shown.votes == 3 and "pool/a" in shown.models
    assert any(
        "pool/a kept its first answer" in n and "larger than its context window" in n
        for n in outcome.notes
    ), outcome.notes


def test_max_input_tokens_caps_one_model_without_shrinking_the_others(
    repo: Repo, emu: Emulator
) -> None:
    body = "".join(f"    total += compute({i}, 'marker_{i:03d}')\n" for i in range(150))
    repo.write("big.py", "def f(total):\n    return total\n")
    repo.commit("base")
    repo.write("big.py", "def f(total):\n" + body + "    return total\n")
    changes = read_changes(repo.root, "uncommitted")
    targets = [
        Target(f.path, repo.root / f.path, "python", f.text or "", f.changed)
        for f in changes.reviewable
    ]
    settings = replace(
        settings_for(emu, repo.root.parent / "data"),
        {
            "pool": [
                ModelSpec("pool/a", max_input_tokens=3000),
                ModelSpec("pool/b"),
                ModelSpec("pool/c"),
            ]
        },
    )
    result, _ = run(settings, repo, targets, ReviewOptions(max_findings=None))
    assert len(result.outcomes) == 1
    assert len(chat_requests(emu, "pool/b")) == 1 and len(chat_requests(emu, "pool/c")) == 1
    assert len(chat_requests(emu, "pool/a")) > 1
    # The cost guard counts the further pieces' prompts and answers.
    plain = settings_for(emu, repo.root.parent / "data")
    whole, _ = run(plain, repo, targets, ReviewOptions(max_findings=None, use_cache=False))
    assert result.estimated_cost_usd is not None and whole.estimated_cost_usd is not None
    assert result.estimated_cost_usd > whole.estimated_cost_usd
    assert result.total_cost_usd <= result.estimated_cost_usd


def test_retry_after_holds_every_call_to_that_endpoint(emu: Emulator) -> None:
    """One call's 429 with Retry-After makes the run's other calls to that endpoint wait
    for it too, instead of each being sent and earning its own 429."""
    from fuse_ls.changes.limits import LimitedChatClient
    from fuse_ls.core.types import ChatMessage, ChatRequest
    from fuse_ls.fusion.prompts import REVIEW_SCHEMA

    back_off = 0.8
    fault = {"kind": "http", "status": 429, "retry_after": back_off, "times": 1}
    models = {m: {"ttft_ms": 5} for m in POOL}
    emu.set_script({"models": {**models, "pool/a": {"ttft_ms": 5, "faults": [fault]}}})
    settings = settings_for(emu, Path("/nonexistent"))
    endpoint = settings.endpoint_for(ModelSpec("pool/a"))

    def ask(model: str) -> ChatRequest:
        messages = (ChatMessage("user", "def f(x):\n    return eval(x)\n"),)
        return ChatRequest(model, messages, endpoint, json_schema=REVIEW_SCHEMA)

    async def scenario() -> None:
        async with LimitedChatClient(
            timeouts=settings.timeouts, retries=settings.retries, global_limit=8, per_endpoint=8
        ) as client:
            first = asyncio.create_task(client.complete(ask("pool/a")))
            # Polls state (the 429 was read), not a duration.
            while not client.cooldowns.wait_s(endpoint.base_url):  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            await asyncio.gather(first, *(client.complete(ask(m)) for m in ("pool/b", "pool/c")))

    asyncio.run(scenario())
    chats = [r for r in emu.requests if r.path.endswith("/chat/completions")]
    [limited] = [r for r in chats if r.status == 429]
    during = [
        r
        for r in chats
        if r is not limited and r.received_at < limited.received_at + back_off - 0.05
    ]
    assert during == []  # nothing hit the endpoint in the back-off window
    assert len(chats) == 4 and all(r.status == 200 for r in chats if r is not limited)


def test_secrets_in_the_change_never_reach_a_model(repo: Repo, emu: Emulator) -> None:
    """The run redacts each file whole (the engine's own pass is not repeated), so what
    a model sees of the code, its context, path and intent has no secret in it, even a
    key whose BEGIN line is above the unit."""
    key = "AKIA" + "QWERTYUIOPASDFGH"
    body = "".join(
        f"MIIEow{i:02d}AAKCAQEAx7w5b5SecretLookingBase64Body{i:02d}\n" for i in range(12)
    )
    pem = "-----BEGIN RSA PRIVATE KEY-----\n" + body + "-----END RSA PRIVATE KEY-----\n"
    head = 'PEM = """\n' + pem + '"""\n'
    repo.write("app.py", head + "X = 1\n\n\ndef f(x):\n    return x\n")
    repo.commit("base")
    changed = "X = eval(Y)\n\n\ndef f(x):\n    aws = '" + key + "'\n    return x\n"
    repo.write("app.py", head + changed)
    changes = read_changes(repo.root, "uncommitted")
    targets = [
        Target(f.path, repo.root / f.path, "python", f.text or "", f.changed)
        for f in changes.reviewable
    ]
    result, _ = run(settings_for(emu, repo.root.parent / "data"), repo, targets, ReviewOptions())
    first = min(o.unit.start_line for o in result.outcomes)
    assert 2 < first <= 14  # the unit starts inside the key, below its BEGIN line
    sent = [str(r.body) for r in emu.requests if r.path.endswith("/chat/completions")]
    assert sent and all(key not in b and "SecretLookingBase64" not in b for b in sent)
    assert any("redacted in" in n for o in result.outcomes for n in o.notes)


def test_the_days_spend_ledger_counts_the_run(repo: Repo, emu: Emulator) -> None:
    """The ledger is written off the event loop, and every unit's cost is in it when
    the run returns (a later run's daily budget sees it)."""
    from fuse_ls.fusion.budget import SpendLedger

    targets = many_files(repo, 6)
    data = repo.root.parent / "data"
    result, _ = run(settings_for(emu, data, day=100.0), repo, targets, ReviewOptions())
    assert result.total_cost_usd > 0
    assert SpendLedger(data / "spend").spent() == pytest.approx(result.total_cost_usd)


def test_max_input_tokens_is_a_pool_setting(tmp_path: Path) -> None:
    from fuse_ls.config import load_settings

    (tmp_path / ".fuse-ls.toml").write_text(
        'pool = [{id = "local/small", max_input_tokens = 4000}, "big/model"]\n'
    )
    loaded = load_settings(workspace=tmp_path, env={}, trusted=True)
    assert not loaded.problems
    assert [s.max_input_tokens for s in loaded.settings.pool] == [4000, None]
    (tmp_path / ".fuse-ls.toml").write_text('pool = [{id = "a/b", max_input_tokens = 10}]\n')
    [problem] = load_settings(workspace=tmp_path, env={}, trusted=True).problems
    assert "pool[0].max_input_tokens" in str(problem) and ">= 1024" in str(problem)


def test_units_finished_before_a_cancel_are_cached(repo: Repo, emu: Emulator) -> None:
    """Results are stored together when the run ends, cancelled runs included: what was
    paid for is not asked again."""
    targets = many_files(repo, 12)
    settings = settings_for(emu, repo.root.parent / "data")
    options = ReviewOptions(max_findings=None, global_limit=1)

    async def cancelled() -> None:
        task: asyncio.Task[ChangeReview] | None = None

        def on_update(state: RunState) -> None:
            if state.done >= 1 and task is not None:
                task.cancel()

        with ReviewCache(repo.root.parent / "cache.sqlite3") as cache:
            reviewer = ChangeReviewer(
                settings, repo.root, options, cache=cache, on_update=on_update
            )
            task = asyncio.create_task(reviewer.run(targets))
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(cancelled())
    again, _ = run(settings, repo, targets, ReviewOptions(max_findings=None))
    cached = sum(o.cached for o in again.outcomes)
    assert 1 <= cached < 12


def test_a_long_retry_after_fails_the_waiting_calls_as_rate_limited(emu: Emulator) -> None:
    """A wait the calls cannot sit out is not slept (the first-token timeout would cut it
    and blame the model): they end at once as rate limited, and none reaches the
    endpoint."""
    from fuse_ls.changes.limits import LimitedChatClient
    from fuse_ls.config import TimeoutSettings
    from fuse_ls.core.errors import RateLimited
    from fuse_ls.core.types import ChatMessage, ChatRequest

    fault = {"kind": "http", "status": 429, "retry_after": 600, "times": 1}
    models = {m: {"ttft_ms": 5} for m in POOL}
    emu.set_script({"models": {**models, "pool/a": {"ttft_ms": 5, "faults": [fault]}}})
    settings = settings_for(emu, Path("/nonexistent"))
    endpoint = settings.endpoint_for(ModelSpec("pool/a"))

    def ask(model: str) -> ChatRequest:
        return ChatRequest(model, (ChatMessage("user", "def f(): pass\n"),), endpoint)

    async def scenario() -> list[BaseException | object]:
        timeouts = TimeoutSettings(connect_s=5, request_s=20, first_token_s=10)
        async with LimitedChatClient(
            timeouts=timeouts, retries=settings.retries, global_limit=8, per_endpoint=8
        ) as client:
            first = await asyncio.gather(client.complete(ask("pool/a")), return_exceptions=True)
            later = await asyncio.gather(
                *(client.complete(ask(m)) for m in ("pool/b", "pool/c")), return_exceptions=True
            )
            return [*first, *later]

    outcomes = asyncio.run(scenario())
    assert all(isinstance(o, RateLimited) for o in outcomes), outcomes
    assert "retry after" in str(outcomes[1])
    chats = [r for r in emu.requests if r.path.endswith("/chat/completions")]
    assert [r.model for r in chats] == ["pool/a"]


def test_a_rerun_asks_only_the_edited_file_between_cached_ones(repo: Repo, emu: Emulator) -> None:
    """Files are looked up in the cache in turn; the engine comes in at the first one
    with a unit to ask, and the files after it are still answered from the cache. The
    run's cost is checked before any call against that one unit."""
    targets = many_files(repo, 6)
    settings = settings_for(emu, repo.root.parent / "data", day=100.0)
    first, _ = run(settings, repo, targets, ReviewOptions(max_findings=None))
    assert first.calls > 0 and not any(o.cached for o in first.outcomes)
    repo.write("m03.py", "def f3(x):\n    return eval(x.strip())\n")
    targets = uncommitted(repo)
    sent = len(emu.requests)
    with pytest.raises(RunOverBudget) as refused:
        run(settings, repo, targets, ReviewOptions(max_findings=None, max_cost_usd=1e-6))
    assert "(1 unit(s) not in the cache)" in str(refused.value)
    assert len(emu.requests) == sent  # nothing was sent
    again, _ = run(settings, repo, targets, ReviewOptions(max_findings=None))
    assert [o.unit.path for o in again.outcomes] == [t.path for t in targets]
    assert [o.cached for o in again.outcomes] == [True, True, True, False, True, True]
    asked = [r for r in emu.requests[sent:] if r.path.endswith("/chat/completions")]
    assert len(asked) == again.calls > 0
    assert all("m03.py" in str(r.body) for r in asked)
    assert again.estimated_cost_usd is not None and again.estimated_cost_usd > 0
    assert all(o.findings for o in again.outcomes)
