"""Pilot tests of the new-customer wizard and the contact form dialog, driven by keys."""

from __future__ import annotations

from textual.widgets import Checkbox, DataTable, Input, RadioSet, Select, Static

from tests.pilot import settle, type_text, until
from tui.domain.models import Contact, Customer, Notification
from tui.domain.services.contacts import ContactDraft
from tui.screens.customer import CustomerScreen
from tui.screens.customer_list import CustomerListScreen
from tui.screens.new_customer import NewCustomerScreen
from tui.widgets.address_fields import FieldRow
from tui.widgets.confirm import ConfirmDialog
from tui.widgets.contact_form import ContactFormDialog
from tui.widgets.notice_types import NoticeTypesList


async def next_step(pilot, screen, title: str) -> None:
    await pilot.press("f9")
    await until(pilot, lambda: step_title(screen) == title, title)


async def open_wizard(pilot) -> NewCustomerScreen:
    await settle(pilot)
    pilot.app.NOTIFICATION_TIMEOUT = 3600  # a loaded machine must not expire them mid-test
    await pilot.press("ctrl+n")
    await until(pilot, lambda: isinstance(pilot.app.screen, NewCustomerScreen), "the wizard")
    await settle(pilot)
    return pilot.app.screen


def focused_id(app) -> str | None:
    return app.focused.id if app.focused else None


def error_of(screen, field: str) -> str:
    row = next(row for row in screen.query(FieldRow) if row.field_key == field)
    return row.error


def step_title(screen) -> str:
    return str(screen.query_one("#step-title", Static).render())


