"""The `fuse-ls` argument parser: commands, their options and the exit codes their --help
lists. Commands with a parser of their own (serve, stats, upload, ...) are only named here."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fuse_ls.core.arguments import positive_number
from fuse_ls.core.vocab import MODES, SEVERITIES

# Below this a unit holds hardly a function: the smallest budget a review is useful with.
_MIN_UNIT_TOKENS = 256


def whole_number(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number >= `minimum` (a bad one stops the run, named)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {text}")
        return value

    return parse


def _usd(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an amount in USD, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected an amount in USD >= 0, got {text}")
    return value


def add_change_options(p: argparse.ArgumentParser) -> None:
    scope = p.add_mutually_exclusive_group()
    scope.add_argument(
        "--diff",
        nargs="?",
        const="",
        metavar="BASE",
        help="review the changes since BASE (default: the merge base with the default branch), "
        "uncommitted work included",
    )
    scope.add_argument("--staged", action="store_true", help="review the staged changes")
    scope.add_argument(
        "--uncommitted", action="store_true", help="review staged, unstaged and untracked work"
    )
    p.add_argument(
        "--format",
        choices=("text", "json", "sarif", "rdjson"),
        help="output format (rdjson: reviewdog's diagnostic format)",
    )
    p.add_argument("--all-lines", action="store_true", help="report findings on context lines too")
    p.add_argument("--no-cache", action="store_true", help="ask the models even for cached units")
    p.add_argument("--min-severity", choices=SEVERITIES, help="hide less severe findings")
    p.add_argument(
        "--max-findings",
        type=whole_number(0),
        metavar="N",
        help="show at most N (default 50; 0: all)",
    )
    p.add_argument("--max-cost", type=_usd, metavar="USD", help="USD limit for the whole run")
    p.add_argument(
        "--deadline",
        type=positive_number("seconds"),
        metavar="SECONDS",
        help="one deadline for the whole run; what it cuts is named (default: "
        "quorum.deadline_s for each unit)",
    )
    p.add_argument(
        "--concurrency",
        type=whole_number(1),
        default=16,
        metavar="N",
        help="model calls in flight (16)",
    )
    p.add_argument(
        "--per-endpoint",
        type=whole_number(1),
        default=8,
        metavar="N",
        help="calls in flight per endpoint (8)",
    )
    p.add_argument(
        "--unit-tokens",
        type=whole_number(_MIN_UNIT_TOKENS),
        default=6000,
        metavar="N",
        help="most tokens of code in one request, for every model (6000; lowered to fit "
        "the smallest context window)",
    )


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
    p.add_argument(
        "--timeout",
        type=positive_number("seconds"),
        metavar="SECONDS",
        help="ask the endpoints for at most this long in all (default: timeouts.connect_s + 5)",
    )
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
