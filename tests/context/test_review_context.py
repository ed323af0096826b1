"""Intent, blast radius, languages and turning a selection into a FusionRequest."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from fuse_ls.config import ReviewSettings, Settings
from fuse_ls.context import (
    BadRange,
    build_request,
    find_blast_radius,
    find_intent,
    language_for,
)
from fuse_ls.core.errors import FuseError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# --- intent ---------------------------------------------------------------------------


def test_intent_from_sidecar_with_column_descriptions(tmp_path: Path) -> None:
    model = write(tmp_path / "models" / "fct_orders.sql", "select 1\n")
    write(
        tmp_path / "models" / "fct_orders.toml",
        'intent = "One row per order; exclude cancelled orders."\n'
        '[columns.amount]\ndescription = "Order total in USD, positive."\n'
        '[columns.status]\ndescription = "placed | shipped"\n'
        "[columns.undocumented]\n",
    )
    assert find_intent(model, tmp_path) == (
        "Stated intent (from fct_orders.toml): One row per order; exclude cancelled orders.\n"
        "Column descriptions:\n"
        "- amount: Order total in USD, positive.\n"
        "- status: placed | shipped"
    )


def test_sidecar_wins_over_front_matter_and_defaults(tmp_path: Path) -> None:
    model = write(tmp_path / "models" / "m.sql", '---toml\nintent = "inline"\n---\nselect 1\n')
    write(tmp_path / "models" / "m.toml", 'intent = "sidecar"\n')
    write(tmp_path / "models" / "_defaults.toml", 'intent = "folder"\n')
    assert find_intent(model, tmp_path) == "Stated intent (from m.toml): sidecar"


def test_front_matter_wins_over_folder_defaults(tmp_path: Path) -> None:
    # Rocky's loader: the model's own config (sidecar or inline) overrides _defaults.toml.
    model = write(
        tmp_path / "models" / "m.sql",
        '---toml\nname = "m"\nintent = "inline intent"\n'
        '[columns.id]\ndescription = "key"\n---\nselect 1 as id\n',
    )
    write(tmp_path / "models" / "_defaults.toml", 'intent = "folder"\n')
    assert find_intent(model, tmp_path) == (
        "Stated intent (from front matter of m.sql): inline intent\nColumn descriptions:\n- id: key"
    )


def test_folder_defaults_walk_up_to_the_workspace(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    model = write(ws / "models" / "marts" / "finance" / "m.sql", "select 1\n")
    write(ws / "models" / "_defaults.toml", 'intent = "Marts: one row per business entity"\n')
    assert find_intent(model, ws) == (
        "Stated intent (from models/_defaults.toml): Marts: one row per business entity"
    )
    # The nearest one wins.
    write(ws / "models" / "marts" / "_defaults.toml", 'intent = "nearer"\n')
    assert find_intent(model, ws) == "Stated intent (from models/marts/_defaults.toml): nearer"


def test_folder_defaults_stop_at_the_workspace_root(tmp_path: Path) -> None:
    write(tmp_path / "_defaults.toml", 'intent = "someone else\'s project"\n')
    ws = tmp_path / "ws"
    model = write(ws / "models" / "m.sql", "select 1\n")
    assert find_intent(model, ws) is None
    # Without a workspace only the file's own folder counts.
    assert find_intent(model, None) is None


def test_defaults_intent_with_sidecar_columns(tmp_path: Path) -> None:
    model = write(tmp_path / "models" / "m.sql", "select 1\n")
    write(tmp_path / "models" / "m.toml", '[columns.total]\ndescription = "sum of amount"\n')
    write(tmp_path / "models" / "_defaults.toml", 'intent = "folder purpose"\n')
    assert find_intent(model, tmp_path) == (
        "Stated intent (from models/_defaults.toml): folder purpose\n"
        "Column descriptions:\n- total: sum of amount"
    )


def test_generic_sidecar_for_other_files(tmp_path: Path) -> None:
    code = write(tmp_path / "src" / "billing.py", "def charge(): ...\n")
    write(tmp_path / "src" / "billing.toml", 'intent = "Never charge twice for one order."\n')
    write(tmp_path / "src" / "_defaults.toml", 'intent = "SQL-only convention"\n')
    assert find_intent(code, tmp_path) == (
        "Stated intent (from billing.toml): Never charge twice for one order."
    )
    other = write(tmp_path / "src" / "other.py", "x = 1\n")
    assert find_intent(other, tmp_path) is None  # defaults and front matter are SQL-only


@pytest.mark.parametrize(
    "sidecar",
    [
        'intent = "unterminated\n',
        "intent = 42\n",
        'intent = "   "\n',
        "[columns]\namount = 3\n",
        "\x00\x01 binary garbage",
    ],
)
def test_malformed_or_empty_intent_is_none(tmp_path: Path, sidecar: str) -> None:
    model = write(tmp_path / "m.sql", "---toml\nintent = [oops\n---\nselect 1\n")
    write(tmp_path / "m.toml", sidecar)
    assert find_intent(model, tmp_path) is None


def test_no_metadata_and_missing_files(tmp_path: Path) -> None:
    assert find_intent(write(tmp_path / "plain.sql", "select 1\n"), tmp_path) is None
    assert find_intent(tmp_path / "does-not-exist.sql", tmp_path) is None
    (tmp_path / "dir.toml").mkdir()  # a directory where a sidecar would be
    assert find_intent(tmp_path / "dir.sql", tmp_path) is None


def test_long_intent_is_clipped(tmp_path: Path) -> None:
    model = write(tmp_path / "m.sql", "select 1\n")
    columns = "".join(f'[columns.c{i}]\ndescription = "{"d" * 500}"\n' for i in range(60))
    write(tmp_path / "m.toml", f'intent = "{"x" * 5000}"\n{columns}')
    text = find_intent(model, tmp_path)
    assert text is not None and len(text) <= 2000 and text.endswith("…")


# --- blast radius: Rocky catalog ------------------------------------------------------


def catalog(ws: Path, assets: list[dict[str, object]], edges: list[dict[str, str]]) -> None:
    data = {"version": "1", "command": "catalog", "assets": assets, "edges": edges}
    write(ws / ".rocky" / "catalog" / "catalog.json", json.dumps(data))


def asset(name: str, downstream: list[str]) -> dict[str, object]:
    return {
        "model_name": name,
        "fqn": f"poc.demo.{name}",
        "kind": "Model",
        "columns": [],
        "upstream_models": [],
        "downstream_models": downstream,
    }


def edge(source: str, source_column: str, target: str, target_column: str) -> dict[str, str]:
    return {
        "source_model": source,
        "source_column": source_column,
        "target_model": target,
        "target_column": target_column,
        "transform": "direct",
        "confidence": "High",
    }


def test_catalog_blast_radius_with_columns_and_indirect(tmp_path: Path) -> None:
    model = write(tmp_path / "models" / "stg_orders.sql", "select 1\n")
    catalog(
        tmp_path,
        [
            asset("stg_orders", ["fct_revenue", "dash_orders"]),
            asset("fct_revenue", ["exec_report"]),
            asset("dash_orders", []),
            asset("exec_report", ["stg_orders"]),  # a cycle must not loop
        ],
        [
            edge("stg_orders", "amount", "fct_revenue", "total"),
            edge("stg_orders", "order_id", "fct_revenue", "orders"),
            edge("stg_orders", "amount", "fct_revenue", "total"),
            edge("fct_revenue", "total", "exec_report", "revenue"),
        ],
    )
    assert find_blast_radius(model, tmp_path) == (
        "Downstream: dash_orders, fct_revenue (total, orders); indirectly: exec_report "
        "(from .rocky/catalog/catalog.json)"
    )


def test_catalog_leaf_model_has_no_blast_radius(tmp_path: Path) -> None:
    model = write(tmp_path / "models" / "dash.sql", "select 1\n")
    catalog(tmp_path, [asset("dash", [])], [])
    assert find_blast_radius(model, tmp_path) is None


def test_catalog_refreshes_when_the_file_changes(tmp_path: Path) -> None:
    model = write(tmp_path / "models" / "a.sql", "select 1\n")
    catalog(tmp_path, [asset("a", ["b"])], [])
    assert find_blast_radius(model, tmp_path) == "Downstream: b (from .rocky/catalog/catalog.json)"
    catalog(tmp_path, [asset("a", ["b", "c_longer_name"])], [])
    assert "c_longer_name" in (find_blast_radius(model, tmp_path) or "")


@pytest.mark.parametrize(
    "content", ["{not json", "[]", '{"assets": 3, "edges": "x"}', '{"assets": [1, {"x": 2}]}']
)
def test_unusable_catalog_falls_back_to_scanning(tmp_path: Path, content: str) -> None:
    model = write(tmp_path / "models" / "a.sql", "select 1 as x\n")
    write(tmp_path / "models" / "b.sql", "select x from a\n")
    write(tmp_path / ".rocky" / "catalog" / "catalog.json", content)
    assert find_blast_radius(model, tmp_path) == "Downstream: b (x) (found in models/)"


def test_model_missing_from_catalog_falls_back_to_scanning(tmp_path: Path) -> None:
    model = write(tmp_path / "models" / "new_model.sql", "select 1 as x\n")
    write(tmp_path / "models" / "user.sql", "select x from new_model\n")
    catalog(tmp_path, [asset("other", ["x"])], [])
    assert find_blast_radius(model, tmp_path) == "Downstream: user (x) (found in models/)"


# --- blast radius: scanning SQL -------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    models = tmp_path / "models"
    write(models / "stg_orders.sql", "select id, customer_id, amount from raw.orders\n")
    write(
        models / "marts" / "fct_revenue.sql",
        "-- built from stg_orders\n"
        "with o as (select * from analytics.stg_orders)\n"
        "select customer_id, sum(amount) as total, count(*) as n from o group by 1\n",
    )
    write(
        models / "marts" / "dash.sql",
        'select r.total, c.name from "fct_revenue" r\n'
        "join dim_customers c on c.id = r.customer_id\n",
    )
    write(models / "marts" / "dbt_style.sql", "select * from {{ ref('stg_orders') }}\n")
    write(models / "pipeline.rocky", "from stg_orders\nwhere amount > 0\n")
    # Mentions that are not reads: a comment, a string, and a CTE of the same name.
    write(models / "noise.sql", "select 'stg_orders' as label from other -- stg_orders\n")
    write(
        models / "shadow.sql",
        "with stg_orders as (select 1 as id) select id from stg_orders\n",
    )
    write(tmp_path / "README.md", "stg_orders is great\n")
    return tmp_path


def test_scan_finds_consumers_columns_and_indirect(project: Path) -> None:
    model = project / "models" / "stg_orders.sql"
    assert find_blast_radius(model, project) == (
        "Downstream: dbt_style, fct_revenue (customer_id, total), pipeline; "
        "indirectly: dash (found in models/)"
    )


def test_scan_ignores_cte_comment_and_string_mentions(project: Path) -> None:
    text = find_blast_radius(project / "models" / "stg_orders.sql", project) or ""
    assert "noise" not in text and "shadow" not in text


def test_cte_with_the_model_name_that_reads_the_model_counts(tmp_path: Path) -> None:
    model = write(tmp_path / "models" / "orders.sql", "select 1 as id\n")
    write(
        tmp_path / "models" / "wrap.sql",
        "with orders as (select id from warehouse.orders) select id from orders\n",
    )
    assert find_blast_radius(model, tmp_path) == "Downstream: wrap (id) (found in models/)"


def test_scan_without_a_models_folder_uses_the_workspace(tmp_path: Path) -> None:
    model = write(tmp_path / "sql" / "base.sql", "select 1 as a\n")
    write(tmp_path / "reports" / "r.sql", "select b.a from base b\n")
    write(tmp_path / "node_modules" / "pkg" / "x.sql", "select a from base\n")  # vendored
    write(tmp_path / ".hidden" / "y.sql", "select a from base\n")
    assert (
        find_blast_radius(model, tmp_path) == "Downstream: r (a) (found in " + tmp_path.name + "/)"
    )


def test_no_consumers_or_not_sql(project: Path) -> None:
    assert find_blast_radius(project / "models" / "marts" / "dash.sql", project) is None
    assert find_blast_radius(write(project / "app.py", "x = 1\n"), project) is None


def test_scan_is_capped_and_fast(tmp_path: Path) -> None:
    models = tmp_path / "models"
    model = write(models / "aaa_base.sql", "select 1 as x\n")
    for i in range(2300):
        write(models / f"m{i:04}.sql", f"select x from {'aaa_base' if i % 500 == 0 else 'y'}\n")
    started = time.monotonic()
    text = find_blast_radius(model, tmp_path)
    assert time.monotonic() - started < 3.0
    assert text is not None and "partial" in text
    assert "m0000 (x)" in text and "m2000" not in text  # beyond the 2,000-file cap


# --- languages ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "language"),
    [
        ("a.py", "python"),
        ("a.PYI", "python"),
        ("models/x.sql", "sql"),
        ("x.rocky", "rocky"),
        ("a.ts", "typescript"),
        ("a.tsx", "typescriptreact"),
        ("a.mjs", "javascript"),
        ("a.rs", "rust"),
        ("a.go", "go"),
        ("a.hpp", "cpp"),
        ("run.sh", "shellscript"),
        ("Dockerfile", "dockerfile"),
        ("Makefile", "makefile"),
        ("a.yml", "yaml"),
        ("notes.unknownext", "plaintext"),
        ("LICENSE", "plaintext"),
    ],
)
def test_language_for(name: str, language: str) -> None:
    assert language_for(Path(name)) == language


# --- build_request --------------------------------------------------------------------

DOC = "".join(f"line {i}\n" for i in range(1, 31))  # 30 lines


def settings(context_lines: int = 2) -> Settings:
    return Settings(review=ReviewSettings(context_lines=context_lines))


def test_slices_selection_and_context(tmp_path: Path) -> None:
    path = tmp_path / "src" / "app.py"
    request = build_request("review", path, DOC, 10, 12, settings(2), tmp_path, "python")
    assert request.task == "review"
    assert request.path == "src/app.py"
    assert request.language == "python"
    assert request.code == "line 10\nline 11\nline 12\n"
    assert request.start_line == 10 and request.end_line == 12
    assert request.context_before == "line 8\nline 9\n"
    assert request.context_after == "line 13\nline 14\n"
    assert request.intent is None and request.blast_radius is None


def test_context_is_clipped_at_the_document_edges(tmp_path: Path) -> None:
    request = build_request("fix", tmp_path / "a.py", DOC, 1, 2, settings(5), tmp_path)
    assert request.context_before == ""
    assert request.context_after == "".join(f"line {i}\n" for i in range(3, 8))
    request = build_request("fix", tmp_path / "a.py", DOC, 29, 30, settings(5), tmp_path)
    assert request.context_after == ""
    request = build_request("fix", tmp_path / "a.py", DOC, 15, 15, settings(0), tmp_path)
    assert (request.context_before, request.context_after) == ("", "")


def test_empty_selection_means_the_whole_document(tmp_path: Path) -> None:
    request = build_request("explain", tmp_path / "a.py", DOC, None, None, settings(), tmp_path)
    assert request.code == DOC and request.start_line == 1 and request.end_line == 30
    assert request.context_before == request.context_after == ""
    empty = build_request("review", tmp_path / "a.py", "", None, None, settings(), tmp_path)
    assert empty.code == "" and empty.start_line == 1


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (40, 52, "Range 40-52 is outside the document (30 lines)"),
        (0, 3, "Range 0-3 is outside the document (30 lines); lines are numbered from 1"),
        (29, 32, "Range 29-32 is outside the document (30 lines)"),
        (12, 10, "Range 12-10 is reversed: it ends before it starts"),
    ],
)
def test_bad_range(tmp_path: Path, start: int, end: int, message: str) -> None:
    with pytest.raises(BadRange) as caught:
        build_request("review", tmp_path / "a.py", DOC, start, end, settings(), tmp_path)
    assert str(caught.value) == message
    assert isinstance(caught.value, FuseError)
    assert (caught.value.start_line, caught.value.end_line, caught.value.line_count) == (
        start,
        end,
        30,
    )


def test_bad_range_in_an_empty_or_one_line_document(tmp_path: Path) -> None:
    with pytest.raises(BadRange, match=r"Range 1-1 is outside the document \(0 lines\)"):
        build_request("review", tmp_path / "a.py", "", 1, 1, settings(), tmp_path)
    with pytest.raises(BadRange, match=r"\(1 line\)"):
        build_request("review", tmp_path / "a.py", "x", 2, 2, settings(), tmp_path)


def test_selecting_into_the_empty_last_line_is_fine(tmp_path: Path) -> None:
    request = build_request("review", tmp_path / "a.py", DOC, 29, 31, settings(0), tmp_path)
    assert request.code == "line 29\nline 30\n"


def test_line_endings_are_kept_and_only_lsp_breaks_count(tmp_path: Path) -> None:
    text = "a = 1\r\nb = '\u2028x\x0c'\r\nc = 3\rd = 4"
    request = build_request("review", tmp_path / "a.py", text, 2, 4, settings(1), tmp_path)
    assert request.code == "b = '\u2028x\x0c'\r\nc = 3\rd = 4"
    assert request.context_before == "a = 1\r\n"


def test_paths_outside_the_workspace(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    outside = tmp_path / "elsewhere" / "x.py"
    request = build_request("review", outside, DOC, 1, 1, settings(), ws)
    assert request.path == outside.as_posix()
    home_file = Path.home() / "some-project" / "x.py"
    assert build_request("review", home_file, DOC, 1, 1, settings(), None).path == (
        "~/some-project/x.py"
    )


def test_request_carries_intent_and_blast_radius(project: Path) -> None:
    model = project / "models" / "stg_orders.sql"
    write(project / "models" / "stg_orders.toml", 'intent = "Orders, cleaned."\n')
    request = build_request(
        "review", model, model.read_text(), 1, 1, settings(), project, instruction="focus"
    )
    assert request.path == "models/stg_orders.sql"
    assert request.language == "sql"
    assert request.intent == "Stated intent (from stg_orders.toml): Orders, cleaned."
    assert request.blast_radius is not None and "fct_revenue (customer_id, total)" in (
        request.blast_radius
    )
    assert request.instruction == "focus"


def test_loading_the_sql_parser_does_not_count_against_the_scan_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first SQL review of a session imports sqlglot; on a busy machine that took longer
    than the whole scan budget and every first blast radius said "partial scan"."""
    import importlib.abc
    import sys
    import types

    import fuse_ls.context as context

    clock = [1000.0]
    monkeypatch.setattr(context, "time", types.SimpleNamespace(monotonic=lambda: clock[0]))

    class SlowImport(importlib.abc.MetaPathFinder):
        def find_spec(self, name: str, path: object = None, target: object = None) -> None:
            if name == "sqlglot":
                clock[0] += 10 * context._SCAN_BUDGET_S  # a parser import on a loaded machine
            return None  # the normal finders import it

    for name in [m for m in sys.modules if m == "sqlglot" or m.startswith("sqlglot.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [SlowImport(), *sys.meta_path])
    model = write(tmp_path / "models" / "a.sql", "select 1 as x\n")
    write(tmp_path / "models" / "b.sql", "select x from a\n")
    assert find_blast_radius(model, tmp_path) == "Downstream: b (x) (found in models/)"
