"""SVG snapshots of the equipment register, the machine screen and the event dialog, 80x24.

Update after an intended change with
``pytest tests/test_snapshots_fleet.py -n 0 --snapshot-update`` and look at the SVGs
before committing them.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from textual.widgets import Select, TextArea

from tests.conftest import ContactDraft
from tui.domain.context import Actor, Context
from tui.domain.services.customers import delete_customer, get_customer
from tui.domain.services.equipment import assign_equipment, retire_equipment, unassign_equipment
from tui.domain.services.events import record_event

from tests.frozen_clock import NOW, clock  # noqa: F401 - an autouse fixture


async def settled(pilot) -> None:
    """Let searches finish and stop every cursor blinking, so the picture is stable."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    for widget in pilot.app.screen.query("Input, TextArea"):
        widget.cursor_blink = False
    await pilot.pause()


def as_other(ctx, login: str):
    actor = ctx.actor
    return Context(ctx.db, ctx.config, Actor(login, actor.role, actor.permissions, login))


@pytest.fixture
def yard(admin, make_customer, make_machine, clock):
    """A small fleet: held, free and retired machines; one machine with a long history."""
    clock.set(datetime(2026, 2, 9, 8, 0))
    nordic = make_customer("Nordic Lifting A/S", contacts=(
        ContactDraft(name="Anders Holm", email="anders@nordic-lifting.example",
                     roles=("notify",)),
        ContactDraft(name="Mette Jensen", email="mette@nordic-lifting.example",
                     roles=("notify", "billing"))))
    batir = make_customer("Bâtir Rental SARL", billing_country="FR", language="fr")
    gone = make_customer("Fjord Hire ApS")
    machines = {serial: make_machine(serial, name=name, make=make, model=model, type=kind,
                                     year=year)
                for serial, name, make, model, kind, year in (
                    ("CAT-320-0042", "Excavator 20 t", "Caterpillar", "320", "excavator", 2019),
                    ("JCB-540-0117", "Telehandler", "JCB", "540-140", "telehandler", 2021),
                    ("GEN-XAS-0009", "Generator", "Atlas Copco", "QAS 60", "generator", 2016),
                    ("LFT-GS19-03", "Scissor lift", "Genie", "GS-1930", "lift", 2018),
                    ("CMP-XAS-0021", "Compressor", "Atlas Copco", "XAS 58", "compressor", 2023),
                    ("DMP-T9-0005", "Site dumper", "Thwaites", "MACH 2090", "dumper", 2012),
                    ("BOB-S70-0031", "Skid steer", "Bobcat", "S70", "loader", None))}
    jcb = machines["JCB-540-0117"].id
    assign_equipment(admin, gone.id, [jcb])
    clock.set(datetime(2026, 4, 30, 16, 45))
    unassign_equipment(as_other(admin, "anders"), [jcb])
    clock.set(datetime(2026, 5, 4, 7, 10))
    assign_equipment(admin, batir.id, [jcb])
    clock.set(datetime(2026, 8, 28, 12, 0))
    unassign_equipment(as_other(admin, "mette"), [jcb])
    clock.set(datetime(2026, 9, 1, 9, 5))
    assign_equipment(as_other(admin, "mette"), nordic.id, [jcb])
    assign_equipment(admin, nordic.id, [machines["CAT-320-0042"].id])
    assign_equipment(admin, batir.id, [machines["CMP-XAS-0021"].id])
    dumper = machines["DMP-T9-0005"]
    retire_equipment(admin, dumper.id, dumper.version)
    clock.set(datetime(2026, 5, 20, 6, 12))
    record_event(admin, equipment_id=jcb, type="service_due", message="500 h service")
    clock.set(datetime(2026, 10, 2, 14, 3))
    record_event(admin, equipment_id=jcb, type="geofence_exit", message="Left the Aarhus yard",
                 occurred_at=datetime(2026, 10, 2, 13, 58), source="ingest")
    clock.set(datetime(2026, 11, 20, 10, 30))
    record_event(admin, equipment_id=jcb, type="breakdown", message="Hydraulic leak at boom")
    clock.set(datetime(2026, 11, 21, 8, 0))
    delete_customer(admin, gone.id, get_customer(admin, gone.id).version)
    clock.set(NOW)
    return machines


def test_register_with_data(snap_compare, app_for, yard):
    async def run(pilot):
        await settled(pilot)
        await pilot.press("f3")
        await settled(pilot)

    assert snap_compare(app_for("administrator", "mette"), run_before=run)


async def open_machine(pilot, equipment_id: int, tab: str = "1") -> None:
    await settled(pilot)
    pilot.app.action_open_machine(equipment_id)
    await settled(pilot)
    if tab != "1":
        await pilot.press(tab)
    await settled(pilot)


def test_machine_history(snap_compare, app_for, yard):
    async def run(pilot):
        await open_machine(pilot, yard["JCB-540-0117"].id)

    assert snap_compare(app_for("administrator", "mette"), run_before=run)


def test_machine_events(snap_compare, app_for, yard):
    async def run(pilot):
        await open_machine(pilot, yard["JCB-540-0117"].id, "2")

    assert snap_compare(app_for("administrator", "mette"), run_before=run)


def test_event_dialog(snap_compare, app_for, yard):
    async def run(pilot):
        await open_machine(pilot, yard["JCB-540-0117"].id)
        await pilot.press("v")
        await settled(pilot)
        dialog = pilot.app.screen
        dialog.query_one("#event-type", Select).value = "alarm"
        dialog.query_one("#event-message", TextArea).text = "Tilt alarm: 12° on the slope"
        dialog.query_one("#event-message", TextArea).focus()
        await settled(pilot)

    assert snap_compare(app_for("administrator", "mette"), run_before=run)
