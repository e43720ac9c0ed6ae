"""Pilot tests of the equipment register (F3), the machine screen and their dialogs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from textual.widgets import DataTable, Input, Select, TabbedContent, TextArea

from tests.conftest import ContactDraft
from tests.pilot import settle, type_text
from tui.domain.models import Assignment, Equipment, EquipmentEvent, Notification, utcnow
from tui.domain.services.customers import delete_customer, get_customer
from tui.domain.services.equipment import (
    EquipmentDraft,
    assign_equipment,
    unassign_equipment,
    update_equipment,
)
from tui.screens.customer import CustomerScreen
from tui.screens.equipment_register import PAGE_SIZE, EquipmentRegisterScreen
from tui.screens.machine import MachineScreen
from tui.widgets.address_fields import FieldRow
from tui.widgets.confirm import ConfirmDialog
from tui.widgets.conflict import ConflictDialog
from tui.widgets.equipment_form import EquipmentFormDialog
from tui.widgets.event_form import EventFormDialog


def column(app, selector: str, index: int) -> list[str]:
    table = app.screen.query_one(selector, DataTable)
    return [str(table.get_row_at(i)[index]) for i in range(table.row_count)]


def serials(app) -> list[str]:
    return column(app, "#fleet", 0)


def status(app, selector: str = "#fleet-status") -> str:
    return str(app.screen.query_one(selector).render())


def messages(app) -> list[str]:
    return [str(notification.message) for notification in app._notifications]


def offered(app) -> set[str]:
    """The screen's actions the footer offers now (check_action not False)."""
    return {active.binding.action for active in app.screen.active_bindings.values()
            if active.node is app.screen}


def field_error(app, field: str) -> str:
    for row in app.screen.query(FieldRow):
        if row.field_key == field:
            return row.error
    raise AssertionError(f"no field {field}")


async def open_register(app, pilot) -> None:
    await settle(pilot)
    await pilot.press("f3")
    await settle(pilot)
    assert isinstance(app.screen, EquipmentRegisterScreen)


async def cursor_to(app, pilot, serial: str) -> None:
    table = app.screen.query_one("#fleet", DataTable)
    table.move_cursor(row=serials(app).index(serial))
    await pilot.pause()


@pytest.fixture
def fleet(admin, make_customer, make_machine):
    nordic = make_customer("Nordic Lifting A/S", contacts=(
        ContactDraft(name="Anders Holm", email="anders@nordic.example", roles=("notify",)),
        ContactDraft(name="Mette Jensen", email="mette@nordic.example", roles=("notify",)),
        ContactDraft(name="Sofie Lund", email="sofie@nordic.example", roles=("billing",))))
    machines = {serial: make_machine(serial, name=name, make=make, model=model, type=kind,
                                     year=year)
                for serial, name, make, model, kind, year in (
                    ("CAT-320-0042", "Excavator 20 t", "Caterpillar", "320", "excavator", 2019),
                    ("GEN-XAS-0009", "Generator", "Atlas Copco", "QAS 60", "generator", 2016),
                    ("JCB-540-0117", "Telehandler", "JCB", "540-140", "telehandler", 2021),
                    ("LFT-GS19-03", "Scissor lift", "Genie", "GS-1930", "lift", None))}
    assign_equipment(admin, nordic.id, [machines["JCB-540-0117"].id])
    return {"nordic": nordic, **machines}


# -- the register ------------------------------------------------------------------------------

