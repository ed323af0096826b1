"""`fuse-ls`: the command line. Every capability of the server can be run from here.

Exit codes: 0 success; 1 a finding at or above `--fail-on`, or (`fix --verify`) the fix
failed its checks; 2 bad usage or setup (missing key, bad range, budget, no check
commands); 3 the fusion failed (every model failed); 4 a change review stopped before it
reviewed anything (deadline, cost limit); 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from fuse_ls.cli.parser import build_parser
from fuse_ls.cli.pipes import quiet_on_closed_pipe
from fuse_ls.core.errors import FuseError
from fuse_ls.core.vocab import Task

# What a command needs is imported when it runs: `fuse-ls serve`, `emulator`, `stats`...
# pass through `main` to their own modules, and `--version` needs none of it. Settings
# (cattrs, redaction rules), rich and asyncio load with the commands that use them.
if TYPE_CHECKING:
    from rich.console import Console

    from fuse_ls.config import LoadedSettings, Settings
    from fuse_ls.core.events import Observer
    from fuse_ls.core.types import FusionResult

# DOTALL: a file name may contain any character but NUL and "/", a newline included.
_TARGET = re.compile(r"^(?P<path>.+?)(?::(?P<start>\d+)(?:-(?P<end>\d+))?)?$", re.DOTALL)
_ROOT_MARKERS = (".git", ".fuse-ls.toml", "pyproject.toml", "package.json")


def parse_target(target: str) -> tuple[Path, int | None, int | None]:
    """`FILE`, `FILE:N` or `FILE:START-END` (1-based, inclusive)."""
    match = _TARGET.match(target)
    if match is None or "\0" in target:
        raise FuseError(f"Cannot read target {target!r}; use FILE, FILE:LINE or FILE:START-END.")
    path = Path(match["path"])
    start = int(match["start"]) if match["start"] else None
    end = int(match["end"]) if match["end"] else start
    return path, start, end


def _shown(path: Path | str) -> str:
    """A path as printed: quoted with escapes when it holds newlines or other controls."""
    text = str(path)
    return text if text.isprintable() else repr(text)


def not_a_file(target: str, path: Path) -> str:
    """Why `target` (its file part: `path`) cannot be read: `app.py:ten` names a file with
    a range that is not one, which "app.py:ten is not a file" hid."""
    head, sep, _ = target.rpartition(":")
    if sep and Path(head).is_file():
        return f"{_shown(target)}: not a line range; use FILE, FILE:LINE or FILE:START-END."
    return f"{_shown(path)} is not a file."


def target_lines(
    target: str, path: Path, text: str, start: int | None, end: int | None
) -> tuple[int, int]:
    """The lines (1-based, inclusive) of `text`, the file at `path`, that `target` names:
    all of them without a range. FuseError: one line naming the target as typed and the
    file's length ("app.py:5-99: past the end of app.py, which has 7 lines"), where the
    engine's BadRange spoke of "the document" and of "Range 1-1" for an empty file."""
    from fuse_ls.core.lines import line_count

    count = line_count(text)
    name = _shown(path)
    if start is None:
        if not count:
            raise FuseError(f"{name} is empty: there is nothing to send to the models.")
        return 1, count
    last = start if end is None else end
    # An editor shows an empty line after a final line break; a range ending there ends
    # at the last line (as a selection down to it does in the editor).
    if last == count + 1 and text.endswith(("\n", "\r")):
        last = count
    size = f"has {count} line{'' if count == 1 else 's'}" if count else "is empty"
    if start < 1:
        raise FuseError(f"{_shown(target)}: lines are numbered from 1 ({name} {size}).")
    if last < start:
        raise FuseError(f"{_shown(target)}: the range ends before it starts.")
    if last > count:
        raise FuseError(f"{_shown(target)}: past the end of {name}, which {size}.")
    return start, last


def find_workspace(path: Path) -> Path:
    for folder in [path.resolve().parent, *path.resolve().parents]:
        if any((folder / marker).exists() for marker in _ROOT_MARKERS):
            return folder
    return Path.cwd()


