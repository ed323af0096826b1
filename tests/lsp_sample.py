"""The sample document and pool shared by the language-server and VS Code protocol tests."""

POOL = ["emu/fast", "emu/mid", "emu/slow"]
JUDGE = "emu/judge"

SOURCE = """\
import json


def load(text):
    value = eval(text)
    if value == None:
        return {}
    return value


def save(path, data):
    with open(path, "w") as f:
        json.dump(data, f)
"""
EVAL_LINE = 4  # 0-based line of `value = eval(text)`
