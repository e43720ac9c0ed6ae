"""A save while another program holds the database's lock: the screen never freezes.

Another connection (here in the same process: SQLite's locks hold between connections
of one process too) takes the write lock with BEGIN IMMEDIATE and keeps it. The save
says it waits, the app keeps answering keys, and the save lands once the lock is free;
past the lock timeout it is refused with the usual sentence and the form keeps the
operator's input.
"""

from __future__ import annotations

import sqlite3
import time

import pytest
from textual.widgets import Input

from tests.pilot import settle, type_text
from tui.domain.database import LockBusy
from tui.domain.models import Customer
from tui.domain.services.customers import CustomerDraft, create_customer, update_customer
from tui.screens.customer import CustomerScreen
from tui.screens.customer_panes.details import DetailsPane


def notices(app) -> list[str]:
    return [f"{n.title}: {n.message}" for n in app._notifications]


@pytest.fixture
def holder(db_path):
    """Another program's connection; ``holder.execute("BEGIN IMMEDIATE")`` takes the lock."""
    connection = sqlite3.connect(db_path, isolation_level=None, timeout=0)
    yield connection
    if connection.in_transaction:
        connection.execute("ROLLBACK")
    connection.close()


@pytest.fixture
def nordic(make_customer):
    return make_customer("Nordic Lifting A/S", billing_city="Aarhus")


async def edit_city(pilot, customer_id: int, city: str) -> DetailsPane:
    await settle(pilot)
    pilot.app.action_open_customer(customer_id)
    await settle(pilot)
    assert isinstance(pilot.app.screen, CustomerScreen)
    pane = pilot.app.screen.query_one(DetailsPane)
    await pilot.press("e")
    pane.query_one("#billing_city", Input).focus()
    await pilot.pause()
    await type_text(pilot, city)
    return pane


def test_a_brief_wait_gives_up_quickly_and_changes_nothing(admin, db, holder, nordic):
    holder.execute("BEGIN IMMEDIATE")
    started = time.monotonic()
    with pytest.raises(LockBusy), db.brief_lock_wait(0.2):
        update_customer(admin, nordic.id, nordic.version, CustomerDraft(
            name=nordic.name, billing_country="DK", billing_city="Odense"))
    assert time.monotonic() - started < db.lock_timeout / 2  # not the full wait
    holder.execute("ROLLBACK")
    assert Customer.get_by_id(nordic.id).billing_city == "Aarhus"
    # outside the block, a write waits for the lock as before
    create_customer(admin, CustomerDraft(name="After", billing_country="DK"))


async def test_a_save_waits_for_the_lock_without_freezing_then_lands(app_for, holder, nordic):
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await edit_city(pilot, nordic.id, "Odense")
        holder.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        await pilot.press("ctrl+s")
        # the screen did not wait for the lock (30 s): it answered long before
        assert time.monotonic() - started < app.ctx.db.lock_timeout / 2
        assert any(n.startswith("Waiting for the database") for n in notices(app))
        assert pane.editing and Customer.get_by_id(nordic.id).billing_city == "Aarhus"
        await pilot.press("ctrl+s")  # a second save while the first waits: not twice
        assert any("Still waiting" in n for n in notices(app))
        await pilot.press("end", "s")  # the app still answers keys
        assert pane.query_one("#billing_city", Input).value == "Odenses"
        holder.execute("ROLLBACK")
        await settle(pilot)
        stored = Customer.get_by_id(nordic.id)
        assert (stored.billing_city, stored.version) == ("Odenses", 2)  # the form as it is now
        assert not pane.editing
        assert any(n.endswith("Saved") for n in notices(app))
        assert not app.lock_waits


async def test_past_the_lock_timeout_nothing_is_saved_and_the_input_stays(app_for, db, holder,
                                                                         nordic):
    db.lock_timeout = 1.0
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = await edit_city(pilot, nordic.id, "Odense")
        holder.execute("BEGIN IMMEDIATE")
        await pilot.press("ctrl+s")
        await settle(pilot)  # the waiting worker gives up after lock_timeout
        assert any("held by another program" in n and "nothing was saved" in n
                   for n in notices(app))
        assert pane.editing and pane.query_one("#billing_city", Input).value == "Odense"
        assert Customer.get_by_id(nordic.id).billing_city == "Aarhus"
        holder.execute("ROLLBACK")
        await pilot.press("ctrl+s")  # free again: saved at once
        await settle(pilot)
        assert Customer.get_by_id(nordic.id).billing_city == "Odense"


async def open_register(pilot):
    from tui.screens.equipment_register import EquipmentRegisterScreen

    await settle(pilot)
    await pilot.press("f3")
    await settle(pilot)
    assert isinstance(pilot.app.screen, EquipmentRegisterScreen)
    return pilot.app.screen


async def test_a_dialog_stays_open_while_its_save_waits(app_for, holder, make_machine):
    from tui.domain.models import Equipment
    from tui.widgets.equipment_form import EquipmentFormDialog

    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        register = await open_register(pilot)
        await pilot.press("a")
        await settle(pilot)
        await type_text(pilot, "BOB-S70-1")
        await pilot.press("enter")
        await type_text(pilot, "Skid steer")
        holder.execute("BEGIN IMMEDIATE")
        await pilot.press("ctrl+s")
        assert isinstance(app.screen, EquipmentFormDialog)  # waiting, the input still there
        assert any(n.startswith("Waiting for the database") for n in notices(app))
        holder.execute("ROLLBACK")
        await settle(pilot)
        assert app.screen is register
        assert Equipment.get(Equipment.serial == "BOB-S70-1").name == "Skid steer"


async def test_a_dialog_closed_while_its_save_waits_says_nothing_was_saved(app_for, holder):
    from tui.domain.models import Equipment

    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        register = await open_register(pilot)
        await pilot.press("a")
        await settle(pilot)
        await type_text(pilot, "BOB-S70-1")
        holder.execute("BEGIN IMMEDIATE")
        await pilot.press("ctrl+s", "escape")
        assert app.screen is register
        holder.execute("ROLLBACK")
        await settle(pilot)
        assert any("not saved" in n and "closed" in n for n in notices(app))
        assert not Equipment.select().where(Equipment.serial == "BOB-S70-1").exists()


async def test_a_confirmed_delete_waits_then_lands(app_for, holder, make_machine):
    from tui.domain.models import Equipment
    from tui.widgets.confirm import ConfirmDialog

    make_machine("LFT-GS19-03")
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_register(pilot)
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        holder.execute("BEGIN IMMEDIATE")
        await pilot.press("y")
        assert Equipment.select().where(Equipment.serial == "LFT-GS19-03").exists()
        holder.execute("ROLLBACK")
        await settle(pilot)
        assert not Equipment.select().where(Equipment.serial == "LFT-GS19-03").exists()
        assert any("LFT-GS19-03 deleted" in n for n in notices(app))
