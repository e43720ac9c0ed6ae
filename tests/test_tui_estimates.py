"""Pilot tests of the estimates in the TUI: the Estimates screen, one estimate (customer
pick and its copied details, lines, total, save, conflict, status, PDF), the customer's
Estimates tab, the estimator's one way to create a customer, and the currency lock.

Screens are pushed directly (not through app-wide keys) so these tests do not depend on
where the application binds them."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pypdf import PdfReader
from textual.widgets import DataTable, Input, Select, Static

from tests.conftest import ContactDraft
from tests.pilot import settle, type_text, until
from tui.domain.context import Actor, Context
from tui.domain.models import AuditEvent, Customer, Estimate, EstimateLine
from tui.domain.services.estimates import (EstimateDraft, LineDraft, create_estimate,
                                           set_status, update_estimate)
from tui.screens.customer import CustomerScreen
from tui.screens.customer_list import CustomerListScreen
from tui.screens.customer_panes.details import DetailRow
from tui.screens.estimate import EstimateScreen
from tui.screens.estimates import EstimatesScreen
from tui.screens.new_customer import NewCustomerScreen
from tui.widgets.address_fields import FieldRow
from tui.widgets.confirm import ConfirmDialog
from tui.widgets.conflict import ConflictDialog
from tui.widgets.document_form import ExportDialog
from tui.widgets.estimate_line_form import EstimateLineDialog
from tui.widgets.pick_customer import PickCustomerDialog


# -- helpers --------------------------------------------------------------------------------

async def on_screen(pilot, kind) -> object:
    await until(pilot, lambda: isinstance(pilot.app.screen, kind), kind.__name__)
    await settle(pilot)
    return pilot.app.screen


def text(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def rows(screen, selector: str) -> list[list[str]]:
    table = screen.query_one(selector, DataTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def messages(app) -> list[str]:
    return [str(notification.message) for notification in app._notifications]


def offered(app) -> set[str]:
    """The screen's own actions the footer offers now (check_action not False)."""
    return {active.binding.action for active in app.screen.active_bindings.values()
            if active.node is app.screen}


def field_error(screen, field: str) -> str:
    for row in screen.query(FieldRow):
        if row.field_key == field:
            return row.error
    raise AssertionError(f"no field {field}")


async def start(pilot) -> None:
    await settle(pilot)
    pilot.app.NOTIFICATION_TIMEOUT = 3600  # a loaded machine must not expire them mid-test


async def add_line(pilot, description: str, quantity: str, price: str) -> None:
    await pilot.press("a")
    dialog = await on_screen(pilot, EstimateLineDialog)
    await type_text(pilot, description)
    await pilot.press("tab")
    assert dialog.focused.id == "line-quantity"
    dialog.query_one("#line-quantity", Input).value = ""
    await type_text(pilot, quantity)
    await pilot.press("enter")
    await type_text(pilot, price)
    await pilot.press("enter")
    await on_screen(pilot, EstimateScreen)


@pytest.fixture
def lyon(make_customer):
    return make_customer(
        "Bâtir Lyon SARL", billing_country="FR", billing_street="12 Rue de la Gare",
        billing_postal_code="69003", billing_city="Lyon", shipping_same_as_billing=False,
        shipping_street="Chantier Part-Dieu", shipping_postal_code="69003",
        shipping_city="Lyon", shipping_country="FR", phone="04 72 00 00 01",
        email="compta@batir.example", currency="EUR", language="fr",
        contacts=(ContactDraft(name="Julien Site", roles=("execution",)),
                  ContactDraft(name="Élodie Compta", roles=("billing",))))


@pytest.fixture
def nordic(make_customer):
    return make_customer("Nordic Lifting A/S", currency="DKK", billing_city="Aarhus")


def estimate_for(ctx, customer, title="Crane hire", *lines, issued_on="2026-03-14"):
    lines = lines or (("Crane, 3 days", "3", "1250.50"), ("Transport", "1", "400"))
    return create_estimate(ctx, EstimateDraft(customer.id, title, issued_on,
                                              tuple(LineDraft(*line) for line in lines)))


