"""fuse-ls runs in CI on pull requests, whose author writes the code the models read and
the file names a change review prints. A GitHub Actions runner reads every line a step
prints (stdout and stderr) as a possible workflow command: `::cmd args::data` after
leading spaces, and the legacy `##[cmd args]data` anywhere in a line (actions/runner,
ActionCommand.TryParseV2 / TryParse). `add-mask`, `stop-commands`, `set-output`, `error`
and the rest are live there; Azure Pipelines reads `##vso[task.setvariable ...]` anywhere
in a line the same way. So no line fuse-ls prints may carry one as a PR chose it.

Under a runner (GITHUB_ACTIONS, TF_BUILD) the CLI's streams get a zero-width space where
a command would start (fuse_ls/core/ci_log.py); JSON never holds `##` (`#\u0023`), with
or without a runner, and decodes to the same data. Outside a runner text is untouched:
the code `fuse-ls fix` prints is the code.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from fuse_ls.core.ci_log import ZERO_WIDTH_SPACE, GuardedStream, ci_safe_json
from fuse_ls.emulator import Emulator
from tests.changes.gitrepo import Repo
from tests.pool_sample import CODE, JUDGE, POOL, home_env, run_cli
from tests.security.counts import record

# The commands the runner registers (its command extensions plus stop-commands).
_COMMANDS = (
    "add-mask|add-matcher|add-path|debug|echo|endgroup|error|group|notice|remove-matcher"
    "|save-state|set-env|set-output|stop-commands|warning"
)
_V2 = re.compile(rf"^\s*::({_COMMANDS})[ :]")
_V1 = re.compile(rf"##\[({_COMMANDS})[ \]]")
_AZURE = re.compile(r"##vso\[")

MESSAGE = (
    "eval runs any code\n"
    "::add-mask::eval\n"
    "##[error]approved by fuse-ls\n"
    "##vso[task.setvariable variable=SKIP_TESTS]true\n"
    "  ::set-output name=verdict::pass"
)


CHECKED: set[str] = set()


def _commands(text: str) -> list[str]:
    return [
        line
        for line in text.splitlines()
        if _V2.search(line) or _V1.search(line) or _AZURE.search(line)
    ]


# The runner compares culture-sensitively (`StartsWith("::")`, `IndexOf("##[")`); with
# ICU a zero-width space is ignorable there, so a prefix broken by one may still match.
# What it then reads as the command is cut at a fixed offset from the match, in the raw
# line: this models that, and the name it finds must never be a command's.
_ZW = f"{ZERO_WIDTH_SPACE}*"
_ICU_V2 = re.compile(f"^\\s*:{_ZW}:")
_ICU_V1 = re.compile(f"#{_ZW}#{_ZW}\\[")
_ICU_AZURE = re.compile(f"#{_ZW}#{_ZW}[vV]{_ZW}[sS]{_ZW}[oO]{_ZW}\\[")
_A_NAME = re.compile(r"[A-Za-z][\w.-]*")


def _commands_ignoring_zwsp(text: str) -> list[str]:
    found = []
    for line in re.split(r"\r\n|\r|\n", text):
        names = []
        v2 = _ICU_V2.match(line)
        if v2:
            rest = line.lstrip()
            end = re.compile(f":{_ZW}:").search(rest, 2)
            names.append(rest[2 : end.start() if end else 2].split(" ")[0])
        for prefix, length in ((_ICU_V1, 3), (_ICU_AZURE, 6)):
            m = prefix.search(line)
            if m:
                names.append(line[m.start() + length :].split("]")[0].split(" ")[0])
        if any(_A_NAME.fullmatch(name) for name in names):
            found.append(line)
    return found


_MARKDOWN_ESCAPE = re.compile(r"\\([!-/:-@[-`{-~])")


def _strings(value: object) -> list[str]:
    """Every string in decoded JSON."""
    if isinstance(value, str):
        return [value]
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return [text for item in items for text in _strings(item)]


def _runner_env(runner: str | None, env: dict[str, str]) -> dict[str, str]:
    """`env` under GitHub Actions, Azure Pipelines or (None) no runner at all, whatever
    the environment the tests run in (GitHub Actions, maybe)."""
    env = {k: v for k, v in env.items() if k not in ("GITHUB_ACTIONS", "TF_BUILD")}
    if runner == "github":
        env["GITHUB_ACTIONS"] = "true"
    elif runner == "azure":
        env["TF_BUILD"] = "True"
    return env


@pytest.mark.parametrize(
    ("output", "runner"),
    [
        ("text", "github"),
        ("text", "azure"),
        ("json", "github"),
        ("sarif", "github"),
        ("rdjson", "azure"),
        # JSON is the same for every reader, so it never holds a command, runner or not.
        ("json", None),
        ("sarif", None),
        ("rdjson", None),
    ],
)
def test_a_pull_request_cannot_print_workflow_commands(
    tmp_path: Path, output: str, runner: str | None
) -> None:
    repo = Repo(tmp_path / "repo")
    repo.commit("empty")
    repo.write("::error::x.py", CODE)  # git and Linux allow it; `::` starts the heading line
    finding = {"match": "eval(", "message": MESSAGE, "severity": "error", "category": "sec"}
    script = {"models": {**{m: {"findings": [finding]} for m in POOL}, JUDGE: {}}}
    with Emulator(script) as emu:
        env = _runner_env(runner, home_env(emu.base_url, tmp_path / "home"))
        env.update(FUSE_LS_MODELS=",".join(POOL), FUSE_LS_JUDGE=JUDGE, COLUMNS="80")
        args = ["review", "--uncommitted"] + ([] if output == "text" else ["--format", output])
        res = run_cli(args, env, repo.root)
    assert res.returncode == 0, res.stderr
    # Outside a runner stderr is a terminal's, as written; stdout's JSON is checked alone.
    seen = res.stdout if runner is None else res.stdout + "\n" + res.stderr
    assert _commands(seen) == []
    assert _commands_ignoring_zwsp(seen) == []
    if output == "text":
        # The same words, each command broken by an invisible character.
        shown = res.stdout.replace(ZERO_WIDTH_SPACE, "")
        assert "::error::x.py" in shown and "##[error]approved" in shown
    else:
        # The data itself is kept: a JSON consumer reads the message as the model wrote it
        # (rdjson's is Markdown for a pull-request comment, `[` maybe written `\[`).
        assert ZERO_WIDTH_SPACE not in res.stdout
        texts = list(_strings(json.loads(res.stdout)))
        if output == "rdjson":
            texts = [_MARKDOWN_ESCAPE.sub(r"\1", text) for text in texts]
        assert any(MESSAGE in text for text in texts)
    CHECKED.add(f"{output} ({runner or 'no runner'})")
    record("outputs printing no CI workflow command", len(CHECKED))


FIXED = """\
::add-mask::load
def load(raw):
    return ast.literal_eval(raw)  ##[error]approved
  ::set-output name=verdict::pass