def text_of(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def review_text(screen) -> str:
    """The review step as shown: one "label: value" line per row."""
    return "\n".join(
        f"{row.query_one('.review-label', Static).render()}: "
        f"{row.query_one('.review-value', Static).render()}"
        for row in screen.query(".review-row"))


def notifications(app) -> list[str]:
    return [n.message for n in app._notifications]


async def fill_company(pilot, name: str = "Nordic Lifting", phone: str = "",
                       country: str = "DK") -> None:
    """Name, phone, then Enter from field to field down to the country."""
    assert focused_id(pilot.app) == "name"
    await type_text(pilot, name)
    await pilot.press("enter")
    await type_text(pilot, phone)
    for _field in ("phone", "email", "website", "street", "postal code", "city"):
        await pilot.press("enter")
    assert focused_id(pilot.app) == "billing_country"
    await type_text(pilot, country)


async def add_contact(pilot, name: str, email: str, phone: str, job: str,
                      roles: tuple[int, ...]) -> None:
    """From the contacts table: a, fill the dialog, tick roles by position, ctrl+s."""
    await pilot.press("a")
    await pilot.pause()
    assert isinstance(pilot.app.screen, ContactFormDialog)
    for value in (name, email, phone, job):
        await type_text(pilot, value)
        await pilot.press("enter")  # to the next field; after the job title, the first role
    last = max(roles, default=-1)  # no Tab past the last role to tick: ctrl+s saves from any field
    for index in range(last + 1):
        if index in roles:
            await pilot.press("space")
        if index < last:
            await pilot.press("tab")
    await pilot.press("ctrl+s")
    await pilot.pause()
    assert isinstance(pilot.app.screen, NewCustomerScreen)


async def test_happy_path_creates_customer_with_contacts_and_opens_it(app_for):

    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_wizard(pilot)
        assert step_title(screen) == "Step 1 of 4: Company"
        await fill_company(pilot, phone="87654321")
        assert text_of(screen, "#billing_country_name") == "Denmark"
        await next_step(pilot, screen, "Step 2 of 4: Relationship")
        assert focused_id(app) == "segment"
        assert screen.query_one("#segment", RadioSet).pressed_button is None  # means Other
        await pilot.press("down", "up", "enter")  # the cursor starts on Dealer, the first
        assert screen.query_one("#segment", RadioSet).pressed_button.id == "segment-dealer"
        await pilot.press("tab")
        assert focused_id(app) == "groups"
        await type_text(pilot, "North, Key accounts")
        await next_step(pilot, screen, "Step 3 of 4: Contacts")
        assert focused_id(app) == "contacts"
        await add_contact(pilot, "Jane Doe", "jane@nordic.dk", "20304050", "Buyer",
                          roles=(0, 1))
        await add_contact(pilot, "Bo Berg", "bo@nordic.dk", "", "Mechanic", roles=(3,))
        table = screen.query_one("#contacts", DataTable)
        assert table.row_count == 2
        assert table.get_row_at(0)[0] == "Jane Doe"
        assert table.get_row_at(0)[3] == "Submission, Billing"
        await next_step(pilot, screen, "Step 4 of 4: Review")
        summary = review_text(screen)
        for expected in ("Nordic Lifting", "87 65 43 21", "Denmark", "Dealer", "North",
                         "Key accounts", "EUR", "English", "Contacts: 2",
                         "Contact 1: Jane Doe, Buyer",
                         "Buyer", "Bo Berg", "Notify about equipment events"):
            assert expected in summary
        assert "Notices: Service due, Breakdown, Alarm, Left geofence, Custom" in summary
        welcome = screen.query_one("#welcome", Checkbox)
        assert not welcome.disabled and not welcome.value  # offered, not ticked by default
        assert text_of(screen, "#welcome-hint").startswith(
            "Not sent. 2 contacts have an e-mail address and would get one.")
        assert Customer.select().count() == 0  # nothing stored before Save
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, CustomerScreen), "the new customer")
        await settle(pilot)
        customer = Customer.get()
        assert Customer.select().count() == 1
        assert (customer.name, customer.segment, customer.phone, customer.billing_country) == (
            "Nordic Lifting", "dealer", "+4587654321", "DK")
        contacts = {c.name: c for c in Contact.select().where(Contact.customer == customer.id)}
        assert set(contacts) == {"Jane Doe", "Bo Berg"}
        assert contacts["Jane Doe"].roles == ["submission", "billing"]
        assert contacts["Jane Doe"].phone == "+4520304050"
        assert contacts["Bo Berg"].roles == ["notify"]
        assert customer.notify_event_types == [
            "service_due", "breakdown", "alarm", "geofence_exit", "custom"]  # the default
        assert Notification.select().count() == 0  # no welcome unless ticked
        assert isinstance(app.screen, CustomerScreen)
        assert app.screen.customer_id == customer.id
        assert "Customer Nordic Lifting created." in notifications(app)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, CustomerListScreen)


async def test_notice_types_are_chosen_with_the_keyboard(app_for):
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_wizard(pilot)
        await type_text(pilot, "Picky Hire")
        await next_step(pilot, screen, "Step 2 of 4: Relationship")
        await pilot.press("tab", "tab", "tab", "tab")  # groups, currency, language, notices
        notices = screen.query_one("#notify_event_types", NoticeTypesList)
        assert app.focused is notices
        assert notices.chosen == ("service_due", "breakdown", "alarm", "geofence_exit",
                                  "custom")
        await pilot.press("space", "down", "down", "space")  # untick Service due and Alarm
        assert notices.chosen == ("breakdown", "geofence_exit", "custom")
        await pilot.press("down", "down", "enter")  # Enter toggles as Space does
        assert notices.chosen == ("breakdown", "geofence_exit")
        await next_step(pilot, screen, "Step 3 of 4: Contacts")
        await next_step(pilot, screen, "Step 4 of 4: Review")
        assert "Notices: Breakdown, Left geofence" in review_text(screen)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, CustomerScreen), "the new customer")
        await settle(pilot)
        assert Customer.get().notify_event_types == ["breakdown", "geofence_exit"]


