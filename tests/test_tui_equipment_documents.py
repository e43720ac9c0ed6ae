"""Pilot tests of the Equipment and Admin Documents tabs of a customer, and their dialogs."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from textual.widgets import DataTable, Input, Select

from tests.pilot import settle, type_text
from tui.domain.errors import PermissionDenied
from tui.domain.models import AdminDocument, Assignment
from tui.domain.services import documents as document_service
from tui.domain.services import equipment as equipment_service
from tui.screens.assignment_history import AssignmentHistoryScreen
from tui.screens.customer import CustomerScreen
from tui.screens.customer_panes.documents import DocumentsPane
from tui.screens.customer_panes.equipment import EquipmentPane
from tui.widgets.confirm import ConfirmDialog
from tui.widgets.document_form import DocumentFormDialog, ExportDialog
from tui.widgets.pick_equipment import PickEquipmentDialog


def rows(app, selector: str) -> list[list[str]]:
    table = app.screen.query_one(selector, DataTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def column(app, selector: str, index: int) -> list[str]:
    return [row[index] for row in rows(app, selector)]


def messages(app) -> list[str]:
    return [str(notification.message) for notification in app._notifications]


def offered(app, pane) -> set[str]:
    """The actions of ``pane`` the footer offers now (check_action not False)."""
    return {active.binding.action for active in app.screen.active_bindings.values()
            if active.node is pane}


def open_holdings(customer_id: int) -> list[str]:
    return sorted(a.equipment.serial for a in Assignment.select()
                  .where(Assignment.customer_id == customer_id, Assignment.unassigned_at.is_null()))


async def open_tab(app, pilot, customer_id: int, key: str) -> None:
    app.action_open_customer(customer_id)
    await settle(pilot)
    assert isinstance(app.screen, CustomerScreen)
    await pilot.press(key)
    await settle(pilot)


# -- service ------------------------------------------------------------------------------

def test_search_unassigned_equipment_pages_and_skips_held_and_retired(admin, as_role,
                                                                      make_customer,
                                                                      make_machine):
    from tui.domain.models import Equipment, utcnow

    customer = make_customer("Nordic Lifting A/S")
    for index in range(7):
        make_machine(f"CAT-{index}", name="Excavator", make="Caterpillar")
    make_machine("JCB-1", name="Telehandler", make="JCB")
    make_machine("ODD_%", name="Odd one")
    held = make_machine("CAT-HELD", name="Excavator")
    retired = make_machine("CAT-OLD", name="Excavator")
    Equipment.update(retired_at=utcnow()).where(Equipment.id == retired.id).execute()
    equipment_service.assign_equipment(admin, customer.id, [held.id])

    page = equipment_service.search_unassigned_equipment(admin, "cat", limit=5)
    assert page.total == 7 and [m.serial for m in page.rows] == [f"CAT-{i}" for i in range(5)]
    page = equipment_service.search_unassigned_equipment(admin, "cat", limit=5, offset=5)
    assert [m.serial for m in page.rows] == ["CAT-5", "CAT-6"]
    assert [m.serial for m in equipment_service.search_unassigned_equipment(
        admin, "jcb tele").rows] == ["JCB-1"]
    assert [m.serial for m in equipment_service.search_unassigned_equipment(
        admin, "_%").rows] == ["ODD_%"]  # LIKE wildcards are plain text
    assert equipment_service.search_unassigned_equipment(admin).total == 9
    # read-only: a limited user may search; a role without equipment.view may not
    assert equipment_service.search_unassigned_equipment(as_role("limited"), "jcb").total == 1

    assert [a.equipment.serial for a in equipment_service.open_assignments(
        as_role("limited"), customer.id)] == ["CAT-HELD"]


def test_search_unassigned_equipment_requires_view(db, config, make_machine):
    from tui.domain.context import Actor, Context

    make_machine("CAT-1")
    nobody = Context(db, config, Actor("nobody", "none", frozenset()))
    with pytest.raises(PermissionDenied):
        equipment_service.search_unassigned_equipment(nobody, "")
    with pytest.raises(PermissionDenied):
        equipment_service.open_assignments(nobody, 1)


# -- equipment tab --------------------------------------------------------------------------

@pytest.fixture
def fleet(make_machine):
    return {serial: make_machine(serial, name=name, make=make)
            for serial, name, make in [("CAT-100", "Excavator", "Caterpillar"),
                                       ("CAT-200", "Excavator", "Caterpillar"),
                                       ("GEN-1", "Generator", "Atlas Copco"),
                                       ("JCB-7", "Telehandler", "JCB")]}


async def test_assign_two_machines_through_the_dialog(app_for, make_customer, fleet, admin):
    customer = make_customer("Nordic Lifting A/S")
    other = make_customer("Other Hire ApS")
    equipment_service.assign_equipment(admin, other.id, [fleet["GEN-1"].id])
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_tab(app, pilot, customer.id, "3")
        assert rows(app, "#equipment-table") == []
        assert offered(app, app.screen.query_one(EquipmentPane)) == {
            "assign", "unassign", "toggle_mark", "history", "open_machine"}
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, PickEquipmentDialog)
        # a machine somebody holds is not offered
        assert column(app, "#pick-table", 1) == ["CAT-100", "CAT-200", "JCB-7"]
        await type_text(pilot, "cat")
        await settle(pilot)
        assert column(app, "#pick-table", 1) == ["CAT-100", "CAT-200"]
        await pilot.press("down")  # from the search box to the list
        await pilot.press("space", "space")
        await pilot.pause()
        assert "2 selected" in str(app.screen.query_one("#pick-status").render())
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, CustomerScreen)
        assert open_holdings(customer.id) == ["CAT-100", "CAT-200"]
        assert column(app, "#equipment-table", 1) == ["CAT-100", "CAT-200"]


async def test_marks_survive_a_new_search(app_for, make_customer, fleet):
    customer = make_customer("Nordic Lifting A/S")
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_tab(app, pilot, customer.id, "3")
        await pilot.press("a")
        await settle(pilot)
        await type_text(pilot, "jcb")
        await pilot.press("enter")  # Enter in the search box moves to the list
        await settle(pilot)
        await pilot.press("space")
        await pilot.press("slash")  # back to the search box, its text selected: typing replaces
        await type_text(pilot, "gen")
        await settle(pilot)
        await pilot.press("tab", "space")
        await settle(pilot)
        assert "2 selected" in str(app.screen.query_one("#pick-status").render())
        await pilot.press("enter")
        await settle(pilot)
        assert open_holdings(customer.id) == ["GEN-1", "JCB-7"]


async def test_pick_dialog_shows_one_page_and_pages_in_sql(app_for, make_customer, make_machine):
    from tui.widgets.pick_equipment import PAGE_SIZE

    customer = make_customer("Nordic Lifting A/S")
    for index in range(PAGE_SIZE + 3):
        make_machine(f"M-{index:03d}")
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_tab(app, pilot, customer.id, "3")
        await pilot.press("a")
        await settle(pilot)
        table = app.screen.query_one("#pick-table", DataTable)
        assert table.row_count == PAGE_SIZE
        await pilot.press("down")
        table.move_cursor(row=PAGE_SIZE - 1)
        await pilot.press("space")  # marks the last row of the first page
        await pilot.press("down")  # runs off the end: the next page
        await settle(pilot)
        assert column(app, "#pick-table", 1) == [f"M-{i:03d}" for i in
                                                 range(PAGE_SIZE, PAGE_SIZE + 3)]
        await pilot.press("space", "enter")
        await settle(pilot)
        assert open_holdings(customer.id) == [f"M-{PAGE_SIZE - 1:03d}", f"M-{PAGE_SIZE:03d}"]


async def test_escape_cancels_the_pick(app_for, make_customer, fleet):
    customer = make_customer("Nordic Lifting A/S")
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_tab(app, pilot, customer.id, "3")
        await pilot.press("a")
        await settle(pilot)
        await pilot.press("down", "space", "escape")
        await settle(pilot)
        assert isinstance(app.screen, CustomerScreen)
        assert open_holdings(customer.id) == []


async def test_machine_taken_meanwhile_names_the_holder_and_assigns_nothing(
        app_for, make_customer, fleet, admin):
    customer = make_customer("Nordic Lifting A/S")
    rival = make_customer("Rival Cranes GmbH", billing_country="DE")
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_tab(app, pilot, customer.id, "3")
        await pilot.press("a")
        await settle(pilot)
        await type_text(pilot, "cat")
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("space", "space")
        # another operator takes CAT-200 while the dialog is open
        equipment_service.assign_equipment(admin, rival.id, [fleet["CAT-200"].id])
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, CustomerScreen)
        assert any("CAT-200" in text and "Rival Cranes GmbH" in text for text in messages(app))
        assert [n.severity for n in app._notifications][-1] == "error"
        assert open_holdings(customer.id) == []  # all or nothing
        assert rows(app, "#equipment-table") == []


async def test_unassign_asks_first_and_keeps_history(app_for, make_customer, fleet, admin):
    customer = make_customer("Nordic Lifting A/S")
    equipment_service.assign_equipment(
        admin, customer.id, [fleet["CAT-100"].id, fleet["CAT-200"].id, fleet["JCB-7"].id])
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_tab(app, pilot, customer.id, "3")
        assert column(app, "#equipment-table", 1) == ["CAT-100", "CAT-200", "JCB-7"]
        await pilot.press("space", "space", "u")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        body = str(app.screen.query_one("#confirm-body").render())
        assert "Unassign 2 machines from Nordic Lifting A/S?" in body
        await pilot.press("escape")  # cancel
        await settle(pilot)
        assert open_holdings(customer.id) == ["CAT-100", "CAT-200", "JCB-7"]

        await pilot.press("u")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("y")
        await settle(pilot)
        assert open_holdings(customer.id) == ["JCB-7"]
        assert column(app, "#equipment-table", 1) == ["JCB-7"]
        assert Assignment.select().where(Assignment.customer_id == customer.id).count() == 3

        await pilot.press("h")
        await settle(pilot)
        assert isinstance(app.screen, AssignmentHistoryScreen)
        history = rows(app, "#history-table")
        assert sorted(row[0] for row in history) == ["CAT-100", "CAT-200", "JCB-7"]
        returned = {row[0]: row[3] for row in history}
        assert "by administrator" in returned["CAT-100"]
        assert returned["JCB-7"] == "held now"
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, CustomerScreen)


async def test_history_is_newest_first(app_for, make_customer, fleet, admin):
    from tui.domain.models import utcnow

    customer = make_customer("Nordic Lifting A/S")
    equipment_service.assign_equipment(admin, customer.id, [fleet["GEN-1"].id])
    Assignment.update(assigned_at=utcnow() - timedelta(days=30)).execute()
    equipment_service.unassign_equipment(admin, [fleet["GEN-1"].id])
    equipment_service.assign_equipment(admin, customer.id, [fleet["JCB-7"].id])
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_tab(app, pilot, customer.id, "3")
        await pilot.press("h")
        await settle(pilot)
        assert column(app, "#history-table", 0) == ["JCB-7", "GEN-1"]


async def test_limited_role_cannot_assign_or_unassign(app_for, make_customer, fleet, admin):
    customer = make_customer("Nordic Lifting A/S")
    equipment_service.assign_equipment(admin, customer.id, [fleet["CAT-100"].id])
    app = app_for("limited")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_tab(app, pilot, customer.id, "3")
        pane = app.screen.query_one(EquipmentPane)
        assert column(app, "#equipment-table", 1) == ["CAT-100"]  # may view
        for action in ("assign", "unassign", "toggle_mark"):
            assert pane.check_action(action, ()) is False
        assert offered(app, pane) == {"history", "open_machine"}
        await pilot.press("a", "u")
        await pilot.pause()
        assert isinstance(app.screen, CustomerScreen)

        pane.action_assign()  # reached anyway (palette, keymap): refused, nothing opened
        await pilot.pause()
        assert isinstance(app.screen, CustomerScreen)
        pane.action_unassign()
        await pilot.pause()
        assert isinstance(app.screen, CustomerScreen)
        refusals = [text for text in messages(app) if "not allowed" in text]
        assert len(refusals) == 2 and "assign or unassign equipment" in refusals[0]
        assert open_holdings(customer.id) == ["CAT-100"]

        pane.assign_chosen([fleet["JCB-7"].id])  # the service refuses too
        await pilot.pause()
        assert open_holdings(customer.id) == ["CAT-100"]
        assert "not allowed" in messages(app)[-1]

        await pilot.press("h")  # history is for everyone who may view
        await settle(pilot)
        assert isinstance(app.screen, AssignmentHistoryScreen)


# -- documents tab --------------------------------------------------------------------------

@pytest.fixture
def contract(tmp_path):
    path = tmp_path / "outside" / "contract 2024.pdf"
    path.parent.mkdir()
    path.write_bytes(b"%PDF-1.4 the signed contract\n" * 50)
    return path


def form(app) -> DocumentFormDialog:
    assert isinstance(app.screen, DocumentFormDialog)
    return app.screen


def error_beside(app, field: str) -> str:
    label = app.screen.query_one(f"#error-{field}")
    return str(label.render()) if label.has_class("-shown") else ""


async def test_add_a_document_stores_the_file(app_for, make_customer, contract, admin):
    customer = make_customer("Nordic Lifting A/S")
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_tab(app, pilot, customer.id, "4")
        assert "No documents yet" in str(app.screen.query_one("#documents-status").render())
        await pilot.press("a")
        await pilot.pause()
        dialog = form(app)
        await type_text(pilot, "Rental contract")
        dialog.query_one("#form-kind", Select).value = "contract"
        dialog.query_one("#form-path", Input).value = str(contract)
        dialog.query_one("#form-reminder", Input).value = "2031-01-15"
        await pilot.press("enter")  # Enter in a field saves
        await settle(pilot)
        assert isinstance(app.screen, CustomerScreen)
        document = AdminDocument.get(AdminDocument.customer == customer.id)
        assert (document.title, document.kind, document.file_name) == (
            "Rental contract", "contract", "contract 2024.pdf")
        assert document.reminder_on == date(2031, 1, 15)
        stored = document_service.document_file(admin, document.id)
        assert stored.read_bytes() == contract.read_bytes()
        assert rows(app, "#documents-table") == [
            ["Contract", "Rental contract", "contract 2024.pdf", "1.4 kB", "1/15/2031"]]  # en_US


async def test_missing_file_is_reported_beside_the_path(app_for, make_customer, tmp_path):
    customer = make_customer("Nordic Lifting A/S")
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_tab(app, pilot, customer.id, "4")
        await pilot.press("a")
        await pilot.pause()
        dialog = form(app)
        dialog.query_one("#form-path", Input).value = str(tmp_path / "nope.pdf")
        dialog.query_one("#form-reminder", Input).value = "someday"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.screen is dialog  # stays open, nothing typed is lost
        assert "nope.pdf" in error_beside(app, "file")
        assert error_beside(app, "title")  # required
        assert "Write the date as 11/23/2026." in error_beside(app, "reminder_on")
        assert AdminDocument.select().count() == 0
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, CustomerScreen)
        assert AdminDocument.select().count() == 0


@pytest.fixture
def two_documents(admin, make_customer, contract):
    customer = make_customer("Nordic Lifting A/S")
    today = date.today()
    late = document_service.add_document(admin, customer.id, "Insurance", "insurance", contract,
                                         today - timedelta(days=3))
    soon = document_service.add_document(admin, customer.id, "Inspection", "certificate", None,
                                         today + timedelta(days=5))
    later = document_service.add_document(admin, customer.id, "Lease", "contract", contract,
                                          today + timedelta(days=90))
    return customer, late, soon, later


async def test_reminders_that_came_due_stand_out(app_for, two_documents):
    customer, late, soon, later = two_documents
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_tab(app, pilot, customer.id, "4")
        table = app.screen.query_one("#documents-table", DataTable)
        cells = {str(table.get_cell(str(d.id), "title")): table.get_cell(str(d.id), "reminder")
                 for d in (late, soon, later)}
        overdue, due, future = cells["Insurance"], cells["Inspection"], cells["Lease"]
        assert overdue.style != future.style and due.style != future.style
        assert overdue.style != due.style
        assert overdue.style.color.name == app.theme_variables["error"].lower() or \
            overdue.style.color.triplet.hex == app.theme_variables["error"].lower()
        status = str(app.screen.query_one("#documents-status").render())
        assert "1 reminder overdue" in status and "1 due within 14 days" in status


async def test_edit_title_and_reminder(app_for, two_documents):
    customer, late, soon, later = two_documents
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_tab(app, pilot, customer.id, "4")
        assert column(app, "#documents-table", 1) == ["Inspection", "Insurance", "Lease"]
        await pilot.press("down")  # Insurance
        await pilot.press("e")
        await pilot.pause()
        dialog = form(app)
        assert dialog.query_one("#form-title", Input).value == "Insurance"
        dialog.query_one("#form-title", Input).value = "Insurance 2025"
        dialog.query_one("#form-reminder", Input).value = "2030-02-01"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CustomerScreen)
        saved = AdminDocument.get_by_id(late.id)
        assert (saved.title, saved.reminder_on, saved.version) == (
            "Insurance 2025", date(2030, 2, 1), 2)
        assert rows(app, "#documents-table")[1][1:] == [
            "Insurance 2025", "contract 2024.pdf", "1.4 kB", "2/1/2030"]


async def test_export_copies_the_file(app_for, two_documents, tmp_path, contract):
    customer, late, soon, later = two_documents
    target = tmp_path / "copies" / "out.pdf"
    target.parent.mkdir()
    app = app_for("limited")  # viewing is enough to take a copy
    async with app.run_test(size=(80, 24)) as pilot:
        await open_tab(app, pilot, customer.id, "4")
        await pilot.press("down", "x")
        await pilot.pause()
        assert isinstance(app.screen, ExportDialog)
        path = app.screen.query_one("#export-path", Input)
        path.value = str(tmp_path / "no-such-folder" / "out.pdf")
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ExportDialog)
        assert "does not exist" in str(app.screen.query_one("#export-error").render())
        path.value = str(target)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, CustomerScreen)
        assert target.read_bytes() == contract.read_bytes()

        # a folder keeps the document's file name
        await pilot.press("x")
        await pilot.pause()
        app.screen.query_one("#export-path", Input).value = str(target.parent)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, CustomerScreen)
        assert (target.parent / "contract 2024.pdf").read_bytes() == contract.read_bytes()


async def test_export_confirms_before_overwriting(app_for, two_documents, tmp_path, contract):
    customer, late, soon, later = two_documents
    target = tmp_path / "mine.pdf"
    target.write_bytes(b"mine")
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_tab(app, pilot, customer.id, "4")
        await pilot.press("down", "x")
        await pilot.pause()
        app.screen.query_one("#export-path", Input).value = str(target)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("escape")  # keep mine
        await pilot.pause()
        assert isinstance(app.screen, ExportDialog)
        assert target.read_bytes() == b"mine"
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, CustomerScreen)
        assert target.read_bytes() == contract.read_bytes()


async def test_delete_asks_first(app_for, two_documents):
    customer, late, soon, later = two_documents
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_tab(app, pilot, customer.id, "4")
        await pilot.press("d")  # Inspection, the first row
        await pilot.pause()
        assert isinstance(app.screen, ConfirmDialog)
        assert "Inspection" in str(app.screen.query_one("#confirm-body").render())
        await pilot.press("escape")
        await settle(pilot)
        assert AdminDocument.select().count() == 3
        await pilot.press("d", "y")
        await settle(pilot)
        assert AdminDocument.get_or_none(AdminDocument.id == soon.id) is None
        assert column(app, "#documents-table", 1) == ["Insurance", "Lease"]


async def test_limited_role_views_documents_but_cannot_change_them(app_for, two_documents):
    customer, late, soon, later = two_documents
    app = app_for("limited")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_tab(app, pilot, customer.id, "4")
        pane = app.screen.query_one(DocumentsPane)
        assert column(app, "#documents-table", 1) == ["Inspection", "Insurance", "Lease"]
        for action in ("add", "edit", "delete"):
            assert pane.check_action(action, ()) is False
        assert pane.check_action("export", ()) is True
        assert offered(app, pane) == {"export"}
        await pilot.press("a", "e", "d")
        await pilot.pause()
        assert isinstance(app.screen, CustomerScreen)
        pane.action_add()
        pane.action_edit()
        pane.action_delete()
        await pilot.pause()
        assert isinstance(app.screen, CustomerScreen)
        refusals = [text for text in messages(app) if "not allowed" in text]
        assert len(refusals) == 3
        assert "add, change or delete admin documents" in refusals[0]
        pane.delete_confirmed(soon.id, True)  # the service refuses too
        await pilot.pause()
        assert AdminDocument.select().count() == 3
        assert [(d.title, d.version) for d in AdminDocument.select().order_by(
            AdminDocument.title)] == [("Inspection", 1), ("Insurance", 1), ("Lease", 1)]


async def test_enter_on_a_held_machine_opens_its_own_screen(app_for, make_customer, fleet, admin):
    from tui.screens.machine import MachineScreen

    customer = make_customer("Nordic Lifting A/S")
    equipment_service.assign_equipment(admin, customer.id, [fleet["GEN-1"].id])
    app = app_for("limited")  # reading is enough
    async with app.run_test(size=(80, 24)) as pilot:
        await open_tab(app, pilot, customer.id, "3")
        assert "open_machine" in offered(app, app.screen.query_one(EquipmentPane))
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, MachineScreen)
        assert app.screen.equipment_id == fleet["GEN-1"].id
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, CustomerScreen)
        await pilot.press("o")  # the key the footer shows
        await settle(pilot)
        assert isinstance(app.screen, MachineScreen)
