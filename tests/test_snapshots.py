"""SVG snapshots of the main screens at 80x24, on fixed data.

Update after an intended change with ``pytest tests/test_snapshots.py --snapshot-update``
and look at the SVGs before committing them.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import pytest
from textual.widgets import Checkbox, Input, Select

from tui.domain import models
from tui.domain.context import Actor, Context
from tui.domain.services.contacts import ContactDraft, add_contact
from tui.domain.services.customers import (CustomerDraft, create_customer, get_customer,
                                           update_customer)
from tui.domain.services.documents import add_document
from tui.domain.services.equipment import assign_equipment, unassign_equipment
from tui.domain.services.events import record_event


from tests.frozen_clock import NOW, clock  # noqa: F401 - an autouse fixture
from tests.pilot import type_text


@pytest.fixture(autouse=True)
def no_mail_settings(monkeypatch):
    """E-mail not configured, whatever the environment says: the wizard and outbox say so."""
    for variable in ("CLIENTBOOK_SMTP_HOST", "CLIENTBOOK_SMTP_PORT", "CLIENTBOOK_SMTP_SECURITY",
                     "CLIENTBOOK_SMTP_USERNAME", "CLIENTBOOK_SMTP_PASSWORD",
                     "CLIENTBOOK_MAIL_FROM"):
        monkeypatch.delenv(variable, raising=False)


async def settled(pilot) -> None:
    """Let searches finish and stop every cursor blinking, so the picture is stable."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    for widget in pilot.app.screen.query("Input, TextArea"):
        widget.cursor_blink = False
    await pilot.pause()


@pytest.fixture
def sample(make_customer):
    make_customer("Nordic Lifting A/S", phone="+45 87 65 43 21", billing_city="Aarhus",
                  segment="dealer", contacts=(ContactDraft(name="Mette Jensen"),))
    make_customer("Bâtir Rental SARL", billing_country="FR", billing_city="Lyon",
                  phone="04 72 00 11 22", segment="contractor")
    make_customer("Zoë Kran ApS", billing_city="Odense", segment="rental_company")
    make_customer("Keystone Plant Hire Ltd", billing_country="GB", billing_city="Leeds",
                  phone="020 7946 0321", segment="service_provider")


def test_customer_list(snap_compare, app_for, sample):
    assert snap_compare(app_for("administrator", "mette"), run_before=settled)


def test_customer_list_searched(snap_compare, app_for, sample):
    async def search(pilot):
        await type_text(pilot, "lift")
        await settled(pilot)

    assert snap_compare(app_for("administrator", "mette"), run_before=search)


def test_customer_list_empty_for_a_read_only_user(snap_compare, app_for):
    assert snap_compare(app_for("limited", "guest"), run_before=settled)


# == the new-customer wizard ===============================================================

async def open_wizard(pilot):
    from tui.screens.new_customer import NewCustomerScreen

    await settled(pilot)
    await pilot.press("ctrl+n")
    await settled(pilot)
    assert isinstance(pilot.app.screen, NewCustomerScreen)
    return pilot.app.screen


def fill(screen, **values: str) -> None:
    for widget_id, value in values.items():
        screen.query_one(f"#{widget_id}", Input).value = value


async def next_step(pilot, screen, number: int) -> None:
    await pilot.press("f9")
    await settled(pilot)
    assert screen.step == number - 1, str(screen.query_one("#step-title").render())


async def wizard_until(pilot, last_step: int) -> None:
    """A US company with two contacts, taken up to step ``last_step`` (1-4)."""
    screen = await open_wizard(pilot)
    fill(screen, name="Lone Star Cranes LLC", phone="+1 214 555 0142",
         email="office@lonestarcranes.example", website="lonestarcranes.example",
         billing_street="2100 Commerce St", billing_postal_code="75201",
         billing_city="Dallas", billing_country="US")
    await pilot.pause()
    screen.query_one("#billing_state_select", Select).value = "US-TX"
    screen.query_one("#billing_state_select", Select).focus()
    await settled(pilot)
    if last_step == 1:
        return
    await next_step(pilot, screen, 2)
    screen.query_one("#segment-rental_company").value = True
    fill(screen, groups="Key accounts, Texas")
    screen.query_one("#groups", Input).focus()
    await settled(pilot)
    if last_step == 2:
        return
    await next_step(pilot, screen, 3)
    for name, email, phone, job, roles in (
            ("Dana Whitfield", "dana@lonestarcranes.example", "214 555 0143", "Fleet manager",
             ("submission", "billing")),
            ("Luis Ortega", "luis@lonestarcranes.example", "", "Yard foreman", ("notify",))):
        await pilot.press("a")
        await settled(pilot)
        dialog = pilot.app.screen
        fill(dialog, name=name, email=email, phone=phone, job_title=job)
        for role in roles:
            dialog.query_one(f"#role-{role}", Checkbox).value = True
        await pilot.press("ctrl+s")
        await settled(pilot)
        assert pilot.app.screen is screen
    if last_step == 3:
        return
    await next_step(pilot, screen, 4)


