"""The footer every screen and dialog shows: the keys that work here."""

from __future__ import annotations

from rich.cells import cell_len
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

# Keys that work everywhere and that Help (F1) lists: the first to leave a footer that is full.
GIVE_WAY = ("quit", "new_customer")


class KeysFooter(Footer):
    """Textual's footer, rebuilt only when the keys it shows change.

    The stock footer rebuilds every key (each a widget that gets its styles applied)
    whenever the screen's bindings are recomputed, which is on every focus move: in a
    form of twenty fields, moving from field to field spent most of its time there.
    The keys shown only change when a binding appears, goes, or is enabled or disabled.
    """

    _shown: tuple | None = None

    def compose(self):
        """Textual's keys, fitted to the width: a French or Danish footer runs longer than the
        English one, and a key past the right edge is a key nobody sees. What gives way, in
        turn: the app-wide keys (Quit, New customer), the palette hint (Ctrl+P still works),
        the space around each key, and at last the screen's own keys from the right; F1 Help,
        which lists them all, always stays."""
        keys = list(super().compose())
        active = self.screen.active_bindings
        app_wide = {key for key, binding in active.items()
                    if binding.node is self.app and binding.binding.action in GIVE_WAY}
        own = [key for key in keys if not (isinstance(key, FooterKey) and key.key in app_wide)]
        bare = [key for key in own if not key.has_class("-command-palette")]
        width = self.app.size.width
        for candidate, tight in ((keys, False), (own, False), (bare, False), (bare, True)):
            if _width(candidate, tight) <= width:
                break
        else:  # still too wide: the screen's last keys go (F1 lists them all), never Help
            helps = {key for key, binding in active.items() if binding.binding.action == "help"}
            while _width(candidate, tight) > width and len(candidate) > 1:
                dropped = next((key for key in reversed(candidate) if key.key not in helps), None)
                if dropped is None:
                    break
                candidate = [key for key in candidate if key is not dropped]
        self.set_class(tight, "-tight")
        yield from candidate

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


def _width(keys: list, tight: bool) -> int:
    """Columns the keys take: " key description " each, " key description" when tight, and
    the palette hint its border too."""
    total = 0
    for key in keys:
        if not isinstance(key, FooterKey):
            return 0  # grouped keys: leave Textual's layout alone
        text = cell_len(key.key_display) + (cell_len(key.description) + 1 if key.description else 0)
        total += text + (1 if tight else 2) + key.has_class("-command-palette")
    return total
