"""Review units: hunks grow to their enclosing definition, close ones are batched, and
none is larger than the token limit."""

from __future__ import annotations

import pytest

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


TS = """\
import { db } from "./db";

export class Orders {
  constructor(private readonly store: Store) {}

  async total(id: string): Promise<number> {
    const rows = await db.query("select * from o where id = " + id);
    return rows.reduce((a, r) => a + r.amount, 0);
  }
}

export function helper(x: number): number {
  return x * 2;
}
"""
GO = """\
package main

type Store struct {
\titems []string
}

func (s *Store) Add(item string) {
\ts.items = append(s.items, item)
}

func main() {
\tprintln("hi")
}
"""
RUST = """\
struct Store {
    items: Vec<String>,
}

impl Store {
    fn add(&mut self, item: String) {
        self.items.push(item);
    }
}

fn main() {
    println!("hi");
}
"""
JAVA = """\
class Store {
    private int n;

    void add(int k) {
        n += k;
    }

    int get() {
        return n;
    }
}
"""


def test_tree_sitter_grammars_find_the_enclosing_definition() -> None:
    (ts,) = make_units("o.ts", "typescript", TS, {7})
    assert ts.scope == "method definition total" and (ts.start_line, ts.end_line) == (6, 9)
    (fn,) = make_units("o.ts", "typescript", TS, {13})
    assert fn.scope == "function declaration helper"
    (go,) = make_units("s.go", "go", GO, {8})
    assert go.scope == "method declaration Add" and (go.start_line, go.end_line) == (7, 9)
    (rs,) = make_units("s.rs", "rust", RUST, {7})
    assert rs.scope == "function item add" and (rs.start_line, rs.end_line) == (6, 8)
    (java,) = make_units("S.java", "java", JAVA, {9})
    assert java.scope == "method declaration get" and (java.start_line, java.end_line) == (8, 10)


def test_without_a_grammar_a_line_window_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_tree_sitter(name: str, *args: object, **kwargs: object) -> object:
        if name.startswith("tree_sitter"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_tree_sitter)
    (unit,) = make_units("s.go", "go", GO, {8})
    assert unit.scope == "lines 1-13"
