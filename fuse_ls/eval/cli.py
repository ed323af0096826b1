"""`fuse-ls eval replay DIR` and `fuse-ls eval live CASES`."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from fuse_ls.cli.parser import add_model_options, whole_number
from fuse_ls.core.ci_log import ci_safe_json
from fuse_ls.core.counts import counted
from fuse_ls.core.errors import FuseError
from fuse_ls.safetext import visible


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fuse-ls eval", description="Measure fused review quality against golden findings."
    )
    sub = parser.add_subparsers(dest="what", metavar="WHAT")
    p = sub.add_parser(
        "replay",
        help="fuse recorded reviews of a labelled benchmark (Code Review Bench layout)",
        description=(
            "Each review tool of the dataset is one pool member; its comments are fused with "
            "the product's clustering, votes and policy and scored with the judge's labels."
        ),
    )
    p.add_argument("dataset", type=Path, help="folder with golden_comments/ and results/")
    from fuse_ls.eval.dataset import DEFAULT_JUDGE

    p.add_argument(
        "--judge-labels",
        default=DEFAULT_JUDGE,
        metavar="NAME",
        help="score with the judge labels in results/NAME (default: the Opus judge's)",
    )
    p.add_argument(
        "--pool-size",
        type=whole_number(1),
        default=5,
        metavar="N",
        help="tools per pool (default 5)",
    )
    p.add_argument(
        "--pools",
        choices=("top", "random"),
        default="top",
        help="the N best tools (default), or random draws of N",
    )
    p.add_argument(
        "--samples",
        type=whole_number(1),
        default=200,
        metavar="S",
        help="random pools to draw (default 200)",
    )
    p.add_argument("--seed", type=int, default=0, metavar="X", help="seed of the random pools")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--html", type=Path, metavar="FILE", help="also write an HTML report")

    p = sub.add_parser(
        "live",
        help="review cases with the configured pool and judge and score against golden findings",
        description=(
            "Each case (a folder with a code file and case.json) is reviewed like "
            "`fuse-ls review FILE`; the judge then matches findings to the golden ones with "
            "one structured call per case. Calls real models: it costs what the reviews cost."
        ),
    )
    p.add_argument("cases", type=Path, help="a folder of case folders (or one case folder)")
    add_model_options(p)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    return parser


def cmd_live(args: argparse.Namespace, out: Console, err: Console) -> int:
    import os

    from rich.table import Table

    from fuse_ls.cli import apply_overrides, missing_key_message
    from fuse_ls.config import load_settings
    from fuse_ls.core.errors import FuseError
    from fuse_ls.eval import live

    cases = live.load_cases(args.cases)
    workspace = Path.cwd()
    loaded = load_settings(workspace)
    for problem in loaded.problems:
        err.print(f"[yellow]config:[/yellow] {escape(str(problem))}")
    settings = loaded.settings
    try:
        settings = apply_overrides(loaded, args)
    except FuseError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        return 2
    message = missing_key_message(settings, os.environ)
    if message:
        err.print(f"[red]error:[/red] {escape(message)}")
        return 2
    if not args.json:
        pool = counted(len(settings.pool), "model")
        err.print(f"reviewing {counted(len(cases), 'case')} with {pool} ...")
    result = live.run(settings, cases, workspace)
    if args.json:
        print(ci_safe_json(live.live_json(result), indent=2))
        return 0
    from fuse_ls.eval.report import shown

    table = Table(title=Text(f"{len(cases)} cases, judge ") + shown(result.judge))
    for col in ("reviewer", "P", "R", "F1", "tp", "fp"):
        table.add_column(col, justify="left" if col == "reviewer" else "right")
    for owner in [*result.pool, "fused"]:
        s = result.score(owner)
        table.add_row(
            shown(owner) if owner != "fused" else Text("fused", style="bold"),
            f"{s.precision * 100:.1f}",
            f"{s.recall * 100:.1f}",
            f"{s.f1 * 100:.1f}",
            str(s.tp),
            str(s.fp),
        )
    out.print(table)
    for c in result.cases:
        if c.judge_error:
            err.print(
                Text(f"{visible(c.case.name)}:", style="yellow"),
                Text(f"not judged: {visible(c.judge_error)}"),
            )
    return 0


def cmd_replay(args: argparse.Namespace, out: Console, err: Console) -> int:
    from fuse_ls.eval import report
    from fuse_ls.eval.dataset import load_dataset
    from fuse_ls.eval.replay import replay

    ds = load_dataset(args.dataset, args.judge_labels)
    result = replay(ds, args.pool_size, args.pools, args.samples, args.seed)
    if args.html:
        try:
            args.html.write_text(report.replay_html(result), encoding="utf-8")
        except OSError as exc:
            err.print(
                Text("error:", style="red"), Text(visible(f"cannot write {args.html}: {exc}"))
            )
            return 2
    if args.json:
        print(ci_safe_json(report.replay_json(result), indent=2))
    else:
        report.print_replay(out, result)
        if args.html:
            err.print(Text(visible(f"wrote {args.html}")))
    return 0


def eval_main(argv: Sequence[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(list(argv))
    out = Console(highlight=False, soft_wrap=False)
    if not out.is_terminal:
        out.width = max(out.width, 120)  # piped output: keep one pool per line
    # Soft wrap: an error names paths, which must stay whole when piped to a log.
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        if args.what == "replay":
            return cmd_replay(args, out, err)
        if args.what == "live":
            return cmd_live(args, out, err)
    except FuseError as exc:
        # Names a dataset's files, pull request urls and tools: their ESC is shown, not run.
        err.print(Text("error:", style="red"), Text(visible(str(exc))))
        return 2
    parser.print_help()
    return 2
