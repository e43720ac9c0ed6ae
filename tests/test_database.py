"""Opening databases: pragmas, bad paths, migrations, backups, newer schemas."""

from __future__ import annotations

import sqlite3

import peewee
import pytest
from playhouse.migrations import Runner

from tui.domain.database import (
    HISTORY_TABLE,
    MIGRATIONS_DIR,
    current_schema_version,
    known_migrations,
    open_database,
    schema_version,
)
from tui.domain.errors import DatabaseError
from tui.domain.models import ALL_MODELS
from tui.domain.services.search import search_customers


def test_new_database_uses_wal_foreign_keys_and_a_busy_timeout(db):
    assert db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute_sql("PRAGMA busy_timeout").fetchone()[0] == 5000
    assert current_schema_version(db) == schema_version(known_migrations()) >= 2


def test_models_match_the_migrated_schema(db):
    """The models and the migrations describe the same tables, column for column."""
    for model in ALL_MODELS:
        table = model._meta.table_name
        columns = {row[1]: row for row in db.execute_sql(f'PRAGMA table_info("{table}")')}
        fields = {f.column_name: f for f in model._meta.sorted_fields}
        assert set(columns) == set(fields), table
        for name, field in fields.items():
            not_null = bool(columns[name][3])
            assert not_null == (not field.null) or field.primary_key, f"{table}.{name}"


def test_missing_database_is_not_created_implicitly(tmp_path):
    target = tmp_path / "nothing.db"
    with pytest.raises(DatabaseError, match="clientbook init"):
        open_database(target)
    assert not target.exists()


@pytest.mark.parametrize("case", ["directory", "missing folder", "parent is a file"])
def test_bad_paths_give_clear_messages(tmp_path, case):
    if case == "directory":
        target, expected = tmp_path, "is a directory"
    elif case == "missing folder":
        target, expected = tmp_path / "no" / "such" / "x.db", "does not exist"
    else:
        (tmp_path / "file").write_text("x")
        target, expected = tmp_path / "file" / "x.db", "not a folder"
    with pytest.raises(DatabaseError, match=expected):
        open_database(target, create=True)


def test_a_file_that_is_not_sqlite_is_refused_and_left_alone(tmp_path):
    target = tmp_path / "notes.db"
    target.write_text("shopping list\n" * 200)
    with pytest.raises(DatabaseError, match="not a Clientbook database"):
        open_database(target)
    assert target.read_text() == "shopping list\n" * 200


def test_another_programs_sqlite_file_is_refused(tmp_path):
    target = tmp_path / "other.db"
    raw = sqlite3.connect(target)
    raw.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    raw.commit()
    raw.close()
    with pytest.raises(DatabaseError, match="not a Clientbook database"):
        open_database(target)
    raw = sqlite3.connect(target)
    assert [r[0] for r in raw.execute("SELECT name FROM sqlite_master")] == ["invoices"]
    raw.close()


