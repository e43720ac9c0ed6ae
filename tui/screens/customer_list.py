"""The first screen: every customer, searched as you type, a page at a time.

The table never holds more than one page: searching, filtering, sorting and
paging all happen in SQL, in a thread worker, so typing stays responsive at
hundreds of thousands of customers.
"""

from __future__ import annotations

import asyncio
from functools import partial

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Select, Static

from tui.domain.locale_format import format_number
from tui.domain.services.customers import list_groups
from tui.domain.services.search import SORTS, CustomerPage, search_customers
from tui.domain.validation import format_phone
from tui.i18n import N_, _, current_language
from tui.bindings import TranslatedBindings
from tui.messages import CustomersChanged
from tui.widgets.footer import KeysFooter
from tui.widgets.paged_table import PagedTable

PAGE_SIZE = 100
SORT_LABELS = {"name": N_("name"), "city": N_("city"), "segment": N_("segment"),
               "newest": N_("newest first")}


class CustomerTable(PagedTable):
    """A page of customers."""


class CustomerListScreen(TranslatedBindings, Screen):
    CSS_PATH = "customer_list.tcss"
    AUTO_FOCUS = "#search"

    BINDINGS = [
        Binding("slash", "focus_search", N_("Search"), id="list.search"),
        # Said by the status line and Ctrl+N in the footer: 80 columns keep F1 Help visible.
        Binding("n", "app.new_customer", N_("New"), id="list.new", show=False),
        Binding("s", "cycle_sort", N_("Sort"), id="list.sort", show=False),
        Binding("f3", "app.open_register", N_("Fleet"), id="list.register"),
        Binding("f4", "app.open_outbox", N_("Outbox"), id="list.outbox"),
        Binding("ctrl+pagedown", "page(1)", N_("Next page"), id="list.next_page", show=False),
        Binding("ctrl+pageup", "page(-1)", N_("Previous page"), id="list.previous_page",
                show=False),
        Binding("escape", "focus_table", N_("To the list"), id="list.to_table", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.page_offset = 0
        self.sort = "name"
        self.page: CustomerPage | None = None
        self._cursor_after_load: int | str = 0
        self._request = 0  # the newest search asked for; older ones are skipped

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="filters"):
            yield Input(placeholder=_("Search name, address, phone, e-mail, contact, serial…"),
                        id="search")
            yield Select([], prompt=_("All segments"), id="segment")
            yield Select([], prompt=_("All groups"), id="group")
        yield CustomerTable(id="customers", cursor_type="row", zebra_stripes=True)
        yield Static(id="status")
        yield KeysFooter()

    def on_mount(self) -> None:
        ctx = self.app.ctx
        language = None
        self.query_one("#segment", Select).set_options(
            [(choice.label_for(language), key) for key, choice in ctx.config.segments.items()])
        self._refresh_groups()
        table = self.query_one(CustomerTable)
        # 80 columns: widths + 2 cells of padding each + the scrollbar.
        table.add_column(_("Name"), key="name", width=21)
        table.add_column(_("Segment"), key="segment", width=10)
        table.add_column(_("City"), key="city", width=11)
        table.add_column(_("Phone"), key="phone", width=14)
        table.add_column(_("Cont."), key="contacts", width=5)
        table.add_column(_("Mach."), key="machines", width=5)
        self.reload()

    def _refresh_groups(self) -> None:
        """Offer the groups as they are now, keeping the chosen one if it still exists."""
        select = self.query_one("#group", Select)
        names = list_groups(self.app.ctx)
        if names == getattr(self, "_group_names", None):
            return
        chosen = select.value
        self._group_names = names
        select.set_options([(name, name) for name in names])
        if chosen in names:
            select.value = chosen

    # -- loading ---------------------------------------------------------------------------
    def reload(self, *, keep_cursor: bool = False) -> None:
        table = self.query_one(CustomerTable)
        if keep_cursor and table.row_count:
            self._cursor_after_load = table.cursor_row
        self.load_page(self.query_one("#search", Input).value, self._segment(), self._group(),
                       self.sort, self.page_offset)

    def _segment(self) -> str | None:
        value = self.query_one("#segment", Select).value
        return None if value is Select.NULL else str(value)

    def _group(self) -> str | None:
        value = self.query_one("#group", Select).value
        return None if value is Select.NULL else str(value)

    @work(exclusive=True, group="customer-search")
    async def load_page(self, text: str, segment: str | None, group: str | None, sort: str,
                        offset: int) -> None:
        # One long-lived search thread: its SQLite connection keeps a warm page
        # cache, which a fresh thread per keystroke would throw away each time.
        self._request += 1
        request = self._request
        search = partial(search_customers, self.app.ctx, text, segment=segment, group=group,
                         sort=sort, limit=PAGE_SIZE, offset=offset)

        def run_if_still_wanted() -> CustomerPage | None:
            # Typing fast queues a search per key; only the newest is worth running.
            return search() if request == self._request else None

        page = await asyncio.get_running_loop().run_in_executor(self.app.query_executor,
                                                                run_if_still_wanted)
        if page is not None and request == self._request:
            self.show_page(page)

    def show_page(self, page: CustomerPage) -> None:
        self.page = page
        ctx = self.app.ctx
        segments, language = ctx.config.segments, current_language()
        table = self.query_one(CustomerTable)
        table.clear()
        for row in page.rows:
            segment = (segments[row.segment].label_for(language) if row.segment in segments
                       else row.segment)
            place = ", ".join(part for part in (row.city, row.country or "") if part)
            # Text, not str: a DataTable reads strings as markup, and names are user data.
            cells = (row.name, segment, place, format_phone(row.phone, row.country),
                     str(row.contacts), str(row.machines))
            table.add_row(*(Text(cell) for cell in cells), key=str(row.id))
        if page.rows:
            wanted = self._cursor_after_load
            index = len(page.rows) - 1 if wanted == "last" else min(int(wanted), len(page.rows) - 1)
            table.move_cursor(row=index, animate=False)
        self._cursor_after_load = 0
        self.query_one("#status", Static).update(self.status_text(page))

    def status_text(self, page: CustomerPage) -> str:
        if not page.total:
            return _("No customer matches.") if self.query_one("#search", Input).value else _(
                "No customers yet: press Ctrl+N to add one.")
        total = (format_number(page.total) if page.exact
                 else format_number(page.total - 1) + "+")
        return _("{first}–{last} of {total} · sorted by {sort} (s) · Enter opens").format(
            first=format_number(page.offset + 1),
            last=format_number(page.offset + len(page.rows)), total=total,
            sort=_(SORT_LABELS[self.sort]))

    # -- events ----------------------------------------------------------------------------
    @on(Input.Changed, "#search")
    def search_changed(self) -> None:
        self.page_offset = 0
        self.reload()

    @on(Input.Submitted, "#search")
    def search_submitted(self) -> None:
        self.action_focus_table()

    @on(Select.Changed)
    def filter_changed(self) -> None:
        self.page_offset = 0
        self.reload()

    @on(DataTable.RowSelected, "#customers")
    def open_selected(self, event: DataTable.RowSelected) -> None:
        self.app.action_open_customer(int(event.row_key.value))

    @on(CustomerTable.PageRequested)
    def page_requested(self, event: CustomerTable.PageRequested) -> None:
        self._cursor_after_load = 0 if event.step > 0 else "last"
        self.action_page(event.step)

    def on_customers_changed(self, message: CustomersChanged) -> None:
        self.reload(keep_cursor=True)

    def on_screen_resume(self) -> None:
        if self.page is not None:  # back from a customer or the wizard: show what changed
            self._refresh_groups()
            self.reload(keep_cursor=True)

    # -- actions ---------------------------------------------------------------------------
    def action_focus_search(self) -> None:
        self.query_one("#search", Input).focus()

    def action_focus_table(self) -> None:
        self.query_one(CustomerTable).focus()

    def action_cycle_sort(self) -> None:
        names = list(SORTS)
        self.sort = names[(names.index(self.sort) + 1) % len(names)]
        self.page_offset = 0
        self.reload()

    def action_page(self, step: int) -> None:
        if self.page is None:
            return
        offset = self.page_offset + step * PAGE_SIZE
        if offset < 0 or offset >= max(self.page.total, 1) or (step > 0 and not self.page.rows):
            return
        self.page_offset = offset
        self.reload()
