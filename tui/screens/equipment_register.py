"""The equipment register (E1, E3): every machine and the customer holding it, fleet-wide.

Searching, filtering, sorting and paging happen in SQL on the app's query thread,
so the table only ever holds the page on screen and typing stays responsive with a
large fleet. Enter opens the machine screen (its history and events).
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
from tui.domain.locale_format import format_number
from tui.domain.services.equipment import (
    FLEET_SORTS,
    FleetPage,
    FleetRow,
    delete_equipment,
    delete_refusal,
    equipment_types,
    search_equipment,
)
from tui.i18n import N_, _
from tui.bindings import TranslatedBindings
from tui.lock_wait import waits_for_lock
from tui.widgets.confirm import ConfirmDialog
from tui.widgets.equipment_form import MachineEditing
from tui.widgets.footer import KeysFooter
from tui.widgets.paged_table import PagedTable
from tui.widgets.permitted import permitted

PAGE_SIZE = 100
SORT_LABELS = {"serial": N_("serial"), "name": N_("name"), "make": N_("make and model"),
               "type": N_("type"), "year": N_("year"), "holder": N_("holder")}
HOLDING_LABELS = {"all": N_("In service"), "assigned": N_("Assigned"),
                  "unassigned": N_("Unassigned"), "retired": N_("Retired")}
EDITING = ("add", "edit", "retire", "reinstate", "delete")


class FleetTable(PagedTable):
    """A page of the register."""


class EquipmentRegisterScreen(TranslatedBindings, MachineEditing, Screen):
    CSS_PATH = "equipment_register.tcss"
    AUTO_FOCUS = "#fleet"

    BINDINGS = [
        Binding("slash", "focus_search", N_("Search"), id="register.search"),
        Binding("a", "add", N_("Add"), id="register.add"),
        Binding("e", "edit", N_("Edit"), id="register.edit"),
        # one key, two actions: check_action offers the one that fits the row
        Binding("r", "retire", N_("Retire"), id="register.retire"),
        Binding("r", "reinstate", N_("Reinstate"), id="register.reinstate"),
        Binding("d,delete", "delete", N_("Delete"), id="register.delete"),
        # Sort and Open are named in the status line: 80 columns hold no more keys.
        Binding("s", "cycle_sort", N_("Sort"), id="register.sort", show=False),
        Binding("enter", "open_machine", N_("Open"), id="register.open", show=False),
        Binding("escape", "back", N_("Back"), id="register.back"),
        Binding("ctrl+pagedown", "page(1)", N_("Next page"), id="register.next_page",
                show=False),
        Binding("ctrl+pageup", "page(-1)", N_("Previous page"), id="register.previous_page",
                show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.page_start = 0
        self.sort = "serial"
        self.page: FleetPage | None = None
        self._cursor_after_load: int | str = 0
        self._request = 0  # the newest search asked for; older ones are skipped

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="fleet-filters"):
            yield Input(placeholder=_("Search serial, name, make, model, type, year, holder…"),
                        id="fleet-search")
            yield Select([], prompt=_("All types"), id="fleet-type")
            yield Select([(_(label), key) for key, label in HOLDING_LABELS.items()],
                         value="all", allow_blank=False, id="fleet-holding")
        yield FleetTable(id="fleet", cursor_type="row", zebra_stripes=True)
        yield Static(id="fleet-status", markup=False)
        yield KeysFooter()

    def on_mount(self) -> None:
        self.title = _("Equipment register")
        self._refresh_types()
        table = self.query_one(FleetTable)
        # 80 columns: widths + 2 cells of padding each + the scrollbar. Make and model
        # share a column (one padding less) so the holder, the point of this screen, gets room.
        table.add_column(_("Serial"), key="serial", width=11)
        table.add_column(_("Name"), key="name", width=12)
        table.add_column(_("Make / model"), key="make", width=14)
        table.add_column(_("Type"), key="type", width=8)
        table.add_column(_("Year"), key="year", width=4)
        table.add_column(_("Holder"), key="holder", width=15)
        self.reload()

    def _refresh_types(self) -> None:
        """Offer the types in use now, keeping the chosen one if it still exists."""
        select = self.query_one("#fleet-type", Select)
        try:
            kinds = equipment_types(self.app.ctx)
        except ClientbookError as error:
            self.notify(str(error), severity="error", markup=False)
            return
        if kinds == getattr(self, "_kinds", None):
            return
        chosen = select.value
        self._kinds = kinds
        select.set_options([(kind, kind) for kind in kinds])
        if chosen in kinds:
            select.value = chosen

    # -- loading ---------------------------------------------------------------------------
    def reload(self, *, keep_cursor: bool = False) -> None:
        table = self.query_one(FleetTable)
        if keep_cursor and table.row_count:
            self._cursor_after_load = table.cursor_row
        kind = self.query_one("#fleet-type", Select).value
        holding = self.query_one("#fleet-holding", Select).value
        self.load_page(self.query_one("#fleet-search", Input).value,
                       None if kind is Select.NULL else str(kind),
                       "all" if holding is Select.NULL else str(holding),
                       self.sort, self.page_start)

    @work(exclusive=True, group="fleet-search")
    async def load_page(self, text: str, kind: str | None, holding: str, sort: str,
                        start: int) -> None:
        # On the app's query thread (one warm connection), as the customer list does;
        # when keys come faster than searches, only the newest search runs.
        self._request += 1
        request = self._request
        search = partial(search_equipment, self.app.ctx, text, type=kind, holding=holding,
                         sort=sort, limit=PAGE_SIZE, offset=start)

        def run_if_still_wanted() -> FleetPage | None:
            return search() if request == self._request else None

        try:
            page = await asyncio.get_running_loop().run_in_executor(self.app.query_executor,
                                                                    run_if_still_wanted)
        except ClientbookError as error:
            self.notify(str(error), severity="error", markup=False)
            return
        if page is not None and request == self._request and self.is_attached:
            self.show_page(page)

    def show_page(self, page: FleetPage) -> None:
        self.page = page
        table = self.query_one(FleetTable)
        table.clear()
        for row in page.rows:
            if row.retired:
                holder = Text(_("retired"), style="dim italic")
            elif row.holder_name is None:
                holder = Text(_("unassigned"), style="dim")
            else:
                holder = Text(row.holder_name)
            # Text, not str: a DataTable reads strings as markup, and these are user data.
            make_model = " ".join(part for part in (row.make, row.model) if part)
            cells = (row.serial, row.name, make_model, row.type,
                     "" if row.year is None else str(row.year))
            table.add_row(*(Text(cell) for cell in cells), holder, key=str(row.id))
        if page.rows:
            wanted = self._cursor_after_load
            index = len(page.rows) - 1 if wanted == "last" else min(int(wanted), len(page.rows) - 1)
            table.move_cursor(row=index, animate=False)
        self._cursor_after_load = 0
        self.query_one("#fleet-status", Static).update(self.status_text(page))
        self.refresh_bindings()

    def status_text(self, page: FleetPage) -> str:
        if not page.total:
            filtered = (self.query_one("#fleet-search", Input).value
                        or self.query_one("#fleet-type", Select).value is not Select.NULL
                        or self.query_one("#fleet-holding", Select).value != "all")
            if filtered:
                return _("No machine matches.")
            if self.app.ctx.actor.can("equipment.edit"):
                return _("No machines yet: press a to add one.")
            return _("No machines yet.")
        return _("{first}–{last} of {total} · sorted by {sort} (s) · Enter opens").format(
            first=format_number(page.offset + 1),
            last=format_number(page.offset + len(page.rows)), total=format_number(page.total),
            sort=_(SORT_LABELS[self.sort]))

    def cursor_row(self) -> FleetRow | None:
        if self.page is None:  # nothing loaded yet
            return None
        table = self.query_one(FleetTable)
        if not table.row_count:
            return None
        row_key, _column = table.coordinate_to_cell_key(table.cursor_coordinate)
        wanted = int(row_key.value)
        return next((row for row in self.page.rows if row.id == wanted), None)

    # -- keys for this role and this row -----------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in EDITING and not self.app.ctx.actor.can("equipment.edit"):
            return False
        if action in ("edit", "retire", "reinstate", "delete", "open_machine"):
            row = self.cursor_row()
            if action == "retire" and row is not None and row.retired:
                return False
            if action == "reinstate":
                return row is not None and row.retired or False
            if row is None:
                return None  # offered, but nothing to act on yet
        return True

    @on(DataTable.RowHighlighted, "#fleet")
    def row_highlighted(self) -> None:
        self.refresh_bindings()  # retire or reinstate, as the row is

    # -- events ----------------------------------------------------------------------------
    @on(Input.Changed, "#fleet-search")
    def search_changed(self) -> None:
        self.page_start = 0
        self.reload()

    @on(Input.Submitted, "#fleet-search")
    def search_submitted(self) -> None:
        self.query_one(FleetTable).focus()

    @on(Select.Changed)
    def filter_changed(self) -> None:
        self.page_start = 0
        self.reload()

    @on(DataTable.RowSelected, "#fleet")
    def row_selected(self) -> None:
        self.action_open_machine()

    @on(FleetTable.PageRequested)
    def page_requested(self, event: FleetTable.PageRequested) -> None:
        self._cursor_after_load = 0 if event.step > 0 else "last"
        self.action_page(event.step)

    def on_screen_resume(self) -> None:
        if self.page is not None:  # back from a machine: show what changed there
            self._refresh_types()
            self.reload(keep_cursor=True)

    def machine_changed(self, equipment_id: int | None) -> None:
        self._refresh_types()
        self.reload(keep_cursor=True)

    # -- actions ---------------------------------------------------------------------------
    def action_focus_search(self) -> None:
        self.query_one("#fleet-search", Input).focus()

    def action_back(self) -> None:
        if self.focused is self.query_one("#fleet-search", Input):
            self.query_one(FleetTable).focus()  # Escape leaves the search box first
        else:
            self.app.pop_screen()

    def action_cycle_sort(self) -> None:
        names = list(FLEET_SORTS)
        self.sort = names[(names.index(self.sort) + 1) % len(names)]
        self.page_start = 0
        self.reload()

    def action_page(self, step: int) -> None:
        if self.page is None:
            return
        start = self.page_start + step * PAGE_SIZE
        if start < 0 or start >= max(self.page.total, 1) or (step > 0 and not self.page.rows):
            return
        self.page_start = start
        self.reload()

    def action_open_machine(self) -> None:
        row = self.cursor_row()
        if row is not None:
            self.app.action_open_machine(row.id)

    def action_add(self) -> None:
        self.add_machine()

    def action_edit(self) -> None:
        row = self.cursor_row()
        if row is not None:
            self.edit_machine(row.id)

    def action_retire(self) -> None:
        row = self.cursor_row()
        if row is not None:
            self.retire_or_reinstate(row.id)

    action_reinstate = action_retire

    def action_delete(self) -> None:
        row = self.cursor_row()
        if row is None or not permitted(self, "equipment.edit"):
            return
        ctx = self.app.ctx
        try:
            refusal = delete_refusal(ctx, row.id)
        except ClientbookError as error:
            refusal = str(error)
        if refusal:  # say so now rather than after a confirmation
            self.notify(refusal, severity="error", markup=False)
            return

        @waits_for_lock
        def answered(self, confirmed: bool | None) -> None:
            if not confirmed:
                return
            try:
                delete_equipment(ctx, row.id, row.version)
            except ClientbookError as error:
                self.notify(str(error), severity="error", markup=False)
            else:
                self.notify(_("Machine {serial} deleted.").format(serial=row.serial),
                            markup=False)
            self.machine_changed(None)

        self.app.push_screen(ConfirmDialog(
            _("Delete machine {serial}?").format(serial=row.serial),
            _("It has no history, so it is removed for good (the audit trail keeps a copy)."),
            _("Delete")), partial(answered, self))

    def palette_actions(self) -> list[tuple[str, object]]:
        """(label, callback) for the command palette: what this role may do here."""
        offered = []
        if self.check_action("add", ()) is not False:
            offered.append((_("Add machine"), self.action_add))
        if self.cursor_row() is not None and self.check_action("edit", ()):
            offered.append((_("Edit this machine"), self.action_edit))
        offered.append((_("Cycle the register's sort"), self.action_cycle_sort))
        return offered
