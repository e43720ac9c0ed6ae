"""Pick any number of unassigned machines: search as you type, mark rows, assign.

Keys: type in the search box; Down, Tab or Enter moves to the list; Space marks
or unmarks the row under the cursor (marks survive a new search); Enter assigns
the marked machines (or, with none marked, the one under the cursor); ``/``
returns to the search box; Escape cancels. The list holds one page of matches,
queried in SQL off the UI thread: running off its end loads the next page.
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
from tui.domain.services.equipment import EquipmentPage, search_unassigned_equipment
from tui.i18n import N_, _
from tui.bindings import TranslatedBindings
from tui.widgets.footer import KeysFooter
from tui.widgets.paged_table import PagedTable

PAGE_SIZE = 50
MARK = "✓"


class PickTable(PagedTable):
    """A page of unassigned machines."""


class PickEquipmentDialog(TranslatedBindings, ModalScreen[list[int] | None]):
    """Dismisses with the ids of the chosen machines, or None when cancelled."""

    CSS_PATH = "pick_equipment.tcss"

    BINDINGS = [
        Binding("escape", "cancel", N_("Cancel"), id="pick_equipment.cancel"),
        Binding("space", "toggle_mark", N_("Mark"), id="pick_equipment.mark"),
        Binding("slash", "focus_search", N_("Search"), id="pick_equipment.search"),
        Binding("down", "focus_table", N_("To the list"), id="pick_equipment.to_list",
                show=False),
    ]

    def __init__(self, title: str | None = None) -> None:
        super().__init__()
        self.title_text = title or _("Assign equipment")
        self.marked: dict[int, str] = {}  # id -> serial, kept across searches
        self.page: EquipmentPage | None = None
        self.page_start = 0
        self._cursor_after_load: int | str = 0
        self._request = 0  # the newest search asked for; older ones are skipped

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, id="pick-title", markup=False)
            yield Input(placeholder=_("Search serial, name, make, model, type…"),
                        id="pick-search")
            yield PickTable(id="pick-table", cursor_type="row", zebra_stripes=True)
            yield Static(id="pick-status", markup=False)
            with Horizontal():
                yield Button(_("Cancel"), id="pick-cancel")
                yield Button(_("Assign"), id="pick-assign", variant="primary")
        yield KeysFooter()  # the keys of this dialog; the screen's footer below is dimmed

    def on_mount(self) -> None:
        table = self.query_one(PickTable)
        table.add_column(MARK, key="mark", width=1)
        table.add_column(_("Serial"), key="serial", width=14)
        table.add_column(_("Name"), key="name", width=18)
        table.add_column(_("Make / model"), key="make", width=17)
        table.add_column(_("Type"), key="type", width=10)
        self.query_one("#pick-search", Input).focus()
        self.reload()

    # -- loading ---------------------------------------------------------------------------
    def reload(self) -> None:
        self.load_page(self.query_one("#pick-search", Input).value, self.page_start)

    @work(exclusive=True, group="pick-equipment")
    async def load_page(self, text: str, start: int) -> None:
        # On the app's query thread (one warm connection), as the customer list does;
        # when keys come faster than searches, only the newest search runs.
        self._request += 1
        request = self._request
        search = partial(search_unassigned_equipment, self.app.ctx, text, limit=PAGE_SIZE,
                         offset=start)

        def run_if_still_wanted() -> EquipmentPage | None:
            return search() if request == self._request else None

        try:
            page = await asyncio.get_running_loop().run_in_executor(self.app.query_executor,
                                                                    run_if_still_wanted)
        except ClientbookError as error:
            self.notify(str(error), severity="error", markup=False)
            return
        if page is not None and request == self._request:
            self.show_page(page)

    def show_page(self, page: EquipmentPage) -> None:
        if not self.is_attached:  # dismissed while the query ran
            return
        self.page = page
        table = self.query_one(PickTable)
        table.clear()
        for machine in page.rows:
            make = " ".join(part for part in (machine.make, machine.model) if part)
            table.add_row(MARK if machine.id in self.marked else "", Text(machine.serial),
                          Text(machine.name), Text(make), Text(machine.type),
                          key=str(machine.id))
        if page.rows:
            wanted = self._cursor_after_load
            index = len(page.rows) - 1 if wanted == "last" else min(int(wanted), len(page.rows) - 1)
            table.move_cursor(row=index, animate=False)
        self._cursor_after_load = 0
        self.show_status()

    def show_status(self) -> None:
        page = self.page
        if page is None:
            return
        if not page.total:
            where = (_("No unassigned machine matches.")
                     if self.query_one("#pick-search", Input).value
                     else _("No unassigned machines."))
        else:
            where = _("{first}–{last} of {total} unassigned").format(
                first=format_number(page.offset + 1),
                last=format_number(page.offset + len(page.rows)), total=format_number(page.total))
        selected = _("{count} selected").format(count=len(self.marked))
        hint = _("Space marks, Enter assigns")
        self.query_one("#pick-status", Static).update(f"{selected} · {where} · {hint}")

    # -- events ----------------------------------------------------------------------------
    @on(Input.Changed, "#pick-search")
    def search_changed(self) -> None:
        self.page_start = 0
        self.reload()

    @on(Input.Submitted, "#pick-search")
    def search_submitted(self) -> None:
        self.action_focus_table()

    @on(PickTable.PageRequested)
    def page_requested(self, event: PickTable.PageRequested) -> None:
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

    @on(DataTable.RowSelected, "#pick-table")
    def row_chosen(self) -> None:
        self.action_assign()

    @on(Button.Pressed, "#pick-assign")
    def assign_pressed(self) -> None:
        self.action_assign()

    @on(Button.Pressed, "#pick-cancel")
    def cancel_pressed(self) -> None:
        self.action_cancel()

    # -- actions ---------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "toggle_mark":
            return self.focused is self.query_one(PickTable)
        return True

    def on_descendant_focus(self) -> None:
        self.refresh_bindings()  # Space is offered only while the list has focus

    def cursor_id(self) -> int | None:
        table = self.query_one(PickTable)
        if not table.row_count:
            return None
        row_key, _column = table.coordinate_to_cell_key(table.cursor_coordinate)
        return int(row_key.value)

    def action_toggle_mark(self) -> None:
        table = self.query_one(PickTable)
        machine_id = self.cursor_id()
        if machine_id is None:
            return
        if machine_id in self.marked:
            del self.marked[machine_id]
            table.update_cell(str(machine_id), "mark", "")
        else:
            self.marked[machine_id] = str(table.get_cell(str(machine_id), "serial"))
            table.update_cell(str(machine_id), "mark", MARK)
        if table.cursor_row < table.row_count - 1:
            table.move_cursor(row=table.cursor_row + 1, animate=False)
        self.show_status()

    def action_assign(self) -> None:
        chosen = list(self.marked) or [i for i in [self.cursor_id()] if i is not None]
        if not chosen:
            self.notify(_("Nothing to assign: search for a machine first."), severity="warning")
            return
        self.dismiss(chosen)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_focus_search(self) -> None:
        self.query_one("#pick-search", Input).focus()

    def action_focus_table(self) -> None:
        table = self.query_one(PickTable)
        if table.row_count:
            table.focus()
