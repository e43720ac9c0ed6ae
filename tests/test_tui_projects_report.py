"""Pilot tests of the Projects screen and its form, contact deletion that empties project
places, the customer deletion notice about projects, and the report by group and segment.

Screens are pushed directly (not through app-wide keys) so these tests do not depend on
where the application binds them."""

from __future__ import annotations

import io
import re
from datetime import date

import pytest
from rich.console import Console
from textual.widgets import DataTable, Input, Static

from tests.conftest import ContactDraft
from tests.pilot import settle, type_text, until
from tui.domain.models import Contact, Project
from tui.domain.services import contacts as contact_service
from tui.domain.services.equipment import assign_equipment, unassign_equipment
from tui.domain.services.estimates import EstimateDraft, LineDraft, create_estimate, set_status
from tui.domain.services.projects import ProjectDraft, close_project, create_project
from tui.screens.customer import CustomerScreen
from tui.screens.projects import ProjectsScreen
from tui.screens.report import ReportScreen, bar
from tui.widgets.address_fields import FieldRow
from tui.widgets.confirm import ConfirmDialog
from tui.widgets.pick_customer import PickCustomerDialog
from tui.widgets.project_form import ProjectFormDialog


# -- helpers --------------------------------------------------------------------------------

async def on_screen(pilot, kind) -> object:
    await until(pilot, lambda: isinstance(pilot.app.screen, kind), kind.__name__)
    await settle(pilot)
    return pilot.app.screen


async def start(pilot) -> None:
    await settle(pilot)
    pilot.app.NOTIFICATION_TIMEOUT = 3600  # a loaded machine must not expire them mid-test


def rows(screen, selector: str) -> list[list[str]]:
    table = screen.query_one(selector, DataTable)
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


def text(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def screen_text(app) -> str:
    """The screen as the terminal shows it, as plain text."""
    console = Console(width=80, height=24, file=io.StringIO(), record=True, color_system=None)
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text()


def chart_lines(shown: str, labels) -> list[tuple[str, str, str]]:
    """(label, bar, value) of the chart's rows: the last line starting with each label."""
    found = {}
    for line in shown.splitlines():
        label = line[:20].strip()  # a padding cell, then the 18-cell label column
        if label in labels:
            drawn = re.match(r"\s*([█▏▎▍▌▋▊▉]*)\s*(.*?)\s*$", line[20:])
            found[label] = (label, drawn.group(1), drawn.group(2))
    return [found[label] for label in labels]


def messages(app) -> list[str]:
    return [str(notification.message) for notification in app._notifications]


def offered(app) -> set[str]:
    return {active.binding.action for active in app.screen.active_bindings.values()
            if active.node is app.screen}


def field_error(screen, field: str) -> str:
    return next(row.error for row in screen.query(FieldRow) if row.field_key == field)


@pytest.fixture
def granit(make_customer):
    return make_customer("Granit Byg A/S", currency="DKK", contacts=(
        ContactDraft(name="Mette Bid", roles=("submission",)),
        ContactDraft(name="Lars Money", roles=("billing",)),
        ContactDraft(name="Søren Site", roles=("execution", "notify"))))


def contact_ids(admin, customer) -> dict[str, int]:
    return {c.name: c.id for c in contact_service.list_contacts(admin, customer.id)}


@pytest.fixture
def bridge(admin, granit):
    ids = contact_ids(admin, granit)
    return create_project(admin, granit.id, ProjectDraft(
        "Harbour bridge", "2026-04-01", "2026-05-01", "2026-09-30", "1250000",
        ids["Mette Bid"], ids["Lars Money"], ids["Søren Site"]))


# -- projects -------------------------------------------------------------------------------

async def test_create_a_project_with_its_three_contacts(app_for, granit, make_customer):
    make_customer("Other Hire ApS")
    app = app_for("account_owner", "olga")
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot)
        app.push_screen(ProjectsScreen())
        screen = await on_screen(pilot, ProjectsScreen)
        assert text(screen, "#projects-status") == "No projects here. s shows other states."
        await pilot.press("n")
        await on_screen(pilot, PickCustomerDialog)
        await type_text(pilot, "granit")
        await pilot.press("enter", "enter")
        form = await on_screen(pilot, ProjectFormDialog)
        assert text(form, "#project-customer") == "Customer: Granit Byg A/S"
        assert str(form.query_one("#project-currency", Static).render()) == "DKK"
        for value in ("Harbour bridge", "2026-04-01", "2026-05-01", "2026-04-30", "1 250 000"):
            await type_text(pilot, value)
            await pilot.press("enter")  # to the next field
        # three contacts, each from the list with the matching role first
        for _place in range(3):
            await pilot.press("enter", "down", "enter")
            await pilot.pause()
            await pilot.press("tab")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, ProjectFormDialog)  # the service refused a field
        assert field_error(form, "ends_on") == "The end date is before the start date."
        assert not Project.select().exists()
        form.query_one("#project-ends_on", Input).value = "2026-09-30"
        await pilot.press("ctrl+s")
        await on_screen(pilot, ProjectsScreen)
        project = Project.get()
        names = {c.id: c.name for c in Contact.select()}
        assert (project.name, project.starts_on, project.ends_on, project.budget_minor,
                project.currency, project.state) == (
            "Harbour bridge", date(2026, 5, 1), date(2026, 9, 30), 125000000, "DKK", "open")
        assert [names[getattr(project, f"{place}_contact_id")]
                for place in ("submission", "billing", "execution")] == [
            "Mette Bid", "Lars Money", "Søren Site"]
        assert "Project Harbour bridge saved." in messages(app)
        assert rows(screen, "#projects") == [["Harbour bridge", "Granit Byg A/S", "4/1/2026",
                                              "DKK\u00a01,250,000.00", "Open"]]  # en_US
        detail = text(screen, "#projects-detail")
        assert "Starts 5/1/2026 · ends 9/30/2026" in detail
        assert "Submission: Mette Bid · Billing: Lars Money · Execution: Søren Site" in detail


