"""Help: the keys of the screen you came from, and the ones that work everywhere."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.i18n import N_, _
from tui.bindings import TranslatedBindings


class HelpScreen(TranslatedBindings, ModalScreen[None]):
    CSS_PATH = "help.tcss"
    BINDINGS = [Binding("escape,f1,q", "dismiss", N_("Close"), id="help.close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Static(self.key_table(), id="help-keys")
            yield Static(_("Esc closes this help. Ctrl+P opens the command palette."),
                         classes="hint")

    def key_table(self) -> Table:
        """The bindings active where the user was: the focused widget's, its screen's, the app's."""
        underneath = self.app.screen_stack[-2] if len(self.app.screen_stack) > 1 else None
        table = Table(title=_("Keys"), box=None, expand=True, show_header=False)
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        seen = set()
        active = underneath.active_bindings.values() if underneath is not None else []
        for active_binding in active:
            binding = active_binding.binding
            # Ours carry an id; the widgets' generic movement keys (cursor, page) do not.
            if not binding.description or not active_binding.enabled or binding.id is None:
                continue
            key = self.app.get_key_display(binding)
            if binding.description in seen:
                continue
            seen.add(binding.description)
            table.add_row(Text(key), Text(binding.description))
        return table
