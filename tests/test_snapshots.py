"""SVG snapshots of the main screens at 80x24, on fixed data.

Update after an intended change with ``pytest tests/test_snapshots.py --snapshot-update``
and look at the SVGs before committing them.
"""

from __future__ import annotations

import pytest

from tui.domain.services.contacts import ContactDraft


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
        await pilot.press(*"lift")
        await settled(pilot)

    assert snap_compare(app_for("administrator", "mette"), run_before=search)


def test_customer_list_empty_for_a_read_only_user(snap_compare, app_for):
    assert snap_compare(app_for("limited", "guest"), run_before=settled)
