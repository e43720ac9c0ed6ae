"""SVG snapshots of the audit trail screen and its detail dialog, 80x24, frozen clock.

Update after an intended change with
``pytest tests/test_snapshots_audit.py -n 0 --snapshot-update`` and look at the SVGs
before committing them.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.conftest import ContactDraft
from tui.domain.context import Actor, Context
from tui.domain.services.customers import (
    CustomerDraft,
    delete_customer,
    get_customer,
    update_customer,
)
from tui.domain.services.equipment import assign_equipment
from tui.screens.audit import AuditScreen

from tests.frozen_clock import NOW, clock  # noqa: F401 - an autouse fixture


async def settled(pilot) -> None:
    """Let the loads finish and stop every cursor blinking, so the picture is stable."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    for widget in pilot.app.screen.query("Input, TextArea"):
        widget.cursor_blink = False
    await pilot.pause()


def as_other(ctx, login: str):
    actor = ctx.actor
    return Context(ctx.db, ctx.config, Actor(login, actor.role, actor.permissions, login))


@pytest.fixture
def history(admin, make_customer, make_machine, clock):
    """A few weeks of changes by three people, ending with a customer's deletion."""
    clock.set(datetime(2026, 9, 1, 8, 0))
    nordic = make_customer("Nordic Lifting A/S", billing_city="Aarhus", contacts=(
        ContactDraft(name="Anders Holm", email="anders@nordic-lifting.example"),))
    fjord = make_customer("Fjord Hire ApS", groups=("Key accounts",), contacts=(
        ContactDraft(name="Mette Jensen", roles=("billing",)),
        ContactDraft(name="Ole Dahl", roles=("notify",))))
    make_customer("Bâtir Rental SARL", billing_country="FR", language="fr")
    clock.set(datetime(2026, 9, 14, 10, 20))
    jcb = make_machine("JCB-540-0117", name="Telehandler")
    assign_equipment(as_other(admin, "mette"), fjord.id, [jcb.id])
    clock.set(datetime(2026, 10, 3, 15, 45))
    current = get_customer(admin, nordic.id)
    update_customer(as_other(admin, "anders"), nordic.id, current.version, CustomerDraft(
        **{**CustomerDraft.from_customer(current).__dict__, "name": "Nordic Lifting Group A/S",
           "billing_city": "Aalborg", "segment": "dealer"}))
    clock.set(datetime(2026, 11, 20, 16, 5))
    delete_customer(admin, fjord.id)
    clock.set(NOW)
    return {"nordic": nordic.id, "fjord": fjord.id}


async def open_audit(pilot) -> None:
    await settled(pilot)
    await pilot.app.push_screen(AuditScreen())
    await settled(pilot)


def test_audit_list(snap_compare, app_for, history):
    async def run(pilot):
        await open_audit(pilot)

    assert snap_compare(app_for("administrator", "boss"), run_before=run)


def test_audit_detail_of_an_edit(snap_compare, app_for, history):
    async def run(pilot):
        await open_audit(pilot)
        await pilot.press("down", "enter")
        await settled(pilot)

    assert snap_compare(app_for("administrator", "boss"), run_before=run)


def test_audit_detail_of_a_deletion(snap_compare, app_for, history):
    async def run(pilot):
        await open_audit(pilot)
        await pilot.press("enter")
        await settled(pilot)

    assert snap_compare(app_for("administrator", "boss"), run_before=run)
