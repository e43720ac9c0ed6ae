"""Typed errors raised by the domain; every one carries a message fit for a user."""

from __future__ import annotations

from collections.abc import Mapping

from tui.i18n import _


class ClientbookError(Exception):
    """Base of every error a user may see: ``str(error)`` is the one-line message."""


class ConfigError(ClientbookError):
    """The YAML configuration cannot be used; the message names file, line and problem."""


class DatabaseError(ClientbookError):
    """The database cannot be opened or used (path, permissions, schema version, lock)."""


class PermissionDenied(ClientbookError):
    def __init__(self, login: str, permission: str, message: str | None = None):
        self.login = login
        self.permission = permission
        super().__init__(
            message
            or _("{login} is not allowed to {action}.").format(
                login=login, action=describe_permission(permission)
            )
        )


class IdentityRefused(ClientbookError):
    """The login at the keyboard may not use this database at all."""


class NotFound(ClientbookError):
    def __init__(self, entity: str, key: object):
        self.entity = entity
        self.key = key
        super().__init__(_("No {entity} {key}.").format(entity=entity, key=key))


class Conflict(ClientbookError):
    """Somebody else saved the record since it was read; nothing was overwritten."""

    def __init__(self, entity: str, key: object, current: Mapping | None = None):
        self.entity = entity
        self.key = key
        self.current = dict(current or {})
        super().__init__(
            _("{entity} {key} was changed by someone else since you opened it; "
              "nothing was saved.").format(entity=entity.capitalize(), key=key)
        )


class ValidationError(ClientbookError):
    """One or more fields are wrong; ``errors`` maps field name to its message."""

    def __init__(self, errors: Mapping[str, str]):
        self.errors = dict(errors)
        parts = [f"{field}: {message}" for field, message in self.errors.items()]
        super().__init__("; ".join(parts))


class DuplicateWarning(ClientbookError):
    """A likely duplicate exists; the caller may retry with ``allow_duplicate=True``."""

    def __init__(self, matches: list[tuple[int, str, str]]):
        # (customer id, name, reason)
        self.matches = matches
        listed = ", ".join(f"#{cid} {name} ({reason})" for cid, name, reason in matches[:3])
        super().__init__(_("Possible duplicate of {listed}.").format(listed=listed))


def describe_permission(permission: str) -> str:
    from tui.domain.permissions import describe

    return describe(permission)


class AlreadyAssigned(ClientbookError):
    """The machine is held by a customer already; the database's one-open-assignment rule."""

    def __init__(self, serial: str, holder: str):
        self.serial = serial
        self.holder = holder
        super().__init__(
            _("Machine {serial} is already assigned to {holder}.").format(serial=serial,
                                                                           holder=holder)
        )
