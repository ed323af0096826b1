"""A problem names the key the way its source wrote it, so the user can find it: the
editor's camelCase setting id, the file's own key, the environment variable's name; and
it says which of the editor's channels sent it."""

from __future__ import annotations

from pathlib import Path

from fuse_ls.config import EditorLayer, Settings, apply_flags, load_settings
from fuse_ls.core.errors import UnknownSetting

SECRET = "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"


def test_a_camel_case_editor_value_is_named_as_the_setting_id(tmp_path: Path) -> None:
    editor = {"fuseLs": {"review": {"minVotesForWarning": 0, "contextLines": 5}}}
    loaded = load_settings(None, editor=editor, env={}, user_config=tmp_path / "none")
    [problem] = loaded.problems
    assert str(problem) == (
        "Invalid setting 'fuseLs.review.minVotesForWarning' (from editor settings): got 0; "
        "expected an integer >= 1."
    )
    assert problem.setting == "review.min_votes_for_warning"
    assert loaded.settings.review.context_lines == 5  # the rest of the layer applies


def test_an_unknown_camel_case_key_is_named_as_written_with_a_camel_case_hint(
    tmp_path: Path,
) -> None:
    editor = {"review": {"minVoteForWarning": 3}, "quorum": {"zzzTop": 2}}
    loaded = load_settings(None, editor=editor, env={}, user_config=tmp_path / "none")
    by_key = {p.key: p for p in loaded.problems}
    assert set(by_key) == {"review.minVoteForWarning", "quorum.zzzTop"}
    assert all(isinstance(p, UnknownSetting) for p in loaded.problems)
    assert str(by_key["review.minVoteForWarning"]) == (
        "Unknown setting 'review.minVoteForWarning' (from editor settings) is ignored; "
        "expected a known key of 'review' (did you mean 'review.minVotesForWarning'?)."
    )
    # No close match: the table's keys, listed the way this user writes keys.
    assert "a known key of 'quorum': minResponses, deadlineS." in str(by_key["quorum.zzzTop"])


def test_a_kebab_case_file_key_is_named_as_in_the_file(tmp_path: Path) -> None:
    user = tmp_path / "user.toml"
    user.write_text("[review]\nmin-votes-for-warning = 0\n", encoding="utf-8")
    loaded = load_settings(None, env={}, user_config=user)
    [problem] = loaded.problems
    assert str(problem).startswith(f"Invalid setting 'review.min-votes-for-warning' (from {user})")


def test_an_unknown_kebab_case_file_key_gets_kebab_case_suggestions(tmp_path: Path) -> None:
    user = tmp_path / "user.toml"
    user.write_text(
        "min-responses = 2\n"  # a right key in the wrong table
        "[review]\nmin-vote-for-warning = 2\n"
        "[quorum]\nzzz-top = 1\n",
        encoding="utf-8",
    )
    loaded = load_settings(None, env={}, user_config=user)
    by_key = {p.key: str(p) for p in loaded.problems}
    assert by_key["review.min-vote-for-warning"] == (
        f"Unknown setting 'review.min-vote-for-warning' (from {user}) is ignored; "
        "expected a known key of 'review' (did you mean 'review.min-votes-for-warning'?)."
    )
    assert "(did you mean 'quorum.min-responses'?)" in by_key["min-responses"]
    # No close match: the table's keys, listed the way this user writes keys.
    assert "a known key of 'quorum': min-responses, deadline-s." in by_key["quorum.zzz-top"]


def test_a_one_word_unknown_key_gets_suggestions_in_the_style_of_its_layer(
    tmp_path: Path,
) -> None:
    kebab = tmp_path / "kebab.toml"
    kebab.write_text("[review]\nmin-votes-for-warning = 2\n[quorum]\ndeadline = 3\n")
    [problem] = load_settings(None, env={}, user_config=kebab).problems
    assert "(did you mean 'quorum.deadline-s'?)" in str(problem)
    editor = {"review": {"minVotesForWarning": 2}, "quorum": {"deadline": 3}}
    [problem] = load_settings(None, editor=editor, env={}, user_config=kebab.parent / "x").problems
    assert "(did you mean 'quorum.deadlineS'?)" in str(problem)
    # A layer that mixes styles shows none: snake_case, the documented spelling.
    mixed = tmp_path / "mixed.toml"
    mixed.write_text(
        "[review]\nmin-votes-for-warning = 2\ncontext_lines = 4\n[quorum]\ndeadline = 3\n"
    )
    [problem] = load_settings(None, env={}, user_config=mixed).problems
    assert "(did you mean 'quorum.deadline_s'?)" in str(problem)