# -- a new estimate, start to finish --------------------------------------------------------

async def test_new_estimate_with_two_lines_is_saved_and_reopened(app_for, lyon, nordic, admin):
    app = app_for("administrator")
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot)
        app.push_screen(EstimatesScreen())
        screen = await on_screen(pilot, EstimatesScreen)
        assert "No estimates yet: press n" in text(screen, "#estimates-status-line")
        await pilot.press("n")
        # the customer is picked first (P1), from a searched list
        picker = await on_screen(pilot, PickCustomerDialog)
        assert len(rows(picker, "#pick-customer-table")) == 2
        await type_text(pilot, "lyon")
        await settle(pilot)
        assert [row[0] for row in rows(picker, "#pick-customer-table")] == ["Bâtir Lyon SARL"]
        await pilot.press("enter", "enter")  # to the list, then choose
        estimate = await on_screen(pilot, EstimateScreen)
        # the customer block is filled from the customer, read-only
        assert "Bâtir Lyon SARL" in text(estimate, "#customer-name")
        details = text(estimate, "#customer-details")
        assert "12 Rue de la Gare, 69003 Lyon, France" in details
        assert "Chantier Part-Dieu, 69003 Lyon, France" in details
        assert "Élodie Compta" in details and "compta@batir.example" in details
        assert "EUR" in text(estimate, "#estimate-currency")
        assert estimate.focused.id == "estimate-title"
        await type_text(pilot, "Crane hire")
        await pilot.press("escape")
        await add_line(pilot, "Crane, 3 days", "3", "1250,50")
        await add_line(pilot, "Transport", "1", "400")
        assert [row[1:] for row in rows(estimate, "#estimate-lines")] == [
            ["Crane, 3 days", "3", "€1,250.50", "€3,751.50"],
            ["Transport", "1", "€400.00", "€400.00"]]
        assert text(estimate, "#estimate-total") == "Total €4,151.50"
        assert "not saved" in text(estimate, "#estimate-hint")
        await pilot.press("ctrl+s")
        await settle(pilot)
        stored = Estimate.get()
        assert (stored.title, stored.customer_id, stored.total_minor, stored.currency) == (
            "Crane hire", lyon.id, 415150, "EUR")
        assert stored.contact_name == "Élodie Compta" and stored.billing_city == "Lyon"
        assert [(line.description, line.quantity, line.unit_price_minor) for line in
                EstimateLine.select().order_by(EstimateLine.position)] == [
            ("Crane, 3 days", Decimal(3), 125050), ("Transport", Decimal(1), 40000)]
        assert f"Estimate {stored.number} saved." in messages(app)
        assert text(estimate, "#estimate-number") == stored.number
        await pilot.press("escape")  # saved: leaves without asking
        screen = await on_screen(pilot, EstimatesScreen)
        listed = rows(screen, "#estimates")
        assert listed == [[stored.number, "Bâtir Lyon SARL", "Crane hire", "Draft",
                           "€4,151.50"]]
        day = stored.issued_on  # today, in the operator's locale (en_US): month/day/year
        assert f"dated {day.month}/{day.day}/{day.year}" in text(screen, "#estimates-status-line")
        await pilot.press("enter")  # reopened from the list
        again = await on_screen(pilot, EstimateScreen)
        assert again.query_one("#estimate-title", Input).value == "Crane hire"
        assert len(rows(again, "#estimate-lines")) == 2
        assert text(again, "#estimate-total") == "Total €4,151.50"
        assert not again.dirty


async def test_leaving_with_unsaved_changes_asks_first(app_for, lyon, admin):
    stored = estimate_for(admin, lyon)
    app = app_for("administrator")
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot)
        app.push_screen(EstimateScreen(stored.id))
        screen = await on_screen(pilot, EstimateScreen)
        await pilot.press("d")  # delete line 1, kept on screen until Ctrl+S
        assert text(screen, "#estimate-total") == "Total €400.00"
        await pilot.press("escape")
        await on_screen(pilot, ConfirmDialog)
        await pilot.press("escape")  # keep editing
        await on_screen(pilot, EstimateScreen)
        assert EstimateLine.select().count() == 2  # nothing stored
        await pilot.press("escape")
        await on_screen(pilot, ConfirmDialog)
        await pilot.press("y")
        await until(pilot, lambda: not isinstance(app.screen, (ConfirmDialog, EstimateScreen)),
                    "the estimate closed")
        assert EstimateLine.select().count() == 2


