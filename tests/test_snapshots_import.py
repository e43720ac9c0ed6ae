"""SVG snapshots of the import screen's three steps, the import jobs and the export dialog, 80x24.

The files live in tmp_path and the test chdirs there: the paths typed (and shown)
are relative, so the pictures do not depend on where pytest puts tmp_path.
Update after an intended change with
``pytest tests/test_snapshots_import.py -n 0 --snapshot-update`` and look at the
SVGs before committing them.
"""

from __future__ import annotations

import csv
from datetime import datetime

import pytest
from textual.widgets import DataTable, Input, OptionList, Select

from tui.domain.imports import ImportOptions, import_file, undo_import

from tests.frozen_clock import NOW, clock  # noqa: F401 - an autouse fixture

FRENCH = [["Société", "Téléphone", "Ville", "Pays", "Remarques internes", "Code client",
           "Prénom", "Nom", "Courriel du contact"],
          ["Élan SARL", "01 23 45 67 89", "Lyon", "France", "Client VIP", "C-001", "Zoé",
           "Lefèvre", "zoe@elan.example"],
          ["Bâtir Rental SARL", "04 72 00 00 00", "Villeurbanne", "France", "", "C-002", "Bo",
           "Martin", "bo@batir.example"]]


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with (tmp_path / "clients.csv").open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, delimiter=";").writerows(FRENCH)
    return tmp_path


async def settled(pilot) -> None:
    """Let workers finish and stop every cursor blinking, so the picture is stable."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    for widget in pilot.app.screen.query("Input, TextArea"):
        widget.cursor_blink = False
    await pilot.pause()


async def file_step(pilot) -> None:
    await settled(pilot)
    await pilot.press("f5")
    await settled(pilot)
    field = pilot.app.screen.query_one("#import-path", Input)
    field.focus()
    field.value = "clients.csv"
    await settled(pilot)


async def mapping_step(pilot) -> None:
    await file_step(pilot)
    await pilot.press("enter")
    await settled(pilot)
    screen = pilot.app.screen
    table = screen.query_one("#import-columns", DataTable)
    table.move_cursor(row=4, animate=False)  # Remarques internes: not recognised
    await pilot.press("enter")
    await settled(pilot)
    options = pilot.app.screen.query_one(OptionList)
    options.highlighted = options.get_option_index("notes")
    await pilot.press("enter")
    await settled(pilot)


def test_import_step_1_the_file(snap_compare, app_for, files):
    assert snap_compare(app_for("administrator", "mette"), run_before=file_step)


def test_import_step_2_mapping_one_column_chosen(snap_compare, app_for, files):
    assert snap_compare(app_for("administrator", "mette"), run_before=mapping_step)


def test_import_step_3_summary(snap_compare, app_for, files):
    async def run(pilot):
        await mapping_step(pilot)
        await pilot.press("f9")
        await settled(pilot)
        assert pilot.app.screen.report.status == "done"
        await settled(pilot)

    assert snap_compare(app_for("administrator", "mette"), run_before=run)


def test_import_jobs(snap_compare, app_for, admin, files, clock):
    with (files / "machines.csv").open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["Serial", "Make", "Model", "Year"],
                                      ["CAT-320-0042", "Caterpillar", "320", "2019"],
                                      ["JCB-540-0117", "JCB", "540-140", "twenty"]])
    clock.set(datetime(2026, 11, 20, 14, 5))
    first = import_file(admin, "customers", "clients.csv")
    clock.set(datetime(2026, 11, 21, 8, 30))
    undo_import(admin, first.job_id)
    clock.set(datetime(2026, 11, 22, 16, 45))
    import_file(admin, "equipment", "machines.csv")
    clock.set(datetime(2026, 11, 23, 9, 10))
    import_file(admin, "customers", "clients.csv", options=ImportOptions(on_match="update"))
    clock.set(NOW)

    async def run(pilot):
        await settled(pilot)
        pilot.app.action_open_import_jobs()
        await settled(pilot)

    assert snap_compare(app_for("administrator", "mette"), run_before=run)


def test_export_dialog(snap_compare, app_for, files):
    async def run(pilot):
        await settled(pilot)
        await pilot.press("f6")
        await settled(pilot)
        dialog = pilot.app.screen
        dialog.query_one("#export-what", Select).value = "contacts"
        await settled(pilot)
        dialog.query_one("#export-format", Select).value = "vcard"
        dialog.query_one("#export-search", Input).value = "lyon"
        await settled(pilot)

    assert snap_compare(app_for("administrator", "mette"), run_before=run)
