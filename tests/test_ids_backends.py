"""The schema and the hand-written SQL on both backends (SQLite and PostgreSQL): migrations,
column types, the currency lock, ids an import takes, the fleet's sorts, the reports.

Each test runs as [sqlite] and [postgresql] (the server: $CLIENTBOOK_TEST_PG_URL, else the
run's throwaway one; see tests/conftest.py). The ``postgresql_only`` tests look at
PostgreSQL's catalogue.
"""

from __future__ import annotations

import importlib
from datetime import date, datetime

import peewee
import pytest

from tui.domain import dialect
from tui.domain.database import HISTORY_TABLE, known_migrations, open_database
from tui.domain.imports import ImportOptions, import_file
from tui.domain.migrations._postgres import postgres_after_migrations
from tui.domain.models import ALL_MODELS, Customer, CustomerGroup, Equipment, Estimate, \
    GroupMembership
from tui.domain.services.customers import CustomerDraft, create_customer, delete_customer
from tui.domain.services.equipment import (
    EquipmentDraft,
    add_equipment,
    assign_equipment,
    equipment_types,
    search_equipment,
)
from tui.domain.services.reports import report_by

pytestmark = pytest.mark.both_backends

# The search index's batch mode (searchindex.py) is tested in test_import; these are about ids.
NO_FAST_INDEX = ImportOptions(fast_index=False)


@pytest.fixture
def ctx(admin):
    return admin


def _customer(ctx, name: str, **fields):
    fields.setdefault("billing_country", "DK")
    return create_customer(ctx, CustomerDraft(name=name, **fields), allow_duplicate=True)


def _estimate(customer_id: int, total: int, number: str = "E-1") -> Estimate:
    now = datetime(2026, 1, 2, 3, 4, 5)
    return Estimate.create(number=number, title="Lift", issued_on=date(2026, 1, 2),
                           currency="EUR", status="draft", customer=customer_id,
                           customer_name="x", language="en", total_minor=total,
                           created_at=now, updated_at=now)


# -- the schema on PostgreSQL ---------------------------------------------------------------


@pytest.mark.postgresql_only
def test_every_migration_applies_on_a_new_postgresql_database(db):
    applied = [name for (name,) in db.execute_sql(
        f"SELECT name FROM {HISTORY_TABLE} ORDER BY id").fetchall()]
    assert applied == known_migrations()
    types = db.execute_sql(
        "SELECT table_name, column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = current_schema()").fetchall()
    assert types
    assert [t for t in types if t[2] in ("character varying", "integer", "smallint")] == []
    sequences = db.execute_sql(
        "SELECT sequencename, data_type::text FROM pg_sequences"
        " WHERE schemaname = current_schema()").fetchall()
    assert sequences and all(kind == "bigint" for _name, kind in sequences)
    assert postgres_after_migrations(db) == {}  # a second run finds nothing to change


@pytest.mark.postgresql_only
def test_after_migrations_keeps_the_triggers_on_columns_it_changes(fresh_target):
    db = open_database(fresh_target())
    # The currency lock names customer.currency (UPDATE OF, WHEN): the type change must
    # drop and make it again. Put a varchar back and run the step once more.
    db.execute_sql("DROP TRIGGER customer_currency_locked ON customer")
    db.execute_sql("ALTER TABLE customer ALTER COLUMN currency TYPE varchar(255)")
    db.execute_sql("CREATE TRIGGER customer_currency_locked BEFORE UPDATE OF currency"
                      " ON customer FOR EACH ROW WHEN (NEW.currency IS DISTINCT FROM"
                      " OLD.currency) EXECUTE FUNCTION customer_currency_locked()")
    before = sorted(db.execute_sql(
        "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal").fetchall())
    assert postgres_after_migrations(db) == {"customer": ["currency text"]}
    after = sorted(db.execute_sql(
        "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal").fetchall())
    assert after == before and ("customer_currency_locked",) in after
    db.close()


@pytest.mark.postgresql_only
def test_0006_leaves_a_postgresql_database_alone(db):
    module = importlib.import_module("tui.domain.migrations.0006_ids_never_reused")
    assert module.up(None, db) is None


# -- both backends --------------------------------------------------------------------------


