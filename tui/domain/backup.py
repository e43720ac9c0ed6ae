"""Backup and restore of a whole Clientbook database, with its stored document files.

A backup of ``FILE`` is two things side by side, named like the live database and
its document store (``<db>`` and ``<db>.files/``):

* ``FILE``: a single self-contained SQLite file (rollback journal, not WAL), copied
  with SQLite's online backup API in one step, so it is one consistent moment of the
  database even while other operators keep working, and checked with
  ``PRAGMA integrity_check`` before it replaces anything;
* ``FILE.files/``: the document files, content-addressed as in the live store.

So a backup is itself a Clientbook database: ``clientbook --db FILE`` opens it.

Restoring copies the backup into the live database with the same API, through the
caller's own connection (which holds no lock between statements, so it blocks
nothing), in one write transaction: other sessions see the restored data at their
next read, and their next save of a record they had open may be refused as a
conflict. Before that, the current database is copied aside as
``<db>.before-restore-<stamp>.bak`` (the naming of the automatic backup taken
before a schema migration). Stored files are only ever added, never removed, so
that copy needs no files folder of its own: its documents' files stay in the store.
An older backup is migrated (on a scratch copy) before it goes live; a backup made
by a newer Clientbook is refused.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import peewee
from playhouse.migrations import Runner

from tui.domain.context import Context
from tui.domain.database import (
    HISTORY_TABLE,
    MIGRATIONS_DIR,
    PRIVATE_DIR_MODE,
    SHARED_DIR_MODE,
    SHARED_FILE_MODE,
    file_mode_for,
    known_migrations,
    schema_version,
)
from tui.domain.errors import ClientbookError, DatabaseError
from tui.domain.models import AuditEvent
from tui.domain.permissions import require
from tui.i18n import _, ngettext

BACKUP_PERMISSION = "data.export"  # a backup is the largest export there is
RESTORE_PERMISSION = "backup.restore"
RESTORE_TIMEOUT_SECONDS = 30.0  # how long a restore waits for other writers to let go
BLOB_NAME = re.compile(r"^[0-9a-f]{64}$")

# table -> what the counts are called in reports (keys are stable for scripts)
COUNTED = {
    "customers": "customer",
    "contacts": "contact",
    "machines": "equipment",
    "documents": "admin_document",
    "estimates": "estimate",
    "projects": "project",
    "users": "app_user",
    "audit_events": "audit_event",
}


@dataclass(frozen=True)
class BackupReport:
    path: Path
    files_dir: Path
    size: int  # bytes of the database file
    schema: int
    counts: dict[str, int]
    files: int  # document files copied
    files_size: int
    missing_files: tuple[str, ...] = ()  # documents whose file was not in the live store


@dataclass(frozen=True)
class BackupInfo:
    """What a backup file holds, read without changing it."""

    path: Path
    size: int
    modified: datetime
    schema: int
    counts: dict[str, int]
    files_dir: Path | None  # FILE.files/ when it exists
    missing_files: tuple[str, ...] = ()  # referenced, in neither FILE.files/ nor the live store


@dataclass(frozen=True)
class RestoreReport:
    source: Path
    safety_copy: Path  # the database as it was before the restore
    before: dict[str, int]
    after: dict[str, int]
    migrated_from: int | None  # the backup's schema when it had to be upgraded
    files_added: int
    missing_files: tuple[str, ...] = field(default=())


# --- shared helpers ---------------------------------------------------------------------

def refuse_postgres(ctx: Context) -> None:
    """backup, restore and backup check work on an SQLite file; a PostgreSQL database is
    backed up with pg_dump (one sentence, not a traceback)."""
    if getattr(ctx.db, "file", None) is None:
        raise ClientbookError(_(
            "{db} is a PostgreSQL database: back it up with pg_dump and restore it with "
            "pg_restore (see the README, \"PostgreSQL\"), and copy its documents folder; "
            "clientbook backup and restore work on SQLite files.").format(db=ctx.db.label))


def stamped_copy_path(db_path: Path, label: str) -> Path:
    """``<db>.<label>-<YYYYmmdd-HHMMSS>.bak`` beside the database, never an existing file."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    candidate = db_path.with_name(f"{db_path.name}.{label}-{stamp}.bak")
    number = 1
    while candidate.exists():
        number += 1
        candidate = db_path.with_name(f"{db_path.name}.{label}-{stamp}-{number}.bak")
    return candidate