async def test_f3_opens_the_register_with_holders_and_search_narrows(app_for, fleet):
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_register(app, pilot)
        assert serials(app) == ["CAT-320-0042", "GEN-XAS-0009", "JCB-540-0117", "LFT-GS19-03"]
        assert column(app, "#fleet", 5) == ["unassigned", "unassigned", "Nordic Lifting A/S",
                                            "unassigned"]
        assert "1–4 of 4 · sorted by serial" in status(app)
        await pilot.press("slash")
        assert app.focused is app.screen.query_one("#fleet-search", Input)
        await type_text(pilot, "atlas")
        await settle(pilot)
        assert serials(app) == ["GEN-XAS-0009"]
        await pilot.press("ctrl+u")  # clears the search box (delete everything left of the cursor)
        await type_text(pilot, "nordic")  # the holder's name
        await settle(pilot)
        assert serials(app) == ["JCB-540-0117"]
        await pilot.press("ctrl+u")
        await type_text(pilot, "zzz")
        await settle(pilot)
        assert serials(app) == [] and status(app) == "No machine matches."
        await pilot.press("escape")  # leaves the search box first
        assert isinstance(app.screen, EquipmentRegisterScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, EquipmentRegisterScreen)


async def test_type_and_holding_filters(app_for, fleet, admin):
    from tui.domain.services.equipment import retire_equipment

    gen = fleet["GEN-XAS-0009"]
    retire_equipment(admin, gen.id, gen.version)
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_register(app, pilot)
        kinds = app.screen.query_one("#fleet-type", Select)
        assert [value for _label, value in kinds._options if value is not Select.NULL] == [
            "excavator", "generator", "lift", "telehandler"]
        kinds.value = "lift"
        await settle(pilot)
        assert serials(app) == ["LFT-GS19-03"]
        kinds.clear()
        holding = app.screen.query_one("#fleet-holding", Select)
        holding.value = "assigned"
        await settle(pilot)
        assert serials(app) == ["JCB-540-0117"]
        holding.value = "unassigned"
        await settle(pilot)
        assert serials(app) == ["CAT-320-0042", "LFT-GS19-03"]
        holding.value = "retired"
        await settle(pilot)
        assert serials(app) == ["GEN-XAS-0009"] and column(app, "#fleet", 5) == ["retired"]


async def test_s_cycles_the_sort_and_the_status_line_says_which(app_for, fleet):
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_register(app, pilot)
        await pilot.press("s")
        await settle(pilot)
        assert "sorted by name" in status(app)
        assert serials(app) == ["CAT-320-0042", "GEN-XAS-0009", "LFT-GS19-03", "JCB-540-0117"]
        await pilot.press("s")
        await settle(pilot)
        assert "sorted by make and model" in status(app)
        assert serials(app)[0] == "GEN-XAS-0009"  # Atlas Copco
        await pilot.press("s", "s", "s")  # type, year, holder
        await settle(pilot)
        assert "sorted by holder" in status(app) and serials(app)[0] == "JCB-540-0117"
        await pilot.press("s")
        await settle(pilot)
        assert "sorted by serial" in status(app)


async def test_the_register_pages_in_sql(app_for, make_machine):
    for index in range(PAGE_SIZE + 3):
        make_machine(f"M-{index:03d}")
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_register(app, pilot)
        table = app.screen.query_one("#fleet", DataTable)
        assert table.row_count == PAGE_SIZE
        table.move_cursor(row=PAGE_SIZE - 1)
        await pilot.press("down")
        await settle(pilot)
        assert serials(app) == [f"M-{i:03d}" for i in range(PAGE_SIZE, PAGE_SIZE + 3)]
        assert status(app).startswith(f"{PAGE_SIZE + 1}–{PAGE_SIZE + 3} of {PAGE_SIZE + 3}")
        await pilot.press("up")
        await settle(pilot)
        assert table.row_count == PAGE_SIZE and table.cursor_row == PAGE_SIZE - 1


async def test_add_a_machine(app_for, fleet):
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_register(app, pilot)
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, EquipmentFormDialog)
        for value in ("BOB-S70-1", "Skid steer", "Bobcat", "S70", "loader"):
            await type_text(pilot, value)
            await pilot.press("enter")  # to the next field
        await type_text(pilot, "2022")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, EquipmentRegisterScreen)
        machine = Equipment.get(Equipment.serial == "BOB-S70-1")
        assert (machine.name, machine.make, machine.model, machine.type, machine.year) == (
            "Skid steer", "Bobcat", "S70", "loader", 2022)
        assert "BOB-S70-1" in serials(app)
        assert "Machine BOB-S70-1 added." in messages(app)


