"""The equipment register and who holds which machine, with the history of both."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, fields

from peewee import IntegrityError

from tui.domain.context import Context
from tui.domain.dialect import is_postgres, marks, nocase, sql
from tui.domain.errors import AlreadyAssigned, Conflict, NotFound, ValidationError
from tui.domain.models import Assignment, Customer, Equipment, utcnow
from tui.domain.permissions import require
from tui.domain.services._base import audit, changed_fields, snapshot, versioned_update, write
from tui.domain.validation import LIMITS, Errors, FieldError, clean_text, quoted
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
        raise FieldError(_("Not a year: {value}").format(value=quoted(value))) from None
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
    for word in _words(text):
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


# -- the fleet: every machine and who holds it (E1, E3) -------------------------------------

HOLDINGS = ("all", "assigned", "unassigned", "retired")

# sort key -> ORDER BY; each ends on a unique column so paging never repeats or skips a row.
# A column in braces is compared regardless of case, as _fleet_order writes it for the
# database (dialect.nocase: COLLATE NOCASE on SQLite, lower() on PostgreSQL); the holder
# sorts by its expression, not by its output alias, which PostgreSQL does not allow inside
# an ORDER BY expression.
FLEET_SORTS = {
    "serial": "e.serial",  # the unique index gives page 1 without sorting the fleet
    "name": "{e.name}, e.serial",
    "make": "{e.make}, {e.model}, e.serial",
    "type": "{e.type}, e.serial",
    "year": "e.year IS NULL, e.year, e.serial",
    "holder": "{holder} IS NULL, {holder nocase}, e.serial",
}

# Who holds a machine now: the open assignment (the partial unique index finds it) and the
# customer's current name, or the assignment's copy of it.
_HOLDER_JOIN = (
    " LEFT JOIN assignment a ON a.equipment_id = e.id AND a.unassigned_at IS NULL"
    " LEFT JOIN customer c ON c.id = a.customer_id"
)
_HOLDER = "COALESCE(c.name, a.customer_name)"
_HELD = ("EXISTS (SELECT 1 FROM assignment oa"
         " WHERE oa.equipment_id = e.id AND oa.unassigned_at IS NULL)")
# The machines whose holder's name matches: one set per word, built once per query rather
# than joined for every machine (a third of the time of a full scan, measured).
_HOLDER_MATCHES = (
    "e.id IN (SELECT ha.equipment_id FROM assignment ha"
    " LEFT JOIN customer hc ON hc.id = ha.customer_id"
    " WHERE ha.unassigned_at IS NULL"
    " AND COALESCE(hc.name, ha.customer_name) LIKE ? ESCAPE '\\')"
)
_SEARCHED = ("e.serial", "e.name", "e.make", "e.model", "e.type",
             "coalesce(CAST(e.year AS TEXT), '')")


def _fleet_order(db, sort: str) -> str:
    """The ORDER BY of ``sort`` (a FLEET_SORTS key) for ``db``."""
    order = FLEET_SORTS[sort]
    for column in ("e.name", "e.make", "e.model", "e.type"):
        order = order.replace("{" + column + "}", nocase(db, column))
    return (order.replace("{holder nocase}", nocase(db, _HOLDER))
            .replace("{holder}", _HOLDER))


@dataclass(frozen=True)
class FleetRow:
    """One machine as the register shows it, with whoever holds it now."""

    id: int
    serial: str
    name: str
    make: str
    model: str
    type: str
    year: int | None
    retired_at: object  # datetime | None
    version: int
    holder_id: int | None  # the customer holding it, None when nobody does
    holder_name: str | None
    held_since: object  # datetime | None

    @property
    def retired(self) -> bool:
        return self.retired_at is not None


@dataclass(frozen=True)
class FleetPage:
    """One page of the register: ``rows`` as shown, ``total`` matching, from ``offset``."""

    rows: list[FleetRow]
    total: int
    offset: int


# Control characters: no stored text holds one (validation refuses them), and PostgreSQL
# refuses a NUL in any parameter; in search words they separate words, as in search.py.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _words(text: str | None) -> list[str]:
    return CONTROL.sub(" ", text or "").split()


def like_pattern(word: str) -> str:
    """``%word%`` for ``LIKE ? ESCAPE '\\'``, with ``%``, ``_`` and ``\\`` taken literally."""
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _fleet_filters(db, text: str, type: str | None, holding: str) -> tuple[str, list]:
    """WHERE over ``equipment e`` alone: holders are only joined for the rows shown."""
    if holding not in HOLDINGS:
        raise ValidationError({"holding": _("Unknown holding filter {value}; expected one of: "
                                            "{known}.").format(value=quoted(holding),
                                                               known=", ".join(HOLDINGS))})
    clauses = {
        "all": ["e.retired_at IS NULL"],
        "assigned": ["e.retired_at IS NULL", _HELD],
        "unassigned": ["e.retired_at IS NULL", f"NOT {_HELD}"],
        "retired": ["e.retired_at IS NOT NULL"],
    }[holding]
    params: list = []
    if type and CONTROL.search(type):
        clauses.append("1 = 0")  # no stored type holds one (validation); PostgreSQL refuses NUL
    elif type:
        clauses.append("e.type = ?")
        params.append(type)
    postgres = is_postgres(db)
    for word in _words(text):
        pattern = like_pattern(word)
        if postgres:
            clause, values = _postgres_word(word, pattern)
            clauses.append(clause)
            params.extend(values)
            continue
        clauses.append("(" + " OR ".join([*(f"{column} LIKE ? ESCAPE '\\'"
                                            for column in _SEARCHED),
                                          _HOLDER_MATCHES]) + ")")
        params.extend([pattern] * (len(_SEARCHED) + 1))
    return " WHERE " + " AND ".join(clauses), params


# PostgreSQL: the same test, in a shape its trigram indexes serve (0002 makes a pg_trgm GIN
# index on each text column of equipment and on customer.name): per word, one set of the
# machines it matches, which the page joins: the columns' ILIKEs (a BitmapOr of the
# indexes), the year (digits only), the holders (a customer's current name through its
# index; the assignment's copy only where the customer is gone). Measured at 50k machines on
# a busy machine, against SQLite's shape with ILIKE: a rare word 20 ms instead of 400 to
# 550, a common one 270 instead of 650 (see _postgres_word for words of 1 or 2 characters).
_PG_COLUMNS_MATCH = ("SELECT m.id FROM equipment m WHERE "
                     + " OR ".join(f"m.{column} ILIKE ?"
                                   for column in ("serial", "name", "make", "model", "type")))
_PG_YEAR_MATCH = "SELECT y.id FROM equipment y WHERE CAST(y.year AS TEXT) LIKE ?"
_PG_HOLDER_MATCH = (
    "SELECT ha.equipment_id FROM assignment ha JOIN customer hc ON hc.id = ha.customer_id"
    " WHERE ha.unassigned_at IS NULL AND hc.name ILIKE ?"
    " UNION ALL SELECT g.equipment_id FROM (SELECT ha.equipment_id, ha.customer_name"
    " FROM assignment ha WHERE ha.unassigned_at IS NULL AND NOT EXISTS"
    " (SELECT 1 FROM customer hc WHERE hc.id = ha.customer_id) OFFSET 0) g"
    " WHERE g.customer_name ILIKE ?"  # OFFSET 0: the few orphans first, then ILIKE
)


def _postgres_word(word: str, pattern: str) -> tuple[str, list]:
    """One search word on PostgreSQL (ILIKE: case-insensitive; backslash is ILIKE's escape):
    the machines matching it as one set, which the page then joins. A word shorter than a
    trigram cannot use the indexes: it is tested row by row, as on SQLite (faster then)."""
    if len(word) < 3:
        return ("(" + " OR ".join([*(f"{column} ILIKE ?" for column in _SEARCHED),
                                   _HOLDER_MATCHES.replace(" LIKE ", " ILIKE ")]) + ")",
                [pattern] * (len(_SEARCHED) + 1))
    arms = [_PG_COLUMNS_MATCH, _PG_HOLDER_MATCH]
    values = [pattern] * 7
    if word.isdigit() and word.isascii():  # the year is digits: nothing else can match it
        arms.insert(1, _PG_YEAR_MATCH)
        values.insert(5, pattern)
    return "e.id IN (" + " UNION ALL ".join(arms) + ")", values


def search_equipment(ctx: Context, text: str = "", *, type: str | None = None,
                     holding: str = "all", sort: str = "serial", limit: int = 100,
                     offset: int = 0) -> FleetPage:
    """A page of the equipment register, each machine with the customer holding it now.

    ``holding``: ``"all"`` is every machine in service (not retired), ``"assigned"`` and
    ``"unassigned"`` split those by whether a customer holds them, and ``"retired"`` shows
    only the retired ones (which nobody holds: retiring closes the assignment). So the
    default view is the working fleet, and retired machines are one filter away.

    ``text``: every word must match, case-insensitively (ASCII letters; SQLite's LIKE) and
    literally (``%`` and ``_`` are plain characters), a part of the serial, name, make,
    model, type, year or the holder's name. ``type`` keeps one type exactly.
    ``sort``: one of FLEET_SORTS (serial, name, make (+model), type, year, holder); ties
    are broken by serial. Filtering, sorting and paging all happen in SQL; the holders
    are joined only for the page's rows (figures in tests/benchmarks/bench_fleet.py).
    """
    require(ctx.actor, "equipment.view")
    text = text or ""
    if sort not in FLEET_SORTS:
        raise ValidationError({"sort": _("Unknown sort {value}; expected one of: {known}.").format(
            value=quoted(sort), known=", ".join(FLEET_SORTS))})
    db = ctx.db
    where, params = _fleet_filters(db, text, type, holding)
    source = f"equipment e{_HOLDER_JOIN}" if sort == "holder" else "equipment e"
    holder = f", {_HOLDER} AS holder" if sort == "holder" else ""
    page_sql = f" FROM {source}{where} ORDER BY {_fleet_order(db, sort)} LIMIT ? OFFSET ?"
    window = [max(0, limit), max(0, offset)]
    total = None
    if _words(text):
        # Words make SQLite read every machine: count them in the same pass (measured: half
        # the time of a page query plus a count query, for the rare words people type).
        found = db.execute_sql(sql(db, f"SELECT e.id, count(*) OVER (){holder}{page_sql}"),
                               [*params, *window]).fetchall()
        if found:
            total = found[0][1]
        elif not offset:
            total = 0  # nothing at all, not just nothing past the end
    else:
        # No words: the page comes from an index, and counting needs no LIKE.
        found = db.execute_sql(sql(db, f"SELECT e.id{holder}{page_sql}"),
                               [*params, *window]).fetchall()
    if total is None:
        total = db.execute_sql(sql(db, f"SELECT count(*) FROM equipment e{where}"),
                               params).fetchone()[0]
    ids = [row[0] for row in found]
    if not ids:
        return FleetPage([], total, offset)
    rows = db.execute_sql(
        "SELECT e.id, e.serial, e.name, e.make, e.model, e.type, e.year, e.retired_at,"
        f" e.version, a.customer_id, {_HOLDER}, a.assigned_at FROM equipment e{_HOLDER_JOIN}"
        f" WHERE e.id IN ({marks(db, len(ids))})", ids).fetchall()
    position = {key: index for index, key in enumerate(ids)}
    rows.sort(key=lambda row: position[row[0]])
    date_field = Equipment.retired_at  # the stored text back to datetimes, as peewee reads it
    return FleetPage([FleetRow(*row[:7], date_field.python_value(row[7]), *row[8:11],
                               date_field.python_value(row[11])) for row in rows],
                     total, offset)


def equipment_types(ctx: Context) -> list[str]:
    """The types in use (retired machines included), for the register's filter."""
    require(ctx.actor, "equipment.view")
    # GROUP BY rather than DISTINCT: PostgreSQL sorts a DISTINCT only by what it selects.
    query = (Equipment.select(Equipment.type).where(Equipment.type != "")
             .group_by(Equipment.type).order_by(nocase(ctx.db, Equipment.type), Equipment.type))
    return [kind for (kind,) in query.tuples()]


def get_equipment(ctx: Context, equipment_id: int) -> Equipment:
    require(ctx.actor, "equipment.view")
    return _machine(equipment_id)


def current_assignment(ctx: Context, equipment_id: int) -> Assignment | None:
    """The machine's open assignment (who holds it and since when), or None."""
    require(ctx.actor, "equipment.view")
    return (Assignment.select()
            .where(Assignment.equipment == equipment_id, Assignment.unassigned_at.is_null())
            .first())


def _close_assignment(ctx: Context, assignment: Assignment) -> None:
    """Close an open assignment, audited as unassign_equipment does."""
    before = snapshot(assignment)
    assignment.unassigned_at = utcnow()
    assignment.unassigned_by = ctx.actor.login
    assignment.save()
    audit(ctx, "unassign", "equipment", assignment.equipment_id, before=before,
          after=snapshot(assignment), customer_id=assignment.customer_id)


@dataclass(frozen=True)
class Retired:
    machine: Equipment
    released_from: str | None  # the customer whose assignment was closed, if any


def retire_equipment(ctx: Context, equipment_id: int, expected_version: int) -> Retired:
    """Take a machine out of service. If a customer holds it, that assignment is closed in
    the same transaction (the history keeps it). Conflict if it changed since it was read."""
    with write(ctx, "equipment.edit"):
        machine = _machine(equipment_id)
        if machine.retired_at is not None:
            raise ValidationError({"equipment": _("Machine {serial} is already retired.").format(
                serial=machine.serial)})
        before = snapshot(machine)
        versioned_update(ctx, Equipment, equipment_id, expected_version,
                         {"retired_at": utcnow()}, _("machine"), before)
        held = (Assignment.select()
                .where(Assignment.equipment == equipment_id, Assignment.unassigned_at.is_null())
                .first())
        if held is not None:
            _close_assignment(ctx, held)
        machine = _machine(equipment_id)
        audit(ctx, "retire", "equipment", equipment_id, before=before,
              after=changed_fields(before, snapshot(machine)))
        return Retired(machine, held.customer_name if held else None)


def reinstate_equipment(ctx: Context, equipment_id: int, expected_version: int) -> Equipment:
    """Put a retired machine back in service, unassigned."""
    with write(ctx, "equipment.edit"):
        machine = _machine(equipment_id)
        if machine.retired_at is None:
            raise ValidationError({"equipment": _("Machine {serial} is not retired.").format(
                serial=machine.serial)})
        before = snapshot(machine)
        versioned_update(ctx, Equipment, equipment_id, expected_version, {"retired_at": None},
                         _("machine"), before)
        machine = _machine(equipment_id)
        audit(ctx, "reinstate", "equipment", equipment_id, before=before,
              after=changed_fields(before, snapshot(machine)))
        return machine


def _delete_refusal(machine: Equipment) -> str | None:
    from tui.domain.models import EquipmentEvent

    holder = holder_name(machine.id)
    if holder is not None:
        return _("Machine {serial} is held by {holder}; retire it or unassign it first.").format(
            serial=machine.serial, holder=holder)
    if (Assignment.select().where(Assignment.equipment == machine.id).exists()
            or EquipmentEvent.select().where(EquipmentEvent.equipment == machine.id).exists()):
        return _("Machine {serial} has an assignment or event history; retire it instead so "
                 "its history is kept.").format(serial=machine.serial)
    return None


def delete_refusal(ctx: Context, equipment_id: int) -> str | None:
    """Why ``delete_equipment`` would refuse this machine now, or None if it would not: the
    TUI asks before its confirmation, so nobody confirms a delete that cannot happen."""
    require(ctx.actor, "equipment.edit")
    return _delete_refusal(_machine(equipment_id))


def delete_equipment(ctx: Context, equipment_id: int, expected_version: int) -> None:
    """Delete a machine entered by mistake. Refused while a customer holds it, and once it has
    any history (assignments or events): retire it instead, so the history is kept."""
    with write(ctx, "equipment.edit"):
        machine = _machine(equipment_id)
        refusal = _delete_refusal(machine)
        if refusal:
            raise ValidationError({"equipment": refusal})
        before = snapshot(machine)
        deleted = (Equipment.delete()
                   .where(Equipment.id == equipment_id, Equipment.version == expected_version)
                   .execute())
        if not deleted:
            raise Conflict(_("machine"), equipment_id, before)
        audit(ctx, "delete", "equipment", equipment_id, before=before)