async def test_no_notice_type_at_all_is_allowed_and_said(app_for):
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_wizard(pilot)
        await type_text(pilot, "Quiet Hire")
        await next_step(pilot, screen, "Step 2 of 4: Relationship")
        screen.query_one("#notify_event_types", NoticeTypesList).deselect_all()
        await pilot.press("f9")
        await next_step(pilot, screen, "Step 4 of 4: Review")
        assert "Notices: none" in review_text(screen)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, CustomerScreen), "the new customer")
        await settle(pilot)
        assert Customer.get().notify_event_types == []


async def to_review_with_contacts(pilot, *contacts: tuple[str, str]) -> NewCustomerScreen:
    screen = await open_wizard(pilot)
    await type_text(pilot, "Welcome Hire")
    await pilot.press("f9")
    await next_step(pilot, screen, "Step 3 of 4: Contacts")
    for name, email in contacts:
        await add_contact(pilot, name, email, "", "", roles=())
    await next_step(pilot, screen, "Step 4 of 4: Review")
    return screen


async def test_welcome_email_ticked_queues_one_per_contact_with_an_address(app_for,
                                                                            monkeypatch):
    for variable in ("CLIENTBOOK_SMTP_HOST", "CLIENTBOOK_MAIL_FROM"):
        monkeypatch.delenv(variable, raising=False)
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await to_review_with_contacts(
            pilot, ("Jane Doe", "jane@welcome.example"), ("Bo Berg", ""))
        welcome = screen.query_one("#welcome", Checkbox)
        assert not welcome.disabled and not welcome.value
        hint = text_of(screen, "#welcome-hint")
        assert hint.startswith("Not sent. 1 contact has an e-mail address and would get one.")
        assert "E-mail is not configured: the messages will wait in the outbox" in hint
        await pilot.press("w")  # the key ticks the box; so would Space on it
        await pilot.pause()
        assert welcome.value
        assert text_of(screen, "#welcome-hint").startswith(
            "Will be sent to the 1 contact with an e-mail address. E-mail is not configured")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, CustomerScreen), "the new customer")
        await settle(pilot)
        customer = Customer.get()
        message = Notification.get()
        assert (message.kind, message.recipient_email, message.customer_id) == (
            "welcome", "jane@welcome.example", customer.id)
        assert message.status == "pending" and message.language == "en"
        assert ("Customer Welcome Hire created. 1 welcome e-mail queued in the outbox."
                in notifications(app))


async def test_welcome_hint_when_email_is_configured(app_for, monkeypatch):
    monkeypatch.setenv("CLIENTBOOK_SMTP_HOST", "mail.example")
    monkeypatch.setenv("CLIENTBOOK_MAIL_FROM", "office@example.com")
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await to_review_with_contacts(
            pilot, ("Jane Doe", "jane@welcome.example"), ("Ann Li", "ann@welcome.example"))
        hint = text_of(screen, "#welcome-hint")
        assert hint == "Not sent. 2 contacts have an e-mail address and would get one."
        await pilot.press("w")
        await pilot.pause()
        assert text_of(screen, "#welcome-hint") == (
            "Will be sent to the 2 contacts with an e-mail address.")
        await pilot.press("w")  # and unticked again
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, CustomerScreen), "the new customer")
        await settle(pilot)
        assert Customer.select().count() == 1 and Notification.select().count() == 0


async def test_welcome_is_not_offered_without_an_address(app_for):
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await to_review_with_contacts(pilot, ("Bo Berg", ""))
        welcome = screen.query_one("#welcome", Checkbox)
        assert welcome.disabled and not welcome.value
        assert text_of(screen, "#welcome-hint") == "None of the contacts has an e-mail address."
        assert "w" not in app.screen.active_bindings
        await pilot.press("w")
        assert not welcome.value
        # back to the contacts, one with an address: now it is offered
        await pilot.press("f8")
        await until(pilot, lambda: step_title(screen).startswith("Step 3"), "the contacts")
        await add_contact(pilot, "Ann Li", "ann@welcome.example", "", "", roles=())
        await next_step(pilot, screen, "Step 4 of 4: Review")
        assert not welcome.disabled
        await pilot.press("w")
        assert welcome.value
        # and removing it again unticks the box
        await pilot.press("f8")
        await until(pilot, lambda: step_title(screen).startswith("Step 3"), "the contacts")
        await pilot.press("d")
        await next_step(pilot, screen, "Step 4 of 4: Review")
        assert welcome.disabled and not welcome.value