async def test_edit_shows_the_services_error_under_the_field(app_for, fleet):
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_register(app, pilot)
        await cursor_to(app, pilot, "LFT-GS19-03")
        await pilot.press("e")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, EquipmentFormDialog)
        assert dialog.query_one("#machine-name", Input).value == "Scissor lift"
        dialog.query_one("#machine-year", Input).value = "19x9"
        dialog.query_one("#machine-serial", Input).value = "CAT-320-0042"  # taken
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is dialog
        assert field_error(app, "year") == 'Not a year: "19x9"'
        assert app.focused is dialog.query_one("#machine-year", Input)
        dialog.query_one("#machine-year", Input).value = "2018"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is dialog
        assert field_error(app, "year") == ""
        assert field_error(app, "serial") == "Serial number CAT-320-0042 is already registered."
        assert app.focused is dialog.query_one("#machine-serial", Input)
        dialog.query_one("#machine-serial", Input).value = "LFT-GS19-03"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, EquipmentRegisterScreen)
        assert Equipment.get_by_id(fleet["LFT-GS19-03"].id).year == 2018
        assert column(app, "#fleet", 4)[serials(app).index("LFT-GS19-03")] == "2018"


async def test_edit_conflict_offers_their_version(app_for, fleet, admin):
    lift = fleet["LFT-GS19-03"]
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_register(app, pilot)
        await cursor_to(app, pilot, "LFT-GS19-03")
        await pilot.press("e")
        await settle(pilot)
        dialog = app.screen
        dialog.query_one("#machine-name", Input).value = "Mine"
        # meanwhile another operator saves
        update_equipment(admin, lift.id, lift.version,
                         EquipmentDraft(serial="LFT-GS19-03", name="Theirs", make="Genie"))
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ConflictDialog)
        assert app.screen.changed_keys == ["name", "model", "type"]
        await pilot.press("r")  # reload theirs
        await settle(pilot)
        assert app.screen is dialog
        assert dialog.query_one("#machine-name", Input).value == "Theirs"
        assert Equipment.get_by_id(lift.id).name == "Theirs"  # nothing of mine was saved
        dialog.query_one("#machine-name", Input).value = "Mine after all"
        await pilot.press("ctrl+s")  # on their version now: saves
        await settle(pilot)
        assert isinstance(app.screen, EquipmentRegisterScreen)
        assert Equipment.get_by_id(lift.id).name == "Mine after all"


async def test_retire_asks_first_naming_the_holder_then_closes_the_assignment(app_for, fleet):
    jcb = fleet["JCB-540-0117"]
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_register(app, pilot)
        await cursor_to(app, pilot, "JCB-540-0117")
        assert "retire" in offered(app) and "reinstate" not in offered(app)
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        body = str(app.screen.query_one("#confirm-body").render())
        assert "held by Nordic Lifting A/S" in body and "assignment will be closed" in body
        await pilot.press("escape")  # cancelled: nothing happens
        await settle(pilot)
        assert Equipment.get_by_id(jcb.id).retired_at is None
        await pilot.press("r")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert Equipment.get_by_id(jcb.id).retired_at is not None
        assert Assignment.get(Assignment.equipment == jcb.id).unassigned_at is not None
        assert ("Machine JCB-540-0117 retired; its assignment to Nordic Lifting A/S was closed."
                in messages(app))
        assert "JCB-540-0117" not in serials(app)
        app.screen.query_one("#fleet-holding", Select).value = "retired"
        await settle(pilot)
        assert serials(app) == ["JCB-540-0117"]
        assert "reinstate" in offered(app) and "retire" not in offered(app)
        await pilot.press("r")  # reinstate: no question, nothing is lost
        await settle(pilot)
        assert Equipment.get_by_id(jcb.id).retired_at is None
        assert serials(app) == []