def counts(connection: sqlite3.Connection) -> dict[str, int]:
    present = {row[0] for row in connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    return {key: (connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
                  if table in present else 0) for key, table in COUNTED.items()}


def referenced_files(connection: sqlite3.Connection) -> set[str]:
    return {row[0] for row in connection.execute(
        "SELECT DISTINCT file_sha256 FROM admin_document WHERE file_sha256 IS NOT NULL")}


def blob_in(store: Path, digest: str) -> Path:
    return store / digest[:2] / digest


def _blobs(store: Path) -> Iterable[Path]:
    """The stored files of a store (``ab/abcd…``); scratch files and strays are skipped."""
    if not store.is_dir():
        return
    for folder in sorted(store.iterdir()):
        if folder.is_dir() and len(folder.name) == 2:
            for blob in sorted(folder.iterdir()):
                if blob.is_file() and BLOB_NAME.match(blob.name) and blob.name[:2] == folder.name:
                    yield blob


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as reader:
        for chunk in iter(lambda: reader.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(folder: Path) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _modes(folder: Path) -> tuple[int, int]:
    """(file mode, folder mode) for data written in ``folder``: group-shared in a folder
    set up for a group of operators (set-group-ID bit), else private (see database.py)."""
    file_mode = file_mode_for(folder)
    return file_mode, SHARED_DIR_MODE if file_mode == SHARED_FILE_MODE else PRIVATE_DIR_MODE


def _integrity(connection: sqlite3.Connection, path: Path) -> None:
    rows = [row[0] for row in connection.execute("PRAGMA integrity_check").fetchall()]
    if rows != ["ok"]:
        raise DatabaseError(_("{path} failed its integrity check: {problems}").format(
            path=path, problems="; ".join(str(r) for r in rows[:3])))


def _copy_database(source: sqlite3.Connection, target: Path) -> sqlite3.Connection:
    """Online-backup ``source`` into the new file ``target`` and make it self-contained."""
    destination = sqlite3.connect(target, isolation_level=None)
    try:
        source.backup(destination)  # all pages in one step: one consistent snapshot
        destination.execute("PRAGMA journal_mode = DELETE")  # one file, no -wal beside it
    except BaseException:
        destination.close()
        raise
    return destination


def _safety_copy(ctx: Context, label: str = "before-restore") -> Path:
    """Copy the live database aside (database only: stored files are never removed)."""
    target = stamped_copy_path(ctx.db.path, label)
    file_mode, _folder_mode = _modes(target.parent)
    os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, file_mode))
    os.chmod(target, file_mode)  # whatever the umask
    copy = _copy_database(ctx.db.connection(), target)
    copy.close()
    return target


def _live_store(ctx: Context) -> Path:
    return ctx.db.files_dir


# --- backup -----------------------------------------------------------------------------

def _check_target(ctx: Context, target: Path, force: bool) -> None:
    live = ctx.db.path.resolve()
    files = target.with_name(target.name + ".files")
    resolved = target.resolve()
    for taken in (live, live.with_name(live.name + "-wal"), live.with_name(live.name + "-shm"),
                  live.with_name(live.name + "-journal")):
        if resolved == taken:
            raise ClientbookError(_("{path} is the database itself; choose another file for "
                                    "the backup.").format(path=target))
    store = _live_store(ctx).resolve()
    if store in (resolved, files.resolve()) or store in resolved.parents:
        raise ClientbookError(_("{path} is in the document store of the database; choose another "
                                "file for the backup.").format(path=target))
    if target.is_dir():
        raise ClientbookError(_("{path} is a folder; give the name of the backup file to "
                                "write.").format(path=target))
    parent = target.parent
    if not parent.is_dir():
        raise ClientbookError(_("The folder {parent} does not exist.").format(parent=parent))
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ClientbookError(_("Cannot write in {parent}: permission denied.").format(
            parent=parent))
    if not force:
        for existing in (target, files):
            if existing.exists() or existing.is_symlink():
                raise ClientbookError(_("{path} already exists; give another name, or --force "
                                        "to replace it.").format(path=existing))
    elif files.exists() and not files.is_dir():
        raise ClientbookError(_("{path} exists and is not a folder; move it away first.").format(
            path=files))


