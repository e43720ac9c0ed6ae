"""Bulk import against a real database file: batches, matching, errors, jobs, undo, permissions.

Every test runs on SQLite and on PostgreSQL ([sqlite], [postgresql]) but the sqlite_only
ones.
"""

from __future__ import annotations

import csv

import peewee
import pytest

from tests.conftest import raw_connection
from tui.domain.context import Actor, Context
from tui.domain.errors import PermissionDenied
from tui.domain.imports import (
    ImportCancelled,
    ImportFileError,
    ImportOptions,
    MappingProblem,
    UndoRefused,
    import_file,
    list_jobs,
    open_csv,
    preview_mapping,
    run_import,
    undo_import,
)
from tui.domain.imports import searchindex
from tui.domain.models import AuditEvent, Customer, ImportItem, ImportJob
from tui.domain.services.contacts import ContactDraft, add_contact
from tui.domain.services.customers import CustomerDraft, update_customer
from tui.domain.services.search import search_customers


def is_postgres(db) -> bool:
    return isinstance(db, peewee.PostgresqlDatabase)


def index_rows(db) -> list:
    if is_postgres(db):
        return db.execute_sql("SELECT customer_id, document::text FROM customer_search"
                              " ORDER BY customer_id").fetchall()
    return db.execute_sql("SELECT rowid, name, address, phone, email, web, contacts, equipment,"
                          " digits, notes FROM customer_search ORDER BY rowid").fetchall()


def assert_index_is_right(db) -> None:
    """The index holds exactly what rebuilding every customer's row from scratch gives."""
    live = index_rows(db)
    customers = {i for (i,) in db.execute_sql("SELECT id FROM customer")}
    with db.atomic() as transaction:
        searchindex.refresh(db, customers | {r[0] for r in live})
        rebuilt = index_rows(db)
        transaction.rollback()
    assert {r[0] for r in live} == customers and live == rebuilt

pytestmark = pytest.mark.both_backends

HEADERS = ["External ID", "Company", "Phone", "E-mail", "City", "Country", "Groups",
           "First name", "Last name", "Contact e-mail", "Contact phone", "Roles"]


def write_csv(path, rows, delimiter=",", encoding="utf-8"):
    with path.open("w", encoding=encoding, newline="") as handle:
        csv.writer(handle, delimiter=delimiter).writerows(rows)
    return path


def company_rows(count: int, contacts: int = 2, start: int = 0):
    """``count`` companies, each on ``contacts`` rows (one per contact; 0: one row, no contact)."""
    rows = [HEADERS]
    for i in range(start, start + count):
        company = [f"EXT-{i}", f"Firm {i} ApS", f"+45 20 {i // 100:02d} {i % 100:02d} 00",
                   f"info@firm{i}.example", "Aarhus", "Denmark", "North"]
        if not contacts:
            rows.append(company + [""] * 5)
        for k in range(contacts):
            rows.append(company + [f"Person{k}", f"Of{i}", f"p{k}@firm{i}.example",
                                   f"30 {k:02d} {i // 100:02d} {i % 100:02d}", "billing"])
    return rows


def state(db) -> dict:
    """Everything an import writes, by value (no ids), to compare databases."""
    def q(sql):
        return sorted(db.execute_sql(sql).fetchall(), key=repr)

    return {
        "customers": q("SELECT name, phone, email, website, billing_street, billing_postal_code,"
                       " billing_city, billing_country, billing_state, shipping_same_as_billing,"
                       " shipping_street, shipping_city, shipping_country, segment, currency,"
                       " language, notify_event_types, notes, external_id, name_key,"
                       " search_digits FROM customer"),
        "contacts": q("SELECT c.name, k.name, k.email, k.phone, k.job_title, k.roles,"
                      " k.search_digits FROM contact k JOIN customer c ON c.id = k.customer_id"),
        "groups": q("SELECT c.name, g.name FROM group_membership m JOIN customer c"
                    " ON c.id = m.customer_id JOIN customer_group g ON g.id = m.group_id"),
        "equipment": q("SELECT serial, name, make, model, type, year, retired_at IS NOT NULL"
                       " FROM equipment"),
        "assignments": q("SELECT e.serial, a.customer_name FROM assignment a JOIN equipment e"
                         " ON e.id = a.equipment_id WHERE a.unassigned_at IS NULL"),
        # Whose entry by the customer's name, not its id: an interrupted batch may leave a
        # gap in PostgreSQL's ids (a sequence gives no id twice, even one rolled back). The
        # words without their positions: string_agg gathers a customer's contacts in no set
        # order (rows written in other batches come back in another order).
        "search": (q("SELECT c.name, c.external_id, strip(s.document)::text FROM customer_search s"
                     " LEFT JOIN customer c ON c.id = s.customer_id")
                   if is_postgres(db) else
                   q("SELECT c.name, c.external_id, s.name, s.address, s.phone, s.email, s.web,"
                     " s.contacts, s.equipment, s.digits, s.notes FROM customer_search s"
                     " LEFT JOIN customer c ON c.id = s.rowid")),
    }


def count(db, table: str) -> int:
    return db.execute_sql(f"SELECT count(*) FROM {table}").fetchone()[0]