def make_version_one(path):
    """A database as the first release made it, holding one customer."""
    old = peewee.SqliteDatabase(str(path), pragmas={"foreign_keys": 1})
    Runner(old, str(MIGRATIONS_DIR), table_name=HISTORY_TABLE).up(target="0001_initial")
    row = {"name": "Legacy Kran ApS", "segment": "other", "currency": "DKK", "language": "da",
           "name_key": "legacy kran", "phone": "+4512345678",
           "search_digits": "4512345678 12345678 2345678 345678 45678 5678",
           "created_at": "2025-01-01", "updated_at": "2025-01-01", "notify_event_types": "[]"}
    for column in ("email", "website", "billing_street", "billing_postal_code", "billing_city",
                   "billing_state", "shipping_street", "shipping_postal_code", "shipping_city",
                   "shipping_state", "notes", "email_key", "website_key", "created_by",
                   "updated_by"):
        row[column] = ""
    row.update(shipping_same_as_billing=1, version=1)
    old.execute_sql(f"INSERT INTO customer ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                    list(row.values()))
    old.close()


def test_an_older_database_is_backed_up_then_upgraded(tmp_path, admin_for):
    target = tmp_path / "old.db"
    make_version_one(target)
    db = open_database(target)
    try:
        assert current_schema_version(db) == schema_version(known_migrations())
        backups = list(tmp_path.glob("old.db.schema1-*.bak"))
        assert len(backups) == 1
        raw = sqlite3.connect(backups[0])
        assert raw.execute("SELECT name FROM customer").fetchall() == [("Legacy Kran ApS",)]
        assert raw.execute(f"SELECT count(*) FROM {HISTORY_TABLE}").fetchone() == (1,)
        raw.close()
        # what the old database held is indexed by the upgrade
        ctx = admin_for(db)
        assert [r.name for r in search_customers(ctx, "legacy 5678").rows] == ["Legacy Kran ApS"]
    finally:
        db.close()
    # opening again changes nothing and makes no new backup
    open_database(target).close()
    assert len(list(tmp_path.glob("old.db.schema1-*.bak"))) == 1


def test_a_newer_database_is_refused(db_path):
    db = open_database(db_path, create=True)
    db.execute_sql(f"INSERT INTO {HISTORY_TABLE} (name, applied) VALUES ('0099_future', '2030-01-01')")
    db.close()
    with pytest.raises(DatabaseError, match=r"newer Clientbook \(schema 99"):
        open_database(db_path)


def test_a_locked_database_gives_a_clear_message(db_path, monkeypatch):
    open_database(db_path, create=True).close()
    locker = sqlite3.connect(db_path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    monkeypatch.setattr("tui.domain.database.BUSY_TIMEOUT_SECONDS", 0.2)
    try:
        db = open_database(db_path)  # reading the schema may pass in WAL; writing must wait
        with pytest.raises(peewee.OperationalError, match="locked"):
            with db.atomic():
                pass
        db.close()
    except DatabaseError as error:
        assert "locked" in str(error)
    finally:
        locker.rollback()
        locker.close()


@pytest.fixture
def admin_for(config):
    from tui.domain.context import Actor, Context

    def make(database):
        role = config.roles["administrator"]
        return Context(database, config, Actor("boss", role.key, role.permissions))

    return make


# -- PostgreSQL variants (pytest --backend postgresql) -----------------------------------------


@pytest.mark.postgresql_only
def test_a_new_postgresql_database_reads_committed_at_the_latest_schema(db):
    assert db.execute_sql("SHOW transaction_isolation").fetchone()[0] == "read committed"
    assert db.execute_sql("SHOW server_encoding").fetchone()[0] == "UTF8"
    assert current_schema_version(db) == schema_version(known_migrations()) >= 6
    kinds = db.execute_sql(
        "SELECT DISTINCT data_type FROM information_schema.columns"
        " WHERE table_schema = current_schema()").fetchall()
    # text, never varchar(255); bigint, never a 32-bit integer (see migrations/_postgres.py)
    assert {kind for (kind,) in kinds} >= {"text", "bigint"}
    assert not {kind for (kind,) in kinds} & {"character varying", "integer", "smallint"}


@pytest.mark.postgresql_only
def test_models_match_the_migrated_postgresql_schema(db):
    """As test_models_match_the_migrated_schema, from PostgreSQL's catalogue."""
    for model in ALL_MODELS:
        table = model._meta.table_name
        columns = {column.name: column for column in db.get_columns(table)}
        fields = {f.column_name: f for f in model._meta.sorted_fields}
        assert set(columns) == set(fields), table
        for name, field in fields.items():
            assert columns[name].null == field.null or field.primary_key, f"{table}.{name}"


@pytest.mark.postgresql_only
def test_a_newer_postgresql_database_is_refused(db, db_target):
    # an explicit id: the test database's reset winds every sequence back, this one's too
    db.execute_sql(f"INSERT INTO {HISTORY_TABLE} (id, name, applied)"
                   f" SELECT max(id) + 1, %s, now() FROM {HISTORY_TABLE}", ("0099_future",))
    db.close()
    try:
        with pytest.raises(DatabaseError, match=r"newer Clientbook \(schema 99"):
            open_database(db_target)
    finally:  # the test database is emptied, not made again, before the next test
        db.execute_sql(f"DELETE FROM {HISTORY_TABLE} WHERE name = %s", ("0099_future",))
