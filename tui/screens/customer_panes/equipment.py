"""The Equipment tab: the machines a customer holds now (E2), their history one key away (E4).

Space marks rows; ``u`` unassigns the marked ones (or the one under the
cursor) after a confirmation; ``a`` opens the pick dialog of unassigned
machines; ``h`` shows the assignment history. The list is what one customer
holds, so it is read whole when the tab is shown and after every change.
"""

from __future__ import annotations

from datetime import datetime, timezone

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from tui.domain.errors import AlreadyAssigned, ClientbookError
from tui.domain.locale_format import format_date, format_datetime
from tui.domain.services.customers import get_customer
from tui.domain.services.equipment import assign_equipment, open_assignments, unassign_equipment
from tui.i18n import N_, _, ngettext
from tui.bindings import TranslatedBindings
from tui.lock_wait import waits_for_lock
from tui.widgets.permitted import permitted
from tui.messages import CustomersChanged
from tui.widgets.confirm import ConfirmDialog
from tui.widgets.pick_equipment import PickEquipmentDialog

MARK = "✓"


def local_time(moment: datetime | None, *, date_only: bool = False) -> str:
    """Stored timestamps are naive UTC; people read their own clock, in their locale."""
    if moment is None:
        return ""
    local = moment.replace(tzinfo=timezone.utc).astimezone().replace(tzinfo=None)
    return format_date(local.date()) if date_only else format_datetime(local)


