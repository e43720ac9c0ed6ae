"""The command palette: main actions by role, open customer by name, actions of the customer on screen."""

from __future__ import annotations

from tui.commands import ClientbookCommands
from tui.screens.customer import CustomerScreen


async def settle(pilot) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def hits(app, screen, query: str) -> dict[str, object]:
    provider = ClientbookCommands(screen)
    found = {}
    async for hit in provider.search(query):
        found[str(hit.text)] = hit.command
    return found


async def test_palette_opens_a_customer_by_name(app_for, make_customer):
    customer = make_customer("Nordic Lifting A/S")
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        found = await hits(app, app.screen, "nordic")
        found["Open customer: Nordic Lifting A/S"]()
        await settle(pilot)
        assert isinstance(app.screen, CustomerScreen)
        assert app.screen.customer_id == customer.id


async def test_palette_offers_the_customers_actions_and_runs_them(app_for, make_customer,
                                                                  make_machine):
    customer = make_customer("Nordic Lifting A/S")
    make_machine("CAT-1")
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.action_open_customer(customer.id)
        await settle(pilot)
        found = await hits(app, app.screen, "assign")
        assert "Assign equipment" in found
        found["Assign equipment"]()
        await settle(pilot)
        from tui.widgets.pick_equipment import PickEquipmentDialog

        assert isinstance(app.screen, PickEquipmentDialog)


async def test_palette_offers_a_read_only_role_nothing_it_may_not_do(app_for, make_customer):
    customer = make_customer("Nordic Lifting A/S")
    app = app_for("limited")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "New customer" not in await hits(app, app.screen, "new customer")
        app.action_open_customer(customer.id)
        await settle(pilot)
        labels = set(await hits(app, app.screen, "e"))
        for forbidden in ("Edit customer", "Delete customer", "Assign equipment", "Add contact",
                          "Add admin document"):
            assert forbidden not in labels
        assert "Assignment history" in await hits(app, app.screen, "history")