def test_long_text_and_big_amounts_are_kept(ctx):
    """No varchar(255) and no 32-bit integer on either backend: what SQLite keeps, PostgreSQL
    keeps."""
    customer = _customer(ctx, "Long Ltd")
    long_path = "/srv/import/" + "x" * 600 + ".csv"
    Customer.update(website_key=long_path).where(Customer.id == customer.id).execute()
    assert Customer.get_by_id(customer.id).website_key == long_path
    estimate = _estimate(customer.id, 10**15)
    assert Estimate.get_by_id(estimate.id).total_minor == 10**15
    rows = {row.key: row for row in report_by(ctx, "segment")}
    totals = [row.open_estimates_total for row in rows.values() if row.open_estimates_total]
    assert totals == [{"EUR": 10**15}] and type(totals[0]["EUR"]) is int


def test_the_currency_lock_refuses_a_raw_update(ctx):
    locked = _customer(ctx, "Quoted A/S", currency="EUR")
    free = _customer(ctx, "Free A/S", currency="EUR")
    _estimate(locked.id, 100)
    with pytest.raises(peewee.IntegrityError, match="currency"):
        with ctx.db.atomic():
            Customer.update(currency="DKK").where(Customer.id == locked.id).execute()
    assert Customer.get_by_id(locked.id).currency == "EUR"
    with ctx.db.atomic():
        Customer.update(currency="DKK").where(Customer.id == free.id).execute()
        Customer.update(currency="EUR", name="Renamed").where(
            Customer.id == locked.id).execute()  # same currency: allowed
    assert Customer.get_by_id(free.id).currency == "DKK"


def test_reserved_ids_are_never_given_again(ctx):
    db = ctx.db
    first = _customer(ctx, "One")
    with db.atomic():
        ids = dialect.reserve_ids(db, "customer", 5)
    assert ids.start > first.id and len(ids) == 5
    # Nothing the database gives later falls in the reservation.
    assert _customer(ctx, "Two").id > ids[-1]
    with db.atomic():
        more = dialect.reserve_ids(db, "customer", 3)
        dialect.release_ids(db, "customer", more[1:])  # the unused tail goes back
        assert dialect.next_id(db, "customer") == more[1]
    assert _customer(ctx, "Three").id == more[1]


def test_an_import_never_reuses_a_deleted_id_nor_collides_with_the_database(ctx, tmp_path):
    kept = _customer(ctx, "Kept")
    newest = _customer(ctx, "Newest")
    delete_customer(ctx, newest.id, newest.version)
    path = tmp_path / "crm.csv"
    path.write_text("External ID,Company,Country\nX-1,Imported One,Denmark\n"
                    "X-2,Imported Two,Denmark\n", encoding="utf-8")
    report = import_file(ctx, "customers", path, options=NO_FAST_INDEX)
    assert report.status == "done" and report.counts["customer"].created == 2
    imported = sorted(c.id for c in Customer.select().where(Customer.external_id.is_null(False)))
    assert imported[0] > newest.id > kept.id  # the deleted one's id is not given again
    # The next customer made in the app does not collide with the imported ids.
    later = _customer(ctx, "Later")
    assert later.id > imported[-1]
    assert sorted(c.name for c in Customer.select()) == [
        "Imported One", "Imported Two", "Kept", "Later"]


def test_an_import_batch_takes_ids_in_growing_blocks_and_gives_back_the_rest(ctx):
    from tui.domain.imports.batches import BaseWriter
    from tui.domain.services._base import write

    first = _customer(ctx, "First").id
    writer = BaseWriter(ctx, "customers", on_match="skip", job_id=None, dry_run=False)
    writer.block_size = 2
    with write(ctx, "customer.create"):
        taken = [writer._new_id(Customer) for _ in range(7)]  # blocks of 2, 4, 8
        writer._release_ids()
    assert taken == list(range(first + 1, first + 8))
    assert dialect.next_id(ctx.db, "customer") == first + 8  # the unused 3 came back
    assert _customer(ctx, "Next").id == first + 8


def test_a_dry_run_takes_no_id(ctx, tmp_path):
    _customer(ctx, "Before")
    path = tmp_path / "crm.csv"
    path.write_text("External ID,Company,Country\nX-1,Imported One,Denmark\n",
                    encoding="utf-8")
    planned = dialect.next_id(ctx.db, "customer")
    report = import_file(ctx, "customers", path,
                         options=ImportOptions(dry_run=True, fast_index=False))
    assert report.counts["customer"].created == 1
    assert dialect.next_id(ctx.db, "customer") == planned  # nothing taken
    assert _customer(ctx, "After").id == planned


