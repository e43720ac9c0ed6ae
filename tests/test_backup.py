"""Backup and restore in the domain (tui/domain/backup.py), on real SQLite files."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import threading
import time
from pathlib import Path

import pytest

from tests.test_database import make_version_one
from tui.domain import backup
from tui.domain.database import HISTORY_TABLE, current_schema_version, known_migrations
from tui.domain.database import schema_version
from tui.domain.errors import ClientbookError, Conflict, DatabaseError, PermissionDenied
from tui.domain.models import AdminDocument, AuditEvent, Customer
from tui.domain.services import customers, documents
from tui.domain.services.customers import CustomerDraft

LATEST = schema_version(known_migrations())


@pytest.fixture
def shop(admin, make_customer, tmp_path):
    """Two customers, one with a document whose file is in the store."""
    first = make_customer("Acme Rental A/S")
    make_customer("Boreal Lift Ltd")
    paper = tmp_path / "terms.txt"
    paper.write_text("the terms")
    document = documents.add_document(admin, first.id, "Terms", "contract", paper)
    return first, document


def raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)


def names(path: Path) -> list[str]:
    connection = raw(path)
    try:
        return [r[0] for r in connection.execute("SELECT name FROM customer ORDER BY name")]
    finally:
        connection.close()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# --- backup -----------------------------------------------------------------------------

def test_backup_is_a_checked_self_contained_copy_with_the_files(admin, shop, tmp_path, db):
    _first, document = shop
    target = tmp_path / "out" / "monday.db"
    target.parent.mkdir()
    report = backup.backup_database(admin, target)
    assert report.path == target and target.is_file()
    assert report.size == target.stat().st_size > 0
    assert report.schema == LATEST
    assert report.counts["customers"] == 2 and report.counts["documents"] == 1
    assert report.counts["audit_events"] == AuditEvent.select().count()
    assert (report.files, report.files_size, report.missing_files) == (1, 9, ())
    copied = report.files_dir / document.file_sha256[:2] / document.file_sha256
    assert copied.read_text() == "the terms"
    assert report.files_dir == target.with_name("monday.db.files")
    connection = raw(target)
    try:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert connection.execute(f"SELECT count(*) FROM {HISTORY_TABLE}").fetchone()[0] == LATEST
    finally:
        connection.close()
    assert names(target) == ["Acme Rental A/S", "Boreal Lift Ltd"]
    assert sorted(p.name for p in target.parent.iterdir()) == ["monday.db", "monday.db.files"]
    assert AuditEvent.select().count() == report.counts["audit_events"]  # a backup changes nothing


def test_backup_is_one_moment_even_while_another_writer_is_busy(admin, shop, tmp_path, db_path):
    other = sqlite3.connect(db_path, isolation_level=None, timeout=5)
    other.execute("BEGIN IMMEDIATE")
    other.execute("UPDATE customer SET name = 'Half done' WHERE name = 'Acme Rental A/S'")
    try:
        started = time.monotonic()
        backup.backup_database(admin, tmp_path / "during.db")
        assert time.monotonic() - started < 3  # not waiting for the writer
    finally:
        other.execute("COMMIT")
        other.close()
    assert names(tmp_path / "during.db") == ["Acme Rental A/S", "Boreal Lift Ltd"]
    assert [c.name for c in Customer.select().order_by(Customer.name)] == [
        "Boreal Lift Ltd", "Half done"]


def test_backup_under_a_stream_of_writes_completes(admin, shop, tmp_path, db_path):
    stop = threading.Event()
    written = []

    def keep_writing():
        writer = sqlite3.connect(db_path, isolation_level=None, timeout=5)
        while not stop.is_set():
            writer.execute("UPDATE customer SET notes = ? WHERE id = 1", (str(len(written)),))
            written.append(1)
        writer.close()

    thread = threading.Thread(target=keep_writing)
    thread.start()
    try:
        while not written:
            time.sleep(0.01)
        report = backup.backup_database(admin, tmp_path / "busy.db")
    finally:
        stop.set()
        thread.join()
    assert report.counts["customers"] == 2 and len(written) > 1


def test_an_existing_backup_is_kept_unless_forced(admin, shop, tmp_path):
    target = tmp_path / "b.db"
    target.write_text("precious")
    with pytest.raises(ClientbookError, match=r"b\.db already exists.*--force"):
        backup.backup_database(admin, target)
    assert target.read_text() == "precious"
    target.unlink()
    (tmp_path / "b.db.files").mkdir()
    with pytest.raises(ClientbookError, match=r"b\.db\.files already exists"):
        backup.backup_database(admin, target)
    assert not target.exists()
    stale = tmp_path / "b.db.files" / "stale.txt"
    stale.write_text("old")
    target.write_text("precious")
    report = backup.backup_database(admin, target, force=True)
    assert names(target) == ["Acme Rental A/S", "Boreal Lift Ltd"]
    assert not stale.exists() and report.files == 1
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("where", ["the database", "its wal", "the store", "in the store"])
def test_backup_never_writes_over_the_database_or_its_store(admin, shop, db_path, where):
    target = {"the database": db_path, "its wal": db_path.with_name(db_path.name + "-wal"),
              "the store": db_path.with_name(db_path.name + ".files"),
              "in the store": db_path.with_name(db_path.name + ".files") / "x.db"}[where]
    before = db_path.read_bytes()
    with pytest.raises(ClientbookError, match="database"):
        backup.backup_database(admin, target, force=True)
    assert db_path.read_bytes() == before
    assert Customer.select().count() == 2


def test_backup_to_a_folder_or_a_missing_folder_is_refused(admin, tmp_path):
    with pytest.raises(ClientbookError, match="is a folder"):
        backup.backup_database(admin, tmp_path)
    with pytest.raises(ClientbookError, match="does not exist"):
        backup.backup_database(admin, tmp_path / "nowhere" / "b.db")


def test_a_failed_check_leaves_nothing_behind(admin, shop, tmp_path, monkeypatch):
    target = tmp_path / "b.db"
    target.write_text("precious")

    def broken(connection, path):
        raise DatabaseError(f"{path} failed its integrity check: row 3 missing from index")

    monkeypatch.setattr(backup, "_integrity", broken)
    with pytest.raises(DatabaseError, match="integrity check"):
        backup.backup_database(admin, target, force=True)
    assert target.read_text() == "precious"
    assert not (tmp_path / "b.db.files").exists()
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("role", ["estimator", "limited"])
def test_roles_without_data_export_may_not_back_up(as_role, shop, tmp_path, role):
    with pytest.raises(PermissionDenied, match="export data"):
        backup.backup_database(as_role(role), tmp_path / "b.db")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clientbook.db", "clientbook.db-shm",
                                                          "clientbook.db-wal",
                                                          "clientbook.db.files", "terms.txt"]


def test_a_document_whose_file_is_gone_is_reported(admin, shop, tmp_path, db):
    _first, document = shop
    (db.files_dir / document.file_sha256[:2] / document.file_sha256).unlink()
    report = backup.backup_database(admin, tmp_path / "b.db")
    assert report.missing_files == (document.file_sha256,) and report.files == 0


# --- restore ----------------------------------------------------------------------------

@pytest.fixture
def saved(admin, shop, tmp_path):
    """A backup of ``shop``; then the live database moves on."""
    report = backup.backup_database(admin, tmp_path / "saved.db")
    first, _document = shop
    customers.delete_customer(admin, first.id)
    customers.create_customer(admin, CustomerDraft(name="Came Later", billing_country="DK"))
    return report


def test_restore_brings_back_the_backup_and_keeps_the_database_as_it_was(admin, saved, db_path,
                                                                         tmp_path):
    assert [c.name for c in Customer.select().order_by(Customer.name)] == [
        "Boreal Lift Ltd", "Came Later"]
    report = backup.restore_database(admin, saved.path)
    assert [c.name for c in Customer.select().order_by(Customer.name)] == [
        "Acme Rental A/S", "Boreal Lift Ltd"]
    document = AdminDocument.get()
    assert documents.document_file(admin, document.id).read_text() == "the terms"
    # the database before the restore, kept beside it
    assert report.safety_copy.parent == db_path.parent
    assert report.safety_copy.name.startswith("clientbook.db.before-restore-")
    assert names(report.safety_copy) == ["Boreal Lift Ltd", "Came Later"]
    assert report.before["customers"] == 2 and report.after["customers"] == 2
    assert report.after["audit_events"] == AuditEvent.select().count()
    # audited, in the restored data
    last = AuditEvent.select().order_by(AuditEvent.id.desc()).get()
    assert (last.login, last.action, last.entity) == ("boss", "restore", "database")
    assert last.after["backup"] == str(saved.path) and last.after["customers"] == 2
    assert last.before["safety_copy"] == str(report.safety_copy)
    assert last.before["customers"] == 2
    # the live database is still the WAL database the app opened
    assert admin.db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert admin.db.execute_sql("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert leftovers(tmp_path) == []
    # the safety copy can be restored in turn (its files are in the store)
    backup.restore_database(admin, report.safety_copy)
    assert [c.name for c in Customer.select().order_by(Customer.name)] == [
        "Boreal Lift Ltd", "Came Later"]


def test_other_sessions_see_the_restore_and_stale_saves_are_refused(admin, saved, db_path):
    other_session = sqlite3.connect(db_path, isolation_level=None)
    boreal = Customer.get(Customer.name == "Boreal Lift Ltd")
    customers.update_customer(admin, boreal.id, boreal.version,
                              CustomerDraft(name="Boreal Lift Group", billing_country="DK"))
    seen = customers.get_customer(admin, boreal.id)  # what an open screen holds: version 2
    assert [r[0] for r in other_session.execute("SELECT name FROM customer ORDER BY name")] == [
        "Boreal Lift Group", "Came Later"]
    backup.restore_database(admin, saved.path)
    assert [r[0] for r in other_session.execute("SELECT name FROM customer ORDER BY name")] == [
        "Acme Rental A/S", "Boreal Lift Ltd"]
    other_session.close()
    with pytest.raises(Conflict):
        customers.update_customer(admin, boreal.id, seen.version,
                                  CustomerDraft(name="Boreal Stale", billing_country="DK"))
    assert customers.get_customer(admin, boreal.id).name == "Boreal Lift Ltd"


@pytest.mark.parametrize("role", ["fleet_administrator", "account_owner", "estimator", "limited"])
def test_only_administrators_restore(as_role, saved, db_path, role):
    before = Customer.select().count(), AuditEvent.select().count()
    with pytest.raises(PermissionDenied, match="restore backups"):
        backup.restore_database(as_role(role), saved.path)
    with pytest.raises(PermissionDenied):
        backup.check_backup(as_role(role), saved.path)
    assert (Customer.select().count(), AuditEvent.select().count()) == before
    assert not list(db_path.parent.glob("*.before-restore-*"))


def test_a_backup_from_a_newer_clientbook_is_refused(admin, saved, db_path):
    connection = sqlite3.connect(saved.path)
    connection.execute(f"INSERT INTO {HISTORY_TABLE} (name, applied) VALUES ('0099_future', "
                       "'2030-01-01')")
    connection.commit()
    connection.close()
    with pytest.raises(ClientbookError, match=r"newer Clientbook \(schema 99; this one knows"):
        backup.restore_database(admin, saved.path)
    assert Customer.select().count() == 2
    assert not list(db_path.parent.glob("*.before-restore-*"))


def test_a_backup_from_an_older_clientbook_is_upgraded_then_restored(admin, shop, tmp_path,
                                                                     db_path):
    old = tmp_path / "v1.db"
    make_version_one(old)
    report = backup.restore_database(admin, old)
    assert report.migrated_from == 1
    assert current_schema_version(admin.db) == LATEST
    assert [c.name for c in Customer.select()] == ["Legacy Kran ApS"]
    from tui.domain.services.search import search_customers
    assert [r.name for r in search_customers(admin, "legacy").rows] == ["Legacy Kran ApS"]
    assert names(old) == ["Legacy Kran ApS"]  # the backup itself is untouched
    connection = raw(old)
    assert connection.execute(f"SELECT count(*) FROM {HISTORY_TABLE}").fetchone()[0] == 1
    connection.close()
    assert leftovers(tmp_path) == [] and not list(tmp_path.glob("*.schema*.bak"))


@pytest.mark.parametrize("case", ["missing", "folder", "empty", "text", "other sqlite",
                                  "no schema", "itself"])
def test_what_is_not_a_backup_is_refused_with_a_reason(admin, shop, tmp_path, db_path, case):
    path = tmp_path / "thing.db"
    expected = {"missing": "No backup file", "folder": "is a folder", "empty": "is empty",
                "text": "not a Clientbook backup", "other sqlite": "not a Clientbook database",
                "no schema": "records no schema", "itself": "the database itself"}[case]
    if case == "folder":
        path.mkdir()
    elif case == "empty":
        path.touch()
    elif case == "text":
        path.write_text("name,phone\nAcme,123\n" * 50)
    elif case in ("other sqlite", "no schema"):
        connection = sqlite3.connect(path)
        connection.execute("CREATE TABLE invoices (id INTEGER)")
        if case == "no schema":
            connection.execute(f"CREATE TABLE {HISTORY_TABLE} (name TEXT, applied TEXT)")
        connection.commit()
        connection.close()
    elif case == "itself":
        path = db_path
    with pytest.raises(ClientbookError, match=expected):
        backup.restore_database(admin, path)
    assert Customer.select().count() == 2
    assert not list(db_path.parent.glob("*.before-restore-*"))


def test_missing_files_are_refused_unless_allowed(admin, saved, db, db_path):
    document = AdminDocument.select().count()
    assert document == 0  # the backup's document went with its customer; its file stays
    digest = next(iter(p.name for p in saved.files_dir.glob("*/*")))
    (saved.files_dir / digest[:2] / digest).unlink()
    (db.files_dir / digest[:2] / digest).unlink()
    with pytest.raises(backup.MissingFiles, match="1 document file of .* is in neither"):
        backup.restore_database(admin, saved.path)
    assert Customer.select().count() == 2 and AdminDocument.select().count() == 0
    report = backup.restore_database(admin, saved.path, allow_missing_files=True)
    assert report.missing_files == (digest,)
    assert AdminDocument.get().file_sha256 == digest


def test_files_missing_from_the_store_come_back_from_the_backup(admin, saved, db):
    digest = next(iter(p.name for p in saved.files_dir.glob("*/*")))
    (db.files_dir / digest[:2] / digest).unlink()
    report = backup.restore_database(admin, saved.path)
    assert report.files_added == 1
    assert (db.files_dir / digest[:2] / digest).read_text() == "the terms"


def test_a_damaged_file_in_the_backup_is_refused(admin, saved, db):
    digest = next(iter(p.name for p in saved.files_dir.glob("*/*")))
    (db.files_dir / digest[:2] / digest).unlink()
    (saved.files_dir / digest[:2] / digest).write_text("tampered")
    with pytest.raises(ClientbookError, match="damaged"):
        backup.restore_database(admin, saved.path)
    assert not (db.files_dir / digest[:2] / digest).exists()
    assert Customer.select().where(Customer.name == "Came Later").exists()
    assert not [p for p in db.files_dir.iterdir() if p.is_file()]  # no scratch file left


@pytest.mark.parametrize("damage", ["scribbled pages", "broken index"])
def test_a_corrupt_backup_is_refused_before_anything_changes(admin, saved, db_path, damage):
    if damage == "scribbled pages":
        data = bytearray(saved.path.read_bytes())
        for offset in range(4096 * 3, min(len(data), 4096 * 12), 97):
            data[offset] = 0xFF
        saved.path.write_bytes(bytes(data))
        # refused when copied or when checked, depending on which pages the scribbles hit
        expected = "(not a Clientbook backup|cannot be restored) .*malformed"
    else:  # readable, but an index no longer matches its table
        connection = sqlite3.connect(saved.path, isolation_level=None)
        connection.execute("PRAGMA writable_schema = 1")
        connection.execute("UPDATE sqlite_master SET sql = 'CREATE INDEX customer_name_key ON "
                           "customer (name_key DESC)' WHERE name = 'customer_name_key'")
        connection.close()
        expected = "failed its integrity check"
    with pytest.raises(ClientbookError, match=expected):
        backup.restore_database(admin, saved.path)
    assert Customer.select().where(Customer.name == "Came Later").exists()
    assert not list(db_path.parent.glob("*.before-restore-*"))


def test_restore_waits_for_a_writer_then_gives_up_with_nothing_changed(admin, saved, db_path):
    admin.db.execute_sql("PRAGMA busy_timeout = 100")
    writer = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    writer.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        with pytest.raises(DatabaseError, match="stayed busy .* nothing was restored"):
            backup.restore_database(admin, saved.path, timeout=0.5)
        assert time.monotonic() - started < 5
    finally:
        writer.execute("ROLLBACK")
    assert Customer.select().where(Customer.name == "Came Later").exists()
    # a writer that lets go in time is waited for
    writer.execute("BEGIN IMMEDIATE")
    threading.Timer(0.3, lambda: writer.execute("ROLLBACK")).start()
    backup.restore_database(admin, saved.path, timeout=10)
    writer.close()
    assert not Customer.select().where(Customer.name == "Came Later").exists()


def test_a_backup_of_another_page_size_is_restored(admin, saved):
    connection = sqlite3.connect(saved.path, isolation_level=None)
    connection.execute("PRAGMA page_size = 8192")
    connection.execute("VACUUM")
    assert connection.execute("PRAGMA page_size").fetchone()[0] == 8192
    connection.close()
    backup.restore_database(admin, saved.path)
    assert [c.name for c in Customer.select().order_by(Customer.name)] == [
        "Acme Rental A/S", "Boreal Lift Ltd"]


def test_copies_aside_never_overwrite_each_other(db_path):
    first = backup.stamped_copy_path(db_path, "before-restore")
    first.write_text("x")
    second = backup.stamped_copy_path(db_path, "before-restore")
    assert second != first and second.name.endswith("-2.bak")


# --- file modes (README "On a shared server") -------------------------------------------

def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("shared", [False, True])
def test_backups_are_private_or_shared_like_the_folder_they_are_in(admin, shop, tmp_path,
                                                                   shared):
    folder = tmp_path / "backups"
    folder.mkdir()
    if shared:
        os.chmod(folder, 0o2775)
    report = backup.backup_database(admin, folder / "b.db")
    file_mode, folder_mode = (0o660, 0o2770) if shared else (0o600, 0o700)
    assert mode(report.path) == file_mode
    assert mode(report.files_dir) == folder_mode
    blobs = [p for p in report.files_dir.rglob("*")]
    assert blobs and all(mode(p) == (folder_mode if p.is_dir() else file_mode) for p in blobs)


@pytest.mark.parametrize("shared", [False, True])
def test_what_a_restore_writes_beside_the_database_gets_its_folders_modes(admin, saved, db,
                                                                          db_path, shared):
    if shared:
        os.chmod(db_path.parent, stat.S_IMODE(db_path.parent.stat().st_mode) | stat.S_ISGID)
    shutil.rmtree(db.files_dir)  # the restore brings the document's file back
    report = backup.restore_database(admin, saved.path)
    file_mode, folder_mode = (0o660, 0o2770) if shared else (0o600, 0o700)
    assert mode(report.safety_copy) == file_mode
    added = [p for p in db.files_dir.rglob("*")]
    assert mode(db.files_dir) == folder_mode
    assert added and all(mode(p) == (folder_mode if p.is_dir() else file_mode) for p in added)
