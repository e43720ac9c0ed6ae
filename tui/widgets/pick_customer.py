"""Pick one customer: search as you type, Enter chooses (the estimate's customer, P1).

Keys: type in the search box; Down, Tab or Enter moves to the list; Enter chooses the
customer under the cursor; ``/`` returns to the search box; Escape cancels. The list
holds one page of matches, searched in SQL (the customer list's search) on the app's
query thread: running off its end loads the next page.

With ``allow_new``, a "New customer…" button (F8) dismisses with ``NEW``: the caller
opens the new-customer wizard (for the estimator, the only way to create a customer).
"""

from __future__ import annotations

import asyncio
from functools import partial

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Static

from tui.domain.errors import ClientbookError
from tui.domain.locale_format import format_number
from tui.domain.services.search import CustomerPage, search_customers
from tui.domain.validation import format_phone
from tui.i18n import N_, _
from tui.bindings import TranslatedBindings
from tui.widgets.footer import KeysFooter
from tui.widgets.paged_table import PagedTable

PAGE_SIZE = 50
NEW = "new"  # dismissed with this when the operator asks for a new customer


class CustomerPickTable(PagedTable):
    """A page of matching customers."""


class PickCustomerDialog(TranslatedBindings, ModalScreen["int | str | None"]):
    """Dismisses with the chosen customer's id, ``NEW``, or None when cancelled."""

    CSS_PATH = "pick_customer.tcss"

    BINDINGS = [
        Binding("escape", "cancel", N_("Cancel"), id="pick_customer.cancel"),
        Binding("slash", "focus_search", N_("Search"), id="pick_customer.search"),
        Binding("f8", "new_customer", N_("New customer"), id="pick_customer.new"),
        Binding("down", "focus_table", N_("To the list"), id="pick_customer.to_list",
                show=False),
    ]

    def __init__(self, title: str | None = None, *, allow_new: bool = False,
                 search: str = "") -> None:
        super().__init__()
        self.title_text = title or _("Choose the customer")
        self.allow_new = allow_new
        self.initial_search = search
        self.page: CustomerPage | None = None
        self.page_start = 0
        self._cursor_after_load: int | str = 0
        self._request = 0  # the newest search asked for; older ones are skipped

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, id="pick-customer-title", markup=False)
            yield Input(self.initial_search,
                        placeholder=_("Search name, address, phone, e-mail, contact…"),
                        id="pick-customer-search")
            yield CustomerPickTable(id="pick-customer-table", cursor_type="row",
                                    zebra_stripes=True)
            yield Static(id="pick-customer-status", markup=False)
            with Horizontal():
                if self.allow_new:
                    yield Button(_("New customer…"), id="pick-customer-new")
                yield Button(_("Cancel"), id="pick-customer-cancel")
                yield Button(_("Choose"), id="pick-customer-choose", variant="primary")
        yield KeysFooter()

    def on_mount(self) -> None:
        table = self.query_one(CustomerPickTable)
        # 78-column box: widths + 2 cells of padding each + the scrollbar
        table.add_column(_("Name"), key="name", width=30)
        table.add_column(_("City"), key="city", width=16)
        table.add_column(_("Phone"), key="phone", width=16)
        self.query_one("#pick-customer-search", Input).focus()
        self.reload()

    # -- loading ---------------------------------------------------------------------------
    def reload(self) -> None:
        self.load_page(self.query_one("#pick-customer-search", Input).value, self.page_start)

    @work(exclusive=True, group="pick-customer")
    async def load_page(self, text: str, start: int) -> None:
        self._request += 1
        request = self._request
        search = partial(search_customers, self.app.ctx, text, limit=PAGE_SIZE, offset=start)

        def run_if_still_wanted() -> CustomerPage | None:
            return search() if request == self._request else None

        try:
            page = await asyncio.get_running_loop().run_in_executor(self.app.query_executor,
                                                                    run_if_still_wanted)
        except ClientbookError as error:
            self.notify(str(error), severity="error", markup=False)
            return
        if page is not None and request == self._request and self.is_attached:
            self.show_page(page)

    def show_page(self, page: CustomerPage) -> None:
        self.page = page
        table = self.query_one(CustomerPickTable)
        table.clear()
        for row in page.rows:
            place = ", ".join(part for part in (row.city, row.country or "") if part)
            table.add_row(Text(row.name), Text(place), Text(format_phone(row.phone, row.country)),
                          key=str(row.id))
        if page.rows:
            wanted = self._cursor_after_load
            last = len(page.rows) - 1
            index = last if wanted == "last" else min(int(wanted), last)
            table.move_cursor(row=index, animate=False)
        self._cursor_after_load = 0
        self.query_one("#pick-customer-status", Static).update(self.status_text(page))

    def status_text(self, page: CustomerPage) -> str:
        if not page.total:
            text = (_("No customer matches.")
                    if self.query_one("#pick-customer-search", Input).value
                    else _("No customers yet."))
            if self.allow_new:
                text += " " + _("F8 adds a new one.")
            return text
        total = (format_number(page.total) if page.exact
                 else format_number(page.total - 1) + "+")
        return _("{first}–{last} of {total} · Enter chooses").format(
            first=format_number(page.offset + 1),
            last=format_number(page.offset + len(page.rows)), total=total)

    # -- events ----------------------------------------------------------------------------
    @on(Input.Changed, "#pick-customer-search")
    def search_changed(self) -> None:
        self.page_start = 0
        self.reload()

    @on(Input.Submitted, "#pick-customer-search")
    def search_submitted(self) -> None:
        self.action_focus_table()

    @on(CustomerPickTable.PageRequested)
    def page_requested(self, event: CustomerPickTable.PageRequested) -> None:
        page = self.page
        if page is None:
            return
        start = self.page_start + event.step * PAGE_SIZE
        if start < 0:
            self.action_focus_search()  # up from the first row goes back to the search box
            return
        if start >= page.total:
            return
        self.page_start = start
        self._cursor_after_load = 0 if event.step > 0 else "last"
        self.reload()

    @on(DataTable.RowSelected, "#pick-customer-table")
    def row_chosen(self) -> None:
        self.action_choose()

    @on(Button.Pressed, "#pick-customer-choose")
    def choose_pressed(self) -> None:
        self.action_choose()

    @on(Button.Pressed, "#pick-customer-cancel")
    def cancel_pressed(self) -> None:
        self.action_cancel()

    @on(Button.Pressed, "#pick-customer-new")
    def new_pressed(self) -> None:
        self.action_new_customer()

    # -- actions ---------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "new_customer":
            return self.allow_new
        return True

    def cursor_id(self) -> int | None:
        table = self.query_one(CustomerPickTable)
        if not table.row_count:
            return None
        row_key, _column = table.coordinate_to_cell_key(table.cursor_coordinate)
        return int(row_key.value)

    def action_choose(self) -> None:
        customer_id = self.cursor_id()
        if customer_id is None:
            self.notify(_("No customer to choose: search for one first."), severity="warning")
            return
        self.dismiss(customer_id)

    def action_new_customer(self) -> None:
        if self.allow_new:
            self.dismiss(NEW)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_focus_search(self) -> None:
        self.query_one("#pick-customer-search", Input).focus()

    def action_focus_table(self) -> None:
        table = self.query_one(CustomerPickTable)
        if table.row_count:
            table.focus()
