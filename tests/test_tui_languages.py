"""The main flows in French and Danish, driven by keys: what is shown is the catalog's text,
segment and role labels come from the YAML's labels, and nothing is clipped at 80x24.

Expected texts are looked up in the catalog being tested (``_()`` after switching), so a
better translation does not break these tests, but an untranslated screen does: each
flow also checks that a few of its words differ from the English.
"""

from __future__ import annotations

import pytest
from rich.cells import cell_len
from textual.widgets import Button, DataTable, Static
from textual.widgets._tabbed_content import ContentTab

from tui import i18n
from tui.domain.models import Assignment, Contact, Customer
from tui.domain.services.contacts import ContactDraft
from tui.i18n import _, ngettext
from tui.screens.customer import CustomerScreen
from tui.screens.new_customer import NewCustomerScreen
from tui.widgets.address_fields import FieldRow
from tui.widgets.confirm import ConfirmDialog
from tui.widgets.pick_equipment import PickEquipmentDialog

from tests.pilot import settle, type_text

LANGUAGES = ["fr", "da"]


@pytest.fixture(params=LANGUAGES)
def language(request):
    """The operator's language for the app created in the test; English again afterwards."""
    i18n.set_language(request.param)
    yield request.param
    i18n.set_language("en")


def translated(text: str) -> str:
    """``text`` in the active language, which must not be the English."""
    shown = _(text)
    assert shown != text, f"{text!r} is not translated into {i18n.current_language()}"
    return shown


async def until(pilot, condition, seconds: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.05)


def error_of(screen, field: str) -> str:
    return next(row for row in screen.query(FieldRow) if row.field_key == field).error


def footer_keys(app) -> list[str]:
    return [str(key.description) for key in app.screen.query("FooterKey")
            if not key.has_class("-command-palette")]


def assert_nothing_clipped(app) -> None:
    """Buttons, tabs and footer keys show their whole text inside an 80-column screen."""
    width = app.screen.size.width
    for button in app.screen.query(Button):
        if button.display and button.region.width:
            label = button.label.plain if hasattr(button.label, "plain") else str(button.label)
            assert button.content_region.width >= cell_len(label), f"button {label!r} is clipped"
    for tab in app.screen.query(ContentTab):
        label = tab.label.plain if hasattr(tab.label, "plain") else str(tab.label)
        assert tab.region.width >= cell_len(label), f"tab {label!r} is clipped"
        assert tab.region.right <= width, f"tab {label!r} is off the screen"
    keys = list(app.screen.query("FooterKey"))
    for key in keys:
        assert key.region.right <= width, f"footer key {key.description!r} is off the screen"
    if not app.screen.is_modal:  # a dialog has keys of its own only
        assert any(key.key == "f1" for key in keys), "F1 Help must stay in the footer"


@pytest.fixture
def nordic(make_customer):
    return make_customer("Nordic Lifting A/S", segment="dealer", billing_city="Aarhus",
                         contacts=(ContactDraft(name="Anna Holm"), ContactDraft(name="Bo Berg")))


async def test_list_search_and_the_customer_tabs(app_for, nordic, language):
    app = app_for("administrator", "mette")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(DataTable)
        headers = [str(column.label) for column in table.columns.values()]
        assert _("Segment") in headers
        dealer = app.ctx.config.segments["dealer"].label_for(language)
        assert dealer != "Dealer" and dealer in [str(cell) for cell in table.get_row_at(0)]
        assert translated("Fleet") in footer_keys(app)
        assert_nothing_clipped(app)
        await type_text(pilot, "nordic")  # the search box has the focus
        await settle(pilot)
        await pilot.press("enter", "enter")  # to the list, then open the customer
        await until(pilot, lambda: isinstance(app.screen, CustomerScreen))
        await settle(pilot)
        tabs = [str(tab.label) for tab in app.screen.query(ContentTab)]
        assert tabs[:4] == [translated("Details"), _("Contacts"), translated("Equipment"),
                            translated("Admin Documents")]
        assert_nothing_clipped(app)


