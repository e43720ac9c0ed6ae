"""The e-mail outbox: messages are queued in the transaction that causes them, sent later.

Queuing never needs the mail server, so recording an event or creating a
customer works while e-mail is down or not configured; the sender (below)
delivers what is due, and the outbox screen shows what is pending, sent or
failed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from peewee import fn

from tui.domain.context import Context
from tui.domain.mail import new_message_id, render
from tui.domain.models import Contact, Customer, EquipmentEvent, Notification, utcnow
from tui.domain.permissions import require
from tui.domain.services._base import audit, write

STATUSES = ("pending", "sending", "sent", "failed")


def enqueue(ctx: Context, *, kind: str, customer: Customer, contact: Contact,
            values: Mapping[str, str], event: EquipmentEvent | None = None) -> Notification:
    """Render the message in the customer's language and put it in the outbox.

    Called inside the caller's transaction: no permission of its own, the
    caller's (event.record, customer.create) covers it.
    """
    rendered = render(ctx.config, kind, customer.language, {
        "business_name": ctx.config.business_name, "customer_name": customer.name,
        "contact_name": contact.name, **values})
    return Notification.create(
        kind=kind, event=event, customer_id=customer.id, contact_id=contact.id,
        recipient_name=contact.name, recipient_email=contact.email,
        language=rendered.language, subject=rendered.subject, body=rendered.body,
        message_id=new_message_id(ctx.config), created_by=ctx.actor.login)


@dataclass(frozen=True)
class OutboxPage:
    rows: list[Notification]
    total: int
    offset: int


def list_notifications(ctx: Context, *, status: str | None = None, limit: int = 100,
                       offset: int = 0) -> OutboxPage:
    """Newest first; ``status`` one of STATUSES or None for all."""
    require(ctx.actor, "notify.send")
    query = Notification.select()
    if status is not None:
        query = query.where(Notification.status == status)
    total = query.count()
    rows = list(query.order_by(Notification.created_at.desc(), Notification.id.desc())
                .limit(limit).offset(offset))
    return OutboxPage(rows, total, offset)


def outbox_counts(ctx: Context) -> dict[str, int]:
    require(ctx.actor, "notify.send")
    counts = dict.fromkeys(STATUSES, 0)
    for status, count in (Notification.select(Notification.status,
                                              fn.COUNT(Notification.id))
                          .group_by(Notification.status).tuples()):
        counts[status] = count
    return counts


def retry_notifications(ctx: Context, notification_ids: Iterable[int]) -> int:
    """Put failed messages back in the queue, due now and with a fresh set of attempts.

    Sent messages and ones a sender is handling are left alone: retrying them
    could send them twice.
    """
    with write(ctx, "notify.send"):
        ids = list(dict.fromkeys(notification_ids))
        changed = (Notification.update(status="pending", attempts=0, next_attempt_at=utcnow(),
                                       claimed_by=None, claimed_at=None)
                   .where(Notification.id.in_(ids), Notification.status == "failed").execute())
        if changed:
            audit(ctx, "retry", "notification", None, after={"ids": ids, "count": changed})
        return changed
