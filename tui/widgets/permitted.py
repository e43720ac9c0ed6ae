"""Ask the domain before opening a dialog, and show its refusal instead of raising it."""

from __future__ import annotations

from textual.widget import Widget

from tui.domain.errors import PermissionDenied
from tui.domain.permissions import require


def permitted(widget: Widget, permission: str) -> bool:
    """True if the acting user holds ``permission``; else notify the service's reason."""
    try:
        require(widget.app.ctx.actor, permission)
    except PermissionDenied as error:
        widget.notify(str(error), severity="error", markup=False)
        return False
    return True
