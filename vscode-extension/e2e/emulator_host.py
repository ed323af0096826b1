"""The model emulator for the real-VS-Code test (run.mjs), as a child process.

Serves the demo pool (fuse_ls/emulator/demo) on loopback with scripted faults for the
cancel, every-model-failed and judge-failed scenarios (see main). Prints one
`{"listening": URL}` line, then one JSON line per change of a request's state, so the
driver can wait on what the models saw (a request cut off by a cancel shows up as
`"disconnected": true`). Ends when stdin closes.
"""

from __future__ import annotations

import json
import sys
import threading
import time

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
    with Emulator(script) as emu:
        print(json.dumps({"listening": emu.base_url}), flush=True)
        stop = threading.Event()
        threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
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
                    print(json.dumps(line), flush=True)
            time.sleep(0.05)


if __name__ == "__main__":
    main()