async def test_line_dialog_shows_the_services_messages_under_the_fields(app_for, lyon, admin):
    stored = estimate_for(admin, lyon)
    app = app_for("administrator")
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot)
        app.push_screen(EstimateScreen(stored.id))
        await on_screen(pilot, EstimateScreen)
        await pilot.press("a")
        dialog = await on_screen(pilot, EstimateLineDialog)
        dialog.query_one("#line-quantity", Input).value = "0"
        dialog.query_one("#line-unit-price", Input).value = "12.345"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, EstimateLineDialog)  # stays open, nothing lost
        assert field_error(dialog, "description") == "This field is required."
        assert field_error(dialog, "quantity") == "The quantity must be more than zero."
        assert field_error(dialog, "unit_price") == "EUR amounts have at most 2 decimals."
        assert text(dialog, "#line-amount") == "Amount: —"
        dialog.query_one("#line-quantity", Input).value = "2.5"
        dialog.query_one("#line-unit-price", Input).value = "10"
        await pilot.pause()
        assert text(dialog, "#line-amount") == "Amount: €25.00"
        await pilot.press("escape")
        screen = await on_screen(pilot, EstimateScreen)
        assert len(rows(screen, "#estimate-lines")) == 2


async def test_a_stale_save_opens_the_conflict_dialog(app_for, lyon, admin):
    stored = estimate_for(admin, lyon)
    other = Context(admin.db, admin.config, Actor("mette", "administrator",
                                                  admin.actor.permissions, "mette"))
    app = app_for("administrator")
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot)
        app.push_screen(EstimateScreen(stored.id))
        screen = await on_screen(pilot, EstimateScreen)
        title = screen.query_one("#estimate-title", Input)
        title.value = "Crane hire, mine"
        update_estimate(other, stored.id, stored.version, EstimateDraft(
            lyon.id, "Crane hire, theirs", "2026-03-14", (LineDraft("Crane", "1", "100"),)))
        await pilot.press("ctrl+s")
        dialog = await on_screen(pilot, ConflictDialog)
        assert dialog.changed_keys == ["title", "lines", "total"]
        assert dialog.theirs["title"] == "Crane hire, theirs"
        assert dialog.yours["total"] == "€4,151.50" and dialog.theirs["total"] == "€100.00"
        assert "mette saved this estimate" in dialog.explanation
        assert Estimate.get().title == "Crane hire, theirs"  # nothing of mine yet
        await pilot.press("o")  # overwrite with mine, knowingly
        await on_screen(pilot, EstimateScreen)
        assert Estimate.get().title == "Crane hire, mine"
        assert Estimate.get().total_minor == 415150
        assert Estimate.get().version == stored.version + 2


async def test_status_is_saved_when_chosen(app_for, lyon, admin):
    stored = estimate_for(admin, lyon)
    app = app_for("administrator")
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot)
        app.push_screen(EstimateScreen(stored.id))
        screen = await on_screen(pilot, EstimateScreen)
        await pilot.press("s")  # opens the status list
        await pilot.press("down", "enter")
        await settle(pilot)
        assert Estimate.get().status == "sent"
        assert f"{stored.number} is now Sent." in messages(app)
        # the edits on screen still save: the status change is not a conflict with them
        screen.query_one("#estimate-title", Input).value = "Crane hire (v2)"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert (Estimate.get().title, Estimate.get().status) == ("Crane hire (v2)", "sent")


