"""What to do when somebody else saved the record you are editing: theirs or yours.

The caller passes both versions as display text (field -> text) with field labels;
the dialog shows, side by side, only the fields whose texts differ, and dismisses with
what the operator chose:

- ``"reload"``: discard my edits and show what is stored now;
- ``"overwrite"``: save my edits over theirs, knowingly;
- ``"edit"`` (also Escape): go back to editing, nothing saved.

It stores nothing itself: the caller reloads or retries with the new version.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from tui.i18n import N_, _
from tui.bindings import TranslatedBindings
from tui.widgets.footer import KeysFooter

RELOAD, OVERWRITE, EDIT = "reload", "overwrite", "edit"


def differing_fields(theirs: Mapping[str, str], yours: Mapping[str, str],
                     order: Mapping[str, str] | None = None) -> list[str]:
    """The keys whose texts differ, in ``order``'s order (then theirs', then yours')."""
    keys = list(dict.fromkeys([*(order or {}), *theirs, *yours]))
    return [key for key in keys if (theirs.get(key) or "") != (yours.get(key) or "")]


class ConflictDialog(TranslatedBindings, ModalScreen[str]):
    """Theirs and yours side by side for the fields that differ; choose which to keep."""

    CSS_PATH = "conflict.tcss"

    BINDINGS = [
        Binding("escape", "choose('edit')", N_("Keep editing"), id="conflict.edit"),
        Binding("r", "choose('reload')", N_("Reload theirs"), id="conflict.reload"),
        Binding("o", "choose('overwrite')", N_("Overwrite with mine"), id="conflict.overwrite"),
    ]

    def __init__(self, theirs: Mapping[str, str], yours: Mapping[str, str], *,
                 labels: Mapping[str, str] | None = None, title: str | None = None,
                 message: str | None = None) -> None:
        super().__init__()
        self.theirs = dict(theirs)
        self.yours = dict(yours)
        self.labels = dict(labels or {})
        self.heading = title or _("Someone else saved this meanwhile")
        self.explanation = message or _("Nothing of yours is saved yet. Keep their version, "
                                    "or overwrite it with yours?")

    @property
    def changed_keys(self) -> list[str]:
        return differing_fields(self.theirs, self.yours, self.labels)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.heading, id="conflict-title", markup=False)
            yield Static(self.explanation, id="conflict-message", markup=False)
            with VerticalScroll(id="conflict-scroll"):
                yield Static(self.comparison(), id="conflict-table")
            with Horizontal(id="conflict-buttons"):
                yield Button(_("Keep editing"), id=EDIT, compact=True)
                yield Button(_("Reload theirs"), id=RELOAD, compact=True)
                yield Button(_("Overwrite with mine"), id=OVERWRITE, variant="warning",
                             compact=True)
        yield KeysFooter()

    def comparison(self) -> Table | Text:
        """A three-column table; every cell is plain Text, so user data shows as typed."""
        fields = self.changed_keys
        if not fields:
            return Text(_("The stored values are the same as yours; only the version changed."))
        table = Table(box=None, expand=True, padding=(0, 1), show_edge=False)
        table.add_column(_("Field"), style="bold", max_width=18)
        table.add_column(_("Theirs (stored)"), ratio=1)
        table.add_column(_("Yours"), ratio=1)
        for key in fields:
            table.add_row(Text(self.labels.get(key, key)), Text(self.theirs.get(key) or "—"),
                          Text(self.yours.get(key) or "—"))
        return table

    def on_mount(self) -> None:
        self.query_one(f"#{EDIT}", Button).focus()  # the choice that loses nothing

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id or EDIT)

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice)