# ---------------------------------------------------------------- one file, companies and contacts


def test_contacts_in_the_same_file_create_their_company_once(admin, tmp_path):
    path = write_csv(tmp_path / "crm.csv", company_rows(3, contacts=2))
    report = import_file(admin, "customers", path)
    assert report.status == "done" and report.rejected == 0
    assert ImportJob.get_by_id(report.job_id).error_file == ""  # none was written
    assert report.counts["customer"].created == 3 and report.counts["contact"].created == 6
    assert report.counts["group"].created == 1
    assert (report.created, report.updated, report.skipped) == (10, 0, 0)
    customer = Customer.get(Customer.external_id == "EXT-1")
    assert customer.name == "Firm 1 ApS" and customer.billing_country == "DK"
    assert customer.phone == "+4520000100" and customer.created_by == "boss"
    assert sorted(c.name for c in customer.contacts) == ["Person0 Of1", "Person1 Of1"]
    assert [c.phone for c in customer.contacts] == ["+4530000001", "+4530010001"]
    assert [c.roles for c in customer.contacts] == [["billing"], ["billing"]]
    assert [m.group.name for m in customer.memberships] == ["North"]
    assert not (tmp_path / "crm.errors.csv").exists()


def test_messy_values_are_mapped_where_they_can_be(admin, tmp_path, config):
    rows = [["Société", "Prénom", "Nom", "Téléphone", "Pays", "Région", "Ville", "Type", "Devise",
             "Langue", "Rôles", "Fonction", "Téléphone du contact"],
            ["Élan SARL", "Zoé", "Lefèvre", "01 23 45 67 89 poste 12", "France", "", "Lyon",
             "Revendeur", "€", "Français", "Facturation; Notifié des événements d'équipement",
             "Comptable", "06 12 34 56 78"],
            ["Lone Star Rentals Inc.", "Bob", "Smith", "(713) 555-0123 x44", "États-Unis",
             "Texas", "Houston", "Rental company", "usd", "en", "billing, execution", "",
             "+1 303 555 0199"],
            ["Kran ApS", "", "Jensen", "12 34 56 78", "DNK", "", "Vejle", "", "DKK", "da",
             "", "", "0045 20 30 40 50"]]
    path = write_csv(tmp_path / "fr.csv", rows, delimiter=";", encoding="cp1252")
    report = import_file(admin, "customers", path)
    assert report.rejected == 0, report.errors
    elan = Customer.get(Customer.name == "Élan SARL")
    assert (elan.phone, elan.billing_country, elan.segment, elan.currency, elan.language) == (
        "+33123456789;ext=12", "FR", "dealer", "EUR", "fr")
    [zoe] = elan.contacts
    assert (zoe.name, zoe.phone, zoe.roles, zoe.job_title) == (
        "Zoé Lefèvre", "+33612345678", ["billing", "notify"], "Comptable")
    texas = Customer.get(Customer.name == "Lone Star Rentals Inc.")
    assert (texas.phone, texas.billing_country, texas.billing_state, texas.currency) == (
        "+17135550123;ext=44", "US", "US-TX", "USD")
    assert texas.contacts[0].roles == ["billing", "execution"]
    kran = Customer.get(Customer.name == "Kran ApS")
    assert (kran.phone, kran.billing_country, kran.contacts[0].name,
            kran.contacts[0].phone) == ("+4512345678", "DK", "Jensen", "+4520304050")


def test_bad_rows_go_to_an_error_file_with_line_field_message_and_the_row(admin, tmp_path):
    rows = [["Name", "Phone", "Country", "Notes"],
            ["Good One", "+45 11 22 33 44", "DK", "two\nlines"],
            ["Bad Phone", "call me", "DK", ""],
            ["Nowhere Ltd", "", "Atlantis", ""],
            ["", "+45 11 22 33 45", "DK", ""],
            ["Escape\x1b[31m", "", "DK", ""],
            ["Good Two", "", "Danemark", ""]]
    path = write_csv(tmp_path / "list.csv", rows)
    report = import_file(admin, "customers", path)
    assert report.counts["customer"].created == 2 and report.rejected == 4
    assert sorted(c.name for c in Customer.select()) == ["Good One", "Good Two"]
    errors = list(csv.reader((tmp_path / "list.errors.csv").open(encoding="utf-8")))
    assert errors[0] == ["error_line", "error_field", "error_message", "Name", "Phone",
                         "Country", "Notes"]
    # the quoted line break makes "Good One" span lines 2-3, so "Bad Phone" is on line 4
    assert [e[0] for e in errors[1:]] == ["4", "5", "6", "7"]
    assert errors[1][1:] == ["Phone", "Phone: Not a phone number: call me", "Bad Phone",
                             "call me", "DK", ""]
    assert errors[2][1:3] == ["Country", "Country: Unknown country: Atlantis"]
    assert errors[3][1:3] == ["Name", "Name: This field is required."]
    assert errors[4][1] == "Name" and "Control characters" in errors[4][2]
    assert report.error_file == tmp_path / "list.errors.csv"
    assert [(e.line, e.field) for e in report.errors] == [(4, "Phone"), (5, "Country"),
                                                          (6, "Name"), (7, "Name")]
    # corrected and imported again: the error columns are ignored, nothing is duplicated
    fixed = write_csv(tmp_path / "fixed.csv", [errors[0]] + [
        ["4", "", "", "Bad Phone", "+45 11 22 33 46", "DK", ""]])
    again = import_file(admin, "customers", fixed)
    assert again.counts["customer"].created == 1 and again.rejected == 0
    # a clean run removes the stale error file of the same input
    write_csv(path, rows[:2])
    import_file(admin, "customers", path)
    assert not (tmp_path / "list.errors.csv").exists()