class BadFlag(FuseError):
    """A flag's value the settings refuse: bad usage, reported as argparse reports a bad
    value (`fuse-ls review: error: argument --models: expected ..., got ...`, exit 2)."""


def apply_overrides(loaded: LoadedSettings, args: argparse.Namespace) -> Settings:
    """The settings with --mode, --models, --judge and --deadline applied, each checked as
    a layer of its own: a bad one stops the run (the user just typed it), named as typed."""
    from fuse_ls.config import FLAGS_SOURCE, apply_flags

    flags: list[tuple[str, str, Any]] = []
    if getattr(args, "mode", None):
        flags.append(("--mode", "mode", args.mode))
    if getattr(args, "models", None) is not None:
        ids = [m.strip() for m in args.models.split(",") if m.strip()]
        flags.append(("--models", "pool", ids))
    if getattr(args, "judge", None) is not None:
        flags.append(("--judge", "judge", args.judge.strip()))
    if getattr(args, "deadline", None) is not None:
        flags.append(("--deadline", "quorum.deadline_s", args.deadline))
    if not flags:
        return loaded.settings
    settings, problems = apply_flags(loaded, flags)
    if problems:
        problem = problems[0]
        # A flag's own problem (argparse checked what it could: the value is not empty);
        # one it causes in a file's setting (a pool smaller than the file's quorum) is
        # named as that setting, where it is fixed.
        if problem.source == FLAGS_SOURCE:
            # The settings' words for the value, secrets hidden; a pool too big, counted.
            count = problem.key == "--models" and isinstance(problem.value, int)
            got = f"{problem.value} model ids" if count else repr(problem.value)
            raise BadFlag(f"argument {problem.key}: expected {problem.allowed}, got {got}")
        raise problem
    return settings


def bad_usage(args: argparse.Namespace, problem: BadFlag) -> NoReturn:
    """Exit 2 with the command's usage and `problem`, as argparse reports a bad value."""
    parser: argparse.ArgumentParser = args.command_parser
    parser.error(str(problem))


def missing_key_message(settings: Settings, env: Mapping[str, str]) -> str | None:
    from fuse_ls.core.keyscope import OPENROUTER_KEY_ENV, needs_key

    missing = set()
    for spec in [*settings.pool, settings.judge]:
        endpoint = settings.endpoint_for(spec)
        if needs_key(endpoint.base_url) and not env.get(endpoint.api_key_env or ""):
            missing.add(endpoint.api_key_env or OPENROUTER_KEY_ENV)
    if not missing:
        return None
    names = " and ".join(sorted(missing))
    # One whole command a line, each under 80 columns: a wrapped line pastes as two.
    return (
        f"No API key: set {names} (an OpenRouter key from https://openrouter.ai/keys), "
        "or point fuse-ls at a local OpenAI-compatible server, e.g. Ollama:\n"
        "  export FUSE_LS_BASE_URL=http://localhost:11434/v1\n"
        "  export FUSE_LS_MODELS=qwen2.5-coder:7b\n"
        "  export FUSE_LS_JUDGE=qwen2.5-coder:7b\n"
        "To see fuse-ls work without any model, run `fuse-ls demo`."
    )


def _console(stderr: bool = False) -> Console:
    from rich.console import Console

    # markup=False: model answers, file names and provider messages are printed as they
    # are; a finding about `xs[i]` or `[/docs]` is text, not a rich style tag.
    # stderr soft-wraps: piped to a CI log, rich folded an error at 80 columns and a path
    # in it broke mid-name. (The live progress there sets its own width: one redrawn line.)
    return Console(stderr=stderr, highlight=False, soft_wrap=stderr, markup=False)


def _say(console: Console, label: str, style: str, message: object) -> None:
    from rich.text import Text

    from fuse_ls.safetext import visible_lines

    # Messages name paths and settings from repositories: an ESC or a bidi override in a
    # folder's name is shown as an escape, not run by the terminal.
    console.print(Text.assemble((label, style), " ", visible_lines(str(message))))


def _error(console: Console, message: object) -> None:
    _say(console, "error:", "red", message)


