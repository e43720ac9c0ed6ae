"""The PostgreSQL backend itself: choosing it, naming it, refusing what is wrong in one sentence,
the writer lock (advisory, polled like SQLite's BEGIN IMMEDIATE), foreign row locks, and
migrating a new database exactly once when two programs open it at the same moment.

The label tests need no server and run on SQLite's pass too; the others are
``postgresql_only``."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import peewee
import pytest

from tui.cli import explicit_database
from tui.domain.database import (
    DatabaseLocked,
    LockBusy,
    is_busy,
    is_database_url,
    known_migrations,
    open_database,
)
from tui.domain.errors import DatabaseError
from tui.domain.postgres import (
    WRITER_LOCK,
    ClientbookPostgres,
    describe_connection_error,
    label_for,
)
from tui.domain.services.users import add_user

ROOT = Path(__file__).resolve().parents[1]
CLIENTBOOK = Path(sys.executable).with_name("clientbook")
pg = pytest.mark.postgresql_only


# -- without a server


@pytest.mark.parametrize("url, label", [
    ("postgresql://anna:s3cret@db1:5433/clientbook", "postgresql://anna@db1:5433/clientbook"),
    ("postgres://anna:s3cret@db1/clientbook", "postgresql://anna@db1/clientbook"),
    ("postgresql://db1/clientbook?password=s3cret&sslmode=require",
     "postgresql://db1/clientbook?sslmode=require"),
    ("postgresql://anna@[::1]:5432/cb", "postgresql://anna@[::1]:5432/cb"),
])
def test_the_label_never_shows_the_password(url, label):
    assert label_for(url) == label
    assert "s3cret" not in label_for(url)


def test_a_url_selects_postgresql_and_anything_else_a_file():
    assert is_database_url("postgresql://x/y") and is_database_url("postgres://x/y")
    assert is_database_url("  POSTGRESQL://x/y")
    assert not is_database_url("clientbook.db") and not is_database_url(Path("postgresql:"))
    args = SimpleNamespace(db=None)
    assert explicit_database(args, {"CLIENTBOOK_DB": "postgresql://a@h/db"}) == "postgresql://a@h/db"
    assert explicit_database(args, {"CLIENTBOOK_DB": "x.db"}) == Path("x.db")
    assert explicit_database(SimpleNamespace(db=" postgres://h/d "), {}) == "postgres://h/d"


def test_the_class_makes_ids_and_integers_bigint():
    db = ClientbookPostgres("postgresql://u:p@127.0.0.1:1/none")
    assert db.field_types["AUTO"] == "BIGSERIAL" and db.field_types["INT"] == "BIGINT"
    assert db.file is None and not hasattr(db, "path")
    assert db.label == "postgresql://u@127.0.0.1:1/none"


def test_a_missing_driver_says_how_to_install_it():
    message = describe_connection_error("postgresql://h/d", peewee.ImproperlyConfigured("x"))
    assert "pip install 'clientbook[postgresql]'" in message


# -- with a server


def my_login() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return f"uid{os.geteuid()}"


def cli(*args: str, db: str | None, home: Path, **env: str) -> subprocess.CompletedProcess:
    """The installed command; ``db=None``: the database comes from the environment."""
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith("CLIENTBOOK_") and k not in ("LC_ALL", "LC_MESSAGES", "LANG")}
    environ.update(HOME=str(home), XDG_DATA_HOME=str(home / "data"), TMPDIR=str(home),
                   CLIENTBOOK_LANG="en", COLUMNS="200", **env)
    result = subprocess.run([str(CLIENTBOOK), *(["--db", db] if db else []), *args],
                            env=environ, cwd=home,
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    assert "unexpected error" not in result.stderr, result.stderr
    return result


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("clientbook: "), result.stderr
    return lines[0]


@pytest.fixture
def empty_url(postgres_tests):
    """A new database with nothing in it."""
    name = postgres_tests.create(f"{postgres_tests.prefix}_e{next(postgres_tests.counter)}")
    return postgres_tests.url_for(name)


@pg
def test_init_on_a_url_creates_the_schema_once_and_the_password_is_never_printed(
        empty_url, tmp_path):
    password = empty_url.split("@")[0].rsplit(":", 1)[1]
    first = cli("init", db=empty_url, home=tmp_path)
    assert first.returncode == 0, first.stderr
    assert label_for(empty_url) in first.stdout and password not in first.stdout
    listed = cli("users", "list", "--json", db=empty_url, home=tmp_path)
    assert listed.returncode == 0 and my_login() in listed.stdout
    again = one_line_error(cli("init", db=empty_url, home=tmp_path))
    assert "not empty" in again and password not in again
    # $CLIENTBOOK_DB selects it as well as --db does
    from_env = cli("users", "list", "--json", db=None, home=tmp_path, CLIENTBOOK_DB=empty_url)
    assert from_env.returncode == 0 and my_login() in from_env.stdout, from_env.stderr
    assert not (tmp_path / "data").exists()  # no default SQLite file was made


@pg
def test_the_schema_uses_bigint_for_every_id(empty_url):
    db = open_database(empty_url, create=True)
    try:
        types = dict(db.execute_sql(
            "SELECT table_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'public' AND column_name = 'id'").fetchall())
        applied = [n for (n,) in db.execute_sql("SELECT name FROM schema_migration")]
    finally:
        db.close()
    assert types and set(types.values()) == {"bigint"}, types
    assert sorted(applied) == known_migrations()


@pg
def test_bad_urls_passwords_and_databases_are_one_sentence(postgres_server_url, tmp_path):
    base = postgres_server_url.rsplit("/", 1)[0]
    password = base.split("@")[0].rsplit(":", 1)[1]
    user_host = base.split("@", 1)[1]
    port = user_host.rsplit(":", 1)[1]
    cases = {
        f"postgresql://clientbook:wrong@{user_host}/postgres": "refused the password",
        f"{base}/no_such_database": "no such database",
        f"postgresql://clientbook:{password}@127.0.0.1:1/postgres": "refused the connection",
        f"postgresql://clientbook:{password}@127.0.0.1:{port}/postgres?sslmode=nonsense":
            "Cannot connect",
        "postgresql://clientbook@127.0.0.1:notaport/x": "not a valid PostgreSQL URL",
    }
    for url, expected in cases.items():
        line = one_line_error(cli("users", "list", db=url, home=tmp_path))
        assert expected in line, (url, line)
        assert password not in line and "wrong" not in line.split("clientbook:", 1)[1].split(
            "@")[0], line
        with pytest.raises(DatabaseError, match=expected):
            open_database(url)


@pg
def test_an_empty_database_is_not_opened_without_create(empty_url, tmp_path):
    line = one_line_error(cli("users", "list", db=empty_url, home=tmp_path))
    assert "is empty" in line and "clientbook init" in line


@pg
def test_a_database_of_something_else_is_refused_untouched(empty_url, tmp_path):
    import psycopg2

    with psycopg2.connect(empty_url) as raw, raw.cursor() as cursor:
        cursor.execute("CREATE TABLE invoices (id int)")
    raw.close()
    line = one_line_error(cli("init", db=empty_url, home=tmp_path))
    assert "not empty" in line
    with pytest.raises(DatabaseError, match="not a Clientbook database"):
        open_database(empty_url, create=True)
    probe = ClientbookPostgres(empty_url)
    probe.connect()
    try:
        assert probe.get_tables() == ["invoices"]
    finally:
        probe.close()


def hold_writer_lock(url: str, seconds: float) -> threading.Event:
    """Another program holds the writer lock for ``seconds``; the event is set once it does."""
    import psycopg2

    held = threading.Event()

    def hold():
        connection = psycopg2.connect(url)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", (WRITER_LOCK,))
                held.set()
                time.sleep(seconds)
            connection.rollback()
        finally:
            connection.close()

    threading.Thread(target=hold, daemon=True).start()
    assert held.wait(10)
    return held


@pg
def test_a_held_writer_lock_is_waited_for_then_given_up_in_one_sentence(db_target, admin):
    db = admin.db
    hold_writer_lock(db_target, 1.5)
    with db.brief_lock_wait(0.2), pytest.raises(LockBusy):
        add_user(admin, "brief", "administrator")
    db.lock_timeout = 0.5
    started = time.monotonic()
    with pytest.raises(DatabaseLocked) as raised:
        add_user(admin, "late", "administrator")
    assert 0.45 < time.monotonic() - started < 1.4
    assert str(raised.value).startswith(label_for(db_target))
    assert "held by another program" in str(raised.value)
    db.lock_timeout = 30.0
    time.sleep(1.2)  # the holder is gone: the same write goes through
    assert add_user(admin, "later", "administrator").login == "later"
    assert db.lock_stats.gave_up >= 1 and db.lock_stats.retries >= 2


@pg
def test_a_waiting_writer_goes_through_once_the_lock_is_free(db_target, admin):
    hold_writer_lock(db_target, 0.5)
    started = time.monotonic()
    add_user(admin, "patient", "administrator")
    assert time.monotonic() - started >= 0.4


@pg
def test_the_installed_command_gives_up_on_a_held_lock_in_one_line(db_target, db, config,
                                                                  tmp_path):
    from tui.domain.services.users import register_first_user

    assert register_first_user(db, config, my_login())
    hold_writer_lock(db_target, 8)
    started = time.monotonic()
    line = one_line_error(cli("users", "add", "nobody", "--role", "administrator",
                              db=db_target, home=tmp_path, CLIENTBOOK_LOCK_TIMEOUT="1"))
    assert "held by another program" in line and label_for(db_target) in line
    assert time.monotonic() - started < 7


@pg
def test_a_foreign_row_lock_becomes_database_locked(db_target, admin, make_customer):
    import psycopg2

    from tui.domain.services.customers import CustomerDraft, update_customer

    customer = make_customer("Locked Row A/S")
    admin.db.close()
    locked = open_database(db_target, lock_timeout=0.5)  # the session's lock_timeout: 0.5 s
    raw = psycopg2.connect(db_target)
    try:
        with raw.cursor() as cursor:  # psql-like: not Clientbook, no writer lock
            cursor.execute("SELECT id FROM customer WHERE id = %s FOR UPDATE", (customer.id,))
        ctx = type(admin)(locked, admin.config, admin.actor)
        with pytest.raises(DatabaseLocked):
            update_customer(ctx, customer.id, customer.version, CustomerDraft(
                name="Renamed A/S", billing_country="DK"))
    finally:
        raw.rollback()
        raw.close()
        locked.close()


def test_postgres_busy_states_are_busy():
    class Cause(Exception):
        def __init__(self, code):
            super().__init__("x")
            self.pgcode = code

    for code in ("55P03", "40P01", "57014"):
        assert is_busy(peewee.OperationalError(Cause(code)))
    assert not is_busy(peewee.OperationalError(Cause("42P01")))
    assert not is_busy(peewee.IntegrityError(Cause("55P03")))


@pg
def test_two_programs_opening_a_new_database_at_once_migrate_it_once(empty_url, tmp_path):
    script = tmp_path / "open.py"
    script.write_text(textwrap.dedent("""
        import sys
        from tui.domain.database import open_database
        open_database(sys.argv[1], create=True).close()
        print("ok")
    """))
    processes = [subprocess.Popen([sys.executable, str(script), empty_url], cwd=ROOT,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(3)]
    results = [p.communicate(timeout=120) for p in processes]
    assert all(p.returncode == 0 for p in processes), results
    db = open_database(empty_url)
    try:
        names = [n for (n,) in db.execute_sql("SELECT name FROM schema_migration ORDER BY name")]
    finally:
        db.close()
    assert names == known_migrations()


@pg
def test_demo_refuses_a_url(empty_url, tmp_path):
    line = one_line_error(cli("demo", db=empty_url, home=tmp_path))
    assert "not a URL" in line


@pg
def test_documents_of_a_postgresql_database_go_to_the_configured_folder(
        admin, make_customer, tmp_path, monkeypatch):
    import dataclasses

    from tui.domain.services import documents

    customer = make_customer()
    paper = tmp_path / "contract.pdf"
    paper.write_bytes(b"%PDF-1.4 contract")
    # $CLIENTBOOK_FILES (the db_target fixture points it into tmp_path)
    first = documents.add_document(admin, customer.id, "Contract", "contract", paper)
    stored = documents.document_file(admin, first.id)
    assert stored.is_relative_to(Path(os.environ["CLIENTBOOK_FILES"]))
    assert stored.read_bytes() == paper.read_bytes()
    # the configuration's documents_dir comes first
    folder = tmp_path / "shared-docs"
    configured = type(admin)(admin.db, dataclasses.replace(admin.config, documents_dir=folder),
                             admin.actor)
    second = documents.add_document(configured, customer.id, "Copy", "contract", paper)
    assert documents.document_file(configured, second.id).is_relative_to(folder)
    # neither: one sentence, nothing stored
    monkeypatch.delenv("CLIENTBOOK_FILES")
    with pytest.raises(DatabaseError, match="keeps no documents itself"):
        documents.add_document(admin, customer.id, "Lost", "contract", paper)
    assert [d.title for d in documents.list_documents(admin, customer.id)] == ["Contract", "Copy"]


def test_documents_dir_in_the_configuration_is_relative_to_it(tmp_path):
    from tui.domain.config import load_config, shipped_config_path

    text = shipped_config_path().read_text(encoding="utf-8")
    custom = tmp_path / "site.yaml"
    custom.write_text(text + "\ndocuments_dir: docs\n", encoding="utf-8")
    assert load_config(custom).documents_dir == tmp_path / "docs"
    assert load_config(shipped_config_path()).documents_dir is None
    (tmp_path / "afile").write_text("x")
    custom.write_text(text + "\ndocuments_dir: afile\n", encoding="utf-8")
    with pytest.raises(Exception, match="not a folder"):
        load_config(custom)


@pg
def test_a_nul_character_is_one_sentence_and_nothing_is_saved(admin):
    from tui.domain.models import Customer
    from tui.domain.services.users import list_users

    before = [u.login for u in list_users(admin)]
    with pytest.raises(DatabaseError, match="NUL"):
        with admin.db.atomic():
            Customer.create(name="Nul\x00Co", billing_country="DK")
    assert Customer.select().count() == 0
    assert [u.login for u in list_users(admin)] == before  # the connection still works