async def test_new_customer_wizard(app_for, language):
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.NOTIFICATION_TIMEOUT = 3600  # a loaded machine must not expire it mid-test
        await pilot.press("ctrl+n")
        await until(pilot, lambda: isinstance(app.screen, NewCustomerScreen))
        await settle(pilot)
        screen = app.screen

        def title() -> str:
            return str(screen.query_one("#step-title", Static).render())

        step = translated("Step {number} of {total}: {title}")
        assert title() == step.format(number=1, total=4, title=translated("Company"))
        assert_nothing_clipped(app)
        await pilot.press("f9")  # no name yet: the message is in the language too
        await pilot.pause()
        assert title() == step.format(number=1, total=4, title=_("Company"))
        await type_text(pilot, "Chantiers du Nord")
        await pilot.press("enter", "enter")
        await type_text(pilot, "info@@nord")
        await pilot.press("f9")
        await pilot.pause()
        prefix = translated("Not a valid e-mail address: {reason}").split("{")[0]
        assert error_of(screen, "email").startswith(prefix)
        screen.query_one("#email").value = "info@nord.fr"
        for number in (2, 3, 4):
            await pilot.press("f9")
            await until(pilot, lambda number=number: title().startswith(
                step.format(number=number, total=4, title="")))
            assert_nothing_clipped(app)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, CustomerScreen))
        assert Customer.get().name == "Chantiers du Nord"
        created = translated("Customer {name} created.").format(name="Chantiers du Nord")
        assert created in [str(n.message) for n in app._notifications]


async def test_delete_a_contact_asks_in_the_language(app_for, nordic, language):
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.action_open_customer(nordic.id)
        await until(pilot, lambda: isinstance(app.screen, CustomerScreen))
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        await pilot.press("delete")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        dialog = app.screen
        assert dialog.title_text == ngettext("Delete {count} contact?", "Delete {count} contacts?",
                                             1).format(count=1)
        assert dialog.title_text != "Delete 1 contact?"
        labels = [str(button.label) for button in dialog.query(Button)]
        assert labels == [translated("Cancel"), translated("Delete")]
        assert_nothing_clipped(app)
        await pilot.press("escape")  # Cancel: nothing deleted
        await settle(pilot)
        assert Contact.select().count() == 2
        await pilot.press("delete")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("tab", "enter")  # to the Delete button, and press it
        await settle(pilot)
        assert Contact.select().count() == 1


async def test_assign_a_machine_in_the_language(app_for, nordic, make_machine, language):
    make_machine("CAT-320-0001", name="Excavator 20 t")
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.action_open_customer(nordic.id)
        await until(pilot, lambda: isinstance(app.screen, CustomerScreen))
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        assert translated("Assign equipment") in footer_keys(app)
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, PickEquipmentDialog))
        await settle(pilot)
        assert translated("Cancel") in footer_keys(app)
        assert_nothing_clipped(app)
        await pilot.press("down", "space", "enter")
        await settle(pilot)
        assert isinstance(app.screen, CustomerScreen)
        assert Assignment.select().where(Assignment.customer_id == nordic.id).count() == 1
        assert translated("Unassign") in footer_keys(app)  # offered now that it holds one
        assert_nothing_clipped(app)


@pytest.mark.parametrize("spoken", ["en", "fr", "da"])
async def test_every_main_screen_fits_80x24(app_for, nordic, make_machine, admin, spoken):
    """Each main screen and tab, with data in it, in each language: no key, tab or button cut."""
    from tui.domain.services.equipment import assign_equipment

    machine = make_machine("CAT-320-0001", name="Excavator 20 t")
    assign_equipment(admin, nordic.id, [machine.id])
    i18n.set_language(spoken)
    try:
        app = app_for()
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert_nothing_clipped(app)
            app.action_open_customer(nordic.id)
            await until(pilot, lambda: isinstance(app.screen, CustomerScreen))
            for tab in "12345":
                await pilot.press(tab)
                await settle(pilot)
                assert_nothing_clipped(app)
            await pilot.press("escape")
            await settle(pilot)
            for key in ("f3", "f2", "f4", "f5", "f7"):
                await pilot.press(key)
                await settle(pilot)
                assert_nothing_clipped(app)
                await pilot.press("escape")
                await settle(pilot)
            await pilot.press("ctrl+n")
            await until(pilot, lambda: isinstance(app.screen, NewCustomerScreen))
            await settle(pilot)
            assert_nothing_clipped(app)
    finally:
        i18n.set_language("en")
