"""Who assigned or unassigned which machine to a customer, and when (E4); newest first.

Rows are two lines: the date on the first, who did it on the second, so the
table fits 80 columns. Machines still held show "held now" instead of a return.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from tui.domain.errors import ClientbookError
from tui.domain.services.equipment import assignment_history
from tui.i18n import N_, _, ngettext
from tui.bindings import TranslatedBindings
from tui.screens.customer_panes.equipment import local_time
from tui.widgets.footer import KeysFooter


def when_and_who(moment, login: str | None) -> Text:
    text = Text(local_time(moment))
    if login:
        text.append("\n")
        text.append(_("by {login}").format(login=login), style="dim")
    return text


class AssignmentHistoryScreen(TranslatedBindings, Screen):
    CSS_PATH = "assignment_history.tcss"

    BINDINGS = [
        Binding("escape,q", "back", N_("Back"), id="history.back"),
    ]

    def __init__(self, customer_id: int, customer_name: str) -> None:
        super().__init__()
        self.customer_id = customer_id
        self.customer_name = customer_name

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="history-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="history-status", markup=False)
        yield KeysFooter()

    def on_mount(self) -> None:
        self.title = _("Equipment history of {customer}").format(customer=self.customer_name)
        table = self.query_one("#history-table", DataTable)
        table.add_column(_("Serial"), key="serial", width=12)
        table.add_column(_("Machine"), key="machine", width=18)
        table.add_column(_("Assigned"), key="assigned", width=16)
        table.add_column(_("Unassigned"), key="unassigned", width=16)
        self.load()
        table.focus()

    def load(self) -> None:
        table = self.query_one("#history-table", DataTable)
        status = self.query_one("#history-status", Static)
        table.clear()
        try:
            rows = assignment_history(self.app.ctx, customer_id=self.customer_id)
        except ClientbookError as error:
            status.update(str(error))
            return
        held = 0
        for row in rows:
            machine = row.equipment
            make = " ".join(part for part in (machine.make, machine.model) if part)
            name = Text(machine.name or make)
            if machine.name and make:
                name.append("\n" + make, style="dim")
            if row.unassigned_at is None:
                held += 1
                returned = Text(_("held now"), style="bold")
            else:
                returned = when_and_who(row.unassigned_at, row.unassigned_by)
            table.add_row(Text(machine.serial), name, when_and_who(row.assigned_at, row.assigned_by),
                          returned, key=str(row.id), height=2)
        if not rows:
            status.update(_("Nothing was ever assigned to this customer."))
        else:
            status.update(ngettext("{count} assignment", "{count} assignments", len(rows)).format(
                count=len(rows)) + " · " + _("{held} held now").format(held=held))

    def action_back(self) -> None:
        self.app.pop_screen()
