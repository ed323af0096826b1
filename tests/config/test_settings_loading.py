"""Layered settings: precedence, merging, key spelling, env coercion and validation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fuse_ls.config import (
    ConfigFileError,
    LoadedSettings,
    ModelSpec,
    Settings,
    load_settings,
    replace,
    settings_to_dict,
    validate_settings,
)
from fuse_ls.core.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def no_user(tmp_path: Path) -> Path:
    """A user config path that does not exist: never read the developer's real one."""
    return tmp_path / "no-user-config.toml"


def load(
    tmp_path: Path,
    *,
    user: str | None = None,
    workspace: str | None = None,
    pyproject: str | None = None,
    editor: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    trusted: bool = True,
) -> LoadedSettings:
    """Layering as the user sees it in a workspace they trust (what an untrusted one may
    set is tested in tests/security/test_trust.py)."""
    user_path = tmp_path / "user" / "config.toml"
    if user is not None:
        write(user_path, user)
    ws = tmp_path / "ws"
    ws.mkdir(exist_ok=True)
    if workspace is not None:
        write(ws / ".fuse-ls.toml", workspace)
    if pyproject is not None:
        write(ws / "pyproject.toml", pyproject)
    return load_settings(ws, editor=editor, env=env or {}, user_config=user_path, trusted=trusted)


def only_problem(loaded: LoadedSettings) -> ConfigError:
    assert len(loaded.problems) == 1, [str(p) for p in loaded.problems]
    return loaded.problems[0]


# --- layers and precedence ------------------------------------------------------------


def test_nothing_configured_gives_defaults(no_user: Path) -> None:
    loaded = load_settings(None, env={}, user_config=no_user)
    assert loaded.settings == Settings()
    assert loaded.sources == ["defaults"]
    assert loaded.problems == []


def test_user_file_layer(tmp_path: Path) -> None:
    loaded = load(tmp_path, user='mode = "best-of"\n[debate]\nrounds = 2\n')
    assert loaded.settings.mode == "best-of"
    assert loaded.settings.debate.rounds == 2
    assert loaded.sources == ["defaults", str(tmp_path / "user" / "config.toml")]
    assert loaded.problems == []


def test_fuse_ls_config_env_names_the_user_file(tmp_path: Path) -> None:
    custom = write(tmp_path / "elsewhere.toml", 'mode = "debate"\n')
    loaded = load_settings(None, env={"FUSE_LS_CONFIG": str(custom)})
    assert loaded.settings.mode == "debate"
    assert str(custom) in loaded.sources