async def test_estimates_screen_searches_filters_and_deletes(app_for, lyon, nordic, admin):
    first = estimate_for(admin, lyon, "Crane hire")
    second = estimate_for(admin, nordic, "Scissor lifts", ("Lift", "2", "900"),
                          issued_on="2026-04-02")
    third = estimate_for(admin, nordic, "Old offer", ("Lift", "1", "100"),
                         issued_on="2026-01-05")
    set_status(admin, third.id, third.version, "declined")
    app = app_for("administrator")
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot)
        app.push_screen(EstimatesScreen())
        screen = await on_screen(pilot, EstimatesScreen)
        assert [row[0] for row in rows(screen, "#estimates")] == [
            second.number, first.number, third.number]  # newest first
        assert [row[4] for row in rows(screen, "#estimates")] == [
            "DKK\u00a01,800.00", "€4,151.50", "DKK\u00a0100.00"]
        await pilot.press("f")  # status filter: open (draft and sent)
        await settle(pilot)
        assert screen.query_one("#estimates-status", Select).value == "open"
        assert [row[0] for row in rows(screen, "#estimates")] == [second.number, first.number]
        await pilot.press("slash", *"nordic")
        await settle(pilot)
        assert [row[0] for row in rows(screen, "#estimates")] == [second.number]
        await pilot.press("escape")  # leaves the search box for the list
        assert isinstance(screen.focused, DataTable)
        await pilot.press("d")
        confirm = await on_screen(pilot, ConfirmDialog)
        assert "Scissor lifts for Nordic Lifting A/S, DKK\u00a01,800.00" in confirm.body
        await pilot.press("y")
        await on_screen(pilot, EstimatesScreen)
        assert not Estimate.select().where(Estimate.id == second.id).exists()
        assert f"Estimate {second.number} deleted." in messages(app)
        assert rows(screen, "#estimates") == []
        assert text(screen, "#estimates-status-line") == "No estimate matches."


async def test_limited_user_sees_estimates_but_changes_nothing(app_for, lyon, admin):
    stored = estimate_for(admin, lyon)
    app = app_for("limited")
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot)
        app.push_screen(EstimatesScreen())
        screen = await on_screen(pilot, EstimatesScreen)
        assert len(rows(screen, "#estimates")) == 1
        assert {"new", "delete"}.isdisjoint(offered(app))
        await pilot.press("n", "d")
        assert isinstance(app.screen, EstimatesScreen) and Estimate.select().count() == 1
        await pilot.press("enter")
        estimate = await on_screen(pilot, EstimateScreen)
        assert offered(app) & {"save", "add_line", "choose_customer", "new_customer",
                               "delete_line", "status"} == set()
        assert {"proposal", "back"} <= offered(app)
        assert estimate.query_one("#estimate-title", Input).disabled
        await pilot.press("a", "c", "d", "ctrl+s")
        assert isinstance(app.screen, EstimateScreen)
        assert EstimateLine.select().count() == 2 and Estimate.get().version == stored.version


# -- the customer's copy: propagation and deletion ------------------------------------------

async def test_customer_edit_shows_on_the_estimate_when_reopened(app_for, lyon, admin):
    stored = estimate_for(admin, lyon)
    app = app_for("administrator")
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot)
        app.action_open_customer(lyon.id)
        customer = await on_screen(pilot, CustomerScreen)
        await pilot.press("e")  # Details tab: edit, rename, save
        await pilot.pause()
        name = customer.query_one("#name", Input)
        name.value = "Bâtir Lyon Construction SARL"
        customer.query_one("#billing_street", Input).value = "1 Quai Perrache"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "Saved" in messages(app)
        await pilot.press("5")  # the Estimates tab
        await settle(pilot)
        assert [row[0] for row in rows(customer, "#customer-estimates-table")] == [stored.number]
        await pilot.press("enter")
        estimate = await on_screen(pilot, EstimateScreen)
        assert "Bâtir Lyon Construction SARL" in text(estimate, "#customer-name")
        assert "1 Quai Perrache, 69003 Lyon, France" in text(estimate, "#customer-details")
        assert "no longer linked" not in text(estimate, "#customer-name")


