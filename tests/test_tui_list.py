"""Pilot tests of the customer list: search as you type, filters, paging, opening, roles."""

from __future__ import annotations

import io

import pytest
from textual.widgets import DataTable, Input, Select

from tests.pilot import settle, type_text
from tui.screens.customer_list import PAGE_SIZE, CustomerListScreen


def shown_names(app) -> list[str]:
    table = app.screen.query_one("#customers", DataTable)
    return [table.get_row_at(i)[0].plain for i in range(table.row_count)]


@pytest.fixture
def three(make_customer):
    make_customer("Nordic Lifting A/S", phone="+45 87 65 43 21", segment="dealer",
                  groups=("North",))
    make_customer("Bâtir Rental SARL", billing_country="FR", billing_city="Lyon",
                  segment="contractor")
    make_customer("Zoë Kran ApS", billing_city="Odense", segment="dealer")


async def test_list_shows_customers_sorted_and_searches_as_you_type(app_for, three):
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, CustomerListScreen)
        assert shown_names(app) == ["Bâtir Rental SARL", "Nordic Lifting A/S", "Zoë Kran ApS"]
        assert app.screen.focused is app.screen.query_one("#search", Input)
        # key by key, as the test is about searching as one types (tests.pilot.type_text pastes)
        await pilot.press("z", "o", "e")
        await settle(pilot)
        assert shown_names(app) == ["Zoë Kran ApS"]
        for _key in range(3):
            await pilot.press("backspace")
        await pilot.press(*"4321")
        await settle(pilot)
        assert shown_names(app) == ["Nordic Lifting A/S"]
        assert "1–1 of 1" in str(app.screen.query_one("#status").render())


async def test_filters_by_segment_and_group(app_for, three):
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.screen.query_one("#segment", Select).value = "dealer"
        await settle(pilot)
        assert shown_names(app) == ["Nordic Lifting A/S", "Zoë Kran ApS"]
        app.screen.query_one("#group", Select).value = "North"
        await settle(pilot)
        assert shown_names(app) == ["Nordic Lifting A/S"]


async def test_sort_key_cycles_the_order(app_for, three):
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("escape")  # from the search box to the table
        await pilot.press("s")  # by city: Lyon, Odense and the Danish one without a city
        await settle(pilot)
        assert app.screen.sort == "city"
        assert shown_names(app)[-2:] == ["Bâtir Rental SARL", "Zoë Kran ApS"]


async def test_paging_past_the_last_row_loads_the_next_page(app_for, make_customer, db):
    for index in range(PAGE_SIZE + 5):
        make_customer(f"Customer {index:03d}")
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#customers", DataTable)
        assert table.row_count == PAGE_SIZE
        table.focus()
        table.move_cursor(row=PAGE_SIZE - 1)
        await pilot.press("down")
        await settle(pilot)
        assert shown_names(app) == [f"Customer {i:03d}" for i in range(PAGE_SIZE, PAGE_SIZE + 5)]
        await pilot.press("up")
        await settle(pilot)
        assert table.row_count == PAGE_SIZE and table.cursor_row == PAGE_SIZE - 1


async def test_enter_opens_the_customer(app_for, three):
    from tui.screens.customer import CustomerScreen

    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await type_text(pilot, "nord")
        await pilot.press("enter")  # search, then Enter moves to the table
        await settle(pilot)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, CustomerScreen)
        assert app.screen.title == "Nordic Lifting A/S"
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, CustomerListScreen)


async def test_read_only_role_is_not_offered_new_customer(app_for, three):
    app = app_for("limited")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.check_action("new_customer", ()) is False
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert isinstance(app.screen, CustomerListScreen)
        assert "limited" in app.sub_title.lower()


async def test_names_are_shown_literally_never_as_markup(app_for, make_customer):
    make_customer("[bold]Bold[/bold] & [/x] Co")
    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        cell = app.screen.query_one("#customers", DataTable).get_row_at(0)[0]
        assert cell.plain == "[bold]Bold[/bold] & [/x] Co"


async def test_help_lists_the_keys_of_where_you_are(app_for, three):
    from tui.screens.help import HelpScreen

    app = app_for()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("escape", "f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        from rich.console import Console

        console = Console(width=80, record=True, file=io.StringIO())
        console.print(app.screen.key_table())
        text = console.export_text()
        for description in ("Sort", "Search", "New customer"):
            assert description in text
        await pilot.press("escape")
        assert isinstance(app.screen, CustomerListScreen)
