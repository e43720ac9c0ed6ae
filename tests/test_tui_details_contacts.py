"""Pilot tests of the customer's Details and Contacts tabs: edit, conflicts, delete, roles."""

from __future__ import annotations

from dataclasses import replace

import pytest
from textual.widgets import DataTable, Input, TextArea

from tests.pilot import settle, type_text
from tui.domain.models import AuditEvent, Contact, Customer
from tui.domain.services.contacts import ContactDraft, add_contact
from tui.domain.services.customers import CustomerDraft, get_customer, update_customer
from tui.domain.services.documents import add_document
from tui.domain.services.equipment import assign_equipment
from tui.screens.customer import CustomerScreen
from tui.screens.customer_list import CustomerListScreen
from tui.screens.customer_panes.contacts import ContactsPane
from tui.screens.customer_panes.details import DetailRow, DetailsPane
from tui.widgets.confirm import ConfirmDialog
from tui.widgets.conflict import ConflictDialog
from tui.widgets.notice_types import NoticeTypesList


async def open_customer(pilot, customer_id: int) -> CustomerScreen:
    await settle(pilot)
    pilot.app.action_open_customer(customer_id)
    await settle(pilot)
    assert isinstance(pilot.app.screen, CustomerScreen)
    return pilot.app.screen


async def open_details(pilot, customer_id: int) -> DetailsPane:
    screen = await open_customer(pilot, customer_id)
    return screen.query_one(DetailsPane)


async def open_contacts(pilot, customer_id: int) -> ContactsPane:
    screen = await open_customer(pilot, customer_id)
    await pilot.press("2")
    await settle(pilot)
    pane = screen.query_one(ContactsPane)
    assert pilot.app.screen.focused is pane.query_one(DataTable)
    return pane


async def type_into(pilot, pane, selector: str, text: str) -> None:
    """Focus a field (its text gets selected) and type over it."""
    pane.query_one(selector, Input).focus()
    await pilot.pause()
    await type_text(pilot, text) if text else await pilot.press("backspace")
    await pilot.pause()