def backup_database(ctx: Context, target: str | os.PathLike, *, force: bool = False,
                    progress=None) -> BackupReport:
    """Write a backup of the live database to ``target`` and its files to ``target.files/``.

    Nothing at ``target`` changes until the copy is complete and checked; then the files
    folder and the database file are each renamed into place.
    """
    require(ctx.actor, BACKUP_PERMISSION)
    refuse_postgres(ctx)
    target = Path(target).expanduser().absolute()
    _check_target(ctx, target, force)
    files_target = target.with_name(target.name + ".files")
    scratch_db = Path(tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                       suffix=".tmp")[1])
    scratch_files = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.files.",
                                          suffix=".tmp"))
    try:
        copy = _copy_database(ctx.db.connection(), scratch_db)
        try:
            _integrity(copy, target)
            schema = schema_version(r[0] for r in copy.execute(
                f"SELECT name FROM {HISTORY_TABLE}"))
            found = counts(copy)
            wanted = referenced_files(copy)
        finally:
            copy.close()
        file_mode, folder_mode = _modes(target.parent)
        os.chmod(scratch_db, file_mode)
        os.chmod(scratch_files, folder_mode)
        copied, copied_size = 0, 0
        for blob in _blobs(_live_store(ctx)):  # after the snapshot: it may only hold more
            destination = blob_in(scratch_files, blob.name)
            if not destination.parent.is_dir():
                destination.parent.mkdir()
                os.chmod(destination.parent, folder_mode)
            shutil.copyfile(blob, destination)
            os.chmod(destination, file_mode)
            copied += 1
            copied_size += destination.stat().st_size
            if progress is not None:
                progress(copied)
        missing = tuple(sorted(d for d in wanted if not blob_in(scratch_files, d).is_file()))
        with scratch_db.open("rb+") as handle:
            os.fsync(handle.fileno())
        _replace_folder(scratch_files, files_target)
        os.replace(scratch_db, target)
        _fsync_dir(target.parent)
    finally:
        scratch_db.unlink(missing_ok=True)
        if scratch_files.exists():
            shutil.rmtree(scratch_files, ignore_errors=True)
    return BackupReport(path=target, files_dir=files_target, size=target.stat().st_size,
                        schema=schema, counts=found, files=copied, files_size=copied_size,
                        missing_files=missing)


def _replace_folder(new: Path, target: Path) -> None:
    """Put the folder ``new`` at ``target``; an old one there is removed only afterwards."""
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old.",
                                    suffix=".tmp"))
        os.replace(target, old / "files")
    os.replace(new, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# --- checking a backup ------------------------------------------------------------------

def _open_read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)


