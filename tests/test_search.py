"""The customer search: every field, accents folded, any run of phone digits, hostile text.

Every test runs on SQLite (FTS5) and on PostgreSQL (tsvector): [sqlite], [postgresql].
"""

from __future__ import annotations

import uuid

import peewee
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui.domain.services import contacts as contact_service
from tui.domain.services import customers as customer_service
from tui.domain.services import equipment as equipment_service
from tui.domain.services.contacts import ContactDraft
from tui.domain.services.customers import CustomerDraft
from tests.conftest import raw_connection
from tui.domain.database import open_database
from tui.domain.services.search import match_expression, search_customers, tsquery_expression

pytestmark = pytest.mark.both_backends


def is_postgres(db) -> bool:
    return isinstance(db, peewee.PostgresqlDatabase)


def names(ctx, text, **filters):
    return [row.name for row in search_customers(ctx, text, **filters).rows]


@pytest.fixture
def nordic(admin, make_customer, make_machine):
    customer = make_customer(
        "Nordic Lifting A/S", phone="+45 87 65 43 21", email="info@nordic-lift.dk",
        website="www.nordic-lift.dk", billing_street="Industrivej 12", billing_postal_code="8000",
        billing_city="Århus", notes="Prefers morning deliveries",
        contacts=(ContactDraft(name="Zoë Martin", email="zoe@nordic-lift.dk",
                               phone="+45 20 30 40 55", job_title="Fleet manager"),))
    make_customer("Bâtir Rental SARL", billing_country="FR", billing_city="Lyon",
                  phone="04 72 00 11 22")
    machine = make_machine("CAT-320-7781", name="Excavator")
    equipment_service.assign_equipment(admin, customer.id, [machine.id])
    return customer


@pytest.mark.parametrize("query", [
    "nordic", "NORD", "lifting a/s", "industrivej", "8000", "arhus", "Århus", "info@nordic-lift.dk",
    "nordic-lift", "zoe", "Zoë", "martin", "fleet manager", "zoe@nordic-lift.dk",
    "CAT-320", "cat 320 7781", "excavator", "4321", "654321", "+45 87 65", "87654321",
    "4055", "20 30 40 55", "30 40", "morning", "nordic 4321",
])
def test_every_field_is_searchable(admin, nordic, query):
    assert names(admin, query) == ["Nordic Lifting A/S"]


@pytest.mark.parametrize("query", ["nordic lyon", "9999", "zz", "excavatorx"])
def test_all_words_must_match(admin, nordic, query):
    assert names(admin, query) == []


def test_empty_search_lists_everyone_sorted_and_paged(admin, nordic):
    page = search_customers(admin, "  ", limit=1)
    assert page.total == 2 and [r.name for r in page.rows] == ["Bâtir Rental SARL"]
    assert [r.name for r in search_customers(admin, "", limit=1, offset=1).rows] == [
        "Nordic Lifting A/S"]
    row = search_customers(admin, "nordic").rows[0]
    assert (row.contacts, row.machines, row.city, row.country) == (1, 1, "Århus", "DK")


def test_filters_by_segment_and_group(admin, make_customer):
    make_customer("Dealer One", segment="dealer", groups=("North",))
    make_customer("Dealer Two", segment="dealer")
    make_customer("Contractor", segment="contractor", groups=("north",))
    assert names(admin, "", segment="dealer") == ["Dealer One", "Dealer Two"]
    assert names(admin, "", group="NORTH") == ["Contractor", "Dealer One"]
    assert names(admin, "dealer", segment="dealer", group="North") == ["Dealer One"]


def test_index_follows_every_change(admin, nordic, make_machine):
    """Triggers keep the index in step: edits, contacts, assignments, serials, deletes."""
    contact = contact_service.add_contact(admin, nordic.id, ContactDraft(name="Kasper Holm"))
    assert names(admin, "kasper") == ["Nordic Lifting A/S"]
    contact_service.update_contact(admin, contact.id, 1, ContactDraft(name="Jesper Holm"))
    assert names(admin, "kasper") == [] and names(admin, "jesper") == ["Nordic Lifting A/S"]
    contact_service.delete_contacts(admin, [contact.id])
    assert names(admin, "jesper") == []

    machine = equipment_service.assigned_equipment(admin, nordic.id)[0]
    equipment_service.update_equipment(admin, machine.id, machine.version,
                                       equipment_service.EquipmentDraft(serial="VOL-1"))
    assert names(admin, "VOL-1") == ["Nordic Lifting A/S"] and names(admin, "CAT-320") == []
    equipment_service.unassign_equipment(admin, [machine.id])
    assert names(admin, "VOL-1") == []

    current = customer_service.get_customer(admin, nordic.id)
    edited = CustomerDraft.from_customer(current)
    customer_service.update_customer(admin, nordic.id, current.version,
                                     CustomerDraft(**{**edited.__dict__, "name": "Fjord Kran ApS"}))
    assert names(admin, "fjord") == ["Fjord Kran ApS"] and names(admin, "nordic lifting") == []
    customer_service.delete_customer(admin, nordic.id)
    assert names(admin, "fjord") == [] and names(admin, "4321") == []


