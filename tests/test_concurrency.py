"""Several operators on one database, each a real process (tests/stress/worker.py). The race
and the stress run on both backends ([sqlite], [postgresql]); the lock tests that hold
SQLite's own locks are sqlite_only (PostgreSQL's writer lock: tests/test_postgres_backend.py).

* No lost update: two processes read the same version of a record and both save; one
  save wins, the other is refused with Conflict, the file holds the winner's values.
  For every editable record type.
* Stress: 8 processes doing mixed operations (tests/stress/stress.py checks every
  promise; see its docstring). $CLIENTBOOK_STRESS_OPS operations per process (60 here;
  the figures of the full 8 x 500 run come from ``python -m tests.stress.stress``),
  $CLIENTBOOK_STRESS_PROCESSES processes (8).
* Locks: a write waits for another program's lock with backoff and then saves; a lock
  held past the lock timeout gives one sentence naming the file, in the domain and
  through the installed command, and nothing is saved.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import ContactDraft, CustomerDraft
from tests.stress.stress import ROOT, stress_run
from tests.test_cli import CLIENTBOOK, assert_error, assert_ok, clientbook
from tui.domain.database import DatabaseLocked, open_database
from tui.domain.errors import DatabaseError
from tui.domain.models import AuditEvent, Customer
from tui.domain.services.contacts import add_contact
from tui.domain.services.customers import get_customer, update_customer
from tui.domain.services.documents import add_document
from tui.domain.services.estimates import EstimateDraft, LineDraft, create_estimate
from tui.domain.services.projects import ProjectDraft, create_project

pytestmark = pytest.mark.both_backends

STRESS_OPS = int(os.environ.get("CLIENTBOOK_STRESS_OPS", "60"))
STRESS_PROCESSES = int(os.environ.get("CLIENTBOOK_STRESS_PROCESSES", "8"))


def worker(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.stress.worker", *args], cwd=ROOT,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_for_files(paths, children, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not all(Path(p).exists() for p in paths):
        for child in children:
            assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline, "the workers did not get ready"
        time.sleep(0.01)


def read_log(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# ------------------------------------------------------------------------ no lost update

def _record(entity: str, admin, make_customer, make_machine):
    """A record of ``entity`` to fight over: (model, id, column holding the saved value)."""
    from tui.domain.models import AdminDocument, Contact, Equipment, Estimate, Project

    customer = make_customer("Race Tools ApS")
    if entity == "customer":
        return Customer, customer.id, "name"
    if entity == "contact":
        return Contact, add_contact(admin, customer.id, ContactDraft(name="Ann Race")).id, "name"
    if entity == "equipment":
        return Equipment, make_machine("RACE-1", name="Dumper").id, "name"
    if entity == "document":
        return AdminDocument, add_document(admin, customer.id, "Contract 2025", "contract").id, \
            "title"
    if entity == "estimate":
        made = create_estimate(admin, EstimateDraft(customer_id=customer.id, title="Hire",
                                                    lines=(LineDraft("Work", "1", "100"),)))
        return Estimate, made.id, "title"
    if entity == "project":
        return Project, create_project(admin, customer.id, ProjectDraft(name="Bridge")).id, "name"
    raise AssertionError(entity)


@pytest.mark.parametrize("entity", ["customer", "contact", "equipment", "document", "estimate",
                                    "project"])
def test_two_processes_save_the_same_version_one_wins_the_other_gets_a_conflict(
        entity, db, db_target, tmp_path, admin, make_customer, make_machine):
    model, key, column = _record(entity, admin, make_customer, make_machine)
    read_version = model.get_by_id(key).version
    audited = AuditEvent.select().where(AuditEvent.entity == entity, AuditEvent.entity_id == key,
                                        AuditEvent.action == "update").count()
    go = tmp_path / "go"
    names = ("alice", "bruno")
    logs = {name: tmp_path / f"{name}.jsonl" for name in names}
    ready = {name: tmp_path / f"{name}.ready" for name in names}
    children = [worker("race", str(db_target), str(logs[name]), "--login", name, "--entity", entity,
                       "--id", str(key), "--value", f"Saved by {name}", "--ready",
                       str(ready[name]), "--go", str(go)) for name in names]
    wait_for_files(ready.values(), children)
    # Both have read the record, at the same version, before either saves.
    assert [int(ready[name].read_text()) for name in names] == [read_version, read_version]
    go.touch()
    for child in children:
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, (out, err)
    results = {name: read_log(logs[name])[0] for name in names}
    winners = [name for name in names if results[name]["ok"]]
    losers = [name for name in names if not results[name]["ok"]]
    assert len(winners) == 1 and len(losers) == 1, results
    assert results[losers[0]].get("refused") == "Conflict", results
    row = model.get_by_id(key)
    assert getattr(row, column) == f"Saved by {winners[0]}"
    assert row.version == read_version + 1 == results[winners[0]]["version"]
    # The winner's save is audited once; the refused one left no trace.
    events = list(AuditEvent.select().where(AuditEvent.entity == entity,
                                            AuditEvent.entity_id == key,
                                            AuditEvent.action == "update"))
    assert len(events) == audited + 1
    assert events[-1].login == winners[0]


# ------------------------------------------------------------------------ stress

def test_eight_processes_of_mixed_operations_lose_nothing_and_never_see_a_lock(
        tmp_path, backend, fresh_target):
    target = fresh_target() if backend == "postgresql" else None  # SQLite: a new file
    figures = stress_run(tmp_path, STRESS_PROCESSES, STRESS_OPS, target=target)  # asserts all
    print(json.dumps(figures, indent=2))
    assert figures["gave_up"] == 0
    assert figures["operations"] == STRESS_PROCESSES * STRESS_OPS  # each logged once
    # The mix really ran: every kind of operation succeeded somewhere.
    assert set(figures["by_op"]) == {"create", "edit", "contact", "assign", "unassign",
                                     "delete"}, figures["by_op"]


# ------------------------------------------------------------------------ ids reused

def test_a_stale_save_of_a_deleted_customer_never_lands_on_a_new_one(admin, make_customer):
    """Schema 6 (AUTOINCREMENT): the newest customer's id, once deleted, is not given again."""
    from tui.domain.errors import NotFound
    from tui.domain.services.customers import delete_customer

    alpha = make_customer("Alpha Hire ApS")
    seen = get_customer(admin, alpha.id)  # operator 1 opens Alpha
    delete_customer(admin, alpha.id)  # operator 2 deletes it
    bravo = make_customer("Bravo Lifts ApS")  # operator 3 creates another
    assert bravo.id > alpha.id
    with pytest.raises(NotFound):
        update_customer(admin, alpha.id, seen.version,
                        replace(CustomerDraft.from_customer(seen), name="Alpha renamed"))
    with pytest.raises(NotFound):  # nor does a stale delete
        delete_customer(admin, alpha.id, expected_version=seen.version)
    assert Customer.get_by_id(bravo.id).name == "Bravo Lifts ApS"
    assert Customer.get_by_id(bravo.id).version == 1


