"""Opening a Clientbook database: checks the path, sets pragmas, migrates, binds.

Nothing opens a database at import time; the CLI, the TUI and the tests call
``open_database`` with the path they were given. A ``postgresql://`` URL opens a
PostgreSQL database instead (tui/domain/postgres.py), with the same writer-lock waiting
(``LockWaiting``, shared by both classes); everything below is about the SQLite file.
Messages name a database by its ``label`` (the file, or the URL without its password);
file-system code uses ``file`` (None on PostgreSQL).

Several operators share one file. Every write transaction takes SQLite's write lock
at BEGIN (``BEGIN IMMEDIATE``), so writers queue instead of failing half-way. While
another program holds the lock, SQLite itself waits up to ``BUSY_TIMEOUT_SECONDS``
per attempt; ``ClientbookDatabase`` then backs off (exponentially, with jitter) and
tries again, until ``lock_timeout`` seconds have passed in all (30 s unless
$CLIENTBOOK_LOCK_TIMEOUT says otherwise). Only then does the operator see one clear
sentence (``DatabaseLocked``) naming the file; "database is locked" never reaches them.
The retries happen only where it is safe: before a transaction's body runs (BEGIN),
at COMMIT (SQLite keeps the transaction open when COMMIT is busy) and for a statement
outside any transaction (which a busy error leaves undone).

A new database file is its creator's alone (0600), or, in a folder set up for sharing
(set-group-ID, owned by the operators' group), the group's too (0660); never anyone
else's, whatever the umask. SQLite gives the -wal and -shm files the database's mode.
See ``secure_new_database``.
"""

from __future__ import annotations

import os
import random
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import peewee
from playhouse.migrations import Runner

from tui.domain.errors import DatabaseError
from tui.domain.models import ALL_MODELS
from tui.i18n import _

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
HISTORY_TABLE = "schema_migration"
BUSY_TIMEOUT_SECONDS = 5.0  # SQLite's own wait for a lock, per attempt
LOCK_ATTEMPTS = 6  # by default a write gives up after this many busy timeouts (30 s)
LOCK_TIMEOUT_VARIABLE = "CLIENTBOOK_LOCK_TIMEOUT"
BACKOFF_FIRST_SECONDS = 0.001  # the first pause between attempts; doubled each time ...
BACKOFF_LONGEST_SECONDS = 0.02  # ... up to this, each pause half fixed, half random

# Operators share a database through a folder of their common group with the
# set-group-ID bit (see the README): there the file is the group's too. Anywhere else
# it is its creator's alone: a user's primary group may be everybody's ("users" on
# some systems, "staff" on macOS). Nobody else ever gets anything.
PRIVATE_FILE_MODE = 0o600
SHARED_FILE_MODE = 0o660
PRIVATE_DIR_MODE = 0o700
SHARED_DIR_MODE = 0o2770

T = TypeVar("T")


class DatabaseLocked(DatabaseError):
    """Another program held the database's lock for longer than we may wait."""

    def __init__(self, path: Path | str, seconds: float):
        self.path = path
        self.seconds = seconds
        super().__init__(
            _("{path} is held by another program: it stayed locked for {seconds:.0f} s, so "
              "nothing was saved. Try again in a moment.").format(path=path, seconds=seconds))


class LockBusy(Exception):
    """The lock was not free within a ``brief_lock_wait``: nothing was done, try later.

    Not a ClientbookError on purpose: the screens' own error handling must not swallow it;
    tui/lock_wait.py catches it, waits for the lock off the screen's thread, and runs the
    save again."""

    def __init__(self, path: Path | str):
        self.path = path
        super().__init__(str(path))


# PostgreSQL's SQLSTATEs that mean "another transaction holds what we need": lock_not_available
# (lock_timeout ran out), deadlock_detected, query_canceled (statement or lock timeout).
POSTGRES_BUSY_STATES = frozenset({"55P03", "40P01", "57014"})


def is_busy(error: BaseException) -> bool:
    """SQLite's "database is locked" (SQLITE_BUSY) or "... table is locked" (SQLITE_LOCKED);
    on PostgreSQL, a lock not obtained in time or a deadlock (``POSTGRES_BUSY_STATES``)."""
    if not isinstance(error, (peewee.OperationalError, sqlite3.OperationalError)):
        return False
    original = getattr(error, "orig", None)  # peewee keeps the driver's exception there
    code = getattr(original, "pgcode", None) or getattr(error, "pgcode", None)
    if code is not None:
        return code in POSTGRES_BUSY_STATES
    text = str(error)
    return "locked" in text or "busy" in text


