"""A verified fix runs the project's checks on code a model wrote: `pytest` imports the
fixed module. A model steered by text it read (a comment, a vendored file) could write a
fix that reads `os.environ["OPENROUTER_API_KEY"]` and sends it away while the checks run.
The checks get the user's environment without the model keys, the Rudel key
(`fuse-ls upload`'s) and the OpenTelemetry export headers (a collector token), which they
never need."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from fuse_ls.emulator import Emulator
from tests.changes.gitrepo import Repo
from tests.verify.verify_sample import CALC, JUDGE, A, B, C, environ, fuse, user_config

PROBE = (
    "import os, sys\n"
    "names = ('OPENROUTER_API_KEY', 'LOCAL_LLM_KEY', 'RUDEL_API_KEY',\n"
    "         'OTEL_EXPORTER_OTLP_HEADERS', 'OTEL_EXPORTER_OTLP_TRACES_HEADERS',\n"
    "         'PROJECT_SETTING')\n"
    "seen = [k for k in names if k in os.environ]\n"
    "print('the check sees', seen)\n"
    "sys.exit(0 if seen == ['PROJECT_SETTING'] else 1)\n"
)


def test_checks_do_not_get_the_model_keys(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "project")
    repo.write("calc.py", CALC)
    repo.write("probe.py", PROBE)
    repo.commit("calc")
    user_config(tmp_path / "home", [f"{shlex.quote(sys.executable)} probe.py"])
    fix = {"find": "a - b", "replace": "a + b"}
    with Emulator(
        {"models": {A: {"fix": fix}, B: {"fix": fix}, C: {"fix": fix}, JUDGE: {}}}
    ) as emu:
        env = environ(tmp_path, emu.base_url)
        env.update(
            OPENROUTER_API_KEY="sk-or-v1-" + "ab" * 32,
            FUSE_LS_PROVIDER__API_KEY_ENV="LOCAL_LLM_KEY",  # the endpoint's own key variable
            LOCAL_LLM_KEY="local-secret",
            RUDEL_API_KEY="rudel-secret",  # `fuse-ls upload`'s key to the user's transcripts
            # fuse-ls's telemetry export: a token to the user's collector
            OTEL_EXPORTER_OTLP_HEADERS="authorization=Bearer%20collector-secret",
            OTEL_EXPORTER_OTLP_TRACES_HEADERS="x-honeycomb-team=collector-secret",
            PROJECT_SETTING="kept",  # anything else is the project's to use
        )
        res = fuse(["fix", "calc.py:2", "--verify"], repo, env)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "fused fix: checks passed (1 command, " in res.stdout
