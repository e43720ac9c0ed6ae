"""Pilot tests of the audit trail screen: filters, the field-by-field dialog, and the restore
of a deleted customer with its confirmation, refusals shown, 80x24 and keyboard only.

The app's F-key and palette entry for the screen belong to tui/app.py; these tests push
the screen as that action does.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from textual.widgets import Button, DataTable, Input, Select, Static

from tests.conftest import ContactDraft
from tests.pilot import settle, type_text, until
from tui.domain.context import Actor, Context
from tui.domain.models import AuditEvent, Contact, Customer
from tui.domain.services.customers import (
    CustomerDraft,
    delete_customer,
    get_customer,
    update_customer,
)
from tui.domain.services.equipment import assign_equipment
from tui.screens.audit import AuditScreen, AuditTable
from tui.widgets.audit_detail import AuditDetailDialog
from tui.widgets.confirm import ConfirmDialog


async def open_audit(pilot, customer_id: int | None = None) -> AuditScreen:
    await settle(pilot)
    pilot.app.NOTIFICATION_TIMEOUT = 3600  # a loaded machine must not expire them mid-test
    screen = AuditScreen(customer_id)
    await pilot.app.push_screen(screen)
    await until(pilot, lambda: screen.page is not None or "not allowed" in status(pilot),
                "the first page")
    await settle(pilot)
    return screen


def status(pilot) -> str:
    return str(pilot.app.screen.query_one("#audit-status", Static).render())


def summaries(screen: AuditScreen) -> list[str]:
    return [row.summary for row in screen.page.rows] if screen.page else []


def notices(pilot) -> list[str]:
    return [n.message for n in pilot.app._notifications]


@pytest.fixture
def trail(admin, make_customer, make_machine):
    """Acme edited by anna; Birch (two contacts, a machine) deleted; all dated by hand."""
    anna = Context(admin.db, admin.config, Actor("anna", "administrator",
                                                 admin.actor.permissions, "anna"))
    acme = make_customer("Acme Rental", billing_city="Aarhus")
    birch = make_customer("Birch Hire", contacts=(ContactDraft(name="Bo Birk"),
                                                  ContactDraft(name="Britt Birk")))
    make_customer("Cedar Tools")  # so Birch's id is not the highest (it would be given again)
    machine = make_machine("LIFT-7")
    assign_equipment(admin, birch.id, [machine.id])
    AuditEvent.update(at=datetime(2026, 1, 10, 9, 0)).execute()
    current = get_customer(admin, acme.id)
    update_customer(anna, acme.id, current.version, CustomerDraft(
        **{**CustomerDraft.from_customer(current).__dict__, "name": "Acme Rental Nord",
           "billing_city": "Aalborg"}))
    AuditEvent.update(at=datetime(2026, 3, 2, 14, 30)).where(
        AuditEvent.at > datetime(2026, 1, 11)).execute()
    delete_customer(admin, birch.id)
    AuditEvent.update(at=datetime(2026, 4, 7, 8, 15)).where(
        AuditEvent.at > datetime(2026, 3, 3)).execute()
    return {"acme": acme.id, "birch": birch.id}


async def test_the_list_newest_first_with_the_changed_fields(app_for, trail):
    app = app_for("administrator", "boss")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_audit(pilot)
        assert summaries(screen)[:2] == [
            "Deleted customer Birch Hire (#{id})".format(id=trail["birch"]),
            "Changed customer Acme Rental (#{id})".format(id=trail["acme"])]
        assert status(pilot).startswith("1–7 of 7")
        table = screen.query_one(AuditTable)
        edit = table.get_row_index(str(screen.page.rows[1].id))
        when, who, what = (str(cell) for cell in table.get_row_at(edit))
        assert when.startswith("3/2/2026 14:30") and who == "anna"  # en_US
        assert what.endswith("Name, Billing city, Shipping city")
        assert "last state kept · r restores" in str(table.get_row_at(0)[2])


async def test_filters_customer_user_since_and_kind(app_for, trail):
    app = app_for("administrator", "boss")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_audit(pilot)
        await pilot.press("slash")
        assert app.focused.id == "audit-customer"
        await type_text(pilot, str(trail["acme"]))
        await settle(pilot)
        assert {row.customer_id for row in screen.page.rows} == {trail["acme"]}
        assert len(screen.page.rows) == 2
        await pilot.press("enter")  # back to the list
        assert isinstance(app.focused, AuditTable)

        screen.query_one("#audit-customer", Input).value = ""
        screen.query_one("#audit-user", Select).value = "anna"
        await settle(pilot)
        assert [(r.login, r.action) for r in screen.page.rows] == [("anna", "update")]
        screen.query_one("#audit-user", Select).clear()
        await settle(pilot)

        since = screen.query_one("#audit-since", Input)
        since.focus()
        await type_text(pilot, "2026-04")  # half a date: nothing reloads, no error yet
        await settle(pilot)
        assert len(screen.page.rows) == 7 and "Since" not in status(pilot)
        await type_text(pilot, "-01")
        await settle(pilot)
        assert summaries(screen) == ["Deleted customer Birch Hire (#{id})".format(
            id=trail["birch"])]
        since.value = "2026-04-31"
        await settle(pilot)
        assert status(pilot) == ('Since: Not a date: "2026-04-31". Write the date as '
                                 "11/23/2026.")  # the operator's locale: en_US
        assert screen.query_one(AuditTable).row_count == 0
        since.value = ""
        screen.query_one("#audit-kind", Select).value = "deleted"
        await settle(pilot)
        assert [(r.action, r.entity) for r in screen.page.rows] == [("delete", "customer")]
        screen.query_one("#audit-kind", Select).value = "equipment"
        await settle(pilot)
        assert {r.entity for r in screen.page.rows} == {"equipment"}
        assert len(screen.page.rows) == 2


async def test_a_change_opens_field_by_field(app_for, trail):
    app = app_for("administrator", "boss")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_audit(pilot)
        await pilot.press("down", "enter")
        await until(pilot, lambda: isinstance(app.screen, AuditDetailDialog), "the dialog")
        dialog = app.screen
        table = dialog.query_one("#audit-detail-changes", DataTable)
        rows = [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]
        assert rows == [["Name", "Acme Rental", "Acme Rental Nord"],
                        ["Billing city", "Aarhus", "Aalborg"],
                        ["Shipping city", "Aarhus", "Aalborg"]]
        assert not dialog.query(Button).filter("#restore")  # not a deletion: nothing to restore
        await pilot.press("enter")  # the whole values of the field under the cursor
        assert notices(pilot)[-1] == "Before: Acme Rental\nAfter: Acme Rental Nord"
        await pilot.press("r")  # does nothing here
        assert isinstance(app.screen, AuditDetailDialog)
        await pilot.press("escape")
        assert app.screen is screen


async def test_restore_from_the_list_with_confirmation(app_for, trail):
    app = app_for("administrator", "boss")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_audit(pilot)
        assert screen.cursor_row().is_customer_deletion
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the confirmation")
        body = str(app.screen.query_one("#confirm-body", Static).render())
        assert "2 contacts, 0 documents, 0 projects" in body
        assert "LIFT-7 is free" in body
        await pilot.press("escape")  # cancel: nothing happens
        await settle(pilot)
        assert not Customer.select().where(Customer.id == trail["birch"]).exists()

        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the confirmation")
        await pilot.press("y")
        await settle(pilot)
        assert app.screen is screen
        assert Customer.get_by_id(trail["birch"]).name == "Birch Hire"
        assert Contact.select().where(Contact.customer == trail["birch"]).count() == 2
        assert any(n.startswith("Restored Birch Hire as #{id}".format(id=trail["birch"]))
                   for n in notices(pilot))
        assert summaries(screen)[0] == "Restored customer Birch Hire (#{id})".format(
            id=trail["birch"])

        # the deletion again: refused, and said so
        table = screen.query_one(AuditTable)
        deletion = next(r for r in screen.page.rows if r.is_customer_deletion)
        row = table.get_row_index(str(deletion.id))
        assert str(table.get_row_at(row)[2]).endswith(
            "restored (event #{id})".format(id=screen.page.rows[0].id))
        table.move_cursor(row=row)
        await pilot.pause()
        await pilot.press("r")
        await settle(pilot)
        assert app.screen is screen
        assert any("already restored by boss" in n for n in notices(pilot))


async def test_restore_from_the_dialog_and_a_lookalike_asks_twice(app_for, make_customer, trail):
    make_customer("Birch Hire ApS")  # looks like the deleted one
    app = app_for("administrator", "boss")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_audit(pilot)
        assert not screen.cursor_row().is_customer_deletion  # the lookalike's creation
        screen.query_one("#audit-kind", Select).value = "deleted"
        await settle(pilot)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, AuditDetailDialog), "the dialog")
        state = str(app.screen.query_one("#audit-detail-state", Static).render())
        assert "Deleted by boss on 4/7/2026 08:15 UTC." in state
        fields = app.screen.query_one("#audit-detail-changes", DataTable)
        assert [str(fields.get_row_at(0)[i]) for i in range(3)] == ["Name", "Birch Hire", "—"]
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog), "the confirmation")
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, ConfirmDialog)
                    and "Possible duplicate" in str(app.screen.query_one(
                        "#confirm-body", Static).render()), "the duplicate question")
        await pilot.press("y")
        await settle(pilot)
        assert Customer.get_by_id(trail["birch"]).name == "Birch Hire"


async def test_a_role_that_may_not_restore_is_not_offered_the_key(as_role, config, trail):
    from tui.app import ClientbookApp

    base = as_role("account_owner")
    actor = Actor("ann", "account_owner", base.actor.permissions - {"document.edit"}, "ann")
    app = ClientbookApp(Context(base.db, config, actor))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_audit(pilot)
        assert screen.cursor_row().is_customer_deletion
        assert not screen.check_action("restore", ())
        assert "r restores" not in str(screen.query_one(AuditTable).get_row_at(0)[2])
        await pilot.press("r")
        await settle(pilot)
        assert app.screen is screen
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, AuditDetailDialog), "the dialog")
        assert not app.screen.query(Button).filter("#restore")
        await pilot.press("r")
        assert isinstance(app.screen, AuditDetailDialog)
    assert not Customer.select().where(Customer.id == trail["birch"]).exists()


async def test_limited_sees_the_refusal(app_for, trail):
    app = app_for("limited", "lim")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_audit(pilot)
        assert status(pilot) == "lim is not allowed to view the audit trail."
        assert screen.query_one(AuditTable).row_count == 0
        await pilot.press("r", "v")
        await settle(pilot)
        assert app.screen is screen


async def test_opened_for_one_customer_and_escape_goes_back(app_for, trail):
    app = app_for("administrator", "boss")
    async with app.run_test(size=(80, 24)) as pilot:
        before = app.screen
        screen = await open_audit(pilot, trail["birch"])
        assert {row.customer_id for row in screen.page.rows} == {trail["birch"]}
        await pilot.press("slash")
        await pilot.press("escape")  # from a filter: back to the list first
        assert isinstance(app.focused, AuditTable)
        await pilot.press("escape")
        assert app.screen is before


def _app_opens_audit() -> bool:
    from tui.app import ClientbookApp

    return hasattr(ClientbookApp, "action_open_audit")


@pytest.mark.skipif(not _app_opens_audit(), reason="tui/app.py has no open_audit action yet")
@pytest.mark.parametrize("role, opens", [("administrator", True), ("fleet_administrator", True),
                                         ("limited", False), ("estimator", False)])
async def test_f2_opens_the_trail_for_roles_with_audit_view(app_for, trail, role, opens):
    app = app_for(role)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f2")
        await settle(pilot)
        assert isinstance(app.screen, AuditScreen) == opens
        if opens:
            await pilot.press("f2")  # again: still one
            assert sum(isinstance(s, AuditScreen) for s in app.screen_stack) == 1
