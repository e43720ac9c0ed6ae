"""Ids are never given twice (issue 7): tables are rebuilt with ``INTEGER PRIMARY KEY
AUTOINCREMENT``.

Without AUTOINCREMENT SQLite gives a new row the highest id + 1, so deleting the newest
customer freed its id for the next customer made, and a stale save or delete of the
deleted one (optimistic locking is by id and version) landed on the new one. With it,
SQLite keeps the highest id a table ever gave in ``sqlite_sequence`` and never goes back.

Rebuilt: every table whose rows have an integer ``id`` (``REBUILT``). Most are edited or
deleted by id (customers, contacts, groups, machines, documents, estimates, projects,
users, import jobs and items, outbox messages); the others (assignment, audit_event,
equipment_event, estimate_line) are named by id elsewhere (the assignment and event
histories, ``restore_customer(audit_id=...)``, the outbox's event_id, import undo) or
deleted with their parent, and one rule for every table is simpler to trust than a list of
exceptions. Left alone: ``group_membership`` (its key is the pair customer, group),
``estimate_sequence`` (keyed by year), peewee's ``schema_migration`` and the search
index's own tables (``customer_search*``), none of which hand out ids.

How, following SQLite's documented way to change a table ("Making Other Kinds Of Table
Schema Changes", the twelve steps of the ALTER TABLE page):

1. foreign keys are off: the migration runner turns them off before its transaction
   (they cannot change inside one) and back on after; checked below, since dropping a
   table with them on would first delete its rows and cascade to their children;
2. one transaction (the runner's), which also records this migration;
3. every trigger and view is dropped first and made again at the end from the SQL the
   database held, so renaming a table never meets a trigger that names a table that is
   momentarily gone (the search triggers of 0002 name customer, contact, assignment and
   equipment; the currency lock of 0005 names estimate);
4. per table: ``CREATE TABLE new_<t>`` from the table's own CREATE statement with
   AUTOINCREMENT added (so columns, defaults and constraints, external_id of 0004
   included, are exactly what the database had); copy every row with its id; drop the
   old table; rename; make its indexes again from their SQL (the partial unique index
   "one open assignment per machine" included);
5. ``PRAGMA foreign_key_check`` must be empty, else everything rolls back.

A database is copied aside before any migration runs (``database.backup_before_migration``).

Ids deleted before this migration are not given again either: each table's sequence
starts at the highest id the database still names anywhere (``NAMED_ELSEWHERE``): its
own rows, the audit trail's rows about that entity (and the contacts, documents and
projects listed in a customer's created/deleted snapshot), import records, and plain
copies of the id kept by other tables (assignment.customer_id, notification.contact_id...).
"""

from __future__ import annotations

import re

from tui.domain.dialect import is_postgres
from tui.domain.errors import DatabaseError
from tui.i18n import _

# Frozen: the tables as schema 5 has them, rebuilt in this order.
REBUILT = (
    "app_user", "customer", "customer_group", "contact", "equipment", "assignment",
    "admin_document", "audit_event", "equipment_event", "notification", "import_job",
    "import_item", "estimate", "estimate_line", "project",
)


def _audited(entity: str) -> str:
    return f"SELECT max(entity_id) FROM audit_event WHERE entity = '{entity}'"


def _imported(entity: str) -> str:
    return f"SELECT max(entity_id) FROM import_item WHERE entity = '{entity}'"


def _in_customer_snapshots(key: str) -> list[str]:
    """Ids of the records a customer's audit snapshots list under ``key`` (a customer's
    creation lists its contacts, its deletion its contacts, documents and projects)."""
    return [
        f"SELECT max(CASE WHEN j.type = 'object' THEN json_extract(j.value, '$.id') END) "
        f"FROM audit_event a, json_each(CASE WHEN json_valid(a.{side}) THEN a.{side} END, "
        f"'$.{key}') j WHERE a.entity = 'customer'"
        for side in ("before", "after")
    ]


# Queries each giving one id that must never be given again (NULL when there is none).
NAMED_ELSEWHERE: dict[str, list[str]] = {
    "app_user": [_audited("user")],
    "customer": [_audited("customer"), _imported("customer"),
                 "SELECT max(customer_id) FROM audit_event",
                 "SELECT max(customer_id) FROM assignment",
                 "SELECT max(customer_id) FROM equipment_event",
                 "SELECT max(customer_id) FROM notification"],
    "customer_group": [_audited("group"), _imported("group")],
    "contact": [_audited("contact"), _imported("contact"), *_in_customer_snapshots("contacts"),
                "SELECT max(contact_id) FROM notification"],
    "equipment": [_audited("equipment"), _imported("equipment")],
    "assignment": [_imported("assignment"),
                   "SELECT max(json_extract(after, '$.id')) FROM audit_event "
                   "WHERE action = 'assign' AND json_valid(after)"],
    "admin_document": [_audited("document"), *_in_customer_snapshots("documents")],
    "audit_event": [],
    "equipment_event": [_audited("equipment_event"), "SELECT max(event_id) FROM notification"],
    "notification": [_audited("notification")],
    "import_job": [_audited("import_job")],
    "import_item": [],
    "estimate": [_audited("estimate")],
    "estimate_line": [],
    "project": [_audited("project"), *_in_customer_snapshots("projects")],
}

