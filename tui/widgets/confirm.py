"""A yes/no dialog for every destructive action: it says what will happen, then asks."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from tui.i18n import N_, _
from tui.bindings import TranslatedBindings


class ConfirmDialog(TranslatedBindings, ModalScreen[bool]):
    """Dismisses with True only on an explicit confirm; Escape and Cancel give False."""

    CSS_PATH = "confirm.tcss"

    BINDINGS = [
        Binding("escape", "cancel", N_("Cancel"), id="confirm.cancel"),
        Binding("y", "confirm", N_("Yes"), id="confirm.yes", show=False),
    ]

    def __init__(self, title: str, body: str, confirm_label: str, *, danger: bool = True) -> None:
        super().__init__()
        self.title_text = title
        self.body = body
        self.confirm_label = confirm_label
        self.danger = danger

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, classes="title", markup=False)
            yield Static(self.body, id="confirm-body", markup=False)
            with Horizontal():
                yield Button(_("Cancel"), id="cancel")
                yield Button(self.confirm_label, id="confirm",
                             variant="error" if self.danger else "primary")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()  # the safe choice is the default

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm")

    def action_cancel(self) -> None:
        self.dismiss(False)

    def action_confirm(self) -> None:
        self.dismiss(True)
