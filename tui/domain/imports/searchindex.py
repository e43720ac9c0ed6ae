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

On PostgreSQL nothing is dropped (DROP TRIGGER would lock readers out of the
tables until the commit): ``drop`` sets ``clientbook.search_paused`` for the rest
of the transaction (``SET LOCAL``), which 0002's trigger functions check first,
``refresh`` calls 0002's ``customer_search_refresh(ids)``, and ``restore`` puts
the setting back as it was. A failed batch rolls the setting back with the rest;
another connection's triggers never see it.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from peewee import Database, PostgresqlDatabase

_INDEX = importlib.import_module("tui.domain.migrations.0002_customer_search")
PREFIX = "customer_search_"
PAUSED = "clientbook.search_paused"


def _postgres(db: Database) -> bool:
    return isinstance(db, PostgresqlDatabase)


def triggers(db: Database) -> list[tuple[str, str]]:
    """(name, CREATE TRIGGER text) of the search index's triggers, as the database holds them."""
    if _postgres(db):
        return [tuple(row) for row in db.execute_sql(
            "SELECT t.tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t "
            "WHERE NOT t.tgisinternal AND starts_with(t.tgname, %s) ORDER BY t.tgname",
            [PREFIX]).fetchall()]
    return db.execute_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE ? "
        "ORDER BY name", [PREFIX + "%"]).fetchall()


def paused(db: Database) -> bool:
    """PostgreSQL: whether this transaction's triggers skip the search index."""
    value = db.execute_sql("SELECT current_setting(%s, true)", [PAUSED]).fetchone()[0]
    return value == "on"


def drop(db: Database) -> list[tuple[str, str]] | str:
    """Stop the triggers (inside the caller's transaction); returns what ``restore`` needs."""
    if _postgres(db):
        before = "on" if paused(db) else "off"
        db.execute_sql("SELECT set_config(%s, 'on', true)", [PAUSED])  # = SET LOCAL
        return before
    found = triggers(db)
    for name, _sql in found:
        db.execute_sql(f'DROP TRIGGER "{name}"')
    return found


def restore(db: Database, found: list[tuple[str, str]] | str) -> None:
    if _postgres(db):
        db.execute_sql("SELECT set_config(%s, %s, true)", [PAUSED, found])
        return
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
    if _postgres(db):
        for start in range(0, len(ids), chunk):
            db.execute_sql("SELECT customer_search_refresh(%s::bigint[])",
                           [ids[start:start + chunk]])
        return
    for start in range(0, len(ids), chunk):
        part = ids[start:start + chunk]
        delete, insert = [s for s in _INDEX.refresh("{ids}").split(";") if s.strip()]
        old = [i for i in part if i not in fresh]
        if old:
            db.execute_sql(delete.replace("{ids}", ",".join(map(str, old))))
        db.execute_sql(insert.replace("{ids}", ",".join(map(str, part))))


def expected_triggers(db: Database | None = None) -> dict[str, tuple[str, str]]:
    """What migration 0002 creates: name -> (event, body); on PostgreSQL the body is the
    trigger function's name."""
    return dict(_INDEX.PG_TRIGGERS if db is not None and _postgres(db) else _INDEX.TRIGGERS)
