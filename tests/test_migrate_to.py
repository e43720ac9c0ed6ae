"""clientbook migrate-to: an SQLite database copied into an empty PostgreSQL database
(tui/domain/migrate_to.py, tui/cli/migrate.py). PostgreSQL only (``[postgresql]``)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest

from tests.conftest import CustomerDraft, actor_for
from tests.test_migration_0006 import old  # noqa: F401 - a fixture: a schema-5 file
from tui.domain.context import Context, os_login
from tui.domain.database import open_database
from tui.domain.demo import populate
from tui.domain.errors import ClientbookError, DatabaseError, PermissionDenied
from tui.domain.migrate_to import migrate_to, tables
from tui.domain.services.customers import create_customer, delete_customer
from tui.domain.services.equipment import search_equipment
from tui.domain.services.search import search_customers
from tui.domain.services.users import register_first_user, resolve_actor

pytestmark = pytest.mark.postgresql_only

CLIENTBOOK = Path(sys.executable).with_name("clientbook")
SEARCHES = ["", "nord", "aarhus", "rental", "a", "dk", "s", "cat 3", "zz-nothing"]


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory, config) -> Path:
    """A demo database of 30 customers (with document files), made once for the module."""
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    db = open_database(path, create=True)
    register_first_user(db, config, os_login())
    populate(Context(db, config, resolve_actor(config, os_login())), customers=30)
    db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return path


@pytest.fixture
def source(demo_file, tmp_path, config):
    """A context on this test's own copy of the demo file (and its document store)."""
    path = tmp_path / "source.db"
    shutil.copyfile(demo_file, path)
    shutil.copytree(demo_file.with_name("demo.db.files"), tmp_path / "source.db.files")
    db = open_database(path)
    yield Context(db, config, actor_for(config, "administrator", os_login()))
    db.close()


@pytest.fixture
def target(fresh_target, tmp_path, monkeypatch) -> str:
    monkeypatch.setenv("CLIENTBOOK_FILES", str(tmp_path / "pg.files"))
    return fresh_target()


@pytest.fixture
def empty_target(postgres_tests) -> str:
    """A new database with no schema at all (what createdb gives)."""
    return postgres_tests.url_for(postgres_tests.create(f"{postgres_tests.prefix}_empty"))


def sqlite_counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as connection:
        return {t: connection.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
                for t in tables()}


def pg_counts(url: str) -> dict[str, int]:
    connection = psycopg2.connect(url)
    try:
        with connection.cursor() as cursor:
            found = {}
            for t in tables():
                cursor.execute(f'SELECT count(*) FROM "{t}"')
                found[t] = cursor.fetchone()[0]
            return found
    finally:
        connection.close()


def searched(ctx: Context) -> dict:
    """What the customer search and the fleet register show for a few searches and sorts."""
    found: dict = {term: [row.id for row in search_customers(ctx, term, limit=200).rows]
                   for term in SEARCHES}
    for sort in ("serial", "name", "holder", "year"):
        for holding in ("all", "assigned", "unassigned"):
            for term in ("", "ex", "20"):
                page = search_equipment(ctx, term, holding=holding, sort=sort, limit=200)
                found[(sort, holding, term)] = [(r.id, r.holder_id, r.holder_name)
                                                for r in page.rows]
    return found


def test_demo_copied_whole_counts_and_search_equal(source, target, config):
    before = sqlite_counts(source.db.file)
    source_search = searched(source)
    seen = []
    report = migrate_to(source, target, progress=lambda t, done, total: seen.append(t))
    assert report.counts == before
    assert set(seen) == set(tables())
    after = pg_counts(target)
    assert after["audit_event"] == before["audit_event"] + 1  # the "migrate" event
    assert {t: n for t, n in after.items() if t != "audit_event"} == \
        {t: n for t, n in before.items() if t != "audit_event"}
    assert before["customer"] == 30 and before["admin_document"] > 0
    # the models went back to the source: searching it still works
    assert searched(source) == source_search
    db = open_database(target)
    try:
        ctx = Context(db, config, source.actor)
        assert searched(ctx) == source_search
        assert sum(len(ids) for ids in source_search.values()) > 30  # searches that find
        assert source_search[("holder", "assigned", "")]  # the fleet shows held machines
        events = db.execute_sql("SELECT login, entity FROM audit_event WHERE action = "
                                "'migrate'").fetchall()
        assert events == [(source.actor.login, "database")]
        digests = {d for (d,) in db.execute_sql(
            "SELECT DISTINCT file_sha256 FROM admin_document WHERE file_sha256 IS NOT NULL")}
    finally:
        db.close()
        from tui.domain.models import ALL_MODELS
        source.db.bind(ALL_MODELS)
    store = Path(os.environ["CLIENTBOOK_FILES"])
    assert digests and all((store / d[:2] / d).is_file() for d in digests)
    assert report.files == len(digests)


