"""`fuse-ls demo`: a real fused review with no key, against the bundled model emulator.

Everything but the models is real: the emulator is a loopback HTTP server speaking the
OpenRouter wire protocol, and the engine, judge, clustering and output are the ones a
real run uses. The output says clearly that the answers are emulated.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

from rich import box
from rich.panel import Panel
from rich.text import Text

from fuse_ls.changes import quiet
from fuse_ls.changes.cache import cache_path
from fuse_ls.cli import _console, render, report, run_fusion
from fuse_ls.config import Settings, load_settings, replace
from fuse_ls.context import build_request, language_for
from fuse_ls.core.ci_log import ci_safe_json
from fuse_ls.core.specs import ModelSpec
from fuse_ls.emulator import Emulator, demo_script, demo_source_path
from fuse_ls.emulator.demo import DEMO_JUDGE, DEMO_POOL

# Every command is one whole line that fits an 80-column terminal (no `\` continuation,
# which the padding after it would break), and the box has no side borders: lines copied
# from it paste into a shell as they are.
NEXT_STEPS = """\
To review your own code with real models:
  export OPENROUTER_API_KEY=sk-or-...        # https://openrouter.ai/keys
  fuse-ls review path/to/file.py:10-60
Or with a local OpenAI-compatible server (Ollama, vLLM, llama.cpp):
  export FUSE_LS_BASE_URL=http://localhost:11434/v1
  export FUSE_LS_MODELS=qwen2.5-coder:7b,llama3.1:8b
  export FUSE_LS_JUDGE=qwen2.5-coder:7b
  fuse-ls review path/to/file.py
{editors}
Check your setup with: fuse-ls doctor"""

EDITORS = "In your editor, set-up for Neovim, Helix, Emacs, ... and VS Code:"
EDITOR_DOCS = "https://github.com/fuse-ls/fuse-ls#in-the-editor"


def editor_lines() -> str:
    """Where the editor set-ups are: the clone's folders when this runs from a clone
    (`pip install -e .`); the README's section otherwise, as a wheel holds only the
    package and the folders the clone has are not on this machine."""
    clone = Path(__file__).resolve().parents[2]
    folders = [clone / "editors", clone / "vscode-extension"]
    if not all(f.is_dir() for f in folders):
        return f"{EDITORS}\n  {EDITOR_DOCS}"
    shown = []
    for folder in folders:
        with contextlib.suppress(ValueError):
            folder = folder.relative_to(Path.cwd().resolve())
        shown.append(f"  {folder}/")
    return "\n".join([EDITORS, *shown])


def activation_line() -> str | None:
    """The line that puts fuse-ls on PATH, when this run's virtual environment is not
    active (`.venv/bin/fuse-ls demo` right after installing): without it, every
    `fuse-ls ...` line below fails with "command not found"."""
    if shutil.which("fuse-ls") or sys.prefix == sys.base_prefix:
        return None
    activate = Path(sys.prefix) / "bin" / "activate"
    if not activate.is_file():
        return None
    with contextlib.suppress(ValueError):
        activate = activate.relative_to(Path.cwd())
    line = f"  . {shlex.quote(str(activate))}"
    comment = "# puts fuse-ls on PATH"
    # One whole line that fits 80 columns inside the panel's margins, comment if it fits.
    width = max(len(line) + 1, 45)
    return f"{line:<{width}}{comment}" if width + len(comment) <= 78 else line


def next_steps() -> Panel:
    steps = NEXT_STEPS.format(editors=editor_lines())
    activate = activation_line()
    if activate is not None:
        first, rest = steps.split("\n", 1)
        steps = f"{first}\n{activate}\n{rest}"
    return Panel(
        Text(steps),
        title="next steps",
        title_align="left",
        box=box.HORIZONTALS,
    )


def demo_settings(base_url: str, mode: str, data_dir: str | None = None) -> Settings:
    return replace(
        Settings(),
        {
            "provider.base_url": base_url,
            "provider.api_key_env": "FUSE_LS_DEMO_KEY",  # the emulator needs no key
            "pool": [ModelSpec(m) for m in DEMO_POOL],
            "judge": ModelSpec(DEMO_JUDGE),
            "mode": mode,
            # Emulated spend must not count against a real budget.
            "budget.max_usd_per_day": None,
            "telemetry.enabled": False,
            "telemetry.data_dir": data_dir,
        },
    )


def _dismissed_here(name: str) -> quiet.Dismissed:
    """The demo file named as if at the root of the current folder's repository, with what
    `fuse-ls dismiss` keeps there: the demo shows the ids a review shows, and one dismissed
    is hidden in the next demo as in a real review. Only read: a demo writes no cache."""
    root = quiet.repo_of(Path.cwd())
    settings = load_settings(root).settings
    if not cache_path(settings).is_file():
        return quiet.Dismissed(name)
    return quiet.dismissed_in(root, root / name, settings)


def cmd_demo(args: argparse.Namespace) -> int:
    out, err = _console(), _console(stderr=True)
    source = demo_source_path()
    work = Path(tempfile.mkdtemp(prefix="fuse-ls-demo-"))
    try:
        target = work / source.name
        shutil.copyfile(source, target)
        text = target.read_text(encoding="utf-8")
        if not args.json:
            out.print(
                Panel(
                    Text(
                        "DEMO: the answers below come from fuse-ls's bundled model emulator "
                        "(scripted models on a loopback server), not from real models. The "
                        "engine, the judge step, the vote counting and the output are real.",
                        style="bold",
                    ),
                    border_style="magenta",
                )
            )
        with Emulator(demo_script()) as emulator:
            settings = demo_settings(emulator.base_url, args.mode, str(work / "data"))
            request = build_request(
                "review",
                target,
                text,
                1,
                len(text.splitlines()),
                settings,
                work,
                language_for(target),
            )
            progress = (
                None
                if args.json
                else render.LiveProgress(err, [m.id for m in settings.pool], settings.judge.id)
            )
            if progress is not None:
                with progress:
                    result = asyncio.run(run_fusion(settings, request, progress, work))
            else:
                result = asyncio.run(run_fusion(settings, request, None, work))
        marked = quiet.mark(result, text, _dismissed_here(source.name))
        result, prints = marked.result, marked.fingerprints
        if args.json:
            data = report.result_json(result, source.name, prints, marked.hidden)
            data["demo"] = True
            print(ci_safe_json(data, indent=2))
            return 0
        render.print_review(out, result, f"{source.name} (demo)", prints, marked.hidden)
        out.print(next_steps())
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)