def test_an_equipment_import_takes_machine_and_assignment_ids_from_the_database(ctx, tmp_path):
    holder = _customer(ctx, "Holder")
    old = add_equipment(ctx, EquipmentDraft(serial="OLD-1"))
    path = tmp_path / "fleet.csv"
    path.write_text("Serial,Name,Customer\nNEW-1,Lift,Holder\nNEW-2,Crane,Holder\n",
                    encoding="utf-8")
    report = import_file(ctx, "equipment", path, options=NO_FAST_INDEX)
    assert report.status == "done", report.summary()
    new = sorted(e.id for e in Equipment.select().where(Equipment.serial.startswith("NEW")))
    assert len(new) == 2 and new[0] > old.id
    again = add_equipment(ctx, EquipmentDraft(serial="AFTER-1"))
    assert again.id > new[-1]
    [assigned] = assign_equipment(ctx, holder.id, [again.id])
    assert assigned.customer_id == holder.id


def test_the_fleet_sorts_by_holder_name_and_type_on_both(ctx):
    zed = _customer(ctx, "zed rental")
    abel = _customer(ctx, "Abel Lifts")
    machines = {}
    for serial, name, kind in [("S-1", "beta", "Lift"), ("S-2", "Alpha", "crane"),
                               ("S-3", "gamma", "lift"), ("S-4", "Delta", "Crane")]:
        machines[serial] = add_equipment(ctx, EquipmentDraft(serial=serial, name=name,
                                                             type=kind))
    assign_equipment(ctx, zed.id, [machines["S-1"].id])
    assign_equipment(ctx, abel.id, [machines["S-3"].id])

    def serials(**kwargs):
        return [row.serial for row in search_equipment(ctx, **kwargs).rows]

    assert serials(sort="name") == ["S-2", "S-1", "S-4", "S-3"]  # case ignored
    assert serials(sort="holder") == ["S-3", "S-1", "S-2", "S-4"]  # A, z, then nobody
    assert serials(sort="type") == ["S-2", "S-4", "S-1", "S-3"]
    # Words match case-insensitively on both (ILIKE on PostgreSQL), the holder's name too,
    # and literally: % is not a wildcard.
    assert serials(text="ALPHA") == ["S-2"]
    assert serials(text="ZED", sort="holder") == ["S-1"]
    assert serials(text="%") == []
    page = search_equipment(ctx, text="a", sort="holder", limit=2, offset=1)
    assert page.total == 4 and [r.serial for r in page.rows] == ["S-1", "S-2"]
    assert [r.holder_name for r in page.rows] == ["zed rental", None]
    types = equipment_types(ctx)
    assert [t.lower() for t in types] == ["crane", "crane", "lift", "lift"]


def test_the_group_report_orders_groups_by_name_regardless_of_case(ctx):
    customer = _customer(ctx, "Grouped")
    for name in ("beta", "Alpha", "Gamma"):
        group = CustomerGroup.create(name=name)
        GroupMembership.create(customer=customer.id, group=group.id)
    keys = [row.key for row in report_by(ctx, "group")]
    assert keys == ["Alpha", "beta", "Gamma"]


def test_dialect_helpers():
    sqlite = peewee.SqliteDatabase(":memory:")
    postgres = peewee.PostgresqlDatabase("x")
    assert dialect.sql(sqlite, "a = ? AND b = ?") == "a = ? AND b = ?"
    assert dialect.sql(postgres, "a = ? AND b = ?") == "a = %s AND b = %s"
    assert dialect.marks(postgres, 3) == "%s, %s, %s"
    assert dialect.nocase(sqlite, "e.name") == "e.name COLLATE NOCASE"
    assert dialect.nocase(postgres, "e.name") == "lower(e.name)"
    assert dialect.reserve_ids(sqlite, "customer", 0) == range(0)
    with pytest.raises(ValueError):
        dialect._quoted_table('customer"; DROP TABLE x; --')


def test_the_postgresql_schema_step_is_not_a_numbered_migration():
    # _postgres.py is not a numbered migration: the runner's glob must not pick it up.
    assert all(name[0].isdigit() for name in known_migrations())
    assert not any("postgres" in name for name in known_migrations())