def test_a_deleted_id_is_not_given_again(source, target, config):
    gone = create_customer(source, CustomerDraft(name="Last One ApS", segment="other"))
    delete_customer(source, gone.id)
    assert source.db.execute_sql("SELECT max(id) FROM customer").fetchone()[0] < gone.id
    report = migrate_to(source, target)
    assert report.sequences["customer"] >= gone.id
    db = open_database(target)
    try:
        new = create_customer(Context(db, config, source.actor),
                              CustomerDraft(name="New Customer ApS", segment="other"))
        assert new.id > gone.id
    finally:
        db.close()
        from tui.domain.models import ALL_MODELS
        source.db.bind(ALL_MODELS)


def test_a_target_with_rows_is_refused_and_nothing_written(source, target, config):
    db = open_database(target)
    try:
        create_customer(Context(db, config, source.actor),
                        CustomerDraft(name="Already Here A/S", segment="other"))
    finally:
        db.close()
        from tui.domain.models import ALL_MODELS
        source.db.bind(ALL_MODELS)
    before = pg_counts(target)
    with pytest.raises(ClientbookError, match="is not empty .*customer.* hold rows"):
        migrate_to(source, target)
    assert pg_counts(target) == before
    assert before["customer"] == 1


def test_a_failure_midway_leaves_the_target_empty(source, target):
    def stop(table, done, total):
        if table == "audit_event" and done:
            raise DatabaseError("interrupted")

    with pytest.raises(DatabaseError, match="interrupted"):
        migrate_to(source, target, progress=stop)
    assert set(pg_counts(target).values()) == {0}
    assert not (Path(os.environ["CLIENTBOOK_FILES"])).exists()  # files come after the tables


def test_only_administrators_may_migrate(source, target, config):
    limited = Context(source.db, config, actor_for(config, "estimator"))
    with pytest.raises(PermissionDenied):
        migrate_to(limited, target)
    assert set(pg_counts(target).values()) == {0}


def test_bad_source_data_is_one_sentence_naming_table_id_and_column(source, target):
    with sqlite3.connect(source.db.file) as raw:
        raw.execute("UPDATE customer SET notes = 'Aar' || char(0) || 'hus' WHERE id = 7")
    with pytest.raises(DatabaseError, match=r"customer id 7, column notes, holds the character NUL"):
        migrate_to(source, target)
    with sqlite3.connect(source.db.file) as raw:
        raw.execute("UPDATE customer SET notes = '' WHERE id = 7")
        raw.execute("PRAGMA foreign_keys = OFF")
        raw.execute("UPDATE contact SET customer_id = 999 WHERE id = 3")
    with pytest.raises(DatabaseError, match=r"contact id 3 refers to a customer that does not"):
        migrate_to(source, target)
    assert set(pg_counts(target).values()) == {0}


# --- the installed command --------------------------------------------------------------

def cli(*args: str, home: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith("CLIENTBOOK_") and k not in ("LC_ALL", "LC_MESSAGES", "LANG")}
    environ.update(HOME=str(home), XDG_DATA_HOME=str(home / "data"), TMPDIR=str(home),
                   CLIENTBOOK_LANG="en", COLUMNS="200", **env)
    result = subprocess.run([str(CLIENTBOOK), *args], env=environ, cwd=home,
                            stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            timeout=120)
    assert "unexpected error" not in result.stderr, result.stderr
    return result


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("clientbook: "), result.stderr
    return lines[0]


def test_command_copies_and_prints_the_counts(source, empty_target, tmp_path):
    """Into a database createdb just made: the schema is created, then filled."""
    target = empty_target
    source.db.close()
    files = str(tmp_path / "pg.files")
    done = cli("migrate-to", target, "--db", str(source.db.file), home=tmp_path,
               CLIENTBOOK_FILES=files)
    assert done.returncode == 0, done.stderr
    assert "customer" in done.stdout and " 30 " in done.stdout.replace("\n", " ")
    assert "Copied " in done.stdout and "@" in done.stdout
    password = target.split("//", 1)[1].split("@", 1)[0].split(":", 1)[1]
    assert password not in done.stdout
    assert pg_counts(target)["customer"] == 30
    # a second run: the target is no longer empty
    again = one_line_error(cli("migrate-to", target, "--db", str(source.db.file),
                               home=tmp_path, CLIENTBOOK_FILES=files))
    assert "is not empty" in again and "Nothing was written" in again
    # the global --db names the source as well
    other = cli("--db", str(source.db.file), "migrate-to", target, home=tmp_path,
                CLIENTBOOK_FILES=files)
    assert "is not empty" in one_line_error(other)