@dataclass
class LockStats:
    """How often this process waited for another's lock (for stress runs and diagnosis)."""

    transactions: int = 0  # write transactions begun
    retries: int = 0  # attempts after a busy one (BEGIN, COMMIT or a lone statement)
    gave_up: int = 0  # DatabaseLocked raised
    max_wait: float = 0.0  # longest time to get the write lock (SQLite's wait included)
    total_wait: float = 0.0


def backoff_seconds(attempt: int, rng: random.Random | None = None) -> float:
    """The pause before attempt ``attempt + 1``: exponential, capped, with "equal jitter"
    (half fixed, half random), so processes that collided do not collide again in step."""
    ceiling = min(BACKOFF_LONGEST_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** (attempt - 1))
    return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


def lock_timeout_from(environ: Mapping[str, str]) -> float:
    """Seconds a write may wait for another program's lock: $CLIENTBOOK_LOCK_TIMEOUT, else
    ``LOCK_ATTEMPTS`` busy timeouts (30 s)."""
    raw = environ.get(LOCK_TIMEOUT_VARIABLE, "").strip()
    if not raw:
        return BUSY_TIMEOUT_SECONDS * LOCK_ATTEMPTS
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= 3600:
        raise DatabaseError(_("{variable} must be a number of seconds between 0 and 3600, not "
                              "{value!r}.").format(variable=LOCK_TIMEOUT_VARIABLE, value=raw))
    return seconds


class LockWaiting:
    """What both backends share about waiting for the writer lock: ``lock_timeout``,
    ``brief_lock_wait``, the polling with backoff (``_patiently``) and ``lock_stats``.

    A subclass names itself in messages with ``label`` (the file, or a URL without its
    password) and takes the lock in its own ``begin()``."""

    def _init_lock_waiting(self, lock_timeout: float | None) -> None:
        self.lock_timeout = (BUSY_TIMEOUT_SECONDS * LOCK_ATTEMPTS if lock_timeout is None
                             else lock_timeout)
        self.lock_stats = LockStats()
        self._stats_lock = threading.Lock()
        self._brief = threading.local()  # this thread's brief_lock_wait, if any

    @contextmanager
    def brief_lock_wait(self, seconds: float) -> Iterator[None]:
        """Within the block, on this thread, a write waits at most ``seconds`` for another
        program's lock and then raises LockBusy (before anything was done) instead of
        waiting up to ``lock_timeout``: a screen must not freeze while it waits."""
        outer = getattr(self._brief, "seconds", None)
        self._brief.seconds = seconds
        try:
            yield
        finally:
            self._brief.seconds = outer

    def _count_transaction(self, started: float) -> None:
        waited = time.monotonic() - started
        with self._stats_lock:
            stats = self.lock_stats
            stats.transactions += 1
            stats.total_wait += waited
            stats.max_wait = max(stats.max_wait, waited)

    def _patiently(self, step: Callable[[], T], started: float, *,
                   sqlite_waits: bool = True) -> T:
        """``step()``, tried again after a pause while the database says it is busy
        (``is_busy``), until ``lock_timeout`` has passed since ``started``; then
        DatabaseLocked (or LockBusy inside ``brief_lock_wait``).

        With ``sqlite_waits`` (SQLite only), each try also waits in SQLite's busy handler
        (up to the busy timeout, never past the deadline)."""
        brief = getattr(self._brief, "seconds", None)
        deadline = started + (self.lock_timeout if brief is None else min(brief, self.lock_timeout))
        attempt = 0
        if brief is not None and sqlite_waits:  # SQLite's own wait must not outlast it
            self._set_busy_timeout(max(0.0, deadline - time.monotonic()))
        try:
            while True:
                try:
                    return step()
                except peewee.OperationalError as error:
                    if not is_busy(error):
                        raise
                    now = time.monotonic()
                    if now >= deadline - 0.001:
                        if brief is not None:
                            raise LockBusy(self._lock_subject()) from None
                        with self._stats_lock:
                            self.lock_stats.gave_up += 1
                        raise DatabaseLocked(self._lock_subject(), now - started) from None
                attempt += 1
                with self._stats_lock:
                    self.lock_stats.retries += 1
                time.sleep(min(backoff_seconds(attempt), max(0.0, deadline - now)))
                if sqlite_waits:
                    remaining = deadline - time.monotonic()
                    self._set_busy_timeout(min(self._timeout, remaining))
        finally:
            if (attempt or brief is not None) and sqlite_waits:
                self._set_busy_timeout(self._timeout)

    def _lock_subject(self):
        return self.label