@pytest.fixture
def known_groups(make_customer):
    make_customer("Gulf Coast Rigging Inc", billing_country="US", billing_state="US-TX",
                  groups=("Key accounts", "Texas"))


def test_wizard_step_1_company_with_us_state(snap_compare, app_for, known_groups):
    async def run(pilot):
        await wizard_until(pilot, 1)

    assert snap_compare(app_for("administrator", "mette"), run_before=run)


def test_wizard_step_2_relationship(snap_compare, app_for, known_groups):
    async def run(pilot):
        await wizard_until(pilot, 2)

    assert snap_compare(app_for("administrator", "mette"), run_before=run)


def test_wizard_step_3_two_contacts(snap_compare, app_for, known_groups):
    async def run(pilot):
        await wizard_until(pilot, 3)

    assert snap_compare(app_for("administrator", "mette"), run_before=run)


def test_wizard_step_4_review(snap_compare, app_for, known_groups):
    async def run(pilot):
        await wizard_until(pilot, 4)

    assert snap_compare(app_for("administrator", "mette"), run_before=run)


# == one customer: the four tabs ===========================================================

@pytest.fixture
def nordic(admin, make_customer, make_machine, clock, tmp_path):
    """A customer with contacts, two machines held (one returned earlier), two documents."""
    clock.set(datetime(2026, 3, 2, 8, 15))
    customer = make_customer(
        "Nordic Lifting A/S", phone="+45 87 65 43 21", email="info@nordic-lifting.example",
        website="nordic-lifting.example", billing_street="Sønderhøj 12",
        billing_postal_code="8260", billing_city="Viby J", segment="dealer",
        groups=("Key accounts", "North"), notes="Prefers deliveries before noon.")
    for draft in (
            ContactDraft(name="Mette Jensen", email="mette@nordic-lifting.example",
                         phone="+45 20 30 40 50", job_title="Buyer",
                         roles=("submission", "billing")),
            ContactDraft(name="Anders Holm", email="anders@nordic-lifting.example",
                         phone="+45 40 11 22 33", job_title="Mechanic", roles=("notify",)),
            ContactDraft(name="Sofie Lund", email="sofie@nordic-lifting.example",
                         job_title="Site lead", roles=("execution",))):
        add_contact(admin, customer.id, draft)
    machines = {serial: make_machine(serial, name=name, make=make, model=model, type=kind)
                for serial, name, make, model, kind in (
                    ("CAT-320-0042", "Excavator 20 t", "Caterpillar", "320", "excavator"),
                    ("JCB-540-0117", "Telehandler", "JCB", "540-140", "telehandler"),
                    ("GEN-XAS-0009", "Generator", "Atlas Copco", "QAS 60", "generator"),
                    ("LFT-GS19-03", "Scissor lift", "Genie", "GS-1930", "lift"),
                    ("CMP-XAS-0021", "Compressor", "Atlas Copco", "XAS 58", "compressor"))}
    assign_equipment(admin, customer.id, [machines["GEN-XAS-0009"].id])
    clock.set(datetime(2026, 5, 18, 13, 40))
    unassign_equipment(as_other(admin, "anders"), [machines["GEN-XAS-0009"].id])
    clock.set(datetime(2026, 6, 1, 7, 5))
    assign_equipment(admin, customer.id, [machines["CAT-320-0042"].id])
    clock.set(datetime(2026, 10, 14, 11, 20))
    assign_equipment(as_other(admin, "mette"), customer.id, [machines["JCB-540-0117"].id])
    paper = tmp_path / "contract 2026.pdf"
    paper.write_bytes(b"%PDF-1.4 the signed contract\n" * 50)
    add_document(admin, customer.id, "Liability insurance", "insurance", paper,
                 date(2026, 10, 1))  # overdue on 2026-11-23
    add_document(admin, customer.id, "Framework agreement", "contract", None,
                 date(2027, 3, 31))  # well in the future
    clock.set(NOW)
    return customer