def notices(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


def error_of(pane: DetailsPane, field: str) -> str:
    row = next(row for row in pane.query(DetailRow) if row.field_key == field)
    return str(row.query_one(".field-error").render()) if row.has_class("-error") else ""


@pytest.fixture
def nordic(make_customer):
    return make_customer("Nordic Lifting A/S", phone="+45 87 65 43 21", billing_city="Aarhus",
                         email="info@nordic.example", groups=("North",))


# -- Details -------------------------------------------------------------------------------


async def test_details_are_read_only_until_edit(app_for, nordic):
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_details(pilot, nordic.id)
        assert not pane.editing
        for field in ("#name", "#phone", "#billing_city", "#groups"):
            assert pane.query_one(field, Input).is_disabled
        assert pane.query_one("#notes", TextArea).is_disabled
        assert pane.query_one("#name", Input).value == "Nordic Lifting A/S"
        assert pane.query_one("#phone", Input).value == "87 65 43 21"  # national form
        assert pane.query_one("#groups", Input).value == "North"
        assert app.screen.active_bindings["e"].enabled
        assert "ctrl+s" not in app.screen.active_bindings
        await pilot.press("e")
        assert pane.editing
        assert not pane.query_one("#billing_city", Input).is_disabled
        assert app.screen.focused is pane.query_one("#name", Input)


async def test_edit_city_and_save(app_for, nordic):
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_details(pilot, nordic.id)
        await pilot.press("e")
        await type_into(pilot, pane, "#billing_city", "Odense")
        await type_into(pilot, pane, "#name", "Nordic Lift A/S")
        await pilot.press("ctrl+s")
        await settle(pilot)
        stored = Customer.get_by_id(nordic.id)
        assert (stored.billing_city, stored.name, stored.version) == ("Odense", "Nordic Lift A/S",
                                                                       2)
        assert stored.phone == "+4587654321"  # untouched phone kept its stored form
        event = AuditEvent.get(AuditEvent.entity == "customer", AuditEvent.action == "update")
        assert event.after["billing_city"] == "Odense" and event.login == "administrator"
        assert not pane.editing and pane.query_one("#billing_city", Input).is_disabled
        assert app.screen.title == "Nordic Lift A/S"  # CustomersChanged reached the screen
        assert "Saved" in notices(app)


async def test_cancel_discards_after_confirmation(app_for, nordic):
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_details(pilot, nordic.id)
        await pilot.press("e")
        await type_into(pilot, pane, "#billing_city", "Odense")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await pilot.pause()
        assert not pane.editing
        assert pane.query_one("#billing_city", Input).value == "Aarhus"
        assert Customer.get_by_id(nordic.id).version == 1
        await pilot.press("escape")  # not editing: back to the list
        await settle(pilot)
        assert isinstance(app.screen, CustomerListScreen)


async def test_cancel_without_changes_needs_no_confirmation(app_for, nordic):
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_details(pilot, nordic.id)
        await pilot.press("e", "escape")
        await pilot.pause()
        assert isinstance(app.screen, CustomerScreen) and not pane.editing


async def test_invalid_email_is_shown_beside_the_field_and_nothing_saved(app_for, nordic):
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_details(pilot, nordic.id)
        await pilot.press("e")
        await type_into(pilot, pane, "#email", "not-an-address")
        await type_into(pilot, pane, "#billing_city", "Odense")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert pane.editing
        assert "e-mail" in error_of(pane, "email")
        assert error_of(pane, "billing_city") == ""
        assert app.screen.focused is pane.query_one("#email", Input)
        stored = Customer.get_by_id(nordic.id)
        assert (stored.billing_city, stored.version) == ("Aarhus", 1)


async def test_us_address_offers_a_state_select(app_for, nordic):
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_details(pilot, nordic.id)
        await pilot.press("e")
        await type_into(pilot, pane, "#billing_country", "US")
        assert pane.query_one("#billing_state_select").display
        assert not pane.query_one("#billing_region").display
        await type_into(pilot, pane, "#phone", "+45 87 65 43 21")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "state is required" in error_of(pane, "billing_state")
        pane.query_one("#billing_state_select").value = "US-TX"
        await pilot.press("ctrl+s")
        await pilot.pause()
        stored = Customer.get_by_id(nordic.id)
        assert (stored.billing_country, stored.billing_state) == ("US", "US-TX")


async def test_duplicate_name_asks_before_saving(app_for, nordic, make_customer):
    make_customer("Bâtir Rental SARL", billing_country="FR")
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_details(pilot, nordic.id)
        await pilot.press("e")
        await type_into(pilot, pane, "#name", "Batir Rental")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        assert "Bâtir Rental SARL" in str(app.screen.query_one("#confirm-body").render())
        await pilot.press("y")
        await pilot.pause()
        assert Customer.get_by_id(nordic.id).name == "Batir Rental"


async def change_behind_your_back(as_role, customer_id: int) -> None:
    other = as_role("administrator", "other")
    current = get_customer(other, customer_id)
    draft = replace(CustomerDraft.from_customer(current), name="Nordic Lifting ApS")
    update_customer(other, customer_id, current.version, draft)


async def start_conflict(pilot, pane, as_role, customer_id: int) -> ConflictDialog:
    await pilot.press("e")
    await type_into(pilot, pane, "#billing_city", "Odense")
    await change_behind_your_back(as_role, customer_id)
    await pilot.press("ctrl+s")
    await pilot.pause()
    dialog = pilot.app.screen
    assert isinstance(dialog, ConflictDialog)
    assert dialog.changed_keys == ["name", "billing_city"]
    assert (dialog.theirs["name"], dialog.yours["name"]) == ("Nordic Lifting ApS",
                                                              "Nordic Lifting A/S")
    assert (dialog.theirs["billing_city"], dialog.yours["billing_city"]) == ("Aarhus", "Odense")
    assert "other saved this customer" in str(dialog.query_one("#conflict-message").render())
    return dialog


async def test_conflict_reload_shows_theirs(app_for, as_role, nordic):
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_details(pilot, nordic.id)
        await start_conflict(pilot, pane, as_role, nordic.id)
        await pilot.press("r")
        await pilot.pause()
        assert not pane.editing
        assert pane.query_one("#name", Input).value == "Nordic Lifting ApS"
        assert pane.query_one("#billing_city", Input).value == "Aarhus"
        assert app.screen.title == "Nordic Lifting ApS"
        stored = Customer.get_by_id(nordic.id)
        assert (stored.name, stored.billing_city, stored.version) == ("Nordic Lifting ApS",
                                                                       "Aarhus", 2)


async def test_conflict_keep_editing_then_overwrite_saves_mine(app_for, as_role, nordic):
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_details(pilot, nordic.id)
        await start_conflict(pilot, pane, as_role, nordic.id)
        await pilot.press("escape")  # keep editing: nothing saved, my edits still there
        await pilot.pause()
        assert pane.editing and pane.query_one("#billing_city", Input).value == "Odense"
        assert Customer.get_by_id(nordic.id).version == 2
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, ConflictDialog)
        await pilot.press("o")
        await pilot.pause()
        assert not pane.editing
        stored = Customer.get_by_id(nordic.id)
        assert (stored.name, stored.billing_city, stored.version) == ("Nordic Lifting A/S",
                                                                       "Odense", 3)