async def test_delete_is_refused_for_a_held_machine_and_asks_for_a_free_one(app_for, fleet):
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_register(app, pilot)
        await cursor_to(app, pilot, "JCB-540-0117")
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, EquipmentRegisterScreen)  # no confirmation to waste
        assert ("Machine JCB-540-0117 is held by Nordic Lifting A/S; retire it or unassign it "
                "first." in messages(app))
        assert list(app._notifications)[-1].severity == "error"
        assert Equipment.get_or_none(Equipment.serial == "JCB-540-0117") is not None
        await cursor_to(app, pilot, "LFT-GS19-03")
        await pilot.press("delete")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await settle(pilot)
        assert Equipment.get_or_none(Equipment.serial == "LFT-GS19-03") is None
        assert "LFT-GS19-03" not in serials(app)


async def test_enter_opens_the_machine_screen_and_escape_comes_back(app_for, fleet):
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_register(app, pilot)
        await cursor_to(app, pilot, "JCB-540-0117")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, MachineScreen)
        assert app.screen.equipment_id == fleet["JCB-540-0117"].id
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, EquipmentRegisterScreen)


@pytest.mark.parametrize("role", ["limited", "account_owner"])
async def test_editing_keys_are_hidden_for_read_only_roles(app_for, fleet, role):
    app = app_for(role)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_register(app, pilot)
        keys = offered(app)
        assert not keys & {"add", "edit", "retire", "reinstate", "delete"}
        assert {"focus_search", "back", "cycle_sort"} <= keys
        await pilot.press("a", "e", "r", "d")
        await settle(pilot)
        assert isinstance(app.screen, EquipmentRegisterScreen)
        assert Equipment.select().where(Equipment.retired_at.is_null(False)).count() == 0
        assert Equipment.select().count() == 4


async def test_palette_offers_the_register_and_its_actions(app_for, fleet):
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_register(app, pilot)
        labels = [label for label, _callback in app.screen.palette_actions()]
        assert "Add machine" in labels and "Edit this machine" in labels
    limited = app_for("limited")
    async with limited.run_test(size=(80, 24)) as pilot:
        await open_register(limited, pilot)
        labels = [label for label, _callback in limited.screen.palette_actions()]
        assert "Add machine" not in labels and "Edit this machine" not in labels


# -- the machine screen --------------------------------------------------------------------------

async def open_machine(app, pilot, equipment_id: int) -> None:
    await settle(pilot)
    app.action_open_machine(equipment_id)
    await settle(pilot)
    assert isinstance(app.screen, MachineScreen)


async def test_history_stays_after_the_holder_is_deleted(app_for, fleet, admin, make_customer):
    cat = fleet["CAT-320-0042"]
    gone = make_customer("Gone Hire ApS")
    assign_equipment(admin, gone.id, [cat.id])
    unassign_equipment(admin, [cat.id])
    assign_equipment(admin, fleet["nordic"].id, [cat.id])
    nordic = get_customer(admin, fleet["nordic"].id)
    delete_customer(admin, gone.id, get_customer(admin, gone.id).version)
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_machine(app, pilot, cat.id)
        info = str(app.screen.query_one("#machine-info").render())
        assert "CAT-320-0042" in info and "Caterpillar 320 · excavator · 2019" in info
        assert "Held by Nordic Lifting A/S since" in info
        assert column(app, "#machine-history", 0) == ["Nordic Lifting A/S", "Gone Hire ApS"]
        assert column(app, "#machine-history", 2)[0] == "held now"
        assert "by boss" in column(app, "#machine-history", 2)[1]
        # and after the holder goes too
        delete_customer(admin, nordic.id, nordic.version)
        app.screen.load()
        await settle(pilot)
        assert column(app, "#machine-history", 0) == ["Nordic Lifting A/S", "Gone Hire ApS"]
        assert "held now" not in column(app, "#machine-history", 2)
        assert "Unassigned" in str(app.screen.query_one("#machine-info").render())
        assert "open_customer" in offered(app)  # shown, but dimmed: nobody to open
        assert app.screen.check_action("open_customer", ()) is None