async def test_closed_project_refuses_changes_until_reopened(app_for, bridge):
    app = app_for("administrator")
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot)
        app.push_screen(ProjectsScreen())
        screen = await on_screen(pilot, ProjectsScreen)
        assert "reopen" not in offered(app) and "close" in offered(app)
        await pilot.press("c")
        await settle(pilot)
        assert Project.get().state == "closed"
        assert rows(screen, "#projects") == []  # open ones by default
        await pilot.press("s")  # closed ones
        await settle(pilot)
        assert [row[4] for row in rows(screen, "#projects")] == ["Closed"]
        assert "close" not in offered(app) and "reopen" in offered(app)
        version = Project.get().version
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, ProjectsScreen)  # no form to type into
        refusal = "Project Harbour bridge is closed: reopen it before changing it."
        assert refusal in messages(app)
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, ProjectsScreen)
        assert messages(app).count(refusal) == 2 and Project.get().version == version
        await pilot.press("r")
        await settle(pilot)
        assert Project.get().state == "open"
        assert "Project Harbour bridge reopened." in messages(app)
        await pilot.press("s")  # all states
        await settle(pilot)
        assert [row[0] for row in rows(screen, "#projects")] == ["Harbour bridge"]
        await pilot.press("e")
        form = await on_screen(pilot, ProjectFormDialog)
        assert form.query_one("#project-budget", Input).value == "1,250,000.00"  # en_US
        form.query_one("#project-name", Input).value = "Harbour bridge, phase 2"
        await pilot.press("ctrl+s")
        await on_screen(pilot, ProjectsScreen)
        assert Project.get().name == "Harbour bridge, phase 2"
        assert Project.get().billing_contact is not None  # the contacts were kept