def test_index_is_kept_by_the_database_not_the_services(db, admin, nordic):
    """A change made with the driver directly (sqlite3, psycopg2) still updates the search."""
    raw, _driver = raw_connection(db)
    raw.cursor().execute("UPDATE customer SET name = 'Renamed Outside' WHERE id = "
                         + ("%s" if is_postgres(db) else "?"), (nordic.id,))
    raw.commit()
    raw.close()
    assert names(admin, "outside") == ["Renamed Outside"]


@pytest.mark.parametrize("hostile", [
    '"', '""', "'", "AND", "OR", "NOT", "NEAR(", "a AND", "*", "^", "nordic*", "(", ")", "-",
    "+", ":", "name:nordic", "{a b}", "@", "a\"b", "\\", "%", "_", "…", "\x00", "🙂", "NEAR(a b)",
    "a:*", "<->", "&|", "!", "!nordic", "nordic:A", "'nordic'", "a" * 3000, "x " * 2000, "?", "%s",
])
def test_hostile_text_never_raises(admin, nordic, hostile):
    search_customers(admin, hostile)


def test_control_characters_in_filters_never_raise(admin, nordic):
    """PostgreSQL refuses NUL in any text parameter; no stored segment or group holds one."""
    assert names(admin, "nordic\x00", segment="a\x00b", group="\x00north") == []
    assert names(admin, "nor\x00dic") == []  # the NUL splits the word, as on SQLite


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=40))
def test_any_text_is_a_valid_query(admin, text):
    search_customers(admin, text, limit=1)


def test_match_expression_quotes_every_term():
    assert match_expression('nordic "lift') == '"nordic"* AND """lift"*'
    assert match_expression("12-34 (56)") == '(("1234"* AND "56"*) OR "123456"*)'
    assert match_expression("8000 nordic 12") == '"8000"* AND "nordic"* AND "12"*'
    assert match_expression("@ - *") is None


def test_tsquery_expression_binds_every_term():
    """PostgreSQL's twin of match_expression: the same terms, each a bound parameter."""
    q = "clientbook_prefix_query(?)"
    assert tsquery_expression('nordic "lift') == (f"{q} && {q}", ["nordic", '"lift'])
    assert tsquery_expression("12-34 (56)") == (f"(({q} && {q}) || {q})", ["1234", "56", "123456"])
    assert tsquery_expression("@ - *") is None


def test_counts_are_capped_for_very_broad_searches(admin, make_customer, monkeypatch):
    monkeypatch.setattr("tui.domain.services.search.COUNT_CAP", 3)
    for index in range(5):
        make_customer(f"Nordic {index}")
    page = search_customers(admin, "nordic", limit=2)
    assert (page.total, page.exact, len(page.rows)) == (4, False, 2)
    # past the cap PostgreSQL walks the customers in the page's order: same rows, same order
    assert [r.name for r in page.rows] == ["Nordic 0", "Nordic 1"]
    assert [r.name for r in search_customers(admin, "nordic", limit=2, offset=3).rows] == [
        "Nordic 3", "Nordic 4"]
    assert [r.name for r in search_customers(admin, "nor", sort="newest", limit=1).rows] == [
        "Nordic 4"]
    assert search_customers(admin, "nordic", segment="dealer").total == 0
    assert search_customers(admin, "nordic 3").exact is True
    assert search_customers(admin, "", limit=1).total == 5  # no filter: an exact count is cheap


@pytest.mark.postgresql_only
def test_postgresql_without_the_right_to_create_the_extensions_says_what_to_do(
        postgres_server_url):
    """Migration 0002 needs unaccent and pg_trgm: a role that may not create them gets one
    sentence naming the extension and the remedy, not a driver traceback."""
    import psycopg2

    from tui.domain.errors import DatabaseError

    def url_of(name: str) -> str:
        return postgres_server_url.rsplit("/", 1)[0] + "/" + name

    name, role, password = "t_" + uuid.uuid4().hex[:12], "noext_" + uuid.uuid4().hex[:8], "pw-x"
    admin = psycopg2.connect(postgres_server_url)
    admin.autocommit = True
    cursor = admin.cursor()
    cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        cursor.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        inside = psycopg2.connect(url_of(name))  # may make tables in public, not extensions
        inside.autocommit = True
        inside.cursor().execute(f"GRANT CREATE ON SCHEMA public TO {role}")
        inside.close()
        url = f"postgresql://{role}:{password}@" + url_of(name).split("@", 1)[1]
        with pytest.raises(DatabaseError) as refused:
            open_database(url, create=True)
        message = str(refused.value)
        assert "unaccent" in message and "postgresql-contrib" in message
        assert "CREATE EXTENSION pg_trgm" in message and "\n" not in message
    finally:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f"DROP ROLE IF EXISTS {role}")
        admin.close()
