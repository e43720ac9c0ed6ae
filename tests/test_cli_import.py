"""``clientbook import`` and ``clientbook export``: the installed command, as a subprocess.

Every test works on a database ``clientbook init`` made (a copy of one), so the
command acts as the OS login of this test, its administrator: an SQLite file, or for
the ``both_backends`` tests' ``[postgresql]`` variants (``--db postgresql://...``) the
test database with that login registered as ``init`` does. Data a test needs before the command runs, and the
"someone else edited it" of the undo test, go through the domain services in-process;
everything under test goes through the command. Interrupting (SIGINT, SIGKILL) uses a
real import of a file big enough to take many batches, with the database polled from
here to know when a batch is in.
"""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import ContactDraft, CustomerDraft, actor_for
from tests.test_cli import (
    CLIENTBOOK,
    ME,
    SHIPPED_CONFIG,
    assert_error,
    assert_ok,
    cli_env,
    clientbook,
    clientbook_each,
    execute,
    init_in_process,
)
from tests.test_export import business_state, parse_vcards
from tests.test_import import state
from tui.domain.config import load_config
from tui.domain.context import Context
from tui.domain.database import is_database_url, open_database

pytestmark = pytest.mark.skipif(not CLIENTBOOK.is_file(),
                                reason="the clientbook console script is not installed")
# The tests where the database does the work (rows written, matched, undone, exported, batches
# committed or rolled back) are both_backends; those refused before the database is touched
# (usage, mapping, files, permissions, the terminal) run once.
both_backends = pytest.mark.both_backends

BIG_ROWS = 5000  # one customer per row: the interrupted imports


# ---------------------------------------------------------------- helpers


class Opened:
    """``with Opened(target) as db``: the database for tests.test_import.state and
    test_export.business_state, closed after."""

    def __init__(self, target: Path | str):
        self.db = open_database(target)

    def __enter__(self):
        return self.db

    def __exit__(self, *exc) -> None:
        self.db.close()


rows = execute


def count(db: Path | str, table: str) -> int:
    return rows(db, f"SELECT count(*) FROM {table}")[0][0]


TABLES = ("customer", "contact", "customer_group", "equipment", "assignment", "import_job",
          "import_item", "audit_event")


def counts(db: Path | str) -> dict[str, int]:
    found = rows(db, "SELECT " + ", ".join(f"(SELECT count(*) FROM {t})" for t in TABLES))[0]
    return dict(zip(TABLES, found))


def jobs(db: Path) -> list[tuple]:
    return rows(db, "SELECT id, status, last_line, created, updated, skipped, rejected "
                    "FROM import_job ORDER BY id")