async def test_a_project_closed_meanwhile_is_refused_in_the_form(app_for, admin, bridge):
    app = app_for("administrator")
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot)
        app.push_screen(ProjectsScreen())
        await on_screen(pilot, ProjectsScreen)
        await pilot.press("e")
        form = await on_screen(pilot, ProjectFormDialog)
        close_project(admin, bridge.id, bridge.version)  # another operator, meanwhile
        form.query_one("#project-name", Input).value = "Renamed"
        await pilot.press("ctrl+s")
        await on_screen(pilot, ProjectsScreen)
        assert any("is closed: reopen it" in m for m in messages(app))
        assert Project.get().name == "Harbour bridge"


@pytest.mark.parametrize("role", ["limited", "estimator"])
async def test_viewers_see_projects_but_cannot_change_them(app_for, bridge, role):
    app = app_for(role)
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot)
        app.push_screen(ProjectsScreen())
        screen = await on_screen(pilot, ProjectsScreen)
        assert [row[0] for row in rows(screen, "#projects")] == ["Harbour bridge"]
        assert "Lars Money" in text(screen, "#projects-detail")
        assert offered(app) & {"new", "edit", "close", "reopen", "delete"} == set()
        assert {"cycle_state", "back"} <= offered(app)
        await pilot.press("n", "e", "c", "d", "enter")
        await pilot.pause()
        assert isinstance(app.screen, ProjectsScreen)
        assert Project.get().version == bridge.version and Project.get().state == "open"


# -- contacts used by projects, customers with projects -------------------------------------

async def test_deleting_a_contact_names_its_projects_then_clears_them(app_for, admin, granit,
                                                                      bridge):
    app = app_for("administrator")
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot)
        app.action_open_customer(granit.id)
        customer = await on_screen(pilot, CustomerScreen)
        await pilot.press("2")
        await settle(pilot)
        table = customer.query_one("#contacts-table", DataTable)
        names = [row[1] for row in rows(customer, "#contacts-table")]
        table.move_cursor(row=names.index("Lars Money"))
        await pilot.press("d")
        confirm = await on_screen(pilot, ConfirmDialog)
        assert "Projects that lose a contact:\n• Harbour bridge: Billing contact, Lars Money" \
            in confirm.body
        await pilot.press("escape")  # not now: nothing changes
        await on_screen(pilot, CustomerScreen)
        assert Project.get().billing_contact_id == contact_ids(admin, granit)["Lars Money"]
        await pilot.press("d")
        await on_screen(pilot, ConfirmDialog)
        await pilot.press("y")
        await on_screen(pilot, CustomerScreen)
        assert "Lars Money" not in contact_ids(admin, granit)
        project = Project.get()
        assert project.billing_contact_id is None
        assert project.submission_contact_id is not None  # the other places stay


async def test_customer_delete_notice_counts_projects(app_for, granit, bridge):
    app = app_for("administrator")
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot)
        app.action_open_customer(granit.id)
        await on_screen(pilot, CustomerScreen)
        await pilot.press("ctrl+d")
        confirm = await on_screen(pilot, ConfirmDialog)
        assert "Its 1 project is deleted too." in confirm.body
        assert "estimate" not in confirm.body  # none to unlink: not mentioned
        await pilot.press("escape")


# -- the report -----------------------------------------------------------------------------

def estimate(admin, customer, amount: str, status: str = "draft") -> None:
    made = create_estimate(admin, EstimateDraft(customer.id, "Hire", "2026-03-01",
                                                (LineDraft("Hire", "1", amount),)))
    if status != "draft":
        set_status(admin, made.id, made.version, status)


