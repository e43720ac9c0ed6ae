"""The database file survives what happens to the programs using it.

* A process killed (SIGKILL) in the middle of a save, an import batch or a customer
  delete leaves a consistent file: ``PRAGMA integrity_check`` ok, no foreign key
  broken, the invariants hold, and each operation is there whole or not at all. There
  is no hook to stop a process inside a transaction, so a real process (tests/stress/
  worker.py, or the installed ``clientbook import``) loops over the operation and is
  killed at a random moment, several times; the workers log ``begin`` before each
  operation, so a kill between ``begin`` and the operation's line was in its middle.
* Paths the database cannot be used at: a read-only file, a read-only folder (SQLite
  writes -wal and -shm beside the file): one line, exit 1, no traceback, through the
  installed command. (A missing folder and a path that is a folder: tests/test_cli.py;
  a lock held past the timeout: tests/test_concurrency.py.)
* Modes: the database is its creator's alone (0600) in an ordinary folder, the group's
  too (0660) in a shared set-group-ID folder, whatever the umask; so are -wal and -shm.
"""

from __future__ import annotations

import csv
import os
import random
import signal
import sqlite3
import stat
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import ContactDraft, CustomerDraft, actor_for
from tests.test_cli import CLIENTBOOK, assert_error, assert_ok, cli_env, clientbook
from tests.test_concurrency import read_log, worker
from tui.domain.context import Context
from tui.domain.database import open_database

ROUNDS = int(os.environ.get("CLIENTBOOK_CRASH_ROUNDS", "4"))
needs_cli = pytest.mark.skipif(not CLIENTBOOK.is_file(),
                               reason="the clientbook command is not installed")


def rows(db_path: Path, sql: str, *params) -> list[tuple]:
    connection = sqlite3.connect(db_path)
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def value(db_path: Path, sql: str, *params):
    return rows(db_path, sql, *params)[0][0]


def assert_consistent(db_path: Path) -> None:
    """What must hold after any crash, whatever was running."""
    assert rows(db_path, "PRAGMA integrity_check") == [("ok",)]
    assert rows(db_path, "PRAGMA foreign_key_check") == []
    assert rows(db_path, "SELECT equipment_id FROM assignment WHERE unassigned_at IS NULL "
                         "GROUP BY equipment_id HAVING count(*) > 1") == []
    assert value(db_path, "SELECT count(*) FROM contact k LEFT JOIN customer c "
                          "ON c.id = k.customer_id WHERE c.id IS NULL") == 0
    assert value(db_path, "SELECT count(*) FROM assignment a LEFT JOIN customer c "
                          "ON c.id = a.customer_id WHERE a.unassigned_at IS NULL "
                          "AND c.id IS NULL") == 0


def new_database(path: Path, config) -> Context:
    return Context(open_database(path, create=True), config,
                   actor_for(config, "administrator", "boss"))


def kill_while_looping(db_path: Path, log: Path, op: str, seed: int, delay: float) -> list[dict]:
    """Start a worker looping over ``op``; SIGKILL it ``delay`` s after it opened the file."""
    child = worker("loop", str(db_path), str(log), "--op", op, "--seed", str(seed),
                   "--login", f"killed{seed}")
    deadline = time.monotonic() + 60
    while not (log.exists() and log.read_text()):
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline, "the worker did not start"
        time.sleep(0.01)
    time.sleep(delay)
    assert child.poll() is None, ("the worker ended before it was killed", child.communicate())
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL
    records = read_log(log)
    log.unlink()
    return records


def in_flight(records: list[dict]) -> bool:
    return records[-1]["op"] == "begin"


# ------------------------------------------------------------------------ killed mid-save

