"""The model emulator for the real-VS-Code test (run.mjs), as a child process.

Serves the demo pool (fuse_ls/emulator/demo) on loopback with scripted faults for the
cancel, every-model-failed and judge-failed scenarios (see main). Prints one
`{"listening": URL}` line, then one JSON line per change of a request's state, so the
driver can wait on what the models saw (a request cut off by a cancel shows up as
`"disconnected": true`). Later scenarios change the pool's behaviour with a JSON line on
stdin (see `rescript`), answered by `{"scripted": ID}`. Ends when stdin closes.
"""

from __future__ import annotations

import copy
import json
import sys
import threading
import time
from typing import Any

from fuse_ls.emulator import Emulator, demo_source_path


def main() -> None:
    script = json.loads((demo_source_path().parent / "script.json").read_text())
    models = script["models"]
    # Scenario order (run.mjs): the first review each pool model gets never answers (the
    # cancel scenario stops it); the second fails with 401 (every model failed); the third
    # is answered, but the judge fails on it (a degraded result); then all is normal. The
    # first fix each gets never answers either (two fixes at once, one cancelled).
    judge = script["models"]["openai/gpt-5-mini"]
    for behaviour in models.values():
        if behaviour is judge:
            continue
        behaviour["faults"] = [
            {"kind": "hang", "times": 1, "schemas": ["review_findings"]},
            {"kind": "http", "status": 401, "times": 1, "schemas": ["review_findings"]},
            # The first of two fixes running at once never answers until cancelled.
            {"kind": "hang", "times": 1, "schemas": ["fix_result"]},
        ]
        behaviour["keepalive_ms"] = 200
    judge["faults"] = [{"kind": "http", "status": 503, "times": 1, "schemas": ["cluster_verdict"]}]
    pristine = copy.deepcopy(script)
    with Emulator(script) as emu:
        say({"listening": emu.base_url})
        stop = threading.Event()

        def commands() -> None:
            for line in sys.stdin:
                if line.strip():
                    command = json.loads(line)
                    emu.set_script(rescript(pristine, command))
                    say({"scripted": command["id"]})
            stop.set()

        threading.Thread(target=commands, daemon=True).start()
        seen: dict[int, tuple[object, ...]] = {}
        while not stop.is_set():
            for i, r in enumerate(list(emu.requests)):
                state = (r.status, r.completed, r.disconnected, r.ended_at is not None)
                if seen.get(i) != state:
                    seen[i] = state
                    line = {
                        "request": i,
                        "model": r.model,
                        "schema": r.schema,
                        "status": r.status,
                        "completed": r.completed,
                        "disconnected": r.disconnected,
                        "ended": r.ended_at is not None,
                    }
                    say(line)
            time.sleep(0.05)


_printing = threading.Lock()


def say(event: dict[str, Any]) -> None:
    with _printing:
        print(json.dumps(event), flush=True)


def rescript(pristine: dict[str, Any], command: dict[str, Any]) -> dict[str, Any]:
    """The demo pool without the opening scenarios' faults (all spent by then: setting a
    script restarts the counters), plus the command's: `hang` (schemas whose calls never
    answer), `fix` (the pool's fix: find/replace in the selection)."""
    script = copy.deepcopy(pristine)
    for behaviour in script["models"].values():
        behaviour.pop("faults", None)
    judge = script["models"]["openai/gpt-5-mini"]
    for behaviour in script["models"].values():
        if behaviour is judge:
            continue
        if command.get("hang"):
            behaviour["faults"] = [{"kind": "hang", "schemas": command["hang"]}]
        if command.get("fix"):
            behaviour["fix"] = command["fix"]
    return script


if __name__ == "__main__":
    main()