##vso[task.complete result=Succeeded]"""
EXPLANATION = "Parse literals only.\n##[warning]no issues\n##vso[task.setvariable variable=X]1"


@pytest.mark.parametrize("command", ["fix", "explain"])
def test_fix_and_explain_print_model_text_a_runner_does_not_obey(
    tmp_path: Path, command: str
) -> None:
    """A fused fix and an explanation are the models' text, which the pull request's code
    leads: in CI, no line of it is a command; outside CI the printed code is the code,
    byte for byte, ready to copy."""
    (tmp_path / "app.py").write_text("def load(raw):\n    return eval(raw)\n")
    fix = {"replacement": FIXED, "explanation": EXPLANATION}
    script = {"models": {**{m: {"fix": fix, "text": EXPLANATION} for m in POOL}, JUDGE: {}}}
    args = [command, "app.py:1-2"] + (["--mode", "best-of"] if command == "explain" else [])
    runs = {}
    with Emulator(script) as emu:
        for runner in ("github", None):
            env = _runner_env(runner, home_env(emu.base_url, tmp_path / "home"))
            env.update(FUSE_LS_MODELS=",".join(POOL), FUSE_LS_JUDGE=JUDGE, COLUMNS="80")
            runs[runner] = run_cli(args, env, tmp_path)
            assert runs[runner].returncode == 0, runs[runner].stderr
    ci, plain = runs["github"], runs[None]
    assert _commands(ci.stdout + "\n" + ci.stderr) == []
    assert _commands_ignoring_zwsp(ci.stdout + "\n" + ci.stderr) == []
    # Up to the table of models (its timings differ from run to run).
    head = ci.stdout.partition("\nmodels")[0]
    assert head.replace(ZERO_WIDTH_SPACE, "") == plain.stdout.partition("\nmodels")[0]
    assert ZERO_WIDTH_SPACE not in plain.stdout + plain.stderr
    if command == "fix":
        assert FIXED in plain.stdout  # each line as the models wrote it
        assert _commands(plain.stdout)  # so the CI run had commands to break
    else:
        assert "##[warning]no issues" in plain.stdout


@pytest.mark.parametrize(
    "text", ["::error::x", "a ##[error] b", "  ::set-output name=a::b", "x\r::add-mask::y"]
)
def test_a_command_split_across_writes_is_still_broken(text: str) -> None:
    """print() and rich write a line in pieces; a piece may end between the two colons,
    between `#` and `#`, or before the bracket. Every split into three writes gives what
    one write gives, and that holds no command."""
    whole = io.StringIO()
    GuardedStream(whole).write(text)
    assert _commands(whole.getvalue()) == [] and _commands(text) != []
    assert _commands_ignoring_zwsp(whole.getvalue()) == []
    assert whole.getvalue().replace(ZERO_WIDTH_SPACE, "") == text
    for i in range(len(text) + 1):
        for j in range(i, len(text) + 1):
            out = io.StringIO()
            stream = GuardedStream(out)
            for piece in (text[:i], text[i:j], text[j:]):
                stream.write(piece)
            assert out.getvalue() == whole.getvalue(), (i, j)


def test_the_break_sits_right_before_the_character_completing_a_command() -> None:
    out = io.StringIO()
    GuardedStream(out).write("::error::x\na ##[error] b\n##VSO[task.x]y\nok ::not-at-start::\n")
    zw = ZERO_WIDTH_SPACE
    assert out.getvalue() == (
        f":{zw}:error::x\na ##{zw}[error] b\n##VSO{zw}[task.x]y\nok ::not-at-start::\n"
    )


@pytest.mark.parametrize("text", ["#", "##", "###", "####", "\\##", "a##[b", "##vso[x]", "#\\#"])
def test_json_never_holds_a_double_hash_and_decodes_the_same(text: str) -> None:
    for kwargs in ({}, {"indent": 2}, {"ensure_ascii": False}):
        data = {"message": text, "list": [text, {"k##": text}]}
        written = ci_safe_json(data, **kwargs)
        assert "##" not in written
        assert json.loads(written) == data


def test_a_stream_without_a_zero_width_space_gets_a_space() -> None:
    """A Windows runner's pipe is often a code page (cp1252) that cannot encode U+200B:
    writing one raised UnicodeEncodeError mid-review."""
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="cp1252", errors="strict")
    GuardedStream(stream).write("::error::x\n##[error]y\n")
    stream.flush()
    assert raw.getvalue().decode("cp1252") == ": :error::x\n## [error]y\n"
