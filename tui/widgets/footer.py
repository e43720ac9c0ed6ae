"""The footer every screen and dialog shows: the keys that work here."""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer


class KeysFooter(Footer):
    """Textual's footer, rebuilt only when the keys it shows change.

    The stock footer rebuilds every key (each a widget that gets its styles applied)
    whenever the screen's bindings are recomputed, which is on every focus move: in a
    form of twenty fields, moving from field to field spent most of its time there.
    The keys shown only change when a binding appears, goes, or is enabled or disabled.
    """

    _shown: tuple | None = None

    def bindings_changed(self, screen: Screen) -> None:
        if screen.app.app_focus and self.is_attached and screen is self.screen:
            shown = tuple((binding.key, binding.description, enabled)
                          for _node, binding, enabled, _tip in screen.active_bindings.values()
                          if binding.show)
            if shown == self._shown:
                self._bindings_ready = True
                return
            self._shown = shown
        super().bindings_changed(screen)
