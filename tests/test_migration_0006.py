"""Schema 6 (tui/domain/migrations/0006_ids_never_reused.py): ids are never given twice.

A schema-5 database filled through the real services (so its audit trail is what the
application writes), with the newest customer, contact, machine and document deleted,
is upgraded by ``open_database``; then its rows, indexes, triggers, foreign keys and the
search index are checked, and the deleted ids must not come back.
"""

from __future__ import annotations

import importlib.util
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import peewee
import pytest
from playhouse.migrations import Runner

from tests.conftest import actor_for
from tui.domain import backup
from tui.domain.context import Context
from tui.domain.database import (
    HISTORY_TABLE,
    MIGRATIONS_DIR,
    ClientbookDatabase,
    current_schema_version,
    known_migrations,
    open_database,
    schema_version,
)
from tui.domain.errors import AlreadyAssigned, DatabaseError, NotFound
from tui.domain.models import ALL_MODELS, AdminDocument, Contact, Customer, Equipment
from tui.domain.services.contacts import ContactDraft, add_contact
from tui.domain.services.customers import CustomerDraft, create_customer, delete_customer, \
    update_customer
from tui.domain.services.documents import add_document, delete_document
from tui.domain.services.equipment import EquipmentDraft, add_equipment, assign_equipment, \
    delete_equipment
from tui.domain.services.estimates import EstimateDraft, LineDraft, create_estimate
from tui.domain.services.events import record_event
from tui.domain.services.projects import ProjectDraft, create_project
from tui.domain.services.search import search_customers

SCHEMA_FIVE = "0005_estimates_projects"
MIGRATION = next(MIGRATIONS_DIR.glob("0006_*.py"))
REBUILT = {"app_user", "customer", "customer_group", "contact", "equipment", "assignment",
           "admin_document", "audit_event", "equipment_event", "notification", "import_job",
           "import_item", "estimate", "estimate_line", "project"}
NOT_REBUILT = {"group_membership", "estimate_sequence", HISTORY_TABLE}


