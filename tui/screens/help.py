"""Help: the keys of the screen you came from, and the ones that work everywhere."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.i18n import _


class HelpScreen(ModalScreen[None]):
    CSS_PATH = "help.tcss"
    BINDINGS = [Binding("escape,f1,q", "dismiss", _("Close"), id="help.close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Static(self.key_table(), id="help-keys")
            yield Static(_("Esc closes this help. Ctrl+P opens the command palette."),
                         classes="hint")

    def key_table(self) -> Table:
        underneath = self.app.screen_stack[-1] if self.app.screen_stack else None
        table = Table(title=_("Keys"), box=None, expand=True, show_header=False)
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        seen = set()
        sources = [underneath, self.app] if underneath is not None else [self.app]
        for source in sources:
            for binding in source.BINDINGS:
                if not isinstance(binding, Binding) or not binding.description:
                    continue
                key = self.app.get_key_display(binding)
                if (key, binding.description) in seen:
                    continue
                seen.add((key, binding.description))
                table.add_row(Text(key), Text(binding.description))
        return table
