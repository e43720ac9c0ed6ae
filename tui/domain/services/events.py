"""Equipment events, and the notices they queue for the contacts who asked for them.

An event and its notifications are written in one transaction: either the
event is recorded and everyone who should hear of it is in the outbox, or
nothing is. Who hears of it is decided by who held the machine when the
event happened, not when it was recorded (a telematics feed can arrive late).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from itertools import islice
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from peewee import fn

from tui.domain.config import NOTIFY_CONTACT_ROLE
from tui.domain.context import Context
from tui.domain.dialect import same_text
from tui.domain.errors import ClientbookError, NotFound, ValidationError
from tui.domain.mail import format_time
from tui.domain.models import (
    Assignment,
    Contact,
    Customer,
    Equipment,
    EquipmentEvent,
    Notification,
    utcnow,
)
from tui.domain.permissions import require
from tui.domain.services._base import audit, snapshot, write
from tui.domain.services.outbox import enqueue
from tui.domain.validation import LIMITS, Errors, FieldError, clean_text, quoted
from tui.i18n import _

MESSAGE_LIMIT = 2000
EXTERNAL_ID_LIMIT = 200
FUTURE_TOLERANCE = timedelta(minutes=10)  # clocks of telematics units drift
INGEST_KEYS = ("serial", "type", "message", "time", "id")
INGEST_BATCH = 500  # lines per transaction: one commit per line would be slow for big feeds
MAX_LINE_BYTES = 1_000_000


class AlreadyRecorded(ValidationError):
    """The feed's event id is already in the database: ingesting a file twice is harmless."""


@dataclass(frozen=True)
class Recorded:
    event: EquipmentEvent
    notifications: int  # queued in the outbox
    without_email: int  # contacts who asked for notices but have no e-mail address


