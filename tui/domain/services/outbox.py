"""The e-mail outbox: messages are queued in the transaction that causes them, sent later.

Queuing never needs the mail server, so recording an event or creating a
customer works while e-mail is down or not configured; the sender (below)
delivers what is due, and the outbox screen shows what is pending, sent or
failed.
"""

from __future__ import annotations

import os
import smtplib
import socket
import ssl
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from peewee import fn

from tui.domain.context import Context
from tui.domain.dialect import same_text
from tui.domain.mail import (
    SmtpSettings,
    build_message,
    close_smtp,
    format_time,
    new_message_id,
    open_smtp,
    render,
    tls_context,
)
from tui.domain.models import Contact, Customer, EquipmentEvent, Notification, utcnow
from tui.domain.permissions import require, require_any
from tui.domain.services._base import audit, write
from tui.i18n import _

STATUSES = ("pending", "sending", "sent", "failed")
# kind of message -> what queuing one takes: the permissions of the services that queue it
# (recording an event; creating a customer, from the customer list or from an estimate).
QUEUE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "event": ("event.record",),
    "welcome": ("customer.create", "customer.create_in_estimate"),
}


def enqueue(ctx: Context, *, kind: str, customer: Customer, contact: Contact,
            values: Mapping[str, object], event: EquipmentEvent | None = None) -> Notification:
    """Render the message in the customer's language and put it in the outbox.

    The customer's language (``Customer.language``, C6) picks the template and the locale
    its dates are written in; the operator's language plays no part.

    Called inside the caller's transaction (record_event, create_customer), so the
    message is stored with what caused it or not at all. Queuing a kind of message
    takes one of the permissions of the services that queue it (QUEUE_PERMISSIONS).
    """
    require_any(ctx.actor, *QUEUE_PERMISSIONS[kind])
    values = dict(values)
    if event is not None and "occurred_at" in values:
        # The event's own moment, so that render writes it in the customer's language's
        # locale (23/11/2026 for a French customer), whatever the operator's locale.
        values["occurred_at"] = event.occurred_at
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
        query = query.where(same_text(Notification.status, status))
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


# ------------------------------------------------------------------ the sender

SENT, DEFERRED, FAILED, UNTOUCHED = "sent", "deferred", "failed", "untouched"
WOULD_SEND, WOULD_FAIL = "would send", "would fail"  # dry run
# A row a sender claimed this long ago and never marked was left by a sender
# that died (or lost the database) while talking to the server.
STALE_CLAIM = timedelta(minutes=10)


@dataclass(frozen=True)
class SendResult:
    notification_id: int
    recipient: str
    outcome: str  # SENT / DEFERRED / FAILED / UNTOUCHED; WOULD_SEND / WOULD_FAIL in a dry run
    reason: str = ""  # the server's or the network's words, for deferred and failed


@dataclass
class SendReport:
    dry_run: bool = False
    due: int = 0  # due when the run started
    sent: int = 0
    deferred: int = 0  # failed this time, will be retried
    failed: int = 0  # given up: permanent error, too many attempts, or interrupted
    untouched: int = 0  # due but not tried: the run stopped because the server was unreachable
    taken: int = 0  # another sender claimed it first
    stopped: str = ""  # why the run stopped early, if it did
    results: list[SendResult] = field(default_factory=list)


class _Unreachable(Exception):
    """The server cannot be used at all now: defer the message in hand and stop the run."""


def _smtp_reason(code: int, message: bytes | str) -> str:
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    return " ".join(f"{code} {message}".split())