async def test_record_an_event_from_the_dialog(app_for, fleet):
    jcb = fleet["JCB-540-0117"]
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_machine(app, pilot, jcb.id)
        await pilot.press("v")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, EventFormDialog)
        now = utcnow()  # shown in the operator's locale (en_US), UTC
        assert dialog.query_one("#event-time", Input).value.startswith(
            f"{now.month}/{now.day}/{now.year} ")
        await pilot.press("ctrl+s")  # no type chosen: the service says so under the field
        await settle(pilot)
        assert app.screen is dialog and field_error(app, "type")
        dialog.query_one("#event-type", Select).value = "breakdown"
        dialog.query_one("#event-time", Input).value = "yesterday"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert "Not a date and time" in field_error(app, "occurred_at")
        assert field_error(app, "type") == ""
        # a minute from now, written in Paris time: stored in UTC
        moment = (utcnow() + timedelta(minutes=1)).replace(second=0, microsecond=0)
        dialog.query_one("#event-time", Input).value = (
            (moment + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M") + "+01:00")
        dialog.query_one("#event-message", TextArea).text = "Hydraulic leak\nat the boom"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, MachineScreen)
        event = EquipmentEvent.get(EquipmentEvent.equipment == jcb.id)
        assert (event.type, event.message, event.source, event.customer_name) == (
            "breakdown", "Hydraulic leak\nat the boom", "tui", "Nordic Lifting A/S")
        assert event.occurred_at == moment
        assert Notification.select().where(Notification.event == event.id).count() == 2
        assert "Event recorded; 2 e-mails queued." in messages(app)
        assert app.screen.query_one(TabbedContent).active == "events"
        assert column(app, "#machine-events", 1) == ["Breakdown"]
        assert column(app, "#machine-events", 2) == ["Hydraulic leak\nat the boom"]
        assert column(app, "#machine-events", 3) == ["Nordic Lifting A/S"]
        assert column(app, "#machine-events", 4) == ["2"]
        assert column(app, "#machine-events", 0) == [
            f"{moment.month}/{moment.day}/{moment.year} {moment:%H:%M}"]  # en_US


async def test_an_event_on_a_free_machine_says_why_nobody_hears(app_for, fleet):
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_machine(app, pilot, fleet["LFT-GS19-03"].id)
        await pilot.press("v")
        await settle(pilot)
        app.screen.query_one("#event-type", Select).value = "alarm"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert ("Event recorded; nobody is notified: the machine was not assigned to anyone at "
                "that time." in messages(app))
        assert column(app, "#machine-events", 3) == ["nobody"]
        assert column(app, "#machine-events", 4) == ["0"]


@pytest.mark.parametrize("role", ["limited", "account_owner"])
async def test_recording_events_is_hidden_without_event_record(app_for, fleet, role):
    app = app_for(role)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_machine(app, pilot, fleet["JCB-540-0117"].id)
        assert not offered(app) & {"record_event", "edit", "retire", "reinstate"}
        assert "open_customer" in offered(app)
        await pilot.press("v", "e", "r")
        await settle(pilot)
        assert isinstance(app.screen, MachineScreen)
        assert EquipmentEvent.select().count() == 0
        labels = [label for label, _callback in app.screen.palette_actions()]
        assert labels == ["Open the customer holding this machine"]


async def test_c_opens_the_holder_and_r_retires_from_the_machine_screen(app_for, fleet):
    jcb = fleet["JCB-540-0117"]
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_machine(app, pilot, jcb.id)
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, CustomerScreen)
        assert app.screen.customer_id == fleet["nordic"].id
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        assert "Nordic Lifting A/S" in str(app.screen.query_one("#confirm-body").render())
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, MachineScreen)
        assert "Retired on" in str(app.screen.query_one("#machine-info").render())
        assert app.screen.check_action("open_customer", ()) is None
        assert "reinstate" in offered(app)
        await pilot.press("e")
        await settle(pilot)
        assert isinstance(app.screen, EquipmentFormDialog)
