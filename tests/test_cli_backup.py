"""``clientbook backup`` and ``clientbook restore``: in-process through the module's own parser,
and as the installed command once tui/cli/__init__.py registers the module."""

from __future__ import annotations

import argparse
import json
import os
import pty
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.test_cli import CLIENTBOOK, ME, assert_error, assert_ok, cli_env, clientbook
from tests.test_database import make_version_one
from tui.cli import backup as backup_cli
from tui.cli.output import EXIT_ERROR, EXIT_OK
from tui.domain.config import load_config
from tui.domain.context import Context
from tui.domain.database import HISTORY_TABLE, open_database
from tui.domain.errors import ClientbookError, PermissionDenied
from tui.domain.models import AuditEvent, Customer
from tui.domain.services import documents, users
from tui.domain.services.customers import CustomerDraft, create_customer
from tests.conftest import actor_for


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="clientbook")
    backup_cli.add_commands(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def cli(ctx, *argv: str) -> int:
    return backup_cli.run(ctx, parse(*argv))


@pytest.fixture
def filled(admin, make_customer, tmp_path):
    customer = make_customer("Acme Rental A/S")
    paper = tmp_path / "terms.txt"
    paper.write_text("the terms")
    documents.add_document(admin, customer.id, "Terms", "contract", paper)
    return customer


# --- in-process, through the module's parser ----------------------------------------------

def test_backup_prints_where_how_big_and_how_many(admin, filled, tmp_path, capsys):
    target = tmp_path / "b.db"
    assert cli(admin, "backup", str(target)) == EXIT_OK
    out = capsys.readouterr()
    assert out.err == ""
    assert f"to {target}:" in out.out and "integrity check ok" in out.out
    assert f"1 document file (9 B) in {target}.files" in out.out
    lines = {line.split()[0]: line.split()[-1] for line in out.out.splitlines()[2:]}
    assert lines["Customers"] == "1" and lines["Documents"] == "1"


def test_backup_json(admin, filled, tmp_path, capsys):
    assert cli(admin, "backup", "--json", str(tmp_path / "b.db")) == EXIT_OK
    report = json.loads(capsys.readouterr().out)
    assert report["counts"]["customers"] == 1 and report["files"] == 1
    assert report["size"] == (tmp_path / "b.db").stat().st_size


def test_backup_refuses_an_existing_file_unless_forced(admin, filled, tmp_path, capsys):
    target = tmp_path / "b.db"
    target.write_text("keep me")
    with pytest.raises(ClientbookError, match="already exists"):
        cli(admin, "backup", str(target))
    assert target.read_text() == "keep me"
    assert cli(admin, "backup", "--force", str(target)) == EXIT_OK


@pytest.fixture
def saved(admin, filled, tmp_path, capsys):
    target = tmp_path / "saved.db"
    assert cli(admin, "backup", str(target)) == EXIT_OK
    create_customer(admin, CustomerDraft(name="Came Later", billing_country="DK"))
    capsys.readouterr()
    return target


def customer_names() -> list[str]:
    return [c.name for c in Customer.select().order_by(Customer.name)]


def test_restore_off_a_terminal_needs_yes(admin, saved, monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    with pytest.raises(ClientbookError, match="confirm with --yes. Nothing was restored"):
        cli(admin, "restore", str(saved))
    assert customer_names() == ["Acme Rental A/S", "Came Later"]


@pytest.mark.parametrize("answer,restored", [("n", False), ("", False), ("y", True),
                                             ("yes", True), (EOFError, False)])
def test_restore_at_a_terminal_asks_first(admin, saved, monkeypatch, capsys, answer, restored):
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    asked = []

    def reply(question):
        asked.append(question)
        if answer is EOFError:
            raise EOFError
        return answer

    monkeypatch.setattr("builtins.input", reply)
    code = cli(admin, "restore", str(saved))
    out = capsys.readouterr()
    assert asked == ["Restore? [y/N] "]
    assert f"Restore {saved} (saved " in out.out and "Everything changed since" in out.out
    table = {line.split()[0]: line.split()[1:] for line in out.out.splitlines()
             if line.startswith("Customers")}
    assert table["Customers"] == ["2", "1"]  # now, after the restore
    if restored:
        assert code == EXIT_OK and customer_names() == ["Acme Rental A/S"]
        assert "kept in" in out.out
    else:
        assert code == EXIT_ERROR and out.err == "clientbook: nothing was restored.\n"
        assert customer_names() == ["Acme Rental A/S", "Came Later"]


def test_restore_with_yes_reports_before_and_after(admin, saved, monkeypatch, capsys, db_path):
    monkeypatch.setattr("builtins.input", lambda q: pytest.fail("asked despite --yes"))
    assert cli(admin, "restore", "--yes", str(saved)) == EXIT_OK
    out = capsys.readouterr().out
    copy = next(db_path.parent.glob("clientbook.db.before-restore-*.bak"))
    assert f"Restored {saved} into {db_path}." in out and f"kept in {copy}" in out
    assert customer_names() == ["Acme Rental A/S"]


@pytest.mark.parametrize("role", ["fleet_administrator", "limited"])
def test_restore_is_refused_before_any_question(as_role, saved, monkeypatch, role):
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda q: pytest.fail("asked a user who may not"))
    with pytest.raises(PermissionDenied, match="restore backups"):
        cli(as_role(role), "restore", "--yes", str(saved))
    assert customer_names() == ["Acme Rental A/S", "Came Later"]


def test_missing_files_name_the_way_out(admin, saved, db, capsys):
    shutil.rmtree(saved.with_name("saved.db.files"))
    shutil.rmtree(db.files_dir)
    with pytest.raises(ClientbookError, match="--allow-missing-files"):
        cli(admin, "restore", "--yes", str(saved))
    assert cli(admin, "restore", "--yes", "--allow-missing-files", str(saved)) == EXIT_OK
    assert customer_names() == ["Acme Rental A/S"]


def test_an_older_backup_says_it_was_upgraded(admin, filled, tmp_path, capsys):
    old = tmp_path / "v1.db"
    make_version_one(old)
    assert cli(admin, "restore", "--yes", str(old)) == EXIT_OK
    assert "upgraded from schema 1" in capsys.readouterr().out
    assert customer_names() == ["Legacy Kran ApS"]


# --- the installed command ------------------------------------------------------------------

def _registered() -> bool:
    if not CLIENTBOOK.is_file():
        return False
    result = subprocess.run([str(CLIENTBOOK), "backup", "--help"], capture_output=True,
                            text=True, timeout=60, env={**os.environ, "CLIENTBOOK_LANG": "en"})
    return result.returncode == 0


installed = pytest.mark.skipif(
    not _registered(), reason="`clientbook backup --help` fails: tui/cli/backup.py is not "
                              "registered in tui/cli/__init__.py yet")


@pytest.fixture
def live(tmp_path) -> Path:
    """A database made by ``clientbook init`` (I administer it) holding one customer."""
    path = tmp_path / "live.db"
    assert_ok(clientbook("init", db=path, home=tmp_path))
    config = load_config()
    db = open_database(path)
    try:
        ctx = Context(db, config, actor_for(config, "administrator", ME))
        create_customer(ctx, CustomerDraft(name="Acme Rental A/S", billing_country="DK"))
    finally:
        db.close()
    return path


def run_sql(path: Path, sql: str, *params) -> list[tuple]:
    connection = sqlite3.connect(path)
    try:
        rows = connection.execute(sql, params).fetchall()
        connection.commit()
        return rows
    finally:
        connection.close()


@installed
def test_backup_and_restore_end_to_end(live, tmp_path):
    target = tmp_path / "monday.db"
    out = assert_ok(clientbook("backup", str(target), db=live, home=tmp_path)).stdout
    assert "integrity check ok" in out and "Customers" in out
    assert_error(clientbook("backup", str(target), db=live, home=tmp_path),
                 "already exists", "--force")
    assert_ok(clientbook("backup", "--force", str(target), db=live, home=tmp_path))
    run_sql(live, "UPDATE customer SET name = 'Changed'")
    assert_error(clientbook("restore", str(target), db=live, home=tmp_path), "--yes")
    assert run_sql(live, "SELECT name FROM customer") == [("Changed",)]
    out = assert_ok(clientbook("restore", "--yes", str(target), db=live, home=tmp_path)).stdout
    assert "before-restore" in out
    assert run_sql(live, "SELECT name FROM customer") == [("Acme Rental A/S",)]
    assert run_sql(live, "SELECT login, action FROM audit_event ORDER BY id DESC LIMIT 1") == [
        (ME, "restore")]
    copies = list(tmp_path.glob("live.db.before-restore-*.bak"))
    assert len(copies) == 1 and run_sql(copies[0], "SELECT name FROM customer") == [("Changed",)]


@installed
def test_backup_while_another_process_is_writing(live, tmp_path):
    writer = sqlite3.connect(live, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE customer SET name = 'Uncommitted'")
    try:
        assert_ok(clientbook("backup", str(tmp_path / "b.db"), db=live, home=tmp_path))
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert run_sql(tmp_path / "b.db", "SELECT name FROM customer") == [("Acme Rental A/S",)]


@installed
def test_restore_refusals_are_one_line(live, tmp_path):
    target = tmp_path / "b.db"
    assert_ok(clientbook("backup", str(target), db=live, home=tmp_path))
    newer = tmp_path / "newer.db"
    shutil.copyfile(target, newer)
    run_sql(newer, f"INSERT INTO {HISTORY_TABLE} (name, applied) VALUES ('0099_x', '2030-01-01')")
    assert_error(clientbook("restore", "--yes", str(newer), db=live, home=tmp_path),
                 "newer Clientbook", "schema 99")
    (tmp_path / "notes.txt").write_text("not a database at all" * 100)
    assert_error(clientbook("restore", "--yes", str(tmp_path / "notes.txt"), db=live,
                            home=tmp_path), "not a Clientbook backup")
    assert_error(clientbook("restore", "--yes", str(live), db=live, home=tmp_path),
                 "the database itself")
    # once I am no longer an administrator
    config = load_config()
    db = open_database(live)
    try:
        ctx = Context(db, config, actor_for(config, "administrator", ME))
        users.add_user(ctx, "deputy", "administrator")
        users.set_role(ctx, ME, "account_owner")
    finally:
        db.close()
    assert_error(clientbook("restore", "--yes", str(target), db=live, home=tmp_path),
                 "not allowed to restore backups")
    assert run_sql(live, "SELECT count(*) FROM customer") == [(1,)]
    assert not list(tmp_path.glob("live.db.before-restore-*"))


@installed
def test_an_older_backup_is_upgraded_by_the_command(live, tmp_path):
    old = tmp_path / "v1.db"
    make_version_one(old)
    out = assert_ok(clientbook("restore", "--yes", str(old), db=live, home=tmp_path)).stdout
    assert "upgraded from schema 1" in out
    assert run_sql(live, "SELECT name FROM customer") == [("Legacy Kran ApS",)]


@installed
def test_the_question_at_a_real_terminal(live, tmp_path):
    target = tmp_path / "b.db"
    assert_ok(clientbook("backup", str(target), db=live, home=tmp_path))
    run_sql(live, "UPDATE customer SET name = 'Changed'")
    for answer, expected in ((b"n\n", [("Changed",)]), (b"y\n", [("Acme Rental A/S",)])):
        controller, terminal = pty.openpty()
        process = subprocess.Popen(
            [str(CLIENTBOOK), "--db", str(live), "restore", str(target)], stdin=terminal,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env(tmp_path))
        os.close(terminal)
        os.write(controller, answer)
        out, err = process.communicate(timeout=60)
        os.close(controller)
        assert b"Restore? [y/N]" in out, (out, err)
        assert process.returncode == (0 if answer == b"y\n" else 1), err
        assert run_sql(live, "SELECT name FROM customer") == expected


def test_audit_of_the_restore_names_the_backup(admin, saved):
    cli(admin, "restore", "--yes", str(saved))
    row = AuditEvent.select().order_by(AuditEvent.id.desc()).get()
    assert (row.action, row.entity, row.after["backup"]) == ("restore", "database", str(saved))
