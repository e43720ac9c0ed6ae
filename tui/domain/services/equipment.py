"""The equipment register and who holds which machine, with the history of both."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields

from peewee import IntegrityError

from tui.domain.context import Context
from tui.domain.errors import AlreadyAssigned, NotFound, ValidationError
from tui.domain.models import Assignment, Customer, Equipment, utcnow
from tui.domain.permissions import require
from tui.domain.services._base import audit, changed_fields, snapshot, versioned_update, write
from tui.domain.validation import LIMITS, Errors, FieldError, clean_text
from tui.i18n import _

TEXT_FIELDS = ("serial", "name", "make", "model", "type")


@dataclass(frozen=True)
class EquipmentDraft:
    serial: str = ""
    name: str = ""
    make: str = ""
    model: str = ""
    type: str = ""
    year: str | int | None = None

    @classmethod
    def from_equipment(cls, machine: Equipment) -> "EquipmentDraft":
        return cls(**{f.name: getattr(machine, f.name) for f in fields(cls)})


def _year(value) -> int | None:
    if value in (None, ""):
        return None
    try:
        year = int(str(value).strip())
    except ValueError:
        raise FieldError(_("Not a year: {value}").format(value=value)) from None
    if not 1900 <= year <= utcnow().year + 1:
        raise FieldError(_("The year must be between 1900 and {last}.").format(
            last=utcnow().year + 1))
    return year


def validate_equipment(draft: EquipmentDraft) -> dict:
    errors = Errors()
    values = {name: errors.check(name, clean_text, getattr(draft, name), limit=LIMITS[name],
                                 required=(name == "serial"))
              for name in TEXT_FIELDS}
    values["year"] = errors.check("year", _year, draft.year)
    errors.raise_if_any()
    return values


def _serial_taken(serial: str) -> ValidationError:
    return ValidationError({"serial": _("Serial number {serial} is already registered.").format(
        serial=serial)})


def _machine(equipment_id: int) -> Equipment:
    machine = Equipment.get_or_none(Equipment.id == equipment_id)
    if machine is None:
        raise NotFound(_("machine"), equipment_id)
    return machine


def add_equipment(ctx: Context, draft: EquipmentDraft) -> Equipment:
    with write(ctx, "equipment.edit"):
        values = validate_equipment(draft)
        if Equipment.select().where(Equipment.serial == values["serial"]).exists():
            raise _serial_taken(values["serial"])
        machine = Equipment.create(**values)
        audit(ctx, "create", "equipment", machine.id, after=snapshot(machine))
        return machine


def update_equipment(ctx: Context, equipment_id: int, expected_version: int,
                     draft: EquipmentDraft) -> Equipment:
    with write(ctx, "equipment.edit"):
        machine = _machine(equipment_id)
        values = validate_equipment(draft)
        clash = Equipment.get_or_none(Equipment.serial == values["serial"])
        if clash is not None and clash.id != equipment_id:
            raise _serial_taken(values["serial"])
        before = snapshot(machine)
        versioned_update(ctx, Equipment, equipment_id, expected_version, values, _("machine"),
                         before)
        machine = _machine(equipment_id)
        audit(ctx, "update", "equipment", equipment_id, before=before,
              after=changed_fields(before, snapshot(machine)))
        return machine


def holder_name(equipment_id: int) -> str | None:
    current = (Assignment.select(Assignment.customer_name)
               .where(Assignment.equipment == equipment_id, Assignment.unassigned_at.is_null())
               .first())
    return current.customer_name if current else None


def assign_equipment(ctx: Context, customer_id: int, equipment_ids: Iterable[int]) -> list[Assignment]:
    """Give the machines to the customer, all or none; a machine held by anyone fails the lot."""
    with write(ctx, "equipment.assign"):
        customer = Customer.get_or_none(Customer.id == customer_id)
        if customer is None:
            raise NotFound(_("customer"), customer_id)
        created = []
        for equipment_id in dict.fromkeys(equipment_ids):
            machine = _machine(equipment_id)
            if machine.retired_at is not None:
                raise ValidationError({"equipment": _("Machine {serial} is retired.").format(
                    serial=machine.serial)})
            try:
                with ctx.db.atomic():  # a savepoint, so the constraint error is ours to report
                    assignment = Assignment.create(
                        equipment=machine, customer_id=customer.id, customer_name=customer.name,
                        assigned_by=ctx.actor.login)
            except IntegrityError:
                raise AlreadyAssigned(machine.serial, holder_name(machine.id) or "?") from None
            audit(ctx, "assign", "equipment", machine.id, after=snapshot(assignment),
                  customer_id=customer.id)
            created.append(assignment)
        return created


def unassign_equipment(ctx: Context, equipment_ids: Iterable[int]) -> int:
    """Close the open assignments of these machines; the rows stay as history."""
    with write(ctx, "equipment.assign"):
        closed = 0
        for equipment_id in dict.fromkeys(equipment_ids):
            machine = _machine(equipment_id)
            assignment = (Assignment.select()
                          .where(Assignment.equipment == machine.id,
                                 Assignment.unassigned_at.is_null()).first())
            if assignment is None:
                raise ValidationError({"equipment": _("Machine {serial} is not assigned.").format(
                    serial=machine.serial)})
            before = snapshot(assignment)
            assignment.unassigned_at = utcnow()
            assignment.unassigned_by = ctx.actor.login
            assignment.save()
            audit(ctx, "unassign", "equipment", machine.id, before=before,
                  after=snapshot(assignment), customer_id=assignment.customer_id)
            closed += 1
        return closed


def assigned_equipment(ctx: Context, customer_id: int) -> list[Equipment]:
    require(ctx.actor, "equipment.view")
    return list(Equipment.select().join(Assignment)
                .where(Assignment.customer_id == customer_id, Assignment.unassigned_at.is_null())
                .order_by(Equipment.serial))


def assignment_history(ctx: Context, *, customer_id: int | None = None,
                       equipment_id: int | None = None) -> list[Assignment]:
    """Every assignment, newest first; kept after the customer is deleted."""
    require(ctx.actor, "equipment.view")
    query = Assignment.select(Assignment, Equipment).join(Equipment)
    if customer_id is not None:
        query = query.where(Assignment.customer_id == customer_id)
    if equipment_id is not None:
        query = query.where(Assignment.equipment == equipment_id)
    return list(query.order_by(Assignment.assigned_at.desc(), Assignment.id.desc()))


# -- read-only queries for the customer screen's Equipment tab ------------------------------

@dataclass(frozen=True)
class EquipmentPage:
    """One page of machines: ``rows`` as shown, ``total`` matching, starting at ``offset``."""

    rows: list[Equipment]
    total: int
    offset: int


def search_unassigned_equipment(ctx: Context, text: str = "", *, limit: int = 50,
                                offset: int = 0) -> EquipmentPage:
    """Machines nobody holds and not retired, every typed word matching serial, name, make,
    model or type (case-insensitive, literal: ``%`` and ``_`` are plain text); by serial.

    Paged in SQL, so the pick dialog stays quick with a large fleet; the "is it held"
    test uses the partial unique index on open assignments.
    """
    from peewee import SQL, fn

    require(ctx.actor, "equipment.view")
    held = (Assignment.select(SQL("1"))
            .where(Assignment.equipment == Equipment.id, Assignment.unassigned_at.is_null()))
    query = Equipment.select().where(Equipment.retired_at.is_null(), ~fn.EXISTS(held))
    for word in (text or "").split():
        query = query.where(Equipment.serial.contains(word) | Equipment.name.contains(word)
                            | Equipment.make.contains(word) | Equipment.model.contains(word)
                            | Equipment.type.contains(word))
    total = query.count()
    rows = list(query.order_by(Equipment.serial, Equipment.id).limit(limit).offset(offset))
    return EquipmentPage(rows, total, offset)


def open_assignments(ctx: Context, customer_id: int) -> list[Assignment]:
    """What the customer holds now, with each machine (``assignment.equipment``), by serial."""
    require(ctx.actor, "equipment.view")
    return list(Assignment.select(Assignment, Equipment).join(Equipment)
                .where(Assignment.customer_id == customer_id, Assignment.unassigned_at.is_null())
                .order_by(Equipment.serial, Equipment.id))