def _classify(error: Exception) -> tuple[bool, str]:
    """(permanent?, reason) of an error raised while sending one message."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        code, message = next(iter(error.recipients.values()))
        return code >= 500, _("recipient refused: {reason}").format(
            reason=_smtp_reason(code, message))
    if isinstance(error, smtplib.SMTPSenderRefused):
        raise _Unreachable(_("sender address refused: {reason}").format(
            reason=_smtp_reason(error.smtp_code, error.smtp_error))) from error
    if isinstance(error, smtplib.SMTPResponseException):
        reason = _("server said: {reason}").format(
            reason=_smtp_reason(error.smtp_code, error.smtp_error))
        return error.smtp_code >= 500, reason
    if isinstance(error, smtplib.SMTPNotSupportedError):  # e.g. a non-ASCII address, no SMTPUTF8
        return True, _("the server cannot take this message: {reason}").format(reason=error)
    if isinstance(error, (UnicodeError, ValueError)):
        return True, _("the message cannot be sent: {reason}").format(reason=error)
    raise _Unreachable(_describe_connection_error(error)) from error


def _describe_connection_error(error: BaseException) -> str:
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return _("login refused: {reason}").format(
            reason=_smtp_reason(error.smtp_code, error.smtp_error))
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return _("the server lacks what the settings ask for: {reason}").format(reason=error)
    if isinstance(error, smtplib.SMTPResponseException):
        return _("server said: {reason}").format(
            reason=_smtp_reason(error.smtp_code, error.smtp_error))
    if isinstance(error, ssl.SSLError):
        return _("TLS failed: {reason}").format(reason=error.reason or error)
    if isinstance(error, (TimeoutError, socket.timeout)):
        return _("the server did not answer in time")
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return _("the server closed the connection: {reason}").format(reason=error)
    if isinstance(error, OSError):
        return _("cannot reach the server: {reason}").format(reason=error.strerror or error)
    return _("cannot use the server: {reason}").format(reason=error)


_CONNECTION_ERRORS = (smtplib.SMTPException, OSError)  # ssl.SSLError and timeouts are OSErrors


def send_due(ctx: Context, settings: SmtpSettings, *, dry_run: bool = False,
             now: datetime | None = None, limit: int | None = None,
             progress: Callable[[int, int], None] | None = None) -> SendReport:
    """Send the messages that are due, over one SMTP connection; return what happened.

    Never sends a message twice, even with several senders at once (cron and
    the outbox screen, two machines on one database): each message is claimed
    with a conditional UPDATE (pending -> sending) committed before the server
    is contacted, and only the sender whose UPDATE changed the row sends it.
    Afterwards it is marked sent, or back to pending for a later attempt (the
    delay doubles each time), or failed with the reason. A message left in
    ``sending`` by a sender that died is marked failed, not re-sent: it may
    have arrived. ``retry_notifications`` puts failed ones back.

    When the server cannot be reached the message in hand is deferred and the
    run stops; the rest are reported as untouched. (A connection lost while
    the server was taking a message leaves unknown whether it arrived; it is
    retried with the same Message-ID, by which a receiver can tell a repeat.) ``dry_run`` contacts no
    server and changes nothing. ``now`` (naive UTC) is for tests.

    Safe to call from a worker thread: peewee gives each thread its own
    database connection; one opened here for the calling thread is closed
    again on return. ``progress(done, total)`` is called from that thread
    after each message (and once with (0, total) before the first).
    """
    require(ctx.actor, "notify.send")
    opened_here = ctx.db.is_closed()
    try:
        return _send_due(ctx, settings, dry_run=dry_run, now=now, limit=limit,
                         progress=progress or (lambda done, total: None))
    finally:
        if opened_here and not ctx.db.is_closed():
            ctx.db.close()


def _send_due(ctx: Context, settings: SmtpSettings, *, dry_run: bool, now: datetime | None,
              limit: int | None, progress: Callable[[int, int], None]) -> SendReport:
    report = SendReport(dry_run=dry_run)
    clock = (lambda: now) if now is not None else utcnow
    started = clock()
    context = None if dry_run else tls_context(settings)  # a bad CA file fails before any claim
    _give_up_interrupted(ctx, settings, started, report, dry_run)

    query = (Notification.select(Notification.id, Notification.recipient_email)
             .where(Notification.status == "pending", Notification.next_attempt_at <= started)
             .order_by(Notification.next_attempt_at, Notification.id))
    if limit is not None:
        query = query.limit(limit)
    due = list(query.tuples())
    report.due = len(due)
    progress(0, len(due))
    if dry_run:
        for done, (key, recipient) in enumerate(due, start=1):
            report.results.append(SendResult(key, recipient, WOULD_SEND))
            progress(done, len(due))
        return report

    claimer = f"{ctx.actor.login}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    connection: smtplib.SMTP | None = None
    try:
        for done, (key, recipient) in enumerate(due, start=1):
            if report.stopped:
                report.untouched += 1
                report.results.append(SendResult(key, recipient, UNTOUCHED))
                continue
            note = _claim(ctx, key, claimer, clock())
            if note is None:
                report.taken += 1
            else:
                try:
                    if connection is None:
                        try:
                            connection = open_smtp(settings, context)
                        except _CONNECTION_ERRORS as error:
                            raise _Unreachable(_describe_connection_error(error)) from error
                    _deliver(connection, settings, note)
                except _Unreachable as stop:
                    report.stopped = str(stop)
                    _retry_later(ctx, note, claimer, str(stop), clock(), report)
                    connection = _drop(connection)
                except Exception as error:  # noqa: BLE001 - every outcome is recorded
                    try:
                        permanent, reason = _classify(error)
                    except _Unreachable as stop:
                        report.stopped = str(stop)
                        permanent, reason = False, str(stop)
                        connection = _drop(connection)
                    if permanent:
                        _fail(ctx, note, claimer, reason, report)
                    else:
                        _retry_later(ctx, note, claimer, reason, clock(), report)
                else:
                    _mark_sent(ctx, note, claimer, clock(), report)
            progress(done, len(due))
    finally:
        if connection is not None:
            close_smtp(connection)
    return report


def _drop(connection: smtplib.SMTP | None) -> None:
    if connection is not None:
        connection.close()
    return None


def _deliver(connection: smtplib.SMTP, settings: SmtpSettings, note: Notification) -> None:
    message = build_message(settings, recipient_name=note.recipient_name,
                            recipient_email=note.recipient_email, subject=note.subject,
                            body=note.body, message_id=note.message_id, language=note.language)
    connection.send_message(message, from_addr=settings.from_address,
                            to_addrs=[note.recipient_email])


def _claim(ctx: Context, key: int, claimer: str, moment: datetime) -> Notification | None:
    """Take one message for this sender; None if another sender (or a retry) got there first."""
    with write(ctx, "notify.send"):
        claimed = (Notification.update(status="sending", claimed_by=claimer, claimed_at=moment)
                   .where(Notification.id == key, Notification.status == "pending",
                          Notification.next_attempt_at <= moment)
                   .execute())
        return Notification.get_by_id(key) if claimed else None


def _settle(ctx: Context, note: Notification, claimer: str, action: str, values: dict) -> None:
    """Write the outcome of a claimed message, and audit it, in one transaction."""
    with write(ctx, "notify.send"):
        changed = (Notification.update(**values)
                   .where(Notification.id == note.id, Notification.status == "sending",
                          Notification.claimed_by == claimer).execute())
        if changed:
            audit(ctx, action, "notification", note.id, customer_id=note.customer_id,
                  after={key: value.isoformat() if isinstance(value, datetime) else value
                         for key, value in values.items()
                         if key not in ("claimed_by", "claimed_at")})


def _mark_sent(ctx, note, claimer, moment, report: SendReport) -> None:
    _settle(ctx, note, claimer, "send", {"status": "sent", "sent_at": moment, "last_error": "",
                                         "attempts": note.attempts + 1})
    report.sent += 1
    report.results.append(SendResult(note.id, note.recipient_email, SENT))


def _fail(ctx, note, claimer, reason: str, report: SendReport) -> None:
    _settle(ctx, note, claimer, "fail", {"status": "failed", "last_error": reason,
                                         "attempts": note.attempts + 1,
                                         "claimed_by": None, "claimed_at": None})
    report.failed += 1
    report.results.append(SendResult(note.id, note.recipient_email, FAILED, reason))


def _retry_later(ctx, note, claimer, reason: str, moment: datetime, report: SendReport) -> None:
    """Back to pending after retry_delay_seconds * 2**(attempts so far), or failed at the last."""
    attempts = note.attempts + 1
    email = ctx.config.email
    if attempts >= email.max_attempts:
        reason = _("gave up after {count} attempts; last: {reason}").format(
            count=attempts, reason=reason)
        _settle(ctx, note, claimer, "fail", {"status": "failed", "last_error": reason,
                                             "attempts": attempts,
                                             "claimed_by": None, "claimed_at": None})
        report.failed += 1
        report.results.append(SendResult(note.id, note.recipient_email, FAILED, reason))
        return
    delay = timedelta(seconds=email.retry_delay_seconds * 2 ** (attempts - 1))
    _settle(ctx, note, claimer, "defer", {"status": "pending", "last_error": reason,
                                          "attempts": attempts, "next_attempt_at": moment + delay,
                                          "claimed_by": None, "claimed_at": None})
    report.deferred += 1
    report.results.append(SendResult(note.id, note.recipient_email, DEFERRED, reason))


def stale_claim_age(settings: SmtpSettings) -> timedelta:
    """Longer than any sender could take over one message (several timeouts)."""
    return max(STALE_CLAIM, timedelta(seconds=10 * settings.timeout_seconds))


def _give_up_interrupted(ctx: Context, settings: SmtpSettings, moment: datetime,
                         report: SendReport, dry_run: bool) -> None:
    """Messages left in ``sending`` by a sender that died: failed, never re-sent blindly."""
    cutoff = moment - stale_claim_age(settings)
    stale = Notification.status == "sending", Notification.claimed_at < cutoff
    if dry_run:
        for note in Notification.select().where(*stale).order_by(Notification.id):
            report.results.append(SendResult(note.id, note.recipient_email, WOULD_FAIL,
                                              _reason_interrupted(note)))
        return
    with write(ctx, "notify.send"):
        for note in Notification.select().where(*stale).order_by(Notification.id):
            reason = _reason_interrupted(note)
            changed = (Notification.update(status="failed", last_error=reason,
                                           attempts=Notification.attempts + 1)
                       .where(Notification.id == note.id, *stale).execute())
            if changed:
                audit(ctx, "fail", "notification", note.id, customer_id=note.customer_id,
                      after={"status": "failed", "last_error": reason})
                report.failed += 1
                report.results.append(SendResult(note.id, note.recipient_email, FAILED, reason))


def _reason_interrupted(note: Notification) -> str:
    return _("interrupted while sending (claimed {moment} by {sender}); it may have arrived: "
             "check with the recipient before retrying").format(
        moment=format_time(note.claimed_at), sender=note.claimed_by or "?")


def notification_statuses(ctx: Context, notification_ids: Iterable[int]) -> dict[int, str]:
    """id -> status of those that exist, e.g. to say why one cannot be retried."""
    require(ctx.actor, "notify.send")
    ids = list(dict.fromkeys(notification_ids))
    return dict(Notification.select(Notification.id, Notification.status)
                .where(Notification.id.in_(ids)).tuples())