def _report_problems(loaded: LoadedSettings, err: Console) -> None:
    for problem in loaded.problems:
        _say(err, "config:", "yellow", problem)


async def run_fusion(
    settings: Settings,
    request: Any,
    observer: Observer | None,
    workspace: Path,
    verifier: Any = None,
) -> FusionResult:
    from fuse_ls.fusion.engine import FusionEngine

    observers: list[Observer] = [o for o in (observer,) if o is not None]
    recorder = _recorder(settings, workspace)
    if recorder is not None:
        observers.append(recorder.observe)

    def fan_out(event: Any) -> None:
        for o in observers:
            o(event)

    try:
        async with FusionEngine(settings) as engine:
            if verifier is None:
                return await engine.run(request, fan_out)
            # The isolated copy is made while the models think, and removed however the
            # run ends (Ctrl-C included).
            async with verifier:
                verifier.start()
                return await engine.run(request, fan_out, verifier=verifier)
    finally:
        if recorder is not None:
            recorder.close()


def _recorder(settings: Settings, workspace: Path) -> Any:
    if not (settings.telemetry.enabled or settings.telemetry.otel):
        return None
    from fuse_ls import __version__

    try:
        from fuse_ls.telemetry.session import open_session
    except ImportError:
        return None
    return open_session(
        settings.telemetry,
        workspace,
        source="cli",
        version=__version__,
        base_url=settings.provider.base_url,
    )


def cmd_fusion(args: argparse.Namespace, task: Task) -> int:
    import asyncio

    import attrs
    from rich.text import Text

    from fuse_ls.cli import render, report
    from fuse_ls.config import load_settings
    from fuse_ls.context import build_request, language_for
    from fuse_ls.core.ci_log import ci_safe_json
    from fuse_ls.fusion.policy import policy_for, pool_slots
    from fuse_ls.safetext import visible

    out, err = _console(), _console(stderr=True)
    try:
        path, start, end = parse_target(args.target)
    except FuseError as exc:
        _error(err, exc)
        return 2
    if not path.is_file():
        _error(err, not_a_file(args.target, path))
        return 2
    workspace = find_workspace(path)
    loaded = load_settings(workspace, trusted=args.trust)
    _report_problems(loaded, err)
    try:
        settings = apply_overrides(loaded, args)
    except BadFlag as exc:
        bad_usage(args, exc)
    except FuseError as exc:
        _error(err, exc)
        return 2
    message = missing_key_message(settings, os.environ)
    if message:
        _error(err, message)
        return 2
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _error(err, f"cannot read {_shown(path)}: {exc}")
        return 2
    try:
        first, last = target_lines(args.target, path, text, start, end)
        request = build_request(
            task,
            path.resolve(),
            text,
            first,
            last,
            settings,
            workspace,
            language_for(path),
        )
    except (FuseError, ValueError) as exc:
        _error(err, exc)
        return 2
    request = attrs.evolve(request, policy=policy_for(settings))
    shown = str(request.path)
    verify = task == "fix" and (
        getattr(args, "verify", False) or getattr(args, "apply_anyway", False)
    )
    verifier = None
    if verify:
        from fuse_ls.cli.verify import NO_COMMANDS, make_verifier

        if not settings.verify.commands:
            _error(err, NO_COMMANDS)
            return 2
        verifier = make_verifier(
            settings, workspace, path, text, request.start_line, request.end_line
        )
    progress = (
        None
        if args.json or args.sarif or args.quiet
        else render.LiveProgress(err, [s.spec.id for s in pool_slots(settings)], settings.judge.id)
    )
    try:
        if progress is not None:
            with progress:
                result = asyncio.run(run_fusion(settings, request, progress, workspace, verifier))
        else:
            result = asyncio.run(run_fusion(settings, request, None, workspace, verifier))
    except KeyboardInterrupt:
        err.print(Text("cancelled", style="yellow"))
        return 130
    except FuseError as exc:
        _error(err, exc)
        from fuse_ls.core.errors import AllModelsFailed

        return 3 if isinstance(exc, AllModelsFailed) else 2
    marked = None
    if task == "review":  # fingerprints and quieting as in a change review
        from fuse_ls.changes import quiet

        if result.findings:
            # The current folder's repository: the one `fuse-ls dismiss` keeps them for.
            known = quiet.dismissed_in(quiet.repo_of(Path.cwd()), path, settings)
            marked = quiet.mark(result, text, known)
        else:
            marked = quiet.Marked(result, (), {})
        result = marked.result
    prints, hidden = (marked.fingerprints, marked.hidden) if marked else ((), None)
    if args.sarif:
        print(ci_safe_json(report.sarif(result, Path(shown), prints), indent=2))
    elif args.json:
        print(ci_safe_json(report.result_json(result, shown, prints, hidden), indent=2))
    elif task == "review":
        render.print_review(out, result, visible(shown), prints, hidden or {})
    else:
        title = "consensus explanation" if task == "explain" else "fused fix"
        where = f"{title}: {visible(shown)}:{request.start_line}-{request.end_line}"
        code_path = shown if task == "fix" else None
        render.print_text(out, result, where, code_path, request.start_line)
        if verify:
            from fuse_ls.cli.verify import print_checks

            print_checks(out, result, shown, text, request.start_line, request.end_line)
    checks_failed = verify and not (result.answer_check and result.answer_check.passed)
    if task == "fix" and result.answer is not None:
        from fuse_ls.cli.verify import apply_if_asked

        failed = apply_if_asked(args, err, path, text, request, result.answer, checks_failed)
        if failed is not None:
            return failed
    if checks_failed:
        return 1
    if getattr(args, "fail_on", None) and report.fails_on(result, args.fail_on):
        return 1
    return 0


