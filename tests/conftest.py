"""Shared fixtures: a real database per test (an SQLite file, or a PostgreSQL database), the
shipped configuration, actors by role.

Backends. A test marked ``both_backends`` that uses a database (the ``backend`` fixture, which
``db``, ``db_target``, ``db_path`` and ``fresh_target`` use) runs twice in the same session:
``test_x[sqlite]`` and ``test_x[postgresql]``; ``sqlite_only`` (in such a module) keeps one
test on SQLite, ``postgresql_only`` runs a test on PostgreSQL alone. Every other test runs on
SQLite, unparametrized. ``--backend sqlite|postgresql`` (or $CLIENTBOOK_TEST_BACKEND) runs
only that side; the default, ``both``, runs everything.

The PostgreSQL server is $CLIENTBOOK_TEST_PG_URL (a superuser's URL to any database of it;
``python -m tests.pg_server start`` prints one), else one throwaway server for the whole run
(tests/pg_server.py: 127.0.0.1, a free port, a random password), started by the first test
process that needs it and stopped at the end, also after a crash or Ctrl+C. Without the
server binaries the PostgreSQL variants are skipped, with the reason; with
CLIENTBOOK_REQUIRE_POSTGRESQL=1 (CI) that is an error instead.

On PostgreSQL one template database is migrated for the run (under the run's lock); each test
process makes its own database from it and empties that before each test (DELETE every
table, children first, sequences back to 1: ~5 to 20 ms) instead of making a new one.
``db_target`` is what to hand a subprocess or ``open_database`` (the file's path, or the
URL); ``fresh_target()`` makes another empty, migrated database and returns its target.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import secrets
import shutil
import tempfile
from pathlib import Path

import pytest

from tui.domain.config import Config, load_config
from tui.domain.context import Actor, Context
from tui.domain.database import open_database
from tui.domain.services.contacts import ContactDraft
from tui.domain.services.customers import CustomerDraft, create_customer
from tui.domain.services.equipment import EquipmentDraft, add_equipment

try:
    from tests import pg_server
except ImportError:  # tests/ itself on sys.path
    import pg_server


BACKENDS = ("sqlite", "postgresql")
REQUIRE_VARIABLE = "CLIENTBOOK_REQUIRE_POSTGRESQL"
SKIPPED = "PostgreSQL variant skipped: "
RUN = pytest.StashKey[tuple[Path, int]]()  # the run's folder, the controller's pid


def pytest_addoption(parser):
    parser.addoption(
        "--backend", choices=("both", *BACKENDS),
        default=os.environ.get("CLIENTBOOK_TEST_BACKEND", "both") or "both",
        help="run the tests of that database backend only (default $CLIENTBOOK_TEST_BACKEND, "
             "else both: the both_backends tests run once on each)")


def postgresql_required() -> bool:
    return os.environ.get(REQUIRE_VARIABLE, "").strip() not in ("", "0")


def external_server_url() -> str:
    return os.environ.get(pg_server.URL_VARIABLE, "").strip()


def missing_postgresql() -> str | None:
    """Why no PostgreSQL variant can run here (None: they can), naming what to install."""
    if importlib.util.find_spec("psycopg2") is None:
        return "the PostgreSQL driver is missing: pip install -e '.[test]' (psycopg2-binary)"
    if external_server_url():
        return None
    try:
        pg_server.bin_dir()
    except pg_server.ServerUnavailable as error:
        return str(error)
    return None


WHY_LINE = missing_postgresql.__code__.co_firstlineno  # where such skips are reported


def pytest_configure(config):
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:  # an xdist worker: the controller's run folder and pid
        config.stash[RUN] = Path(workerinput["clientbook_run"]), workerinput["clientbook_owner"]
        return
    if config.getoption("--backend") != "sqlite" and postgresql_required():
        reason = missing_postgresql()
        if reason:
            raise pytest.UsageError(f"{REQUIRE_VARIABLE}=1 but PostgreSQL cannot run: {reason}")
    # The run's folder (made on first use): the server's address and the workers' lock.
    folder = Path(tempfile.gettempdir()) / f"clientbook-run.{os.getpid()}.{secrets.token_hex(4)}"
    config.stash[RUN] = folder, os.getpid()


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    """xdist: every worker gets the controller's run folder and process id."""
    folder, owner = node.config.stash[RUN]
    node.workerinput["clientbook_run"] = str(folder)
    node.workerinput["clientbook_owner"] = owner


