"""Pilot tests of the import screen (F5), the import jobs list and the export dialog (F6).

Files are written under tmp_path and the test chdirs there, so the paths typed
are relative, as an operator in their own folder would type them.
"""

from __future__ import annotations

import csv
import threading

import pytest
from textual.widgets import Checkbox, DataTable, Input, OptionList, Select, Static

from tests.pilot import settle, type_text, until
from tui.commands import ClientbookCommands
from tui.domain.imports import ImportOptions, import_file
from tui.domain.models import Customer, ImportJob
from tui.domain.services.customers import CustomerDraft, get_customer, update_customer
from tui.screens import import_data
from tui.screens.customer_list import CustomerListScreen
from tui.screens.import_data import ImportScreen
from tui.widgets.pick_field import FieldPickerDialog
from tui.screens.import_jobs import ImportJobsScreen
from tui.widgets.address_fields import FieldRow
from tui.widgets.confirm import ConfirmDialog
from tui.widgets.export_dialog import ExportDialog

FRENCH = [["Société", "Téléphone", "Ville", "Pays", "Remarques internes", "Code client"],
          ["Élan SARL", "01 23 45 67 89", "Lyon", "France", "Client VIP", "C-001"],
          ["Bâtir Rental SARL", "04 72 00 00 00", "Villeurbanne", "France", "", "C-002"]]


# -- helpers ---------------------------------------------------------------------------------

def write_csv(path, rows, delimiter=";"):
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, delimiter=delimiter).writerows(rows)
    return path


def companies(count: int) -> list[list[str]]:
    return [["Company", "External ID", "City", "Country"]] + [
        [f"Firm {i} ApS", f"EXT-{i}", "Aarhus", "Denmark"] for i in range(count)]


