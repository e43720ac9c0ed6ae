"""Moving a Clientbook database from its SQLite file to PostgreSQL (``clientbook migrate-to``).

``migrate_to(source, target_url)`` copies everything, ids kept, into an EMPTY PostgreSQL
database:

* **The source** is opened through ``open_database``, so an older file is upgraded first
  (with its automatic copy beside it), then read in ONE read transaction of a connection
  of its own: one consistent moment, even while others keep working. Before anything is
  written it is checked: no broken foreign key (``PRAGMA foreign_key_check``) and no NUL
  character in any text (PostgreSQL text cannot hold one); each finding is one sentence
  naming the table, the id and the column.
* **The target** is opened with ``create=True`` (an empty database gets the schema) and
  must hold no row in any Clientbook table; otherwise it is refused naming the tables,
  nothing written.
* **One PostgreSQL transaction**, under the writer lock (``write()``'s BEGIN) with the
  search triggers paused for it (``clientbook.search_paused``, as the importer does):
  every table in foreign-key order (``ALL_MODELS``), in pages of ``PAGE`` rows, read with
  the models' conversions (text dates become datetimes, 0/1 booleans) and written with
  them; then the search index of every customer (``customer_search_refresh``); then every
  id sequence set to the highest id the SQLite file ever gave or still names anywhere
  (migration 0006's ``high_water`` and ``sqlite_sequence``), so no id is given twice;
  then the counts of every table compared with the source's, and one audit event
  ``migrate`` -- and only then the commit. Any failure rolls everything back: the target
  stays empty.
* **Document files** referenced by the documents are copied (by SHA-256 name, checked)
  from ``<file>.files/`` into the target's store (the configuration's ``documents_dir``
  or $CLIENTBOOK_FILES, decision D1) before the commit; files are only ever added.

Permission: ``backup.restore`` (administrators): it writes a whole database.
"""

from __future__ import annotations

import importlib
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import peewee

from tui.domain.backup import RESTORE_PERMISSION, blob_in, referenced_files
from tui.domain.context import Context
from tui.domain.database import file_mode_for, is_database_url, make_data_dir, open_database
from tui.domain.dialect import is_postgres
from tui.domain.errors import ClientbookError, DatabaseError
from tui.domain.imports import searchindex
from tui.domain.models import ALL_MODELS, AuditEvent
from tui.domain.permissions import require
from tui.i18n import _

PAGE = 1000
_IDS = importlib.import_module("tui.domain.migrations.0006_ids_never_reused")

# progress(table, rows copied so far, rows in the table)
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class MigrateReport:
    source: str  # the SQLite file's label
    target: str  # the URL without password
    counts: dict[str, int]  # table -> rows copied (equal on both sides)
    sequences: dict[str, int]  # table -> the last id its sequence counts as given
    files: int  # document files copied into the target's store
    files_dir: Path | None
    missing_files: tuple[str, ...] = field(default=())  # referenced, not in the source store


def tables() -> list[str]:
    return [model._meta.table_name for model in ALL_MODELS]


def _context(source, config) -> Context:
    if isinstance(source, Context):
        return source
    from tui.domain.config import load_config
    from tui.domain.context import os_login
    from tui.domain.services.users import resolve_actor

    config = config or load_config()
    db = open_database(source)
    return Context(db, config, resolve_actor(config, os_login()))


def migrate_to(source: Context | str | os.PathLike, target_url: str, *,
               progress: Progress | None = None, config=None) -> MigrateReport:
    """Copy the SQLite database ``source`` (a context on it, or its path) into the empty
    PostgreSQL database at ``target_url`` (see the module)."""
    if not is_database_url(target_url):
        raise ClientbookError(_("{target} is not a postgresql:// URL: migrate-to copies into "
                                "PostgreSQL.").format(target=target_url))
    bound = AuditEvent._meta.database  # models are bound to one database per process
    ctx = _context(source, config)
    require(ctx.actor, RESTORE_PERMISSION)
    file = getattr(ctx.db, "file", None)
    if file is None:
        raise ClientbookError(_("{db} is not an SQLite file: migrate-to copies an SQLite "
                                "database into PostgreSQL.").format(db=ctx.db.label))
    reader = peewee.SqliteDatabase(str(file), pragmas={"query_only": 1, "busy_timeout": 30000})
    target = None
    try:
        reader.connect()
        with reader.atomic():  # BEGIN (deferred): the first read fixes the snapshot
            _check_source(reader, ctx.db.label)
            target = open_database(target_url, create=True)
            if not is_postgres(target):  # pragma: no cover - is_database_url said so
                raise ClientbookError(_("{target} is not a PostgreSQL database.").format(
                    target=target.label))
            target_ctx = Context(target, ctx.config, ctx.actor)
            return _copy(ctx, reader, target_ctx, progress or (lambda *a: None))
    finally:
        reader.close()
        if not isinstance(source, Context):
            ctx.db.close()
        if target is not None:
            target.close()
        if bound is not None:
            bound.bind(ALL_MODELS)