def pytest_terminal_summary(terminalreporter, config):
    """One line on the run's PostgreSQL server, when one was started: its start, its CPU."""
    if getattr(config, "workerinput", None) is not None or RUN not in config.stash:
        return
    state = pg_server.shared_state(config.stash[RUN][0])
    if state:
        cpu = pg_server.cpu_seconds(state["root"])
        terminalreporter.write_line(
            f"PostgreSQL test server: started in {state['start_seconds']:.1f} s, "
            + (f"{cpu:.1f} s CPU" if cpu is not None else "CPU unknown"))


def pytest_unconfigure(config):
    if getattr(config, "workerinput", None) is not None or RUN not in config.stash:
        return
    folder, _ = config.stash[RUN]
    if not folder.exists():
        return
    try:
        pg_server.stop_shared(folder)
        template = folder / "template"
        if template.exists() and external_server_url():
            PostgresTests.drop_on(external_server_url(), template.read_text())
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def pytest_generate_tests(metafunc):
    """Parametrize ``backend`` (indirectly, per module) for the tests that run on PostgreSQL."""
    if "backend" not in metafunc.fixturenames:
        return
    marked = metafunc.definition.get_closest_marker
    if marked("postgresql_only"):
        names = ["postgresql"]
    elif marked("both_backends") and not marked("sqlite_only"):
        names = list(BACKENDS)
    else:
        return  # SQLite only: unparametrized, as before
    metafunc.parametrize("backend", names, indirect=True, scope="module")


def item_backend(item) -> str:
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "backend" in callspec.params:
        return callspec.params["backend"]
    return "postgresql" if item.get_closest_marker("postgresql_only") else "sqlite"


