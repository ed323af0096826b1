import sqlite3


def find_user(conn: sqlite3.Connection, name: str) -> list[tuple]:
    cursor = conn.cursor()
    cursor.execute(f"SELECT id, email FROM users WHERE name = '{name}'")
    return cursor.fetchall()


def count_users(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT COUNT(*) FROM users").fetchone()[0]