async def test_us_needs_a_state_and_dk_has_a_free_region(app_for):
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_wizard(pilot)
        await fill_company(pilot, name="Lone Star Cranes", country="US")
        state = screen.query_one("#billing_state_select", Select)
        region = screen.query_one("#billing_region", Input)
        assert state.display and not region.display
        await pilot.press("f9")
        await pilot.pause()
        assert step_title(screen).startswith("Step 1 of 4")
        assert "state is required" in error_of(screen, "billing_state")
        assert focused_id(app) == "billing_state_select"
        await pilot.press("enter")  # open the list, type to find, Enter to choose
        await pilot.press(*"Tex")  # key by key: the list finds as one types, it takes no paste
        await pilot.press("enter")
        await pilot.pause()
        assert state.value == "US-TX"
        assert error_of(screen, "billing_state") == ""  # re-checked as one corrects
        # switching to Denmark hides the selector and offers the free region
        screen.query_one("#billing_country", Input).focus()
        await pilot.press("backspace", "backspace")
        await type_text(pilot, "DK")
        await pilot.pause()
        assert not state.display and region.display
        await pilot.press("tab")
        assert focused_id(app) == "billing_region"
        await type_text(pilot, "Jutland")
        assert screen.draft().billing_state == "Jutland"
        # and back to the US: the state chosen before is still offered, and Next works
        screen.query_one("#billing_country", Input).value = "United States"
        await pilot.pause()
        assert state.display and screen.draft().billing_state == "US-TX"
        await pilot.press("f9")
        await pilot.pause()
        assert step_title(screen).startswith("Step 2 of 4")


async def test_canada_asks_for_a_province(app_for):
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_wizard(pilot)
        await fill_company(pilot, name="Maple Hoists", country="CA")
        row = screen.query_one("#billing_state_row", FieldRow)
        assert "Province" in row.label_text and row.required
        await pilot.press("enter")  # from the country to the province selector
        assert focused_id(app) == "billing_state_select"
        await pilot.press("enter")
        await pilot.press(*"Ont")  # key by key: the list finds as one types, it takes no paste
        await pilot.press("enter")
        await pilot.pause()
        assert screen.query_one("#billing_state_select", Select).value == "CA-ON"
        assert screen.draft().billing_state == "CA-ON"


async def test_skipping_relationship_means_other(app_for):
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_wizard(pilot)
        await type_text(pilot, "Quick Hire")
        await pilot.press("f9", "f9", "f9")
        await pilot.pause()
        assert step_title(app.screen).startswith("Step 4 of 4")
        assert "Relationship: Other" in review_text(app.screen)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, CustomerScreen), "the new customer")
        await settle(pilot)
        customer = Customer.get()
        assert (customer.name, customer.segment, customer.currency, customer.language) == (
            "Quick Hire", "other", "EUR", "en")
        assert Contact.select().count() == 0


async def test_bad_email_is_shown_beside_the_field_and_blocks_next(app_for):
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_wizard(pilot)
        await type_text(pilot, "Nordic Lifting")
        await pilot.press("enter", "enter")
        assert focused_id(app) == "email"
        await type_text(pilot, "info@@nordic")
        await pilot.press("f9")
        await pilot.pause()
        assert step_title(screen).startswith("Step 1 of 4")
        assert "Not a valid e-mail address" in error_of(screen, "email")
        assert focused_id(app) == "email"
        assert error_of(screen, "name") == ""
        # the button does the same as the key
        await pilot.click("#next")
        await pilot.pause()
        assert step_title(screen).startswith("Step 1 of 4")
        assert Customer.select().count() == 0
        # fixing it clears the message and lets Next through
        screen.query_one("#email", Input).value = "info@nordic.dk"
        await pilot.pause()
        assert error_of(screen, "email") == ""
        await pilot.press("f9")
        await pilot.pause()
        assert step_title(screen).startswith("Step 2 of 4")