def test_the_error_file_can_be_put_elsewhere(admin, tmp_path):
    path = write_csv(tmp_path / "in.csv", [["Name", "Country"], ["X", "Mars"]])
    target = tmp_path / "out" / "bad.csv"
    target.parent.mkdir()
    report = import_file(admin, "customers", path, options=ImportOptions(errors_path=target))
    assert report.error_file == target and "Mars" in target.read_text(encoding="utf-8")


def test_an_error_file_that_cannot_be_written_stops_before_importing(admin, db, tmp_path):
    path = write_csv(tmp_path / "in.csv", [["Name"], ["Fine ApS"]])
    with pytest.raises(ImportFileError, match="Cannot write the error file"):
        import_file(admin, "customers", path,
                    options=ImportOptions(errors_path=tmp_path / "no" / "such.csv"))
    assert count(db, "customer") == 0 and count(db, "import_job") == 0


def test_hostile_cells_are_stored_as_text_not_run(admin, tmp_path):
    rows = [["Name", "Notes"], ["=HYPERLINK(\"http://evil\",\"x\")", "@SUM(A1)"],
            ["'+Plus Firm", "-minus"]]
    report = import_file(admin, "customers", write_csv(tmp_path / "h.csv", rows))
    assert report.rejected == 0
    names = sorted(c.name for c in Customer.select())
    assert names == ["+Plus Firm", "=HYPERLINK(\"http://evil\",\"x\")"]


# ---------------------------------------------------------------- dry run and re-runs


@pytest.mark.sqlite_only  # compares the file's bytes
def test_dry_run_validates_and_counts_but_changes_nothing(admin, db, db_path, tmp_path):
    import_file(admin, "customers", write_csv(tmp_path / "first.csv", company_rows(2)))
    rows = company_rows(4) + [["", "", "bad phone", "", "", "", "", "", "", "", "", ""]]
    path = write_csv(tmp_path / "dry.csv", rows)
    db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    before_bytes = db_path.read_bytes()
    before = state(db), count(db, "import_job"), count(db, "audit_event")
    report = import_file(admin, "customers", path, options=ImportOptions(dry_run=True))
    assert report.dry_run and report.job_id is None
    assert report.counts["customer"].created == 2 and report.counts["customer"].skipped == 2
    assert report.counts["contact"].created == 4 and report.rejected == 1
    assert (state(db), count(db, "import_job"), count(db, "audit_event")) == before
    db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    assert db_path.read_bytes() == before_bytes
    assert "Dry run" in report.summary()[0]
    real = import_file(admin, "customers", path)
    assert real.counts_dict() == report.counts_dict() and real.rejected == report.rejected


def test_running_the_same_file_again_creates_no_duplicates(admin, db, tmp_path):
    path = write_csv(tmp_path / "crm.csv", company_rows(5, contacts=3))
    import_file(admin, "customers", path)
    first = state(db)
    again = import_file(admin, "customers", path)
    assert again.counts["customer"].skipped == 5 and again.counts["contact"].skipped == 15
    assert again.created == 0 and state(db) == first
    update = import_file(admin, "customers", path, options=ImportOptions(on_match="update"))
    assert update.counts["customer"].unchanged == 5 and update.counts["contact"].unchanged == 15
    assert update.updated == 0 and state(db) == first
    assert {c.version for c in Customer.select()} == {1}


def test_update_takes_the_cells_the_file_gives_and_never_erases(admin, tmp_path):
    import_file(admin, "customers", write_csv(tmp_path / "a.csv", company_rows(2)))
    rows = company_rows(2)
    rows[1][2] = "+45 99 88 77 66"  # Firm 0's phone changes (its external id matches)
    rows[1][3] = ""  # an empty e-mail cell keeps the e-mail
    rows[1][6] = "South; North"
    rows[3][10] = "+45 50 50 50 50"  # Firm 1's first contact gets a new phone
    rows[3][1] = "Firm One Renamed ApS"
    report = import_file(admin, "customers", write_csv(tmp_path / "b.csv", rows),
                         options=ImportOptions(on_match="update"))
    assert report.counts["customer"].updated == 2 and report.counts["contact"].updated == 1
    firm0 = Customer.get(Customer.external_id == "EXT-0")
    assert (firm0.phone, firm0.email, firm0.version, firm0.updated_by) == (
        "+4599887766", "info@firm0.example", 2, "boss")
    assert sorted(m.group.name for m in firm0.memberships) == ["North", "South"]
    firm1 = Customer.get(Customer.external_id == "EXT-1")
    assert firm1.name == "Firm One Renamed ApS" and firm1.version == 2
    assert sorted(c.phone for c in firm1.contacts) == ["+4530010001", "+4550505050"]
    assert [r.name for r in search_customers(admin, "renamed").rows] == ["Firm One Renamed ApS"]


