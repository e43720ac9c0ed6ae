"""Keeping the customer search index in step during a bulk import, once per batch.

The FTS5 table ``customer_search`` (migration 0002) is kept by triggers that
rebuild a customer's row on every insert or update of the customer, its
contacts or its assignments: a customer imported with two contacts is indexed
three times, each time with the sub-selects of ``refresh``. Inside a batch's
transaction the importer instead drops those triggers, writes the batch, rebuilds
the rows of every customer the batch touched with ONE ``refresh(ids)``
statement, and creates the triggers again before the commit. DDL is
transactional in SQLite: other connections never see the triggers missing,
and a batch that fails or is interrupted rolls the DROP back with everything else.

The triggers are re-created from their own text in ``sqlite_master``, so
whatever a later migration makes of them is put back as it was. The rebuild
uses migration 0002's ``refresh``; ``test_import`` checks that the live
triggers still are the ones 0002 creates, so a migration that changes them
cannot leave this helper building stale rows unnoticed.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from peewee import Database

_INDEX = importlib.import_module("tui.domain.migrations.0002_customer_search")
PREFIX = "customer_search_"


def triggers(db: Database) -> list[tuple[str, str]]:
    """(name, CREATE TRIGGER text) of the search index's triggers, as the database holds them."""
    return db.execute_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE ? "
        "ORDER BY name", [PREFIX + "%"]).fetchall()


def drop(db: Database) -> list[tuple[str, str]]:
    """Drop the triggers (inside the caller's transaction); returns what ``restore`` needs."""
    found = triggers(db)
    for name, _sql in found:
        db.execute_sql(f'DROP TRIGGER "{name}"')
    return found


def restore(db: Database, found: list[tuple[str, str]]) -> None:
    for _name, sql in found:
        db.execute_sql(sql)


def refresh(db: Database, customer_ids: Iterable[int], chunk: int = 5000, *,
            new: Iterable[int] = ()) -> None:
    """Rebuild the index rows of these customers (ids of deleted ones just lose theirs).

    ``new``: customers created in this transaction, which have no row yet: only the
    insert is needed for them (the delete of a row that is not there costs a quarter
    of the rebuild).
    """
    fresh = {int(i) for i in new}
    ids = sorted({int(i) for i in customer_ids} | fresh)
    for start in range(0, len(ids), chunk):
        part = ids[start:start + chunk]
        delete, insert = [s for s in _INDEX.refresh("{ids}").split(";") if s.strip()]
        old = [i for i in part if i not in fresh]
        if old:
            db.execute_sql(delete.replace("{ids}", ",".join(map(str, old))))
        db.execute_sql(insert.replace("{ids}", ",".join(map(str, part))))


def expected_triggers() -> dict[str, tuple[str, str]]:
    """What migration 0002 creates: name -> (event, body)."""
    return dict(_INDEX.TRIGGERS)