def test_missing_fuse_ls_config_file_is_reported(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    loaded = load_settings(None, env={"FUSE_LS_CONFIG": str(missing)})
    problem = only_problem(loaded)
    assert isinstance(problem, ConfigFileError)
    assert str(missing) in str(problem) and "FUSE_LS_CONFIG" in str(problem)
    assert loaded.settings == Settings()


def test_explicit_user_config_beats_fuse_ls_config(tmp_path: Path) -> None:
    explicit = write(tmp_path / "a.toml", 'mode = "debate"\n')
    other = write(tmp_path / "b.toml", 'mode = "best-of"\n')
    loaded = load_settings(None, env={"FUSE_LS_CONFIG": str(other)}, user_config=explicit)
    assert loaded.settings.mode == "debate"


def test_precedence_defaults_user_workspace_editor_env(tmp_path: Path) -> None:
    user = 'mode = "best-of"\n[retries]\nmax_attempts = 5\n[debate]\nrounds = 2\n'
    workspace = 'mode = "debate"\n[retries]\nmax_attempts = 6\n'
    editor = {"retries": {"max_attempts": 7}, "review": {"context_lines": 5}}
    env = {"FUSE_LS_RETRIES__MAX_ATTEMPTS": "8"}
    loaded = load(tmp_path, user=user, workspace=workspace, editor=editor, env=env)
    s = loaded.settings
    assert s.retries.max_attempts == 8  # env beats everything
    assert s.review.context_lines == 5  # editor
    assert s.mode == "debate"  # workspace beats user
    assert s.debate.rounds == 2  # user beats defaults
    assert s.timeouts.connect_s == 10.0  # defaults
    assert loaded.sources == [
        "defaults",
        str(tmp_path / "user" / "config.toml"),
        str(tmp_path / "ws" / ".fuse-ls.toml"),
        "editor settings",
        "environment (FUSE_LS_RETRIES__MAX_ATTEMPTS)",
    ]
    assert loaded.problems == []


def test_pyproject_tool_table(tmp_path: Path) -> None:
    pyproject = (
        '[project]\nname = "x"\n'
        '[tool.fuse-ls]\nmode = "debate"\n[tool.fuse-ls.quorum]\nmin_responses = 2\n'
    )
    loaded = load(tmp_path, pyproject=pyproject)
    assert loaded.settings.mode == "debate"
    assert loaded.settings.quorum.min_responses == 2
    assert loaded.sources[-1] == f"{tmp_path / 'ws' / 'pyproject.toml'} [tool.fuse-ls]"
    assert loaded.problems == []


def test_pyproject_without_tool_table_is_not_a_source(tmp_path: Path) -> None:
    loaded = load(tmp_path, pyproject='[project]\nname = "x"\n')
    assert loaded.sources == ["defaults"]
    assert loaded.problems == []


def test_dedicated_file_wins_over_pyproject_and_says_so(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        workspace='mode = "best-of"\n',
        pyproject='[tool.fuse-ls]\nmode = "debate"\n[tool.fuse-ls.debate]\nrounds = 3\n',
    )
    assert loaded.settings.mode == "best-of"
    assert loaded.settings.debate.rounds == 1  # not merged: the dedicated file wins outright
    notice = only_problem(loaded)
    assert "[tool.fuse-ls]" in str(notice) and "ignored" in str(notice)
    assert str(tmp_path / "ws" / ".fuse-ls.toml") in str(notice)


def test_editor_section_wrapper_is_unwrapped(no_user: Path) -> None:
    loaded = load_settings(None, editor={"fuseLs": {"mode": "debate"}}, env={}, user_config=no_user)
    assert loaded.settings.mode == "debate"
    assert loaded.problems == []


def test_editor_nulls_mean_unset(no_user: Path) -> None:
    # VS Code sends null for settings the user never set.
    editor = {"mode": None, "quorum": {"deadline_s": None, "min_responses": None}}
    loaded = load_settings(None, editor=editor, env={}, user_config=no_user)
    assert loaded.settings == Settings()
    assert loaded.problems == []


# --- merging and spelling -------------------------------------------------------------


def test_tables_deep_merge(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        user="[quorum]\nmin_responses = 2\n[budget]\nmax_usd_per_day = 3\n",
        workspace="[quorum]\ndeadline_s = 30\n",
        editor={"budget": {"max_usd_per_request": 0.1}},
    )
    assert loaded.settings.quorum.min_responses == 2
    assert loaded.settings.quorum.deadline_s == 30.0
    assert loaded.settings.budget.max_usd_per_day == 3.0
    assert loaded.settings.budget.max_usd_per_request == 0.1


def test_pool_list_replaces(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        user='pool = ["a/one", "b/two", "c/three"]\n',
        workspace='pool = ["d/four"]\n',
    )
    assert loaded.settings.pool == [ModelSpec("d/four")]


def test_pool_entries_strings_and_tables(tmp_path: Path) -> None:
    workspace = """
pool = [
  "a/one",
  { id = "b/two", repeat = 3, temperature = 0.7 },
  { id = "local/llama", base_url = "http://localhost:11434/v1", api_key_env = "OLLAMA_KEY" },
]
"""
    loaded = load(tmp_path, workspace=workspace)
    assert loaded.problems == []
    assert loaded.settings.pool == [
        ModelSpec("a/one"),
        ModelSpec("b/two", repeat=3, temperature=0.7),
        ModelSpec("local/llama", base_url="http://localhost:11434/v1", api_key_env="OLLAMA_KEY"),
    ]


def test_colon_suffix_is_just_part_of_the_id(tmp_path: Path) -> None:
    loaded = load(tmp_path, workspace='pool = ["model:3", "meta/llama:free"]\n')
    assert [s.id for s in loaded.settings.pool] == ["model:3", "meta/llama:free"]
    assert all(s.repeat == 1 for s in loaded.settings.pool)


def test_judge_with_id_replaces_judge_without_id_tweaks(tmp_path: Path) -> None:
    user = '[judge]\nid = "x/judge"\nbase_url = "http://localhost:8000/v1"\n'
    loaded = load(tmp_path, user=user, editor={"judge": {"temperature": 0}})
    assert loaded.settings.judge == ModelSpec(
        "x/judge", base_url="http://localhost:8000/v1", temperature=0.0
    )
    # A new judge id drops the old judge's endpoint instead of inheriting it.
    loaded = load(tmp_path, user=user, env={"FUSE_LS_JUDGE": "openai/gpt-5"})
    assert loaded.settings.judge == ModelSpec("openai/gpt-5")


def test_camel_case_keys_are_accepted(no_user: Path) -> None:
    editor = {
        "quorum": {"minResponses": 2, "deadlineS": 12},
        "budget": {"maxUsdPerRequest": 0.25},
        "provider": {"baseUrl": "http://localhost:1234/v1", "apiKeyEnv": "MY_KEY"},
        "telemetry": {"recordContent": True},
        "pool": [{"id": "a/b", "apiKeyEnv": "OTHER_KEY", "maxTokens": 100}, "c/d"],
    }
    loaded = load_settings(None, editor=editor, env={}, user_config=no_user)
    assert loaded.problems == []
    s = loaded.settings
    assert s.quorum.min_responses == 2 and s.quorum.deadline_s == 12.0
    assert s.budget.max_usd_per_request == 0.25
    assert s.provider.base_url == "http://localhost:1234/v1"
    assert s.provider.api_key_env == "MY_KEY"
    assert s.telemetry.record_content is True
    assert s.pool[0] == ModelSpec("a/b", api_key_env="OTHER_KEY", max_tokens=100)


# --- environment ----------------------------------------------------------------------


def test_env_shortcuts(no_user: Path) -> None:
    env = {
        "FUSE_LS_BASE_URL": "http://127.0.0.1:9999/v1",
        "FUSE_LS_MODE": "best-of",
        "FUSE_LS_MODELS": " a/one, b/two ,,c/three ",
        "FUSE_LS_JUDGE": "j/udge",
        "FUSE_LS_DATA_DIR": "/tmp/fuse-data",
        "FUSE_LS_TELEMETRY": "0",
        "OPENROUTER_API_KEY": "sk-or-v1-not-a-setting",
        "FUSE_LS_LOG_LEVEL": "debug",  # not a setting: left to whoever reads it
    }
    loaded = load_settings(None, env=env, user_config=no_user)
    assert loaded.problems == []
    s = loaded.settings
    assert s.provider.base_url == "http://127.0.0.1:9999/v1"
    assert s.mode == "best-of"
    assert [m.id for m in s.pool] == ["a/one", "b/two", "c/three"]
    assert s.judge == ModelSpec("j/udge")
    assert s.telemetry.data_dir == "/tmp/fuse-data"
    assert s.telemetry.enabled is False
    assert "sk-or" not in json.dumps(settings_to_dict(s))


@pytest.mark.parametrize(
    ("name", "raw", "expected"),
    [
        ("FUSE_LS_BUDGET__MAX_USD_PER_REQUEST", "0.2", ("budget", "max_usd_per_request", 0.2)),
        ("FUSE_LS_BUDGET__MAX_USD_PER_DAY", "null", ("budget", "max_usd_per_day", None)),
        ("FUSE_LS_BUDGET__MAX_USD_PER_DAY", "None", ("budget", "max_usd_per_day", None)),
        ("FUSE_LS_QUORUM__MIN_RESPONSES", "2", ("quorum", "min_responses", 2)),
        ("FUSE_LS_QUORUM__DEADLINE_S", "45", ("quorum", "deadline_s", 45.0)),
        (
            "FUSE_LS_PROVIDER__DENY_DATA_COLLECTION",
            "false",
            ("provider", "deny_data_collection", False),
        ),
        ("FUSE_LS_TELEMETRY__RECORD_CONTENT", "yes", ("telemetry", "record_content", True)),
        ("FUSE_LS_TELEMETRY", "1", ("telemetry", "enabled", True)),
        ("FUSE_LS_REVIEW__CONTEXT_LINES", " 7 ", ("review", "context_lines", 7)),
        ("FUSE_LS_JUDGE__TEMPERATURE", "0", ("judge", "temperature", 0.0)),
    ],
)
def test_env_generic_coercion(
    no_user: Path, name: str, raw: str, expected: tuple[str, str, object]
) -> None:
    loaded = load_settings(None, env={name: raw}, user_config=no_user)
    assert loaded.problems == []
    section, key, value = expected
    got = getattr(getattr(loaded.settings, section), key)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize(
    ("name", "raw", "key", "allowed"),
    [
        (
            "FUSE_LS_RETRIES__MAX_ATTEMPTS",
            "three",
            "retries.max_attempts",
            "an integer from 1 to 10",
        ),
        ("FUSE_LS_QUORUM__DEADLINE_S", "null", "quorum.deadline_s", "a number > 0"),
        ("FUSE_LS_TELEMETRY", "maybe", "telemetry.enabled", "1 or 0 (true or false)"),
        ("FUSE_LS_MODE", "fastest", "mode", "one of 'best-of', 'merge', 'debate'"),
        ("FUSE_LS_MODELS", " , ", "pool", "a non-empty list"),
        (
            "FUSE_LS_QUORUM__MIN_RESPONSS",
            "2",
            "quorum.min_responss",
            "did you mean 'FUSE_LS_QUORUM__MIN_RESPONSES'?",
        ),
    ],
)
def test_env_problems_name_the_variable(
    no_user: Path, name: str, raw: str, key: str, allowed: str
) -> None:
    loaded = load_settings(None, env={name: raw}, user_config=no_user)
    problem = only_problem(loaded)
    # The user set a variable, not a key: the message names the variable.
    assert problem.setting == key and problem.key == name
    assert problem.source == "the environment"
    assert f"setting '{name}' (from the environment)" in str(problem)
    assert allowed in str(problem)
    assert loaded.settings == Settings()  # the bad value fell back to the default


def test_env_overrides_generic_with_shortcut(no_user: Path) -> None:
    env = {"FUSE_LS_PROVIDER__BASE_URL": "http://a.test/v1", "FUSE_LS_BASE_URL": "http://b.test/v1"}
    loaded = load_settings(None, env=env, user_config=no_user)
    assert loaded.settings.provider.base_url == "http://b.test/v1"


# --- validation -----------------------------------------------------------------------

VALIDATION_CASES: list[tuple[dict[str, Any], str, str, str]] = [
    ({"mode": "fastest"}, "mode", "'fastest'", "one of 'best-of', 'merge', 'debate'"),
    ({"pool": []}, "pool", "[]", "a non-empty list of model ids"),
    ({"pool": "a/b"}, "pool", "'a/b'", "a non-empty list of model ids"),
    ({"pool": ["a/b", ""]}, "pool[1].id", "''", "a non-empty model id"),
    ({"pool": ["a/b", 3]}, "pool[1]", "3", "a table with the keys id, base_url"),
    ({"pool": [{"repeat": 2}]}, "pool[0].id", "None", "a non-empty model id"),
    ({"pool": [{"id": "a", "repeat": 0}]}, "pool[0].repeat", "0", "an integer from 1 to 8"),
    ({"pool": [{"id": "a", "repeat": 9}]}, "pool[0].repeat", "9", "an integer from 1 to 8"),
    (
        {"pool": [{"id": "a", "repeat": 8}, {"id": "b", "repeat": 8}, "c"]},
        "pool",
        "17",
        "at most 16 model calls in total",
    ),
    (
        {"pool": [{"id": "a", "temperature": 2.5}]},
        "pool[0].temperature",
        "2.5",
        "a number from 0 to 2 or null",
    ),
    (
        {"pool": [{"id": "a", "temperature": -1}]},
        "pool[0].temperature",
        "-1",
        "a number from 0 to 2 or null",
    ),
    (
        {"pool": [{"id": "a", "max_tokens": 0}]},
        "pool[0].max_tokens",
        "0",
        "an integer >= 1 or null",
    ),
    (
        {"pool": [{"id": "a", "base_url": "ftp://x"}]},
        "pool[0].base_url",
        "'ftp://x'",
        "an http:// or https:// URL",
    ),
    ({"judge": {"id": "j", "max_tokens": -5}}, "judge.max_tokens", "-5", "an integer >= 1 or null"),
    ({"judge": ""}, "judge.id", "''", "a non-empty model id"),
    ({"quorum": {"min_responses": 0}}, "quorum.min_responses", "0", "an integer >= 1 or null"),
    (
        {"quorum": {"min_responses": "three"}},
        "quorum.min_responses",
        "'three'",
        "an integer >= 1 or null",
    ),
    (
        {"quorum": {"min_responses": 4}},
        "quorum.min_responses",
        "4",
        "an integer from 1 to the pool size (3) or null",
    ),
    ({"quorum": {"deadline_s": 0}}, "quorum.deadline_s", "0", "a number > 0"),
    ({"quorum": {"deadline_s": True}}, "quorum.deadline_s", "True", "a number > 0"),
    ({"quorum": 3}, "quorum", "3", "a table with the keys min_responses, deadline_s"),
    ({"timeouts": {"connect_s": -1}}, "timeouts.connect_s", "-1", "a number > 0"),
    ({"timeouts": {"request_s": 0}}, "timeouts.request_s", "0", "a number > 0"),
    ({"timeouts": {"first_token_s": "soon"}}, "timeouts.first_token_s", "'soon'", "a number > 0"),
    ({"retries": {"max_attempts": 0}}, "retries.max_attempts", "0", "an integer from 1 to 10"),
    ({"retries": {"max_attempts": 11}}, "retries.max_attempts", "11", "an integer from 1 to 10"),
    ({"retries": {"max_attempts": 2.5}}, "retries.max_attempts", "2.5", "an integer from 1 to 10"),
    ({"retries": {"backoff_base_s": -0.1}}, "retries.backoff_base_s", "-0.1", "a number >= 0"),
    (
        {"budget": {"max_usd_per_request": -1}},
        "budget.max_usd_per_request",
        "-1",
        "a number >= 0 or null",
    ),
    (
        {"budget": {"max_usd_per_day": "lots"}},
        "budget.max_usd_per_day",
        "'lots'",
        "a number >= 0 or null",
    ),
    ({"debate": {"rounds": 0}}, "debate.rounds", "0", "an integer from 1 to 3"),
    ({"debate": {"rounds": 4}}, "debate.rounds", "4", "an integer from 1 to 3"),
    (
        {"provider": {"base_url": "localhost:11434"}},
        "provider.base_url",
        "'localhost:11434'",
        "an http:// or https:// URL",
    ),
    (
        {"provider": {"deny_data_collection": "yes"}},
        "provider.deny_data_collection",
        "'yes'",
        "true or false",
    ),
    ({"review": {"context_lines": -1}}, "review.context_lines", "-1", "an integer >= 0"),
    (
        {"review": {"min_votes_for_warning": 0}},
        "review.min_votes_for_warning",
        "0",
        "an integer >= 1",
    ),
    ({"telemetry": {"retention_days": 0}}, "telemetry.retention_days", "0", "an integer >= 1"),
    ({"telemetry": {"enabled": 1}}, "telemetry.enabled", "1", "true or false"),
    ({"telemetry": {"data_dir": 5}}, "telemetry.data_dir", "5", "a directory path or null"),
]


@pytest.mark.parametrize(("editor", "key", "shown", "allowed"), VALIDATION_CASES)
def test_validation_messages(
    no_user: Path, editor: dict[str, Any], key: str, shown: str, allowed: str
) -> None:
    loaded = load_settings(None, editor=editor, env={}, user_config=no_user)
    problem = only_problem(loaded)
    message = str(problem)
    assert problem.key == key
    assert f"Invalid setting '{key}' (from editor settings): got {shown}; expected " in message
    assert allowed in message
    assert problem.source == "editor settings"
    # Nothing crashes and the bad key falls back: here to the defaults.
    assert loaded.settings == Settings()


def test_message_matches_the_documented_example(tmp_path: Path) -> None:
    loaded = load(tmp_path, workspace="[quorum]\nmin_responses = 0\n")
    path = tmp_path / "ws" / ".fuse-ls.toml"
    assert str(only_problem(loaded)) == (
        f"Invalid setting 'quorum.min_responses' (from {path}): got 0; "
        "expected an integer >= 1 or null."
    )


@pytest.mark.parametrize(
    ("editor", "key", "suggestion"),
    [
        ({"quorum": {"min_respones": 2}}, "quorum.min_respones", "quorum.min_responses"),
        ({"quorum": {"deadline": 3}}, "quorum.deadline", "quorum.deadline_s"),
        ({"min_responses": 2}, "min_responses", "quorum.min_responses"),
        ({"mdoe": "merge"}, "mdoe", "mode"),
        ({"pool": [{"id": "a", "temprature": 0.1}]}, "pool[0].temprature", "pool[0].temperature"),
    ],
)
def test_unknown_key_suggests_the_closest(
    no_user: Path, editor: dict[str, Any], key: str, suggestion: str
) -> None:
    loaded = load_settings(None, editor=editor, env={}, user_config=no_user)
    problem = only_problem(loaded)
    assert problem.key == key
    assert f"did you mean '{suggestion}'?" in str(problem)


def test_unknown_key_without_a_close_match_lists_the_keys(no_user: Path) -> None:
    loaded = load_settings(None, editor={"debate": {"zzz": 1}}, env={}, user_config=no_user)
    assert "a known key of 'debate': rounds" in str(only_problem(loaded))


def test_unknown_key_in_a_pool_entry_keeps_the_entry(no_user: Path) -> None:
    editor = {"pool": [{"id": "a/b", "temprature": 0.1}]}
    loaded = load_settings(None, editor=editor, env={}, user_config=no_user)
    assert loaded.settings.pool == [ModelSpec("a/b")]


def test_keys_are_never_echoed(no_user: Path) -> None:
    editor = {"provider": {"api_key_env": "sk-or-v1-0123456789abcdef"}, "apiKey": "sk-or-v1-abc"}
    loaded = load_settings(None, editor=editor, env={}, user_config=no_user)
    assert {p.key for p in loaded.problems} == {"provider.api_key_env", "apiKey"}
    text = " ".join(str(p) for p in loaded.problems)
    assert "sk-or" not in text
    assert "did you mean 'provider.apiKeyEnv'?" in text  # camelCase, as the user writes
    assert loaded.settings.provider.api_key_env == "OPENROUTER_API_KEY"


# --- files that cannot be used ---------------------------------------------------------


def test_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    loaded = load(tmp_path, user='mode = "debate"\n', workspace='mode = "best-of"\n[quorum\n')
    problem = only_problem(loaded)
    path = tmp_path / "ws" / ".fuse-ls.toml"
    assert isinstance(problem, ConfigFileError)
    assert problem.source == str(path) and problem.line == 2
    assert str(path) in str(problem) and "line 2" in str(problem) and "invalid TOML" in str(problem)
    # The broken file is skipped as a whole; the user file still applies.
    assert loaded.settings.mode == "debate"
    assert str(path) not in loaded.sources


def test_unreadable_workspace_file_does_not_crash(tmp_path: Path) -> None:
    (tmp_path / "ws" / ".fuse-ls.toml").mkdir(parents=True)  # a directory, not a file
    (tmp_path / "ws" / "pyproject.toml").write_bytes(b"\xff\xfe not utf-8")
    loaded = load(tmp_path)
    assert isinstance(only_problem(loaded), ConfigFileError)
    assert loaded.settings == Settings()


# --- key-by-key fallback --------------------------------------------------------------


def test_bad_layer_falls_back_key_by_key(tmp_path: Path) -> None:
    user = "[quorum]\ndeadline_s = 30\n[retries]\nmax_attempts = 4\n"
    workspace = (
        'mode = "debate"\n[quorum]\ndeadline_s = -1\nmin_responses = 2\n'
        '[retries]\nmax_attempts = "x"\n'
    )
    loaded = load(tmp_path, user=user, workspace=workspace)
    s = loaded.settings
    assert s.mode == "debate"  # good keys of the bad layer apply
    assert s.quorum.min_responses == 2
    assert s.quorum.deadline_s == 30.0  # bad keys fall back to the layer below
    assert s.retries.max_attempts == 4
    assert sorted(p.key for p in loaded.problems) == ["quorum.deadline_s", "retries.max_attempts"]


def test_bad_pool_entry_keeps_the_lower_pool(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        user='pool = ["a/one", "b/two"]\n',
        editor={"pool": ["c/three", {"id": "d/four", "repeat": 0}]},
    )
    assert [m.id for m in loaded.settings.pool] == ["a/one", "b/two"]
    assert only_problem(loaded).key == "pool[1].repeat"


def test_min_responses_checked_against_the_final_pool(tmp_path: Path) -> None:
    user = "[quorum]\nmin_responses = 3\n"
    loaded = load(tmp_path, user=user, env={"FUSE_LS_MODELS": "a/one,b/two"})
    problem = only_problem(loaded)
    assert problem.key == "quorum.min_responses"
    assert problem.source == str(tmp_path / "user" / "config.toml")
    assert "pool size (2)" in str(problem)
    assert loaded.settings.quorum.min_responses is None  # wait for the whole pool
    # Repeats count: two models asked twice give four answers.
    pool = {"pool": [{"id": "a", "repeat": 2}, {"id": "b", "repeat": 2}]}
    assert load(tmp_path, user="[quorum]\nmin_responses = 4\n", editor=pool).problems == []


@pytest.mark.parametrize(
    "editor",
    [
        {"pool": 3, "quorum": "x", "mode": 7, "judge": [1]},
        {"budget": {"max_usd_per_day": float("inf")}},
        {"telemetry": {"enabled": None, "retention_days": None}},
        {"review": [], "debate": {"rounds": {"a": 1}}},
    ],
)
def test_garbage_never_raises(no_user: Path, editor: dict[str, Any]) -> None:
    loaded = load_settings(None, editor=editor, env={}, user_config=no_user)
    assert validate_settings(loaded.settings) == []


# --- validate_settings and settings_to_dict --------------------------------------------


def test_validate_settings_of_defaults_is_clean() -> None:
    assert validate_settings(Settings()) == []


def test_validate_settings_reports_settings_made_in_code() -> None:
    settings = Settings(pool=[ModelSpec("a", repeat=9)], mode="fast")  # type: ignore[arg-type]
    settings = replace(settings, {"quorum.deadline_s": -2})
    settings = replace(settings, {"quorum.min_responses": 10})
    keys = {p.key for p in validate_settings(settings)}
    assert keys == {"pool[0].repeat", "mode", "quorum.deadline_s", "quorum.min_responses"}


def test_settings_to_dict_is_plain_json() -> None:
    data = settings_to_dict(Settings())
    assert json.loads(json.dumps(data)) == data
    assert data["quorum"] == {"min_responses": None, "deadline_s": 90.0}
    assert data["pool"][0]["id"] == "anthropic/claude-sonnet-4.5"
    assert data["mode"] == "merge"


def test_settings_to_dict_round_trips_through_load(tmp_path: Path) -> None:
    settings = Settings(mode="debate", pool=[ModelSpec("a/b", repeat=2)])
    loaded = load_settings(
        None, editor=settings_to_dict(settings), env={}, user_config=tmp_path / "x"
    )
    assert loaded.problems == []
    assert loaded.settings == settings
