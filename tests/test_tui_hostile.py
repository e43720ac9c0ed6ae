"""Names written in Rich/Textual markup are shown literally, everywhere the TUI shows them.

Records are made through the services with names such as ``[bold red]Acme[/]``,
``[link=http://evil]Kim[/]``, ``[@click=app.quit]Crane[/]`` and ``$variable``; then each
screen is rendered and its text searched for the names as typed. A name whose markup
was interpreted shows as "Acme" (bold, red) or "Kim" (a link): the literal is missing.
Escape sequences never get this far: validation refuses control characters (see
tests/test_hostile_input.py).
"""

from __future__ import annotations

import io
import time

import pytest
from rich.console import Console

from tui.domain.services import contacts, documents, equipment, events
from tui.domain.services.contacts import ContactDraft
from tui.domain.services.customers import CustomerDraft, create_customer
from tui.domain.services.equipment import EquipmentDraft
from tui.screens.customer import CustomerScreen
from tui.screens.customer_list import CustomerListScreen
from tui.screens.equipment_register import EquipmentRegisterScreen
from tui.screens.machine import MachineScreen
from tui.screens.outbox import OutboxScreen
from tui.widgets.message_view import MessageViewDialog

# Short enough for the narrowest column that shows each one, so a missing literal can only
# mean the markup was interpreted, never that the column cut it.
NAME = "[bold red]X[/]$v"
STREET = "[link=http://e]R[/]"
CITY = "[i]Ly[/i]"
NOTES = "[@click=app.quit]n[/]"
GROUP = "[b]V[/b]"
CONTACT = "[link=http://e]K[/]"
JOB = "[$accent]B[/]"
SERIAL = "S[b]1[/b]"
MACHINE = "[@click=q]C"  # an unclosed tag is markup too; a click action above all
MAKE = "[red]C[/]"
MODEL = "$m"
DOCUMENT = "[reverse]T[/]"
FILE = "[u]p.txt"  # "/" cannot be in a file name
MESSAGE = "[blink]T[/] $alarm"
SIZE = (200, 50)  # wide enough that no name is cut short: this is about markup, not layout


