"""The audit trail, read back: who changed what, when, field by field.

Every service writes one ``AuditEvent`` per change in the change's own transaction
(``_base.audit``). This module reads them a page at a time, newest first, filtered
in SQL (customer, login, since, entity, action), and turns each into an
``AuditRow``: a one-line summary and the list of ``FieldChange`` (field, human
label, value before, value after, and both as text).

How an event's two snapshots become field changes:

- an update keeps the full record in ``before`` and only what changed in ``after``
  (``_base.changed_fields``): the changes are the keys of ``after`` whose value
  differs from ``before``; keys missing from ``after`` did not change;
- a creation (or a restore) has only ``after``: every field that holds something;
- a deletion has only ``before``: every field that held something, gone.

Bookkeeping columns (id, version, updated_at/by, and on a creation created_at/by,
which the event's own time and login already say) are left out.

Deleted customers' last state and their restore live in ``customer_restore``;
``deleted_customer_state`` and ``restore_customer`` are re-exported here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone

from tui.domain.context import Context
from tui.domain.dialect import same_text
from tui.domain.errors import ValidationError
from tui.domain.models import ALL_MODELS, AuditEvent, Equipment, Estimate
from tui.domain.permissions import require
from tui.domain.services.customer_restore import (  # noqa: F401 - the audit trail's API
    RESTORE_PERMISSIONS,
    DeletedCustomer,
    MachineNow,
    RestoreRefused,
    Restored,
    deleted_customer_state,
    may_restore,
    restore_customer,
)
from tui.domain.validation import quoted
from tui.i18n import _, current_language

# Columns every record has that say nothing the event itself does not.
NOISE = {"id", "version", "updated_at", "updated_by"}
CREATION_NOISE = NOISE | {"created_at", "created_by"}
# Keys a customer's create/delete/restore event adds to the row's own columns.
EXTRAS = ("groups", "contacts", "documents", "unassigned_equipment", "projects",
          "unlinked_estimates", "welcome_emails_to", "created_in_estimate")
# Display order: the models' columns as declared (customer first), then the extras.
_ORDER: dict[str, int] = {}
for _model in ALL_MODELS:
    for _field in _model._meta.sorted_fields:
        _ORDER.setdefault(_field.column_name, len(_ORDER))
for _key in EXTRAS:
    _ORDER.setdefault(_key, len(_ORDER))
del _model, _field, _key


@dataclass(frozen=True)
class FieldChange:
    field: str  # the stored key (a column name, or groups / contacts / ...)
    label: str  # what a person calls it
    before: object  # as stored in the event (JSON values); None when there was nothing
    after: object
    before_text: str  # both values as a person reads them
    after_text: str


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime  # naive UTC
    login: str
    action: str  # create / update / delete / restore / assign / ...
    entity: str  # customer / contact / document / equipment / ...
    entity_id: int | None
    customer_id: int | None
    summary: str
    changes: list[FieldChange] = field(default_factory=list)
    restored_in: int | None = None  # a customer's deletion: the event that restored it

    @property
    def is_customer_deletion(self) -> bool:
        """A deleted customer's last state: the row a restore starts from."""
        return self.action == "delete" and self.entity == "customer"


@dataclass(frozen=True)
class AuditPage:
    rows: list[AuditRow]
    total: int
    offset: int


# ------------------------------------------------------------------ labels

def action_label(action: str) -> str:
    return {
        "create": _("Created"), "update": _("Changed"), "delete": _("Deleted"),
        "restore": _("Restored"), "assign": _("Assigned"), "unassign": _("Unassigned"),
        "retire": _("Retired"), "reinstate": _("Reinstated"), "record": _("Recorded"),
        "unlink": _("Unlinked"), "link": _("Linked"), "close": _("Closed"),
        "reopen": _("Reopened"), "import": _("Imported"), "undo_import": _("Undid import"),
        "retry": _("Retried"), "fail": _("Failed"), "sent": _("Sent"),
    }.get(action, action.replace("_", " ").capitalize())


def entity_label(entity: str) -> str:
    return {
        "customer": _("customer"), "contact": _("contact"), "document": _("document"),
        "equipment": _("machine"), "equipment_event": _("equipment event"),
        "group": _("group"), "user": _("user"), "estimate": _("estimate"),
        "project": _("project"), "notification": _("e-mail"), "import_job": _("import"),
    }.get(entity, entity.replace("_", " "))


