"""The report by customer group or segment (Perfex "groups", C5): a table and a bar chart.

One row per group (``g``) or segment (``s``): customers, their contacts, the machines
they hold now, and their open estimates (how many, and the total per currency: amounts
in different currencies are never added up). Below the table, a bar chart of one
measure at a time; ``m`` cycles the measure (customers, contacts, machines, then the
open total in each currency found). The report is read on the app's query thread.
"""

from __future__ import annotations

import asyncio
from functools import partial

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from tui.domain.errors import ClientbookError
from tui.domain.locale_format import format_amount, format_number
from tui.domain.services.reports import REQUIRED, ReportRow, report_by
from tui.i18n import N_, _
from tui.bindings import TranslatedBindings
from tui.widgets.footer import KeysFooter

BAR_WIDTH = 40
EIGHTHS = " ▏▎▍▌▋▊▉"
COUNTS = ("customers", "contacts", "assigned_machines")


def may_see_report(actor) -> bool:
    """Whether the report would be shown to ``actor`` (it reads customers, contacts,
    equipment and estimates): what the app and the palette ask before offering it."""
    return all(actor.can(permission) for permission in REQUIRED)


def measure_label(measure: str) -> str:
    if measure in COUNTS:
        return {"customers": _("Customers"), "contacts": _("Contacts"),
                "assigned_machines": _("Machines held")}[measure]
    return _("Open estimates, {currency}").format(currency=measure)


