"""The customer search: every field, accents folded, any run of phone digits, hostile text."""

from __future__ import annotations

import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui.domain.services import contacts as contact_service
from tui.domain.services import customers as customer_service
from tui.domain.services import equipment as equipment_service
from tui.domain.services.contacts import ContactDraft
from tui.domain.services.customers import CustomerDraft
from tui.domain.services.search import match_expression, search_customers


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
    """A change made with the sqlite3 module directly still updates the search."""
    raw = sqlite3.connect(db.database)
    raw.execute("UPDATE customer SET name = 'Renamed Outside' WHERE id = ?", (nordic.id,))
    raw.commit()
    raw.close()
    assert names(admin, "outside") == ["Renamed Outside"]


@pytest.mark.parametrize("hostile", [
    '"', '""', "'", "AND", "OR", "NOT", "NEAR(", "a AND", "*", "^", "nordic*", "(", ")", "-",
    "+", ":", "name:nordic", "{a b}", "@", "a\"b", "\\", "%", "_", "…", "\x00", "🙂", "NEAR(a b)",
])
def test_hostile_text_never_raises(admin, nordic, hostile):
    search_customers(admin, hostile)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=40))
def test_any_text_is_a_valid_query(admin, text):
    search_customers(admin, text, limit=1)


def test_match_expression_quotes_every_term():
    assert match_expression('nordic "lift') == '"nordic"* AND """lift"*'
    assert match_expression("12-34 (56)") == '(("1234"* AND "56"*) OR "123456"*)'
    assert match_expression("8000 nordic 12") == '"8000"* AND "nordic"* AND "12"*'
    assert match_expression("@ - *") is None


def test_counts_are_capped_for_very_broad_searches(admin, make_customer, monkeypatch):
    monkeypatch.setattr("tui.domain.services.search.COUNT_CAP", 3)
    for index in range(5):
        make_customer(f"Nordic {index}")
    page = search_customers(admin, "nordic", limit=2)
    assert (page.total, page.exact, len(page.rows)) == (4, False, 2)
    assert search_customers(admin, "nordic 3").exact is True
    assert search_customers(admin, "", limit=1).total == 5  # no filter: an exact count is cheap