def field_labels() -> dict[str, str]:
    """Every audited key as a person calls it (looked up at call time, for the language)."""
    return {
        "name": _("Name"), "phone": _("Phone"), "email": _("E-mail"), "website": _("Website"),
        "billing_street": _("Billing street"), "billing_postal_code": _("Billing postal code"),
        "billing_city": _("Billing city"), "billing_country": _("Billing country"),
        "billing_state": _("Billing state/region"),
        "shipping_same_as_billing": _("Shipping same as billing"),
        "shipping_street": _("Shipping street"),
        "shipping_postal_code": _("Shipping postal code"),
        "shipping_city": _("Shipping city"), "shipping_country": _("Shipping country"),
        "shipping_state": _("Shipping state/region"),
        "segment": _("Segment"), "currency": _("Currency"), "language": _("Language"),
        "notify_event_types": _("Notices its contacts receive"), "notes": _("Notes"),
        "external_id": _("External id"), "groups": _("Groups"), "contacts": _("Contacts"),
        "documents": _("Documents"), "unassigned_equipment": _("Machines unassigned"),
        "projects": _("Projects"), "unlinked_estimates": _("Estimates unlinked"),
        "welcome_emails_to": _("Welcome e-mail to contacts"),
        "created_in_estimate": _("Created from an estimate"),
        "created_at": _("Created"), "created_by": _("Created by"),
        "updated_at": _("Updated"), "updated_by": _("Updated by"),
        "customer": _("Customer"), "customer_id": _("Customer"),
        "customer_name": _("Customer name"), "job_title": _("Job title"), "roles": _("Roles"),
        "title": _("Title"), "kind": _("Kind"), "file_name": _("File"),
        "file_size": _("File size (bytes)"), "file_sha256": _("File SHA-256"),
        "reminder_on": _("Reminder"), "uploaded_at": _("Uploaded"),
        "uploaded_by": _("Uploaded by"), "serial": _("Serial number"), "make": _("Make"),
        "model": _("Model"), "type": _("Type"), "year": _("Year"), "retired_at": _("Retired"),
        "equipment": _("Machine"), "equipment_id": _("Machine"),
        "assigned_at": _("Assigned"), "assigned_by": _("Assigned by"),
        "unassigned_at": _("Unassigned"), "unassigned_by": _("Unassigned by"),
        "occurred_at": _("Occurred"), "message": _("Message"), "source": _("Source"),
        "submission_deadline": _("Submission deadline"), "starts_on": _("Starts"),
        "ends_on": _("Ends"), "budget_minor": _("Budget (minor units)"), "state": _("State"),
        "submission_contact_id": _("Submission contact"),
        "billing_contact_id": _("Billing contact"),
        "execution_contact_id": _("Execution contact"),
        "closed_at": _("Closed"), "closed_by": _("Closed by"), "number": _("Number"),
        "issued_on": _("Issued"), "status": _("Status"), "contact_name": _("Contact"),
        "total_minor": _("Total (minor units)"), "login": _("Login"),
        "display_name": _("Display name"), "role": _("Role"), "active": _("Active"),
        "subject": _("Subject"), "recipient_email": _("Recipient"), "ids": _("Messages"),
        "count": _("Count"), "delete_event": _("Deletion event"),
        "deleted_id": _("Id when deleted"),
    }


def field_label(key: str, labels: dict[str, str] | None = None) -> str:
    labels = labels if labels is not None else field_labels()
    return labels.get(key) or key.replace("_", " ").capitalize()


def _choice_labels(ctx: Context, entity: str, key: str):
    """The site's choice list a key's values come from, if any (keys are shown as labels)."""
    config = ctx.config
    if key == "segment":
        return config.segments
    if key == "roles" or (key == "role" and entity != "user"):
        return config.contact_roles
    if key == "role":
        return config.roles
    if key == "kind" and entity == "document":
        return config.document_kinds
    if key == "notify_event_types" or (key == "type" and entity == "equipment_event"):
        return config.event_types
    return None


# Keys whose values are ids of machines / estimates: shown as serial numbers / estimate numbers.
MACHINE_KEYS = {"unassigned_equipment", "machines_not_returned", "equipment", "equipment_id"}
ESTIMATE_KEYS = {"unlinked_estimates", "linked_estimates"}


@dataclass(frozen=True)
class Names:
    """What the ids in a page of events are called now (one query each, per page)."""

    serials: dict[int, str] = field(default_factory=dict)
    estimates: dict[int, str] = field(default_factory=dict)

    def of(self, key: str, value: object) -> object:
        table = (self.serials if key in MACHINE_KEYS
                 else self.estimates if key in ESTIMATE_KEYS else None)
        if table is None:
            return value
        if isinstance(value, list):
            return [table.get(item, item) for item in value]
        return table.get(value, value)


