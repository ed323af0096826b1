"""A git repository with a change to review (the `session` fixture of tests/server)."""

from __future__ import annotations

from pathlib import Path

from tests.changes.gitrepo import Repo

A_BASE = "import json\n\n\ndef load(text):\n    return json.loads(text)\n"
A_NEW = "import json\n\n\ndef load(text):\n    value = eval(text)\n    return value\n"
B_BASE = "def save(path):\n    return path\n"
B_NEW = "def save(path):\n    return eval(path)\n"


def changed_repo(root: Path) -> Repo:
    """a.py and b.py committed, then changed on disk (an eval() each), not staged."""
    repo = Repo.__new__(Repo)
    repo.root = root
    repo.git("init", "-q", "-b", "main")
    repo.write("a.py", A_BASE)
    repo.write("b.py", B_BASE)
    repo.commit("base")
    repo.write("a.py", A_NEW)
    repo.write("b.py", B_NEW)
    return repo