async def test_missing_name_blocks_next(app_for):
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_wizard(pilot)
        await pilot.press("f9")
        await pilot.pause()
        assert "required" in error_of(screen, "name")
        assert step_title(screen).startswith("Step 1 of 4")


async def test_back_keeps_what_was_typed(app_for):
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_wizard(pilot)
        await fill_company(pilot, phone="87654321")
        await pilot.press("f9")
        await pilot.press("tab")
        await type_text(pilot, "North")
        await pilot.press("f9")
        await pilot.pause()
        await add_contact(pilot, "Jane Doe", "", "", "", roles=())
        await pilot.press("f8")
        await pilot.press("f8")
        await pilot.pause()
        assert step_title(screen).startswith("Step 1 of 4")
        assert focused_id(app) == "name"
        assert screen.query_one("#name", Input).value == "Nordic Lifting"
        assert screen.query_one("#phone", Input).value == "87654321"
        assert screen.query_one("#billing_country", Input).value == "DK"
        await pilot.press("f9")
        await pilot.pause()
        assert screen.query_one("#groups", Input).value == "North"
        await pilot.press("f9")
        await pilot.pause()
        assert screen.query_one("#contacts", DataTable).row_count == 1


async def test_shipping_address_defaults_to_billing(app_for):
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_wizard(pilot)
        await fill_company(pilot, name="Two Sites ApS")
        same = screen.query_one("#same_as_billing", Checkbox)
        shipping = screen.query_one("#shipping")
        shipping_street = screen.query_one("#shipping_street", Input)
        assert same.value and not shipping.display
        await pilot.press("enter")  # from the country to the region
        await pilot.press("tab")
        assert app.focused is same
        await pilot.press("space")
        assert not same.value and shipping.display
        await pilot.press("tab")
        assert app.focused is shipping_street
        await type_text(pilot, "Lagervej 9")
        await pilot.press("f9", "f9", "f9")
        await pilot.pause()
        assert "Shipping address: Lagervej 9, Denmark" in review_text(screen)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, CustomerScreen), "the new customer")
        await settle(pilot)
        customer = Customer.get()
        assert not customer.shipping_same_as_billing
        assert (customer.shipping_street, customer.shipping_country) == ("Lagervej 9", "DK")


async def test_contacts_can_be_edited_and_removed(app_for):
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_wizard(pilot)
        await type_text(pilot, "Edit Test")
        await pilot.press("f9", "f9")
        await pilot.pause()
        await add_contact(pilot, "Ann", "", "", "", roles=())
        await add_contact(pilot, "Bob", "", "", "", roles=())
        table = screen.query_one("#contacts", DataTable)
        assert table.cursor_row == 1
        await pilot.press("up", "enter")  # Enter edits the selected contact
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ContactFormDialog)
        assert dialog.query_one("#name", Input).value == "Ann"
        await pilot.press("end")
        await type_text(pilot, "a Li")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert [c.name for c in screen.contacts] == ["Anna Li", "Bob"]
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, ContactFormDialog)
        await pilot.press("escape")  # unchanged: closes at once, keeps the contact
        await pilot.pause()
        assert [c.name for c in screen.contacts] == ["Anna Li", "Bob"]
        await pilot.press("d")
        await pilot.pause()
        assert [c.name for c in screen.contacts] == ["Bob"]
        assert table.row_count == 1