def test_without_an_external_id_a_name_plus_phone_or_email_matches(admin, tmp_path, make_customer):
    existing = make_customer("Kran & Co ApS", phone="+45 12 34 56 78")
    bare = make_customer("Quiet Firm", billing_postal_code="8000", billing_city="Aarhus")
    rows = [["Name", "Phone", "E-mail", "Postal code", "City", "Country", "External ID"],
            ["KRAN & CO", "12345678", "", "", "", "DK", "K-1"],  # same name key and phone
            ["Quiet Firm", "", "", "8000", "Aarhus", "DK", ""],  # no phone nor e-mail: place
            ["Kran & Co ApS", "+45 87 65 43 21", "", "", "", "DK", ""]]  # another phone: new
    report = import_file(admin, "customers", write_csv(tmp_path / "m.csv", rows),
                         options=ImportOptions(on_match="update"))
    assert report.counts["customer"].created == 1
    assert Customer.get_by_id(existing.id).external_id == "K-1"  # given by the update
    assert report.counts["customer"].updated == 1 and report.counts["customer"].unchanged == 1
    assert Customer.get_by_id(bare.id).version == 1


def test_a_customer_with_another_external_id_is_not_taken(admin, tmp_path):
    import_file(admin, "customers", write_csv(tmp_path / "a.csv", company_rows(1)))
    rows = company_rows(1)
    rows[1][0] = rows[2][0] = "OTHER-0"  # same name and phone, but another system's id
    report = import_file(admin, "customers", write_csv(tmp_path / "b.csv", rows))
    assert report.counts["customer"].created == 1 and Customer.select().count() == 2


def test_branches_with_their_own_external_ids_stay_apart(admin, tmp_path):
    """Same name and phone, two external ids: two customers, in one run and in a re-run."""
    rows = [["External ID", "Name", "Phone", "Contact"],
            ["B-1", "Hire Co Ltd", "+44 113 496 0000", "Ann"],
            ["B-2", "Hire Co Ltd", "+44 113 496 0000", "Bob"],
            ["B-1", "Hire Co Ltd", "+44 113 496 0000", "Cy"]]
    path = write_csv(tmp_path / "b.csv", rows)
    report = import_file(admin, "customers", path)
    assert report.counts["customer"].created == 2 and report.counts["contact"].created == 3
    assert {c.external_id: sorted(k.name for k in c.contacts) for c in Customer.select()} == {
        "B-1": ["Ann", "Cy"], "B-2": ["Bob"]}
    assert import_file(admin, "customers", path).created == 0


# ---------------------------------------------------------------- contacts and equipment files


def test_a_separate_contacts_file_keyed_by_company(admin, tmp_path, make_customer):
    import_file(admin, "customers", write_csv(tmp_path / "c.csv", company_rows(2, contacts=0)))
    make_customer("Twin ApS")
    make_customer("Twin A/S")
    rows = [["Customer external ID", "Company", "Name", "E-mail", "Mobile", "Roles"],
            ["EXT-0", "", "Ann Ito", "ann@firm0.example", "20 30 40 50", "notify"],
            ["", "firm 1", "Bo Lund", "", "", ""],
            ["", "Twin", "Cy Dahl", "", "", ""],
            ["EXT-404", "", "Di Vik", "", "", ""],
            ["", "Nobody Inc", "Ed Ung", "", "", ""]]
    path = write_csv(tmp_path / "contacts.csv", rows)
    report = import_file(admin, "contacts", path)
    assert report.counts["contact"].created == 2 and report.rejected == 3
    ann = Customer.get(Customer.external_id == "EXT-0").contacts[0]
    assert (ann.name, ann.phone, ann.roles) == ("Ann Ito", "+4520304050", ["notify"])
    messages = [e.message for e in report.errors]
    assert "Several customers are named Twin" in messages[0]
    assert "No customer has the external id EXT-404" in messages[1]
    assert "No customer is named Nobody Inc" in messages[2]
    again = import_file(admin, "contacts", path)
    assert again.counts["contact"].skipped == 2 and again.created == 0


