"""What a user reads when a setting is wrong, from every place a setting comes from.

Each bad value names its source (the file, `[tool.fuse-ls]`, the editor, the environment
variable), the key and what is expected; that key falls back to the layer below and
every other key of the same layer still applies. Unknown keys are warnings.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fuse_ls.config import LoadedSettings, ModelSpec, Settings, load_settings, validate_settings
from fuse_ls.core.errors import ConfigError, ConfigNotice, UnknownSetting

# A source builds one layer from TOML text or a dict, and says how messages name it.
Source = Callable[[Path, str, dict[str, Any], dict[str, str]], tuple[LoadedSettings, str]]


def _user(tmp: Path, toml: str, _editor: dict[str, Any], _env: dict[str, str]) -> Any:
    path = tmp / "user.toml"
    path.write_text(toml, encoding="utf-8")
    return load_settings(None, env={}, user_config=path), str(path)


def _workspace(tmp: Path, toml: str, _editor: dict[str, Any], _env: dict[str, str]) -> Any:
    (tmp / ".fuse-ls.toml").write_text(toml, encoding="utf-8")
    loaded = load_settings(tmp, env={}, user_config=tmp / "none.toml", trusted=True)
    return loaded, str(tmp / ".fuse-ls.toml")


def _pyproject(tmp: Path, toml: str, _editor: dict[str, Any], _env: dict[str, str]) -> Any:
    # Tables of the snippet become sub-tables of [tool.fuse-ls].
    text = "[tool.fuse-ls]" + ("\n" + toml).replace("\n[", "\n[tool.fuse-ls.")
    (tmp / "pyproject.toml").write_text(text, encoding="utf-8")
    loaded = load_settings(tmp, env={}, user_config=tmp / "none.toml", trusted=True)
    return loaded, f"{tmp / 'pyproject.toml'} [tool.fuse-ls]"


def _editor(tmp: Path, _toml: str, editor: dict[str, Any], _env: dict[str, str]) -> Any:
    # initializationOptions and workspace/configuration reach the loader as this layer.
    loaded = load_settings(None, editor={"fuseLs": editor}, env={}, user_config=tmp / "none")
    return loaded, "editor settings"


def _env(tmp: Path, _toml: str, _editor: dict[str, Any], env: dict[str, str]) -> Any:
    loaded = load_settings(None, env=env, user_config=tmp / "none.toml")
    return loaded, "the environment"


SOURCES: dict[str, Source] = {
    "user file": _user,
    "workspace file": _workspace,
    "pyproject": _pyproject,
    "editor": _editor,
    "environment": _env,
}

# (case, TOML, editor dict, env, key, shown value, expected words, the key as the editor
# and the environment spell it)
CASES = [
    (
        "wrong type",
        '[retries]\nmax_attempts = "three"\n',
        {"retries": {"maxAttempts": "three"}},
        {"FUSE_LS_RETRIES__MAX_ATTEMPTS": "three"},
        "retries.max_attempts",
        "'three'",
        "an integer from 1 to 10",
        ("fuseLs.retries.maxAttempts", "FUSE_LS_RETRIES__MAX_ATTEMPTS"),
    ),
    (
        "out of range",
        "[debate]\nrounds = 4\n",
        {"debate": {"rounds": 4}},
        {"FUSE_LS_DEBATE__ROUNDS": "4"},
        "debate.rounds",
        None,  # 4 from TOML and JSON, '4' from the environment
        "an integer from 1 to 3",
        ("fuseLs.debate.rounds", "FUSE_LS_DEBATE__ROUNDS"),
    ),
    (
        "unknown enum",
        'mode = "fastest"\n',
        {"mode": "fastest"},
        {"FUSE_LS_MODE": "fastest"},
        "mode",
        "'fastest'",
        "one of 'best-of', 'merge', 'debate'",
        ("fuseLs.mode", "FUSE_LS_MODE"),
    ),
    (
        "bad URL",
        '[provider]\nbase_url = "localhost:11434"\n',
        {"provider": {"baseUrl": "localhost:11434"}},
        {"FUSE_LS_BASE_URL": "localhost:11434"},
        "provider.base_url",
        "'localhost:11434'",
        "an http:// or https:// URL",
        ("fuseLs.provider.baseUrl", "FUSE_LS_BASE_URL"),
    ),
]


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize(
    ("case", "toml", "editor", "env", "key", "shown", "expected", "spelled"),
    CASES,
    ids=[c[0] for c in CASES],
)
def test_a_bad_value_names_source_key_and_what_is_expected(
    tmp_path: Path,
    source: str,
    case: str,
    toml: str,
    editor: dict[str, Any],
    env: dict[str, str],
    key: str,
    shown: str | None,
    expected: str,
    spelled: tuple[str, str],
) -> None:
    # A good key beside the bad one, in the same layer, must still apply.
    good_toml = toml + "[review]\ncontext_lines = 7\n"
    good_editor = {"review": {"contextLines": 7}, **editor}
    good_env = {**env, "FUSE_LS_REVIEW__CONTEXT_LINES": "7"}
    loaded, name = SOURCES[source](tmp_path, good_toml, good_editor, good_env)
    # The key as the user wrote it: the editor's camelCase setting id, the variable's name.
    written = {"editor": spelled[0], "environment": spelled[1]}.get(source, key)
    [problem] = loaded.problems
    assert type(problem) is ConfigError
    assert problem.key == written and problem.setting == key and problem.source == name
    message = str(problem)
    assert message.startswith(f"Invalid setting '{written}' (from {name}): got ")
    assert f"expected {expected}" in message
    if shown is not None:
        assert f"got {shown};" in message
    assert loaded.settings.review.context_lines == 7  # nothing else of the layer is lost
    assert loaded.settings == Settings(review=loaded.settings.review)  # the key fell back


@pytest.mark.parametrize("source", SOURCES)
def test_an_unknown_key_is_a_warning_that_names_it(tmp_path: Path, source: str) -> None:
    loaded, name = SOURCES[source](
        tmp_path,
        '[quorum]\nmin_respones = 2\ndeadline_s = 30\napi_key = "sk-or-v1-abcdef0123456789"\n',
        {"quorum": {"minRespones": 2, "deadlineS": 30, "apiKey": "sk-or-v1-abcdef0123456789"}},
        {"FUSE_LS_QUORUM__MIN_RESPONES": "2", "FUSE_LS_QUORUM__DEADLINE_S": "30"},
    )
    warnings = [p for p in loaded.problems if p.setting == "quorum.min_respones"]
    [warning] = warnings
    assert isinstance(warning, UnknownSetting) and isinstance(warning, ConfigNotice)
    # Named as written, and the suggestion in the same spelling.
    typo, meant = {
        "editor": ("fuseLs.quorum.minRespones", "fuseLs.quorum.minResponses"),
        "environment": ("FUSE_LS_QUORUM__MIN_RESPONES", "FUSE_LS_QUORUM__MIN_RESPONSES"),
    }.get(source, ("quorum.min_respones", "quorum.min_responses"))
    assert warning.key == typo
    assert str(warning).startswith(f"Unknown setting '{typo}' (from {name})")
    assert "is ignored" in str(warning) and f"did you mean '{meant}'?" in str(warning)
    assert all(isinstance(p, UnknownSetting) for p in loaded.problems)
    assert "sk-or" not in " ".join(str(p) for p in loaded.problems)  # values never shown
    assert loaded.settings.quorum.deadline_s == 30.0  # the known key beside it applies
    assert loaded.settings.quorum.min_responses is None


def test_a_bad_pool_entry_in_a_file_names_its_index_and_keeps_the_lower_pool(
    tmp_path: Path,
) -> None:
    user = tmp_path / "user.toml"
    user.write_text('pool = ["a/one", "b/two"]\n', encoding="utf-8")
    (tmp_path / ".fuse-ls.toml").write_text(
        'mode = "debate"\n'
        'pool = ["c/three", { id = "d/four", repeat = 0 }, { id = "e/five", temprature = 1 }]\n',
        encoding="utf-8",
    )
    loaded = load_settings(tmp_path, env={}, user_config=user, trusted=True)
    source = str(tmp_path / ".fuse-ls.toml")
    by_key = {p.key: p for p in loaded.problems}
    assert set(by_key) == {"pool[1].repeat", "pool[2].temprature"}
    assert str(by_key["pool[1].repeat"]) == (
        f"Invalid setting 'pool[1].repeat' (from {source}): got 0; expected an integer from 1 to 8."
    )
    assert isinstance(by_key["pool[2].temprature"], UnknownSetting)
    assert "did you mean 'pool[2].temperature'?" in str(by_key["pool[2].temprature"])
    assert [m.id for m in loaded.settings.pool] == ["a/one", "b/two"]  # the whole pool fell back
    assert loaded.settings.mode == "debate"


def test_a_bad_judge_key_keeps_the_lower_judge(tmp_path: Path) -> None:
    user = tmp_path / "user.toml"
    user.write_text('[judge]\nid = "x/judge"\n', encoding="utf-8")
    editor = {"judge": {"id": "y/judge", "temperature": 3}}
    loaded = load_settings(None, editor=editor, env={}, user_config=user)
    [problem] = loaded.problems
    assert problem.key == "judge.temperature" and "a number from 0 to 2 or null" in str(problem)
    assert loaded.settings.judge == ModelSpec("x/judge")


@pytest.mark.parametrize(
    ("toml", "key", "expected"),
    [
        ('[verify]\ncommands = [{ run = " " }]\n', "verify.commands[0].run", "a non-empty command"),
        (
            '[verify]\ncommands = [{ run = "pytest", timeout_s = 0 }]\n',
            "verify.commands[0].timeout_s",
            "a number > 0 or null",
        ),
        ('[verify]\ncommands = "pytest"\n', "verify.commands", "a list of command lines"),
        ("[verify]\ncommands = [3]\n", "verify.commands[0]", "a table with the keys run, "),
        ("[quorum]\ndeadline_s = 1979-05-27\n", "quorum.deadline_s", "a number > 0"),
        ("[telemetry]\nenabled = 1\n", "telemetry.enabled", "true or false"),
        ("[telemetry]\ndata_dir = '  '\n", "telemetry.data_dir", "a directory path or null"),
    ],
)
def test_nested_and_odd_values_in_a_file(
    tmp_path: Path, toml: str, key: str, expected: str
) -> None:
    loaded, source = _user(tmp_path, toml, {}, {})
    [problem] = loaded.problems
    assert problem.key == key and problem.source == source
    assert expected in str(problem)
    assert loaded.settings == Settings()


def test_one_env_command_line_is_a_list_of_one(tmp_path: Path) -> None:
    loaded, _ = _env(tmp_path, "", {}, {"FUSE_LS_VERIFY__COMMANDS": " pytest -q "})
    assert loaded.problems == []
    assert [c.run for c in loaded.settings.verify.commands] == ["pytest -q"]


def test_every_bad_key_of_a_garbage_layer_is_reported_once(tmp_path: Path) -> None:
    editor = {
        "mode": 7,
        "pool": [{"id": "a", "repeat": True}, {"id": "b", "maxTokens": 0}],
        "quorum": {"deadlineS": "soon", "minResponses": -1},
        "telemetry": {"retentionDays": 1.5, "recordContent": "yes"},
        "review": {"contextLines": 3},
    }
    loaded = load_settings(None, editor=editor, env={}, user_config=tmp_path / "none")
    keys = sorted(p.key for p in loaded.problems)
    assert keys == [
        "mode",
        "pool[0].repeat",
        "pool[1].maxTokens",
        "quorum.deadlineS",
        "quorum.minResponses",
        "telemetry.recordContent",
        "telemetry.retentionDays",
    ]
    assert all(p.source == "editor settings" for p in loaded.problems)
    assert loaded.settings.review.context_lines == 3
    assert validate_settings(loaded.settings) == []


def test_validate_settings_reports_a_null_that_a_layer_would_skip() -> None:
    settings = Settings(mode=None)  # type: ignore[arg-type]
    [problem] = validate_settings(settings)
    assert problem.key == "mode" and "one of 'best-of', 'merge', 'debate'" in str(problem)


def test_a_key_pasted_into_any_setting_is_never_echoed(tmp_path: Path) -> None:
    key = "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"
    editor = {"quorum": {"deadlineS": key}, "budget": {"maxUsdPerDay": {"note": key}}}
    loaded = load_settings(None, editor=editor, env={}, user_config=tmp_path / "none")
    assert sorted(p.setting for p in loaded.problems) == [
        "budget.max_usd_per_day",
        "quorum.deadline_s",
    ]
    text = " ".join(str(p) for p in loaded.problems)
    assert "sk-or" not in text and "got '<hidden>'" in text