async def test_duplicate_asks_before_saving(app_for, make_customer):
    make_customer("Nordic Lifting A/S", phone="+45 87 65 43 21")
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_wizard(pilot)
        await fill_company(pilot, name="Nordic Lifting")
        await pilot.press("f9", "f9", "f9")
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        body = str(app.screen.query_one("#confirm-body", Static).render())
        assert "Nordic Lifting A/S (same name)" in body and "Save anyway?" in body
        await pilot.press("escape")  # cancel
        await pilot.pause()
        assert app.screen is screen and step_title(screen).startswith("Step 4 of 4")
        assert Customer.select().count() == 1
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")  # confirm
        await settle(pilot)
        assert Customer.select().count() == 2
        assert Customer.select().where(Customer.name == "Nordic Lifting").count() == 1
        assert not isinstance(app.screen, (NewCustomerScreen, ConfirmDialog))


async def test_escape_with_changes_asks_first(app_for):
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_wizard(pilot)
        await type_text(pilot, "Half Done")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("escape")  # cancel: back to the wizard, data kept
        await pilot.pause()
        assert app.screen is screen
        assert screen.query_one("#name", Input).value == "Half Done"
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("y")  # discard
        await settle(pilot)
        assert isinstance(app.screen, CustomerListScreen)
        assert Customer.select().count() == 0


async def test_escape_without_changes_closes_at_once(app_for):
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_wizard(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, CustomerListScreen)


async def test_limited_role_cannot_open_or_save(app_for):
    app = app_for("limited")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert isinstance(app.screen, CustomerListScreen)
        await app.push_screen(NewCustomerScreen())
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, NewCustomerScreen)
        await type_text(pilot, "Not Allowed")
        await pilot.press("f9", "f9", "f9")
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is screen  # the form is kept
        assert any("not allowed" in message for message in notifications(app))
        assert Customer.select().count() == 0


async def test_service_refusal_of_a_field_is_shown_on_its_step(db, config, make_customer):
    """A new group by someone without group.edit: Save goes back to the groups field."""
    from tui.app import ClientbookApp
    from tui.domain.context import Actor, Context

    make_customer("Existing", groups=("North",))
    allowed = config.roles["administrator"].permissions - {"group.edit"}
    app = ClientbookApp(Context(db, config, Actor("clerk", "clerk", allowed, "clerk")))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_wizard(pilot)
        await type_text(pilot, "Grouped")
        await pilot.press("f9", "tab")
        await type_text(pilot, "Brand new")
        await pilot.press("f9", "f9")
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is screen
        assert step_title(screen).startswith("Step 2 of 4")
        assert "may not create groups" in error_of(screen, "groups")
        assert Customer.select().where(Customer.name == "Grouped").count() == 0


# -- the contact form on its own -------------------------------------------------------------


async def test_contact_form_shows_invalid_email_under_the_field(app_for):
    app = app_for()
    results: list[ContactDraft | None] = []
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.push_screen(ContactFormDialog(region="DK"), results.append)
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ContactFormDialog)
        await type_text(pilot, "Jane Doe")
        await pilot.press("enter")
        await type_text(pilot, "jane.example.com")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is dialog and results == []
        assert "Not a valid e-mail address" in error_of(dialog, "email")
        assert focused_id(app) == "email"
        dialog.query_one("#email", Input).value = "jane@example.com"
        await pilot.click("#ok")
        await pilot.pause()
        assert results == [ContactDraft(name="Jane Doe", email="jane@example.com")]


async def test_contact_form_edits_a_draft_and_confirms_discarding(app_for):
    app = app_for()
    results: list[ContactDraft | None] = []
    draft = ContactDraft(name="Ann", phone="+45 20 30 40 50", roles=("notify",))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.push_screen(ContactFormDialog(draft, title="Edit Ann"), results.append)
        await pilot.pause()
        dialog = app.screen
        assert dialog.query_one("#role-notify", Checkbox).value
        assert not dialog.query_one("#role-billing", Checkbox).value
        await type_text(pilot, "x")
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("escape")  # keep editing
        await pilot.pause()
        assert app.screen is dialog
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("y")  # discard
        await pilot.pause()
        assert results == [None]
