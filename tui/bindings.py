"""Key bindings whose descriptions follow the language chosen at run time.

BINDINGS are class attributes, built when a module is imported, so their descriptions
are written with `N_` (the English text, which is the catalog's key). A class that
mixes in `TranslatedBindings` shows them in the language active when each instance is
created: the footer, the key panel and the command palette all read the instance's map.
"""

from __future__ import annotations

from dataclasses import replace

from textual.binding import BindingsMap

from tui.i18n import _


def translated(bindings: BindingsMap) -> BindingsMap:
    """A copy of ``bindings`` with each description and tooltip passed through the catalog."""
    return BindingsMap.from_keys({
        key: [replace(binding,
                      description=_(binding.description) if binding.description else "",
                      tooltip=_(binding.tooltip) if binding.tooltip else "")
              for binding in key_bindings]
        for key, key_bindings in bindings.key_to_bindings.items()})


class TranslatedBindings:
    """Mixin for any Textual node (app, screen, widget) that declares BINDINGS."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._bindings = translated(self._bindings)
