"""What every service shares: the write transaction, snapshots and the audit record."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime

import peewee

from tui.domain.context import Context
from tui.domain.database import DatabaseLocked, is_busy
from tui.domain.errors import Conflict, PermissionDenied
from tui.domain.models import AuditEvent, BaseModel, User, utcnow
from tui.domain.permissions import describe, require
from tui.i18n import _

# Derived columns: rebuilt from the others, so not worth a place in the audit trail.
NOT_AUDITED = {"name_key", "email_key", "website_key", "search_digits"}


@contextmanager
def write(ctx: Context, permission: str, *also: str) -> Iterator[None]:
    """Check the permission, then run the block in one transaction (write lock taken at BEGIN).

    The permission (and ``also``, any more the change needs) is checked twice: against
    the session's actor first (no query), then, inside the transaction, against what the
    user table says of that login now (``_still_allowed``, one query by the unique login):
    a user disabled or given a role without the permission while their session is open
    is refused from their next change on, not when they quit.

    Waiting for another program's lock happens before the block runs: BEGIN IMMEDIATE (on
    PostgreSQL, the writer's advisory lock) is retried with backoff by the database
    (``ClientbookDatabase``, ``ClientbookPostgres``), up to its lock timeout, and so is a
    busy COMMIT. The block itself is never run twice. Whatever still says
    "locked" becomes ``DatabaseLocked``, one sentence naming the database, and the whole
    transaction is rolled back. Inside another write, the block is a savepoint.
    """
    permissions = (permission, *also)
    for needed in permissions:
        require(ctx.actor, needed)
    # Models are bound to one database per process; a context for another is a bug.
    assert AuditEvent._meta.database is ctx.db, "context database is not the bound one"
    started = time.monotonic()
    try:
        with ctx.db.atomic():
            _still_allowed(ctx, permissions)
            yield
    except peewee.OperationalError as error:
        if not is_busy(error):
            raise
        raise DatabaseLocked(ctx.db.label, time.monotonic() - started) from None


_USER_ROW = 'SELECT role, active FROM "' + User._meta.table_name + '" WHERE login = {param}'


def _still_allowed(ctx: Context, permissions: tuple[str, ...]) -> None:
    """Refuse the change if the actor's user row now says it may not make it.

    The actor of a session is resolved once, when it opens (users.resolve_actor); this
    reads the row again, in the write transaction, so what an administrator changed
    since holds: a disabled account changes nothing, a new role needs the permission
    too. A login the user table does not hold keeps acting as its session was given
    (an unknown login under the configuration's default role, when the site allows one;
    see users.resolve_actor). A role the user gained since is not taken up here: the
    session's own permissions were checked first, so a change needs both.
    """
    login = ctx.actor.login
    # Raw SQL: built by peewee the same query costs ~0.4 ms against ~8 µs, on every write.
    row = ctx.db.execute_sql(_USER_ROW.format(param=ctx.db.param), (login,)).fetchone()
    if row is None:
        return
    role_key, active = row
    if not active:
        raise PermissionDenied(login, permissions[0], _(
            "The account {login} was disabled after this session began; nothing was saved. "
            "Ask an administrator to enable it again.").format(login=login))
    role = ctx.config.roles.get(role_key)
    if role is None:
        raise PermissionDenied(login, permissions[0], _(
            "{login} has the role {role}, which the configuration does not define; nothing "
            "was saved.").format(login=login, role=role_key))
    for permission in permissions:
        if permission not in role.permissions:
            raise PermissionDenied(login, permission, _(
                "{login} is no longer allowed to {action}: their role became {role} after this "
                "session began; nothing was saved.").format(
                login=login, action=describe(permission), role=role_key))


def snapshot(instance: BaseModel) -> dict:
    """A JSON-safe copy of a row, as the audit trail keeps it."""
    data = {}
    for name, field in instance._meta.fields.items():
        if name in NOT_AUDITED:
            continue
        value = getattr(instance, field.column_name)  # a foreign key gives its raw id
        if isinstance(value, (datetime, date)):
            value = value.isoformat()
        data[field.column_name] = value
    return data


def audit(
    ctx: Context,
    action: str,
    entity: str,
    entity_id: int | None,
    *,
    before: dict | None = None,
    after: dict | None = None,
    customer_id: int | None = None,
) -> AuditEvent:
    return AuditEvent.create(
        login=ctx.actor.login,
        action=action,
        entity=entity,
        entity_id=entity_id,
        customer_id=customer_id,
        before=before,
        after=after,
    )


def changed_fields(before: dict, after: dict) -> dict:
    """Only what differs, so an update's audit row says what changed."""
    return {key: after[key] for key in after if before.get(key) != after[key]}


def versioned_update(ctx: Context, model: type[BaseModel], key: int, expected_version: int,
                     values: dict, label: str, before: dict) -> None:
    """Write ``values`` only if the row is still at ``expected_version``; else raise Conflict.

    This is the optimistic lock: a save based on a stale read never
    overwrites what another operator saved in between.
    """
    stamps = {"version": model.version + 1}
    if "updated_at" in model._meta.fields:
        stamps["updated_at"] = utcnow()
    if "updated_by" in model._meta.fields:
        stamps["updated_by"] = ctx.actor.login
    updated = (model.update(**values, **stamps)
               .where(model.id == key, model.version == expected_version).execute())
    if not updated:
        current = model.get_or_none(model.id == key)
        raise Conflict(label, key, snapshot(current) if current is not None else before)
