"""One audit event in full: who, when, and every changed field with its value before and after.

A customer's deletion also shows what its event kept (contacts, documents, groups,
projects, the machines it held and who holds them now) and, for a role that may,
offers to restore it: the dialog dismisses with True and the screen that opened it
asks for confirmation and calls the service. Enter on a field shows its whole values
(the columns cut long ones short). Every value is user data: shown as ``Text``, never
as markup.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Static

from tui.domain.locale_format import format_datetime
from tui.domain.services.audit import AuditRow, DeletedCustomer
from tui.i18n import N_, _
from tui.bindings import TranslatedBindings


class AuditDetailDialog(TranslatedBindings, ModalScreen[bool]):
    """Dismisses with True when the user asks to restore the deleted customer shown."""

    CSS_PATH = "audit_detail.tcss"

    BINDINGS = [
        Binding("escape,q", "close", N_("Close"), id="audit_detail.close"),
        Binding("r", "restore", N_("Restore"), id="audit_detail.restore"),
    ]

    def __init__(self, row: AuditRow, state: DeletedCustomer | None = None, *,
                 may_restore: bool = False) -> None:
        super().__init__()
        self.row = row
        self.state = state
        self.may_restore = may_restore

    @property
    def restorable(self) -> bool:
        return self.may_restore and self.state is not None and self.state.refusal is None

    def compose(self) -> ComposeResult:
        row = self.row
        with Vertical():
            yield Static(Text(row.summary), id="audit-detail-title")
            yield Static(Text(_("{when} UTC · by {login} · event #{id}").format(
                when=format_datetime(row.at), login=row.login, id=row.id)),
                id="audit-detail-facts")
            yield DataTable(id="audit-detail-changes", cursor_type="row", zebra_stripes=True)
            if self.state is not None:
                lines = self.state.describe()
                if self.state.refusal:
                    lines.append(self.state.refusal)
                yield Static(Text("\n".join(lines)), id="audit-detail-state")
            with Horizontal(id="audit-detail-buttons"):
                if self.restorable:
                    yield Button(_("Restore…"), id="restore", variant="primary", compact=True)
                yield Button(_("Close"), id="close", compact=True)

    def on_mount(self) -> None:
        table = self.query_one("#audit-detail-changes", DataTable)
        # 76 columns inside the border: widths + 2 cells of padding each + the scrollbar.
        table.add_column(_("Field"), key="field", width=20)
        table.add_column(_("Before"), key="before", width=24)
        table.add_column(_("After"), key="after", width=24)
        for change in self.row.changes:
            cells = [Text(change.label), Text(" ".join(change.before_text.split())),
                     Text(" ".join(change.after_text.split()))]
            for cell in cells:
                cell.no_wrap, cell.overflow = True, "ellipsis"
            table.add_row(*cells, key=change.field)
        if not self.row.changes:
            table.add_row(Text(_("No field recorded")), Text(""), Text(""))
        table.focus()  # arrows scroll the fields

    @on(DataTable.RowSelected, "#audit-detail-changes")
    def _field_chosen(self, event: DataTable.RowSelected) -> None:
        """Enter on a field: its whole values, which the columns may have cut short."""
        change = next((c for c in self.row.changes if c.field == event.row_key.value), None)
        if change is not None:
            self.notify(_("Before: {before}\nAfter: {after}").format(
                before=change.before_text, after=change.after_text), title=change.label,
                markup=False, timeout=20)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "restore":
            return self.restorable
        return True

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "restore")

    def action_close(self) -> None:
        self.dismiss(False)

    def action_restore(self) -> None:
        if self.restorable:
            self.dismiss(True)
