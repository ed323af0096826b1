"""Start-up benchmark: how long a whole `fuse-ls` process takes for the commands run in
pre-commit hooks, CI and editors, this tree against a baseline commit, side by side.

Run: .venv/bin/python bench/bench_startup.py [--baseline REV] [--runs N]

Each command runs in fresh processes (`python -m fuse_ls ...`), the baseline's code from
a temporary `git worktree` of REV (default: the merge base with main) and this tree's
code, taking turns so neither gets the quieter moments of the machine:
- `--version`;
- `review --staged`, a rerun with nothing changed: a small git repository with a staged
  change whose units are already in the review cache (checked: 0 model calls), against
  the bundled model emulator on loopback (no key);
- `doctor` (settings, endpoint and model checks against the emulator);
- `serve` until it has answered `initialize` (JSON-RPC over its stdin/stdout).
Printed: the median wall time of N runs for each, their ratio (this / baseline), and the
median CPU time (user + system) of the process, which a busy machine barely moves. A
first row shows what the interpreter alone takes (`python -c pass`). `--only review`
(or `serve`, `doctor`, `version`; repeatable) runs just those rows, so more runs fit.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

from bench_changes import GIT_ENV
from emulator_process import EmulatorProcess

HERE = Path(__file__).resolve().parent.parent
BEFORE = "import os\n\n\ndef add(a, b):\n    return a + b\n"
AFTER = (
    "import os\n\n\ndef add(a, b):\n    return a - b\n\n\n"
    "def run(cmd):\n    os.system(cmd)\n    return eval(cmd)\n"
)


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args],
        cwd=root,
        env={**os.environ, **GIT_ENV},
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def make_repo(root: Path) -> None:
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    (root / "calc.py").write_text(BEFORE)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    (root / "calc.py").write_text(AFTER)
    git(root, "add", "calc.py")


def default_baseline() -> str:
    # A clone of another branch has no local main, only origin/main.
    for ref in ("main", "origin/main"):
        try:
            return git(HERE, "merge-base", "HEAD", ref)
        except subprocess.CalledProcessError:
            continue
    raise SystemExit("bench_startup.py: no main or origin/main here; pass --baseline REV")


def add_worktree(base: Path, rev: str) -> Path:
    tree = base / "baseline"
    git(HERE, "worktree", "add", "--detach", str(tree), rev)
    return tree


def env_for(code: Path, home: Path, base_url: str) -> dict[str, str]:
    """A clean environment: this code's fuse_ls first on the path, its own data and
    config directories, the emulator as the endpoint, no key and no user settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FUSE_LS_", "XDG_", "OTEL_"))
        and k not in ("OPENROUTER_API_KEY", "PYTHONDONTWRITEBYTECODE")
    }
    env.update(
        PYTHONPATH=str(code),
        FUSE_LS_BASE_URL=base_url,
        FUSE_LS_DATA_DIR=str(home / "data"),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_DATA_HOME=str(home / "share"),
        XDG_CACHE_HOME=str(home / "cache"),
    )
    return env


def timed(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one process run to its end."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}")
    return wall, usage.ru_utime + usage.ru_stime