# The id column as peewee writes it, followed by the next column or the end.
ID_COLUMN = re.compile(r'"id" INTEGER NOT NULL PRIMARY KEY(?=\s*[,)])')


def _fail(table: str, problem: str) -> DatabaseError:
    return DatabaseError(_("Cannot upgrade the table {table} to schema 6: {problem}. Nothing "
                           "was changed.").format(table=table, problem=problem))


def _one(db, sql: str, params=()):
    return db.execute_sql(sql, params).fetchone()


def new_table_sql(table: str, sql: str) -> str:
    """The table's CREATE statement as ``new_<table>``, its id AUTOINCREMENT."""
    head = f'CREATE TABLE "{table}" ('
    if not sql.startswith(head):
        raise _fail(table, _("its definition does not start as expected"))
    if len(ID_COLUMN.findall(sql)) != 1:
        raise _fail(table, _("its id column is not an integer primary key"))
    body = ID_COLUMN.sub('"id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT', sql[len(head):])
    return f'CREATE TABLE "new_{table}" (' + body


def rebuild(db, table: str) -> None:
    row = _one(db, "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,))
    if row is None:
        raise _fail(table, _("the table is missing"))
    if "AUTOINCREMENT" in row[0].upper():
        return  # already done (by hand, or a database made otherwise): nothing to rebuild
    create = new_table_sql(table, row[0])
    indexes = [sql for (sql,) in db.execute_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL"
        " ORDER BY rowid", (table,))]
    columns = ", ".join(f'"{name}"' for (_cid, name, *_rest) in db.execute_sql(
        f'PRAGMA table_info("{table}")'))
    db.execute_sql(create)
    db.execute_sql(f'INSERT INTO "new_{table}" ({columns}) SELECT {columns} FROM "{table}"')
    db.execute_sql(f'DROP TABLE "{table}"')
    db.execute_sql(f'ALTER TABLE "new_{table}" RENAME TO "{table}"')
    for sql in indexes:
        db.execute_sql(sql)


def high_water(db, table: str) -> int:
    """The highest id of ``table`` the database names anywhere (0 if none)."""
    found = [_one(db, f'SELECT max(id) FROM "{table}"')[0]]
    found += [_one(db, sql)[0] for sql in NAMED_ELSEWHERE[table]]
    return max((value for value in found if isinstance(value, int)), default=0)


def seed_sequence(db, table: str, mark: int) -> None:
    row = _one(db, "SELECT seq FROM sqlite_sequence WHERE name = ?", (table,))
    if row is None:
        if mark > 0:
            db.execute_sql("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (table, mark))
    elif row[0] is None or row[0] < mark:
        db.execute_sql("UPDATE sqlite_sequence SET seq = ? WHERE name = ?", (mark, table))


def up(migrator, db):
    if is_postgres(db):
        # Nothing to rebuild: ids come from BIGSERIAL sequences, which never go back. A
        # database moved from SQLite (clientbook migrate-to) has its sequences set from
        # high_water() run on the SQLite file.
        return
    if _one(db, "PRAGMA foreign_keys")[0]:
        # Dropping a table would first delete its rows, cascading to their children.
        raise DatabaseError(_("Cannot upgrade to schema 6 with foreign keys on: tables are "
                              "rebuilt. Nothing was changed."))
    # Marks first: they read tables that are about to be rebuilt.
    marks = {table: high_water(db, table) for table in REBUILT}
    dependents = db.execute_sql(
        "SELECT type, name, sql FROM sqlite_master WHERE type IN ('trigger', 'view') "
        "AND sql IS NOT NULL ORDER BY rowid").fetchall()
    for kind, name, _sql in reversed(dependents):
        db.execute_sql(f'DROP {kind.upper()} "{name}"')
    for table in REBUILT:
        rebuild(db, table)
    for _kind, _name, sql in dependents:
        db.execute_sql(sql)
    for table in REBUILT:
        seed_sequence(db, table, marks[table])
    broken = db.execute_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        table, rowid, parent, _key = broken[0]
        raise _fail(table, _("row {rowid} refers to a missing {parent} ({count} such rows)")
                    .format(rowid=rowid, parent=parent, count=len(broken)))
