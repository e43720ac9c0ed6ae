"""Every estimate (STACK): searched as you type, filtered by status, a page at a time.

Searching, filtering and paging happen in SQL on the app's query thread, so the table
only holds the page on screen. Enter opens an estimate; ``n`` starts a new one (its
customer is picked first); ``d`` deletes the one under the cursor after a confirmation.
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

from tui.domain.errors import ClientbookError
from tui.domain.services.estimates import (STATUSES, EstimatePage, EstimateRow, delete_estimate,
                                           format_amount, search_estimates, status_label)
from tui.domain.locale_format import format_date, format_number
from tui.i18n import N_, _
from tui.bindings import TranslatedBindings
from tui.lock_wait import waits_for_lock
from tui.widgets.confirm import ConfirmDialog
from tui.widgets.footer import KeysFooter
from tui.widgets.paged_table import PagedTable
from tui.widgets.permitted import permitted

PAGE_SIZE = 100
# the status filter, in the order ``f`` cycles it; None: every status
FILTERS: tuple[str | None, ...] = (None, "open", *STATUSES)


def filter_label(status: str | None) -> str:
    if status is None:
        return _("All statuses")
    return _("Open (draft, sent)") if status == "open" else status_label(status)


def status_text(status: str) -> Text:
    styles = {"draft": "dim", "sent": "bold", "accepted": "green", "declined": "red"}
    return Text(status_label(status), style=styles.get(status, ""))


class EstimateTable(PagedTable):
    """A page of estimates."""


class EstimatesScreen(TranslatedBindings, Screen):
    CSS_PATH = "estimates.tcss"
    AUTO_FOCUS = "#estimates"

    BINDINGS = [
        Binding("slash", "focus_search", N_("Search"), id="estimates.search"),
        Binding("n", "new", N_("New"), id="estimates.new"),
        Binding("enter", "open", N_("Open"), id="estimates.open", show=False),
        Binding("f", "cycle_filter", N_("Status"), id="estimates.filter"),
        Binding("d,delete", "delete", N_("Delete"), id="estimates.delete"),
        Binding("escape", "back", N_("Back"), id="estimates.back"),
        Binding("ctrl+pagedown", "page(1)", N_("Next page"), id="estimates.next_page",
                show=False),
        Binding("ctrl+pageup", "page(-1)", N_("Previous page"), id="estimates.previous_page",
                show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.page_start = 0
        self.page: EstimatePage | None = None
        self._cursor_after_load: int | str = 0
        self._request = 0  # the newest search asked for; older ones are skipped

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="estimates-filters"):
            yield Input(placeholder=_("Search number, title, customer…"), id="estimates-search")
            yield Select([(filter_label(key), key) for key in FILTERS if key is not None],
                         prompt=filter_label(None), id="estimates-status")
        yield EstimateTable(id="estimates", cursor_type="row", zebra_stripes=True)
        yield Static(id="estimates-status-line", markup=False)
        yield KeysFooter()

    def on_mount(self) -> None:
        self.title = _("Estimates")
        table = self.query_one(EstimateTable)
        # 80 columns: widths + 2 cells of padding each + the scrollbar.
        # The date is in the status line: 80 columns hold the number, names and total.
        table.add_column(_("Number"), key="number", width=11)
        table.add_column(_("Customer"), key="customer", width=18)
        table.add_column(_("Title"), key="title", width=17)
        table.add_column(_("Status"), key="status", width=8)
        table.add_column(_("Total"), key="total", width=14)
        self.reload()

    # -- loading ---------------------------------------------------------------------------
    def chosen_status(self) -> str | None:
        value = self.query_one("#estimates-status", Select).value
        return None if value is Select.NULL else str(value)

    def reload(self, *, keep_cursor: bool = False) -> None:
        table = self.query_one(EstimateTable)
        if keep_cursor and table.row_count:
            self._cursor_after_load = table.cursor_row
        self.load_page(self.query_one("#estimates-search", Input).value, self.chosen_status(),
                       self.page_start)

    @work(exclusive=True, group="estimates-search")
    async def load_page(self, text: str, status: str | None, start: int) -> None:
        # On the app's query thread (one warm connection), as the customer list does;
        # when keys come faster than searches, only the newest search runs.
        self._request += 1
        request = self._request
        search = partial(search_estimates, self.app.ctx, text, status=status, limit=PAGE_SIZE,
                         offset=start)

        def run_if_still_wanted() -> EstimatePage | None:
            return search() if request == self._request else None

        try:
            page = await asyncio.get_running_loop().run_in_executor(self.app.query_executor,
                                                                    run_if_still_wanted)
        except ClientbookError as error:
            self.notify(str(error), severity="error", markup=False)
            return
        if page is not None and request == self._request and self.is_attached:
            self.show_page(page)

    def show_page(self, page: EstimatePage) -> None:
        self.page = page
        table = self.query_one(EstimateTable)
        table.clear()
        for row in page.rows:
            customer = Text(row.customer_name)
            if row.customer_id is None:  # the customer was deleted; the copy stays
                customer.stylize("italic dim")
            table.add_row(Text(row.number), customer, Text(row.title), status_text(row.status),
                          Text(format_amount(row.total_minor, row.currency),
                               justify="right"), key=str(row.id))
        if page.rows:
            wanted, last = self._cursor_after_load, len(page.rows) - 1
            table.move_cursor(row=last if wanted == "last" else min(int(wanted), last),
                              animate=False)
        self._cursor_after_load = 0
        self.show_status()
        self.refresh_bindings()

    def show_status(self) -> None:
        page = self.page
        if page is None:
            return
        if not page.total:
            if self.query_one("#estimates-search", Input).value or self.chosen_status():
                text = _("No estimate matches.")
            elif self.app.ctx.actor.can("estimate.edit"):
                text = _("No estimates yet: press n to make one.")
            else:
                text = _("No estimates yet.")
        else:
            text = _("{first}–{last} of {total} · {status} (f)").format(
                first=format_number(page.offset + 1),
                last=format_number(page.offset + len(page.rows)),
                total=format_number(page.total), status=filter_label(self.chosen_status()))
            row = self.cursor_row()
            if row is not None:
                text += " · " + _("dated {date}").format(date=format_date(row.issued_on))
                if row.customer_id is None:
                    text += " · " + _("customer deleted")
        self.query_one("#estimates-status-line", Static).update(text)

    def cursor_row(self) -> EstimateRow | None:
        if self.page is None:
            return None
        table = self.query_one(EstimateTable)
        if not table.row_count:
            return None
        row_key, _column = table.coordinate_to_cell_key(table.cursor_coordinate)
        wanted = int(row_key.value)
        return next((row for row in self.page.rows if row.id == wanted), None)

    # -- keys for this role and this row -----------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("new", "delete") and not self.app.ctx.actor.can("estimate.edit"):
            return False
        if action in ("open", "delete") and self.cursor_row() is None:
            return None  # offered, but nothing to act on yet
        return True

    @on(DataTable.RowHighlighted, "#estimates")
    def row_highlighted(self) -> None:
        self.show_status()
        self.refresh_bindings()

    # -- events ----------------------------------------------------------------------------
    @on(Input.Changed, "#estimates-search")
    def search_changed(self) -> None:
        self.page_start = 0
        self.reload()

    @on(Input.Submitted, "#estimates-search")
    def search_submitted(self) -> None:
        self.query_one(EstimateTable).focus()

    @on(Select.Changed, "#estimates-status")
    def filter_changed(self) -> None:
        self.page_start = 0
        self.reload()

    @on(DataTable.RowSelected, "#estimates")
    def row_selected(self) -> None:
        self.action_open()

    @on(EstimateTable.PageRequested)
    def page_requested(self, event: EstimateTable.PageRequested) -> None:
        self._cursor_after_load = 0 if event.step > 0 else "last"
        self.action_page(event.step)

    def on_screen_resume(self) -> None:
        if self.page is not None:  # back from an estimate: show what changed there
            self.reload(keep_cursor=True)

    # -- actions ---------------------------------------------------------------------------
    def action_focus_search(self) -> None:
        self.query_one("#estimates-search", Input).focus()

    def action_back(self) -> None:
        if self.focused is self.query_one("#estimates-search", Input):
            self.query_one(EstimateTable).focus()  # Escape leaves the search box first
        else:
            self.app.pop_screen()

    def action_cycle_filter(self) -> None:
        current = self.chosen_status()
        following = FILTERS[(FILTERS.index(current) + 1) % len(FILTERS)]
        select = self.query_one("#estimates-status", Select)
        if following is None:
            select.clear()
        else:
            select.value = following  # Select.Changed reloads

    def action_page(self, step: int) -> None:
        if self.page is None:
            return
        start = self.page_start + step * PAGE_SIZE
        if start < 0 or start >= max(self.page.total, 1) or (step > 0 and not self.page.rows):
            return
        self.page_start = start
        self.reload()

    def action_open(self) -> None:
        from tui.screens.estimate import EstimateScreen

        row = self.cursor_row()
        if row is not None:
            self.app.push_screen(EstimateScreen(row.id))

    def action_new(self) -> None:
        from tui.screens.estimate import EstimateScreen

        if permitted(self, "estimate.edit"):
            self.app.push_screen(EstimateScreen())

    def action_delete(self) -> None:
        row = self.cursor_row()
        if row is None or not permitted(self, "estimate.edit"):
            return

        @waits_for_lock
        def answered(self, confirmed: bool | None) -> None:
            if not confirmed:
                return
            try:
                delete_estimate(self.app.ctx, row.id, row.version)
            except ClientbookError as error:
                self.notify(str(error), severity="error", markup=False)
            else:
                self.notify(_("Estimate {number} deleted.").format(number=row.number),
                            markup=False)
            self.reload(keep_cursor=True)

        total = format_amount(row.total_minor, row.currency)
        self.app.push_screen(ConfirmDialog(
            _("Delete estimate {number}?").format(number=row.number),
            _("{title} for {customer}, {total}. Its lines go with it and its number is not "
              "given again; the audit trail keeps a copy.").format(
                title=row.title, customer=row.customer_name, total=total),
            _("Delete")), partial(answered, self))

    def palette_actions(self) -> list[tuple[str, object]]:
        """(label, callback) for the command palette: what this role may do here."""
        offered = []
        if self.check_action("new", ()) is not False:
            offered.append((_("New estimate"), self.action_new))
        offered.append((_("Cycle the estimates' status filter"), self.action_cycle_filter))
        return offered
