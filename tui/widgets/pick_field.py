"""The field a CSV column feeds, picked from the import kind's fields (import mapping step)."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from tui.domain.imports import fields_for
from tui.i18n import N_, _
from tui.bindings import TranslatedBindings

IGNORE = "-ignore-"  # the option id of "ignore this column"


class FieldPickerDialog(TranslatedBindings, ModalScreen[str | None]):
    """Which field a column feeds: a field key, "" to ignore it, or None (cancelled)."""

    CSS_PATH = "pick_field.tcss"
    BINDINGS = [Binding("escape", "cancel", N_("Cancel"), id="import_field.cancel")]

    def __init__(self, kind: str, header: str, current: str | None) -> None:
        super().__init__()
        self.kind, self.header, self.current = kind, header, current

    def compose(self) -> ComposeResult:
        options = [Option(Text(_("(ignore this column)"), style="italic"), id=IGNORE)]
        for key, label in fields_for(self.kind):
            text = Text(label)
            if label != key:
                text.append("  " + key, style="dim")
            options.append(Option(text, id=key))
        with Vertical(id="field-box"):
            yield Static(_("Column “{header}” feeds:").format(header=self.header),
                         id="field-title", markup=False)
            yield OptionList(*options, id="field-options")
            yield Static(_("Enter chooses · Esc cancels"), classes="hint")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = options.get_option_index(self.current or IGNORE)

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss("" if event.option.id == IGNORE else event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