def test_killed_while_saving_customers_with_contacts(tmp_path, config):
    db_path = tmp_path / "saves.db"
    new_database(db_path, config).db.close()
    baseline = value(db_path, "SELECT count(*) FROM audit_event")
    rng = random.Random()
    logged_creates, logged_edits, middles = set(), set(), 0
    for round_ in range(ROUNDS):
        records = kill_while_looping(db_path, tmp_path / "save.jsonl", "save", round_,
                                     rng.uniform(0.05, 0.5))
        middles += in_flight(records)
        logged_creates |= {r["id"] for r in records if r["op"] == "create"}
        logged_edits |= {r["id"] for r in records if r["op"] == "edit"}
        assert_consistent(db_path)
        customers = rows(db_path, "SELECT id, name, version FROM customer")
        assert logged_creates <= {key for key, _name, _version in customers}
        for key, name, version in customers:
            # Created whole (all five contacts, one audit event) or not at all ...
            assert value(db_path, "SELECT count(*) FROM contact WHERE customer_id = ?",
                         key) == 5, key
            assert value(db_path, "SELECT count(*) FROM audit_event WHERE entity = 'customer' "
                                  "AND entity_id = ? AND action = 'create'", key) == 1
            # ... and edited whole (name, version, audit) or not at all.
            updates = value(db_path, "SELECT count(*) FROM audit_event WHERE entity = "
                                     "'customer' AND entity_id = ? AND action = 'update'", key)
            assert (version, updates, name.startswith("Crash edited")) in (
                (1, 0, False), (2, 1, True)), (key, name, version, updates)
            if key in logged_edits:
                assert version == 2
        audit = value(db_path, "SELECT count(*) FROM audit_event")
        assert audit == baseline + sum(version for _k, _n, version in customers)
    assert logged_creates, "no save finished before the kills: the test proved nothing"
    assert middles >= 1, "no kill landed inside an operation; run again"


# ------------------------------------------------------------------------ killed mid-delete

VICTIMS = 120  # enough that three kills come before the last one is deleted


def test_killed_while_deleting_customers(tmp_path, config):
    from tui.domain.services.customers import create_customer
    from tui.domain.services.documents import add_document
    from tui.domain.services.equipment import EquipmentDraft, add_equipment, assign_equipment
    from tui.domain.services.estimates import EstimateDraft, LineDraft, create_estimate
    from tui.domain.services.projects import ProjectDraft, create_project

    db_path = tmp_path / "deletes.db"
    ctx = new_database(db_path, config)
    victims = {}  # id -> (contacts, documents, projects, estimates, open assignments)
    for number in range(VICTIMS):
        customer = create_customer(ctx, CustomerDraft(
            name=f"Victim {number}", billing_country="DK",
            contacts=tuple(ContactDraft(name=f"Person {number}-{n}") for n in range(3))),
            allow_duplicate=True)
        machine = add_equipment(ctx, EquipmentDraft(serial=f"V-{number:03d}"))
        assign_equipment(ctx, customer.id, [machine.id])
        full = number % 3 == 0  # a third also have a document, a project and an estimate
        if full:
            add_document(ctx, customer.id, f"Contract {number}", "contract")
            create_project(ctx, customer.id, ProjectDraft(name=f"Site {number}"))
            create_estimate(ctx, EstimateDraft(customer_id=customer.id, title=f"Hire {number}",
                                               lines=(LineDraft("Crane", "1", "900"),)))
        victims[customer.id] = (3, int(full), int(full), int(full), 1)
    create_customer(ctx, CustomerDraft(name="Keeper", billing_country="DK"))
    ctx.db.close()
    rng = random.Random()
    logged, middles = set(), 0
    for round_ in range(3):
        records = kill_while_looping(db_path, tmp_path / "delete.jsonl", "delete", round_,
                                     rng.uniform(0.02, 0.15))
        middles += in_flight(records)
        logged |= {r["id"] for r in records if r["op"] == "delete"}
        assert_consistent(db_path)
        alive = {key for (key,) in rows(db_path, "SELECT id FROM customer")}
        assert not logged & alive
        for key, kept in victims.items():
            counts = rows(db_path, """SELECT
                (SELECT count(*) FROM contact WHERE customer_id = :k),
                (SELECT count(*) FROM admin_document WHERE customer_id = :k),
                (SELECT count(*) FROM project WHERE customer_id = :k),
                (SELECT count(*) FROM estimate WHERE customer_id = :k),
                (SELECT count(*) FROM assignment WHERE customer_id = :k
                                                   AND unassigned_at IS NULL),
                (SELECT count(*) FROM assignment WHERE customer_id = :k),
                (SELECT count(*) FROM audit_event WHERE entity = 'customer'
                                                    AND entity_id = :k AND action = 'delete')
                """.replace(":k", str(key)))[0]
            # All of it, or none of it (with the history kept and the deletion audited).
            expected = (*kept, 1, 0) if key in alive else (0, 0, 0, 0, 0, 1, 1)
            assert counts == expected, (key, key in alive, counts)
        unlinked = value(db_path, "SELECT count(*) FROM estimate WHERE customer_id IS NULL")
        assert unlinked == sum(victims[key][3] for key in victims if key not in alive)
    assert logged, "no delete finished before the kills: the test proved nothing"
    assert middles >= 1, "no kill landed inside a delete; run again"