def pytest_collection_modifyitems(config, items):
    wanted = config.getoption("--backend")
    keep, drop = [], []
    for item in items:
        on = item_backend(item)
        # A parameter's own mark (pytest.param(..., marks=sqlite_only)) is seen only here.
        wrong = item.get_closest_marker("sqlite_only" if on == "postgresql" else "postgresql_only")
        (drop if wrong or wanted not in ("both", on) else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
    reason = None if wanted == "sqlite" or postgresql_required() else missing_postgresql()
    if reason:
        for item in items:
            if item_backend(item) == "postgresql":
                item.add_marker(pytest.mark.skip(reason=SKIPPED + reason))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A PostgreSQL variant skipped for want of a server is reported at one place (so -ra
    folds them into one line), not at each test."""
    report = yield
    if report.skipped and isinstance(report.longrepr, tuple) and \
            report.longrepr[2].startswith(("Skipped: " + SKIPPED, SKIPPED)):
        report.longrepr = (__file__, WHY_LINE, report.longrepr[2])
        report.keywords["pytestmark"] = 1  # folded by place and reason, line included
    return report


@pytest.fixture(scope="module")
def backend(request) -> str:
    """The test's backend: its ``[sqlite]``/``[postgresql]`` parameter, else sqlite. A
    PostgreSQL variant is skipped here when there is no server (an error when required)."""
    name = getattr(request, "param", "sqlite")
    if name == "postgresql":
        request.getfixturevalue("postgres_server_url")
    return name


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
    """One test process's PostgreSQL databases: the run's migrated template (made by the first
    process under the run's lock), the test database made from it and emptied before each
    test, and fresh ones on demand; this process's own are dropped at the end."""

    def __init__(self, server_url: str, run_folder: Path, owner: int, *, throwaway: bool):
        import psycopg2

        self.server_url = server_url
        self.throwaway = throwaway  # the run's own server: deleted whole at the end
        self.prefix = f"cbt_{owner}_{os.getpid()}"
        self.maintenance = psycopg2.connect(server_url)
        self.maintenance.autocommit = True
        self.made: list[str] = []
        self.counter = itertools.count(1)
        with pg_server.locked(run_folder):
            shared = run_folder / "template"
            if shared.exists():
                self.template = shared.read_text()
            else:
                self.template = self.create(f"cbt_{owner}_template", keep=True)
                database = open_database(self.url_for(self.template), create=True)
                database.close()
                shared.write_text(self.template)
        self.test_database = self.create(f"{self.prefix}_db", template=self.template)
        self.delete_order: list[str] | None = None
        self.sequences: list[str] = []
        # Kept open for the resets: one round trip each, no connection to make.
        self.test_connection = psycopg2.connect(self.url_for(self.test_database))
        with self.test_connection.cursor() as cursor:
            self.learn(lambda sql: (cursor.execute(sql), cursor.fetchall())[1])
        self.test_connection.commit()
        self.reset_sql = "".join(
            [f'DELETE FROM "{table}";' for table in self.delete_order]
            + [f"SELECT setval('{sequence}', 1, false);" for sequence in self.sequences])

    def url_for(self, name: str) -> str:
        return self.server_url.rsplit("/", 1)[0] + "/" + name

    def create(self, name: str, template: str | None = None, *, keep: bool = False) -> str:
        """A new database (from ``template``), dropped at the end unless ``keep``."""
        with self.maintenance.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cursor.execute(f'CREATE DATABASE "{name}"'
                           + (f' TEMPLATE "{template}"' if template else ""))
        if not keep:
            self.made.append(name)
        return name

    def drop(self, name: str) -> None:
        with self.maintenance.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self.made:
            self.made.remove(name)

    @staticmethod
    def drop_on(server_url: str, name: str) -> None:
        import psycopg2

        connection = psycopg2.connect(server_url)
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            connection.close()

    def fresh(self) -> str:
        return self.url_for(self.create(f"{self.prefix}_f{next(self.counter)}",
                                        template=self.template))

    def learn(self, query) -> None:
        """Every table but the migration history, children before parents, and the sequences
        (``query(sql)`` -> rows, on a database at the latest schema)."""
        tables = [t for (t,) in query("SELECT tablename FROM pg_tables WHERE schemaname = "
                                      "'public' AND tablename <> 'schema_migration'")]
        edges = query(
            "SELECT c.conrelid::regclass::text, c.confrelid::regclass::text FROM pg_constraint c "
            "JOIN pg_namespace n ON n.oid = c.connamespace "
            "WHERE c.contype = 'f' AND n.nspname = 'public'")
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
        self.sequences = [name for (name,) in query(
            "SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename) FROM pg_sequences "
            "WHERE schemaname = 'public' AND sequencename <> 'schema_migration_id_seq'"
        )]  # the migration history is kept, so its sequence is too

    def reset(self) -> None:
        """Empty the test database: every row gone, every sequence back to 1 (~5 ms)."""
        with self.test_connection, self.test_connection.cursor() as cursor:
            cursor.execute(self.reset_sql)

    def snapshot(self, database) -> None:
        """Keep every row and sequence of ``database`` (in its schema "snapshot") for
        ``restore``: ~20 ms a restore, against ~0.3 s for a database made from a template."""
        with database.atomic():
            database.execute_sql("DROP SCHEMA IF EXISTS snapshot CASCADE")
            database.execute_sql("CREATE SCHEMA snapshot")
            for table in self.delete_order:
                database.execute_sql(f'CREATE TABLE snapshot."{table}" AS TABLE public."{table}"')
            database.execute_sql(
                "CREATE TABLE snapshot.sequences AS SELECT quote_ident(schemaname) || '.' || "
                "quote_ident(sequencename) AS name, last_value FROM pg_sequences "
                "WHERE schemaname = 'public'")

    def restore(self, database) -> None:
        """Back to the rows and sequences of the last ``snapshot`` (triggers paused: the
        search index comes back as it was)."""
        with database.atomic():
            database.execute_sql("SET LOCAL clientbook.search_paused = 'on'")
            for table in self.delete_order:
                database.execute_sql(f'DELETE FROM public."{table}"')
            for table in reversed(self.delete_order):
                database.execute_sql(f'INSERT INTO public."{table}" TABLE snapshot."{table}"')
            database.execute_sql("SELECT setval(name, coalesce(last_value, 1), last_value IS NOT NULL)"
                                 " FROM snapshot.sequences")

    def close(self) -> None:
        """Drop this process's databases, unless the whole server goes (each DROP DATABASE
        waits for a checkpoint: seconds, at the end of a run that wrote a lot)."""
        self.test_connection.close()
        if not self.throwaway:
            with self.maintenance.cursor() as cursor:
                for name in reversed(self.made):
                    cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.maintenance.close()


@pytest.fixture(scope="session")
def postgres_server_url(pytestconfig):
    """$CLIENTBOOK_TEST_PG_URL, else the run's throwaway server (started on first use)."""
    reason = missing_postgresql()
    if reason:
        if postgresql_required():
            pytest.fail(f"{REQUIRE_VARIABLE}=1 but PostgreSQL cannot run: {reason}", pytrace=False)
        pytest.skip(SKIPPED + reason)
    url = external_server_url()
    if url:
        return url
    folder, owner = pytestconfig.stash[RUN]
    try:
        server = pg_server.shared(folder, watch_pid=owner)
    except pg_server.ServerUnavailable as error:
        if postgresql_required():
            pytest.fail(f"PostgreSQL did not start: {error}", pytrace=False)
        pytest.skip(SKIPPED + str(error))
    return server.url


@pytest.fixture(scope="session")
def postgres_tests(postgres_server_url, pytestconfig):
    tests = PostgresTests(postgres_server_url, *pytestconfig.stash[RUN],
                          throwaway=not external_server_url())
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
    tests.reset()
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
