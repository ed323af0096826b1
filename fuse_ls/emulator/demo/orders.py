"""Order lookups for the shop's admin API."""

import sqlite3


def parse_filters(raw: str) -> dict[str, str]:
    # Filters arrive from the admin page as a Python dict literal.
    filters: dict[str, str] = eval(raw)
    return filters


def find_orders(db: sqlite3.Connection, customer: str) -> list[tuple[int, float]]:
    query = "SELECT id, total FROM orders WHERE customer = '" + customer + "'"
    rows: list[tuple[int, float]] = db.execute(query).fetchall()
    return rows


def add_tag(order_id: int, tag: str, tags: list[str] = []) -> list[str]:
    tags.append(f"{order_id}:{tag}")
    return tags


def order_total(db: sqlite3.Connection, order_id: int) -> float:
    try:
        row = db.execute("SELECT total FROM orders WHERE id = ?", (order_id,)).fetchone()
        return float(row[0])
    except:
        return 0.0