# ------------------------------------------------------------------------ killed mid-import

IMPORT_ROWS = 5000
BATCH = 200


def start_import(db: Path, home: Path, path: Path) -> subprocess.Popen:
    return subprocess.Popen([str(CLIENTBOOK), "--db", str(db), "import", "customers", str(path),
                             "--batch-size", str(BATCH)], env=cli_env(home), cwd=home,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def committed_line(db: Path) -> int:
    try:
        found = rows(db, "SELECT last_line FROM import_job")
    except sqlite3.OperationalError:  # no job table content yet, or busy for a moment
        return 0
    return found[0][0] if found else 0


@needs_cli
def test_killed_in_the_middle_of_an_import_batch(tmp_path):
    db = tmp_path / "import.db"
    assert_ok(clientbook("init", db=db, home=tmp_path))
    source = tmp_path / "customers.csv"
    with source.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["External ID", "Company", "Phone", "City", "Country"])
        out.writerows([f"EXT-{i}", f"Firm {i} ApS", f"+45 21 {i // 100:02d} {i % 100:02d} 00",
                       "Odense", "Denmark"] for i in range(IMPORT_ROWS))
    rng = random.Random()
    before = 0
    for _round in range(2):  # the second run takes the job up, and is killed too
        process = start_import(db, tmp_path, source)
        deadline = time.monotonic() + 60
        while committed_line(db) <= before:  # a batch of this run is in
            assert process.poll() is None, ("the import ended first", process.communicate())
            assert time.monotonic() < deadline, "no batch committed in 60 s"
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.15))  # most likely inside the next batch
        assert process.poll() is None, "the import finished before it could be killed"
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=60)
        assert process.returncode == -signal.SIGKILL
        assert_consistent(db)
        [(job, status, last_line, created)] = rows(
            db, "SELECT id, status, last_line, created FROM import_job")
        customers = value(db, "SELECT count(*) FROM customer")
        # Whole batches only: the job's record and the rows it counts committed together.
        assert customers == created == last_line - 1 and customers % BATCH == 0, (
            customers, created, last_line)
        assert 0 < customers < IMPORT_ROWS
        assert status == "running"  # nobody could record the kill: the next run resumes
        assert value(db, "SELECT count(*) FROM audit_event WHERE entity = 'import_job' "
                         "AND entity_id = ?", job) == 1
        assert value(db, "SELECT count(DISTINCT external_id) FROM customer") == customers
        before = last_line


# ------------------------------------------------------------------------ unusable paths

def _immutable(path: Path, on: bool) -> bool:
    result = subprocess.run(["chattr", "+i" if on else "-i", str(path)], capture_output=True)
    return result.returncode == 0