# ------------------------------------------------------------------------ locks

class Locker:
    """Another program holding the database's write lock (BEGIN EXCLUSIVE) until released."""

    def __init__(self, path: Path, *, exclusive_mode: bool = False):
        self.connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        if exclusive_mode:  # keeps readers out too, as a rollback-journal writer would
            self.connection.execute("PRAGMA locking_mode = EXCLUSIVE")
        self.connection.execute("BEGIN EXCLUSIVE")
        if exclusive_mode:
            self.connection.execute("UPDATE customer SET notes = notes")

    def release(self) -> None:
        self.connection.rollback()
        self.connection.close()

    def release_after(self, seconds: float) -> threading.Timer:
        timer = threading.Timer(seconds, self.release)
        timer.start()
        return timer


@pytest.mark.sqlite_only
def test_a_save_waits_for_a_short_lock_then_goes_through(db, db_path, admin, make_customer):
    customer = make_customer("Patient Cranes ApS")
    before = db.lock_stats.retries
    timer = Locker(db_path).release_after(0.6)
    started = time.monotonic()
    saved = update_customer(admin, customer.id, customer.version,
                            replace(CustomerDraft.from_customer(customer), name="Patient Ltd"))
    waited = time.monotonic() - started
    timer.join()
    assert saved.name == "Patient Ltd" and saved.version == customer.version + 1
    assert 0.5 < waited < 5, waited
    assert db.lock_stats.retries > before  # it polled with backoff while the lock was held
    assert db.lock_stats.max_wait >= 0.5


def rollback_journal_database(path: Path, lock_timeout: float):
    """A ClientbookDatabase on a file without WAL (as on a file system where WAL cannot
    work): there a writer keeps readers out and a COMMIT waits for readers, so the
    retries of a lone statement and of COMMIT are needed, and can be seen."""
    from tui.domain.database import ClientbookDatabase

    database = ClientbookDatabase(str(path), pragmas={"journal_mode": "delete"}, timeout=0.1,
                                  lock_type="IMMEDIATE", lock_timeout=lock_timeout)
    database.execute_sql("CREATE TABLE t (x INTEGER)")
    return database


@pytest.mark.sqlite_only
def test_a_statement_outside_a_transaction_waits_for_a_writer_to_finish(tmp_path):
    database = rollback_journal_database(tmp_path / "plain.db", lock_timeout=10)
    try:
        locker = sqlite3.connect(tmp_path / "plain.db", isolation_level=None,
                                 check_same_thread=False)
        locker.execute("BEGIN EXCLUSIVE")  # without WAL this keeps readers out
        timer = threading.Timer(0.5, locker.close)  # closing ends its transaction
        timer.start()
        started = time.monotonic()
        assert database.execute_sql("SELECT count(*) FROM t").fetchone() == (0,)
        timer.join()
        assert time.monotonic() - started > 0.4
        assert database.lock_stats.retries > 0
    finally:
        database.close()