def _check_source(reader: peewee.SqliteDatabase, label: str) -> None:
    broken = reader.execute_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        table, rowid, parent, _key = broken[0]
        raise DatabaseError(_(
            "{db}: {table} id {id} refers to a {parent} that does not exist ({count} such "
            "rows); fix the file first. Nothing was copied.").format(
                db=label, table=table, id=rowid, parent=parent, count=len(broken)))
    for model in ALL_MODELS:
        table = model._meta.table_name
        key = model._meta.primary_key
        key_column = key.column_name if not isinstance(key, peewee.CompositeKey) else "rowid"
        for column in model._meta.sorted_fields:
            if not isinstance(column, (peewee.CharField, peewee.TextField)):
                continue
            row = reader.execute_sql(
                f'SELECT "{key_column}" FROM "{table}" WHERE instr(CAST("{column.column_name}" '
                f'AS BLOB), x\'00\') > 0 LIMIT 1').fetchone()
            if row is not None:
                raise DatabaseError(_(
                    "{db}: {table} id {id}, column {column}, holds the character NUL (\\x00), "
                    "which PostgreSQL cannot store; remove it first. Nothing was copied.").format(
                        db=label, table=table, id=row[0], column=column.column_name))


def _count(db, table: str) -> int:
    return db.execute_sql(f'SELECT count(*) FROM "{table}"').fetchone()[0]


def _refuse_non_empty(target) -> None:
    holding = [table for table in tables()
               if target.execute_sql(f'SELECT EXISTS (SELECT 1 FROM "{table}")').fetchone()[0]]
    if holding:
        raise ClientbookError(_(
            "{db} is not empty ({tables} hold rows): migrate-to copies into an empty database "
            "only. Nothing was written.").format(db=target.label, tables=", ".join(holding)))


def _reason(error: BaseException) -> str:
    original = getattr(error, "orig", None) or error
    text = str(original).strip()
    return text.splitlines()[0] if text else type(original).__name__


def _copy(ctx: Context, reader, target_ctx: Context, progress: Progress) -> MigrateReport:
    target = target_ctx.db
    _refuse_non_empty(target)  # early answer; checked again under the writer lock
    source_counts = {table: _count(reader, table) for table in tables()}
    with target.atomic():  # BEGIN + the writer's advisory lock
        _refuse_non_empty(target)
        paused = searchindex.drop(target)
        copied: dict[str, int] = {}
        for model in ALL_MODELS:
            copied[model._meta.table_name] = _copy_table(model, reader, target, progress,
                                                         source_counts)
        customers = [row[0] for row in target.execute_sql('SELECT id FROM "customer"')]
        searchindex.refresh(target, customers, new=customers)
        searchindex.restore(target, paused)
        sequences = _set_sequences(reader, target)
        files, files_dir, missing = _copy_files(ctx, reader, target_ctx)
        target_counts = {table: _count(target, table) for table in tables()}
        different = [table for table in tables()
                     if not (source_counts[table] == copied[table] == target_counts[table])]
        if different:
            raise DatabaseError(_(
                "The copy into {db} does not match the source in {tables}; nothing was "
                "written.").format(db=target.label, tables=", ".join(different)))
        AuditEvent.insert(login=ctx.actor.login, action="migrate", entity="database",
                          entity_id=None, after={"source": ctx.db.label,
                                                 "counts": target_counts,
                                                 "files": files}).bind(target).execute()
    return MigrateReport(source=ctx.db.label, target=target.label, counts=target_counts,
                         sequences=sequences, files=files, files_dir=files_dir,
                         missing_files=tuple(missing))


