"""Settings (initializationOptions, workspace/configuration, live files), provider
failures, and malformed requests."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from fuse_ls.emulator import Emulator
from fuse_ls.server.settings import SettingsState
from tests.server.conftest import (
    JUDGE,
    POOL,
    PROFILES,
    SOURCE,
    Session,
    init_options,
    script,
    start_session,
    wait_for,
)
from tests.server.test_review import selection

Starter = Callable[..., Any]


@pytest.fixture
async def started(emu: Emulator, tmp_path: Path) -> AsyncIterator[Starter]:
    stops: list[Callable[[], Any]] = []

    async def start(profile: str, options: dict[str, Any]) -> Session:
        session, stop = await start_session(profile, emu, tmp_path, options)
        stops.append(stop)
        return session

    yield start
    for stop in stops:
        await stop()


def errors(lsp: Session) -> list[str]:
    return lsp.messages(types.MessageType.Error)


@pytest.mark.parametrize("profile", PROFILES)
async def test_invalid_settings_are_shown_and_the_last_valid_ones_stay(
    started: Starter, profile: str
) -> None:
    lsp: Session = await started(profile, init_options(mode="bogus"))
    message = await wait_for(lambda: errors(lsp), what="showMessage for the bad mode")
    assert "'mode'" in message[0] and "bogus" in message[0]

    # workspace/configuration: a bad value is reported; the settings in force stay.
    lsp.client.set_configuration({"quorum": {"deadlineS": -3}}, section="fuseLs")
    lsp.client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    [deadline] = await wait_for(
        lambda: [m for m in errors(lsp) if "deadline" in m], what="deadline problem"
    )
    # Named as the setting id the user edits, and from where the editor sent it.
    assert deadline.startswith(
        "fuse-ls: Invalid setting 'fuseLs.quorum.deadlineS' (from editor settings via "
        "workspace/configuration, e.g. VS Code's settings.json): got -3; expected "
    )
    assert any("last valid settings stay" in m for m in errors(lsp))
    uri = lsp.open()
    result = await lsp.execute("fuse-ls.review", {"uri": uri, "range": selection(3, 9)})
    assert result["cancelled"] is False and lsp.diagnostics(uri)


async def test_an_unknown_key_is_a_warning_and_the_rest_of_the_settings_apply(
    started: Starter,
) -> None:
    lsp: Session = await started("visual-studio-code", init_options())
    uri = lsp.open()
    await lsp.execute("fuse-ls.review", {"uri": uri, "range": selection(3, 9)})  # ready
    # workspace/configuration with a typo beside a real change: the change applies.
    changed = {**init_options(pool=POOL[:2]), "quorum": {"deadlinS": 5}}
    lsp.client.set_configuration(changed, section="fuseLs")
    lsp.client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    warning = await wait_for(
        lambda: [m for m in lsp.messages(types.MessageType.Warning) if "deadlinS" in m],
        what="unknown-key warning",
    )
    assert "Unknown setting 'fuseLs.quorum.deadlinS' (from editor settings via" in warning[0]
    assert "did you mean 'fuseLs.quorum.deadlineS'?" in warning[0]
    assert errors(lsp) == []
    lsp.emulator.reset()
    await lsp.execute("fuse-ls.review", {"uri": uri, "range": selection(3, 9)})
    asked = {r.model for r in lsp.emulator.requests} - {JUDGE}
    assert asked == set(POOL[:2])


@pytest.mark.parametrize("profile", PROFILES)
async def test_a_bad_setting_is_named_as_the_editor_sent_it_and_where(
    started: Starter, profile: str
) -> None:
    startup = init_options(review={"contextLines": 3, "minVotesForWarning": 0})
    lsp: Session = await started(profile, startup)
    [message] = await wait_for(
        lambda: [m for m in errors(lsp) if "minVotesForWarning" in m], what="start-up problem"
    )
    assert message.startswith(
        "fuse-ls: Invalid setting 'review.minVotesForWarning' (from editor settings sent at "
        "start-up via initializationOptions): got 0; expected an integer >= 1."
    )
    assert "min_votes_for_warning" not in message

    # The same key, pulled: it replaces the start-up value, so only its problem is new,
    # named as the setting id in the section the server asked for.
    lsp.client.set_configuration({"review": {"minVotesForWarning": "two"}}, section="fuseLs")
    lsp.client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    [pulled] = await wait_for(
        lambda: [m for m in errors(lsp) if "'two'" in m], what="workspace/configuration problem"
    )
    assert pulled.startswith(
        "fuse-ls: Invalid setting 'fuseLs.review.minVotesForWarning' (from editor settings via "
        "workspace/configuration, e.g. VS Code's settings.json): got 'two'; "
    )
    assert len([m for m in errors(lsp) if "minVotesForWarning" in m]) == 2  # no repeat


@pytest.mark.parametrize("profile", PROFILES)
async def test_workspace_config_file_is_reloaded_live(started: Starter, profile: str) -> None:
    lsp: Session = await started(profile, init_options())
    uri = lsp.open()
    await lsp.execute("fuse-ls.review", {"uri": uri, "range": selection(3, 9)})  # ready
    config = lsp.workspace / ".fuse-ls.toml"
    config.write_text('[review]\nmin_votes_for_warning = "many"\n')
    if profile == "visual-studio-code":
        # The client watches (we registered); the test plays the editor's watcher.
        [registration] = lsp.recorder.registrations[0].registrations
        assert registration.method == types.WORKSPACE_DID_CHANGE_WATCHED_FILES
        lsp.client.workspace_did_change_watched_files(
            types.DidChangeWatchedFilesParams(
                changes=[types.FileEvent(uri=config.as_uri(), type=types.FileChangeType.Created)]
            )
        )
    else:
        assert lsp.recorder.registrations == []  # Neovim cannot: the server watches
    message = await wait_for(
        lambda: [m for m in errors(lsp) if "min_votes_for_warning" in m], what="file problem"
    )
    assert ".fuse-ls.toml" in message[0]


async def test_partial_provider_failure_is_shown_and_the_fusion_completes(lsp: Session) -> None:
    lsp.emulator.set_script(script(faults={"emu/mid": [{"kind": "http", "status": 402}]}))
    uri = lsp.open()
    result = await lsp.execute("fuse-ls.review", {"uri": uri, "range": selection(3, 9)})
    assert [f["model"] for f in result["failed"]] == ["emu/mid"]
    assert "402" in result["failed"][0]["error"]
    warning = lsp.messages(types.MessageType.Warning)
    assert any("1 of 3 models failed" in m and "Add credits" in m for m in warning), warning
    eval_diag = next(d for d in lsp.diagnostics(uri) if d.code == "security")
    assert eval_diag.data["votes"] == 2
    assert sorted(eval_diag.data["models"]) == ["emu/fast", "emu/slow"]


async def test_total_provider_failure_is_actionable_and_the_server_stays_up(
    lsp: Session,
) -> None:
    credits = [{"kind": "http", "status": 402}]
    lsp.emulator.set_script(script(faults={m: credits for m in POOL}))
    uri = lsp.open()
    result = await lsp.execute("fuse-ls.review", {"uri": uri})
    assert result["cancelled"] is False and "Every model in the pool failed" in result["error"]
    assert {f["model"] for f in result["failed"]} == set(POOL)
    [message] = errors(lsp)
    assert "402" in message and "Add credits" in message
    assert lsp.diagnostics(uri) == []
    lsp.emulator.set_script(script())
    again = await lsp.execute("fuse-ls.review", {"uri": uri})
    assert again["cancelled"] is False and lsp.diagnostics(uri)


@pytest.mark.parametrize(
    "arguments",
    [
        [{"uri": "file:///nowhere/unknown.py"}],  # unknown document
        ["APP", {"range": selection(40, 44)}],  # range out of bounds
        ["not an object"],  # wrong argument types...
        [{"uri": 5}],
        ["APP", {"range": {"start": {"line": "one", "character": 0}, "end": 3}}],
        ["APP", {"range": selection(6, 2)}],  # reversed
        [{"uri": "x"}, {"uri": "y"}],
    ],
)
async def test_malformed_requests_get_invalid_params(lsp: Session, arguments: list[Any]) -> None:
    uri = lsp.open()
    if arguments and arguments[0] == "APP":
        arguments = [{"uri": uri, **arguments[1]}]
    with pytest.raises(JsonRpcException) as error:
        await asyncio.wait_for(lsp.execute_async("fuse-ls.review", *arguments), 5)
    assert error.value.code == -32602
    assert lsp.emulator.requests == []
    assert await lsp.code_actions(uri, (0, 0), (1, 0))  # still up and answering


@pytest.mark.parametrize(
    ("start", "end"),
    [((40, 0), (44, 0)), ((2, 0), (40, 3)), ((0, 0), (999, 0))],
)
async def test_a_range_outside_the_document_names_the_document_size(
    lsp: Session, start: tuple[int, int], end: tuple[int, int]
) -> None:
    uri = lsp.open()
    target = {
        "uri": uri,
        "range": {
            "start": {"line": start[0], "character": start[1]},
            "end": {"line": end[0], "character": end[1]},
        },
    }
    with pytest.raises(JsonRpcException) as error:
        await asyncio.wait_for(lsp.execute_async("fuse-ls.review", target), 5)
    assert error.value.code == -32602
    # One rule, the one the CLI applies too (context.build_request's BadRange).
    assert f"is outside the document ({len(SOURCE.splitlines())} lines)" in str(error.value)
    assert lsp.emulator.requests == []


async def test_other_malformed_requests(lsp: Session) -> None:
    uri = lsp.open()
    bad_calls = [
        lsp.execute_async("fuse-ls.findingDecision", {"uri": uri, "findingId": "x"}),
        lsp.execute_async("fuse-ls.cancel", {"uri": 3}),
        lsp.execute_async("fuse-ls.nope", {}),
        lsp.raw_request(
            types.CODE_ACTION_RESOLVE,
            types.CodeAction(title="x", data={"nothing": True}),
        ),
    ]
    for call in bad_calls:
        with pytest.raises(JsonRpcException) as error:
            await asyncio.wait_for(call, 5)
        assert error.value.code == -32602
    assert await lsp.execute("fuse-ls.stats") == {"fusions": 0, "costUsd": 0, "models": {}}


async def test_config_file_is_reloaded_without_watchfiles(
    started: Starter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server bundled in the VS Code extension has no watchfiles (compiled): a client
    that cannot watch files still gets settings changes picked up, by polling."""
    blocker = tmp_path / "no-watchfiles" / "watchfiles"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('not in the pure-Python bundle')\n")
    monkeypatch.setenv("PYTHONPATH", str(blocker.parent))
    lsp: Session = await started("neovim", init_options())
    uri = lsp.open()
    await lsp.execute("fuse-ls.review", {"uri": uri, "range": selection(3, 9)})  # ready
    (lsp.workspace / ".fuse-ls.toml").write_text('[review]\nmin_votes_for_warning = "many"\n')
    message = await wait_for(
        lambda: [m for m in errors(lsp) if "min_votes_for_warning" in m], what="file problem"
    )
    assert ".fuse-ls.toml" in message[0]


def test_each_editor_channel_names_its_problems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that cannot be asked pushes its settings: named apart from start-up ones."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # no user file
    for name in [n for n in os.environ if n.startswith("FUSE_LS_")]:
        monkeypatch.delenv(name)
    state = SettingsState(tmp_path)
    state.set_initialization_options({"fuseLs": {"debate": {"rounds": 9}}})
    state.set_client_settings({"fuseLs": {"quorum": {"deadlineS": -1}}}, pulled=False)
    assert sorted(str(p) for p in state.reload().problems) == [
        "Invalid setting 'fuseLs.debate.rounds' (from editor settings sent at start-up via "
        "initializationOptions): got 9; expected an integer from 1 to 3.",
        "Invalid setting 'fuseLs.quorum.deadlineS' (from editor settings pushed via "
        "workspace/didChangeConfiguration): got -1; expected a number > 0.",
    ]
