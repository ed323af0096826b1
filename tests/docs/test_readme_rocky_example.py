"""The README's example of what the models see besides the code (Rocky's conventions):
`models/orders.sql` with an `orders.toml` sidecar and a `revenue` model reading it."""

from __future__ import annotations

import re
from pathlib import Path

from fuse_ls.context import find_blast_radius, find_intent

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_the_readme_example_is_what_a_review_of_orders_sql_sends(tmp_path: Path) -> None:
    text = " ".join(README.split())
    example = re.search(
        r'A review of `models/orders\.sql` then tells the models "([^"]+)" and "([^"]+)"', text
    )
    assert example, "the README's example changed: change this test with it"
    said_intent, said_downstream = example.groups()
    intent = re.search(r"\(from orders\.toml\): (.+)", said_intent)
    assert intent
    models = tmp_path / "models"
    models.mkdir()
    (models / "orders.sql").write_text(
        "SELECT id, customer_id, total_cents FROM raw_orders WHERE status <> 'cancelled'\n"
    )
    (models / "orders.toml").write_text(f'intent = "{intent.group(1)}"\n')
    (models / "revenue.sql").write_text(
        "SELECT customer_id, SUM(total_cents) AS revenue_cents FROM orders GROUP BY customer_id\n"
    )
    assert find_intent(models / "orders.sql", tmp_path) == said_intent
    downstream = find_blast_radius(models / "orders.sql", tmp_path)
    assert downstream is not None and downstream.startswith(said_downstream), downstream