def as_other(ctx, login: str):
    actor = ctx.actor
    return Context(ctx.db, ctx.config, Actor(login, actor.role, actor.permissions, login))


async def open_customer(pilot, customer_id: int, tab: str = "1") -> None:
    from tui.screens.customer import CustomerScreen

    await settled(pilot)
    pilot.app.action_open_customer(customer_id)
    await settled(pilot)
    assert isinstance(pilot.app.screen, CustomerScreen)
    if tab != "1":
        await pilot.press(tab)
    await settled(pilot)


def test_customer_details(snap_compare, app_for, nordic):
    async def run(pilot):
        await open_customer(pilot, nordic.id)

    assert snap_compare(app_for("administrator", "mette"), run_before=run)


def test_customer_details_editing(snap_compare, app_for, nordic):
    async def run(pilot):
        await open_customer(pilot, nordic.id)
        await pilot.press("e")
        await settled(pilot)

    assert snap_compare(app_for("administrator", "mette"), run_before=run)


def test_customer_details_notices(snap_compare, app_for, nordic):
    """The end of the form: the relationship and the notices its contacts receive, in words."""
    async def run(pilot):
        await open_customer(pilot, nordic.id)
        pilot.app.screen.query_one("#fields").scroll_end(animate=False)
        await settled(pilot)

    assert snap_compare(app_for("administrator", "mette"), run_before=run)


def test_customer_details_editing_notices(snap_compare, app_for, nordic):
    """Editing: the multi-select, with Alarm unticked from the keyboard."""
    async def run(pilot):
        await open_customer(pilot, nordic.id)
        await pilot.press("e")
        await settled(pilot)
        pilot.app.screen.query_one("#notify_event_types").focus()
        await pilot.press("down", "down", "space")
        pilot.app.screen.query_one("#fields").scroll_end(animate=False)
        await settled(pilot)

    assert snap_compare(app_for("administrator", "mette"), run_before=run)


def test_customer_contacts(snap_compare, app_for, nordic):
    async def run(pilot):
        await open_customer(pilot, nordic.id, "2")

    assert snap_compare(app_for("administrator", "mette"), run_before=run)


def test_customer_equipment_two_held(snap_compare, app_for, nordic):
    async def run(pilot):
        await open_customer(pilot, nordic.id, "3")

    assert snap_compare(app_for("administrator", "mette"), run_before=run)


def test_customer_documents_overdue_and_future(snap_compare, app_for, nordic):
    async def run(pilot):
        await open_customer(pilot, nordic.id, "4")

    assert snap_compare(app_for("administrator", "mette"), run_before=run)


# == dialogs ==============================================================================

def test_delete_customer_confirmation(snap_compare, app_for, nordic):
    async def run(pilot):
        await open_customer(pilot, nordic.id)
        await pilot.press("ctrl+d")
        await settled(pilot)

    assert snap_compare(app_for("administrator", "mette"), run_before=run)


def test_contact_form_with_validation_error(snap_compare, app_for, nordic):
    async def run(pilot):
        await open_customer(pilot, nordic.id, "2")
        await pilot.press("a")
        await settled(pilot)
        fill(pilot.app.screen, name="Jonas Berg", email="jonas@", phone="12",
             job_title="Driver")
        await pilot.press("ctrl+s")
        await settled(pilot)

    assert snap_compare(app_for("administrator", "mette"), run_before=run)


def test_pick_equipment_one_marked(snap_compare, app_for, nordic):
    async def run(pilot):
        await open_customer(pilot, nordic.id, "3")
        await pilot.press("a")
        await settled(pilot)
        await pilot.press("down", "space")  # to the list, mark the first row
        await settled(pilot)

    assert snap_compare(app_for("administrator", "mette"), run_before=run)