@needs_cli
@pytest.mark.parametrize("what", ["file", "folder"])
def test_a_read_only_database_or_folder_is_one_clear_line(tmp_path, what):
    """Root writes through modes, so under root the file or folder is made immutable
    (chattr +i), which binds root too; without chattr support the test is skipped."""
    folder = tmp_path / "data"
    folder.mkdir()
    db = folder / "ro.db"
    assert_ok(clientbook("init", db=db, home=tmp_path))
    before = db.read_bytes()
    target = db if what == "file" else folder
    as_root = os.geteuid() == 0
    if as_root:
        if not _immutable(target, True):
            pytest.skip("running as root and chattr +i is not supported here: a read-only "
                        "file would still be writable for root")
    else:
        target.chmod(0o444 if what == "file" else 0o555)
    try:
        for args in (("users", "list"), ("users", "add", "eve", "--role", "limited")):
            result = clientbook(*args, db=db, home=tmp_path)
            if what == "file":
                assert_error(result, str(db), "read-only for you")
            else:
                assert_error(result, str(folder), "read-only for you", "-wal")
            assert "Traceback" not in result.stderr
    finally:
        if as_root:
            _immutable(target, False)
        else:
            target.chmod(0o600 if what == "file" else 0o700)
    assert db.read_bytes() == before


@needs_cli
def test_a_read_only_file_system_is_one_clear_line(tmp_path):
    """The folder bind-mounted read-only in a private mount namespace: honest under root."""
    db = tmp_path / "mounted.db"
    assert_ok(clientbook("init", db=db, home=tmp_path))
    env = cli_env(tmp_path / "home")
    (tmp_path / "home").mkdir()
    script = (f'mount --bind -o ro "{tmp_path}" "{tmp_path}" || exit 77; '
              f'exec "{CLIENTBOOK}" --db "{db}" users list')
    result = subprocess.run(["unshare", "--mount", "--map-root-user", "sh", "-c", script]
                            if os.geteuid() != 0 else ["unshare", "--mount", "sh", "-c", script],
                            env=env, capture_output=True, text=True, timeout=60)
    if result.returncode == 77 or "unshare" in result.stderr:
        pytest.skip(f"no private read-only mount here: {result.stderr.strip()}")
    assert_error(result, str(db), "read-only for you")


# ------------------------------------------------------------------------ modes

def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def run_with_umask(umask: int, *args: str, db: Path | None, home: Path):
    argv = " ".join(f'"{a}"' for a in [str(CLIENTBOOK), *(["--db", str(db)] if db else []),
                                        *args])
    return subprocess.run(["sh", "-c", f"umask {umask:03o}; exec {argv}"], env=cli_env(home),
                          cwd=home, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=120)


@needs_cli
@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077])
def test_init_makes_a_private_data_folder_and_database_whatever_the_umask(tmp_path, umask):
    assert_ok(run_with_umask(umask, "init", db=None, home=tmp_path))
    [db] = tmp_path.rglob("clientbook.db")
    assert mode(db) == 0o600
    assert mode(db.parent) == 0o700  # the default data folder, made for it
    assert db.parent.name == "clientbook"


@needs_cli
def test_the_demo_database_is_private_too(tmp_path):
    result = run_with_umask(0o000, "demo", "--customers", "2", db=None, home=tmp_path)
    assert "Demo database created" in result.stdout, result.stderr  # then: no terminal
    [db] = tmp_path.rglob("demo.db")
    assert (mode(db), mode(db.parent)) == (0o600, 0o700)