def _message(stream: IO[bytes]) -> dict[str, object]:
    length = 0
    while (line := stream.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
    if not length:
        raise SystemExit("serve closed its output before answering initialize")
    return dict(json.loads(stream.read(length)))


def _send(stream: IO[bytes], message: dict[str, object]) -> None:
    body = json.dumps(message).encode()
    stream.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    stream.flush()


def serve_once(env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Process start to `initialize` answered (wall); CPU of the whole process, shutdown
    included."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "fuse_ls", "serve"],
        env=env,
        cwd=cwd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdin is not None and proc.stdout is not None
    params: dict[str, object] = {"processId": None, "rootUri": cwd.as_uri(), "capabilities": {}}
    _send(proc.stdin, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params})
    while True:  # notifications and requests from the server may come first
        message = _message(proc.stdout)
        if message.get("id") == 1 and ("result" in message or "error" in message):
            break
    wall = time.perf_counter() - started
    if "error" in message:
        raise SystemExit(f"serve refused initialize: {message['error']}")
    _send(proc.stdin, {"jsonrpc": "2.0", "method": "initialized", "params": {}})
    _send(proc.stdin, {"jsonrpc": "2.0", "id": 2, "method": "shutdown"})
    while _message(proc.stdout).get("id") != 2:
        pass
    _send(proc.stdin, {"jsonrpc": "2.0", "method": "exit"})
    _, _, usage = os.wait4(proc.pid, 0)
    return wall, usage.ru_utime + usage.ru_stime


def run_once(argv: list[str] | None, env: dict[str, str], cwd: Path) -> tuple[float, float]:
    if argv is None:
        return serve_once(env, cwd)
    return timed([sys.executable, *argv], env, cwd)


def warm_cache(env: dict[str, str], repo: Path) -> None:
    """Review once (the models are asked), then check a rerun asks none."""
    review = [sys.executable, "-m", "fuse_ls", "review", "--staged", "--format", "json"]
    for attempt in ("first", "rerun"):
        done = subprocess.run(review, env=env, cwd=repo, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"review --staged ({attempt}) failed: {done.stderr[-500:]}")
        calls = json.loads(done.stdout)["model_calls"]
        if attempt == "rerun" and calls != 0:
            raise SystemExit(f"the rerun made {calls} model calls; the cache is not warm")


COMMANDS: dict[str, list[str] | None] = {
    "python -c pass (interpreter alone)": ["-c", "pass"],
    "fuse-ls --version": ["-m", "fuse_ls", "--version"],
    "fuse-ls review --staged (rerun, 0 calls)": ["-m", "fuse_ls", "review", "--staged"],
    "fuse-ls doctor": ["-m", "fuse_ls", "doctor"],
    "fuse-ls serve (to initialize answered)": None,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--baseline", help="commit to compare with (default: merge base with main or origin/main)"
    )
    parser.add_argument("--runs", type=int, default=9, help="processes per command and code")
    parser.add_argument(
        "--only",
        action="append",
        metavar="WORD",
        help="only the commands whose row contains WORD (repeatable; e.g. review, serve); "
        "the interpreter's row is always run",
    )
    args = parser.parse_args()
    commands = {
        label: argv
        for n, (label, argv) in enumerate(COMMANDS.items())
        if n == 0 or not args.only or any(word in label for word in args.only)
    }
    rev = args.baseline or default_baseline()
    short = git(HERE, "rev-parse", "--short", rev)
    if git(HERE, "rev-parse", rev) == git(HERE, "rev-parse", "HEAD"):
        print(f"note: the baseline is this commit ({short}); --baseline REV picks another")
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        tree = add_worktree(base, rev)
        emulator = None
        try:
            emulator = EmulatorProcess({})
            codes = {f"baseline {short}": tree, "this tree": HERE}
            envs: dict[str, dict[str, str]] = {}
            repos: dict[str, Path] = {}
            for name, code in codes.items():
                # As installed (pip compiles modules at install time).
                subprocess.run(
                    [sys.executable, "-m", "compileall", "-q", str(code / "fuse_ls")],
                    check=True,
                    capture_output=True,
                    env=env_for(code, base, emulator.base_url),
                )
                home = base / name.replace(" ", "-")
                repos[name] = home / "repo"
                make_repo(repos[name])
                envs[name] = env_for(code, home, emulator.base_url)
                warm_cache(envs[name], repos[name])
            figures: dict[tuple[str, str], list[tuple[float, float]]] = {}
            for n in range(args.runs):
                # Taking turns, the order flipped every round.
                order = list(codes) if n % 2 == 0 else list(codes)[::-1]
                for label, argv in commands.items():
                    for name in order:
                        figure = run_once(argv, envs[name], repos[name])
                        figures.setdefault((label, name), []).append(figure)
        finally:
            if emulator is not None:
                emulator.close()
            git(HERE, "worktree", "remove", "--force", str(tree))
    before, after = codes
    load = os.getloadavg()[0]
    print(
        f"fresh processes, median of {args.runs}; {os.cpu_count()} cores, "
        f"load average {load:.1f} at the end"
    )
    print(
        f"{'command':<42} {before:>17} {after:>10} {'ratio':>6}   "
        f"CPU ms: {'baseline':>8} {'this':>6}"
    )
    for label in commands:
        wall = [statistics.median(w for w, _ in figures[(label, c)]) * 1000 for c in codes]
        cpu = [statistics.median(c for _, c in figures[(label, c)]) * 1000 for c in codes]
        print(
            f"{label:<42} {wall[0]:>14.0f} ms {wall[1]:>7.0f} ms {wall[1] / wall[0]:>6.2f}   "
            f"        {cpu[0]:>8.0f} {cpu[1]:>6.0f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