def screen_text(app) -> str:
    """What the terminal shows now, as plain text (the screenshot, without its styles)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True,
                      force_terminal=True, color_system="truecolor", legacy_windows=False)
    console.print(app.screen._compositor.render_update(
        full=True, screen_stack=app._background_screens))
    return console.export_text()


def shown_literally(literal: str, text: str) -> bool:
    """The literal is on screen, or (in a column too narrow for it) at least its first
    tag is: markup is parsed for a whole string or not at all, so one visible tag proves
    the string is shown as typed. A name with no tag must be there in full."""
    if literal in text:
        return True
    if "[" in literal and "]" in literal:
        first_tag = literal[:literal.index("]") + 1]
        return first_tag in text
    return False


def assert_shown(app, *literals: str) -> None:
    text = screen_text(app)
    missing = [literal for literal in literals if not shown_literally(literal, text)]
    assert not missing, (missing, type(app.screen).__name__,
                         "\n".join(line.rstrip() for line in text.splitlines() if line.strip()))


async def settle(pilot) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def until(pilot, condition, what: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.05)


@pytest.fixture
def hostile(admin, tmp_path):
    """A customer, contact, machine, document, event and queued e-mail, all named in markup."""
    customer = create_customer(admin, CustomerDraft(
        name=NAME, billing_street=STREET, billing_city=CITY, billing_country="FR", notes=NOTES,
        groups=(GROUP,), contacts=(ContactDraft(name=CONTACT, job_title=JOB,
                                                email="kim@acme.example", roles=("notify",)),)),
        allow_duplicate=True)
    machine = equipment.add_equipment(admin, EquipmentDraft(serial=SERIAL, name=MACHINE,
                                                            make=MAKE, model=MODEL))
    equipment.assign_equipment(admin, customer.id, [machine.id])
    paper = tmp_path / FILE
    paper.write_text("terms")
    documents.add_document(admin, customer.id, DOCUMENT, "contract", paper)
    recorded = events.record_event(admin, equipment_id=machine.id, type="alarm",
                                   message=MESSAGE)
    assert recorded.notifications == 1
    assert contacts.list_contacts(admin, customer.id)[0].name == CONTACT
    return customer, machine


async def test_customer_list_and_every_tab_of_the_customer(app_for, hostile):
    customer, _machine = hostile
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, CustomerListScreen)
        assert_shown(app, NAME, CITY)
        app.action_open_customer(customer.id)
        await settle(pilot)
        assert isinstance(app.screen, CustomerScreen)
        assert_shown(app, NAME, STREET, CITY, NOTES, GROUP)  # Details
        await pilot.press("2")
        await settle(pilot)
        assert_shown(app, CONTACT, JOB)
        await pilot.press("3")
        await settle(pilot)
        assert_shown(app, SERIAL, MACHINE)
        await pilot.press("4")
        await settle(pilot)
        assert_shown(app, DOCUMENT, FILE)
        assert app.is_running  # nothing "clicked" its way to app.quit


async def test_equipment_register_and_machine_screen(app_for, hostile):
    _customer, machine = hostile
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f3")
        await until(pilot, lambda: isinstance(app.screen, EquipmentRegisterScreen), "register")
        await settle(pilot)
        assert_shown(app, SERIAL, MACHINE, MAKE, MODEL, NAME)
        app.action_open_machine(machine.id)
        await until(pilot, lambda: isinstance(app.screen, MachineScreen), "machine")
        await settle(pilot)
        assert_shown(app, SERIAL, MACHINE, NAME)  # header and history
        await pilot.press("2")
        await settle(pilot)
        assert_shown(app, MESSAGE)


async def test_outbox_and_its_message_view(app_for, hostile):
    app = app_for()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f4")
        await until(pilot, lambda: isinstance(app.screen, OutboxScreen), "outbox")
        await settle(pilot)
        assert_shown(app, CONTACT)
        await pilot.press("v")
        await until(pilot, lambda: isinstance(app.screen, MessageViewDialog), "message view")
        await settle(pilot)
        assert_shown(app, CONTACT, NAME, MESSAGE)


def test_the_screen_text_would_show_interpreted_markup_as_missing():
    """The check itself: interpreted markup loses its literal in screen_text's output."""
    from rich.text import Text

    console = Console(width=60, file=io.StringIO(), record=True)
    console.print(Text.from_markup(NAME), Text(NAME))
    text = console.export_text()
    assert text.count(NAME) == 1 and "X$v" in text


async def test_toasts_show_names_literally(app_for, hostile):
    """The app's own notices of a name (e.g. an assignment refused, naming the holder)."""
    app = app_for()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(pilot)
        app.notify(f"Machine {SERIAL} is already assigned to {NAME}.", markup=False)
        await pilot.pause(0.2)
        assert_shown(app, SERIAL, NAME)


async def test_a_refusal_naming_a_typed_group_is_notified_as_plain_text(app_for):
    """Checked on the notice itself: rendering it (notifications=True) ends the app with
    MarkupError after a 30 s wait, too slow for the suite (seen by hand)."""
    from textual.content import Content
    from textual.widgets import Input

    from tui.screens.new_customer import REVIEW, NewCustomerScreen

    app = app_for("estimator")  # may create customers from an estimate, not groups
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = NewCustomerScreen(for_estimate=True)
        app.push_screen(screen)
        await settle(pilot)
        screen.query_one("#name", Input).value = "Plain Ltd"
        screen.query_one("#groups", Input).value = CONTACT  # a new group, in markup
        await pilot.pause()
        screen.go(REVIEW)
        await settle(pilot)
        screen.action_save()
        await pilot.pause()
        notice = list(app._notifications)[-1]
        assert f"There is no group {CONTACT}" in notice.message
        shown = (Content.from_markup(notice.message) if notice.markup
                 else Content(notice.message)).plain
        assert f"There is no group {CONTACT}" in shown