def bar(value: int, largest: int, width: int = BAR_WIDTH) -> str:
    """``value`` as a bar of block characters, ``largest`` filling ``width`` cells."""
    if value <= 0 or largest <= 0:
        return ""
    eighths = max(1, round(value / largest * width * 8))
    return "█" * (eighths // 8) + (EIGHTHS[eighths % 8] if eighths % 8 else "")


def totals_text(totals: dict[str, int], locale: str | None = None) -> str:
    """One amount a line, per currency, in ``locale`` (None: the operator's)."""
    return "\n".join(format_amount(minor, currency, locale)
                     for currency, minor in sorted(totals.items()))


class ReportScreen(TranslatedBindings, Screen):
    CSS_PATH = "report.tcss"
    AUTO_FOCUS = "#report-body"

    BINDINGS = [
        Binding("g", "by('group')", N_("By group"), id="report.by_group"),
        Binding("s", "by('segment')", N_("By segment"), id="report.by_segment"),
        Binding("m", "cycle_measure", N_("Chart"), id="report.measure"),
        Binding("escape", "back", N_("Back"), id="report.back"),
    ]

    def __init__(self, dimension: str = "group") -> None:
        super().__init__()
        self.dimension = dimension
        self.measure = "customers"
        self.rows: list[ReportRow] | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="report-heading", markup=False)
        with VerticalScroll(id="report-body"):
            yield DataTable(id="report-table", cursor_type="none", zebra_stripes=True)
            yield Static(id="report-note", markup=False)
            yield Static(id="report-chart-title", markup=False)
            yield Static(id="report-chart")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.title = _("Report")
        self.query_one("#report-table", DataTable).can_focus = False  # the body scrolls
        self.load()

    def columns(self) -> None:
        table = self.query_one("#report-table", DataTable)
        table.clear(columns=True)
        # 80 columns: widths + 2 cells of padding each + the scrollbar.
        table.add_column(_("Group") if self.dimension == "group" else _("Segment"),
                         key="label", width=18)
        table.add_column(_("Cust."), key="customers", width=5)
        table.add_column(_("Contacts"), key="contacts", width=8)
        table.add_column(_("Machines"), key="machines", width=8)
        table.add_column(_("Open est."), key="estimates", width=9)
        table.add_column(_("Open total"), key="total", width=16)

    # -- loading ---------------------------------------------------------------------------
    def load(self) -> None:
        self.query_one("#report-heading", Static).update(_("Reading…"))
        self.read_report(self.dimension)

    @work(exclusive=True, group="report")
    async def read_report(self, dimension: str) -> None:
        try:
            rows = await asyncio.get_running_loop().run_in_executor(
                self.app.query_executor, partial(report_by, self.app.ctx, dimension))
        except ClientbookError as error:
            self.query_one("#report-heading", Static).update(str(error))
            return
        if self.is_attached and dimension == self.dimension:
            self.show(rows)

    def measures(self) -> list[str]:
        currencies = sorted({currency for row in self.rows or ()
                             for currency in row.open_estimates_total})
        return [*COUNTS, *currencies]

    def show(self, rows: list[ReportRow]) -> None:
        self.rows = rows
        if self.measure not in self.measures():
            self.measure = "customers"
        self.columns()
        table = self.query_one("#report-table", DataTable)
        for row in rows:
            label = Text(row.label, style="italic" if row.key is None else "")
            totals = totals_text(row.open_estimates_total)
            table.add_row(label, *(Text(format_number(value), justify="right") for value in (
                row.customers, row.contacts, row.assigned_machines, row.open_estimates)),
                Text(totals or "—", justify="right"),
                height=max(1, len(row.open_estimates_total)), key=str(row.key))
        self.show_totals(rows)
        self.show_heading()
        self.show_chart()
        self.refresh_bindings()

    def show_totals(self, rows: list[ReportRow]) -> None:
        note = self.query_one("#report-note", Static)
        note.display = self.dimension == "group"
        if self.dimension == "group":
            note.update(_("A customer in several groups counts in each of them."))
            return
        # by segment every customer counts once: the columns add up
        totals: dict[str, int] = {}
        for row in rows:
            for currency, minor in row.open_estimates_total.items():
                totals[currency] = totals.get(currency, 0) + minor
        table = self.query_one("#report-table", DataTable)
        table.add_row(Text(_("All segments"), style="bold"), *(
            Text(format_number(sum(getattr(row, name) for row in rows)), justify="right",
                 style="bold")
            for name in (*COUNTS, "open_estimates")),
            Text(totals_text(totals) or "—", justify="right", style="bold"),
            height=max(1, len(totals)), key="total")

    def show_heading(self) -> None:
        by = _("By group") if self.dimension == "group" else _("By segment")
        self.query_one("#report-heading", Static).update(
            _("{by} · chart: {measure} (m)").format(by=by, measure=measure_label(self.measure)))

    def show_chart(self) -> None:
        rows = self.rows or []
        if self.measure in COUNTS:
            values = [getattr(row, self.measure) for row in rows]
            shown = [format_number(value) for value in values]
        else:
            values = [row.open_estimates_total.get(self.measure, 0) for row in rows]
            shown = [format_amount(value, self.measure) if value else "0"
                     for value in values]
        largest = max(values, default=0)
        chart = Table.grid(padding=(0, 1))
        chart.add_column(width=18, no_wrap=True, overflow="ellipsis")
        chart.add_column(width=BAR_WIDTH, no_wrap=True)
        chart.add_column(justify="right", no_wrap=True)
        colour = self.app.theme_variables.get("accent", "cyan")
        for row, value, text in zip(rows, values, shown):
            chart.add_row(Text(row.label), Text(bar(value, largest), style=colour), Text(text))
        by = _("per group") if self.dimension == "group" else _("per segment")
        self.query_one("#report-chart-title", Static).update(
            Text(_("{measure} {by}").format(measure=measure_label(self.measure), by=by),
                 style="bold"))
        self.query_one("#report-chart", Static).update(chart if rows else Text(_("No data.")))

    # -- actions ---------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "by":
            return parameters[0] != self.dimension  # offer the other one
        return True

    def action_by(self, dimension: str) -> None:
        if dimension != self.dimension:
            self.dimension = dimension
            self.refresh_bindings()
            self.load()

    def action_cycle_measure(self) -> None:
        measures = self.measures()
        self.measure = measures[(measures.index(self.measure) + 1) % len(measures)]
        self.show_heading()
        self.show_chart()

    def action_back(self) -> None:
        self.app.pop_screen()

    def on_screen_resume(self) -> None:
        if self.rows is not None:
            self.load()

    def palette_actions(self) -> list[tuple[str, object]]:
        other = "segment" if self.dimension == "group" else "group"
        label = _("Report by segment") if other == "segment" else _("Report by group")
        return [(label, partial(self.action_by, other)),
                (_("Next measure in the report's chart"), self.action_cycle_measure)]