def _describe(path: Path, connection: sqlite3.Connection) -> tuple[int, dict[str, int]]:
    """The schema version and counts of a Clientbook database; refuse anything else."""
    tables = {row[0] for row in connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    if HISTORY_TABLE not in tables:
        raise ClientbookError(_("{path} is not a Clientbook database (an SQLite file without "
                                "Clientbook's tables).").format(path=path))
    applied = {row[0] for row in connection.execute(f"SELECT name FROM {HISTORY_TABLE}")}
    known = set(known_migrations())
    if applied - known:
        raise ClientbookError(
            _("{path} was made by a newer Clientbook (schema {theirs}; this one knows up to "
              "{ours}); upgrade Clientbook to restore it.").format(
                path=path, theirs=schema_version(applied), ours=schema_version(known)))
    if not applied:
        raise ClientbookError(_("{path} is not a Clientbook database (it records no schema)."
                                ).format(path=path))
    return schema_version(applied), counts(connection)


def _source_path(ctx: Context, source: str | os.PathLike) -> Path:
    path = Path(source).expanduser().absolute()
    if path.is_dir():
        raise ClientbookError(_("{path} is a folder, not a backup file.").format(path=path))
    if not path.is_file():
        raise ClientbookError(_("No backup file at {path}.").format(path=path))
    if os.path.samefile(path, ctx.db.path):
        raise ClientbookError(_("{path} is the database itself, not a backup of it.").format(
            path=path))
    if not os.access(path, os.R_OK):
        raise ClientbookError(_("Cannot read {path}: permission denied.").format(path=path))
    if path.stat().st_size == 0:
        raise ClientbookError(_("{path} is empty, not a backup.").format(path=path))
    return path


def _missing(ctx: Context, wanted: set[str], files_dir: Path | None) -> tuple[str, ...]:
    stores = [_live_store(ctx)] + ([files_dir] if files_dir is not None else [])
    return tuple(sorted(d for d in wanted
                        if not any(blob_in(store, d).is_file() for store in stores)))


def check_backup(ctx: Context, source: str | os.PathLike) -> BackupInfo:
    """What restoring ``source`` would bring back; refuses what cannot be restored."""
    require(ctx.actor, RESTORE_PERMISSION)
    refuse_postgres(ctx)
    path = _source_path(ctx, source)
    try:
        connection = _open_read_only(path)
        try:
            schema, found = _describe(path, connection)
            wanted = referenced_files(connection)
        finally:
            connection.close()
    except sqlite3.DatabaseError as error:
        raise ClientbookError(_("{path} is not a Clientbook backup ({reason}).").format(
            path=path, reason=error)) from None
    files_dir = path.with_name(path.name + ".files")
    files_dir = files_dir if files_dir.is_dir() else None
    stat = path.stat()
    return BackupInfo(path=path, size=stat.st_size, modified=datetime.fromtimestamp(stat.st_mtime),
                      schema=schema, counts=found, files_dir=files_dir,
                      missing_files=_missing(ctx, wanted, files_dir))


class MissingFiles(ClientbookError):
    """Documents of the backup whose files are in neither its files folder nor the store."""

    def __init__(self, info: BackupInfo):
        self.missing = info.missing_files
        super().__init__(ngettext(
            "{count} document file of {path} is in neither {files} nor the database's "
            "store; nothing was restored.",
            "{count} document files of {path} are in neither {files} nor the database's "
            "store; nothing was restored.", len(self.missing)).format(
                count=len(self.missing), path=info.path,
                files=info.path.with_name(info.path.name + ".files")))


def refuse_missing_files(info: BackupInfo, allowed: bool) -> None:
    """Refuse a backup whose documents' files cannot be found, unless ``allowed``."""
    if info.missing_files and not allowed:
        raise MissingFiles(info)


def live_counts(ctx: Context) -> dict[str, int]:
    """What the live database holds now, for the question before a restore."""
    require(ctx.actor, RESTORE_PERMISSION)
    return counts(ctx.db.connection())


# --- restore ----------------------------------------------------------------------------

def _migrate_copy(path: Path) -> None:
    database = peewee.SqliteDatabase(str(path), pragmas={"foreign_keys": 1})
    try:
        database.connect()
        Runner(database, str(MIGRATIONS_DIR), table_name=HISTORY_TABLE).up()
    finally:
        database.close()


def _match_page_size(copy: sqlite3.Connection, page_size: int) -> None:
    """A WAL database only takes a backup of its own page size: rebuild the copy if needed."""
    if copy.execute("PRAGMA page_size").fetchone()[0] != page_size:
        copy.execute(f"PRAGMA page_size = {int(page_size)}")
        copy.execute("VACUUM")


def _add_files(ctx: Context, wanted: set[str], files_dir: Path | None) -> int:
    """Copy into the live store the backup's files it lacks, each checked against its name."""
    if files_dir is None:
        return 0
    store = _live_store(ctx)
    file_mode, folder_mode = _modes(ctx.db.path.parent)
    added = 0
    for digest in sorted(wanted):
        source, target = blob_in(files_dir, digest), blob_in(store, digest)
        if target.is_file() or not source.is_file():
            continue
        for folder in (store, target.parent):
            if not folder.is_dir():
                folder.mkdir()
                os.chmod(folder, folder_mode)
        with tempfile.NamedTemporaryFile(dir=store, delete=False) as scratch:
            with source.open("rb") as reader:
                shutil.copyfileobj(reader, scratch, 1 << 20)
            scratch.flush()
            os.fsync(scratch.fileno())
        if _sha256(Path(scratch.name)) != digest:
            os.unlink(scratch.name)
            raise ClientbookError(_("{path} is damaged (its content does not match its name); "
                                    "nothing was restored.").format(path=source))
        os.chmod(scratch.name, file_mode)
        os.replace(scratch.name, target)
        added += 1
    return added


def _audit_row(ctx: Context, copy: sqlite3.Connection, *, before: dict, after: dict) -> None:
    """Record the restore inside the copy, so it goes live in the same transaction."""
    query = AuditEvent.insert(login=ctx.actor.login, action="restore", entity="database",
                              before=before, after=after)
    sql, params = query.sql()
    copy.execute(sql, [str(p) if isinstance(p, datetime) else p for p in params])


def _restore_into(copy: sqlite3.Connection, live: sqlite3.Connection, path: Path,
                  timeout: float) -> None:
    deadline = time.monotonic() + timeout

    def waiting(status, remaining, total):
        if status in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) and time.monotonic() > deadline:
            raise DatabaseError(_("{path} stayed busy with other writers for {seconds:.0f} s; "
                                  "nothing was restored. Try again in a quieter moment.").format(
                path=path, seconds=timeout))

    copy.backup(live, progress=waiting)  # one step: one write transaction on the live side