def value_text(ctx: Context, entity: str, key: str, value: object,
               names: Names | None = None) -> str:
    """One stored value as a person reads it; "—" for nothing."""
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if names is not None:
        value = names.of(key, value)
    choices = _choice_labels(ctx, entity, key)
    language = current_language()
    if choices is not None:
        items = value if isinstance(value, list) else [value]
        return ", ".join(choices[item].label_for(language) if item in choices else str(item)
                         for item in items)
    if isinstance(value, list):
        return ", ".join(_item_text(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, str) and key.endswith("_at"):
        return value.replace("T", " ")[:16]  # stored as naive UTC ISO text
    return str(value)


def _item_text(item: object) -> str:
    if isinstance(item, dict):
        for key in ("name", "title", "number", "serial"):
            if item.get(key):
                return str(item[key])
        return "#{id}".format(id=item.get("id", "?"))
    return str(item)


def _rank(key: str) -> tuple[int, str]:
    return (_ORDER.get(key, len(_ORDER)), key)


def field_changes(ctx: Context, event: AuditEvent,
                  names: Names | None = None) -> list[FieldChange]:
    """What the event changed, field by field, in the record's own field order."""
    before, after = event.before, event.after
    before = before if isinstance(before, dict) else {}
    after = after if isinstance(after, dict) else {}
    if event.action in ("create", "restore") or (after and not before):
        pairs = [(key, None, value) for key, value in after.items()
                 if key not in CREATION_NOISE and not _empty(value)]
    elif before and not after:
        pairs = [(key, value, None) for key, value in before.items()
                 if key not in CREATION_NOISE and not _empty(value)]
    else:  # a partial ``after`` (changed fields only) or a full one: keys of after that moved
        pairs = [(key, before.get(key), value) for key, value in after.items()
                 if key not in NOISE and before.get(key) != value]
    labels = field_labels()
    entity = event.entity
    return [FieldChange(key, field_label(key, labels), old, new,
                        value_text(ctx, entity, key, old, names),
                        value_text(ctx, entity, key, new, names))
            for key, old, new in sorted(pairs, key=lambda pair: _rank(pair[0]))]


def _empty(value: object) -> bool:
    return value is None or value == "" or value == [] or value == {}


# ------------------------------------------------------------------ summaries

def _name(entity: str, data: dict, serials: dict[int, str], entity_id: int | None) -> str:
    if entity == "equipment" and entity_id in serials:
        return serials[entity_id]
    if entity == "equipment_event":
        serial = serials.get(data.get("equipment_id"))
        if serial:
            return serial
    for key in ("name", "title", "number", "serial", "login", "file_name", "subject"):
        if data.get(key):
            return str(data[key])
    return "#{id}".format(id=entity_id) if entity_id is not None else ""


def summarize(event: AuditEvent, names: Names) -> str:
    """One line: what happened to what (the field list says how)."""
    before = event.before if isinstance(event.before, dict) else {}
    after = event.after if isinstance(event.after, dict) else {}
    entity, action = event.entity, event.action
    serials = names.serials
    if entity == "equipment" and action in ("assign", "unassign"):
        data = after or before
        template = (_("Assigned {serial} to {customer}") if action == "assign"
                    else _("Unassigned {serial} from {customer}"))
        return template.format(serial=serials.get(event.entity_id, "#{id}".format(
            id=event.entity_id)), customer=data.get("customer_name") or "?")
    if entity == "estimate" and action in ("unlink", "link"):
        template = (_("Estimate {number} unlinked from customer #{customer}")
                    if action == "unlink"
                    else _("Estimate {number} linked to customer #{customer}"))
        return template.format(number=names.estimates.get(event.entity_id, "#{id}".format(
            id=event.entity_id)), customer=before.get("customer") or after.get("customer"))
    # the name it had before the change: "Changed customer Old" (the fields say "New")
    data = {**after, **before}
    if entity == "estimate" and event.entity_id in names.estimates:
        data.setdefault("number", names.estimates[event.entity_id])
    name = _name(entity, data, serials, event.entity_id)
    text = _("{action} {entity} {name}").format(action=action_label(action),
                                               entity=entity_label(entity), name=name).strip()
    if event.entity == "customer" and event.entity_id is not None:
        text += " (#{id})".format(id=event.entity_id)
    return text


# ------------------------------------------------------------------ reading

def parse_since(value: date | datetime | str | None) -> datetime | None:
    """``since`` as naive UTC: a date is that day's start; text is YYYY-MM-DD or ISO 8601."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        return datetime.combine(value, time())
    else:
        text = str(value).strip()
        try:
            if len(text) == 10:
                return datetime.combine(date.fromisoformat(text), time())
            moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise ValidationError({"since": _(
                "Not a date or time (YYYY-MM-DD or YYYY-MM-DDTHH:MM): {value}").format(
                value=quoted(text))}) from None
    if moment.tzinfo is not None:
        try:
            moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
        except OverflowError:  # an offset that pushes it before year 1 or past 9999
            raise ValidationError({"since": _(
                "{value} is out of range once converted to UTC.").format(
                value=quoted(value))}) from None
    return moment


def list_audit(ctx: Context, customer_id: int | None = None, user: str | None = None,
               since: date | datetime | str | None = None, entity: str | None = None, *,
               action: str | None = None, limit: int = 50, offset: int = 0) -> AuditPage:
    """A page of the audit trail, newest first, with each event's field changes.

    ``customer_id`` gives everything about that customer (its own events and those of
    its contacts, documents, machines...), deleted or not; ``user`` is a login;
    ``since`` a date (that day's start, UTC) or a time; ``entity`` and ``action`` the
    stored keys ("customer", "delete"...).
    """
    require(ctx.actor, "audit.view")
    moment = parse_since(since)
    query = AuditEvent.select()
    if customer_id is not None:
        query = query.where(AuditEvent.customer_id == customer_id)
    if user:
        query = query.where(same_text(AuditEvent.login, user.strip()))
    if moment is not None:
        query = query.where(AuditEvent.at >= moment)
    if entity:
        query = query.where(same_text(AuditEvent.entity, entity))
    if action:
        query = query.where(AuditEvent.action == action)
    total = query.count()
    events = list(query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
                  .limit(max(limit, 0)).offset(max(offset, 0)))
    names = _names(events)
    restores = _restores(events)
    rows = []
    for event in events:
        changes = field_changes(ctx, event, names)
        rows.append(AuditRow(event.id, event.at, event.login, event.action, event.entity,
                             event.entity_id, event.customer_id,
                             summarize(event, names), changes, restores.get(event.id)))
    return AuditPage(rows, total, offset)


def _restores(events: list[AuditEvent]) -> dict[int, int]:
    """deletion event id -> the restore event that undid it, for the deletions on a page."""
    deletions = [e.id for e in events if e.entity == "customer" and e.action == "delete"]
    if not deletions:
        return {}
    found = {}
    for event in (AuditEvent.select(AuditEvent.id, AuditEvent.before)
                  .where(AuditEvent.entity == "customer", AuditEvent.action == "restore",
                         AuditEvent.id > min(deletions))):
        undone = event.before.get("delete_event") if isinstance(event.before, dict) else None
        if undone in deletions:
            found[undone] = event.id
    return found


def get_audit_event(ctx: Context, audit_id: int) -> AuditRow:
    """One event, as ``list_audit`` shows it."""
    from tui.domain.errors import NotFound

    require(ctx.actor, "audit.view")
    event = AuditEvent.get_or_none(AuditEvent.id == audit_id)
    if event is None:
        raise NotFound(_("audit event"), audit_id)
    names = _names([event])
    changes = field_changes(ctx, event, names)
    return AuditRow(event.id, event.at, event.login, event.action, event.entity,
                    event.entity_id, event.customer_id,
                    summarize(event, names), changes, _restores([event]).get(event.id))


def _names(events: list[AuditEvent]) -> Names:
    """Serial numbers and estimate numbers of what a page of events names, one query each."""
    machines: set = set()
    estimates: set = set()
    for event in events:
        if event.entity == "equipment" and event.entity_id is not None:
            machines.add(event.entity_id)
        if event.entity == "estimate" and event.entity_id is not None:
            estimates.add(event.entity_id)
        for data in (event.before, event.after):
            if not isinstance(data, dict):
                continue
            for key, value in data.items():
                wanted = (machines if key in MACHINE_KEYS
                          else estimates if key in ESTIMATE_KEYS else None)
                if wanted is not None:
                    wanted.update(v for v in (value if isinstance(value, list) else [value])
                                  if isinstance(v, int))
    serials = ({m.id: m.serial for m in Equipment.select(Equipment.id, Equipment.serial)
                .where(Equipment.id.in_(list(machines)))} if machines else {})
    numbers = ({e.id: e.number for e in Estimate.select(Estimate.id, Estimate.number)
                .where(Estimate.id.in_(list(estimates)))} if estimates else {})
    return Names(serials, numbers)


def audit_logins(ctx: Context) -> list[str]:
    """Every login that appears in the trail, for a filter's choices."""
    require(ctx.actor, "audit.view")
    return [row.login for row in AuditEvent.select(AuditEvent.login).distinct()
            .order_by(AuditEvent.login)]