def write_csv(path: Path, table: list[list[str]], *, delimiter: str = ",",
              encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        csv.writer(handle, delimiter=delimiter).writerows(table)
    return path


def read_csv(path: Path, encoding: str = "utf-8") -> list[list[str]]:
    with path.open(encoding=encoding, newline="") as handle:
        return list(csv.reader(handle))


def importing(what: str, path: Path, *options: str, db: Path, home: Path):
    return clientbook("import", what, str(path), *options, db=db, home=home)


def in_process(db: Path | str):
    """A Context on ``db`` acting as me (administrator); close ``ctx.db`` after."""
    config = load_config()
    return Context(open_database(db), config, actor_for(config, "administrator", ME))


CRM = [["External ID", "Company", "Phone", "E-mail", "City", "Country", "Contact",
        "Contact e-mail", "Notes internes"],
       ["A-1", "Nordic Kran ApS", "+45 20 00 00 01", "info@kran.example", "Vejle", "Denmark",
        "Ann Berg", "ann@kran.example", "x"],
       ["A-1", "Nordic Kran ApS", "+45 20 00 00 01", "info@kran.example", "Vejle", "Denmark",
        "Bo Lund", "bo@kran.example", ""],
       ["A-2", "Levage du Nord", "+33 1 23 45 67 89", "", "Lille", "France", "", "", ""]]


# ---------------------------------------------------------------- fixtures


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("import-template")
    path = home / "template.db"
    assert_ok(clientbook("init", db=path, home=home))
    return path


@pytest.fixture
def db(backend, request, home: Path) -> Path | str:
    """This test's database, as init made it: a copy of the template file, or on PostgreSQL
    the (emptied) test database with me registered."""
    if backend == "postgresql":
        return init_in_process(request.getfixturevalue("db_target"))
    path = home / "clientbook.db"
    shutil.copyfile(request.getfixturevalue("template"), path)
    return path


@pytest.fixture
def crm(home: Path) -> Path:
    return write_csv(home / "crm.csv", CRM)


def fresh_database(backend: str, request, folder: Path) -> Path | str:
    """A new database as init made it, for a module's fixture: a copy of the template
    file in ``folder``, or a new PostgreSQL database."""
    if backend == "postgresql":
        return init_in_process(request.getfixturevalue("postgres_tests").fresh())
    path = folder / "clientbook.db"
    shutil.copyfile(request.getfixturevalue("template"), path)
    return path


@pytest.fixture(scope="module")
def filled(backend, request, tmp_path_factory) -> Path | str:
    """Two customers with contacts, machines held by them and one free: what exports read
    (one SQLite file for the module, whichever tests ask)."""
    if backend == "sqlite":
        return request.getfixturevalue("filled_file")
    return fill(fresh_database(backend, request, tmp_path_factory.mktemp("filled")))


@pytest.fixture(scope="module")
def filled_file(request, tmp_path_factory) -> Path:
    return fill(fresh_database("sqlite", request, tmp_path_factory.mktemp("filled")))


def fill(path: Path | str) -> Path | str:
    from tui.domain.services.customers import create_customer
    from tui.domain.services.equipment import EquipmentDraft, add_equipment, assign_equipment

    ctx = in_process(path)
    try:
        kran = create_customer(ctx, CustomerDraft(
            name="Nordic Kran ApS", billing_country="DK", phone="+45 20 00 00 01", contacts=(
                ContactDraft(name="Ann Berg", email="ann@kran.example", roles=("notify",)),
                ContactDraft(name="Bo Lund", email="bo@kran.example", job_title="Buyer; chief"),
            )))
        nord = create_customer(ctx, CustomerDraft(
            name="Levage du Nord", billing_country="FR", language="fr", contacts=(
                ContactDraft(name="Élodie Martin", email="elodie@levage.example"),)))
        for serial, holder in (("BL-100", kran), ("FR-7", nord), ("FREE-1", None)):
            machine = add_equipment(ctx, EquipmentDraft(serial=serial, name="Lift"))
            if holder is not None:
                assign_equipment(ctx, holder.id, [machine.id])
    finally:
        ctx.db.close()
    return path


@pytest.fixture
def filled_db(filled: Path | str, home: Path) -> Path | str:
    """``filled`` for a test that only reads it (a copy, on SQLite)."""
    if is_database_url(str(filled)):
        return filled
    path = home / "filled.db"
    shutil.copyfile(filled, path)
    return path


# ---------------------------------------------------------------- the plan, the mapping


@both_backends
def test_the_file_and_the_mapping_are_shown_before_importing(db, home, crm):
    result = importing("customers", crm, db=db, home=home)
    assert (result.returncode, result.stderr) == (0, "")
    lines = result.stdout.splitlines()
    assert lines[:12] == [
        f"File: {crm} (UTF-8, comma-separated, 4 lines)",
        "Columns:",
        "  External ID -> external id (external_id)",
        "  Company -> name",
        "  Phone -> phone",
        "  E-mail -> e-mail (email)",
        "  City -> city (billing_city)",
        "  Country -> country (billing_country)",
        "  Contact -> contact name (contact_name)",
        "  Contact e-mail -> contact e-mail (contact_email)",
        "  Notes internes: ignored (not recognised)",
        "1 column ignored: Notes internes",
    ]
    assert lines[12:] == [
        "Customers: 2 created, 0 updated, 0 skipped (0 unchanged)",
        "Contacts: 2 created, 0 updated, 0 skipped (0 unchanged)",
        "0 rows rejected",
        "Job 1 — undo with: clientbook import undo 1",
    ]
    assert sorted(rows(db, "SELECT external_id, name, phone, billing_country FROM customer")) == [
        ("A-1", "Nordic Kran ApS", "+4520000001", "DK"),
        ("A-2", "Levage du Nord", "+33123456789", "FR")]
    assert sorted(rows(db, "SELECT name, email FROM contact")) == [
        ("Ann Berg", "ann@kran.example"), ("Bo Lund", "bo@kran.example")]


def test_a_mapping_that_cannot_work_is_shown_then_stops_in_one_line(db, home):
    path = write_csv(home / "people.csv", [["Contact", "Phone"], ["Ann", "+45 20 00 00 01"]])
    before = counts(db)
    result = importing("customers", path, db=db, home=home)
    assert "  Contact -> contact name (contact_name)" in result.stdout
    assert "Job" not in result.stdout
    assert_error(result, "No column holds the name (name): choose the column that does. "
                         'Name a column with --map "Header=field"')
    assert counts(db) == before


@both_backends
def test_map_names_a_french_header_in_a_windows_file(db, home):
    path = write_csv(home / "clients.csv", [
        ["Société", "Tél", "Ville", "Pays", "Code interne", "Commentaire"],
        ["Société Générale de Levage", "01 23 45 67 89", "Orléans", "France", "FR-001",
         "à rappeler"],
        ["Grues Dupré", "04 56 78 90 12", "Lyon", "France", "FR-002", ""],
    ], delimiter=";", encoding="cp1252")
    result = assert_ok(importing("customers", path, "--map", "Code interne=external_id",
                                 "--map", "Commentaire=notes", "--map", "Tél=phone",
                                 db=db, home=home))
    lines = result.stdout.splitlines()
    assert lines[0] == f"File: {path} (Windows-1252, semicolon-separated, 3 lines)"
    assert lines[1:8] == ["Columns:", "  Société -> name", "  Tél -> phone",
                          "  Ville -> city (billing_city)", "  Pays -> country (billing_country)",
                          "  Code interne -> external id (external_id)",
                          "  Commentaire -> notes"]
    assert sorted(rows(db, "SELECT external_id, name, phone, billing_city, notes "
                           "FROM customer")) == [
        ("FR-001", "Société Générale de Levage", "+33123456789", "Orléans", "à rappeler"),
        ("FR-002", "Grues Dupré", "+33456789012", "Lyon", "")]


BAD_MAPS = {
    "Code interne=numéro_magique": [
        'The mapping "Code interne=numéro_magique" names no field of customers', "external_id"],
    "Colonne absente=notes": ['names the column "Colonne absente", which the file does not '
                              'have (it has: Société, Code interne)'],
    "Code interne": ['Cannot read the mapping "Code interne": write Header=field'],
}


def test_a_bad_map_is_named_and_nothing_is_imported(db, home):
    path = write_csv(home / "clients.csv", [["Société", "Code interne"], ["Grues Dupré", "X"]])
    before = counts(db)
    results = clientbook_each(*(("import", "customers", str(path), "--map", mapping)
                                for mapping in BAD_MAPS), db=db, home=home)
    for result, fragments in zip(results, BAD_MAPS.values()):
        assert_error(result, *fragments)
    assert counts(db) == before


def test_a_file_that_cannot_be_read_is_one_line(db, home):
    (home / "empty.csv").write_text("", encoding="utf-8")
    missing, folder, empty = clientbook_each(
        *(("import", "customers", str(path)) for path in (
            home / "missing.csv", home, home / "empty.csv")), db=db, home=home)
    assert_error(missing, "No file", "missing.csv")
    assert_error(folder, "is a folder")
    assert_error(empty, "is empty")
    assert jobs(db) == []


# ---------------------------------------------------------------- dry run, errors, matching


@both_backends
def test_dry_run_reports_and_changes_nothing(db, home, crm):
    before = counts(db)
    result = assert_ok(importing("customers", crm, "--dry-run", db=db, home=home))
    assert result.stdout.splitlines()[12:] == [
        "Dry run: nothing was changed. The import would do this:",
        "Customers: 2 created, 0 updated, 0 skipped (0 unchanged)",
        "Contacts: 2 created, 0 updated, 0 skipped (0 unchanged)",
        "0 rows rejected"]
    assert counts(db) == before and before["customer"] == 0


@both_backends
def test_bad_rows_go_to_an_error_csv_beside_the_input_and_exit_1(db, home):
    path = write_csv(home / "crm.csv", CRM + [
        ["A-3", "", "+45 20 00 00 03", "", "", "", "", "", ""],  # line 5: no name
        ["A-4", "Bad Phone A/S", "call me", "", "", "Denmark", "", "", "y"],  # line 6
        ["A-5", "Good A/S", "", "not-an-email", "", "", "", "", ""],  # line 7: e-mail
    ])
    result = importing("customers", path, db=db, home=home)
    assert result.returncode == 1
    errors_path = home / "crm.errors.csv"
    assert result.stdout.splitlines()[-2:] == [
        f"3 rows rejected (see {errors_path})", "Job 1 — undo with: clientbook import undo 1"]
    stderr = result.stderr.splitlines()
    assert [line.split(": ", 1)[0] for line in stderr] == [
        f"{path}:5", f"{path}:6", f"{path}:7"]
    assert "Company" in stderr[0] and "Phone" in stderr[1] and "E-mail" in stderr[2]
    table = read_csv(errors_path)
    assert table[0] == ["error_line", "error_field", "error_message", *CRM[0]]
    assert [(r[0], r[1]) for r in table[1:]] == [("5", "Company"), ("6", "Phone"),
                                                ("7", "E-mail")]
    assert table[2][3:] == ["A-4", "Bad Phone A/S", "call me", "", "", "Denmark", "", "", "y"]
    assert "call me" in table[2][2]
    assert sorted(e for (e,) in rows(db, "SELECT external_id FROM customer")) == ["A-1", "A-2"]
    assert jobs(db) == [(1, "done", 7, 4, 0, 0, 3)]

    # the same file through a dry run: same verdict, exit 1, the database untouched
    before = counts(db)
    dry = importing("customers", path, "--dry-run", "--errors", str(home / "dry.csv"),
                    db=db, home=home)
    assert dry.returncode == 1 and "3 rows rejected" in dry.stdout
    assert len(read_csv(home / "dry.csv")) == 4 and counts(db) == before


def test_errors_never_overwrites_the_input_the_database_or_another_file(db, home, crm):
    keep = home / "accounts.csv"
    keep.write_text("my,own\n", encoding="utf-8")
    original = crm.read_bytes()
    before = counts(db)
    same, database, other = clientbook_each(
        *(("import", "customers", str(crm), "--errors", path)
          for path in (f"{home}/./crm.csv", str(db), str(keep))), db=db, home=home)
    assert_error(same, "is the file being imported")
    assert_error(database, "is the database")
    assert_error(other, "exists and is not an error file of an import")
    assert other.stdout == ""  # refused before the plan is printed
    assert crm.read_bytes() == original and keep.read_text(encoding="utf-8") == "my,own\n"
    assert counts(db) == before


@both_backends
def test_running_the_same_file_again_creates_no_duplicate(db, home, crm):
    assert_ok(importing("customers", crm, db=db, home=home))
    before = counts(db)
    again = assert_ok(importing("customers", crm, db=db, home=home))
    assert "Customers: 0 created, 0 updated, 2 skipped (0 unchanged)" in again.stdout
    assert "Contacts: 0 created" in again.stdout
    after = counts(db)
    for table in ("customer", "contact", "equipment"):
        assert after[table] == before[table] == {"customer": 2, "contact": 2,
                                                 "equipment": 0}[table]


@both_backends
def test_on_match_update_changes_what_the_file_gives(db, home, crm):
    assert_ok(importing("customers", crm, db=db, home=home))
    changed = [row[:] for row in CRM]
    changed[3][2] = "+33 9 87 65 43 21"  # Levage du Nord's phone
    path = write_csv(home / "changed.csv", changed)
    skipped = assert_ok(importing("customers", path, db=db, home=home))
    assert "Customers: 0 created, 0 updated, 2 skipped" in skipped.stdout
    assert rows(db, "SELECT phone FROM customer WHERE external_id = 'A-2'") == [
        ("+33123456789",)]
    updated = assert_ok(importing("customers", path, "--on-match", "update", db=db, home=home))
    assert "Customers: 0 created, 1 updated, 1 skipped (1 unchanged)" in updated.stdout
    assert rows(db, "SELECT phone FROM customer WHERE external_id = 'A-2'") == [
        ("+33987654321",)]
    assert count(db, "customer") == 2


@both_backends
def test_contacts_and_equipment_files_after_their_customers(db, home, crm):
    assert_ok(importing("customers", crm, db=db, home=home))
    contacts = write_csv(home / "contacts.csv", [
        ["Code client", "Prénom", "Nom", "Courriel", "Fonction"],
        ["A-2", "Élodie", "Martin", "elodie@levage.example", "Acheteuse"]])
    result = assert_ok(importing("contacts", contacts, db=db, home=home))
    assert "  Code client -> customer external id (customer_external_id)" in result.stdout
    assert rows(db, "SELECT k.name, k.job_title FROM contact k JOIN customer c "
                    "ON c.id = k.customer_id WHERE c.external_id = 'A-2'") == [
        ("Élodie Martin", "Acheteuse")]
    machines = write_csv(home / "machines.csv", [
        ["Numéro de série", "Marque", "Année", "Code client"],
        ["SN-1", "Volvo", "2019", "A-1"], ["SN-2", "JCB", "2021", ""]])
    result = assert_ok(importing("equipment", machines, db=db, home=home))
    assert "Machines: 2 created" in result.stdout and "Assignments: 1 created" in result.stdout
    assert rows(db, "SELECT e.serial, a.customer_name FROM assignment a JOIN equipment e "
                    "ON e.id = a.equipment_id") == [("SN-1", "Nordic Kran ApS")]


# ---------------------------------------------------------------- jobs and undo


@both_backends
def test_undo_removes_what_the_job_created_and_puts_back_what_it_updated(db, home, crm):
    assert_ok(importing("customers", crm, db=db, home=home))
    before = counts(db)
    changed = [row[:] for row in CRM]
    changed[3][2] = "+33 9 87 65 43 21"
    changed.append(["A-9", "Nouveau SARL", "", "", "", "France", "Zoé", "", ""])
    assert_ok(importing("customers", write_csv(home / "b.csv", changed), "--on-match", "update",
                        db=db, home=home))
    assert count(db, "customer") == 3
    result = assert_ok(clientbook("import", "undo", "2", db=db, home=home))
    assert result.stdout.splitlines() == [
        "Import job 2 is undone.", "Removed: 1 contact, 1 customer.",
        "Put back as they were before the import: 1 customer."]
    assert rows(db, "SELECT phone FROM customer WHERE external_id = 'A-2'") == [
        ("+33123456789",)]
    after = counts(db)
    assert {t: after[t] for t in ("customer", "contact")} == {
        t: before[t] for t in ("customer", "contact")}
    assert_error(clientbook("import", "undo", "2", db=db, home=home),
                 "Import job 2 cannot be undone", "undone already")
    assert_error(clientbook("import", "undo", "99", db=db, home=home), "No import job 99")


@both_backends
def test_undo_is_refused_naming_a_record_edited_since(db, home, crm):
    from tui.domain.services.customers import update_customer

    assert_ok(importing("customers", crm, db=db, home=home))
    ctx = in_process(db)
    try:
        from tui.domain.models import Customer

        firm = Customer.get(Customer.external_id == "A-2")
        draft = CustomerDraft.from_customer(firm)
        update_customer(ctx, firm.id, firm.version, CustomerDraft(
            **{**draft.__dict__, "notes": "called today"}))
        firm_id = firm.id
    finally:
        ctx.db.close()
    before = counts(db)
    line = assert_error(clientbook("import", "undo", "1", db=db, home=home),
                        "Import job 1 cannot be undone, nothing was changed",
                        f"Customer #{firm_id} Levage du Nord was edited since the import")
    assert "Nordic Kran" not in line
    assert counts(db) == before and jobs(db)[0][1] == "done"


@both_backends
def test_jobs_lists_newest_first(db, home, crm):
    assert_ok(importing("customers", crm, db=db, home=home))
    bad = write_csv(home / "bad.csv", [["Company", "Phone"], ["X", "nope"], ["Y", ""]])
    assert importing("customers", bad, db=db, home=home).returncode == 1
    assert_ok(clientbook("import", "undo", "1", db=db, home=home))
    listed = json.loads(assert_ok(clientbook("import", "jobs", "--json", db=db,
                                             home=home)).stdout)
    assert [(j["id"], j["kind"], Path(j["file"]).name, j["status"], j["created"],
             j["rejected"], j["started_by"]) for j in listed] == [
        (2, "customers", "bad.csv", "done", 1, 1, ME),
        (1, "customers", "crm.csv", "undone", 4, 0, ME)]
    assert listed[0]["error_file"] == str(home / "bad.errors.csv")
    assert listed[1]["counts"]["customer"]["created"] == 2 and listed[1]["undone_by"] == ME
    table = assert_ok(clientbook("import", "jobs", db=db, home=home)).stdout.splitlines()
    assert table[0].split() == ["#", "When", "Who", "Kind", "File", "Status", "Created",
                                "Updated", "Skipped", "Rejected"]
    assert table[1].split()[0] == "2" and "bad.csv" in table[1] and "done" in table[1]
    assert "crm.csv" in table[2] and "undone" in table[2]
    limited = json.loads(assert_ok(clientbook("import", "jobs", "--json", "--limit", "1",
                                              db=db, home=home)).stdout)
    assert [j["id"] for j in limited] == [2]


def test_a_role_without_data_import_is_refused_in_one_line(db, home, crm):
    execute(db, "UPDATE app_user SET role = 'estimator' WHERE login = ?", ME)
    before = counts(db)
    target = home / "out.csv"
    first, *others, export = clientbook_each(
        ("import", "customers", str(crm)), ("import", "customers", str(crm), "--dry-run"),
        ("import", "jobs"), ("import", "undo", "1"),
        ("export", "customers", "--format", "csv", "-o", str(target)), db=db, home=home)
    line = assert_error(first, ME, "not allowed to import data")
    assert line == f"clientbook: {ME} is not allowed to import data."
    assert first.stdout == ""  # refused before the file is even read
    for result in others:
        assert_error(result, "not allowed to import data")
    assert_error(export, "not allowed to export data")
    assert not target.exists() and counts(db) == before
    assert not (home / "crm.errors.csv").exists()


def test_a_role_that_may_import_but_not_add_contacts(db, home, crm, tmp_path):
    """The file's contact columns need contact.edit: refused before anything is printed."""
    text = SHIPPED_CONFIG.read_text(encoding="utf-8")
    site = tmp_path / "site.yaml"
    site.write_text(text.replace('grants: ["*"]', "grants: [user.manage, customer.*, data.*]",
                                 1), encoding="utf-8")
    result = clientbook("--config", str(site), "import", "customers", str(crm), db=db,
                        home=home)
    assert_error(result, "not allowed to add, edit or delete contacts")
    assert result.stdout == "" and count(db, "customer") == 0
    companies = write_csv(home / "companies.csv", [["Company"], ["Solo A/S"]])
    assert_ok(clientbook("--config", str(site), "import", "customers", str(companies),
                         db=db, home=home))
    assert count(db, "customer") == 1


def test_import_help_has_the_exit_status_and_the_fields(home):
    customers, equipment, overview = (assert_ok(result).stdout for result in clientbook_each(
        ("import", "customers", "--help"), ("import", "equipment", "--help"), ("--help",),
        db=None, home=home))
    text = customers
    assert "Exit status: 0 when no row was rejected, 1 when some rows were rejected" in text
    assert "\n  billing_city " in text and "\n  contact_email " in text
    assert "--on-match {skip,update}" in text and "--batch-size N" in text
    assert "\n  serial " in equipment and "billing_city" not in equipment
    assert "import" in overview and "export" in overview


def test_progress_is_shown_only_on_a_terminal(db, home):
    path = write_csv(home / "five.csv", [["Company"]] + [[f"Firm {i}"] for i in range(5)])
    leader, follower = pty.openpty()
    try:
        result = subprocess.run([str(CLIENTBOOK), "--db", str(db), "import", "customers",
                                 str(path), "--batch-size", "2"], env=cli_env(home), cwd=home,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=follower, timeout=60)
        os.close(follower)
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: the other end is closed
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(leader)
    assert result.returncode == 0
    assert b"line 3 of 6 (50%): 2 created, 0 updated, 0 rejected" in seen
    assert b"line 6 of 6 (100%): 5 created" in seen
    assert seen.endswith(b"\r\x1b[K")  # erased before the summary
    assert "Customers: 5 created" in result.stdout.decode()


# ---------------------------------------------------------------- export


@both_backends
def test_export_to_stdout_as_csv_json_and_vcard(filled_db, home):
    customers, machines, found = (assert_ok(result).stdout for result in clientbook_each(
        ("export", "customers", "--format", "csv"), ("export", "equipment", "--format", "json"),
        ("export", "contacts", "--format", "json", "--search", "levage"),
        db=filled_db, home=home))
    table = list(csv.DictReader(io.StringIO(customers)))
    assert sorted((r["Name"], r["Country"], r["Phone"]) for r in table) == [
        ("Levage du Nord", "FR", ""), ("Nordic Kran ApS", "DK", "'+4520000001")]
    assert not customers.startswith("\ufeff")  # a byte-order mark only in files
    assert sorted((m["serial"], m["customer"] or "") for m in json.loads(machines)) == [
        ("BL-100", "Nordic Kran ApS"), ("FR-7", "Levage du Nord"), ("FREE-1", "")]
    cards = subprocess.run([str(CLIENTBOOK), "--db", str(filled_db), "export", "contacts",
                            "--format", "vcard"], env=cli_env(home, LANG="C"), cwd=home,
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    assert (cards.returncode, cards.stderr) == (0, b"")
    parsed = parse_vcards(cards.stdout.decode("utf-8"))  # CRLF, folded, UTF-8 even under C
    assert sorted(card["FN"][0][1] for card in parsed) == ["Ann Berg", "Bo Lund", "Élodie Martin"]
    assert [c["name"] for c in json.loads(found)] == ["Élodie Martin"]


def test_export_to_a_file_refuses_to_overwrite_without_force(filled_db, home):
    target = home / "contacts.vcf"
    result = clientbook("export", "contacts", "--format", "vcard", "-o", str(target),
                        db=filled_db, home=home)
    assert (result.returncode, result.stdout) == (0, "")
    assert result.stderr == f"Exported 3 contacts to {target}\n"
    assert len(parse_vcards(target.read_bytes().decode("utf-8"))) == 3
    target.write_text("keep me", encoding="utf-8")
    os.chmod(target, 0o640)
    assert_error(clientbook("export", "contacts", "--format", "csv", "-o", str(target),
                            db=filled_db, home=home), str(target), "exists already",
                 "--force")
    assert target.read_text(encoding="utf-8") == "keep me"
    forced = clientbook("export", "customers", "--format", "csv", "-o", str(target), "--force",
                        db=filled_db, home=home)
    assert forced.returncode == 0 and forced.stderr == f"Exported 2 customers to {target}\n"
    data = target.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfExternal ID,Name,")  # spreadsheets need the mark
    assert (target.stat().st_mode & 0o777) == 0o640  # the replaced file's permissions kept
    fresh = home / "machines.json"
    assert clientbook("export", "equipment", "--format", "json", "-o", str(fresh),
                      db=filled_db, home=home).stderr == f"Exported 3 machines to {fresh}\n"
    assert len(json.loads(fresh.read_text(encoding="utf-8"))) == 3
    assert sorted(p.name for p in home.iterdir() if p.name.startswith(".")) == []  # no .part


EXPORT_REFUSALS = [
    (("customers", "--format", "vcard"), ["--format vcard is for contacts only",
                                          "customers can be exported as csv or json"]),
    (("equipment", "--format", "vcard", "-o", "x.vcf"), ["vcard is for contacts only"]),
    (("customers", "--format", "csv", "-o", "nowhere/x.csv"), ["the folder nowhere does not "
                                                               "exist"]),
    (("customers", "--format", "csv", "-o", "."), ["is a folder"]),
]


def test_export_refusals_are_one_clear_line(filled_db, home):
    results = clientbook_each(*(("export", *args) for args, _f in EXPORT_REFUSALS),
                              db=filled_db, home=home)
    for result, (_args, fragments) in zip(results, EXPORT_REFUSALS):
        assert_error(result, *fragments)
    assert not (home / "x.vcf").exists()


def test_usage_errors_exit_2(db, home):
    results = clientbook_each(
        ("export", "customers"), ("export", "firms", "--format", "csv"),
        ("export", "customers", "--format", "xml"), ("import", "customers"),
        ("import", "machines", "f.csv"), ("import", "customers", "f.csv", "--batch-size", "0"),
        ("import", "customers", "f.csv", "--on-match", "merge"), ("import", "undo", "x"),
        db=db, home=home)
    for result in results:
        assert result.returncode == 2 and "usage: clientbook" in result.stderr, result.args
        assert result.stdout == ""


def test_a_failed_export_leaves_no_half_file(home, monkeypatch):
    """In-process: the domain fails half-way through writing; the old file stays whole."""
    import tui.domain.imports as imports_api
    from tui.cli.exports import export_to_file

    target = home / "customers.csv"
    target.write_text("the old export", encoding="utf-8")

    def half_then_fail(ctx, what, fmt, path, *, search=None):
        Path(path).write_text("External ID,Name\nclientbook-1,Nor", encoding="utf-8")
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(imports_api, "export_to_path", half_then_fail)
    with pytest.raises(RuntimeError, match="disk on fire"):
        export_to_file(None, "customers", "csv", target, None, force=True)
    assert target.read_text(encoding="utf-8") == "the old export"
    assert sorted(p.name for p in home.iterdir()) == ["customers.csv"]


# ---------------------------------------------------------------- the round trip


def plain(state: dict) -> dict:
    """``state`` with SQLite's and PostgreSQL's values alike: booleans as 0/1, dates as text."""
    def value(v):
        if isinstance(v, bool):
            return int(v)
        return v.isoformat() if hasattr(v, "isoformat") else v

    return {key: sorted((tuple(value(v) for v in row) for row in table), key=repr)
            for key, table in state.items()}


@both_backends
def test_demo_exported_then_imported_into_an_empty_database_comes_back(db, home):
    """The demo (an SQLite file) exported, then imported into an empty database of the
    backend under test."""
    demo = home / "demo.db"
    made = clientbook("demo", "--customers", "20", db=demo, home=home)
    assert "Demo database created" in made.stdout, made.stderr  # then: no terminal, exit 1
    files = {what: home / f"{what}.csv" for what in ("customers", "contacts", "equipment")}
    for what, path in files.items():
        assert clientbook("export", what, "--format", "csv", "-o", str(path), db=demo,
                          home=home).returncode == 0
    empty = db
    for what, path in files.items():  # customers, then contacts, then equipment
        result = assert_ok(importing(what, path, "--batch-size", "7", db=empty, home=home))
        assert "0 rows rejected" in result.stdout
    with Opened(demo) as original, Opened(empty) as copy:
        expected, got = plain(business_state(original)), plain(business_state(copy))
    assert len(expected["held"]) > 5 and len(expected["contacts"]) > 20
    assert got == expected


# ---------------------------------------------------------------- interrupted and killed


@pytest.fixture(scope="module")
def big_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("big") / "big.csv"
    return write_csv(path, [["External ID", "Company", "Phone", "City", "Country"]] + [
        [f"EXT-{i}", f"Firm {i} ApS", f"+45 20 {i // 100:02d} {i % 100:02d} 00", "Aarhus",
         "Denmark"] for i in range(BIG_ROWS)])


@pytest.fixture(scope="module")
def one_shot(backend, request, big_file, tmp_path_factory) -> dict:
    """What one uninterrupted import of the big file makes."""
    home = tmp_path_factory.mktemp("one-shot")
    db = fresh_database(backend, request, home)
    assert_ok(importing("customers", big_file, "--batch-size", "200", db=db, home=home))
    with Opened(db) as opened:
        return state(opened)


def start(db: Path, home: Path, path: Path, batch: int) -> subprocess.Popen:
    return subprocess.Popen([str(CLIENTBOOK), "--db", str(db), "import", "customers", str(path),
                             "--batch-size", str(batch)], env=cli_env(home), cwd=home,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_for_a_batch(db: Path, process: subprocess.Popen) -> int:
    """The job's last committed line, once a first batch is in the database."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "the import ended before it could be stopped"
        try:
            found = rows(db, "SELECT last_line FROM import_job")
        except sqlite3.OperationalError:  # busy for a moment
            found = []
        if found and found[0][0] > 0:
            return found[0][0]
        time.sleep(0.01)
    process.kill()
    raise AssertionError("no batch was committed in 30 s")


def whole_batches(db: Path, batch: int) -> tuple:
    [(job_id, status, last_line, created, *_rest)] = jobs(db)
    customers = count(db, "customer")
    assert customers == created == last_line - 1, (customers, created, last_line)
    assert customers % batch == 0 and 0 < customers < BIG_ROWS, customers
    return job_id, status, last_line


def finish_and_compare(db: Path, home: Path, path: Path, job_id: int, last_line: int,
                       one_shot: dict) -> None:
    again = assert_ok(importing("customers", path, "--batch-size", "200", db=db, home=home))
    assert f"Resumed job {job_id} after line {last_line}." in again.stdout
    assert f"Customers: {BIG_ROWS} created, 0 updated, 0 skipped" in again.stdout
    assert jobs(db) == [(job_id, "done", BIG_ROWS + 1, BIG_ROWS, 0, 0, 0)]
    assert rows(db, "SELECT count(DISTINCT external_id), count(*) FROM customer") == [
        (BIG_ROWS, BIG_ROWS)]
    with Opened(db) as opened:
        assert state(opened) == one_shot


@both_backends
def test_ctrl_c_stops_after_the_batch_and_the_same_command_finishes(db, home, big_file,
                                                                    one_shot):
    path = shutil.copyfile(big_file, home / "big.csv")
    process = start(db, home, path, 200)
    wait_for_a_batch(db, process)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 1, (stdout, stderr)
    assert stderr.startswith("Stopping after the batch in progress"), stderr
    assert "Traceback" not in stderr and len(stderr.splitlines()) == 1
    job_id, status, last_line = whole_batches(db, 200)
    assert status == "interrupted"
    assert (f"Interrupted after line {last_line}: import the same file again to finish the "
            "job.") in stdout.splitlines()
    finish_and_compare(db, home, path, job_id, last_line, one_shot)


@both_backends
def test_a_second_ctrl_c_stops_at_once_and_rolls_the_batch_back(db, home, big_file,
                                                                one_shot):
    path = shutil.copyfile(big_file, home / "big.csv")
    batch = 1000  # half a second or so each: the second Ctrl-C lands inside one
    process = start(db, home, path, batch)
    wait_for_a_batch(db, process)
    process.send_signal(signal.SIGINT)
    assert process.stderr.readline().startswith("Stopping after the batch in progress")
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 1, (stdout, stderr)
    assert stderr.startswith("Stopped at once: the batch in progress was rolled back"), stderr
    assert "Traceback" not in stderr
    job_id, status, last_line = whole_batches(db, batch)
    # The second Ctrl-C may land while the job row itself is being written: then it stays
    # "running" (resumed the same way; undo refuses it until finished). Both are honest.
    assert status in ("interrupted", "running")
    finish_and_compare(db, home, path, job_id, last_line, one_shot)


@both_backends
def test_killed_mid_run_the_same_command_finishes_without_duplicates(db, home, big_file,
                                                                     one_shot):
    path = shutil.copyfile(big_file, home / "big.csv")
    process = start(db, home, path, 200)
    wait_for_a_batch(db, process)
    time.sleep(0.05)  # most likely in the middle of a batch
    process.kill()
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    job_id, status, last_line = whole_batches(db, 200)
    assert status == "running"  # nobody could record it: the next run takes it up
    listed = assert_ok(clientbook("import", "jobs", db=db, home=home)).stdout
    assert "unfinished" in listed
    finish_and_compare(db, home, path, job_id, last_line, one_shot)