def _keep_live_counters(copy: sqlite3.Connection, live) -> None:
    """Raise the copy's id counters to the live ones: an id handed out after the backup
    was taken (and perhaps deleted since) must not be handed out again after the restore,
    or a stale save of that record could land on a new one."""
    has_sequence = "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'"
    if not copy.execute(has_sequence).fetchone() or not live.execute(has_sequence).fetchone():
        return
    for name, seq in live.execute("SELECT name, seq FROM sqlite_sequence").fetchall():
        if copy.execute("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?",
                        (seq, name)).rowcount == 0:
            if copy.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                            (name,)).fetchone():
                copy.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)",
                             (name, seq))


def restore_database(ctx: Context, source: str | os.PathLike, *,
                     allow_missing_files: bool = False,
                     timeout: float = RESTORE_TIMEOUT_SECONDS) -> RestoreReport:
    """Replace the live database's content with the backup ``source`` (see the module doc)."""
    info = check_backup(ctx, source)
    refuse_missing_files(info, allow_missing_files)
    live_path = ctx.db.path
    scratch = Path(tempfile.mkstemp(dir=live_path.parent, prefix=f".{live_path.name}.restore.",
                                    suffix=".tmp")[1])
    try:
        try:
            source_connection = _open_read_only(info.path)
            try:
                copy = _copy_database(source_connection, scratch)
            finally:
                source_connection.close()
            try:
                _integrity(copy, info.path)
                schema, _found = _describe(info.path, copy)
            finally:
                copy.close()
            migrated_from = None
            if schema < schema_version(known_migrations()):
                _migrate_copy(scratch)
                migrated_from = schema
            copy = sqlite3.connect(scratch, isolation_level=None)
        except (sqlite3.DatabaseError, peewee.DatabaseError) as error:
            raise ClientbookError(_("{path} cannot be restored ({reason}); nothing was "
                                    "changed.").format(path=info.path, reason=error)) from None
        try:
            live = ctx.db.connection()
            _match_page_size(copy, live.execute("PRAGMA page_size").fetchone()[0])
            before = counts(live)
            after = counts(copy)
            wanted = referenced_files(copy)
            _keep_live_counters(copy, live)
            safety = _safety_copy(ctx)
            _audit_row(ctx, copy, before={"database": str(live_path),
                                          "safety_copy": str(safety), **before},
                       after={"backup": str(info.path), "schema": schema,
                              "migrated_from": migrated_from, **after})
            after = counts(copy)  # with the restore's own audit row
            added = _add_files(ctx, wanted, info.files_dir)
            _restore_into(copy, live, live_path, timeout)
        finally:
            copy.close()
    finally:
        scratch.unlink(missing_ok=True)
        for leftover in (scratch.with_name(scratch.name + "-journal"),):
            leftover.unlink(missing_ok=True)
    return RestoreReport(source=info.path, safety_copy=safety, before=before, after=after,
                         migrated_from=migrated_from, files_added=added,
                         missing_files=info.missing_files)