async def test_deleted_customer_leaves_the_copy_shown_as_no_longer_linked(app_for, lyon,
                                                                          admin):
    stored = estimate_for(admin, lyon)
    app = app_for("administrator")
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot)
        app.action_open_customer(lyon.id)
        await on_screen(pilot, CustomerScreen)
        await pilot.press("ctrl+d")
        confirm = await on_screen(pilot, ConfirmDialog)
        assert ("Its 1 estimate keeps a copy of the customer's details but is no longer "
                "linked to it.") in confirm.body
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, CustomerListScreen), "the list")
        assert not Customer.select().where(Customer.id == lyon.id).exists()
        app.push_screen(EstimatesScreen())
        screen = await on_screen(pilot, EstimatesScreen)
        assert rows(screen, "#estimates")[0][1] == "Bâtir Lyon SARL"  # the copy stays
        assert "customer deleted" in text(screen, "#estimates-status-line")
        await pilot.press("enter")
        estimate = await on_screen(pilot, EstimateScreen)
        assert "no longer linked" in text(estimate, "#customer-name")
        assert "Bâtir Lyon SARL" in text(estimate, "#customer-name")
        assert "12 Rue de la Gare" in text(estimate, "#customer-details")
        estimate.query_one("#estimate-title", Input).value = "Crane hire, kept"
        await pilot.press("ctrl+s")  # an unlinked estimate still saves, copy unchanged
        await settle(pilot)
        kept = Estimate.get()
        assert (kept.title, kept.customer_id, kept.customer_name) == (
            "Crane hire, kept", None, "Bâtir Lyon SARL")


# -- the customer's Estimates tab -----------------------------------------------------------

async def test_customer_tab_lists_and_starts_an_estimate_for_that_customer(app_for, lyon,
                                                                           nordic, admin):
    estimate_for(admin, nordic, "Not this one", ("Lift", "1", "10"))
    mine = estimate_for(admin, lyon)
    app = app_for("administrator")
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot)
        app.action_open_customer(lyon.id)
        customer = await on_screen(pilot, CustomerScreen)
        await pilot.press("5")
        await settle(pilot)
        assert rows(customer, "#customer-estimates-table") == [
            [mine.number, "3/14/2026", "Crane hire", "Draft", "€4,151.50"]]
        await pilot.press("n")
        estimate = await on_screen(pilot, EstimateScreen)
        assert not any(isinstance(s, PickCustomerDialog) for s in app.screen_stack)
        assert "Bâtir Lyon SARL" in text(estimate, "#customer-name")  # filled at once
        assert estimate.focused.id == "estimate-title"
        await type_text(pilot, "Second visit")
        await pilot.press("escape")
        await add_line(pilot, "Visit", "1", "99")
        await pilot.press("ctrl+s")
        await settle(pilot)
        await pilot.press("escape")
        await on_screen(pilot, CustomerScreen)
        await settle(pilot)
        titles = [row[2] for row in rows(customer, "#customer-estimates-table")]
        assert sorted(titles) == ["Crane hire", "Second visit"]


# -- the estimator's one way to create a customer -------------------------------------------

