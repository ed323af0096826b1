import sqlite3


def open_db(path):
    return sqlite3.connect(path)


def find_orders(db, customer_id):
    cursor = db.execute("SELECT id, total FROM orders WHERE customer_id = ?", (customer_id,))
    return cursor.fetchall()


def order_total(db, order_id):
    row = db.execute("SELECT total FROM orders WHERE id = ?", (order_id,)).fetchone()
    return row[0] if row else 0
