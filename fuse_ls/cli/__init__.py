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

from fuse_ls.cli.pipes import quiet_on_closed_pipe
from fuse_ls.core.errors import FuseError
from fuse_ls.core.vocab import MODES, SEVERITIES, Task

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

    console.print(Text.assemble((label, style), " ", str(message)))


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
    import json

    import attrs
    from rich.text import Text

    from fuse_ls.cli import render, report
    from fuse_ls.config import load_settings
    from fuse_ls.context import build_request, language_for
    from fuse_ls.core.lines import line_count
    from fuse_ls.fusion.policy import policy_for, pool_slots

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
    n_lines = max(line_count(text), 1)
    try:
        request = build_request(
            task,
            path.resolve(),
            text,
            # Line 0 is a mistake to report, not "from the start": only absent means all.
            1 if start is None else start,
            n_lines if end is None else end,
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
        print(json.dumps(report.sarif(result, Path(shown), prints), indent=2))
    elif args.json:
        print(json.dumps(report.result_json(result, shown, prints, hidden), indent=2))
    elif task == "review":
        render.print_review(out, result, shown, prints, hidden or {})
    else:
        title = "consensus explanation" if task == "explain" else "fused fix"
        where = f"{title}: {shown}:{request.start_line}-{request.end_line}"
        render.print_text(out, result, where, code_path=shown if task == "fix" else None)
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


def _add_fusion_options(p: argparse.ArgumentParser, many: bool = False) -> None:
    if many:
        p.add_argument(
            "targets",
            nargs="*",
            metavar="TARGET",
            help="FILE, FILE:LINE or FILE:START-END (1-based, inclusive); with --diff, "
            "--staged or --uncommitted: paths that limit the change",
        )
    else:
        p.add_argument(
            "target",
            metavar="TARGET",
            help="FILE, FILE:LINE or FILE:START-END (1-based, inclusive)",
        )
    add_model_options(p)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--quiet", action="store_true", help="no live progress")
    _add_trust_option(p)
    # command_parser: a flag found bad once the settings are loaded is reported as this
    # command's parser reports one (bad_usage).
    p.set_defaults(sarif=False, fail_on=None, command_parser=p)


def add_model_options(p: argparse.ArgumentParser) -> None:
    """--mode, --models and --judge, as every command that runs a fusion takes them."""
    p.add_argument("--mode", choices=MODES, help="how answers are fused (default from config)")
    p.add_argument(
        "--models",
        type=model_ids,
        metavar="IDS",
        help="comma-separated pool of model ids (overrides config)",
    )
    p.add_argument("--judge", type=model_id, metavar="ID", help="judge model id (overrides config)")


def model_ids(text: str) -> str:
    """An argparse type: at least one model id between the commas (kept as typed)."""
    if not any(m.strip() for m in text.split(",")):
        raise argparse.ArgumentTypeError(
            "expected comma-separated model ids such as openai/gpt-5,google/gemini-2.5-pro, "
            f"got {text!r}"
        )
    return text


def model_id(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError(
            f"expected a model id such as openai/gpt-5-mini, got {text!r}"
        )
    return text


def _add_trust_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--trust",
        action="store_true",
        help="trust this workspace's config file for this run (endpoints, keys, data dir)",
    )


class _Version(argparse.Action):
    """`--version`, looked up only when asked (fuse_ls/__init__.py)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest=argparse.SUPPRESS, nargs=0, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        from fuse_ls import __version__

        print(f"fuse-ls {__version__}")
        parser.exit()


# What each exit code means, shown under `--help` of the commands that use it: a CI
# script's author looks there first. Each line fits 80 columns.
_EXIT_CODES = {
    0: "done (also when the change has nothing to review)",
    1: "a finding at or above --fail-on; fixes failed their checks (--verify)",
    2: "bad usage or setup: a bad flag value, missing key, bad range, budget",
    3: "every model failed",
    4: "stopped (--deadline, --max-cost) before any code was reviewed",
    130: "interrupted",
}


def _exit_codes(said: Mapping[int, str] | None = None) -> str:
    """The exit codes as a command's help epilog; `said` words some its way ("": unused)."""
    codes = {**_EXIT_CODES, **(said or {})}
    return "exit codes:\n" + "\n".join(
        f"  {code:<4} {text}" for code, text in codes.items() if text
    )


def _command(
    sub: Any, name: str, about: str, exit_codes: str, more: str = ""
) -> argparse.ArgumentParser:
    """A command whose --help starts with `about` (+ `more`) and ends with its exit codes
    (kept as laid out: the raw formatter, so `about` must fit 80 columns)."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=about,
        description=about[0].upper() + about[1:] + more + ".",
        epilog=exit_codes,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fuse-ls",
        description="Multi-model consensus for code: fused review, explanation and fix.",
    )
    parser.add_argument("--version", action=_Version, help="show program's version number and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    about = "fused review of a change (--diff, --staged, --uncommitted) or of files"
    p = _command(sub, "review", about, _exit_codes())
    _add_fusion_options(p, many=True)
    p.add_argument("--sarif", action="store_true", help="print SARIF 2.1.0 for code scanning")
    p.add_argument(
        "--fail-on", choices=SEVERITIES, help="exit 1 if a finding is this severe or worse"
    )
    from fuse_ls.cli.changes import add_change_options

    add_change_options(p)
    p.add_argument(
        "--fix",
        action="store_true",
        help="show the findings' fixes as one diff over every file",
    )
    p.add_argument(
        "--verify",
        action="store_true",
        help="try all the fixes together in an isolated copy and run verify.commands there",
    )
    p.add_argument(
        "--apply",
        action="store_true",
        help="write the fixes into the files (with --verify: only if their checks passed)",
    )
    p.add_argument(
        "--apply-anyway",
        action="store_true",
        help="run the checks as --verify does, then write the fixes even if they failed",
    )

    about = "consensus explanation of a file or line range"
    p = _command(sub, "explain", about, _exit_codes({0: "done", 1: "", 4: ""}))
    _add_fusion_options(p)

    about = "fused fix of a file or line range"
    fix_codes = _exit_codes({0: "done", 1: "the fix failed its checks (--verify)", 4: ""})
    p = _command(sub, "fix", about, fix_codes, " (printed; --apply writes it)")
    _add_fusion_options(p)
    p.add_argument(
        "--apply",
        action="store_true",
        help="write the fused fix into the file (with --verify: only if its checks passed)",
    )
    p.add_argument(
        "--verify",
        action="store_true",
        help="try the fix in an isolated copy and run verify.commands there first",
    )
    p.add_argument(
        "--apply-anyway",
        action="store_true",
        help="run the checks as --verify does, then write the fix even if they failed",
    )

    p = sub.add_parser(
        "demo",
        help="a review against the bundled model emulator (no key needed)",
        description="A real fused review of a sample file, answered by the bundled model "
        "emulator on loopback: no key, no network, nothing recorded.",
    )
    p.add_argument("--mode", choices=MODES, default="merge", help="how answers are fused (merge)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")

    about = "check configuration, keys, endpoints and model ids"
    doctor_codes = (
        "exit codes:\n  0    no check failed (warnings and notes included)\n"
        "  1    a check failed (a red row; `ok: false` in --json)"
    )
    p = _command(sub, "doctor", about, doctor_codes)
    p.add_argument("--json", action="store_true", help="print the checks as JSON")
    p.add_argument("--offline", action="store_true", help="skip network checks")
    p.add_argument("--editor-settings", metavar="FILE", help="editor settings JSON ('-': stdin)")
    _add_trust_option(p)

    p = sub.add_parser(
        "trust",
        help="trust a workspace's config file (endpoints, keys); --list, --remove",
        description="Trust a workspace's .fuse-ls.toml / [tool.fuse-ls]: only then may it "
        "choose endpoints, API key variables, the data directory and verify.commands.",
    )
    p.add_argument(
        "path",
        nargs="?",
        metavar="PATH",
        help="the workspace folder (default: the current one)",
    )
    group = p.add_mutually_exclusive_group()
    group.add_argument("--list", action="store_true", help="print the trusted folders")
    group.add_argument("--remove", action="store_true", help="stop trusting PATH")

    sub.add_parser("serve", help="run the language server (stdio; --tcp/--ws)", add_help=False)
    sub.add_parser("stats", help="local dashboard of recorded sessions", add_help=False)
    sub.add_parser("upload", help="upload sessions to a self-hosted Rudel", add_help=False)
    sub.add_parser("emulator", help="run the loopback model emulator", add_help=False)
    sub.add_parser("cache", help="review cache: stats | clear", add_help=False)
    sub.add_parser(
        "dismiss", help="hide findings by fingerprint in this repository", add_help=False
    )
    sub.add_parser(
        "eval", help="measure review quality (replay a benchmark, live cases)", add_help=False
    )
    return parser


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