def notices_text(pane: DetailsPane) -> str:
    return str(pane.query_one("#notify_event_types_text").render())


async def test_notice_types_read_then_edited_with_the_keyboard(app_for, make_customer):
    customer = make_customer("Picky A/S", notify_event_types=("alarm", "breakdown"))
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_details(pilot, customer.id)
        notices = pane.query_one("#notify_event_types", NoticeTypesList)
        assert notices_text(pane) == "Breakdown, Alarm"  # in the configuration's order
        assert not notices.display and pane.query_one("#notify_event_types_text").display
        await pilot.press("e")
        assert notices.display and not pane.query_one("#notify_event_types_text").display
        assert notices.chosen == ("breakdown", "alarm")
        pane.query_one("#language", Input).focus()
        await pilot.press("tab")  # the field after the language
        assert app.focused is notices
        await pilot.press("space")  # the cursor starts on Service due
        await pilot.press("down", "down", "space")  # and Alarm goes
        assert notices.chosen == ("service_due", "breakdown")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert not pane.editing
        stored = Customer.get_by_id(customer.id)
        assert (stored.notify_event_types, stored.version) == (["service_due", "breakdown"], 2)
        event = AuditEvent.get(AuditEvent.entity == "customer", AuditEvent.action == "update")
        assert event.after["notify_event_types"] == ["service_due", "breakdown"]
        assert "name" not in event.after  # only what changed
        assert notices_text(pane) == "Service due, Breakdown"


async def test_no_notice_type_reads_none_and_cancel_asks_after_a_change(app_for,
                                                                        make_customer):
    customer = make_customer("Quiet A/S", notify_event_types=())
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_details(pilot, customer.id)
        assert notices_text(pane) == "none"
        await pilot.press("e")
        pane.query_one("#notify_event_types", NoticeTypesList).focus()
        await pilot.press("enter")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)  # ticking a notice is a change
        await pilot.press("y")
        await pilot.pause()
        assert not pane.editing and notices_text(pane) == "none"
        assert Customer.get_by_id(customer.id).notify_event_types == []


async def test_conflict_names_the_notices_in_words(app_for, as_role, make_customer):
    customer = make_customer("Picky A/S", notify_event_types=("alarm",))
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_details(pilot, customer.id)
        await pilot.press("e")
        pane.query_one("#notify_event_types", NoticeTypesList).focus()
        await pilot.press("space")  # + Service due
        other = as_role("administrator", "other")
        current = get_customer(other, customer.id)
        update_customer(other, customer.id, current.version, replace(
            CustomerDraft.from_customer(current), notify_event_types=("custom",)))
        await pilot.press("ctrl+s")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ConflictDialog)
        assert dialog.changed_keys == ["notify_event_types"]
        assert dialog.theirs["notify_event_types"] == "Custom"
        assert dialog.yours["notify_event_types"] == "Service due, Alarm"
        await pilot.press("o")  # overwrite: mine is saved
        await pilot.pause()
        assert Customer.get_by_id(customer.id).notify_event_types == ["service_due", "alarm"]


