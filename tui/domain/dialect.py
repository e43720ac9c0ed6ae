"""The few places where SQLite and PostgreSQL SQL differ, for the raw SQL the services write.

peewee writes most queries for whichever database it is given; the services write some SQL
by hand (the fleet, the reports, the importer's bulk inserts), and these helpers keep that
SQL valid on both:

- ``sql(db, text)``: ``?`` placeholders become the driver's (``%s`` for psycopg). Raw SQL
  must hold no literal ``%`` (LIKE patterns travel as parameters).
- ``nocase(db, expr)``: SQLite's ``COLLATE NOCASE`` has no PostgreSQL twin; ``lower(expr)``
  sorts the same way for ASCII letters (the database is created with the C.UTF-8
  collation, which compares bytes as SQLite's BINARY does).
- ``same_text(field, value)``: ``field == value`` for text someone typed; a NUL in it
  matches nothing (nothing stored holds one) instead of PostgreSQL refusing the parameter.
- ``reserve_ids(db, table, n)``: ids for rows inserted with explicit ids (bulk imports),
  never given before: on SQLite above ``sqlite_sequence`` (schema 6) and the rows there,
  on PostgreSQL from the table's sequence. ``release_ids`` gives back an unused tail.

Both must run inside the writer's transaction (``write()``), which is what makes a
reservation safe: no other Clientbook writer runs meanwhile.
"""

from __future__ import annotations

import peewee

__all__ = ["is_postgres", "sql", "marks", "nocase", "same_text", "reserve_ids", "release_ids",
           "next_id"]


def is_postgres(db) -> bool:
    return isinstance(db, peewee.PostgresqlDatabase)


def sql(db, text: str) -> str:
    """``text`` with its ``?`` placeholders in the driver's style."""
    if is_postgres(db):
        return text.replace("?", db.param)
    return text


def marks(db, n: int) -> str:
    """``?, ?, ?`` (n of them) in the driver's style."""
    return ", ".join([db.param] * n)


def nocase(db, expr):
    """``expr`` compared and sorted regardless of the case of ASCII letters: SQL text, or
    a peewee node."""
    postgres = is_postgres(db)
    if isinstance(expr, str):
        return f"lower({expr})" if postgres else f"{expr} COLLATE NOCASE"
    return peewee.fn.lower(expr) if postgres else expr.collate("NOCASE")


def same_text(field, value):
    """``field == value``, where ``value`` is text as typed (a login, a serial, a number): one
    holding a NUL matches no row (validation keeps control characters out of every stored
    text) rather than PostgreSQL refusing it ("cannot store text ... NUL")."""
    if isinstance(value, str) and "\x00" in value:
        return peewee.SQL("1 = 0")
    return field == value


def _quoted_table(table: str) -> str:
    if not table.replace("_", "").isalnum():
        raise ValueError(f"not a table name: {table!r}")
    return f'"{table}"'


def _sequence(db, table: str) -> str:
    name = db.execute_sql("SELECT pg_get_serial_sequence(%s, 'id')", (table,)).fetchone()[0]
    if name is None:
        raise ValueError(f"table {table!r} has no id sequence")
    return name


def _sqlite_top(db, table: str) -> int:
    """The highest id ``table`` ever gave: its rows, and sqlite_sequence (AUTOINCREMENT)."""
    return db.execute_sql(
        f"SELECT max(ifnull((SELECT max(id) FROM {_quoted_table(table)}), 0), "
        "ifnull((SELECT seq FROM sqlite_sequence WHERE name = ?), 0))", (table,)).fetchone()[0]


def next_id(db, table: str) -> int:
    """The id the next reservation would start at, taking nothing (a dry run's plan)."""
    if is_postgres(db):
        sequence = _sequence(db, table)
        last, called = db.execute_sql(
            f"SELECT last_value, is_called FROM {sequence}").fetchone()
        top = db.execute_sql(f"SELECT coalesce(max(id), 0) FROM {_quoted_table(table)}"
                             ).fetchone()[0]
        return max(last + 1 if called else last, top + 1)
    return _sqlite_top(db, table) + 1


def reserve_ids(db, table: str, n: int) -> range:
    """``n`` ids for ``table`` that no row has had and no other caller will get, in order.

    PostgreSQL: taken from the table's sequence (``nextval`` then ``setval`` to the last
    one), so rows inserted later without an id never collide with them. SQLite: above the
    highest id the table ever gave, and ``sqlite_sequence`` raised to the last one, so a
    deleted record's id is not given again (AUTOINCREMENT, schema 6). Call it inside the
    writer's transaction.
    """
    if n <= 0:
        return range(0)
    if is_postgres(db):
        sequence = _sequence(db, table)
        start = db.execute_sql("SELECT nextval(%s)", (sequence,)).fetchone()[0]
        # Rows that carry their own id (a restore, a migrated database) may sit above the
        # sequence: start past them.
        top = db.execute_sql(f"SELECT coalesce(max(id), 0) FROM {_quoted_table(table)}"
                             ).fetchone()[0]
        start = max(start, top + 1)
        db.execute_sql("SELECT setval(%s, %s)", (sequence, start + n - 1))
        return range(start, start + n)
    start = _sqlite_top(db, table) + 1
    end = start + n - 1
    if db.execute_sql("UPDATE sqlite_sequence SET seq = ? WHERE name = ?",
                      (end, table)).rowcount == 0:
        db.execute_sql("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (table, end))
    return range(start, start + n)


def release_ids(db, table: str, unused: range) -> None:
    """Give back the unused end of a reservation (``unused`` runs to its last id), unless
    ids were taken after it meanwhile. Ids never given to a row are not "given"."""
    if not unused:
        return
    first, last = unused.start, unused[-1]
    if is_postgres(db):
        sequence = _sequence(db, table)
        current = db.execute_sql(f"SELECT last_value FROM {sequence}").fetchone()[0]
        if current == last:
            if first > 1:
                db.execute_sql("SELECT setval(%s, %s)", (sequence, first - 1))
            else:
                db.execute_sql("SELECT setval(%s, 1, false)", (sequence,))
        return
    db.execute_sql("UPDATE sqlite_sequence SET seq = ? WHERE name = ? AND seq = ?",
                   (first - 1, table, last))