def test_command_errors_are_one_line(source, tmp_path):
    source.db.close()
    db = str(source.db.file)
    refused = one_line_error(cli("migrate-to", "postgresql://nobody@127.0.0.1:1/nothing",
                                 "--db", db, home=tmp_path))
    assert "Cannot connect to postgresql://nobody@127.0.0.1:1/nothing" in refused
    bad = one_line_error(cli("migrate-to", "postgresql://a@h:notaport/x", "--db", db,
                             home=tmp_path))
    assert "postgresql://a@h:notaport/x" in bad
    not_url = one_line_error(cli("migrate-to", str(tmp_path / "other.db"), "--db", db,
                                 home=tmp_path))
    assert "is not a postgresql:// URL" in not_url
    assert not (tmp_path / "other.db").exists()
    missing = one_line_error(cli("migrate-to", "postgresql://a@h/x", "--db",
                                 str(tmp_path / "absent.db"), home=tmp_path))
    assert "absent.db" in missing
    usage = cli("migrate-to", home=tmp_path)
    assert usage.returncode == 2


# --- backup and restore are for SQLite files --------------------------------------------

def test_backup_and_restore_of_a_postgresql_database_point_to_pg_dump(admin, tmp_path,
                                                                       demo_file):
    from tui.domain.backup import backup_database, check_backup, restore_database

    for attempt in (lambda: backup_database(admin, tmp_path / "copy.db"),
                    lambda: check_backup(admin, demo_file),
                    lambda: restore_database(admin, demo_file)):
        with pytest.raises(ClientbookError, match=r"is a PostgreSQL database: back it up with "
                                                  r"pg_dump") as raised:
            attempt()
        assert ":" + "@" not in str(raised.value) and admin.db.label in str(raised.value)
    assert not (tmp_path / "copy.db").exists()


def test_backup_command_on_a_postgresql_database_is_one_line(db_target, tmp_path, config):
    db = open_database(db_target)
    try:
        register_first_user(db, config, os_login())  # the command's user is an administrator
    finally:
        db.close()
    for args in (("backup", str(tmp_path / "copy.db")),
                 ("restore", str(tmp_path / "copy.db"), "--yes")):
        line = one_line_error(cli("--db", db_target, *args, home=tmp_path,
                                  CLIENTBOOK_FILES=str(tmp_path / "files")))
        assert "pg_dump" in line


def test_a_row_postgresql_refuses_is_named(source, target):
    with sqlite3.connect(source.db.file) as raw:
        raw.execute("UPDATE equipment SET retired_at = 'yesterday-ish' WHERE id = 5")
    with pytest.raises(DatabaseError, match=r"^Cannot copy equipment id 5: .*yesterday-ish.* "
                                            r"Nothing was written\.$"):
        migrate_to(source, target)
    assert set(pg_counts(target).values()) == {0}


def test_an_old_file_is_upgraded_first_and_its_deleted_ids_stay_used(old, target, config):
    """A schema-5 file (ids deleted before 0006, no sqlite_sequence rows for them): opening
    it upgrades it (with its copy aside); the PostgreSQL sequences start past every id the
    file still names (0006's high_water), not only past the rows left."""
    db = open_database(old.path)
    try:
        assert list(old.path.parent.glob("five.db.*.bak"))  # the automatic copy
        ctx = Context(db, config, actor_for(config, "administrator", "boss"))
        report = migrate_to(ctx, target)
    finally:
        db.close()
    assert report.counts["customer"] == 2
    assert report.sequences["customer"] >= old.deleted_customer
    assert report.sequences["contact"] >= old.deleted_contact
    assert report.sequences["equipment"] >= old.deleted_machine
    assert report.sequences["admin_document"] >= old.deleted_document
    pg = open_database(target)
    try:
        ctx = Context(pg, config, actor_for(config, "administrator", "boss"))
        new = create_customer(ctx, CustomerDraft(name="After The Move ApS", segment="other"))
        assert new.id > old.deleted_customer
    finally:
        pg.close()
