"""Opening a Clientbook database on a PostgreSQL server (``postgresql://`` URL).

The same rules as the SQLite file (tui/domain/database.py), kept the same way:

* **One writer at a time.** Every write transaction (READ COMMITTED) takes one
  transaction-level advisory lock (``WRITER_LOCK``) at BEGIN, polled with the SQLite
  class's backoff, ``lock_timeout``, ``brief_lock_wait``/``LockBusy`` and
  ``DatabaseLocked`` code (``LockWaiting``). Readers never wait (MVCC). So every
  read-then-write service (duplicate checks, numbering, the importer's id plan) stays as
  correct as on SQLite without auditing each one. Programs that are not Clientbook (psql)
  are not serialised by it: for them the session's ``lock_timeout`` turns a long wait for
  a row lock into SQLSTATE 55P03, which ``is_busy`` knows, so the operator sees
  DatabaseLocked, not a traceback.
* **Types.** ids are BIGSERIAL and integers BIGINT (amounts go up to 10^15); after the
  migrations, B's ``postgres_after_migrations`` turns varchar(255) columns into text.
* **Migrations** are the same files, run under a session advisory lock
  (``MIGRATION_LOCK``), so two programs opening a new database at once migrate it once.
  There is no automatic copy before a migration: PostgreSQL is backed up with pg_dump.
* **Naming.** ``label`` is the URL without its password, for messages; ``file`` is None
  (file-system code must not look for a database file); there is no ``path``.
* **Documents** (decision D1) live in the folder named by the configuration's
  ``documents_dir`` or $CLIENTBOOK_FILES (see ``documents_dir``).

psycopg2 is imported (by peewee) only by programs that open such a URL... or that merely
have it installed: peewee imports every driver it finds. It is the optional extra
``clientbook[postgresql]``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import peewee
from playhouse.migrations import Runner

from tui.domain.database import (
    BUSY_TIMEOUT_SECONDS,
    HISTORY_TABLE,
    MIGRATIONS_DIR,
    LockWaiting,
    known_migrations,
    lock_timeout_from,
    schema_version,
)
from tui.domain.errors import DatabaseError
from tui.domain.models import ALL_MODELS
from tui.i18n import _

# Advisory lock keys (any bigint; "CLBK" + a number, to be recognisable in pg_locks).
WRITER_LOCK = 0x434C424B0001
MIGRATION_LOCK = 0x434C424B0002
CONNECT_TIMEOUT_SECONDS = 10
FILES_VARIABLE = "CLIENTBOOK_FILES"
INSTALL_HINT = "pip install 'clientbook[postgresql]'"


class _WriterLockTaken(peewee.OperationalError):
    """pg_try_advisory_xact_lock said no: another Clientbook program is writing."""

    def __init__(self):
        super().__init__("the writer lock is locked by another program")


def label_for(url: str) -> str:
    """The URL without its password (in the user part or in ``?password=``), for messages."""
    try:
        parts = urlsplit(url.strip())
        host = parts.netloc.rsplit("@", 1)[-1]
        user = parts.username
    except ValueError:
        return url.split("@", 1)[-1] if "@" in url else url
    netloc = f"{user}@{host}" if user else host
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                       if k.lower() != "password"])
    scheme = "postgresql" if parts.scheme.lower() in ("postgres", "postgresql") else parts.scheme
    return urlunsplit((scheme, netloc, parts.path, query, ""))


def normalise_url(url: str) -> str:
    url = url.strip()
    if url.lower().startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    return url


class ClientbookPostgres(LockWaiting, peewee.PostgresqlDatabase):
    """A PostgresqlDatabase with the SQLite class's writer-lock discipline (see the module)."""

    field_types = {**peewee.PostgresqlDatabase.field_types, "AUTO": "BIGSERIAL", "INT": "BIGINT"}

    def __init__(self, url: str, *, lock_timeout: float | None = None, **kwargs):
        kwargs.setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)
        super().__init__(normalise_url(url), isolation_level="READ COMMITTED", **kwargs)
        self._init_lock_waiting(lock_timeout)
        self.label = label_for(url)
        self.file = None

    def _initialize_connection(self, conn):
        super()._initialize_connection(conn)
        # A statement waiting for a row lock a foreign program holds gives up (55P03, which
        # is_busy knows) instead of waiting forever.
        milliseconds = max(1, int(min(BUSY_TIMEOUT_SECONDS, self.lock_timeout) * 1000))
        with conn.cursor() as cursor:
            cursor.execute(f"SET lock_timeout = {milliseconds}")

    # -- waiting for the writer lock

    def begin(self, isolation_level=None):
        started = time.monotonic()
        super().begin(isolation_level)
        try:
            self._patiently(self._take_writer_lock, started, sqlite_waits=False)
        except BaseException:
            # peewee pushes the transaction only after begin() returned: undo it here.
            try:
                super().rollback()
            except peewee.DatabaseError:
                pass
            raise
        self._count_transaction(started)

    def _take_writer_lock(self) -> None:
        cursor = self.cursor()
        with peewee.__exception_wrapper__:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", (WRITER_LOCK,))
            taken = cursor.fetchone()[0]
        if not taken:
            raise _WriterLockTaken()

    def execute_sql(self, sql, params=None):
        try:
            return self._execute_patiently(sql, params)
        except ValueError as error:
            # psycopg2 refuses a NUL character in a parameter before sending anything (and
            # outside peewee's error classes): PostgreSQL text cannot hold one; SQLite can.
            if "NUL" not in str(error):
                raise
            raise DatabaseError(_(
                "{db} cannot store text holding the character NUL (\\x00); nothing was "
                "saved. Remove that character and try again.").format(db=self.label)) from None

    def _execute_patiently(self, sql, params):
        run = super().execute_sql
        if self.in_transaction():  # its BEGIN already waited for the writer lock
            return run(sql, params)
        # A lone statement (autocommit) that waited out lock_timeout did nothing: try again.
        return self._patiently(lambda: run(sql, params), time.monotonic(), sqlite_waits=False)

    @property
    def files_dir(self) -> Path:
        """The document store: $CLIENTBOOK_FILES (the configuration's ``documents_dir``
        is applied by services/documents.py before it asks here)."""
        return documents_dir_from(os.environ, self.label)


