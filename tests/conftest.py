"""Shared fixtures: a real database per test (an SQLite file, or with ``--backend postgresql``
a PostgreSQL database), the shipped configuration, actors by role.

Backends: ``--backend sqlite|postgresql`` (default $CLIENTBOOK_TEST_BACKEND, else sqlite).
With postgresql, the server is $CLIENTBOOK_TEST_PG_URL (a superuser's URL to any database
of it; tests.pg_server prints one), else each test process starts its own throwaway server
(~2 to 3 s). Only tests marked ``both_backends`` (or ``postgresql_only``) and not
``sqlite_only`` run on PostgreSQL; the others are deselected. ``postgresql_only`` tests are
deselected on SQLite.

On PostgreSQL each test process migrates one template database, makes its own database from
it, and empties that before each test (DELETE every table, children first, sequences back
to 1: ~5 to 20 ms) instead of making a new one (~150 ms). ``db_target`` is what to hand a
subprocess or ``open_database`` (the file's path, or the URL); ``fresh_target()`` makes
another empty, migrated database and returns its target.
"""

from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path

import pytest

from tui.domain.config import Config, load_config
from tui.domain.context import Actor, Context
from tui.domain.database import open_database
from tui.domain.services.contacts import ContactDraft
from tui.domain.services.customers import CustomerDraft, create_customer
from tui.domain.services.equipment import EquipmentDraft, add_equipment


BACKENDS = ("sqlite", "postgresql")


def pytest_addoption(parser):
    parser.addoption(
        "--backend", choices=BACKENDS,
        default=os.environ.get("CLIENTBOOK_TEST_BACKEND", "sqlite") or "sqlite",
        help="database backend for the tests marked both_backends (default "
             "$CLIENTBOOK_TEST_BACKEND, else sqlite)")


