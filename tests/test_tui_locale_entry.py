"""Entry fields in the operator's locale, through the keys (issue 9): the estimate screen in
French and Danish shows its date, quantities and totals as those locales write them and
accepts what it shows (23/11/2026 and 1 234,5 in French; 23.11.2026 and 1.234,50 in
Danish); a date it cannot read is named with the locale's example; the project form reads
Danish dates and budget and shows them back the same way.

The language is process-wide: the fixture sets it before the app is made and puts English
back afterwards."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import partial

import pytest
from textual.widgets import DataTable, Input, Static

from tests.pilot import settle, type_text, until
from tui import i18n
from tui.domain.models import Estimate, EstimateLine, Project, utcnow
from tui.domain.services.projects import create_project
from tui.i18n import _
from tui.screens.estimate import EstimateScreen
from tui.screens.projects import ProjectsScreen
from tui.widgets.address_fields import FieldRow
from tui.widgets.estimate_line_form import EstimateLineDialog
from tui.widgets.project_form import ProjectFormDialog

NBSP, NNBSP = "\u00a0", "\u202f"


@pytest.fixture
def language():
    """``language("fr")`` before making the app; English again after the test."""
    yield i18n.set_language
    i18n.set_language("en")


def plain(text: str) -> str:
    return text.replace(NBSP, " ").replace(NNBSP, " ")


async def on_screen(pilot, kind) -> object:
    await until(pilot, lambda: isinstance(pilot.app.screen, kind), kind.__name__)
    await settle(pilot)
    return pilot.app.screen


def text(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def rows(screen, selector: str) -> list[list[str]]:
    table = screen.query_one(selector, DataTable)
    return [[plain(str(cell)) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def field_error(screen, field: str) -> str:
    return next(row for row in screen.query(FieldRow) if row.field_key == field).error


async def type_into(pilot, screen, selector: str, value: str) -> None:
    field = screen.query_one(selector, Input)
    field.value = ""
    field.focus()
    await pilot.pause()
    await type_text(pilot, value)


async def add_line(pilot, description: str, quantity: str, price: str) -> None:
    await pilot.press("a")
    dialog = await on_screen(pilot, EstimateLineDialog)
    await type_text(pilot, description)
    await pilot.press("tab")
    dialog.query_one("#line-quantity", Input).value = ""
    await type_text(pilot, quantity)
    await pilot.press("enter")  # to the unit price
    await type_text(pilot, price)
    await pilot.press("enter")  # OK
    await on_screen(pilot, EstimateScreen)


async def test_a_french_estimate_shows_and_reads_french_forms(language, app_for, make_customer):
    language("fr")
    lyon = make_customer("Bâtir Lyon SARL", billing_country="FR", currency="EUR",
                         language="fr")
    app = app_for("administrator")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.push_screen(EstimateScreen(customer_id=lyon.id))
        screen = await on_screen(pilot, EstimateScreen)
        today = utcnow().date()
        assert screen.query_one("#estimate-date", Input).value == (
            f"{today.day:02d}/{today.month:02d}/{today.year}")
        await type_text(pilot, "Grue")  # the title has the focus
        await type_into(pilot, screen, "#estimate-date", "23/11/2026")
        await pilot.press("escape")  # leaves the field for the lines
        await add_line(pilot, "Grue mobile", "1 234,5", "1")
        await add_line(pilot, "Remise", "1", "-0,5")
        assert [row[2:] for row in rows(screen, "#estimate-lines")] == [
            ["1 234,5", "1,00 €", "1 234,50 €"], ["1", "-0,50 €", "-0,50 €"]]
        assert plain(text(screen, "#estimate-total")) == plain(
            _("Total {amount}").format(amount="1 234,00 €"))
        await pilot.press("ctrl+s")
        await settle(pilot)
        stored = Estimate.get()
        assert (stored.issued_on, stored.total_minor) == (date(2026, 11, 23), 123400)
        lines = list(EstimateLine.select().order_by(EstimateLine.position))
        assert [(line.quantity, line.unit_price_minor) for line in lines] == [
            (Decimal("1234.5"), 100), (Decimal(1), -50)]
        # reopened: the fields show the French forms again, and saving changes nothing
        assert screen.query_one("#estimate-date", Input).value == "23/11/2026"
        assert not screen.dirty


async def test_a_danish_estimate_reads_danish_forms(language, app_for, make_customer):
    language("da")
    fjord = make_customer("Fjord Kran ApS", currency="DKK", language="da")
    app = app_for("administrator")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.push_screen(EstimateScreen(customer_id=fjord.id))
        screen = await on_screen(pilot, EstimateScreen)
        await type_text(pilot, "Kranleje")
        await type_into(pilot, screen, "#estimate-date", "23.11.2026")
        await pilot.press("escape")
        await add_line(pilot, "Mobilkran", "2", "1.234,50")
        assert rows(screen, "#estimate-lines")[0][2:] == ["2", "1.234,50 kr.", "2.469,00 kr."]
        assert plain(text(screen, "#estimate-total")) == plain(
            _("Total {amount}").format(amount="2.469,00 kr."))
        await pilot.press("ctrl+s")
        await settle(pilot)
        stored = Estimate.get()
        assert (stored.issued_on, stored.total_minor) == (date(2026, 11, 23), 246900)
        assert EstimateLine.get().unit_price_minor == 123450


async def test_a_date_the_locale_cannot_read_is_named_with_its_example(
        language, app_for, make_customer):
    language("fr")
    lyon = make_customer("Bâtir Lyon SARL", billing_country="FR", currency="EUR")
    app = app_for("administrator")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.push_screen(EstimateScreen(customer_id=lyon.id))
        screen = await on_screen(pilot, EstimateScreen)
        await type_text(pilot, "Grue")
        await type_into(pilot, screen, "#estimate-date", "11/23/2026")  # a US date
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert not Estimate.select().exists()
        error = field_error(screen, "issued_on")
        assert '"11/23/2026"' in error and "23/11/2026" in error


async def test_a_danish_project_form_reads_and_shows_danish_dates_and_budget(
        language, app_for, make_customer):
    language("da")
    granit = make_customer("Granit Byg A/S", currency="DKK", language="da")
    app = app_for("administrator")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.push_screen(ProjectsScreen())
        screen = await on_screen(pilot, ProjectsScreen)
        screen.open_form("Havnebad", granit.id, "", partial(create_project, app.ctx,
                                                            granit.id))
        form = await on_screen(pilot, ProjectFormDialog)
        for value in ("Havnebad", "01.04.2026", "2026-05-01", "31.04.2026", "1.250.000,50"):
            await type_text(pilot, value)
            await pilot.press("enter")  # to the next field
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is form and not Project.select().exists()
        assert "23.11.2026" in field_error(form, "ends_on")  # no 31 April: the Danish form
        await type_into(pilot, form, "#project-ends_on", "30.09.2026")
        await pilot.press("ctrl+s")
        await on_screen(pilot, ProjectsScreen)
        project = Project.get()
        assert (project.submission_deadline, project.starts_on, project.ends_on,
                project.budget_minor) == (date(2026, 4, 1), date(2026, 5, 1),
                                          date(2026, 9, 30), 125000050)
        assert rows(screen, "#projects")[0][2:4] == ["01.04.2026", "1.250.000,50 kr."]
        await pilot.press("e")
        form = await on_screen(pilot, ProjectFormDialog)
        assert [form.query_one(f"#project-{key}", Input).value for key in (
            "submission_deadline", "starts_on", "ends_on", "budget")] == [
            "01.04.2026", "01.05.2026", "30.09.2026", "1.250.000,50"]