def test_an_equipment_file_keyed_by_serial_assigns_holders(admin, tmp_path, make_machine,
                                                            make_customer):
    import_file(admin, "customers", write_csv(tmp_path / "c.csv", company_rows(2, contacts=0)))
    other = make_customer("Other Holder ApS")
    held = make_machine("SN-HELD")
    from tui.domain.services.equipment import assign_equipment

    assign_equipment(admin, other.id, [held.id])
    rows = [["Numéro de série", "Désignation", "Marque", "Modèle", "Type", "Année", "Client",
             "Code client", "Réformé le"],
            ["SN-1", "Pelle 1", "Volvo", "EC220E", "Excavator", "2019.0", "", "EXT-0", ""],
            ["SN-2", "Nacelle", "JLG", "450AJ", "Boom lift", "2021", "Firm 1 ApS", "", ""],
            ["SN-3", "Old", "JCB", "3CX", "Backhoe", "2008", "", "", "31/12/2024"],
            ["SN-HELD", "", "", "", "", "", "Firm 1 ApS", "", ""],
            ["SN-4", "", "", "", "", "1850", "", "", ""],
            ["SN-5", "", "", "", "", "", "", "EXT-0", "01/01/2025"]]
    path = write_csv(tmp_path / "fleet.csv", rows, delimiter="\t")
    report = import_file(admin, "equipment", path, options=ImportOptions(on_match="update"))
    assert report.counts["equipment"].created == 3
    assert report.counts["assignment"].created == 2
    assert [e.line for e in report.errors] == [5, 6, 7]
    assert "already assigned to Other Holder ApS" in report.errors[0].message
    assert "1900" in report.errors[1].message and report.errors[1].field == "Année"
    assert "retired" in report.errors[2].message
    rows_by_serial = {r[0]: r for r in admin.db.execute_sql(
        "SELECT e.serial, e.year, e.retired_at IS NOT NULL, a.customer_name FROM equipment e"
        " LEFT JOIN assignment a ON a.equipment_id = e.id AND a.unassigned_at IS NULL")}
    assert rows_by_serial["SN-1"] == ("SN-1", 2019, 0, "Firm 0 ApS")
    assert rows_by_serial["SN-2"][3] == "Firm 1 ApS"
    assert rows_by_serial["SN-3"][2] == 1
    again = import_file(admin, "equipment", path)
    # skip leaves every known machine alone, the one held by another customer included
    assert again.created == 0 and again.counts["equipment"].skipped == 4
    assert again.rejected == 2
    assert count(admin.db, "equipment") == 4 and count(admin.db, "assignment") == 3


# ---------------------------------------------------------------- batches: interrupted and resumed


def clean_state(config, fresh_target, path, back):
    """What one uninterrupted import of ``path`` makes, in a database of its own; the models
    are bound to ``back`` again afterwards."""
    from tui.domain.database import open_database
    from tui.domain.models import ALL_MODELS

    other = open_database(fresh_target())
    try:
        role = config.roles["administrator"]
        ctx = Context(other, config, Actor("boss", "administrator", role.permissions))
        import_file(ctx, "customers", path, options=ImportOptions(batch_size=10))
        return state(other)
    finally:
        other.close()
        back.bind(ALL_MODELS)


def test_interrupted_after_a_batch_then_run_again_equals_one_clean_import(admin, db, config,
                                                                          tmp_path, fresh_target):
    path = write_csv(tmp_path / "big.csv", company_rows(20, contacts=3))  # 60 rows
    seen = []

    def stop_after_two(progress):
        seen.append(progress.line)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_file(admin, "customers", path, options=ImportOptions(batch_size=10),
                    progress=stop_after_two)
    # two whole batches: 20 rows = 6 companies with 3 contacts + the 7th with 2 of its 3
    assert count(db, "customer") == 7 and count(db, "contact") == 20
    [job] = list_jobs(admin)
    assert (job.status, job.last_line, job.created) == ("interrupted", 21, 28)
    report = import_file(admin, "customers", path, options=ImportOptions(batch_size=10))
    assert report.job_id == job.id and report.resumed_after_line == 21
    assert report.rows == 40 and report.status == "done"
    assert report.counts["customer"].created == 20 and report.counts["contact"].created == 60
    assert ImportJob.get_by_id(job.id).status == "done"
    assert state(db) == clean_state(config, fresh_target, path, db)
    assert AuditEvent.select().where(AuditEvent.action == "import").count() == 1


def test_without_resuming_the_matching_still_finishes_the_job(admin, db, config, tmp_path,
                                                              fresh_target):
    path = write_csv(tmp_path / "big.csv", company_rows(10, contacts=3))
    calls = []

    def stop(progress):
        calls.append(1)
        if len(calls) == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_file(admin, "customers", path, options=ImportOptions(batch_size=10),
                    progress=stop)
    report = import_file(admin, "customers", path,
                         options=ImportOptions(batch_size=10, resume=False))
    assert report.resumed_after_line == 0 and report.counts["customer"].created == 6
    assert report.counts["customer"].skipped == 4  # the four of the first batch
    assert state(db) == clean_state(config, fresh_target, path, db)