def _copy_table(model, reader, target, progress: Progress, source_counts) -> int:
    table = model._meta.table_name
    fields = list(model._meta.sorted_fields)
    total = source_counts[table]
    key = model._meta.primary_key
    order = ([model._meta.fields[name] for name in key.field_names]
             if isinstance(key, peewee.CompositeKey) else [key])
    rows = model.select(*fields).order_by(*order).tuples().bind(reader).iterator()
    done = 0
    progress(table, 0, total)
    page: list[tuple] = []

    def insert(rows: list[tuple]) -> None:
        with target.atomic():  # a savepoint: an error keeps the transaction usable
            model.insert_many(rows, fields=fields).as_rowcount().bind(target).execute()

    def refused(row: tuple, reason: object) -> DatabaseError:
        return DatabaseError(_(
            "Cannot copy {table} {key} {id}: {reason}. Nothing was written.").format(
                table=table, key=order[0].column_name, id=row[fields.index(order[0])],
                reason=reason))

    def flush() -> None:
        nonlocal done
        try:
            insert(page)
        except (peewee.DatabaseError, ClientbookError):
            # Find the row PostgreSQL refuses (an invalid date, a NUL...), to name it.
            for row in page:
                try:
                    insert([row])
                except peewee.DatabaseError as error:
                    raise refused(row, _reason(error)) from None
                except ClientbookError as error:
                    raise refused(row, error) from None
            raise  # pragma: no cover - the page failed but no row alone does
        done += len(page)
        page.clear()
        progress(table, done, total)

    for row in rows:
        page.append(row)
        if len(page) >= PAGE:
            flush()
    if page:
        flush()
    return done


def _set_sequences(reader, target) -> dict[str, int]:
    """Every id sequence of the target past the highest id the SQLite file ever gave
    (sqlite_sequence) or still names anywhere (0006's high_water)."""
    given = dict(reader.execute_sql("SELECT name, seq FROM sqlite_sequence").fetchall())
    marks: dict[str, int] = {}
    for model in ALL_MODELS:
        table = model._meta.table_name
        sequence = target.execute_sql("SELECT pg_get_serial_sequence(%s, 'id')",
                                      (table,)).fetchone()[0] if "id" in model._meta.fields \
            else None
        if sequence is None:
            continue
        if table in _IDS.NAMED_ELSEWHERE:
            mark = _IDS.high_water(reader, table)
        else:
            mark = reader.execute_sql(f'SELECT coalesce(max(id), 0) FROM "{table}"').fetchone()[0]
        mark = max(mark, int(given.get(table) or 0))
        if mark > 0:
            target.execute_sql("SELECT setval(%s, %s)", (sequence, mark))
        else:
            target.execute_sql("SELECT setval(%s, 1, false)", (sequence,))
        marks[table] = mark
    return marks


def _copy_files(ctx: Context, reader, target_ctx: Context) -> tuple[int, Path | None, list[str]]:
    from tui.domain.services.documents import copy_hashing, store_dir

    wanted = sorted(referenced_files(_Adapter(reader)))
    if not wanted:
        return 0, None, []
    source_store = store_dir(ctx)
    target_store = make_data_dir(store_dir(target_ctx))
    mode = file_mode_for(target_store)
    copied, missing = 0, []
    for digest in wanted:
        origin = blob_in(source_store, digest)
        destination = blob_in(target_store, digest)
        if destination.exists():
            continue
        if not origin.is_file():
            missing.append(digest)
            continue
        make_data_dir(destination.parent)
        with origin.open("rb") as source:
            temporary, found = copy_hashing(source, destination.parent)
        if found != digest:
            os.unlink(temporary)
            missing.append(digest)  # the stored file is damaged: as good as missing
            continue
        os.chmod(temporary, mode)
        os.replace(temporary, destination)
        copied += 1
    return copied, target_store, missing


class _Adapter:
    """backup.referenced_files wants an sqlite3-like ``execute``."""

    def __init__(self, db: peewee.SqliteDatabase):
        self.db = db

    def execute(self, sql: str, params=()) -> sqlite3.Cursor:
        return self.db.execute_sql(sql, params)