@pytest.mark.sqlite_only
@pytest.mark.parametrize("reader_stays", [0.5, None], ids=["reader-leaves", "reader-stays"])
def test_a_busy_commit_is_tried_again_and_else_rolled_back(tmp_path, reader_stays):
    database = rollback_journal_database(tmp_path / "plain.db", lock_timeout=1.5)
    reader = sqlite3.connect(tmp_path / "plain.db", isolation_level=None, check_same_thread=False)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM t").fetchall()  # holds a shared lock until COMMIT
        if reader_stays:
            threading.Timer(reader_stays, lambda: reader.execute("COMMIT")).start()
        started = time.monotonic()
        if reader_stays:
            with database.atomic():
                database.execute_sql("INSERT INTO t VALUES (1)")
            assert database.lock_stats.retries > 0
        else:
            with pytest.raises(DatabaseLocked, match="held by another program"):
                with database.atomic():
                    database.execute_sql("INSERT INTO t VALUES (1)")
            assert 1.4 < time.monotonic() - started < 4
            reader.execute("COMMIT")
        assert not database.in_transaction()
        rows = database.execute_sql("SELECT count(*) FROM t").fetchone()[0]
        assert rows == (1 if reader_stays else 0)  # committed, or rolled back whole
    finally:
        reader.close()
        database.close()


@pytest.mark.sqlite_only
def test_a_lock_held_too_long_is_one_clear_sentence_and_nothing_is_saved(db_path, config):
    from tests.conftest import actor_for
    from tui.domain.context import Context

    db = open_database(db_path, create=True, lock_timeout=0.8)
    try:
        ctx = Context(db, config, actor_for(config, "administrator", "boss"))
        from tui.domain.services.customers import create_customer

        customer = create_customer(ctx, CustomerDraft(name="Stuck Hire", billing_country="DK"))
        locker = Locker(db_path)
        started = time.monotonic()
        try:
            with pytest.raises(DatabaseLocked) as caught:
                update_customer(ctx, customer.id, customer.version,
                                replace(CustomerDraft.from_customer(customer), name="Never"))
        finally:
            locker.release()
        waited = time.monotonic() - started
        assert 0.7 < waited < 2.5, waited  # bounded by the lock timeout, not SQLite's 5 s
        message = str(caught.value)
        assert isinstance(caught.value, DatabaseError)
        assert str(db_path) in message and "held by another program" in message
        assert "nothing was saved" in message and "\n" not in message
        assert Customer.get_by_id(customer.id).name == "Stuck Hire"
        # The same session saves once the other program has let go.
        saved = update_customer(ctx, customer.id, customer.version,
                                replace(CustomerDraft.from_customer(customer), name="Freed"))
        assert saved.version == customer.version + 1
        assert db.lock_stats.gave_up == 1
    finally:
        db.close()


@pytest.mark.sqlite_only
@pytest.mark.skipif(not CLIENTBOOK.is_file(), reason="the clientbook command is not installed")
def test_the_command_reports_a_lock_held_past_the_timeout_in_one_line(tmp_path):
    db = tmp_path / "shared.db"
    assert_ok(clientbook("init", db=db, home=tmp_path))
    locker = Locker(db)
    try:
        started = time.monotonic()
        result = clientbook("users", "add", "dave", "--role", "limited", db=db, home=tmp_path,
                            CLIENTBOOK_LOCK_TIMEOUT="1")
        waited = time.monotonic() - started
        line = assert_error(result, str(db), "held by another program", "nothing was saved")
        assert "Traceback" not in result.stderr and "database is locked" not in line
        assert waited < 10, waited
        # Reading is not blocked by a writer (WAL): the list works meanwhile.
        assert_ok(clientbook("users", "list", db=db, home=tmp_path, CLIENTBOOK_LOCK_TIMEOUT="1"))
    finally:
        locker.release()
    assert_ok(clientbook("users", "add", "dave", "--role", "limited", db=db, home=tmp_path))


@pytest.mark.sqlite_only
@pytest.mark.skipif(not CLIENTBOOK.is_file(), reason="the clientbook command is not installed")
@pytest.mark.parametrize("value", ["soon", "0", "-3", "99999"])
def test_a_bad_lock_timeout_setting_is_named(tmp_path, value):
    db = tmp_path / "x.db"
    assert_ok(clientbook("init", db=db, home=tmp_path))
    assert_error(clientbook("users", "list", db=db, home=tmp_path, CLIENTBOOK_LOCK_TIMEOUT=value),
                 "CLIENTBOOK_LOCK_TIMEOUT", value)


def test_backoff_grows_is_capped_and_jittered():
    import random

    from tui.domain.database import BACKOFF_LONGEST_SECONDS, backoff_seconds

    rng = random.Random(7)
    pauses = [backoff_seconds(attempt, rng) for attempt in range(1, 12)]
    assert pauses[0] < pauses[3] < pauses[6]  # exponential at first ...
    assert all(BACKOFF_LONGEST_SECONDS / 2 <= p <= BACKOFF_LONGEST_SECONDS for p in pauses[6:])
    assert len({round(p, 6) for p in pauses[6:]}) > 1  # ... then capped, with jitter