def parse_time(value: object) -> datetime:
    """ISO 8601, with an offset or Z (converted to UTC) or without one (taken as UTC)."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise FieldError(_("Not a date and time: {value} (write e.g. 2026-03-01T14:30:00Z)"
                               ).format(value=quoted(value))) from None
    else:
        raise FieldError(_("Expected a date and time such as 2026-03-01T14:30:00Z."))
    if moment.tzinfo is not None:
        try:
            moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
        except OverflowError:  # an offset that pushes it before year 1 or past 9999
            raise FieldError(_("{value} is out of range once converted to UTC.").format(
                value=quoted(value))) from None
    if moment > utcnow() + FUTURE_TOLERANCE:
        raise FieldError(_("{moment} is in the future.").format(moment=format_time(moment)))
    if moment.year < 1970:
        raise FieldError(_("{moment} is too far in the past.").format(moment=format_time(moment)))
    return moment


def _event_type(ctx: Context, value: object) -> str:
    key = clean_text(value, limit=50, required=True)
    if key not in ctx.config.event_types:
        raise FieldError(_("Unknown event type {value}; expected one of: {known}.").format(
            value=quoted(key), known=", ".join(ctx.config.event_types)))
    return key


def _machine(equipment_id: int | None, serial: str | None) -> Equipment:
    if equipment_id is not None:
        machine = Equipment.get_or_none(Equipment.id == equipment_id)
        if machine is None:
            raise NotFound(_("machine"), equipment_id)
        return machine
    machine = Equipment.get_or_none(same_text(Equipment.serial, (serial or "").strip()))
    if machine is None:
        raise ValidationError({"serial": _("No machine has the serial number {serial}.").format(
            serial=quoted(serial, LIMITS["serial"]))})
    return machine


def describe_machine(machine: Equipment) -> str:
    """``BL-100 Scissor lift (Genie GS-1930)``, leaving out what the register does not know."""
    make_model = " ".join(part for part in (machine.make, machine.model) if part)
    words = [machine.serial, machine.name, f"({make_model})" if make_model else ""]
    return " ".join(word for word in words if word)


def holder_at(equipment_id: int, moment: datetime) -> Assignment | None:
    """The assignment open at ``moment``: assigned at or before it, not yet unassigned."""
    return (Assignment.select()
            .where(Assignment.equipment == equipment_id, Assignment.assigned_at <= moment,
                   Assignment.unassigned_at.is_null() | (Assignment.unassigned_at > moment))
            .order_by(Assignment.assigned_at.desc(), Assignment.id.desc())
            .first())


def _who_hears(event: EquipmentEvent) -> tuple[Customer | None, list[Contact], str]:
    """The customer and contacts an event is told to (C7, notify role), or why nobody.

    The one place the rule lives: notify_contacts sends by it, why_nobody_notified
    explains it.
    """
    if event.customer_id is None:
        return None, [], _("the machine was not assigned to anyone at that time")
    customer = Customer.get_or_none(Customer.id == event.customer_id)
    if customer is None:
        return None, [], _("its holder {customer} no longer exists").format(
            customer=event.customer_name)
    if event.type not in (customer.notify_event_types or ()):
        return customer, [], _("{customer} does not take notices of this type").format(
            customer=customer.name)
    contacts = [contact for contact in
                Contact.select().where(Contact.customer == customer.id).order_by(Contact.id)
                if NOTIFY_CONTACT_ROLE in (contact.roles or ())]
    if not contacts:
        return customer, [], _("{customer} has no contact with the notify role").format(
            customer=customer.name)
    return customer, contacts, _(
        "no contact of {customer} with the notify role has an e-mail address").format(
        customer=customer.name)


def notify_contacts(ctx: Context, event: EquipmentEvent, machine: Equipment) -> tuple[int, int]:
    """Queue one notice per contact who should hear of the event.

    Part of recording the event (record_event's transaction), so it takes the same
    permission. Returns (queued, contacts with the notify role but no e-mail address).
    """
    require(ctx.actor, "event.record")
    customer, contacts, _reason = _who_hears(event)
    if customer is None or not contacts:
        return 0, 0
    label = ctx.config.event_types[event.type].label_for(customer.language)
    values = {"event_type": label, "occurred_at": format_time(event.occurred_at),
              "message": event.message, "serial": machine.serial, "machine_name": machine.name,
              "make": machine.make, "model": machine.model, "machine": describe_machine(machine)}
    with_email = [contact for contact in contacts if contact.email]
    for contact in with_email:
        enqueue(ctx, kind="event", customer=customer, contact=contact, event=event, values=values)
    return len(with_email), len(contacts) - len(with_email)


def why_nobody_notified(ctx: Context, event: EquipmentEvent) -> str:
    """Why an event queued no e-mail, in the words a user needs."""
    require(ctx.actor, "equipment.view")
    return _who_hears(event)[2]


def record_event(ctx: Context, *, type: str, message: str = "", equipment_id: int | None = None,
                 serial: str | None = None, occurred_at: datetime | str | None = None,
                 source: str = "tui", external_id: str | None = None) -> Recorded:
    """Record what happened to a machine (by id or serial) and queue the notices it calls for."""
    with write(ctx, "event.record"):
        errors = Errors()
        machine = _machine(equipment_id, serial)
        values = {
            "type": errors.check("type", _event_type, ctx, type),
            "message": errors.check("message", clean_text, message, limit=MESSAGE_LIMIT,
                                    multiline=True),
            "occurred_at": (utcnow() if occurred_at in (None, "")
                            else errors.check("occurred_at", parse_time, occurred_at)),
        }
        if external_id is not None:
            external_id = errors.check("id", clean_text, str(external_id),
                                       limit=EXTERNAL_ID_LIMIT) or None
        errors.raise_if_any()
        if external_id and (EquipmentEvent.select()
                            .where(EquipmentEvent.external_id == external_id).exists()):
            raise AlreadyRecorded({"id": _("Event {id} is already recorded.").format(
                id=quoted(external_id, EXTERNAL_ID_LIMIT))})
        holder = holder_at(machine.id, values["occurred_at"])
        event = EquipmentEvent.create(
            equipment=machine, **values, source=source, external_id=external_id,
            customer_id=holder.customer_id if holder else None,
            customer_name=holder.customer_name if holder else None,
            recorded_by=ctx.actor.login)
        queued, without_email = notify_contacts(ctx, event, machine)
        audit(ctx, "record", "equipment_event", event.id,
              after=snapshot(event) | {"notifications": queued}, customer_id=event.customer_id)
        return Recorded(event, queued, without_email)


def list_events(ctx: Context, *, equipment_id: int | None = None, customer_id: int | None = None,
                limit: int = 500) -> list[EquipmentEvent]:
    """Newest first, each with its machine (``event.equipment``) loaded."""
    require(ctx.actor, "equipment.view")
    query = EquipmentEvent.select(EquipmentEvent, Equipment).join(Equipment)
    if equipment_id is not None:
        query = query.where(EquipmentEvent.equipment == equipment_id)
    if customer_id is not None:
        query = query.where(EquipmentEvent.customer_id == customer_id)
    return list(query.order_by(EquipmentEvent.occurred_at.desc(), EquipmentEvent.id.desc())
                .limit(limit))


@dataclass(frozen=True)
class EventRow:
    event: EquipmentEvent
    queued: int  # notifications it put in the outbox


def machine_events(ctx: Context, equipment_id: int, *, limit: int = 500) -> list[EventRow]:
    """The machine's events, newest first, each with how many e-mails it queued (one query)."""
    require(ctx.actor, "equipment.view")
    queued = (Notification.select(fn.COUNT(Notification.id))
              .where(Notification.event == EquipmentEvent.id))
    query = (EquipmentEvent.select(EquipmentEvent, queued.alias("queued"))
             .where(EquipmentEvent.equipment == equipment_id)
             .order_by(EquipmentEvent.occurred_at.desc(), EquipmentEvent.id.desc())
             .limit(limit))
    return [EventRow(event, event.queued) for event in query]


# ------------------------------------------------------------------ JSON Lines feed

@dataclass
class IngestReport:
    recorded: int = 0
    notifications: int = 0
    duplicates: list[tuple[int, str]] = field(default_factory=list)  # (line, message)
    errors: list[tuple[int, str]] = field(default_factory=list)

    @property
    def lines_skipped(self) -> int:
        return len(self.errors) + len(self.duplicates)


def _describe(error: ClientbookError) -> str:
    if isinstance(error, ValidationError):
        return "; ".join(f"{name}: {message}" for name, message in error.errors.items())
    return str(error)


def parse_line(raw: bytes | str, number: int) -> dict:
    """One feed line to the keyword arguments of record_event; FieldError says what is wrong."""
    if isinstance(raw, bytes):
        if len(raw) > MAX_LINE_BYTES:
            raise FieldError(_("the line is longer than {limit} bytes").format(
                limit=MAX_LINE_BYTES))
        try:
            raw = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            raise FieldError(_("not UTF-8 text")) from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise FieldError(_("not valid JSON ({reason} at column {column})").format(
            reason=exc.msg, column=exc.colno)) from None
    if not isinstance(data, dict):
        raise FieldError(_('expected an object such as {"serial": "...", "type": "alarm"}'))
    unknown = [key for key in data if key not in INGEST_KEYS]
    if unknown:
        raise FieldError(_("unknown key {key}; expected: {known}").format(
            key=quoted(unknown[0]), known=", ".join(INGEST_KEYS)))
    for key in ("serial", "type"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise FieldError(_('"{key}" is required and must be text').format(key=key))
    if not isinstance(data.get("message", ""), str):
        raise FieldError(_('"message" must be text'))
    if "id" in data and (isinstance(data["id"], bool) or not isinstance(data["id"], (str, int))):
        raise FieldError(_('"id" must be text or a whole number'))
    return {"serial": data["serial"], "type": data["type"], "message": data.get("message", ""),
            "occurred_at": data.get("time"), "external_id": data.get("id")}


def _numbered_batches(lines: Iterable[bytes | str]):
    """(line number, line) pairs of the non-blank lines, INGEST_BATCH at a time."""
    numbered = ((number, raw) for number, raw in enumerate(lines, start=1) if raw.strip())
    while batch := list(islice(numbered, INGEST_BATCH)):
        yield batch


def ingest_events(ctx: Context, lines: Iterable[bytes | str], *, progress=None) -> IngestReport:
    """Record every good line of a JSON Lines feed; report the others by line number.

    Good lines are kept whatever the bad ones say. Lines are committed in
    batches, each line in its own savepoint, so a bad line undoes only itself.
    ``progress(line_number, report)`` is called after each batch.
    """
    require(ctx.actor, "event.record")
    report = IngestReport()
    for batch in _numbered_batches(lines):
        with ctx.db.atomic():
            for number, raw in batch:
                try:
                    recorded = record_event(ctx, source="ingest", **parse_line(raw, number))
                except FieldError as error:
                    report.errors.append((number, error.message))
                except AlreadyRecorded as error:
                    report.duplicates.append((number, _describe(error)))
                except ClientbookError as error:
                    report.errors.append((number, _describe(error)))
                else:
                    report.recorded += 1
                    report.notifications += recorded.notifications
        if progress is not None:
            progress(batch[-1][0], report)
    return report
