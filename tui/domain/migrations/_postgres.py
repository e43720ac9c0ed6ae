"""What a PostgreSQL database gets after its migrations run (the database class calls it).

The migrations declare their tables with peewee fields, written for SQLite, where a
``CharField`` is TEXT and an ``IntegerField`` holds 64 bits. PostgreSQL's defaults differ:

- ``CharField`` becomes ``varchar(255)``, and PostgreSQL enforces the 255 that SQLite never
  did (a long import file path, a document's file name, an e-mail subject). Every varchar
  column becomes ``text``: the validation rules stay the only limits, on both databases.
  PostgreSQL changes the type without rewriting the table.
- ``IntegerField`` becomes ``integer`` (32 bits), too small for amounts up to 10**15 minor
  units. The PostgreSQL database class creates ``BIGINT`` and ``BIGSERIAL`` already
  (``field_types``); any ``integer`` column or sequence left (a table made by raw SQL, or
  by a plain ``PostgresqlDatabase``) becomes ``bigint`` here, which rewrites that table,
  once.

A column named in a trigger's definition (``UPDATE OF currency``, a ``WHEN`` clause) cannot
change type, so such triggers are dropped and made again from their own definition, in
the same transaction. Running it again finds nothing to change.
"""

from __future__ import annotations

_COLUMNS = """
SELECT c.relname, a.attname, t.typname
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
  AND a.attnum > 0 AND NOT a.attisdropped
  AND t.typname IN ('varchar', 'bpchar', 'int4', 'int2')
ORDER BY c.relname, a.attnum
"""

_TRIGGERS = """
SELECT c.relname, g.tgname, pg_get_triggerdef(g.oid)
FROM pg_trigger g
JOIN pg_class c ON c.oid = g.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND NOT g.tgisinternal
ORDER BY c.relname, g.tgname
"""

_SEQUENCES = """
SELECT c.relname
FROM pg_sequence s
JOIN pg_class c ON c.oid = s.seqrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND s.seqtypid <> 'int8'::regtype
ORDER BY c.relname
"""

_NEW_TYPE = {"varchar": "text", "bpchar": "text", "int4": "bigint", "int2": "bigint"}


def _name(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def postgres_after_migrations(db) -> dict[str, list[str]]:
    """Text for every varchar column, bigint for every integer column and sequence.

    Returns what changed (table -> ["column type", ...], plus "sequences"), empty when
    the schema was right already. Runs in one transaction (a savepoint inside one).
    """
    changed: dict[str, list[str]] = {}
    with db.atomic():
        columns: dict[str, list[tuple[str, str]]] = {}
        for table, column, type_name in db.execute_sql(_COLUMNS).fetchall():
            columns.setdefault(table, []).append((column, _NEW_TYPE[type_name]))
        triggers = [row for row in db.execute_sql(_TRIGGERS).fetchall() if row[0] in columns]
        for table, name, _definition in triggers:
            db.execute_sql(f"DROP TRIGGER {_name(name)} ON {_name(table)}")
        for table, wanted in columns.items():
            db.execute_sql(f"ALTER TABLE {_name(table)} " + ", ".join(
                f"ALTER COLUMN {_name(column)} TYPE {new_type}" for column, new_type in wanted))
            changed[table] = [f"{column} {new_type}" for column, new_type in wanted]
        for _table, _name_, definition in triggers:
            db.execute_sql(definition)
        sequences = [name for (name,) in db.execute_sql(_SEQUENCES).fetchall()]
        for sequence in sequences:
            db.execute_sql(f"ALTER SEQUENCE {_name(sequence)} AS bigint")
        if sequences:
            changed["sequences"] = sequences
    return changed