async def test_estimator_creates_a_customer_from_inside_an_estimate(app_for, lyon):
    app = app_for("estimator", "eve")
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot)
        app.push_screen(EstimatesScreen())
        await on_screen(pilot, EstimatesScreen)
        await pilot.press("n")
        picker = await on_screen(pilot, PickCustomerDialog)
        await type_text(pilot, "Granit")
        await settle(pilot)
        assert "No customer matches. F8 adds a new one." == text(picker,
                                                                 "#pick-customer-status")
        await pilot.press("f8")
        wizard = await on_screen(pilot, NewCustomerScreen)
        assert wizard.for_estimate and wizard.title == "New customer for the estimate"
        await type_text(pilot, "Granit Byg A/S")
        wizard.query_one("#billing_city", Input).value = "Aalborg"
        await pilot.press("f9")  # -> relationship
        await until(pilot, lambda: wizard.step == 1, "step 2")
        wizard.query_one("#currency", Input).value = "DKK"
        await pilot.press("f9")  # -> contacts: the estimator may add them here
        await until(pilot, lambda: wizard.step == 2, "step 3")
        await pilot.press("a")
        await until(pilot, lambda: app.screen is not wizard, "the contact form")
        await type_text(pilot, "Lars Money")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen is wizard, "back to the wizard")
        await pilot.press("f9")
        await until(pilot, lambda: wizard.step == 3, "review")
        await pilot.press("ctrl+s")
        estimate = await on_screen(pilot, EstimateScreen)
        created = Customer.get(Customer.name == "Granit Byg A/S")
        assert "Granit Byg A/S" in text(estimate, "#customer-name")
        assert "Lars Money" in text(estimate, "#customer-details")
        assert "DKK" in text(estimate, "#estimate-currency")
        event = AuditEvent.get(AuditEvent.entity == "customer", AuditEvent.action == "create",
                               AuditEvent.entity_id == created.id)
        assert event.login == "eve" and event.after["created_in_estimate"] is True
        assert [c["name"] for c in event.after["contacts"]] == ["Lars Money"]
        assert estimate.customer_id == created.id
        await type_text(pilot, "Foundations")
        await pilot.press("escape")
        await add_line(pilot, "Digging", "2", "500")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert Estimate.get().customer_id == created.id
        assert Estimate.get().currency == "DKK"


async def test_estimator_cannot_create_customers_anywhere_else(app_for, lyon):
    app = app_for("estimator", "eve")
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot)
        assert isinstance(app.screen, CustomerListScreen)
        await pilot.press("ctrl+n")  # the app's new customer: not for this role, it says where
        await pilot.pause()
        assert not any(isinstance(s, NewCustomerScreen) for s in app.screen_stack)
        assert any("from an estimate only" in m and "F8" in m for m in messages(app))
        # and the wizard itself, if reached otherwise, is refused by the service on Save
        app.push_screen(NewCustomerScreen())
        wizard = await on_screen(pilot, NewCustomerScreen)
        await type_text(pilot, "Sneaky Ltd")
        for step in (1, 2, 3):
            await pilot.press("f9")
            await until(pilot, lambda step=step: wizard.step == step, f"step {step + 1}")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, NewCustomerScreen)
        assert any("eve is not allowed to create customers" in m for m in messages(app))
        assert not Customer.select().where(Customer.name == "Sneaky Ltd").exists()


async def test_new_customer_key_only_for_roles_that_may(app_for, lyon, admin):
    stored = estimate_for(admin, lyon)
    for role, may in (("estimator", True), ("account_owner", True), ("administrator", True),
                      ("limited", False)):
        app = app_for(role)
        async with app.run_test(size=(80, 24)) as pilot:
            await start(pilot)
            app.push_screen(EstimateScreen(stored.id))
            await on_screen(pilot, EstimateScreen)
            assert ("new_customer" in offered(app)) is may, role
            await pilot.press("f8")
            await pilot.pause()
            assert isinstance(app.screen, NewCustomerScreen) is may, role


# -- the currency lock (C6) -----------------------------------------------------------------

async def test_currency_lock_is_shown_under_the_currency_field(app_for, lyon, admin):
    estimate_for(admin, lyon)
    app = app_for("administrator")
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot)
        app.action_open_customer(lyon.id)
        customer = await on_screen(pilot, CustomerScreen)
        await pilot.press("e")
        await pilot.pause()
        customer.query_one("#currency", Input).value = "USD"
        await pilot.press("ctrl+s")
        await settle(pilot)
        row = next(r for r in customer.query(DetailRow) if r.field_key == "currency")
        shown = str(row.query_one(".field-error", Static).render())
        assert shown == ("The currency stays EUR: Bâtir Lyon SARL has 1 estimate, "
                         "priced in EUR.")
        assert row.has_class("-error") and row.query_one(".field-error").display
        assert Customer.get_by_id(lyon.id).currency == "EUR"


# -- the PDF proposal -----------------------------------------------------------------------