class EquipmentPane(TranslatedBindings, Vertical):
    BINDINGS = [
        Binding("a", "assign", N_("Assign equipment"), id="equipment.assign"),
        Binding("u", "unassign", N_("Unassign"), id="equipment.unassign"),
        Binding("space", "toggle_mark", N_("Mark"), id="equipment.mark"),
        Binding("h", "history", N_("History"), id="equipment.history"),
        Binding("o", "open_machine", N_("Open"), id="equipment.open"),
    ]

    def __init__(self, customer_id: int) -> None:
        super().__init__()
        self.customer_id = customer_id
        self.marked: set[int] = set()
        self.held: dict[int, str] = {}  # equipment id -> serial, as shown

    def compose(self) -> ComposeResult:
        yield DataTable(id="equipment-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="equipment-status", markup=False)

    def on_mount(self) -> None:
        table = self.query_one("#equipment-table", DataTable)
        # 80 columns: widths + 2 cells of padding each + the scrollbar.
        table.add_column(MARK, key="mark", width=1)
        table.add_column(_("Serial"), key="serial", width=14)
        table.add_column(_("Name"), key="name", width=18)
        table.add_column(_("Make / model"), key="make", width=16)
        table.add_column(_("Since"), key="since", width=10)
        self.refresh_list()

    def on_show(self) -> None:
        """The tab was opened: show what is held now, and take the keys."""
        self.refresh_list()
        self.query_one("#equipment-table", DataTable).focus()

    # -- loading ---------------------------------------------------------------------------
    def refresh_list(self) -> None:
        ctx = self.app.ctx
        table = self.query_one("#equipment-table", DataTable)
        status = self.query_one("#equipment-status", Static)
        cursor_key = self.cursor_id()
        cursor_row = table.cursor_row
        try:
            rows = open_assignments(ctx, self.customer_id)
        except ClientbookError as error:
            table.clear()
            self.held = {}
            status.update(str(error))
            return
        table.clear()
        self.held = {row.equipment.id: row.equipment.serial for row in rows}
        self.marked &= set(self.held)
        for row in rows:
            machine = row.equipment
            make = " ".join(part for part in (machine.make, machine.model) if part)
            table.add_row(MARK if machine.id in self.marked else "", Text(machine.serial),
                          Text(machine.name), Text(make),
                          local_time(row.assigned_at, date_only=True), key=str(machine.id))
        if cursor_key in self.held:
            table.move_cursor(row=table.get_row_index(str(cursor_key)), animate=False)
        elif rows:  # the row under the cursor went: stay at the same place
            table.move_cursor(row=min(cursor_row, len(rows) - 1), animate=False)
        self.show_status()
        self.refresh_bindings()

    def show_status(self) -> None:
        if not self.held:
            text = (_("No equipment assigned. Press a to assign some.")
                    if self.app.ctx.actor.can("equipment.assign") else _("No equipment assigned."))
        else:
            text = ngettext("{count} machine", "{count} machines", len(self.held)).format(
                count=len(self.held))
            if self.marked:
                text += " · " + _("{count} marked").format(count=len(self.marked))
        self.query_one("#equipment-status", Static).update(text)

    def cursor_id(self) -> int | None:
        table = self.query_one("#equipment-table", DataTable)
        if not table.row_count:
            return None
        row_key, _column = table.coordinate_to_cell_key(table.cursor_coordinate)
        return int(row_key.value)

    def action_open_machine(self) -> None:
        """The machine's own screen: its whole history and its events."""
        equipment_id = self.cursor_id()
        if equipment_id is not None:
            self.app.action_open_machine(equipment_id)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()  # Enter on the table opens it too (the table takes Enter first)
        self.action_open_machine()

    def chosen_ids(self) -> list[int]:
        """The marked machines, else the one under the cursor."""
        if self.marked:
            return [machine_id for machine_id in self.held if machine_id in self.marked]
        machine_id = self.cursor_id()
        return [] if machine_id is None else [machine_id]

    def customer_name(self) -> str:
        try:
            return get_customer(self.app.ctx, self.customer_id).name
        except ClientbookError:
            return _("customer {id}").format(id=self.customer_id)

    # -- permissions -----------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("assign", "unassign", "toggle_mark"):
            if not self.app.ctx.actor.can("equipment.assign"):
                return False
            if action != "assign" and not self.held:
                return None  # offered, but nothing to act on yet
        if action == "open_machine" and not self.held:
            return None
        return True

    def allowed(self, permission: str) -> bool:
        return permitted(self, permission)

    def changed(self) -> None:
        self.refresh_list()
        self.post_message(CustomersChanged(self.customer_id))

    # -- actions ---------------------------------------------------------------------------
    def action_toggle_mark(self) -> None:
        machine_id = self.cursor_id()
        if machine_id is None:
            return
        table = self.query_one("#equipment-table", DataTable)
        if machine_id in self.marked:
            self.marked.discard(machine_id)
            table.update_cell(str(machine_id), "mark", "")
        else:
            self.marked.add(machine_id)
            table.update_cell(str(machine_id), "mark", MARK)
        if table.cursor_row < table.row_count - 1:
            table.move_cursor(row=table.cursor_row + 1, animate=False)
        self.show_status()

    def action_assign(self) -> None:
        if not self.allowed("equipment.assign"):
            return
        title = _("Assign equipment to {customer}").format(customer=self.customer_name())
        self.app.push_screen(PickEquipmentDialog(title), self.assign_chosen)

    @waits_for_lock
    def assign_chosen(self, equipment_ids: list[int] | None) -> None:
        if not equipment_ids:
            return
        try:
            created = assign_equipment(self.app.ctx, self.customer_id, equipment_ids)
        except AlreadyAssigned as error:  # another operator took it a moment ago
            self.notify(str(error), severity="error", markup=False)
            self.refresh_list()
            return
        except ClientbookError as error:
            self.notify(str(error), severity="error", markup=False)
            self.refresh_list()
            return
        self.notify(ngettext("Assigned {count} machine.", "Assigned {count} machines.",
                             len(created)).format(count=len(created)))
        self.changed()

    def action_unassign(self) -> None:
        if not self.allowed("equipment.assign"):
            return
        chosen = self.chosen_ids()
        if not chosen:
            return
        customer = self.customer_name()
        if len(chosen) == 1:
            question = _("Unassign machine {serial} from {customer}?").format(
                serial=self.held[chosen[0]], customer=customer)
        else:
            question = _("Unassign {count} machines from {customer}?").format(
                count=len(chosen), customer=customer)
        body = question + " " + ngettext(
            "It becomes free to assign to another customer; the assignment history keeps "
            "the record.",
            "They become free to assign to another customer; the assignment history keeps "
            "the record.", len(chosen))
        self.app.push_screen(
            ConfirmDialog(_("Unassign equipment"), body, _("Unassign")),
            lambda confirmed: self.unassign_confirmed(chosen, confirmed))

    @waits_for_lock
    def unassign_confirmed(self, equipment_ids: list[int], confirmed: bool | None) -> None:
        if not confirmed:
            return
        try:
            closed = unassign_equipment(self.app.ctx, equipment_ids)
        except ClientbookError as error:
            self.notify(str(error), severity="error", markup=False)
            self.refresh_list()
            return
        self.marked.difference_update(equipment_ids)
        self.notify(ngettext("Unassigned {count} machine.", "Unassigned {count} machines.",
                             closed).format(count=closed))
        self.changed()

    def action_history(self) -> None:
        from tui.screens.assignment_history import AssignmentHistoryScreen

        self.app.push_screen(AssignmentHistoryScreen(self.customer_id, self.customer_name()))