_PASSTHROUGH = {
    "serve": ("fuse_ls.server", "serve_main"),
    "stats": ("fuse_ls.telemetry.stats", "stats_main"),
    "upload": ("fuse_ls.telemetry.upload", "upload_main"),
    "emulator": ("fuse_ls.emulator.__main__", "main"),
    "cache": ("fuse_ls.cli.changes", "cache_main"),
    "dismiss": ("fuse_ls.cli.changes", "dismiss_main"),
    "eval": ("fuse_ls.eval.cli", "eval_main"),
}


def main(argv: Sequence[str] | None = None) -> int:
    return quiet_on_closed_pipe(lambda: _main(argv))


def _main(argv: Sequence[str] | None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    # First, before any console or log handler: a CI runner reads commands in what a
    # step prints (docs/security.md). The server's stdout is its editor's, not a log.
    if not (args_list and args_list[0] == "serve"):
        from fuse_ls.core.ci_log import guard_ci_streams

        guard_ci_streams()
    # The server's stderr belongs to the editor and the emulator logs as uvicorn does.
    if not (args_list and args_list[0] in ("serve", "emulator")):
        from fuse_ls.cli.logs import to_stderr

        to_stderr()
    if args_list and args_list[0] in _PASSTHROUGH:
        import importlib

        module, func = _PASSTHROUGH[args_list[0]]
        entry = getattr(importlib.import_module(module), func)
        return int(entry(args_list[1:]))
    parser = build_parser()
    args = parser.parse_args(args_list)
    if args.command == "review":
        from fuse_ls.cli.changes import cmd_review_changes, wants_change_review

        if wants_change_review(args):
            return cmd_review_changes(args)
        args.target = args.targets[0]
        if args.format in ("json", "sarif"):
            args.json, args.sarif = args.format == "json", args.format == "sarif"
        return cmd_fusion(args, args.command)
    if args.command in ("explain", "fix"):
        return cmd_fusion(args, args.command)
    if args.command == "demo":
        from fuse_ls.cli.demo import cmd_demo

        return cmd_demo(args)
    if args.command == "doctor":
        from fuse_ls.cli.doctor import cmd_doctor

        return cmd_doctor(args)
    if args.command == "trust":
        from fuse_ls.cli.trust import cmd_trust

        return cmd_trust(args)
    parser.print_help()
    return 0 if args.command is None and args_list == [] else 2
