"""Opening a Clientbook database: checks the path, sets pragmas, migrates, binds.

Nothing opens a database at import time; the CLI, the TUI and the tests call
``open_database`` with the path they were given.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import datetime
from pathlib import Path

import peewee
from playhouse.migrations import Runner

from tui.domain.errors import DatabaseError
from tui.domain.models import ALL_MODELS
from tui.i18n import _

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
HISTORY_TABLE = "schema_migration"
BUSY_TIMEOUT_SECONDS = 5.0


class ClientbookDatabase(peewee.SqliteDatabase):
    """A SqliteDatabase that knows its file, so services can find the documents beside it."""

    @property
    def path(self) -> Path:
        return Path(self.database)

    @property
    def files_dir(self) -> Path:
        """Content-addressed document store, kept beside the database it belongs to."""
        return self.path.with_name(self.path.name + ".files")


def known_migrations() -> list[str]:
    return sorted(p.stem for p in MIGRATIONS_DIR.glob("[0-9]*.py"))


def schema_version(names) -> int:
    return max((int(n.split("_", 1)[0]) for n in names), default=0)


def is_absent(path: Path) -> bool:
    """No file, or an empty one (``touch``): either way there is no database yet."""
    return not path.exists() or (path.is_file() and path.stat().st_size == 0)


def check_path(path: Path, *, create: bool) -> None:
    """Turn every way a path can be wrong into one clear sentence, before SQLite sees it."""
    if path.is_dir():
        raise DatabaseError(_("{path} is a directory, not a database file.").format(path=path))
    if not is_absent(path):
        if not os.access(path, os.R_OK):
            raise DatabaseError(_("Cannot read {path}: permission denied.").format(path=path))
        if not os.access(path, os.W_OK):
            raise DatabaseError(
                _("{path} is read-only for you; Clientbook needs to write to it.").format(path=path)
            )
        return
    if not create:
        raise DatabaseError(
            _("No database at {path}. Create one with `clientbook init --db {path}` "
              "or try `clientbook demo`.").format(path=path)
        )
    parent = path.parent
    if not parent.exists():
        raise DatabaseError(_("The folder {parent} does not exist.").format(parent=parent))
    if not parent.is_dir():
        raise DatabaseError(_("{parent} is not a folder.").format(parent=parent))
    if not os.access(parent, os.W_OK | os.X_OK):
        raise DatabaseError(
            _("Cannot create a database in {parent}: permission denied.").format(parent=parent)
        )


def open_database(target: str | os.PathLike, *, create: bool = False) -> ClientbookDatabase:
    """Open (or with ``create``, make) the database at ``target``, migrated to the latest schema."""
    path = Path(target).expanduser().absolute()
    check_path(path, create=create)
    is_new = is_absent(path)
    if not is_new:
        inspect_existing(path)  # before any pragma: WAL would change someone else's file
    db = ClientbookDatabase(
        str(path),
        pragmas={"journal_mode": "wal", "foreign_keys": 1, "synchronous": "normal"},
        timeout=BUSY_TIMEOUT_SECONDS,
        # Every transaction here writes: take the write lock at BEGIN, so two
        # writers queue on the busy timeout instead of failing on upgrade.
        lock_type="IMMEDIATE",
    )
    try:
        db.connect()
        _migrate(db, path)
    except peewee.OperationalError as error:
        db.close()
        raise DatabaseError(describe_sqlite_error(path, error)) from error
    except peewee.DatabaseError as error:
        db.close()
        raise DatabaseError(
            _("{path} is not a Clientbook database ({reason}).").format(path=path, reason=error)
        ) from error
    except DatabaseError:
        db.close()
        raise
    db.bind(ALL_MODELS)
    return db


def describe_sqlite_error(path: Path, error: Exception) -> str:
    text = str(error)
    if "locked" in text or "busy" in text:
        return _("{path} is locked by another program and stayed locked for {seconds:.0f} s; "
                 "try again in a moment.").format(path=path, seconds=BUSY_TIMEOUT_SECONDS)
    if "readonly" in text or "read-only" in text:
        return _("{path} cannot be written to (read-only).").format(path=path)
    if "unable to open" in text:
        return _("Cannot open {path}.").format(path=path)
    return _("Database error in {path}: {reason}").format(path=path, reason=text)


def inspect_existing(path: Path) -> None:
    """Refuse, without changing a byte, a file that is not a Clientbook database."""
    try:
        probe = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
        try:
            tables = {row[0] for row in probe.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            probe.close()
    except sqlite3.DatabaseError as error:
        raise DatabaseError(_("{path} is not a Clientbook database ({reason}).").format(
            path=path, reason=error)) from error
    if tables and HISTORY_TABLE not in tables:
        raise DatabaseError(
            _("{path} is an SQLite file but not a Clientbook database.").format(path=path))


def _migrate(db: peewee.SqliteDatabase, path: Path) -> None:
    runner = Runner(db, str(MIGRATIONS_DIR), table_name=HISTORY_TABLE)
    applied = set(runner.applied())
    known = set(known_migrations())
    unknown = applied - known
    if unknown:
        raise DatabaseError(
            _("{path} was made by a newer Clientbook (schema {theirs}; this one knows up to "
              "{ours}). Upgrade Clientbook to open it.").format(
                path=path, theirs=schema_version(applied), ours=schema_version(known)
            )
        )
    pending = known - applied
    if not pending:
        return
    if applied:
        backup_before_migration(db, path, schema_version(applied))
    runner.up()


def backup_before_migration(db: peewee.SqliteDatabase, path: Path, version: int) -> Path:
    """Copy the database aside with SQLite's online backup before changing its schema."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.schema{version}-{stamp}.bak")
    destination = sqlite3.connect(target)
    try:
        db.connection().backup(destination)
    finally:
        destination.close()
    return target


def current_schema_version(db: peewee.SqliteDatabase) -> int:
    rows = db.execute_sql(f"SELECT name FROM {HISTORY_TABLE}").fetchall()
    return schema_version(name for (name,) in rows)
