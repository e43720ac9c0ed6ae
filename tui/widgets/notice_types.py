"""Which kinds of equipment notices a customer's contacts receive (C7): one multi-select.

The wizard's relationship step and the Details tab both use ``NoticeTypesList``;
``notice_labels`` says the same choice in words for read-only places. The keys
are the configuration's event types, shown by their label in the UI language
and kept in the configuration's order whatever order they were ticked in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from textual.widgets import SelectionList
from textual.widgets.selection_list import Selection

from tui.domain.config import Choice
from tui.i18n import _, current_language


def notice_labels(event_types: Mapping[str, Choice], keys: Iterable[str]) -> str:
    """"Service due, Breakdown" for the keys chosen, or "none"; unknown keys as they are."""
    chosen = set(keys)
    labels = [choice.label_for(current_language()) for key, choice in event_types.items()
              if key in chosen]
    labels += sorted(key for key in chosen if key not in event_types)
    return ", ".join(labels) or _("none")


class NoticeTypesList(SelectionList[str]):
    """Space (or Enter) ticks or unticks the highlighted type; one line per type."""

    DEFAULT_CSS = """
    NoticeTypesList {
        height: auto;
        max-height: 8;
        width: 1fr;
    }
    """

    def __init__(self, event_types: Mapping[str, Choice], chosen: Iterable[str] | None = None,
                 *, id: str | None = None, classes: str | None = None) -> None:
        """``chosen`` None ticks every type, as a new customer gets by default."""
        self.event_types = event_types
        picked = set(event_types if chosen is None else chosen)
        super().__init__(
            *(Selection(choice.label_for(current_language()), key, key in picked)
              for key, choice in event_types.items()),
            id=id, classes=classes, compact=True)

    @property
    def chosen(self) -> tuple[str, ...]:
        """The ticked keys, in the configuration's order."""
        ticked = set(self.selected)
        return tuple(key for key in self.event_types if key in ticked)

    def set_chosen(self, keys: Iterable[str] | None) -> None:
        """Tick exactly ``keys`` (None: every type); keys no longer configured are ignored."""
        wanted = set(self.event_types if keys is None else keys)
        for key in self.event_types:
            if key in wanted:
                self.select(key)
            else:
                self.deselect(key)
