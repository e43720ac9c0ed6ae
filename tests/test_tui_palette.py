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


# Written from data/clientbook.yaml's grants (the report needs customer, contact, equipment
# and estimate view): which of the issue 6 and 7 screens each role is offered.
ALL_FOUR = {"Estimates", "Projects", "Report", "Audit trail"}
SCREENS_BY_ROLE = {
    "administrator": ALL_FOUR,
    "fleet_administrator": ALL_FOUR,
    "account_owner": ALL_FOUR,
    "estimator": {"Estimates", "Projects", "Report"},
    "limited": {"Estimates", "Projects", "Report"},
}


async def test_estimates_projects_report_and_audit_are_offered_by_role(app_for):
    for role, expected in SCREENS_BY_ROLE.items():
        app = app_for(role)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            labels = [str(hit.text) async for hit in ClientbookCommands(app.screen).discover()]
            assert {label.split(":")[0] for label in labels} & ALL_FOUR == expected, role


async def test_f7_opens_the_estimates_and_f2_is_refused_to_limited(app_for):
    from tui.screens.audit import AuditScreen
    from tui.screens.estimates import EstimatesScreen

    app = app_for("limited")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f2")
        await settle(pilot)
        assert not isinstance(app.screen, AuditScreen)
        await pilot.press("f7")
        await settle(pilot)
        assert isinstance(app.screen, EstimatesScreen)


async def test_help_lists_the_keys_that_open_screens(app_for):
    import io

    from rich.console import Console

    from tui.screens.equipment_register import EquipmentRegisterScreen
    from tui.screens.help import HelpScreen

    app = app_for("administrator")
    async with app.run_test(size=(80, 40)) as pilot:
        await settle(pilot)
        await pilot.press("f1")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        console = Console(width=80, record=True, file=io.StringIO())
        console.print(app.screen.key_table())
        listed = console.export_text()
        for key, description in (("F2", "Audit trail"), ("F3", "Fleet"), ("F4", "Outbox"),
                                 ("F5", "Import"), ("F6", "Export"), ("F7", "Estimates")):
            assert any(line.split()[:1] == [key.lower()] and description in line
                       for line in listed.splitlines()), (key, listed)
        await pilot.press("escape", "f3")
        await settle(pilot)
        assert isinstance(app.screen, EquipmentRegisterScreen)
