"""Estimates: numbering, the customer's copy (fill, propagation, unlinking), amounts,
the estimator's one way to create a customer, the currency lock, permissions."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import peewee
import pytest

from tests.conftest import ContactDraft, CustomerDraft
from tui.domain.dialect import sql
from tui.domain.errors import Conflict, NotFound, PermissionDenied, ValidationError
from tui.domain.models import AuditEvent, Customer, Estimate, EstimateLine
from tui.domain.services import contacts as contact_service
from tui.domain.services import customers as customer_service
from tui.domain.services.estimates import (
    EstimateDraft,
    LineDraft,
    create_estimate,
    delete_estimate,
    estimate_lines,
    estimates_for_customer,
    format_amount,
    format_quantity,
    get_estimate_by_number,
    parse_decimal,
    search_estimates,
    set_status,
    update_estimate,
)
from tui.domain.validation import FieldError

pytestmark = pytest.mark.both_backends

DAY = date(2026, 3, 14)


@pytest.fixture
def lyon(make_customer):
    """A French customer whose billing contact is not its first contact."""
    return make_customer(
        "Bâtir Lyon SARL", billing_country="FR", billing_street="12 Rue de la Gare",
        billing_postal_code="69003", billing_city="Lyon", shipping_same_as_billing=False,
        shipping_street="Chantier Part-Dieu", shipping_postal_code="69003",
        shipping_city="Lyon", shipping_country="FR", phone="04 72 00 00 01",
        email="compta@batir.example", currency="EUR", language="fr",
        contacts=(ContactDraft(name="Julien Site", roles=("execution",)),
                  ContactDraft(name="Élodie Compta", roles=("billing", "notify")),
                  ContactDraft(name="Zoë Billing Too", roles=("billing",))))


def draft_for(customer, *lines, title="Crane hire", issued_on=DAY) -> EstimateDraft:
    return EstimateDraft(customer_id=customer.id, title=title, issued_on=issued_on,
                         lines=tuple(LineDraft(*line) for line in lines))


def edit(customer: Customer, **changes) -> CustomerDraft:
    values = CustomerDraft.from_customer(customer).__dict__ | changes
    return CustomerDraft(**values)


# ------------------------------------------------------------------ fill and numbers

def test_choosing_the_customer_fills_its_details(admin, lyon):
    estimate = create_estimate(admin, draft_for(lyon, ("Crane, 3 days", "3", "1250,50")))
    assert estimate.customer_id == lyon.id
    assert estimate.customer_name == "Bâtir Lyon SARL"
    assert (estimate.billing_street, estimate.billing_postal_code, estimate.billing_city,
            estimate.billing_country) == ("12 Rue de la Gare", "69003", "Lyon", "FR")
    assert (estimate.shipping_street, estimate.shipping_city) == ("Chantier Part-Dieu", "Lyon")
    assert estimate.phone == "+33472000001" and estimate.email == "compta@batir.example"
    # main contact: the earliest-added contact with the billing role, not the first contact
    assert estimate.contact_name == "Élodie Compta"
    assert (estimate.currency, estimate.language, estimate.status) == ("EUR", "fr", "draft")
    assert estimate.total_minor == 375150


def test_main_contact_falls_back_to_the_first_contact(admin, make_customer):
    customer = make_customer(contacts=(ContactDraft(name="Anne First"),
                                       ContactDraft(name="Bo Second")))
    assert create_estimate(admin, draft_for(customer)).contact_name == "Anne First"
    nobody = make_customer("Nobody Home ApS")
    assert create_estimate(admin, draft_for(nobody)).contact_name == ""


def test_numbers_run_per_year_and_are_never_given_twice(admin, lyon):
    first = create_estimate(admin, draft_for(lyon))
    second = create_estimate(admin, draft_for(lyon))
    older = create_estimate(admin, draft_for(lyon, issued_on="2025-12-30"))
    assert [first.number, second.number, older.number] == [
        "E-2026-0001", "E-2026-0002", "E-2025-0001"]
    delete_estimate(admin, second.id, second.version)
    assert create_estimate(admin, draft_for(lyon)).number == "E-2026-0003"
    assert get_estimate_by_number(admin, " e-2026-0001 ").id == first.id
    with pytest.raises(NotFound):
        get_estimate_by_number(admin, "E-2026-0002")


def test_a_new_estimate_needs_a_customer_that_exists(admin):
    with pytest.raises(ValidationError) as missing:
        create_estimate(admin, EstimateDraft(title="x"))
    assert "customer_id" in missing.value.errors
    with pytest.raises(ValidationError, match="no customer #999"):
        create_estimate(admin, EstimateDraft(customer_id=999, title="x"))


# ------------------------------------------------------------------ amounts

def test_lines_and_total_are_exact_in_minor_units(admin, lyon):
    estimate = create_estimate(admin, draft_for(
        lyon, ("Crane", "2", "1 250,50"), ("Fuel", "1.5", "0.33"),
        ("Discount", "1", "-100"), ("Transport", "0.125", "80")))
    lines = estimate_lines(admin, estimate.id)
    assert [line.position for line in lines] == [1, 2, 3, 4]
    assert [line.quantity for line in lines] == [Decimal(2), Decimal("1.5"), Decimal(1),
                                                 Decimal("0.125")]
    # 1.5 x 33 = 49.5 cents, rounded half up to 50; 0.125 x 8000 = 1000
    assert [line.amount_minor for line in lines] == [250100, 50, -10000, 1000]
    assert estimate.total_minor == 250100 + 50 - 10000 + 1000
    db = estimate._meta.database
    stored = db.execute_sql(
        sql(db, "SELECT quantity FROM estimate_line WHERE estimate_id = ? ORDER BY position"),
        [estimate.id]).fetchall()
    assert stored == [("2",), ("1.5",), ("1",), ("0.125",)]  # text, never a float


def test_bad_lines_are_all_reported_by_place(admin, lyon):
    with pytest.raises(ValidationError) as caught:
        create_estimate(admin, draft_for(lyon, ("", "1", "10"), ("Fuel", "0", "1.234"),
                                         ("Hire", "1.2345", "abc"), title=""))
    errors = caught.value.errors
    assert set(errors) == {"title", "lines[0].description", "lines[1].quantity",
                           "lines[1].unit_price", "lines[2].quantity", "lines[2].unit_price"}
    assert "more than zero" in errors["lines[1].quantity"]
    assert "at most 2 decimals" in errors["lines[1].unit_price"]
    assert "3 decimals" in errors["lines[2].quantity"]
    assert Estimate.select().count() == 0


def test_a_currency_without_decimals_refuses_cents(admin, make_customer):
    tokyo = make_customer("Tokyo Kiki KK", billing_country="JP", currency="JPY")
    with pytest.raises(ValidationError, match="JPY amounts have no decimals"):
        create_estimate(admin, draft_for(tokyo, ("Lift", "1", "1000.5")))
    assert create_estimate(admin, draft_for(tokyo, ("Lift", "2", "1000"))).total_minor == 2000


@pytest.mark.parametrize("text, value", [("1250", "1250"), ("1 250,50", "1250.50"),
                                         ("1,250.50", "1250.50"), ("1.250,50", "1250.50"),
                                         ("-3", "-3"), (".5", "0.5")])
def test_numbers_are_read_as_people_type_them(text, value):
    assert parse_decimal(text) == Decimal(value)


@pytest.mark.parametrize("text", ["1.2.3", "1,2,3", "ten", "1e5", "NaN", ""])
def test_what_is_not_a_number_is_refused(text):
    with pytest.raises(FieldError):
        parse_decimal(text)


def test_amounts_are_shown_in_the_language_and_currency():
    # Babel's forms (tests/test_locale_format.py has the rest): no-break spaces in French
    assert format_amount(125050, "EUR", "en") == "€1,250.50"
    assert format_amount(125050, "EUR", "fr") == "1\u202f250,50\u00a0€"
    assert format_amount(-125050, "DKK", "da") == "-1.250,50\u00a0kr."
    assert format_amount(1500, "JPY", "en") == "¥1,500"
    assert format_quantity(Decimal("2.500"), "fr") == "2,5"
    assert format_quantity(Decimal("3"), "en") == "3"


# ------------------------------------------------------------------ editing and status

def test_editing_replaces_the_lines_and_refuses_a_stale_version(admin, lyon, make_customer):
    estimate = create_estimate(admin, draft_for(lyon, ("Crane", "1", "100")))
    draft = EstimateDraft.from_estimate(estimate)
    assert draft.lines == (LineDraft("Crane", "1", "100.00"),)
    changed = update_estimate(admin, estimate.id, estimate.version, EstimateDraft(
        customer_id=lyon.id, title="Crane and fuel", issued_on=DAY,
        lines=(LineDraft("Crane", "2", "100"), LineDraft("Fuel", "1", "9.99"))))
    assert changed.version == estimate.version + 1 and changed.total_minor == 20999
    assert EstimateLine.select().where(EstimateLine.estimate == estimate.id).count() == 2
    with pytest.raises(Conflict):
        update_estimate(admin, estimate.id, estimate.version, draft)
    # another customer: its details and currency come with it
    oslo = make_customer("Oslo Kran AS", billing_country="NO", currency="NOK", language="nb")
    moved = update_estimate(admin, estimate.id, changed.version, EstimateDraft(
        customer_id=oslo.id, title="Crane", issued_on=DAY, lines=(LineDraft("Crane", "1", "5"),)))
    assert (moved.customer_name, moved.currency, moved.language) == ("Oslo Kran AS", "NOK", "nb")
    assert moved.number == estimate.number


def test_status_changes_and_open_estimates_filter(admin, lyon):
    one = create_estimate(admin, draft_for(lyon, title="One"))
    two = create_estimate(admin, draft_for(lyon, title="Two"))
    three = create_estimate(admin, draft_for(lyon, title="Three"))
    set_status(admin, two.id, two.version, "sent")
    set_status(admin, three.id, three.version, "accepted")
    assert {r.title for r in search_estimates(admin, status="open").rows} == {"One", "Two"}
    assert [r.title for r in search_estimates(admin, status="accepted").rows] == ["Three"]
    with pytest.raises(ValidationError, match="Unknown status"):
        set_status(admin, one.id, one.version, "won")
    with pytest.raises(ValidationError, match="Unknown status"):
        search_estimates(admin, status="won")
    with pytest.raises(Conflict):
        set_status(admin, two.id, two.version, "declined")


def test_search_matches_number_title_and_customer_and_pages(admin, lyon, make_customer):
    other = make_customer("Nordic Lift A/S")
    for index in range(5):
        create_estimate(admin, draft_for(lyon, title=f"Scaffold {index}"))
    create_estimate(admin, draft_for(other, title="Boom lift 100%"))
    assert search_estimates(admin).total == 6
    assert [r.title for r in search_estimates(admin, "nordic").rows] == ["Boom lift 100%"]
    assert search_estimates(admin, "100%").total == 1  # % is a plain character
    assert search_estimates(admin, "e-2026-0006").rows[0].title == "Boom lift 100%"
    page = search_estimates(admin, "scaffold bâtir", limit=2, offset=2)
    assert page.total == 5 and len(page.rows) == 2 and page.offset == 2
    assert estimates_for_customer(admin, other.id).total == 1


@pytest.mark.parametrize("typed, expected", [
    ("nordic\x00", ["Boom lift"]), ("\x00", ["Boom lift", "Scaffold"]), ("no\x00rdic", ["Boom lift"]),
    ("lift\x1b[2J", [])])
def test_control_characters_in_the_search_separate_words_and_never_fail(
        admin, lyon, make_customer, typed, expected):
    """No stored text holds one (validation); PostgreSQL refuses a NUL in any parameter."""
    create_estimate(admin, draft_for(lyon, title="Scaffold"))
    create_estimate(admin, draft_for(make_customer("Nordic Lift A/S"), title="Boom lift"))
    assert sorted(r.title for r in search_estimates(admin, typed).rows) == expected


# ------------------------------------------------------------------ propagation (P2)

def test_editing_the_customer_updates_every_linked_estimate(admin, lyon, make_customer):
    first = create_estimate(admin, draft_for(lyon))
    second = create_estimate(admin, draft_for(lyon))
    bystander = create_estimate(admin, draft_for(make_customer("Other Firm ApS")))
    customer_service.update_customer(admin, lyon.id, lyon.version, edit(
        lyon, name="Bâtir Rhône SAS", billing_street="1 Quai Perrache", phone="04 72 99 99 99",
        shipping_same_as_billing=True))
    for estimate in (first, second):
        fresh = Estimate.get_by_id(estimate.id)
        assert fresh.customer_name == "Bâtir Rhône SAS"
        assert fresh.billing_street == fresh.shipping_street == "1 Quai Perrache"
        assert fresh.phone == "+33472999999"
        assert fresh.version == estimate.version  # a form open on it still saves
    assert Estimate.get_by_id(bystander.id).customer_name == "Other Firm ApS"
    audited = AuditEvent.select().where(AuditEvent.entity == "estimate",
                                        AuditEvent.action == "update")
    assert {a.entity_id for a in audited} == {first.id, second.id}
    assert all(a.after["customer_name"] == "Bâtir Rhône SAS" for a in audited)


def test_the_copy_is_refreshed_in_the_customers_transaction(admin, lyon, monkeypatch):
    estimate = create_estimate(admin, draft_for(lyon))
    real = customer_service.refresh_customer_copies

    def refresh_then_fail(ctx, ids):
        real(ctx, ids)
        raise RuntimeError("disk full")

    monkeypatch.setattr(customer_service, "refresh_customer_copies", refresh_then_fail)
    with pytest.raises(RuntimeError):
        customer_service.update_customer(admin, lyon.id, lyon.version, edit(lyon, name="Gone"))
    assert Customer.get_by_id(lyon.id).name == "Bâtir Lyon SARL"
    assert Estimate.get_by_id(estimate.id).customer_name == "Bâtir Lyon SARL"


def test_contact_changes_refresh_the_main_contact(admin, lyon):
    estimate = create_estimate(admin, draft_for(lyon))
    contacts = {c.name: c for c in contact_service.list_contacts(admin, lyon.id)}
    elodie = contacts["Élodie Compta"]
    contact_service.update_contact(admin, elodie.id, elodie.version, ContactDraft(
        name="Élodie Martin", roles=("billing",)))
    assert Estimate.get_by_id(estimate.id).contact_name == "Élodie Martin"
    contact_service.delete_contacts(admin, [elodie.id])
    assert Estimate.get_by_id(estimate.id).contact_name == "Zoë Billing Too"


def test_deleting_the_customer_keeps_the_copy_and_removes_the_link(admin, lyon):
    estimate = create_estimate(admin, draft_for(lyon, ("Crane", "1", "10")))
    impact = customer_service.delete_impact(admin, lyon.id)
    assert impact.estimates_unlinked == 1
    assert customer_service.delete_customer(admin, lyon.id).estimates_unlinked == 1
    kept = Estimate.get_by_id(estimate.id)
    assert kept.customer_id is None
    assert (kept.customer_name, kept.billing_city, kept.contact_name, kept.total_minor) == (
        "Bâtir Lyon SARL", "Lyon", "Élodie Compta", 1000)
    assert search_estimates(admin, "bâtir").rows[0].customer_id is None
    unlink = AuditEvent.get(AuditEvent.entity == "estimate", AuditEvent.action == "unlink")
    assert unlink.entity_id == estimate.id and unlink.before == {"customer": lyon.id}
    # still editable, and keeps its copy while no customer is chosen
    again = update_estimate(admin, kept.id, kept.version, EstimateDraft(
        customer_id=None, title="Crane", issued_on=DAY, lines=(LineDraft("Crane", "2", "10"),)))
    assert again.customer_name == "Bâtir Lyon SARL" and again.total_minor == 2000


def test_a_linked_estimate_cannot_drop_its_customer(admin, lyon):
    estimate = create_estimate(admin, draft_for(lyon))
    with pytest.raises(ValidationError) as caught:
        update_estimate(admin, estimate.id, estimate.version, EstimateDraft(title="x"))
    assert set(caught.value.errors) == {"customer_id"}


# ------------------------------------------------------------------ currency lock (C6)

def test_currency_is_locked_once_the_customer_has_estimates(admin, lyon):
    # free while there is no estimate
    lyon = customer_service.update_customer(admin, lyon.id, lyon.version, edit(lyon,
                                                                                 currency="CHF"))
    lyon = customer_service.update_customer(admin, lyon.id, lyon.version, edit(lyon,
                                                                                 currency="EUR"))
    create_estimate(admin, draft_for(lyon))
    with pytest.raises(ValidationError) as caught:
        customer_service.update_customer(admin, lyon.id, lyon.version, edit(lyon,
                                                                             currency="USD"))
    message = caught.value.errors["currency"]
    assert "stays EUR" in message and "1 estimate" in message
    assert customer_service.currency_lock(admin.config, lyon, "USD") == message
    assert customer_service.currency_lock(admin.config, lyon, "eur") is None
    # reported beside the form's other problems, not instead of them
    with pytest.raises(ValidationError) as both:
        customer_service.update_customer(admin, lyon.id, lyon.version, edit(
            lyon, currency="USD", email="not an address"))
    assert set(both.value.errors) == {"currency", "email"}
    # other edits still go through
    renamed = customer_service.update_customer(admin, lyon.id, lyon.version,
                                               edit(lyon, name="Bâtir Lyon SA"))
    assert renamed.currency == "EUR"


def test_the_database_refuses_a_currency_change_behind_the_services_back(admin, lyon, db):
    create_estimate(admin, draft_for(lyon))
    with pytest.raises(peewee.IntegrityError, match="currency"):
        with db.atomic():
            db.execute_sql(sql(db, "UPDATE customer SET currency = 'USD' WHERE id = ?"),
                           [lyon.id])
    db.execute_sql(sql(db, "UPDATE customer SET name = 'Still fine' WHERE id = ?"), [lyon.id])


# ------------------------------------------------------------------ who may do what

def test_the_estimator_creates_customers_only_from_an_estimate(as_role):
    estimator = as_role("estimator", "eve")
    draft = CustomerDraft(name="Nouveau Client SAS", billing_country="FR",
                          contacts=(ContactDraft(name="Inès Achat", roles=("billing",)),))
    with pytest.raises(PermissionDenied, match="create customers"):
        customer_service.create_customer(estimator, draft)
    assert Customer.select().count() == 0
    customer = customer_service.create_customer_in_estimate(estimator, draft)
    assert customer.created_by == "eve"
    estimate = create_estimate(estimator, draft_for(customer))
    assert estimate.contact_name == "Inès Achat"
    record = AuditEvent.get(AuditEvent.entity == "customer", AuditEvent.action == "create")
    assert record.after["created_in_estimate"] is True and record.login == "eve"


@pytest.mark.parametrize("role", ["limited", "fleet_administrator"])
def test_roles_without_estimate_edit_cannot_create_from_an_estimate(as_role, role):
    with pytest.raises(PermissionDenied, match="create or edit estimates"):
        customer_service.create_customer_in_estimate(as_role(role), CustomerDraft(name="X"))
    assert Customer.select().count() == 0


def test_a_role_with_customer_create_may_also_create_from_an_estimate(as_role):
    owner = as_role("account_owner", "olga")
    customer = customer_service.create_customer_in_estimate(owner, CustomerDraft(name="Y"))
    assert customer.created_by == "olga"


@pytest.mark.parametrize("role", ["limited", "fleet_administrator"])
def test_viewers_see_estimates_but_cannot_change_them(as_role, admin, lyon, role):
    estimate = create_estimate(admin, draft_for(lyon))
    viewer = as_role(role)
    assert search_estimates(viewer).total == 1
    assert estimate_lines(viewer, estimate.id) == []
    for attempt in (lambda: create_estimate(viewer, draft_for(lyon)),
                    lambda: update_estimate(viewer, estimate.id, estimate.version,
                                            draft_for(lyon)),
                    lambda: set_status(viewer, estimate.id, estimate.version, "sent"),
                    lambda: delete_estimate(viewer, estimate.id)):
        with pytest.raises(PermissionDenied, match="create or edit estimates"):
            attempt()
    assert Estimate.get_by_id(estimate.id).version == estimate.version


def test_every_change_is_audited(admin, lyon):
    estimate = create_estimate(admin, draft_for(lyon, ("Crane", "1", "10")))
    estimate = update_estimate(admin, estimate.id, estimate.version,
                               draft_for(lyon, ("Crane", "3", "10")))
    estimate = set_status(admin, estimate.id, estimate.version, "sent")
    delete_estimate(admin, estimate.id, estimate.version)
    records = list(AuditEvent.select().where(AuditEvent.entity == "estimate")
                   .order_by(AuditEvent.id))
    assert [r.action for r in records] == ["create", "update", "update", "delete"]
    assert records[0].after["lines"] == [{"description": "Crane", "quantity": "1",
                                          "unit_price_minor": 1000, "amount_minor": 1000}]
    assert records[1].after["total_minor"] == 3000
    assert records[2].after == {"status": "sent"}
    assert records[3].before["number"] == "E-2026-0001"
    assert all(r.customer_id == lyon.id for r in records)


def test_the_demo_makes_consistent_estimates_and_projects(admin, db):
    from tui.domain.demo import populate
    from tui.domain.models import Contact, Project

    counts = populate(admin, customers=20)
    assert counts["estimates"] == Estimate.select().count() > 0
    assert counts["projects"] == Project.select().count() > 0
    for estimate in Estimate.select():
        lines = estimate_lines(admin, estimate.id)
        assert lines and estimate.total_minor == sum(line.amount_minor for line in lines)
        assert estimate.currency == estimate.customer.currency
    numbers = [e.number for e in Estimate.select().order_by(Estimate.issued_on, Estimate.id)]
    assert len(set(numbers)) == len(numbers)
    for project in Project.select():
        for place in ("submission_contact_id", "billing_contact_id", "execution_contact_id"):
            contact_id = getattr(project, place)
            if contact_id is not None:
                assert Contact.get_by_id(contact_id).customer_id == project.customer_id