def load_migration():
    spec = importlib.util.spec_from_file_location(MIGRATION.stem, MIGRATION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def table_sql(connection: sqlite3.Connection) -> dict[str, str]:
    return dict(connection.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND sql IS NOT NULL"))


def schema_objects(connection: sqlite3.Connection, kind: str) -> set[tuple[str, str, str]]:
    return set(connection.execute(
        "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = ? AND sql IS NOT NULL",
        (kind,)))


def dump(connection: sqlite3.Connection, table: str) -> list[tuple]:
    order = "customer_id, group_id" if table == "group_membership" else "rowid"
    return connection.execute(f'SELECT * FROM "{table}" ORDER BY {order}').fetchall()


def sequences(connection: sqlite3.Connection) -> dict[str, int]:
    return dict(connection.execute("SELECT name, seq FROM sqlite_sequence"))


def schema_five_database(path: Path) -> ClientbookDatabase:
    """An empty database as Clientbook 5 made it, open, with the models bound to it."""
    db = ClientbookDatabase(str(path), pragmas={"journal_mode": "wal", "foreign_keys": 1},
                            lock_type="IMMEDIATE")
    db.connect()
    Runner(db, str(MIGRATIONS_DIR), table_name=HISTORY_TABLE).up(target=SCHEMA_FIVE)
    db.bind(ALL_MODELS)
    return db


@dataclass
class Old:
    """What the schema-5 database held, and what it had deleted."""

    path: Path
    kept: Customer  # holds a machine, has an estimate, a project and a contact
    other: Customer
    deleted_customer: int  # the newest customer when it was deleted
    deleted_contact: int  # the newest contact, deleted with its customer (no audit row of its own)
    deleted_machine: int
    deleted_document: int
    held_machine: Equipment
    tables: dict[str, list[tuple]]
    indexes: set
    triggers: set


@pytest.fixture
def old(tmp_path, config) -> Old:
    path = tmp_path / "five.db"
    db = schema_five_database(path)
    try:
        ctx = Context(db, config, actor_for(config, "administrator", "boss"))
        kept = create_customer(ctx, CustomerDraft(
            name="Kestrel Kran ApS", billing_country="DK", phone="+4512345678",
            groups=("Harbour",), contacts=(ContactDraft(name="Karin Holm", roles=("billing",)),)))
        other = create_customer(ctx, CustomerDraft(name="Otter Lift A/S", billing_country="DK"))
        machine = add_equipment(ctx, EquipmentDraft(serial="KR-100", name="Tower crane"))
        assign_equipment(ctx, kept.id, [machine.id])
        record_event(ctx, type="service_due", equipment_id=machine.id, message="Due")
        create_estimate(ctx, EstimateDraft(customer_id=kept.id, title="Harbour hire",
                                           lines=(LineDraft("Crane", "2", "1500"),)))
        contact = Contact.get(Contact.customer == kept.id)
        create_project(ctx, kept.id, ProjectDraft(name="Quay wall",
                                                  billing_contact_id=contact.id))
        kept_document = add_document(ctx, other.id, "Terms", "contract")
        # The newest of each, then deleted.
        doomed = create_customer(ctx, CustomerDraft(
            name="Doomed Hire ApS", billing_country="DK",
            contacts=(ContactDraft(name="Dora Doom"), ContactDraft(name="Dan Doom"))))
        doomed_contacts = [c.id for c in Contact.select().where(Contact.customer == doomed.id)]
        spare = add_equipment(ctx, EquipmentDraft(serial="SP-1", name="Spare hoist"))
        paper = add_document(ctx, other.id, "Old insurance", "insurance")
        delete_document(ctx, paper.id)
        delete_equipment(ctx, spare.id, spare.version)
        delete_customer(ctx, doomed.id)
        kept = Customer.get_by_id(kept.id)
        assert kept_document.id < paper.id
    finally:
        db.close()
    with raw(path) as connection:
        tables = {name: dump(connection, name) for name in table_sql(connection)
                  if not name.startswith(("customer_search", "sqlite_"))}
        indexes = schema_objects(connection, "index")
        triggers = schema_objects(connection, "trigger")
        assert "AUTOINCREMENT" not in " ".join(table_sql(connection).values())
    connection.close()
    return Old(path, kept, other, doomed.id, max(doomed_contacts), spare.id, paper.id, machine,
               tables, indexes, triggers)


@pytest.fixture
def upgraded(old, config):
    db = open_database(old.path)
    yield db, Context(db, config, actor_for(config, "administrator", "boss"))
    db.close()


# ------------------------------------------------------------------------ the upgrade

def test_a_schema_five_database_is_backed_up_then_rebuilt_with_autoincrement(old, upgraded):
    db, _ctx = upgraded
    assert current_schema_version(db) == schema_version(known_migrations()) >= 6
    backups = list(old.path.parent.glob("five.db.schema5-*.bak"))
    assert len(backups) == 1
    with raw(old.path) as connection:
        sql = table_sql(connection)
        for table in REBUILT:
            assert "PRIMARY KEY AUTOINCREMENT" in sql[table], table
        for table in NOT_REBUILT:
            assert "AUTOINCREMENT" not in sql[table], table
        assert not any(name.startswith("new_") for name in sql)
        # Every row kept, with its id and every value.
        for table, rows in old.tables.items():
            if table != HISTORY_TABLE:
                assert dump(connection, table) == rows, table
        assert dump(connection, HISTORY_TABLE)[:-1] == old.tables[HISTORY_TABLE]
        # The same indexes (the partial unique one included) and triggers, word for word.
        assert schema_objects(connection, "index") == old.indexes
        assert schema_objects(connection, "trigger") == old.triggers
        assert connection.execute("PRAGMA foreign_key_check").fetchall() == []
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        # Foreign keys still point where they did.
        assert {row[2] for row in connection.execute("PRAGMA foreign_key_list(project)")} == {
            "customer", "contact"}
    connection.close()
    assert db.execute_sql("PRAGMA foreign_keys").fetchone() == (1,)  # back on


def test_ids_deleted_before_the_upgrade_are_not_given_again(old, upgraded):
    _db, ctx = upgraded
    with raw(old.path) as connection:
        seq = sequences(connection)
    connection.close()
    # The newest rows were deleted: only the audit trail still names them.
    assert old.deleted_customer > max(r[0] for r in old.tables["customer"])
    assert seq["customer"] == old.deleted_customer
    assert seq["contact"] == old.deleted_contact
    assert seq["equipment"] == old.deleted_machine
    assert seq["admin_document"] == old.deleted_document
    newcomer = create_customer(ctx, CustomerDraft(name="Newcomer ApS", billing_country="DK"))
    assert newcomer.id == old.deleted_customer + 1
    person = add_contact(ctx, newcomer.id, ContactDraft(name="Nina New"))
    assert person.id == old.deleted_contact + 1
    assert add_equipment(ctx, EquipmentDraft(serial="NW-1")).id == old.deleted_machine + 1
    assert add_document(ctx, newcomer.id, "New", "contract").id == old.deleted_document + 1


def test_a_stale_save_of_a_customer_deleted_before_the_upgrade_is_refused(old, upgraded):
    _db, ctx = upgraded
    create_customer(ctx, CustomerDraft(name="Newcomer ApS", billing_country="DK"))
    with pytest.raises(NotFound):
        update_customer(ctx, old.deleted_customer, 1,
                        CustomerDraft(name="Stale edit", billing_country="DK"))


def test_search_index_and_its_triggers_work_after_the_upgrade(old, upgraded):
    _db, ctx = upgraded

    def found(text: str) -> list[str]:
        return [row.name for row in search_customers(ctx, text).rows]

    # What the old database held is still indexed: name, contact, held machine, phone digits.
    assert found("kestrel") == ["Kestrel Kran ApS"]
    assert found("karin") == ["Kestrel Kran ApS"]
    assert found("KR-100") == ["Kestrel Kran ApS"]
    assert found("5678") == ["Kestrel Kran ApS"]
    assert found("doomed") == []
    # Each trigger fires: customer insert and update, contact insert, assignment insert,
    # machine rename, customer delete.
    made = create_customer(ctx, CustomerDraft(name="Pelican Plant ApS", billing_country="DK"))
    assert found("pelican") == ["Pelican Plant ApS"]
    update_customer(ctx, made.id, made.version,
                    CustomerDraft(name="Puffin Plant ApS", billing_country="DK"))
    assert found("pelican") == [] and found("puffin") == ["Puffin Plant ApS"]
    add_contact(ctx, made.id, ContactDraft(name="Zelda Quist"))
    assert found("quist") == ["Puffin Plant ApS"]
    machine = add_equipment(ctx, EquipmentDraft(serial="PU-7", name="Boom lift"))
    assign_equipment(ctx, made.id, [machine.id])
    assert found("PU-7") == ["Puffin Plant ApS"]
    Equipment.update(serial="PU-8").where(Equipment.id == machine.id).execute()
    assert found("PU-8") == ["Puffin Plant ApS"] and found("PU-7") == []
    delete_customer(ctx, made.id)
    assert found("puffin") == []


def test_the_currency_lock_trigger_still_fires(old, upgraded):
    with raw(old.path) as connection:
        with pytest.raises(sqlite3.IntegrityError, match="currency of a customer with estimates"):
            connection.execute("UPDATE customer SET currency = 'USD' WHERE id = ?",
                               (old.kept.id,))
        # A customer without estimates may change currency.
        connection.execute("UPDATE customer SET currency = 'USD' WHERE id = ?", (old.other.id,))
        assert connection.execute("SELECT id, currency FROM customer ORDER BY id").fetchall() == [
            (old.kept.id, old.kept.currency), (old.other.id, "USD")]
        assert old.kept.currency != "USD"
    connection.close()


def test_foreign_keys_are_enforced_after_the_upgrade(old, upgraded):
    db, _ctx = upgraded
    with pytest.raises(peewee.IntegrityError):
        Contact.insert(customer=10_000, name="Orphan").execute()
    # RESTRICT: a machine with history and events cannot be deleted under them.
    with pytest.raises(peewee.IntegrityError):
        db.execute_sql("DELETE FROM equipment WHERE id = ?", (old.held_machine.id,))
    # Deleting a customer row cascades to its contacts, group memberships and projects and
    # clears its estimates' link (ON DELETE CASCADE / SET NULL survived the rebuild).
    db.execute_sql("DELETE FROM customer WHERE id = ?", (old.kept.id,))
    assert Contact.select().where(Contact.customer == old.kept.id).count() == 0
    assert db.execute_sql("SELECT count(*) FROM group_membership").fetchone() == (0,)
    assert db.execute_sql("SELECT count(*) FROM project").fetchone() == (0,)
    assert db.execute_sql("SELECT customer_id FROM estimate").fetchall() == [(None,)]
    db.execute_sql("DELETE FROM customer WHERE id = ?", (old.other.id,))
    assert AdminDocument.select().count() == 0


def test_one_open_assignment_per_machine_is_still_enforced(old, upgraded):
    db, ctx = upgraded
    with pytest.raises(AlreadyAssigned):
        assign_equipment(ctx, old.other.id, [old.held_machine.id])
    with pytest.raises(peewee.IntegrityError, match="UNIQUE"):
        db.execute_sql(
            "INSERT INTO assignment (equipment_id, customer_id, customer_name, assigned_at, "
            "assigned_by) VALUES (?, ?, 'Otter', '2026-01-01', 'sql')",
            (old.held_machine.id, old.other.id))


def test_opening_again_changes_nothing(old, upgraded):
    db, _ctx = upgraded
    db.close()
    with raw(old.path) as connection:
        before = (table_sql(connection), sequences(connection))
    connection.close()
    open_database(old.path).close()
    with raw(old.path) as connection:
        assert (table_sql(connection), sequences(connection)) == before
    connection.close()
    assert len(list(old.path.parent.glob("five.db.schema5-*.bak"))) == 1


# ------------------------------------------------------------------------ refusals

def test_a_broken_foreign_key_stops_the_upgrade_and_leaves_schema_five(old):
    with raw(old.path) as connection:  # foreign keys are off on a plain connection
        connection.execute(
            "INSERT INTO contact (customer_id, name, email, phone, job_title, roles, "
            "search_digits, created_at, updated_at, version) "
            "VALUES (9999, 'Lost', '', '', '', '[]', '', '2026-01-01', '2026-01-01', 1)")
    connection.close()
    with pytest.raises(DatabaseError, match=r"table contact .* missing customer"):
        open_database(old.path)
    with raw(old.path) as connection:
        assert "AUTOINCREMENT" not in " ".join(table_sql(connection).values())
        applied = [name for (name,) in connection.execute(f"SELECT name FROM {HISTORY_TABLE}")]
        assert max(applied) == SCHEMA_FIVE
        assert not any(name.startswith("new_") for name in table_sql(connection))
        assert schema_objects(connection, "trigger") == old.triggers
    connection.close()


def test_the_rebuild_refuses_to_run_with_foreign_keys_on(old):
    """Dropping a table with foreign keys on would delete its rows and cascade."""
    db = peewee.SqliteDatabase(str(old.path), pragmas={"foreign_keys": 1})
    try:
        with db.atomic(), pytest.raises(DatabaseError, match="foreign keys on"):
            load_migration().up(None, db)
        assert db.execute_sql("SELECT count(*) FROM contact").fetchone()[0] == 1
    finally:
        db.close()


def test_a_table_of_an_unexpected_shape_is_named():
    module = load_migration()
    with pytest.raises(DatabaseError, match="table customer"):
        module.new_table_sql("customer", 'CREATE TABLE "customer" ("id" TEXT PRIMARY KEY)')
    assert module.new_table_sql(
        "customer", 'CREATE TABLE "customer" ("id" INTEGER NOT NULL PRIMARY KEY, "x" TEXT)'
    ) == 'CREATE TABLE "new_customer" ("id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, "x" TEXT)'


# ------------------------------------------------------------------------ new databases, models

def test_a_new_database_has_autoincrement_ids(db, db_path):
    with raw(db_path) as connection:
        sql = table_sql(connection)
        with_id = {name for name in sql if not name.startswith(("customer_search", "sqlite_"))
                   and "\"id\" INTEGER" in sql[name]}
        assert with_id - {HISTORY_TABLE} == REBUILT
        for table in REBUILT:
            assert '"id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT' in sql[table], table
    connection.close()


def test_the_models_declare_autoincrement_where_the_tables_have_it(db):
    tables = dict(db.execute_sql("SELECT name, sql FROM sqlite_master WHERE type = 'table'"))
    for model in ALL_MODELS:
        query, _params = model._schema._create_table().query()
        declared = "AUTOINCREMENT" in query
        assert declared == ("AUTOINCREMENT" in tables[model._meta.table_name]), \
            model._meta.table_name


def test_a_deleted_newest_record_id_is_never_given_again(admin, make_customer, make_machine):
    first, newest = make_customer("One ApS"), make_customer("Two ApS")
    delete_customer(admin, newest.id)
    assert make_customer("Three ApS").id == newest.id + 1
    machine = make_machine("DEL-1")
    delete_equipment(admin, machine.id, machine.version)
    assert make_machine("DEL-2").id == machine.id + 1
    contact = add_contact(admin, first.id, ContactDraft(name="Ann"))
    from tui.domain.services.contacts import delete_contacts
    delete_contacts(admin, [contact.id])
    assert add_contact(admin, first.id, ContactDraft(name="Bo")).id == contact.id + 1


# ------------------------------------------------------------------------ restore

def test_restoring_a_schema_five_backup_upgrades_it_through_schema_six(old, admin, db_path):
    report = backup.restore_database(admin, old.path)
    assert report.migrated_from == 5
    assert current_schema_version(admin.db) == schema_version(known_migrations())
    with raw(db_path) as connection:
        sql = table_sql(connection)
        assert all("AUTOINCREMENT" in sql[table] for table in REBUILT)
        assert sequences(connection)["customer"] == old.deleted_customer
    connection.close()
    made = create_customer(admin, CustomerDraft(name="After Restore ApS", billing_country="DK"))
    assert made.id == old.deleted_customer + 1
    assert [row.name for row in search_customers(admin, "kestrel").rows] == ["Kestrel Kran ApS"]
    with pytest.raises(NotFound):
        update_customer(admin, old.deleted_customer, 1,
                        CustomerDraft(name="Stale", billing_country="DK"))


def test_an_import_after_deleting_the_newest_customer_does_not_reuse_its_id(
        admin, make_customer, tmp_path):
    from tui.domain.imports import import_file

    make_customer("Old Hand ApS")
    newest = make_customer("Gone Soon ApS")
    delete_customer(admin, newest.id)
    path = tmp_path / "one.csv"
    path.write_text("Company,Country\nImported Ltd,Denmark\n", encoding="utf-8")
    report = import_file(admin, "customers", path)
    assert report.counts["customer"].created == 1
    assert Customer.get(Customer.name == "Imported Ltd").id > newest.id


def test_ids_given_after_a_backup_are_not_given_again_after_restoring_it(
        admin, make_customer, tmp_path):
    make_customer("Before Backup ApS")
    saved = backup.backup_database(admin, tmp_path / "saved.db")
    later = make_customer("Came Later ApS")  # an operator's screen may still hold it
    backup.restore_database(admin, saved.path)
    assert make_customer("After Restore ApS").id > later.id