@pytest.fixture
def busy_customer(admin, nordic, make_machine, tmp_path):
    for name in ("Anna", "Bo"):
        add_contact(admin, nordic.id, ContactDraft(name=name))
    assign_equipment(admin, nordic.id, [make_machine().id for _ in range(3)])
    paper = tmp_path / "contract.pdf"
    paper.write_bytes(b"%PDF-1.4 contract")
    add_document(admin, nordic.id, "Contract", "contract", paper)
    return nordic


async def test_delete_states_the_impact_and_cancel_keeps_the_customer(app_for, busy_customer):
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_details(pilot, busy_customer.id)
        await pilot.press("ctrl+d")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        body = str(app.screen.query_one("#confirm-body").render())
        assert body == ("Delete Nordic Lifting A/S? 3 machines will be unassigned, 2 contacts "
                        "and 1 document deleted. Their history stays in the audit trail.")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, CustomerScreen)
        assert Customer.get_or_none(Customer.id == busy_customer.id) is not None
        assert Contact.select().count() == 2


async def test_delete_confirmed_removes_the_customer_and_returns_to_the_list(app_for,
                                                                              busy_customer):
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_details(pilot, busy_customer.id)
        pane.query_one("#delete").focus()
        await pilot.press("enter")  # the button at the bottom of the tab
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await settle(pilot)
        assert Customer.get_or_none(Customer.id == busy_customer.id) is None
        assert isinstance(app.screen, CustomerListScreen)
        table = app.screen.query_one("#customers", DataTable)
        assert table.row_count == 0
        assert any("Deleted Nordic Lifting A/S" in n for n in notices(app))


async def test_limited_role_is_not_offered_edit_or_delete(app_for, nordic):
    app = app_for("limited")
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_details(pilot, nordic.id)
        bindings = app.screen.active_bindings
        assert "e" not in bindings and "ctrl+d" not in bindings and "delete" not in bindings
        assert pane.check_action("edit", ()) is False
        assert pane.check_action("delete", ()) is False
        assert not pane.query_one("#edit").display and not pane.query_one("#delete").display
        await pilot.press("e")
        assert not pane.editing
        # Called directly, the service still refuses, and says so.
        pane.action_edit()
        await type_into(pilot, pane, "#billing_city", "Odense")
        pane.action_save()
        await pilot.pause()
        assert any("not allowed to edit customers" in n for n in notices(app))
        assert not pane.editing
        pane.action_delete()
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert any("not allowed to delete customers" in n for n in notices(app))
        assert isinstance(app.screen, CustomerScreen)
        stored = Customer.get_by_id(nordic.id)
        assert (stored.billing_city, stored.version) == ("Aarhus", 1)


async def test_markup_in_user_data_is_shown_literally(app_for, make_customer, admin):
    customer = make_customer("[bold]Acme[/bold] Rental")
    add_contact(admin, customer.id, ContactDraft(name="[red]x", email="x@example.com"))
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_details(pilot, customer.id)
        await pilot.press("ctrl+d")
        await pilot.pause()
        assert "Delete [bold]Acme[/bold] Rental?" in str(
            app.screen.query_one("#confirm-body").render())
        await pilot.press("escape")
        await pilot.press("2")
        await settle(pilot)
        table = app.screen.query_one(ContactsPane).query_one(DataTable)
        assert table.get_row_at(0)[1].plain == "[red]x"
        assert "[red]x" in app.export_screenshot()


# -- Contacts ------------------------------------------------------------------------------


async def test_add_and_edit_a_contact(app_for, nordic):
    from tui.widgets.contact_form import ContactFormDialog

    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_contacts(pilot, nordic.id)
        await pilot.press("a")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ContactFormDialog)
        await type_text(pilot, "Jane Doe")
        dialog.query_one("#email", Input).value = "jane@nordic.example"
        dialog.query_one("#phone", Input).value = "20 30 40 50"  # national, read in DK
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CustomerScreen)
        jane = Contact.get(Contact.name == "Jane Doe")
        assert (jane.email, jane.phone) == ("jane@nordic.example", "+4520304050")
        table = pane.query_one(DataTable)
        assert table.row_count == 1
        assert table.get_cell(str(jane.id), "phone").plain == "20 30 40 50"

        await pilot.press("e")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ContactFormDialog)
        assert dialog.query_one("#name", Input).value == "Jane Doe"
        dialog.query_one("#job_title", Input).value = "Site manager"
        await pilot.press("ctrl+s")
        await settle(pilot)
        jane = Contact.get_by_id(jane.id)
        assert (jane.job_title, jane.version, jane.phone) == ("Site manager", 2, "+4520304050")
        assert table.get_cell(str(jane.id), "job_title").plain == "Site manager"


