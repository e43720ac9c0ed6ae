"""The permissions a role may grant, and the one check every service makes.

The YAML names roles and what they grant; this module names what can be
granted, so a typo in a site's file is caught when it is loaded.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from tui.i18n import N_, _

if TYPE_CHECKING:
    from tui.domain.context import Actor

# permission key -> what it allows, phrased to follow "is not allowed to"
PERMISSIONS: dict[str, str] = {
    "customer.view": N_("view customers"),
    "customer.create": N_("create customers"),
    "customer.create_in_estimate": N_("create customers from an estimate"),
    "customer.edit": N_("edit customers"),
    "customer.delete": N_("delete customers"),
    "contact.view": N_("view contacts"),
    "contact.edit": N_("add, edit or delete contacts"),
    "equipment.view": N_("view equipment"),
    "equipment.edit": N_("add, edit or retire equipment"),
    "equipment.assign": N_("assign or unassign equipment"),
    "event.record": N_("record equipment events"),
    "document.view": N_("view admin documents"),
    "document.edit": N_("add, change or delete admin documents"),
    "estimate.view": N_("view estimates"),
    "estimate.edit": N_("create or edit estimates"),
    "project.view": N_("view projects"),
    "project.edit": N_("change projects"),
    "group.edit": N_("manage customer groups"),
    "data.import": N_("import data"),
    "data.export": N_("export data"),
    "notify.send": N_("send notifications"),
    "audit.view": N_("view the audit trail"),
    "user.manage": N_("manage users"),
    "backup.restore": N_("restore backups"),
}


def describe(permission: str) -> str:
    return _(PERMISSIONS.get(permission, permission))


def expand(patterns: list[str] | tuple[str, ...]) -> frozenset[str]:
    """Turn grants such as ``customer.*`` or ``*`` into concrete permission keys."""
    granted: set[str] = set()
    for pattern in patterns:
        granted.update(p for p in PERMISSIONS if fnmatchcase(p, pattern))
    return frozenset(granted)


def is_known_pattern(pattern: str) -> bool:
    return any(fnmatchcase(p, pattern) for p in PERMISSIONS)


def require(actor: "Actor", permission: str) -> None:
    """Raise PermissionDenied unless ``actor`` holds ``permission``."""
    require_any(actor, permission)


def require_any(actor: "Actor", *permissions: str) -> None:
    """Raise PermissionDenied (naming the first) unless ``actor`` holds one of ``permissions``.

    For a step that several services share, each with its own permission: whoever may
    take any of those may take the step.
    """
    from tui.domain.errors import PermissionDenied

    unknown = [p for p in permissions if p not in PERMISSIONS]
    if unknown or not permissions:  # a programming error, not a user's
        raise KeyError(unknown[0] if unknown else "no permission given")
    if not actor.permissions.intersection(permissions):
        raise PermissionDenied(actor.login, permissions[0], None)