@needs_cli
def test_in_a_shared_set_group_id_folder_the_group_may_work_nobody_else(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o2775)  # others could list it: the first init tightens a folder made for it
    db = shared / "team.db"
    assert_ok(run_with_umask(0o000, "init", db=db, home=tmp_path))
    assert mode(db) == 0o660
    assert mode(shared) == 0o2770
    # SQLite makes -wal and -shm with the database's mode, whatever the umask.
    old = os.umask(0)
    try:
        database = open_database(db)
        database.execute_sql("SELECT count(*) FROM customer")
        try:
            assert mode(Path(f"{db}-wal")) == mode(Path(f"{db}-shm")) == 0o660
        finally:
            database.close()
    finally:
        os.umask(old)


@needs_cli
def test_a_folder_with_other_files_is_left_as_it_is(tmp_path):
    folder = tmp_path / "documents"
    folder.mkdir()
    folder.chmod(0o755)
    (folder / "letter.txt").write_text("hello")
    db = folder / "cb.db"
    assert_ok(run_with_umask(0o000, "init", db=db, home=tmp_path))
    assert mode(folder) == 0o755
    assert mode(db) == 0o600


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can hand a folder to someone else")
@needs_cli
def test_someone_elses_shared_folder_is_left_as_it_is(tmp_path):
    folder = tmp_path / "srv"
    folder.mkdir()
    os.chown(folder, 65534, os.getegid())  # an administrator's folder, the group ours
    folder.chmod(0o2775)
    db = folder / "team.db"
    assert_ok(run_with_umask(0o022, "init", db=db, home=tmp_path))
    assert mode(folder) == 0o2775 and folder.stat().st_uid == 65534
    assert mode(db) == 0o660


def test_the_copy_made_before_a_migration_is_as_private_as_the_database(tmp_path):
    from tests.test_database import make_version_one

    target = tmp_path / "old.db"
    make_version_one(target)
    target.chmod(0o640)
    open_database(target).close()
    [backup] = tmp_path.glob("old.db.schema1-*.bak")
    assert mode(backup) == 0o640


def test_document_files_in_a_shared_folder_are_the_groups(tmp_path, config):
    from tui.domain.services.customers import create_customer
    from tui.domain.services.documents import add_document, document_file

    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o2770)
    source = tmp_path / "contract.pdf"
    source.write_bytes(b"%PDF-1.4 a contract")
    old = os.umask(0o022)
    ctx = new_database(shared / "team.db", config)
    try:
        customer = create_customer(ctx, CustomerDraft(name="Shared Hire", billing_country="DK"))
        document = add_document(ctx, customer.id, "Contract", "contract", file=source)
        stored = document_file(ctx, document.id)
        assert mode(shared / "team.db") == 0o660
        assert (mode(ctx.db.files_dir), mode(stored.parent), mode(stored)) == (
            0o2770, 0o2770, 0o660)
    finally:
        ctx.db.close()
        os.umask(old)


def test_document_files_elsewhere_are_their_owners_alone(tmp_path, config):
    """Outside a shared folder the store is private whatever the umask (0 here would give
    0777 folders), and storing the same file again leaves one private copy."""
    from tui.domain.services.customers import create_customer
    from tui.domain.services.documents import add_document, document_file

    source = tmp_path / "insurance.pdf"
    source.write_bytes(b"%PDF-1.4 insurance")
    old = os.umask(0)
    ctx = new_database(tmp_path / "own.db", config)
    try:
        customer = create_customer(ctx, CustomerDraft(name="Private Hire", billing_country="DK"))
        first = add_document(ctx, customer.id, "Insurance", "insurance", file=source)
        again = add_document(ctx, customer.id, "Insurance (copy)", "insurance", file=source)
        stored = document_file(ctx, first.id)
        assert document_file(ctx, again.id) == stored
        assert (mode(ctx.db.files_dir), mode(stored.parent), mode(stored)) == (
            0o700, 0o700, 0o600)
        assert sorted(p.name for p in ctx.db.files_dir.rglob("*") if p.is_file()) == [
            stored.name]  # no temporary file left behind
    finally:
        ctx.db.close()
        os.umask(old)