async def test_edit_conflict_is_reported_and_table_reloaded(app_for, admin, nordic):
    contact = add_contact(admin, nordic.id, ContactDraft(name="Anna"))
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_contacts(pilot, nordic.id)
        await pilot.press("enter")  # Enter edits too
        await pilot.pause()
        from tui.domain.services.contacts import update_contact

        update_contact(admin, contact.id, 1, ContactDraft(name="Anna B."))
        app.screen.query_one("#job_title", Input).value = "Buyer"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert any("changed by someone else" in n for n in notices(app))
        assert pane.query_one(DataTable).get_row_at(0)[1].plain == "Anna B."
        assert Contact.get_by_id(contact.id).job_title == ""


async def test_mark_two_contacts_and_delete_them(app_for, admin, nordic):
    for name in ("Anna", "Bo", "Carl"):
        add_contact(admin, nordic.id, ContactDraft(name=name))
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_contacts(pilot, nordic.id)
        table = pane.query_one(DataTable)
        await pilot.press("space", "space")  # marks Anna, then Bo (the cursor moves down)
        await pilot.pause()
        assert [table.get_row_at(i)[0].plain for i in range(3)] == ["✓", "✓", ""]
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        assert app.screen.title_text == "Delete 2 contacts?"
        assert "Anna, Bo" in str(app.screen.query_one("#confirm-body").render())
        await pilot.press("escape")
        await pilot.pause()
        assert Contact.select().count() == 3
        await pilot.press("d")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        assert [c.name for c in Contact.select()] == ["Carl"]
        assert table.row_count == 1 and not pane.marked
        assert AuditEvent.select().where(AuditEvent.entity == "contact",
                                         AuditEvent.action == "delete").count() == 2


async def test_delete_without_marks_acts_on_the_cursor_row(app_for, admin, nordic):
    for name in ("Anna", "Bo"):
        add_contact(admin, nordic.id, ContactDraft(name=name))
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_contacts(pilot, nordic.id)
        await pilot.press("down", "delete")
        await pilot.pause()
        assert app.screen.title_text == "Delete 1 contact?"
        await pilot.press("y")
        await settle(pilot)
        assert [c.name for c in Contact.select()] == ["Anna"]


async def test_emails_and_phones_are_links(app_for, admin, nordic):
    add_contact(admin, nordic.id, ContactDraft(name="Anna", email="anna@nordic.example",
                                               phone="+45 20 30 40 50", roles=("billing",)))
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_contacts(pilot, nordic.id)
        table = pane.query_one(DataTable)
        email = table.get_row_at(0)[3]
        phone = table.get_row_at(0)[4]
        assert email.plain == "anna@nordic.example"
        assert email.style.link == "mailto:anna@nordic.example"
        assert phone.style.link == "tel:+4520304050"
        assert table.get_row_at(0)[5].plain == "Billing"


async def test_limited_role_cannot_change_contacts(app_for, admin, nordic):
    add_contact(admin, nordic.id, ContactDraft(name="Anna"))
    app = app_for("limited")
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await open_contacts(pilot, nordic.id)
        bindings = app.screen.active_bindings
        assert not {"a", "e", "d", "space"} & set(bindings)
        await pilot.press("a", "d")
        await pilot.pause()
        assert isinstance(app.screen, CustomerScreen)
        pane.action_delete()
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert any("not allowed to add, edit or delete contacts" in n for n in notices(app))
        assert Contact.select().count() == 1


def test_conflict_dialog_compares_only_fields_that_differ():
    from tui.widgets.conflict import differing_fields

    theirs = {"name": "A", "city": "Aarhus", "notes": ""}
    yours = {"name": "A", "city": "Odense", "phone": "12"}
    assert differing_fields(theirs, yours, {"phone": "Phone", "city": "City"}) == ["phone", "city"]
