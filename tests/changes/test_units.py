"""Review units: hunks grow to their enclosing definition, close ones are batched, and
none is larger than the token limit."""

from __future__ import annotations

from fuse_ls.changes.units import make_units, token_limit_for

PY = (
    """\
import os


def first(a):
    x = a + 1
    y = x * 2
    return y


class Store:
    def save(self, item):
        self.items.append(item)
        return True

    def load(self):
        return self.items
"""
    + "\n" * 40
    + """\
def far_away():
    return os.getcwd()
"""
)


def test_a_change_grows_to_its_enclosing_function() -> None:
    (unit,) = make_units("m.py", "python", PY, {6})
    assert (unit.start_line, unit.end_line) == (4, 7)
    assert unit.scope == "function first"
    assert unit.changed == {6}
    assert unit.code.startswith("def first(a):")
    assert unit.context_before.count("\n") == 3  # a few lines of context only


def test_a_change_in_a_method_takes_the_method_not_the_class() -> None:
    (unit,) = make_units("m.py", "python", PY, {12})
    assert unit.scope == "function save" and (unit.start_line, unit.end_line) == (11, 13)


def test_close_changes_are_one_unit_far_ones_are_not() -> None:
    units = make_units("m.py", "python", PY, {5, 12, 16, 58})
    assert [(u.start_line, u.end_line) for u in units] == [(4, 16), (57, 58)]
    assert units[0].changed == {5, 12, 16}


def test_other_languages_and_broken_python_use_a_line_window() -> None:
    text = "".join(f"line {i}\n" for i in range(1, 101))
    (unit,) = make_units("a.txt", "plaintext", text, {50})
    assert (unit.start_line, unit.end_line) == (42, 58)
    (unit,) = make_units("b.py", "python", "def broken(:\n" + text, {50})
    assert unit.scope.startswith("lines ")


def test_no_unit_exceeds_the_token_limit_and_every_changed_line_is_covered() -> None:
    text = "".join(
        f"value_{i} = compute({i}, 'some longer text to fill')\n" for i in range(1, 2001)
    )
    changed = set(range(100, 1900, 7))
    units = make_units("big.py", "python", text, changed, token_limit=500)
    assert len(units) > 5
    assert all(len(u.code) <= 500 * 3.5 for u in units)
    assert set().union(*(u.changed for u in units)) == changed


def test_token_limit_respects_the_smallest_context_window() -> None:
    assert token_limit_for([None, None], [None], 6000, 1) == 6000
    # 3 answers of 2048 tokens + 2048 of instructions leave 8192 - 8192 -> the floor.
    assert token_limit_for([8192, 1_000_000], [None, None, None], 6000, 3) == 256
    assert token_limit_for([32_000], [1000], 6000, 1) == 6000
    assert token_limit_for([12_000], [1000], 60_000, 1) == int((12_000 - 1000 - 2048) * 0.8)