def pytest_collection_modifyitems(config, items):
    backend = config.getoption("--backend")
    keep, drop = [], []
    for item in items:
        both = item.get_closest_marker("both_backends") is not None
        sqlite_only = item.get_closest_marker("sqlite_only") is not None
        pg_only = item.get_closest_marker("postgresql_only") is not None
        if backend == "postgresql":
            runs = (both or pg_only) and not sqlite_only
        else:
            runs = not pg_only
        (keep if runs else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def backend(pytestconfig) -> str:
    return pytestconfig.getoption("--backend")


@pytest.fixture(scope="session")
def config() -> Config:
    return load_config()


@pytest.fixture
def db_path(tmp_path: Path, backend: str) -> Path:
    """The SQLite file of the test (on PostgreSQL there is none: use ``db_target``)."""
    if backend != "sqlite":
        pytest.fail("db_path is the SQLite file; on PostgreSQL use db_target")
    return tmp_path / "clientbook.db"


class PostgresTests:
    """One test process's PostgreSQL databases: a migrated template, the test database made
    from it and emptied before each test, and fresh ones on demand; all dropped at the end."""

    def __init__(self, server_url: str):
        import psycopg2

        self.server_url = server_url
        self.prefix = f"cbt_{os.getpid()}"
        self.maintenance = psycopg2.connect(server_url)
        self.maintenance.autocommit = True
        self.made: list[str] = []
        self.counter = itertools.count(1)
        self.template = self.create(f"{self.prefix}_template")
        database = open_database(self.url_for(self.template), create=True)
        database.close()
        self.test_database = self.create(f"{self.prefix}_db", template=self.template)
        self.delete_order: list[str] | None = None
        self.sequences: list[str] = []

    def url_for(self, name: str) -> str:
        return self.server_url.rsplit("/", 1)[0] + "/" + name

    def create(self, name: str, template: str | None = None) -> str:
        with self.maintenance.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cursor.execute(f'CREATE DATABASE "{name}"'
                           + (f' TEMPLATE "{template}"' if template else ""))
        self.made.append(name)
        return name

    def drop(self, name: str) -> None:
        with self.maintenance.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self.made:
            self.made.remove(name)

    def fresh(self) -> str:
        return self.url_for(self.create(f"{self.prefix}_f{next(self.counter)}",
                                        template=self.template))

    def learn(self, database) -> None:
        """Every table but the migration history, children before parents, and the sequences."""
        tables = [t for t in database.get_tables() if t != "schema_migration"]
        edges = database.execute_sql(
            "SELECT c.conrelid::regclass::text, c.confrelid::regclass::text FROM pg_constraint c "
            "JOIN pg_namespace n ON n.oid = c.connamespace "
            "WHERE c.contype = 'f' AND n.nspname = 'public'").fetchall()
        parents = {t: set() for t in tables}
        for child, parent in edges:
            child, parent = child.strip('"'), parent.strip('"')
            if child in parents and parent != child:
                parents[child].add(parent)
        # Children first: a table goes after every table that refers to it.
        order, placed = [], set()
        referrers = {t: {c for c, ps in parents.items() if t in ps} for t in tables}
        while len(order) < len(tables):
            ready = [t for t in tables if t not in placed and referrers[t] <= placed]
            if not ready:
                raise RuntimeError(f"foreign keys form a cycle among {sorted(set(tables) - placed)}")
            for t in sorted(ready):
                order.append(t)
                placed.add(t)
        self.delete_order = order
        self.sequences = [name for (name,) in database.execute_sql(
            "SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename) FROM pg_sequences "
            "WHERE schemaname = 'public' AND sequencename <> 'schema_migration_id_seq'"
        ).fetchall()]  # the migration history is kept, so its sequence is too

    def reset(self, database) -> None:
        if self.delete_order is None:
            self.learn(database)
        with database.atomic():
            for table in self.delete_order:
                database.execute_sql(f'DELETE FROM "{table}"')
            for sequence in self.sequences:
                database.execute_sql("SELECT setval(%s, 1, false)", (sequence,))

    def close(self) -> None:
        with self.maintenance.cursor() as cursor:
            for name in reversed(self.made):
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.maintenance.close()


@pytest.fixture(scope="session")
def postgres_server_url(backend: str):
    """$CLIENTBOOK_TEST_PG_URL, else a throwaway server for this test process."""
    if backend != "postgresql":
        pytest.skip("PostgreSQL tests run with --backend postgresql")
    url = os.environ.get("CLIENTBOOK_TEST_PG_URL", "").strip()
    if url:
        yield url
        return
    try:
        from tests import pg_server
    except ImportError:  # tests/ itself on sys.path
        import pg_server
    server = pg_server.start()
    try:
        yield server.url
    finally:
        pg_server.stop(server)


@pytest.fixture(scope="session")
def postgres_tests(postgres_server_url):
    tests = PostgresTests(postgres_server_url)
    yield tests
    tests.close()


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory) -> Path:
    """One empty database migrated to the latest schema, made once per test process:
    copying it (~2 ms) instead of migrating afresh (~140 ms) for each of some 1,500 tests.
    tests/test_database.py and the migration tests still create databases the long way."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    database = open_database(path, create=True)
    database.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the main file
    database.close()
    return path


@pytest.fixture
def db_target(request, backend: str, tmp_path: Path, monkeypatch) -> str | Path:
    """The test's database as a subprocess or ``open_database`` is given it: the SQLite file's
    path, or the PostgreSQL URL; emptied (made from the migrated template) for this test."""
    if backend == "sqlite":
        path = request.getfixturevalue("db_path")
        shutil.copyfile(request.getfixturevalue("migrated_template"), path)
        path.chmod(0o600)  # as a new database is made
        return path
    tests: PostgresTests = request.getfixturevalue("postgres_tests")
    url = tests.url_for(tests.test_database)
    # Documents of a PostgreSQL database live in a folder of their own (decision D1).
    monkeypatch.setenv("CLIENTBOOK_FILES", str(tmp_path / "clientbook.files"))
    database = open_database(url)
    try:
        tests.reset(database)
    finally:
        database.close()
    return url


@pytest.fixture
def fresh_target(request, backend: str, tmp_path: Path):
    """``fresh_target()`` -> another empty database at the latest schema (path or URL)."""
    counter = itertools.count(1)

    def make() -> str | Path:
        if backend == "sqlite":
            path = tmp_path / f"fresh-{next(counter)}.db"
            shutil.copyfile(request.getfixturevalue("migrated_template"), path)
            path.chmod(0o600)
            return path
        return request.getfixturevalue("postgres_tests").fresh()

    return make


def raw_connection(database):
    """A DB-API connection of its own to ``database`` (bypassing peewee and the writer lock)
    and the driver module (for its exception classes): sqlite3 or psycopg2."""
    if getattr(database, "file", None) is not None:
        import sqlite3

        return sqlite3.connect(database.database), sqlite3
    import psycopg2

    return psycopg2.connect(database.database), psycopg2


@pytest.fixture
def db(db_target):
    database = open_database(db_target)
    yield database
    database.close()


def actor_for(config: Config, role: str, login: str | None = None) -> Actor:
    granted = config.roles[role]
    return Actor(login or role, role, granted.permissions, login or role)


@pytest.fixture
def as_role(db, config):
    """``as_role("limited")`` -> a Context acting with that role on the test database."""

    def make(role: str, login: str | None = None) -> Context:
        return Context(db, config, actor_for(config, role, login))

    return make


@pytest.fixture
def admin(as_role) -> Context:
    return as_role("administrator", "boss")


@pytest.fixture
def make_customer(admin):
    def make(name: str = "Acme Rental A/S", **fields) -> object:
        fields.setdefault("billing_country", "DK")
        return create_customer(admin, CustomerDraft(name=name, **fields), allow_duplicate=True)

    return make


@pytest.fixture
def make_machine(admin):
    counter = iter(range(1, 10_000))

    def make(serial: str | None = None, **fields) -> object:
        serial = serial or f"SN-{next(counter):05d}"
        return add_equipment(admin, EquipmentDraft(serial=serial, **fields))

    return make


__all__ = ["ContactDraft", "CustomerDraft", "actor_for"]


@pytest.fixture
def app_for(db, config):
    """``app_for("limited")`` -> a ClientbookApp acting with that role on the test database."""
    from tui.app import ClientbookApp

    def make(role: str = "administrator", login: str | None = None) -> ClientbookApp:
        return ClientbookApp(Context(db, config, actor_for(config, role, login or role)))

    return make
