"""Rows of an equipment file (the machine, and its holder when the row names one): matching,
deciding and planning, as ``writer.Writer`` describes."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, time

from tui.domain.errors import ValidationError
from tui.domain.imports.batches import (
    BatchResult,
    Plan,
    Rejected,
    chunks,
    diff,
    jsonable,
)
from tui.domain.imports.prepare import Prepared
from tui.domain.models import Assignment, Equipment
from tui.domain.services.equipment import EquipmentDraft, validate_equipment
from tui.i18n import _

EQUIPMENT_COLUMNS = ("serial", "name", "make", "model", "type", "year", "retired_at")


class EquipmentRows:
    """Mixed into ``writer.Writer``: the equipment kind."""

    # ---------------------------------------------------------------- equipment file

    def _equipment(self, rows: list[Prepared], plan: Plan, result: BatchResult) -> None:
        serials = [r.equipment["serial"] for r in rows if r.equipment["serial"] not in self.serials]
        current: dict[str, dict] = {}
        for part in chunks(serials):
            for machine in Equipment.select().where(Equipment.serial.in_(part)).dicts():
                current[machine["serial"]] = machine
        holders: dict[int, tuple[int, str]] = {}
        ids = [m["id"] for m in current.values()]
        for part in chunks(ids):
            query = (Assignment.select(Assignment.equipment, Assignment.customer_id,
                                       Assignment.customer_name)
                     .where(Assignment.equipment.in_(part), Assignment.unassigned_at.is_null())
                     .tuples())
            for equipment_id, customer_id, customer_name in query:
                holders[equipment_id] = (customer_id, customer_name)
        for row in rows:
            try:
                decision = self._decide_machine(row, current, holders)
            except Rejected as rejected:
                result.rejected.append((row, rejected.errors))
                continue
            self._commit_machine(row, decision, plan, result)

    def _holder(self, row: Prepared):
        if not (row.holder_external_id or row.holder_name):
            return None
        answer = self.resolve_customer(row.holder_external_id, row.holder_name)
        if isinstance(answer, str):
            field = "customer_external_id" if row.holder_external_id else "customer"
            raise Rejected({field: answer})
        return answer

    def _decide_machine(self, row: Prepared, current: dict, holders: dict):
        serial = row.equipment["serial"]
        if serial in self.serials:
            return "repeat", self.serials[serial]
        holder = self._holder(row)
        machine = current.get(serial)
        retired_at = datetime.combine(row.retired_on, time()) if row.retired_on else None
        if machine is None:
            if holder and retired_at:
                raise Rejected({"customer": _("Machine {serial} is retired.").format(
                    serial=serial)})
            return "new", holder, retired_at
        if machine["id"] in self.own["equipment"]:
            return "repeat", machine["id"]
        if self.on_match == "skip":
            return "skip", machine["id"]
        base = EquipmentDraft(**{k: machine[k] for k in ("serial", "name", "make", "model",
                                                         "type", "year")})
        try:
            values = validate_equipment(replace(base, **row.equipment_given))
        except ValidationError as error:
            raise Rejected(error.errors) from None
        changes = diff(machine, values, EQUIPMENT_COLUMNS)
        held = holders.get(machine["id"])
        if retired_at and machine["retired_at"] is None:
            if held or holder:
                raise Rejected({"retired_on": _(
                    "Machine {serial} is held by {holder}; unassign it before retiring it.")
                    .format(serial=serial, holder=(held or holder)[1])})
            changes["retired_at"] = retired_at
        assign = None
        if holder and (held is None or held[0] != holder[0]):
            if held is not None:
                raise Rejected({"customer": _("Machine {serial} is already assigned to "
                                               "{holder}.").format(serial=serial,
                                                                   holder=held[1])})
            if machine["retired_at"] is not None:
                raise Rejected({"customer": _("Machine {serial} is retired.").format(
                    serial=serial)})
            assign = holder
        if not changes and assign is None:
            return "unchanged", machine["id"]
        return "update", machine["id"], machine, changes, assign, held

    def _commit_machine(self, row: Prepared, decision, plan: Plan, result: BatchResult) -> None:
        counts = result.counts["equipment"]
        state = decision[0]
        if state == "new":
            _s, holder, retired_at = decision
            machine_id = self._new_id(Equipment)
            now = self.now
            plan.inserts[Equipment].append({**row.equipment, "id": machine_id,
                                            "retired_at": retired_at, "created_at": now,
                                            "updated_at": now, "version": 1})
            self._item(plan, "equipment", machine_id, "create", version=1)
            counts.created += 1
            if holder:
                self._assign(machine_id, holder, plan, result)
        else:
            machine_id = decision[1]
            if state in ("skip", "repeat"):
                counts.skipped += 1
            elif state == "unchanged":
                counts.unchanged += 1
            else:
                _s, _id, machine, changes, assign, held = decision
                if changes:
                    plan.updates.append((Equipment, machine_id, changes))
                    self._item(plan, "equipment", machine_id, "update",
                               version=machine["version"] + 1,
                               before=jsonable({c: machine[c] for c in changes}))
                    counts.updated += 1
                    if held and ({"serial", "name"} & set(changes)):
                        result.touched.add(held[0])
                if assign:
                    self._assign(machine_id, assign, plan, result)
                    if not changes:
                        counts.unchanged += 1
        self.serials[row.equipment["serial"]] = machine_id

    def _assign(self, machine_id: int, holder, plan: Plan, result: BatchResult) -> None:
        customer_id, customer_name, _country = holder
        assignment_id = self._new_id(Assignment)
        plan.inserts[Assignment].append({
            "id": assignment_id, "equipment": machine_id, "customer_id": customer_id,
            "customer_name": customer_name, "assigned_at": self.now,
            "assigned_by": self.login, "unassigned_at": None, "unassigned_by": None})
        self._item(plan, "assignment", assignment_id, "create")
        result.counts["assignment"].created += 1
        result.touched.add(customer_id)