class ClientbookDatabase(LockWaiting, peewee.SqliteDatabase):
    """A SqliteDatabase that knows its file, so services can find the documents beside it,
    and that waits (boundedly) for other programs' locks instead of failing at once."""

    def __init__(self, database, *, lock_timeout: float | None = None, **kwargs):
        super().__init__(database, **kwargs)
        self._init_lock_waiting(lock_timeout)

    # -- waiting for locks

    def begin(self, lock_type=None):
        # The write lock is waited for here, by polling with backoff, rather than in SQLite's
        # busy handler: that one sleeps longer and longer (up to 100 ms a try), so a writer
        # that has waited a while keeps losing to newcomers (seconds, measured with eight
        # processes). Polling no slower than BACKOFF_LONGEST_SECONDS keeps waits short.
        started = time.monotonic()
        connection = self.connection()
        connection.execute("PRAGMA busy_timeout = 0")
        try:
            self._patiently(lambda: super(ClientbookDatabase, self).begin(lock_type), started,
                            sqlite_waits=False)
        finally:
            connection.execute(f"PRAGMA busy_timeout = {self._busy_milliseconds()}")
        self._count_transaction(started)

    def commit(self):
        # In WAL mode a COMMIT holding the write lock is not busy; with a rollback journal
        # it may wait for readers, and SQLite keeps the transaction open to be committed
        # again. If it never can, the caller's transaction rolls back (peewee's atomic()).
        self._patiently(super().commit, time.monotonic())

    def execute_sql(self, sql, params=None):
        run = super().execute_sql
        if self.connection().in_transaction:  # its BEGIN already waited for the lock
            return run(sql, params)
        return self._patiently(lambda: run(sql, params), time.monotonic())

    def _busy_milliseconds(self, seconds: float | None = None) -> int:
        return max(1, int((self._timeout if seconds is None else seconds) * 1000))

    def _set_busy_timeout(self, seconds: float) -> None:
        self.connection().execute(f"PRAGMA busy_timeout = {self._busy_milliseconds(seconds)}")

    @property
    def path(self) -> Path:
        return Path(self.database)

    @property
    def file(self) -> Path:
        """The database file (file-system code uses this; PostgreSQL's is None)."""
        return self.path

    @property
    def label(self) -> str:
        """How messages name the database: its file."""
        return str(self.path)

    def _lock_subject(self) -> Path:
        return self.path

    @property
    def files_dir(self) -> Path:
        """Content-addressed document store, kept beside the database it belongs to."""
        return self.path.with_name(self.path.name + ".files")


def short_label(db) -> str:
    """The database in a few words, for a title bar: the file's name, or the URL (no password)."""
    file = getattr(db, "file", None)
    return file.name if file is not None else db.label


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
        if not os.access(path.parent, os.W_OK | os.X_OK):
            raise DatabaseError(
                _("The folder {parent} is read-only for you; Clientbook needs to write in it "
                  "too (SQLite keeps the database's -wal and -shm files beside it).").format(
                    parent=path.parent))
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


URL_SCHEMES = ("postgresql://", "postgres://")


def is_database_url(target: object) -> bool:
    """A PostgreSQL URL rather than a file path."""
    return isinstance(target, str) and target.strip().lower().startswith(URL_SCHEMES)