def test_an_environment_value_is_named_as_the_variable(tmp_path: Path) -> None:
    env = {"FUSE_LS_REVIEW__MIN_VOTES_FOR_WARNING": "0", "FUSE_LS_REVIEW__CONTEXT_LINE": "4"}
    loaded = load_settings(None, env=env, user_config=tmp_path / "none")
    bad, unknown = sorted(loaded.problems, key=lambda p: isinstance(p, UnknownSetting))
    assert str(bad) == (
        "Invalid setting 'FUSE_LS_REVIEW__MIN_VOTES_FOR_WARNING' (from the environment): "
        "got '0'; expected an integer >= 1."
    )
    assert str(unknown) == (
        "Unknown setting 'FUSE_LS_REVIEW__CONTEXT_LINE' (from the environment) is ignored; "
        "expected a known variable (did you mean 'FUSE_LS_REVIEW__CONTEXT_LINES'?)."
    )


def test_a_bad_model_list_entry_names_the_variable_and_entry(tmp_path: Path) -> None:
    loaded = load_settings(None, env={"FUSE_LS_MODELS": "a/one, "}, user_config=tmp_path / "x")
    assert loaded.problems == []  # an empty part is skipped, not an entry
    loaded = load_settings(None, env={"FUSE_LS_JUDGE": " "}, user_config=tmp_path / "x")
    [problem] = loaded.problems
    assert problem.key == "FUSE_LS_JUDGE" and problem.setting.startswith("judge")


def test_each_editor_channel_has_its_own_label_and_a_repeat_is_reported_once(
    tmp_path: Path,
) -> None:
    startup = EditorLayer(
        {"review": {"minVotesForWarning": 0}, "debate": {"rounds": 9}}, "start-up", ""
    )
    pulled = EditorLayer({"review": {"min_votes_for_warning": 0}}, "pulled", "fuseLs.")
    loaded = load_settings(None, editor=[startup, pulled], env={}, user_config=tmp_path / "x")
    assert sorted(str(p) for p in loaded.problems) == [
        "Invalid setting 'debate.rounds' (from start-up): got 9; expected an integer from 1 to 3.",
        "Invalid setting 'fuseLs.review.min_votes_for_warning' (from pulled): got 0; "
        "expected an integer >= 1.",
    ]
    # A good pulled value replaces a bad start-up one: nothing to report.
    pulled = EditorLayer({"review": {"minVotesForWarning": 3}}, "pulled", "fuseLs.")
    loaded = load_settings(None, editor=[startup, pulled], env={}, user_config=tmp_path / "x")
    assert [p.key for p in loaded.problems] == ["debate.rounds"]
    assert loaded.settings.review.min_votes_for_warning == 3
    # VS Code sends the same object both ways: the start-up copy is no source of its own.
    same = {"review": {"minVotesForWarning": 0}}
    layers = [EditorLayer(same, "start-up"), EditorLayer(same, "pulled", "fuseLs.")]
    loaded = load_settings(None, editor=layers, env={}, user_config=tmp_path / "x")
    assert loaded.sources == ["defaults", "pulled"]
    assert [(p.key, p.source) for p in loaded.problems] == [
        ("fuseLs.review.minVotesForWarning", "pulled")
    ]


def test_the_quorum_check_across_layers_names_the_key_as_its_layer_wrote_it(
    tmp_path: Path,
) -> None:
    editor = {"quorum": {"minResponses": 3}}
    env = {"FUSE_LS_MODELS": "a/one,b/two"}
    loaded = load_settings(None, editor=editor, env=env, user_config=tmp_path / "none")
    [problem] = loaded.problems
    assert str(problem) == (
        "Invalid setting 'quorum.minResponses' (from editor settings): got 3; "
        "expected an integer from 1 to the pool size (2) or null."
    )


def test_a_secret_under_a_camel_case_key_stays_hidden(tmp_path: Path) -> None:
    editor = {"provider": {"apiKeyEnv": SECRET}, "quorum": {"deadlineS": SECRET}}
    loaded = load_settings(None, editor=editor, env={}, user_config=tmp_path / "none")
    assert sorted(p.key for p in loaded.problems) == ["provider.apiKeyEnv", "quorum.deadlineS"]
    text = " ".join(str(p) for p in loaded.problems)
    assert "sk-or" not in text and text.count("got '<hidden>'") == 2
    assert loaded.settings == Settings()


def test_a_flag_is_named_as_typed_and_a_bad_one_keeps_the_value_below(tmp_path: Path) -> None:
    user = tmp_path / "user.toml"
    user.write_text("[quorum]\nmin-responses = 2\n", encoding="utf-8")
    loaded = load_settings(None, env={"FUSE_LS_QUORUM__DEADLINE_S": "30"}, user_config=user)
    flags = [("--deadline", "quorum.deadline_s", -1.0), ("--mode", "mode", "debate")]
    settings, problems = apply_flags(loaded, flags)
    assert [str(p) for p in problems] == [
        "Invalid setting '--deadline' (from the command line): got -1.0; expected a number > 0."
    ]
    assert (settings.quorum.deadline_s, settings.mode) == (30.0, "debate")
    # A pool smaller than the file's quorum: the file's key, as the file wrote it.
    settings, problems = apply_flags(loaded, [("--models", "pool", ["a/one"])])
    assert [(p.key, p.source) for p in problems] == [("quorum.min-responses", str(user))]
    assert settings.quorum.min_responses is None and [m.id for m in settings.pool] == ["a/one"]
