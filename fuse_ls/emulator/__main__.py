"""`python -m fuse_ls.emulator`: serve the emulator until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from fuse_ls.core.hosts import port_argument
from fuse_ls.emulator.demo import demo_script
from fuse_ls.emulator.script import EmulatorScript, ScriptError, load_script
from fuse_ls.emulator.server import Emulator


def build_parser(prog: str = "python -m fuse_ls.emulator") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Serve an OpenRouter-compatible model emulator on loopback.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=port_argument, default=0, metavar="PORT", help="port; 0 picks a free one"
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--script", help="a JSON or TOML emulator script")
    source.add_argument("--demo", action="store_true", help="serve the bundled demo script")
    parser.add_argument(
        "--require-key", metavar="KEY", help="answer 401 unless this Bearer key is sent"
    )
    return parser


def main(argv: list[str] | None = None, prog: str = "fuse-ls emulator") -> int:
    args = build_parser(prog).parse_args(argv)
    try:
        script: EmulatorScript | None = (
            load_script(args.script) if args.script else demo_script() if args.demo else None
        )
    except ScriptError as exc:
        print(f"fuse-ls emulator: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(_serve(Emulator(script, args.host, args.port, require_key=args.require_key)))
    except OSError as exc:
        print(f"fuse-ls emulator: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0


async def _serve(emulator: Emulator) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # Windows, or not the main thread
            signal.signal(sig, lambda *_: loop.call_soon_threadsafe(stop.set))
    async with emulator:
        # Exactly one line, flushed: callers read it to learn the port.
        print(f"fuse-ls emulator listening on {emulator.base_url}", flush=True)
        await stop.wait()


if __name__ == "__main__":
    raise SystemExit(main(prog="python -m fuse_ls.emulator"))