def test_document_form(snap_compare, app_for, nordic):
    async def run(pilot):
        await open_customer(pilot, nordic.id, "4")
        await pilot.press("a")
        await settled(pilot)
        fill(pilot.app.screen, **{"form-title": "Inspection certificate",
                                  "form-reminder": "2027-01-15"})
        pilot.app.screen.query_one("#form-kind", Select).value = "certificate"
        await settled(pilot)

    assert snap_compare(app_for("administrator", "mette"), run_before=run)


def test_export_document_dialog(snap_compare, app_for, nordic):
    async def run(pilot):
        await open_customer(pilot, nordic.id, "4")
        await pilot.press("x")
        await settled(pilot)

    assert snap_compare(app_for("administrator", "mette"), run_before=run)


def test_conflict_dialog(snap_compare, app_for, as_role, nordic, clock):
    async def run(pilot):
        await open_customer(pilot, nordic.id)
        await pilot.press("e")
        await settled(pilot)
        fill(pilot.app.screen, billing_city="Aarhus C", billing_postal_code="8000")
        await pilot.pause()
        # another operator renames the customer meanwhile
        other = as_role("administrator", "jakob")
        current = get_customer(other, nordic.id)
        clock.set(datetime(2026, 11, 23, 9, 42))
        update_customer(other, nordic.id, current.version,
                        replace(CustomerDraft.from_customer(current), name="Nordic Lifting ApS",
                                groups=("Key accounts", "North")))
        clock.set(NOW)
        await pilot.press("ctrl+s")
        await settled(pilot)

    assert snap_compare(app_for("administrator", "mette"), run_before=run)


def test_help_on_the_equipment_tab(snap_compare, app_for, nordic):
    async def run(pilot):
        await open_customer(pilot, nordic.id, "3")
        await pilot.press("f1")
        await settled(pilot)

    assert snap_compare(app_for("administrator", "mette"), run_before=run)


# == the assignment history ================================================================

def test_assignment_history(snap_compare, app_for, nordic):
    async def run(pilot):
        await open_customer(pilot, nordic.id, "3")
        await pilot.press("h")
        await settled(pilot)

    assert snap_compare(app_for("administrator", "mette"), run_before=run)


# == the outbox ===========================================================================

@pytest.fixture
def outbox(admin, nordic, clock):
    """Sent, failed and pending messages: equipment events to Anders, welcomes in French."""
    machines = {m.serial: m.id for m in models.Equipment.select()}
    clock.set(datetime(2026, 11, 21, 10, 15))
    record_event(admin, type="breakdown", message="Hydraulic pump leaking",
                 equipment_id=machines["CAT-320-0042"])
    models.Notification.update(status="sent", attempts=1,
                               sent_at=datetime(2026, 11, 21, 10, 16)).execute()
    clock.set(datetime(2026, 11, 22, 16, 40))
    create_customer(admin, CustomerDraft(
        name="Bâtir Rental SARL", billing_country="FR", language="fr", contacts=(
            ContactDraft(name="Camille Durand", email="camille@batir-rental.example"),
            ContactDraft(name="Hugo Petit", email="hugo@batir-rental.example"))),
        send_welcome=True)
    models.Notification.update(
        status="failed", attempts=1, last_error="recipient refused: 550 5.1.1 no such user").where(
        models.Notification.recipient_name == "Hugo Petit").execute()
    clock.set(datetime(2026, 11, 23, 9, 12))
    record_event(admin, type="alarm", message="Overload alarm on boom",
                 equipment_id=machines["JCB-540-0117"])
    clock.set(NOW)


async def open_outbox(pilot):
    from tui.screens.outbox import OutboxScreen

    await settled(pilot)
    await pilot.press("f4")
    await settled(pilot)
    assert isinstance(pilot.app.screen, OutboxScreen)


def test_outbox_pending_sent_and_failed(snap_compare, app_for, outbox):
    assert snap_compare(app_for("administrator", "mette"), run_before=open_outbox)


def test_outbox_message_view(snap_compare, app_for, outbox):
    async def run(pilot):
        await open_outbox(pilot)
        await pilot.press("down", "enter")  # Hugo Petit's failed welcome
        await settled(pilot)

    assert snap_compare(app_for("administrator", "mette"), run_before=run)