@pytest.fixture
def dataset(admin, make_customer, make_machine):
    """Alpha: dealer in North and South, 2 contacts, 2 machines, open EUR 100 + 50 (and an
    accepted 1000). Beta: dealer in North, 1 contact, 1 machine held (one returned), open
    DKK 300. Gamma: contractor in no group, a declined estimate only."""
    alpha = make_customer("Alpha", segment="dealer", groups=("North", "South"), currency="EUR",
                          contacts=(ContactDraft(name="A1"), ContactDraft(name="A2")))
    beta = make_customer("Beta", segment="dealer", groups=("North",), currency="DKK",
                         contacts=(ContactDraft(name="B1"),))
    gamma = make_customer("Gamma", segment="contractor", currency="EUR")
    machines = [make_machine() for _ in range(4)]
    assign_equipment(admin, alpha.id, [machines[0].id, machines[1].id])
    assign_equipment(admin, beta.id, [machines[2].id, machines[3].id])
    unassign_equipment(admin, [machines[3].id])
    estimate(admin, alpha, "100")
    estimate(admin, alpha, "50", "sent")
    estimate(admin, alpha, "1000", "accepted")
    estimate(admin, beta, "300")
    estimate(admin, gamma, "70", "declined")


async def test_report_shows_the_known_figures_by_group_and_segment(app_for, dataset):
    app = app_for("limited")
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot)
        app.push_screen(ReportScreen())
        screen = await on_screen(pilot, ReportScreen)
        assert rows(screen, "#report-table") == [
            ["North", "2", "3", "3", "3", "DKK\u00a0300.00\n€150.00"],  # en_US
            ["South", "1", "2", "2", "2", "€150.00"],
            ["(no group)", "1", "0", "0", "0", "—"]]
        shown = screen_text(app)
        assert "A customer in several groups counts in each of them." in shown
        assert "Customers per group" in shown
        assert chart_lines(shown, ("North", "South", "(no group)")) == [
            ("North", "█" * 40, "2"), ("South", "█" * 20, "1"), ("(no group)", "█" * 20, "1")]
        await pilot.press("m", "m", "m")  # customers -> contacts -> machines -> DKK
        assert "Open estimates, DKK per group" in screen_text(app)
        await pilot.press("m")
        assert chart_lines(screen_text(app), ("North", "South", "(no group)")) == [
            ("North", "█" * 40, "€150.00"), ("South", "█" * 40, "€150.00"),
            ("(no group)", "", "0")]
        await pilot.press("s")  # by segment: every customer once, so a total row
        await settle(pilot)
        assert rows(screen, "#report-table") == [
            ["Dealer", "2", "3", "3", "3", "DKK\u00a0300.00\n€150.00"],
            ["Service provider", "0", "0", "0", "0", "—"],
            ["Rental company", "0", "0", "0", "0", "—"],
            ["Contractor", "1", "0", "0", "0", "—"],
            ["Other", "0", "0", "0", "0", "—"],
            ["All segments", "3", "3", "3", "3", "DKK\u00a0300.00\n€150.00"]]
        assert "Open estimates, EUR per segment" in screen_text(app)  # the measure stays
        assert {"by('group')", "cycle_measure", "back"} <= offered(app)
        assert "by('segment')" not in offered(app)  # the one shown is not offered again


def test_bars_are_drawn_in_eighths_of_a_cell():
    assert bar(0, 10) == "" and bar(5, 0) == ""
    assert bar(10, 10, width=4) == "████"
    assert bar(1, 16, width=4) == "▎"  # 2 eighths
    assert bar(9, 16, width=4) == "██▎"
    assert bar(1, 10_000, width=4) == "▏"  # never invisible when above zero


def test_who_may_see_the_report(config):
    from tests.conftest import actor_for
    from tui.domain.context import Actor
    from tui.screens.report import may_see_report

    assert all(may_see_report(actor_for(config, role)) for role in config.roles)
    assert not may_see_report(Actor("nobody", "none", frozenset({"customer.view"})))


async def test_report_refused_says_why(app_for, db, config):
    from tui.domain.context import Actor, Context
    from tui.app import ClientbookApp

    app = ClientbookApp(Context(db, config, Actor("nina", "custom", frozenset(
        {"customer.view", "contact.view", "equipment.view"}), "nina")))
    async with app.run_test(size=(80, 24)) as pilot:
        await start(pilot)
        app.push_screen(ReportScreen())
        screen = await on_screen(pilot, ReportScreen)
        assert text(screen, "#report-heading") == "nina is not allowed to view estimates."