def documents_dir_from(environ: Mapping[str, str], label: str) -> Path:
    raw = environ.get(FILES_VARIABLE, "").strip()
    if not raw:
        raise DatabaseError(_(
            "{db} keeps no documents itself: set documents_dir in the configuration or "
            "${variable} to the folder that holds them.").format(db=label, variable=FILES_VARIABLE))
    return Path(raw).expanduser().absolute()


def describe_connection_error(label: str, error: BaseException) -> str:
    """One sentence naming the database for every way connecting can fail."""
    if isinstance(error, peewee.ImproperlyConfigured):
        return _("{db}: PostgreSQL needs the psycopg2 driver; install it with {hint}.").format(
            db=label, hint=INSTALL_HINT)
    original = getattr(error, "orig", None) or error
    text = str(original).strip()
    first = text.splitlines()[0] if text else type(original).__name__
    lowered = text.lower()
    if "invalid dsn" in lowered or "invalid uri" in lowered or "invalid integer value" in lowered:
        return _("{db} is not a valid PostgreSQL URL ({reason}).").format(db=label, reason=first)
    if "password authentication failed" in lowered:
        return _("Cannot connect to {db}: the server refused the password.").format(db=label)
    if "no password supplied" in lowered:
        return _("Cannot connect to {db}: the server asks for a password; put it in ~/.pgpass "
                 "or $PGPASSWORD.").format(db=label)
    if "does not exist" in lowered and "database" in lowered:
        return _("Cannot connect to {db}: there is no such database on that server.").format(
            db=label)
    if "connection refused" in lowered:
        return _("Cannot connect to {db}: the server refused the connection (is PostgreSQL "
                 "running there, on that port?).").format(db=label)
    if "could not translate host name" in lowered or "name or service not known" in lowered:
        return _("Cannot connect to {db}: unknown host.").format(db=label)
    if "timeout expired" in lowered:
        return _("Cannot connect to {db}: no answer within {seconds} s.").format(
            db=label, seconds=CONNECT_TIMEOUT_SECONDS)
    return _("Cannot connect to {db}: {reason}").format(db=label, reason=first)


def open_postgres(url: str, *, create: bool = False,
                  lock_timeout: float | None = None) -> ClientbookPostgres:
    """open_database for a URL: connect, refuse what is not a Clientbook database, migrate
    (under MIGRATION_LOCK), bind the models."""
    if lock_timeout is None:
        lock_timeout = lock_timeout_from(os.environ)
    db = ClientbookPostgres(url, lock_timeout=lock_timeout)
    try:
        db.connect()
    except (peewee.DatabaseError, peewee.ImproperlyConfigured) as error:
        raise DatabaseError(describe_connection_error(db.label, error)) from None
    try:
        _migrate(db, create=create)
    except DatabaseError:
        db.close()
        raise
    except peewee.DatabaseError as error:
        db.close()
        original = getattr(error, "orig", None) or error
        raise DatabaseError(_("Database error in {db}: {reason}").format(
            db=db.label, reason=str(original).strip().splitlines()[0])) from error
    db.bind(ALL_MODELS)
    return db


def holds_tables(url: str) -> bool:
    """Whether the database at ``url`` has any table (``clientbook init`` wants an empty one)."""
    db = ClientbookPostgres(url)
    try:
        db.connect()
    except (peewee.DatabaseError, peewee.ImproperlyConfigured) as error:
        raise DatabaseError(describe_connection_error(db.label, error)) from None
    try:
        return bool(_tables(db))
    finally:
        db.close()


def _tables(db: ClientbookPostgres) -> set[str]:
    return set(db.get_tables())


def _migrate(db: ClientbookPostgres, *, create: bool) -> None:
    db.execute_sql("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
    try:
        tables = _tables(db)
        if tables and HISTORY_TABLE not in tables:
            raise DatabaseError(_(
                "{db} holds tables but is not a Clientbook database; Clientbook needs an empty "
                "database of its own.").format(db=db.label))
        if not tables and not create:
            raise DatabaseError(_(
                "{db} is empty. Create the Clientbook schema in it with `clientbook init --db "
                "{db}`.").format(db=db.label))
        runner = Runner(db, str(MIGRATIONS_DIR), table_name=HISTORY_TABLE)
        applied = set(runner.applied())
        known = set(known_migrations())
        unknown = applied - known
        if unknown:
            raise DatabaseError(_(
                "{db} was made by a newer Clientbook (schema {theirs}; this one knows up to "
                "{ours}). Upgrade Clientbook to open it.").format(
                    db=db.label, theirs=schema_version(applied), ours=schema_version(known)))
        if known - applied:
            runner.up()
            after_migrations(db)
    finally:
        db.execute_sql("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))


def after_migrations(db: ClientbookPostgres) -> None:
    """Package B's schema fix-ups (varchar -> text, ...), when that module exists."""
    try:
        from tui.domain.migrations._postgres import postgres_after_migrations
    except ModuleNotFoundError as error:
        if error.name != "tui.domain.migrations._postgres":
            raise
        return
    postgres_after_migrations(db)
