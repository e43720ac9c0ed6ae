"""SVG snapshots of the estimates, projects and report screens and their dialogs, 80x24.

Update after an intended change with
``pytest tests/test_snapshots_estimates.py -n 0 --snapshot-update`` and look at the
SVGs before committing them.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.conftest import ContactDraft
from tui.domain.services import contacts as contact_service
from tui.domain.services.customers import delete_customer
from tui.domain.services.equipment import assign_equipment
from tui.domain.services.estimates import EstimateDraft, LineDraft, create_estimate, set_status
from tui.domain.services.projects import ProjectDraft, close_project, create_project
from tui.screens.estimate import EstimateScreen
from tui.screens.estimates import EstimatesScreen
from tui.screens.projects import ProjectsScreen
from tui.screens.report import ReportScreen

from tests.frozen_clock import NOW, clock  # noqa: F401 - an autouse fixture


async def settled(pilot, focused: str | None = None) -> None:
    """Let workers finish (and the widget ``focused`` take the focus, when given), then stop
    every cursor blinking, so the picture is stable even on a loaded machine."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    for _attempt in range(200):
        if focused is None or getattr(pilot.app.focused, "id", None) == focused:
            break
        await pilot.pause(0.05)
    for widget in pilot.app.screen.query("Input, TextArea"):
        widget.cursor_blink = False
    await pilot.pause()


@pytest.fixture
def books(admin, make_customer, make_machine, clock):
    """Three customers (one deleted since), their estimates, projects and machines."""
    clock.set(datetime(2026, 3, 2, 9, 0))
    lyon = make_customer(
        "Bâtir Lyon SARL", billing_country="FR", billing_street="12 Rue de la Gare",
        billing_postal_code="69003", billing_city="Lyon", shipping_same_as_billing=False,
        shipping_street="Chantier Part-Dieu", shipping_postal_code="69003",
        shipping_city="Lyon", shipping_country="FR", phone="04 72 00 00 01",
        email="compta@batir.example", currency="EUR", language="fr", segment="contractor",
        groups=("France",), contacts=(
            ContactDraft(name="Julien Site", roles=("execution",)),
            ContactDraft(name="Élodie Compta", roles=("billing",))))
    nordic = make_customer("Nordic Lifting A/S", billing_city="Aarhus", currency="DKK",
                           segment="rental_company", groups=("Nordics",), contacts=(
                               ContactDraft(name="Mette Bid", roles=("submission",)),
                               ContactDraft(name="Lars Money", roles=("billing",))))
    gone = make_customer("Fjord Hire ApS", currency="DKK", segment="rental_company")
    machines = [make_machine(name="Excavator") for _ in range(3)]
    assign_equipment(admin, lyon.id, [machines[0].id])
    assign_equipment(admin, nordic.id, [machines[1].id, machines[2].id])

    def estimate(customer, title, issued_on, lines, status="draft"):
        made = create_estimate(admin, EstimateDraft(customer.id, title, issued_on, tuple(
            LineDraft(*line) for line in lines)))
        if status != "draft":
            made = set_status(admin, made.id, made.version, status)
        return made

    crane = estimate(lyon, "Crane hire, Part-Dieu", "2026-03-14", [
        ("Mobile crane 60 t, with operator", "3", "1250.50"),
        ("Transport to site and back", "1", "400"), ("Loyalty discount", "1", "-150")])
    estimate(nordic, "Scissor lifts, spring", "2026-04-02",
             [("Scissor lift GS-1930, per week", "4", "1800")], "sent")
    estimate(nordic, "Telehandler", "2026-01-20", [("Telehandler, per day", "12.5", "950")],
             "accepted")
    estimate(gone, "Site dumper", "2026-02-11", [("Dumper, per week", "2", "2100")],
             "declined")
    delete_customer(admin, gone.id)
    ids = {c.name: c.id for customer in (lyon, nordic)
           for c in contact_service.list_contacts(admin, customer.id)}
    create_project(admin, lyon.id, ProjectDraft(
        "Pont de Lyon", "2026-12-15", "2027-02-01", "2027-09-30", "480000",
        None, ids["Élodie Compta"], ids["Julien Site"]))
    create_project(admin, nordic.id, ProjectDraft(
        "Aarhus harbour", "2026-12-01", "2027-01-10", "2027-06-30", "2500000",
        ids["Mette Bid"], ids["Lars Money"], None))
    old = create_project(admin, nordic.id, ProjectDraft("Aalborg depot", None, "2026-01-05",
                                                        "2026-03-31", None))
    close_project(admin, old.id, old.version)
    clock.set(NOW)
    return {"lyon": lyon, "nordic": nordic, "crane": crane}


async def push(pilot, screen) -> None:
    await settled(pilot)
    pilot.app.push_screen(screen)
    await settled(pilot)


def test_estimates_list(snap_compare, app_for, books):
    async def run(pilot):
        await push(pilot, EstimatesScreen())

    assert snap_compare(app_for("estimator", "eve"), run_before=run)


def test_estimate_screen(snap_compare, app_for, books):
    async def run(pilot):
        await push(pilot, EstimateScreen(books["crane"].id))

    assert snap_compare(app_for("estimator", "eve"), run_before=run)


def test_estimate_line_dialog(snap_compare, app_for, books):
    async def run(pilot):
        await push(pilot, EstimateScreen(books["crane"].id))
        await pilot.press("enter")  # the first line, in its dialog
        await settled(pilot, focused="line-description")

    assert snap_compare(app_for("estimator", "eve"), run_before=run)


def test_projects_list(snap_compare, app_for, books):
    async def run(pilot):
        await push(pilot, ProjectsScreen())

    assert snap_compare(app_for("account_owner", "olga"), run_before=run)


def test_project_form(snap_compare, app_for, books):
    async def run(pilot):
        await push(pilot, ProjectsScreen())
        await pilot.press("e")
        await settled(pilot, focused="project-name")

    assert snap_compare(app_for("account_owner", "olga"), run_before=run)


def test_report(snap_compare, app_for, books):
    async def run(pilot):
        await push(pilot, ReportScreen())

    assert snap_compare(app_for("limited", "lena"), run_before=run)


def test_customer_estimates_tab(snap_compare, app_for, books):
    async def run(pilot):
        await settled(pilot)
        pilot.app.action_open_customer(books["nordic"].id)
        await settled(pilot)
        await pilot.press("5")
        await settled(pilot)

    assert snap_compare(app_for("estimator", "eve"), run_before=run)