def open_database(target: str | os.PathLike, *, create: bool = False,
                  lock_timeout: float | None = None) -> ClientbookDatabase:
    """Open (or with ``create``, make) the database at ``target``, migrated to the latest schema.

    ``lock_timeout``: how long, in all, a write waits for another program's lock before
    ``DatabaseLocked``; by default $CLIENTBOOK_LOCK_TIMEOUT, else 30 s.

    A ``postgresql://`` (or ``postgres://``) URL opens a PostgreSQL database instead
    (tui/domain/postgres.py); anything else is a path to an SQLite file.
    """
    if is_database_url(target):
        from tui.domain.postgres import open_postgres  # the driver is imported only when needed

        return open_postgres(str(target), create=create, lock_timeout=lock_timeout)
    path = Path(target).expanduser().absolute()
    check_path(path, create=create)
    if lock_timeout is None:
        lock_timeout = lock_timeout_from(os.environ)
    is_new = is_absent(path)
    if not is_new:
        inspect_existing(path)  # before any pragma: WAL would change someone else's file
    else:
        secure_new_database(path)
    db = ClientbookDatabase(
        str(path),
        pragmas={"journal_mode": "wal", "foreign_keys": 1, "synchronous": "normal"},
        timeout=min(BUSY_TIMEOUT_SECONDS, lock_timeout),
        # Every transaction here writes: take the write lock at BEGIN, so two
        # writers queue on the busy timeout instead of failing on upgrade.
        lock_type="IMMEDIATE",
        lock_timeout=lock_timeout,
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


def is_shared_folder(folder: Path) -> bool:
    """A folder set up for a group of operators: its set-group-ID bit makes every file
    made in it (the database, its -wal and -shm, the documents) belong to its group."""
    return bool(folder.stat().st_mode & stat.S_ISGID)


def file_mode_for(folder: Path) -> int:
    """The mode of a new file holding Clientbook data (database, copy, document) in ``folder``."""
    return SHARED_FILE_MODE if is_shared_folder(folder) else PRIVATE_FILE_MODE


def secure_new_database(path: Path) -> None:
    """Create the database file (or take the empty one) with its mode before SQLite opens
    it, and tighten the folder when the folder was made for it.

    The file gets ``SHARED_FILE_MODE`` in a shared folder (``is_shared_folder``), else
    ``PRIVATE_FILE_MODE``, set exactly whatever the umask; SQLite creates the -wal and
    -shm files with the database's mode. The folder is changed only when it is ours and
    holds nothing else (one just made for the database, as ``clientbook init`` makes the
    default one, or made empty for it): ``SHARED_DIR_MODE`` or ``PRIVATE_DIR_MODE``
    likewise. A folder holding other files, or someone else's (the shared folder an
    administrator prepared), is left exactly as it is.
    """
    folder = path.parent
    try:
        mode = file_mode_for(folder)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, mode)
    except OSError as error:
        raise DatabaseError(_("Cannot create {path}: {reason}.").format(
            path=path, reason=error.strerror)) from None
    try:
        if os.fstat(descriptor).st_uid == os.geteuid():
            os.fchmod(descriptor, mode)
    finally:
        os.close(descriptor)
    own = {path.name, f"{path.name}-wal", f"{path.name}-shm", f"{path.name}-journal"}
    try:
        ours = folder.stat().st_uid == os.geteuid()
        alone = all(entry.name in own for entry in os.scandir(folder))
    except OSError:
        return
    if ours and alone:
        os.chmod(folder, SHARED_DIR_MODE if mode == SHARED_FILE_MODE else PRIVATE_DIR_MODE)


def make_data_dir(folder: Path) -> Path:
    """Create ``folder`` (and missing parents) for a database: ``PRIVATE_DIR_MODE``, or
    ``SHARED_DIR_MODE`` when it inherits a shared parent's set-group-ID bit, whatever the
    umask. An existing folder is left as it is."""
    if not folder.is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, SHARED_DIR_MODE if is_shared_folder(folder) else PRIVATE_DIR_MODE)
    return folder


def describe_sqlite_error(path: Path, error: Exception) -> str:
    text = str(error)
    if "locked" in text or "busy" in text:
        return _("{path} is held by another program: it stayed locked for {seconds:.0f} s. "
                 "Try again in a moment.").format(path=path, seconds=BUSY_TIMEOUT_SECONDS)
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
    # The copy holds everything the database does: nobody may read it who may not read that.
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                         stat.S_IMODE(path.stat().st_mode))
    os.fchmod(descriptor, stat.S_IMODE(path.stat().st_mode))
    os.close(descriptor)
    destination = sqlite3.connect(target)
    try:
        db.connection().backup(destination)
    finally:
        destination.close()
    return target


def current_schema_version(db: peewee.SqliteDatabase) -> int:
    rows = db.execute_sql(f"SELECT name FROM {HISTORY_TABLE}").fetchall()
    return schema_version(name for (name,) in rows)