@pytest.mark.both_backends
def test_a_batch_stopped_in_the_middle_leaves_nothing_of_itself(admin, db, tmp_path,
                                                                monkeypatch):
    path = write_csv(tmp_path / "big.csv", company_rows(10, contacts=2))
    real_refresh, calls = searchindex.refresh, []

    def refresh_then_die(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the second batch, after its rows were written
            raise KeyboardInterrupt
        return real_refresh(*args, **kwargs)

    monkeypatch.setattr(searchindex, "refresh", refresh_then_die)
    with pytest.raises(KeyboardInterrupt):
        import_file(admin, "customers", path, options=ImportOptions(batch_size=6))
    assert count(db, "customer") == 3 and count(db, "contact") == 6
    assert count(db, "import_item") == 3 + 6 + 1  # and the group
    assert {n for n, _s in searchindex.triggers(db)} == set(searchindex.expected_triggers(db))
    assert [r.name for r in search_customers(admin, "firm").rows] == [
        "Firm 0 ApS", "Firm 1 ApS", "Firm 2 ApS"]
    assert_index_is_right(db)


@pytest.mark.both_backends
def test_a_progress_callback_can_cancel_cleanly(admin, db, tmp_path):
    path = write_csv(tmp_path / "big.csv", company_rows(10, contacts=1))
    fractions = []

    def cancel(progress):
        fractions.append(round(progress.fraction, 2))
        raise ImportCancelled

    report = import_file(admin, "customers", path, options=ImportOptions(batch_size=4),
                         progress=cancel)
    assert report.status == "interrupted" and count(db, "customer") == 4
    assert fractions == [0.45]  # line 5 of 11
    assert "Interrupted after line 5" in report.summary()[-1]


# ---------------------------------------------------------------- jobs, audit, undo


def test_every_import_is_a_job_with_one_audit_event(admin, tmp_path):
    path = write_csv(tmp_path / "crm.csv", company_rows(3) + [["", "", "", "", "", "", "", "",
                                                               "", "", "", ""]])
    report = import_file(admin, "customers", path, options=ImportOptions(batch_size=2))
    job = ImportJob.get_by_id(report.job_id)
    assert (job.kind, job.status, job.started_by, job.file_name) == (
        "customers", "done", "boss", str(path))
    assert (job.created, job.updated, job.skipped, job.rejected) == (10, 0, 0, 1)
    assert job.mapping["Company"] == "name" and job.mapping["Roles"] == "contact_roles"
    assert job.counts["customer"]["created"] == 3 and job.finished_at is not None
    assert job.error_file == str(tmp_path / "crm.errors.csv")
    events = list(AuditEvent.select().where(AuditEvent.entity == "import_job"))
    assert len(events) == 1
    assert (events[0].action, events[0].entity_id, events[0].login) == ("import", job.id, "boss")
    assert events[0].after["counts"]["contact"]["created"] == 6
    assert events[0].after["rejected"] == 1 and events[0].after["status"] == "done"
    assert AuditEvent.select().where(AuditEvent.entity == "customer").count() == 0


@pytest.mark.both_backends
def test_undo_removes_what_was_created_and_puts_back_what_was_updated(admin, db, tmp_path):
    import_file(admin, "customers", write_csv(tmp_path / "a.csv", company_rows(2)))
    before = state(db)
    rows = company_rows(3)
    rows[1][2] = "+45 99 88 77 66"
    rows[1][6] = "Brand new group"
    report = import_file(admin, "customers", write_csv(tmp_path / "b.csv", rows),
                         options=ImportOptions(on_match="update"))
    assert report.counts["customer"].created == 1 and report.counts["customer"].updated == 1
    assert [r.name for r in search_customers(admin, "info@firm2").rows] == ["Firm 2 ApS"]
    result = undo_import(admin, report.job_id)
    assert result.removed == {"contact": 2, "customer": 1, "group": 1}
    assert result.restored == {"customer": 1}
    after = state(db)
    assert after == before
    assert search_customers(admin, "info@firm2").rows == []
    assert_index_is_right(db)
    assert Customer.get(Customer.external_id == "EXT-0").version == 3
    job = ImportJob.get_by_id(report.job_id)
    assert job.status == "undone" and job.undone_by == "boss"
    event = AuditEvent.select().where(AuditEvent.action == "undo_import").get()
    assert event.entity_id == report.job_id and event.after["removed"]["customer"] == 1
    with pytest.raises(UndoRefused, match="undone already"):
        undo_import(admin, report.job_id)


@pytest.mark.both_backends
def test_undo_is_refused_when_someone_changed_a_record_since(admin, as_role, db, tmp_path):
    report = import_file(admin, "customers", write_csv(tmp_path / "a.csv", company_rows(3)))
    firm = Customer.get(Customer.external_id == "EXT-1")
    other = as_role("fleet_administrator", "mia")
    update_customer(other, firm.id, 1, CustomerDraft.from_customer(firm).__class__(
        **{**CustomerDraft.from_customer(firm).__dict__, "notes": "called today"}))
    add_contact(other, Customer.get(Customer.external_id == "EXT-2").id,
                ContactDraft(name="Late Comer"))
    snapshot = state(db)
    with pytest.raises(UndoRefused) as refused:
        undo_import(admin, report.job_id)
    text = str(refused.value)
    assert f"Customer #{firm.id} Firm 1 ApS was edited since the import" in text
    assert "Late Comer was added since" in text and "nothing was changed" in text
    assert len(refused.value.conflicts) == 2
    assert state(db) == snapshot and ImportJob.get_by_id(report.job_id).status == "done"


@pytest.mark.both_backends
def test_undo_of_an_equipment_import(admin, db, tmp_path):
    import_file(admin, "customers", write_csv(tmp_path / "c.csv", company_rows(1, contacts=0)))
    rows = [["Serial", "Make", "Customer external ID"], ["SN-1", "Volvo", "EXT-0"],
            ["SN-2", "JCB", ""]]
    report = import_file(admin, "equipment", write_csv(tmp_path / "e.csv", rows))
    assert [r.name for r in search_customers(admin, "SN-1").rows] == ["Firm 0 ApS"]
    result = undo_import(admin, report.job_id)
    assert result.removed == {"assignment": 1, "equipment": 2}
    assert count(db, "equipment") == 0 and count(db, "assignment") == 0
    assert search_customers(admin, "SN-1").rows == []
    assert_index_is_right(db)


# ---------------------------------------------------------------- permissions


def test_roles_that_may_not_import_are_refused_before_anything_happens(as_role, db, tmp_path):
    path = write_csv(tmp_path / "crm.csv", company_rows(1))
    for role in ("limited", "estimator"):
        with pytest.raises(PermissionDenied, match="not allowed to import data"):
            import_file(as_role(role), "customers", path)
    assert count(db, "customer") == 0 and count(db, "import_job") == 0


def test_import_needs_data_import_and_the_entitys_create_permission(as_role, config, db,
                                                                   tmp_path):
    owner = as_role("account_owner", "ann")  # customers yes, equipment no
    report = import_file(owner, "customers", write_csv(tmp_path / "c.csv", company_rows(1)))
    assert report.counts["customer"].created == 1
    machines = write_csv(tmp_path / "e.csv", [["Serial"], ["SN-1"]])
    with pytest.raises(PermissionDenied, match="add, edit or retire equipment"):
        import_file(owner, "equipment", machines)
    creator = Context(db, config, Actor("cy", "custom", frozenset({"customer.create",
                                                                  "customer.view"})))
    with pytest.raises(PermissionDenied, match="import data"):
        import_file(creator, "customers", write_csv(tmp_path / "d.csv", company_rows(1)))
    importer_only = Context(db, config, Actor("di", "custom", frozenset({"data.import"})))
    with pytest.raises(PermissionDenied, match="create customers"):
        import_file(importer_only, "customers", write_csv(tmp_path / "f.csv", company_rows(1)))
    with pytest.raises(PermissionDenied):
        undo_import(as_role("limited"), report.job_id)


def test_contact_columns_and_updates_need_their_own_permissions(db, config, tmp_path):
    grants = {"data.import", "customer.create", "customer.view"}
    ctx = Context(db, config, Actor("eve", "custom", frozenset(grants)))
    with pytest.raises(PermissionDenied, match="contacts"):
        import_file(ctx, "customers", write_csv(tmp_path / "c.csv", company_rows(1)))
    plain = write_csv(tmp_path / "p.csv", [["Name", "Groups"], ["Solo ApS", ""],
                                           ["Duo ApS", "Brand new"]])
    report = import_file(ctx, "customers", plain)
    assert report.counts["customer"].created == 1
    assert "you may not create groups" in report.errors[0].message
    with pytest.raises(PermissionDenied, match="edit customers"):
        import_file(ctx, "customers", plain, options=ImportOptions(on_match="update"))


def test_an_unusable_mapping_stops_before_reading(admin, tmp_path):
    path = write_csv(tmp_path / "x.csv", [["Phone"], ["+4512345678"]])
    with pytest.raises(MappingProblem) as problem:
        import_file(admin, "customers", path)
    assert "No column holds the name" in str(problem.value)
    assert problem.value.preview.columns[0].field == "phone"
    source = open_csv(path)
    fixed = preview_mapping("customers", source.headers, {"Phone": "name"})
    report = run_import(admin, source, fixed, ImportOptions(dry_run=True))
    assert report.counts["customer"].created == 1


# ---------------------------------------------------------------- the search index during batches


@pytest.mark.both_backends
def test_imported_customers_contacts_phones_and_machines_are_found(admin, db, tmp_path):
    import_file(admin, "customers", write_csv(tmp_path / "c.csv", company_rows(3)))
    import_file(admin, "equipment", write_csv(tmp_path / "e.csv", [
        ["Serial", "Name", "Customer external ID"], ["EXC-7781", "Big digger", "EXT-2"]]))

    def names(text):
        return [r.name for r in search_customers(admin, text).rows]

    assert names("firm") == ["Firm 0 ApS", "Firm 1 ApS", "Firm 2 ApS"]
    assert names("info@firm1.example") == ["Firm 1 ApS"]
    assert names("Person1 Of2") == ["Firm 2 ApS"]  # a contact's name
    assert names("p0@firm0.example") == ["Firm 0 ApS"]  # a contact's e-mail
    assert names("0001") == ["Firm 1 ApS"]  # last digits of a contact's phone
    assert names("20000000") == ["Firm 0 ApS"]  # the company's own phone
    assert names("EXC-7781") == ["Firm 2 ApS"] and names("digger") == ["Firm 2 ApS"]
    assert_index_is_right(db)


@pytest.mark.both_backends
def test_after_a_batch_the_triggers_keep_the_index_again(admin, db, tmp_path):
    """The batch's pause ends with its transaction: later changes are indexed by the triggers."""
    import_file(admin, "customers", write_csv(tmp_path / "c.csv", company_rows(3)),
                options=ImportOptions(batch_size=2))
    if is_postgres(db):
        assert not searchindex.paused(db)
    firm = Customer.get(Customer.external_id == "EXT-1")
    add_contact(admin, firm.id, ContactDraft(name="Quentin Latecomer"))
    assert [r.name for r in search_customers(admin, "latecomer").rows] == ["Firm 1 ApS"]
    assert_index_is_right(db)


@pytest.mark.postgresql_only
def test_postgresql_batches_pause_the_triggers_instead_of_dropping_them(admin, db, tmp_path):
    live = dict(searchindex.triggers(db))
    for name, (event, function) in searchindex.expected_triggers(db).items():
        assert " ".join(live[name].replace("public.", "").split()) == (
            f"CREATE TRIGGER {name} {event} FOR EACH ROW EXECUTE FUNCTION {function}()")
    seen = []

    def look(progress):  # between batches: the triggers are there and not paused
        seen.append((dict(searchindex.triggers(db)) == live, searchindex.paused(db)))

    import_file(admin, "customers", write_csv(tmp_path / "c.csv", company_rows(5)),
                options=ImportOptions(batch_size=4), progress=look)
    assert seen and set(seen) == {(True, False)}
    with db.atomic():
        before = searchindex.drop(db)
        assert before == "off" and searchindex.paused(db)
        inner = searchindex.drop(db)
        assert inner == "on"
        searchindex.restore(db, inner)
        assert searchindex.paused(db)  # a nested pause gives back what it found
        searchindex.restore(db, before)
        assert not searchindex.paused(db)


@pytest.mark.sqlite_only  # PostgreSQL: test_postgresql_batches_pause_the_triggers_...
def test_the_triggers_are_the_ones_migration_0002_made_and_come_back(admin, db, tmp_path):
    """SQLite: re-created from their stored text (the PostgreSQL twin is below)."""
    live = dict(searchindex.triggers(db))
    for name, (event, body) in searchindex.expected_triggers().items():
        assert " ".join(live[name].split()) == " ".join(
            f"CREATE TRIGGER {name} {event} BEGIN {body} END".split())
    import_file(admin, "customers", write_csv(tmp_path / "c.csv", company_rows(3)))
    assert dict(searchindex.triggers(db)) == live


def test_one_rebuild_per_batch_gives_the_rows_the_triggers_give(admin, db, config, tmp_path,
                                                                fresh_target):
    from tui.domain.database import open_database
    from tui.domain.models import ALL_MODELS

    path = write_csv(tmp_path / "c.csv", company_rows(12, contacts=3))
    import_file(admin, "customers", path, options=ImportOptions(batch_size=7))
    fast = state(db)
    other = open_database(fresh_target())
    try:
        role = config.roles["administrator"]
        ctx = Context(other, config, Actor("boss", "administrator", role.permissions))
        import_file(ctx, "customers", path,
                    options=ImportOptions(batch_size=7, fast_index=False))
        assert state(other) == fast
    finally:
        other.close()
        db.bind(ALL_MODELS)


def test_worker_processes_validate_exactly_as_the_main_process(admin, db, config, tmp_path,
                                                               fresh_target):
    from tui.domain.database import open_database
    from tui.domain.models import ALL_MODELS

    rows = company_rows(15, contacts=2) + [["X", "Bad", "nope", "", "", "Mars", "", "", "", "",
                                            "", ""]]
    path = write_csv(tmp_path / "c.csv", rows)
    report = import_file(admin, "customers", path, options=ImportOptions(batch_size=4, workers=2))
    inline = state(db)
    other = open_database(fresh_target())
    try:
        role = config.roles["administrator"]
        ctx = Context(other, config, Actor("boss", "administrator", role.permissions))
        second = import_file(ctx, "customers", path,
                             options=ImportOptions(batch_size=4, workers=0))
        assert state(other) == inline
        assert second.counts_dict() == report.counts_dict() and second.errors == report.errors
    finally:
        other.close()
        db.bind(ALL_MODELS)


def test_items_record_what_each_job_did(admin, tmp_path):
    report = import_file(admin, "customers", write_csv(tmp_path / "c.csv", company_rows(2)))
    items = list(ImportItem.select().where(ImportItem.job == report.job_id)
                 .order_by(ImportItem.id))
    assert sorted({(i.entity, i.action) for i in items}) == [
        ("contact", "create"), ("customer", "create"), ("group", "create")]
    assert all(i.version == 1 for i in items if i.entity != "group")


def test_another_connection_sees_whole_batches_only(admin, db, tmp_path):
    """While an import runs, another connection never sees a half-written batch, and the
    search index's triggers are there for it (SQLite drops them inside the batch's
    transaction; PostgreSQL only pauses them for that transaction)."""
    path = write_csv(tmp_path / "c.csv", company_rows(9, contacts=2))
    observed = []
    trigger_names = ("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal" if is_postgres(db)
                     else "SELECT name FROM sqlite_master WHERE type = 'trigger'")

    def look(progress):
        other, _driver = raw_connection(db)
        try:
            cursor = other.cursor()
            cursor.execute("SELECT count(*) FROM contact")
            observed.append(cursor.fetchone()[0])
            cursor.execute(trigger_names)
            assert set(searchindex.expected_triggers(db)) <= {r[0] for r in cursor.fetchall()}
        finally:
            other.close()

    import_file(admin, "customers", path, options=ImportOptions(batch_size=5), progress=look)
    assert observed == [5, 10, 15, 18]