@pytest.fixture
def here(tmp_path, monkeypatch):
    """The current directory is the test's folder: typed paths are relative to it."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def text(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def notices(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def open_import(pilot) -> ImportScreen:
    await settle(pilot)
    pilot.app.NOTIFICATION_TIMEOUT = 3600  # a loaded machine must not expire them mid-test
    await pilot.press("f5")
    await until(pilot, lambda: isinstance(pilot.app.screen, ImportScreen), "the import screen")
    await settle(pilot)
    return pilot.app.screen


async def choose_file(pilot, screen: ImportScreen, path: str, kind: str = "customers",
                      dry_run: bool = False) -> None:
    """Step 1 filled in, then Enter in the path field (Next)."""
    screen.query_one("#import-kind", Select).value = kind
    screen.query_one("#import-dry-run", Checkbox).value = dry_run
    field = screen.query_one("#import-path", Input)
    field.focus()
    field.value = path
    await pilot.press("enter")
    await settle(pilot)


def mapping(screen: ImportScreen) -> dict[str, tuple[str, str]]:
    """Column header -> (field shown, how) as the mapping table shows them."""
    table = screen.query_one("#import-columns", DataTable)
    rows = [table.get_row_at(i) for i in range(table.row_count)]
    return {str(row[0]): (str(row[2]), str(row[3])) for row in rows}


async def set_field(pilot, screen: ImportScreen, header: str, field: str) -> None:
    table = screen.query_one("#import-columns", DataTable)
    table.move_cursor(row=list(mapping(screen)).index(header), animate=False)
    table.focus()
    await pilot.press("enter")
    await settle(pilot)
    picker = pilot.app.screen
    assert isinstance(picker, FieldPickerDialog)
    options = picker.query_one(OptionList)
    options.highlighted = options.get_option_index(field)
    await pilot.press("enter")
    await settle(pilot)


async def start(pilot) -> None:
    await pilot.press("f9")
    await settle(pilot)


async def import_through_screen(pilot, path: str, kind: str = "customers") -> ImportScreen:
    screen = await open_import(pilot)
    await choose_file(pilot, screen, path, kind)
    await start(pilot)
    assert screen.report is not None, text(screen, "#import-summary")
    return screen


# -- the whole flow --------------------------------------------------------------------------

async def test_french_headers_mapped_changed_and_imported(app_for, here):
    write_csv(here / "clients.csv", FRENCH)
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_import(pilot)
        assert app.focused is screen.query_one("#import-kind", Select)
        await choose_file(pilot, screen, "clients.csv")
        assert screen.step == "map"
        assert text(screen, "#import-facts").startswith(
            "clients.csv · UTF-8 · semicolons · 2 rows\nImport customers · existing records: skip")
        shown = mapping(screen)
        assert shown["Société"] == ("name", "recognised")
        assert shown["Téléphone"] == ("phone", "recognised")
        assert shown["Code client"] == ("external id", "recognised")
        assert shown["Remarques internes"] == ("— ignored", "unknown")
        table = screen.query_one("#import-columns", DataTable)
        assert str(table.get_row_at(0)[1]) == "Élan SARL · Bâtir Rental SARL"  # first values
        await set_field(pilot, screen, "Remarques internes", "notes")
        assert isinstance(app.screen, ImportScreen)
        assert mapping(screen)["Remarques internes"] == ("notes", "your choice")
        await start(pilot)
        assert screen.step == "run" and screen.report.status == "done"
        summary = text(screen, "#import-summary")
        assert "Customers: 2 created, 0 updated, 0 skipped (0 unchanged)" in summary
        assert "0 rows rejected" in summary
        assert f"Import job {screen.report.job_id} · u undoes it" in summary
        assert text(screen, "#import-run-title") == "Import finished."
        elan = Customer.get(Customer.name == "Élan SARL")
        assert (elan.notes, elan.external_id, elan.billing_city, elan.billing_country) == (
            "Client VIP", "C-001", "Lyon", "FR")
        job = ImportJob.get_by_id(screen.report.job_id)
        assert job.mapping["Remarques internes"] == "notes" and job.status == "done"
        assert job.file_name == str(here / "clients.csv")
        await pilot.press("escape")  # back to the file, then out
        assert screen.step == "file"
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, CustomerListScreen)


async def test_a_path_that_cannot_be_read_is_said_under_the_path(app_for, here):
    (here / "folder.csv").mkdir()
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_import(pilot)
        await choose_file(pilot, screen, "missing.csv")
        row = screen.query(FieldRow).filter(".-error").first()
        assert row.field_key == "path"
        assert row.error == f'No file "{here / "missing.csv"}".'
        assert screen.step == "file" and screen.opened is None
        await choose_file(pilot, screen, "~/../../nowhere/x.csv")  # ~ expanded, still missing
        assert "No file" in row.error and "~" not in row.error
        await choose_file(pilot, screen, "folder.csv")
        assert row.error == f'"{here / "folder.csv"}" is a folder, not a CSV file.'
        await choose_file(pilot, screen, "   ")
        assert row.error == "Type the path of the CSV file to import."
        # an error file beside it that is someone's own file is never replaced
        write_csv(here / "clients.csv", FRENCH)
        (here / "clients.errors.csv").write_text("my own notes\n", encoding="utf-8")
        await choose_file(pilot, screen, "clients.csv")
        assert row.error == (f"The error file {here / 'clients.errors.csv'} exists and is not "
                             "an error file of an import; give another path (or remove it).")
        assert screen.step == "file" and Customer.select().count() == 0


async def test_missing_required_column_refuses_start_until_mapped(app_for, here):
    write_csv(here / "odd.csv", [["Firma X", "By"], ["Kran ApS", "Vejle"]])
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_import(pilot)
        await choose_file(pilot, screen, "odd.csv")
        assert "No column holds the name" in text(screen, "#import-problems")
        assert screen.check_action("start", ()) is None  # shown, greyed
        await start(pilot)
        assert screen.step == "map" and Customer.select().count() == 0
        await set_field(pilot, screen, "Firma X", "name")
        assert text(screen, "#import-problems") == ""
        await start(pilot)
        assert screen.report.status == "done"
        assert Customer.get().name == "Kran ApS"


async def test_a_bad_row_goes_to_the_error_file(app_for, here):
    rows = companies(3)
    rows[2][3] = "Atlantis"  # line 3: no such country
    write_csv(here / "bad.csv", rows, delimiter=",")
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await import_through_screen(pilot, "bad.csv")
        summary = text(screen, "#import-summary")
        assert "Customers: 2 created" in summary
        assert f"1 row rejected (see {here / 'bad.errors.csv'})" in summary
        with (here / "bad.errors.csv").open(encoding="utf-8", newline="") as handle:
            errors = list(csv.reader(handle))
        assert errors[0][:3] == ["error_line", "error_field", "error_message"]
        assert errors[1][0] == "3" and errors[1][1] == "Country"
        assert Customer.select().count() == 2


async def test_dry_run_changes_nothing(app_for, here):
    write_csv(here / "clients.csv", FRENCH)
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_import(pilot)
        await choose_file(pilot, screen, "clients.csv", dry_run=True)
        assert "· dry run" in text(screen, "#import-facts")
        await start(pilot)
        assert screen.report.dry_run and screen.report.job_id is None
        summary = text(screen, "#import-summary")
        assert summary.startswith("Dry run: nothing was changed.")
        assert "Customers: 2 created" in summary
        assert text(screen, "#import-run-title") == "Dry run finished."
        assert screen.check_action("undo", ()) is False  # no job to undo
        assert Customer.select().count() == 0 and ImportJob.select().count() == 0


async def test_update_on_match_changes_existing_customers(app_for, here, make_customer):
    firm = make_customer("Firm 0 ApS", billing_city="Odense")
    Customer.update(external_id="EXT-0").where(Customer.id == firm.id).execute()
    write_csv(here / "firms.csv", companies(2), delimiter=",")
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_import(pilot)
        screen.query_one("#import-on-match", Select).value = "update"
        await choose_file(pilot, screen, "firms.csv")
        assert "existing records: update" in text(screen, "#import-facts")
        await start(pilot)
        assert "Customers: 1 created, 1 updated" in text(screen, "#import-summary")
        assert Customer.get(Customer.external_id == "EXT-0").billing_city == "Aarhus"


# -- cancel and resume -----------------------------------------------------------------------

async def test_cancel_after_the_first_batch_then_resume(app_for, here, monkeypatch):
    write_csv(here / "many.csv", companies(7), delimiter=",")
    first_batch, proceed = threading.Event(), threading.Event()
    real = import_data.run_import

    def held_after_first_batch(ctx, source, preview, options, progress):
        """The user gets to press c while the first batch is committed and reported."""
        def wrapped(done):
            if not first_batch.is_set():
                first_batch.set()
                assert proceed.wait(10)
            progress(done)

        return real(ctx, source, preview, options, progress=wrapped)

    monkeypatch.setattr(import_data, "run_import", held_after_first_batch)
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_import(pilot)
        screen.batch_size = 2
        await choose_file(pilot, screen, "many.csv")
        await pilot.press("f9")
        await until(pilot, first_batch.is_set, "the first batch")
        assert screen.running and screen.check_action("back", ()) is False
        await pilot.press("c")
        assert "Cancelling after the batch in hand" in text(screen, "#import-run-line")
        proceed.set()
        await settle(pilot)
        report = screen.report
        assert report.status == "interrupted" and report.last_line == 3
        assert Customer.select().count() == 2  # one whole batch of two
        assert ImportJob.get_by_id(report.job_id).status == "interrupted"
        assert text(screen, "#import-run-title") == "Import cancelled."
        assert "Interrupted after line 3" in text(screen, "#import-summary")
        # the same file again: the job is resumed and finished
        await pilot.press("escape")
        await choose_file(pilot, screen, "many.csv")
        await start(pilot)
        again = screen.report
        assert again.status == "done" and again.job_id == report.job_id
        assert again.resumed_after_line == 3
        assert "which had stopped after line 3" in text(screen, "#import-summary")
        assert Customer.select().count() == 7


async def test_escape_while_running_cancels_and_does_not_leave(app_for, here, monkeypatch):
    write_csv(here / "many.csv", companies(6), delimiter=",")
    first_batch, proceed = threading.Event(), threading.Event()
    real = import_data.run_import

    def held(ctx, source, preview, options, progress):
        def wrapped(done):
            first_batch.set()
            assert proceed.wait(10)
            progress(done)
        return real(ctx, source, preview, options, progress=wrapped)

    monkeypatch.setattr(import_data, "run_import", held)
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_import(pilot)
        screen.batch_size = 3
        await choose_file(pilot, screen, "many.csv")
        await pilot.press("f9")
        await until(pilot, first_batch.is_set, "the first batch")
        await pilot.press("escape")
        assert app.screen is screen and screen.cancelling.is_set()
        assert app.check_action("open_import_jobs", ()) is False  # no undo of a running job
        proceed.set()
        await settle(pilot)
        assert screen.report.status == "interrupted" and Customer.select().count() == 3


# -- undo ------------------------------------------------------------------------------------

async def test_undo_from_the_summary(app_for, here):
    write_csv(here / "clients.csv", FRENCH)
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await import_through_screen(pilot, "clients.csv")
        job_id = screen.report.job_id
        assert Customer.select().count() == 2
        await pilot.press("u")
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("escape")  # not confirmed: nothing happens
        await settle(pilot)
        assert Customer.select().count() == 2
        await pilot.press("u")
        await pilot.press("y")
        await settle(pilot)
        assert Customer.select().count() == 0
        assert ImportJob.get_by_id(job_id).status == "undone"
        assert text(screen, "#import-undo-status").startswith(f"Import job {job_id} undone:")
        assert screen.check_action("undo", ()) is None  # greyed: done already


async def test_undo_from_the_jobs_list_and_refusal_after_a_later_edit(app_for, here, as_role):
    write_csv(here / "clients.csv", FRENCH)
    write_csv(here / "firms.csv", companies(2), delimiter=",")
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        first = (await import_through_screen(pilot, "clients.csv")).report.job_id
        await pilot.press("escape", "escape")
        await settle(pilot)
        second = (await import_through_screen(pilot, "firms.csv")).report.job_id
        # someone else edits a customer the first import created
        other = as_role("administrator", "jakob")
        elan = Customer.get(Customer.name == "Élan SARL")
        draft = CustomerDraft.from_customer(get_customer(other, elan.id))
        update_customer(other, elan.id, elan.version,
                        CustomerDraft(**{**draft.__dict__, "notes": "Edited"}))
        await pilot.press("f8")
        await settle(pilot)
        jobs = app.screen
        assert isinstance(jobs, ImportJobsScreen)
        table = jobs.query_one(DataTable)
        assert [str(table.get_row_at(i)[3]).split("\n") for i in range(table.row_count)] == [
            ["done", f"job {second}"], ["done", f"job {first}"]]
        assert str(table.get_row_at(0)[1]) == "firms.csv\ncustomers"
        assert str(table.get_row_at(0)[2]) == "2 created, 0 updated\n0 skipped, 0 rejected"
        # the older job: refused, naming the record edited since
        table.move_cursor(row=1, animate=False)
        await pilot.press("u", "y")
        await settle(pilot)
        message = text(jobs, "#jobs-message")
        assert message.startswith(f"Import job {first} cannot be undone, nothing was changed")
        assert f"Customer #{elan.id} Élan SARL was edited since the import" in message
        assert Customer.select().count() == 4
        # the newer one: undone
        table.move_cursor(row=0, animate=False)
        await pilot.press("u", "y")
        await settle(pilot)
        assert text(jobs, "#jobs-message").startswith(f"Import job {second} undone")
        assert Customer.select().count() == 2
        assert str(table.get_row_at(0)[3]).startswith("undone")
        assert jobs.check_action("undo", ()) is None


# -- permissions -----------------------------------------------------------------------------

async def palette_labels(app) -> set[str]:
    provider = ClientbookCommands(app.screen)
    return {str(hit.text) async for hit in provider.search("i")} | {
        str(hit.text) async for hit in provider.search("export")}


async def test_a_limited_role_is_refused_import_and_export(app_for, here):
    write_csv(here / "clients.csv", FRENCH)
    app = app_for("limited", "lena")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.NOTIFICATION_TIMEOUT = 3600
        labels = await palette_labels(app)
        assert "Help: list the keys" in labels  # the search works: it is the entries that lack
        assert not any(label.startswith(("Import", "Export")) for label in labels), labels
        await pilot.press("f5")
        await settle(pilot)
        assert isinstance(app.screen, CustomerListScreen)
        assert notices(app) == ["lena is not allowed to import data."]
        await pilot.press("f6")
        await settle(pilot)
        assert isinstance(app.screen, CustomerListScreen)
        assert notices(app)[-1] == "lena is not allowed to export data."
        assert app.check_action("open_import_jobs", ()) is False
        app.action_open_import_jobs()  # not offered, and refused if called all the same
        await settle(pilot)
        assert isinstance(app.screen, CustomerListScreen)
        assert notices(app)[-1] == "lena is not allowed to import data."
    assert Customer.select().count() == 0


def first_hit(app) -> str:
    try:
        return str(app.screen.query_one("CommandList").get_option_at_index(0).prompt)
    except Exception:  # noqa: BLE001 - not open, or no hit yet
        return ""


async def test_the_real_palette_opens_the_import_and_the_export(app_for):
    """Typed into the palette itself (a modal screen), not asked of the provider directly."""
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await type_text(pilot, "import custom")
        await until(pilot, lambda: first_hit(app).startswith("Import customers/"), "the hit")
        await pilot.press("down", "enter")
        await until(pilot, lambda: isinstance(app.screen, ImportScreen), "the import screen")
        await settle(pilot)
        await pilot.press("ctrl+p")
        await type_text(pilot, "export")
        await until(pilot, lambda: first_hit(app).startswith("Export customers"), "the hit")
        await pilot.press("down", "enter")
        await until(pilot, lambda: isinstance(app.screen, ExportDialog), "the export dialog")


async def test_roles_are_offered_only_the_kinds_they_may_import(app_for):
    app = app_for("account_owner")  # customers and contacts, not equipment
    async with app.run_test(size=(80, 24)) as pilot:
        labels = await palette_labels(app)
        assert "Import customers/contacts/equipment from CSV…" in labels
        screen = await open_import(pilot)
        kinds = screen.query_one("#import-kind", Select)
        assert [value for _label, value in kinds._options if value is not Select.NULL] == [
            "customers", "contacts"]


# -- export ----------------------------------------------------------------------------------

async def test_export_writes_a_csv_the_importer_reads_back(app_for, here, admin, make_customer):
    make_customer("Nordic Lifting A/S", billing_city="Aarhus")
    make_customer("Bâtir Rental SARL", billing_country="FR")
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.NOTIFICATION_TIMEOUT = 3600
        await pilot.press("f6")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ExportDialog)
        assert dialog.query_one("#export-path", Input).value == "customers.csv"
        dialog.query_one("#export-what", Select).value = "contacts"
        await pilot.pause()
        assert dialog.query_one("#export-path", Input).value == "contacts.csv"
        assert [v for _l, v in dialog.query_one("#export-format", Select)._options] == [
            "csv", "json", "vcard"]
        dialog.query_one("#export-format", Select).value = "vcard"
        await pilot.pause()
        assert dialog.query_one("#export-path", Input).value == "contacts.vcf"
        dialog.query_one("#export-what", Select).value = "customers"
        await pilot.pause()
        assert dialog.query_one("#export-format", Select).value == "csv"
        assert dialog.query_one("#export-path", Input).value == "customers.csv"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CustomerListScreen)
        assert f"Exported 2 customers to {here / 'customers.csv'}." in notices(app)
    report = import_file(admin, "customers", here / "customers.csv",
                         options=ImportOptions(dry_run=True))
    assert report.rejected == 0 and report.skipped == 2 and report.created == 0


async def test_export_asks_before_replacing_a_file(app_for, here, make_customer):
    make_customer("Nordic Lifting A/S")
    (here / "customers.csv").write_text("keep me", encoding="utf-8")
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f6")
        await settle(pilot)
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ExportDialog)
        assert (here / "customers.csv").read_text(encoding="utf-8") == "keep me"
        await pilot.press("ctrl+s")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, CustomerListScreen)
        assert "Nordic Lifting A/S" in (here / "customers.csv").read_text(encoding="utf-8-sig")


async def test_export_errors_stay_in_the_dialog(app_for, here):
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f6")
        await settle(pilot)
        dialog = app.screen
        field = dialog.query_one("#export-path", Input)
        field.value = "no/such/folder/out.csv"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is dialog
        row = dialog.query(FieldRow).filter(".-error").first()
        assert row.field_key == "path" and row.error.startswith("Cannot write")
        field.value = ""
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert row.error == "Type the name of the file to write."
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, CustomerListScreen)
