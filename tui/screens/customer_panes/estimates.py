"""The Estimates tab: the estimates linked to this customer, newest first (STACK).

Enter opens one; ``n`` starts a new estimate for this customer (its details are filled
in at once). The tab reads its page afresh whenever it is shown, so an estimate saved
in its own screen is listed on return. Running off the end of the page loads the next.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from tui.domain.errors import ClientbookError
from tui.domain.services.estimates import EstimatePage, estimates_for_customer, format_amount
from tui.domain.locale_format import format_date, format_number
from tui.i18n import N_, _
from tui.bindings import TranslatedBindings
from tui.screens.estimates import status_text
from tui.widgets.paged_table import PagedTable
from tui.widgets.permitted import permitted

PAGE_SIZE = 100


class CustomerEstimatesTable(PagedTable):
    """A page of one customer's estimates."""


class EstimatesPane(TranslatedBindings, Vertical):
    BINDINGS = [
        Binding("n", "new", N_("New estimate"), id="customer_estimates.new"),
        Binding("o", "open", N_("Open"), id="customer_estimates.open"),
    ]

    def __init__(self, customer_id: int) -> None:
        super().__init__()
        self.customer_id = customer_id
        self.page: EstimatePage | None = None
        self.page_start = 0

    def compose(self) -> ComposeResult:
        yield CustomerEstimatesTable(id="customer-estimates-table", cursor_type="row",
                                     zebra_stripes=True)
        yield Static(id="customer-estimates-status", markup=False)

    def on_mount(self) -> None:
        table = self.query_one(CustomerEstimatesTable)
        # 80 columns: widths + 2 cells of padding each + the scrollbar.
        table.add_column(_("Number"), key="number", width=11)
        table.add_column(_("Date"), key="date", width=10)
        table.add_column(_("Title"), key="title", width=25)
        table.add_column(_("Status"), key="status", width=8)
        table.add_column(_("Total"), key="total", width=14)

    def on_show(self) -> None:
        """The tab was opened (or the screen came back): show what is stored now."""
        self.reload()
        focused = self.screen.focused
        if focused is None or self not in focused.ancestors:
            self.query_one(CustomerEstimatesTable).focus()

    # -- loading -----------------------------------------------------------------------------
    def reload(self, cursor: int | str | None = None) -> None:
        table = self.query_one(CustomerEstimatesTable)
        row_before = table.cursor_row if cursor is None else cursor
        status = self.query_one("#customer-estimates-status", Static)
        try:
            page = estimates_for_customer(self.app.ctx, self.customer_id, limit=PAGE_SIZE,
                                          offset=self.page_start)
        except ClientbookError as error:
            table.clear()
            self.page = None
            status.update(str(error))
            self.refresh_bindings()
            return
        self.page = page
        table.clear()
        for row in page.rows:
            table.add_row(Text(row.number), Text(format_date(row.issued_on)), Text(row.title),
                          status_text(row.status),
                          Text(format_amount(row.total_minor, row.currency),
                               justify="right"), key=str(row.id))
        if page.rows:
            last = len(page.rows) - 1
            table.move_cursor(row=last if row_before == "last" else min(int(row_before), last),
                              animate=False)
        if not page.total:
            text = (_("No estimates for this customer: press n to make one.")
                    if self.app.ctx.actor.can("estimate.edit") else
                    _("No estimates for this customer."))
        else:
            text = _("{first}–{last} of {total} · Enter opens").format(
                first=format_number(page.offset + 1),
                last=format_number(page.offset + len(page.rows)), total=format_number(page.total))
        status.update(text)
        self.refresh_bindings()

    def cursor_id(self) -> int | None:
        table = self.query_one(CustomerEstimatesTable)
        if self.page is None or not table.row_count:
            return None
        row_key, _column = table.coordinate_to_cell_key(table.cursor_coordinate)
        return int(row_key.value)

    @on(CustomerEstimatesTable.PageRequested)
    def page_requested(self, event: CustomerEstimatesTable.PageRequested) -> None:
        if self.page is None:
            return
        start = self.page_start + event.step * PAGE_SIZE
        if 0 <= start < self.page.total:
            self.page_start = start
            self.reload(cursor=0 if event.step > 0 else "last")

    # -- actions -----------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "new" and not self.app.ctx.actor.can("estimate.edit"):
            return False
        if action == "open" and self.cursor_id() is None:
            return None  # offered, but nothing to act on yet
        return True

    @on(DataTable.RowSelected, "#customer-estimates-table")
    def row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        from tui.screens.estimate import EstimateScreen

        estimate_id = self.cursor_id()
        if estimate_id is not None:
            self.app.push_screen(EstimateScreen(estimate_id))

    def action_new(self) -> None:
        from tui.screens.estimate import EstimateScreen

        if permitted(self, "estimate.edit"):
            self.app.push_screen(EstimateScreen(customer_id=self.customer_id))