async def test_pdf_proposal_is_written_and_never_silently_replaced(app_for, lyon, admin,
                                                                   tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    stored = estimate_for(admin, lyon)
    app = app_for("limited")  # viewing is enough to print
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot)
        app.push_screen(EstimateScreen(stored.id))
        await on_screen(pilot, EstimateScreen)
        await pilot.press("p")
        dialog = await on_screen(pilot, ExportDialog)
        assert dialog.query_one("#export-path", Input).value == f"{stored.number}.pdf"
        await pilot.press("enter")
        await on_screen(pilot, EstimateScreen)
        target = tmp_path / f"{stored.number}.pdf"
        await until(pilot, lambda: any(str(target) in m for m in messages(app)), "the notice")
        text_back = "\n".join(page.extract_text() for page in PdfReader(target).pages)
        assert "Bâtir Lyon SARL" in text_back and "Devis" in text_back  # in French
        assert "Crane, 3 days" in text_back
        written = target.read_bytes()
        target.write_bytes(b"mine")
        await pilot.press("p")
        await on_screen(pilot, ExportDialog)
        await pilot.press("enter")
        confirm = await on_screen(pilot, ConfirmDialog)
        assert str(target) in confirm.body or target.name in confirm.body
        await pilot.press("escape")  # keep my file
        await settle(pilot)
        assert target.read_bytes() == b"mine"
        assert written.startswith(b"%PDF")


async def test_pdf_refused_until_the_estimate_is_saved(app_for, lyon, admin):
    stored = estimate_for(admin, lyon)
    app = app_for("administrator")
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot)
        app.push_screen(EstimateScreen(customer_id=lyon.id))
        screen = await on_screen(pilot, EstimateScreen)
        assert screen.check_action("proposal", ()) is None  # shown dimmed: nothing saved
        await pilot.press("escape", "p")
        await pilot.pause()
        assert not any(isinstance(s, ExportDialog) for s in app.screen_stack)
        app.pop_screen()
        app.push_screen(EstimateScreen(stored.id))
        screen = await on_screen(pilot, EstimateScreen)
        screen.query_one("#estimate-title", Input).value = "Changed, not saved"
        await pilot.press("p")  # the proposal shows what is saved: save first
        await pilot.pause()
        assert not any(isinstance(s, ExportDialog) for s in app.screen_stack)
        assert any("Save the estimate first" in m for m in messages(app))


# -- 80 columns -----------------------------------------------------------------------------

def footer_line(app) -> str:
    """The bottom line of the screen as the terminal shows it."""
    import io

    from rich.console import Console

    console = Console(width=80, height=24, file=io.StringIO(), record=True, color_system=None)
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text().splitlines()[23]


def own_keys(app, node) -> list[str]:
    """"key description" of every action of ``node`` the footer should show now (an action
    bound to several keys, as "d,delete", is shown once, with its first key)."""
    keys: dict[str, str] = {}
    for active in app.screen.active_bindings.values():
        if active.node is node and active.binding.show and active.enabled:
            keys.setdefault(active.binding.action, f"{app.get_key_display(active.binding)} "
                                                   f"{active.binding.description}")
    return list(keys.values())


@pytest.mark.parametrize("role", ["administrator", "estimator", "limited"])
async def test_every_key_of_these_screens_fits_the_footer(app_for, lyon, admin, role):
    from tui.screens.customer_panes.estimates import EstimatesPane
    from tui.screens.projects import ProjectsScreen
    from tui.screens.report import ReportScreen

    stored = estimate_for(admin, lyon)
    app = app_for(role)
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot)
        for screen in (EstimatesScreen(), EstimateScreen(stored.id), ProjectsScreen(),
                       ReportScreen()):
            app.push_screen(screen)
            await on_screen(pilot, type(screen))
            keys, shown = own_keys(app, screen), footer_line(app)
            assert keys and all(key in shown for key in keys), (type(screen).__name__, shown)
            app.pop_screen()
            await settle(pilot)
        app.action_open_customer(lyon.id)
        customer = await on_screen(pilot, CustomerScreen)
        await pilot.press("5")
        await settle(pilot)
        pane = customer.query_one(EstimatesPane)
        keys, shown = own_keys(app, pane), footer_line(app)
        assert keys and all(key in shown for key in keys), shown
        assert "esc Back" in shown
