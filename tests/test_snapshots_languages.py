"""SVG snapshots at 80x24 in English, French and Danish: the customer list, the wizard's first
step and the delete confirmation, where the longer French and Danish texts must still fit.

Update after an intended change with ``pytest tests/test_snapshots_languages.py -n 0
--snapshot-update`` and look at the SVGs before committing them.
"""

from __future__ import annotations

import pytest

from tui import i18n
from tui.domain.services.contacts import ContactDraft

from tests.frozen_clock import NOW, clock  # noqa: F401 - an autouse fixture
from tests.pilot import settle

LANGUAGES = ["en", "fr", "da"]


@pytest.fixture(params=LANGUAGES)
def language(request):
    i18n.set_language(request.param)
    yield request.param
    i18n.set_language("en")


@pytest.fixture(autouse=True)
def no_mail_settings(monkeypatch):
    for variable in ("CLIENTBOOK_SMTP_HOST", "CLIENTBOOK_SMTP_PORT", "CLIENTBOOK_SMTP_SECURITY",
                     "CLIENTBOOK_SMTP_USERNAME", "CLIENTBOOK_SMTP_PASSWORD",
                     "CLIENTBOOK_MAIL_FROM"):
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture
def customers(make_customer):
    nordic = make_customer("Nordic Lifting A/S", phone="+45 87 65 43 21", billing_city="Aarhus",
                           segment="dealer", contacts=(ContactDraft(name="Mette Jensen"),))
    make_customer("Bâtir Rental SARL", billing_country="FR", billing_city="Lyon",
                  phone="04 72 00 11 22", segment="contractor")
    make_customer("Zoë Kran ApS", billing_city="Odense", segment="rental_company")
    return nordic


async def still(pilot) -> None:
    """Searches done and no cursor blinking: the same picture every run."""
    await settle(pilot)
    for widget in pilot.app.screen.query("Input, TextArea"):
        widget.cursor_blink = False
    await pilot.pause()


def test_customer_list(snap_compare, app_for, customers, language):
    assert snap_compare(app_for("administrator", "mette"), run_before=still)


def test_wizard_first_step(snap_compare, app_for, language):
    async def run(pilot):
        await still(pilot)
        await pilot.press("ctrl+n")
        await still(pilot)

    assert snap_compare(app_for("administrator", "mette"), run_before=run)


def test_delete_confirmation(snap_compare, app_for, customers, language):
    async def run(pilot):
        await still(pilot)
        pilot.app.action_open_customer(customers.id)
        await still(pilot)
        await pilot.press("ctrl+d")
        await still(pilot)

    assert snap_compare(app_for("administrator", "mette"), run_before=run)
