"""The documents tab of the customer screen (being built)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from tui.i18n import _


class DocumentsPane(Vertical):
    def __init__(self, customer_id: int) -> None:
        super().__init__()
        self.customer_id = customer_id

    def compose(self) -> ComposeResult:
        yield Static(_("Not built yet."))
