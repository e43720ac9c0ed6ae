"""What every service shares: the write transaction, snapshots and the audit record."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime

import peewee

from tui.domain.context import Context
from tui.domain.database import DatabaseLocked, is_busy
from tui.domain.errors import Conflict
from tui.domain.models import AuditEvent, BaseModel, utcnow
from tui.domain.permissions import require

# Derived columns: rebuilt from the others, so not worth a place in the audit trail.
NOT_AUDITED = {"name_key", "email_key", "website_key", "search_digits"}


@contextmanager
def write(ctx: Context, permission: str) -> Iterator[None]:
    """Check the permission, then run the block in one transaction (write lock taken at BEGIN).

    Waiting for another program's lock happens before the block runs: BEGIN IMMEDIATE is
    retried with backoff by the database (``ClientbookDatabase``), up to its lock timeout,
    and so is a busy COMMIT. The block itself is never run twice. Whatever still says
    "locked" becomes ``DatabaseLocked``, one sentence naming the file, and the whole
    transaction is rolled back. Inside another write, the block is a savepoint.
    """
    require(ctx.actor, permission)
    # Models are bound to one database per process; a context for another is a bug.
    assert AuditEvent._meta.database is ctx.db, "context database is not the bound one"
    started = time.monotonic()
    try:
        with ctx.db.atomic():
            yield
    except peewee.OperationalError as error:
        if not is_busy(error):
            raise
        raise DatabaseLocked(ctx.db.path, time.monotonic() - started) from None


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
