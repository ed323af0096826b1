"""A loopback server that speaks OpenRouter's chat protocol with scripted model behaviour.

Used by the tests, the benchmarks and `fuse-ls emulator` / the demo, so fuse-ls can be
exercised end to end without network access or API keys. See README.md in this folder.
"""

from fuse_ls.emulator.demo import DEMO_JUDGE, DEMO_POOL, demo_script, demo_source_path
from fuse_ls.emulator.script import (
    EmulatorScript,
    Fault,
    FindingRule,
    FixRule,
    JudgeScript,
    ModelScript,
    Price,
    ScriptError,
    load_script,
    parse_script,
)
from fuse_ls.emulator.server import Emulator, RequestRecord

__all__ = [
    "DEMO_JUDGE",
    "DEMO_POOL",
    "Emulator",
    "EmulatorScript",
    "Fault",
    "FindingRule",
    "FixRule",
    "JudgeScript",
    "ModelScript",
    "Price",
    "RequestRecord",
    "ScriptError",
    "demo_script",
    "demo_source_path",
    "load_script",
    "parse_script",
]
