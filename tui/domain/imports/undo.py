"""Undoing an import job: remove what it created, put back what it updated, all or nothing.

``undo_import(ctx, job_id)`` reads the job's ``ImportItem`` rows and first checks,
under the write lock, that nobody changed any of those records since: a record
whose version differs from the one the import left, an updated record deleted
since, an assignment closed since, or a created customer or machine that has
gained contacts, documents, assignments or events the import did not make. If
any is found, nothing is undone and ``UndoRefused`` names them (``conflicts``).
Otherwise, in one transaction: the assignments, contacts, customers and
machines the job created are deleted, the records it updated get their earlier
values back (as a new version, stamped with who undid), groups it created are
removed once no customer belongs to them, the job is marked "undone", and one
audit event ("undo_import") records it. A created record that was deleted since
is not a conflict: it is already gone.

Permissions are those the import itself needed (``importer.required_permissions``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from tui.domain.context import Context
from tui.domain.errors import ClientbookError, NotFound
from tui.domain.imports import searchindex
from tui.domain.imports.batches import refresh_estimate_copies
from tui.domain.imports.importer import required_permissions
from tui.domain.models import (
    AdminDocument,
    Assignment,
    Contact,
    Customer,
    CustomerGroup,
    Equipment,
    EquipmentEvent,
    Estimate,
    GroupMembership,
    ImportItem,
    ImportJob,
    Project,
    utcnow,
)
from tui.domain.permissions import require
from tui.domain.services._base import audit, write
from tui.domain.locale_format import format_datetime
from tui.i18n import _

SHOWN_CONFLICTS = 10
CHUNK = 900
MODELS = {"customer": Customer, "contact": Contact, "equipment": Equipment}


class UndoRefused(ClientbookError):
    """Records of the job were changed since; ``conflicts`` names each one."""

    def __init__(self, job_id: int, conflicts: list[str]):
        self.job_id = job_id
        self.conflicts = conflicts
        shown = "; ".join(conflicts[:SHOWN_CONFLICTS])
        more = len(conflicts) - SHOWN_CONFLICTS
        if more > 0:
            shown += _(" (and {n} more)").format(n=more)
        super().__init__(_("Import job {job} cannot be undone, nothing was changed: {shown}.")
                         .format(job=job_id, shown=shown))


@dataclass
class UndoReport:
    job_id: int
    removed: dict[str, int] = field(default_factory=dict)  # entity -> records deleted
    restored: dict[str, int] = field(default_factory=dict)  # entity -> records put back


def _chunks(values):
    values = list(values)
    for start in range(0, len(values), CHUNK):
        yield values[start:start + CHUNK]


def _rows(model, ids, *columns) -> dict[int, tuple]:
    found = {}
    for part in _chunks(ids):
        for row in model.select(model.id, *columns).where(model.id.in_(part)).tuples():
            found[row[0]] = row
    return found


def _label(entity: str, entity_id: int, name: str | None) -> str:
    what = {"customer": _("Customer"), "contact": _("Contact"), "equipment": _("Machine"),
            "assignment": _("Assignment")}.get(entity, entity)
    return f"{what} #{entity_id}" + (f" {name}" if name else "")


class _Check:
    def __init__(self, job_id: int, items: list[ImportItem]):
        self.job_id = job_id
        self.created: dict[str, dict[int, ImportItem]] = defaultdict(dict)
        self.updated: dict[str, dict[int, ImportItem]] = defaultdict(dict)
        for item in items:
            target = self.created if item.action == "create" else self.updated
            target[item.entity][item.entity_id] = item
        self.conflicts: list[str] = []
        self.present: dict[str, set[int]] = defaultdict(set)  # created and still there

    def versions(self, entity: str, name_column) -> None:
        model = MODELS[entity]
        created = self.created[entity]
        for entity_id, (_id, name, version) in _rows(model, created, name_column,
                                                     model.version).items():
            self.present[entity].add(entity_id)
            if version != created[entity_id].version:
                self.conflicts.append(_("{record} was edited since the import").format(
                    record=_label(entity, entity_id, name)))
        updated = self.updated[entity]
        found = _rows(model, updated, name_column, model.version)
        for entity_id, item in updated.items():
            if entity_id not in found:
                self.conflicts.append(_("{record} was deleted since the import").format(
                    record=_label(entity, entity_id, (item.before or {}).get("name"))))
            elif found[entity_id][2] != item.version:
                self.conflicts.append(_("{record} was edited since the import").format(
                    record=_label(entity, entity_id, found[entity_id][1])))

    def foreign(self) -> None:
        """Created customers and machines must hold nothing the import did not make."""
        own_contacts = set(self.created["contact"])
        own_assignments = set(self.created["assignment"])
        customers = self.present["customer"]
        for part in _chunks(customers):
            for contact_id, customer_id, name in (
                    Contact.select(Contact.id, Contact.customer, Contact.name)
                    .where(Contact.customer.in_(part)).tuples()):
                if contact_id not in own_contacts:
                    self.conflicts.append(_("{record} was added since to customer #{customer}")
                                          .format(record=_label("contact", contact_id, name),
                                                  customer=customer_id))
            for document_id, customer_id, title in (
                    AdminDocument.select(AdminDocument.id, AdminDocument.customer,
                                         AdminDocument.title)
                    .where(AdminDocument.customer.in_(part)).tuples()):
                self.conflicts.append(_("document #{id} {title} was added since to customer "
                                        "#{customer}").format(id=document_id, title=title,
                                                              customer=customer_id))
            for model, what in ((Estimate, _("estimate")), (Project, _("project"))):
                for record_id, customer_id in (model.select(model.id, model.customer)
                                               .where(model.customer.in_(part)).tuples()):
                    self.conflicts.append(_("{what} #{id} was made since for customer "
                                            "#{customer}").format(what=what, id=record_id,
                                                                  customer=customer_id))
            for assignment_id, customer_id in (
                    Assignment.select(Assignment.id, Assignment.customer_id)
                    .where(Assignment.customer_id.in_(part)).tuples()):
                if assignment_id not in own_assignments:
                    self.conflicts.append(_("customer #{customer} was assigned equipment since")
                                          .format(customer=customer_id))
        machines = self.present["equipment"]
        for part in _chunks(machines):
            for assignment_id, equipment_id in (
                    Assignment.select(Assignment.id, Assignment.equipment)
                    .where(Assignment.equipment.in_(part)).tuples()):
                if assignment_id not in own_assignments:
                    self.conflicts.append(_("machine #{id} was assigned since").format(
                        id=equipment_id))
            for (equipment_id,) in (EquipmentEvent.select(EquipmentEvent.equipment)
                                    .where(EquipmentEvent.equipment.in_(part)).distinct()
                                    .tuples()):
                self.conflicts.append(_("machine #{id} has events recorded since").format(
                    id=equipment_id))

    def currencies(self) -> None:
        """Putting back a customer's old currency is refused once estimates are priced in
        the new one (C6)."""
        changed = [i for i, item in self.updated["customer"].items()
                   if "currency" in (item.before or {})]
        for part in _chunks(changed):
            for (customer_id,) in (Estimate.select(Estimate.customer)
                                   .where(Estimate.customer.in_(part)).distinct().tuples()):
                self.conflicts.append(_("customer #{customer} has estimates priced in the "
                                        "currency the import gave it").format(
                                            customer=customer_id))

    def assignments(self) -> None:
        for assignment_id, (_id, serial_id, closed) in _rows(
                Assignment, self.created["assignment"], Assignment.equipment,
                Assignment.unassigned_at).items():
            self.present["assignment"].add(assignment_id)
            if closed is not None:
                self.conflicts.append(_("the assignment of machine #{id} was closed since")
                                      .format(id=serial_id))


def undo_import(ctx: Context, job_id: int) -> UndoReport:
    """Revert import job ``job_id``; ``UndoRefused`` (changing nothing) if it cannot be whole."""
    require(ctx.actor, "data.import")
    job = ImportJob.get_or_none(ImportJob.id == job_id)
    if job is None:
        raise NotFound(_("import job"), job_id)
    items = list(ImportItem.select().where(ImportItem.job == job_id))
    needed = required_permissions(job.kind, on_match=job.on_match)
    entities = {item.entity for item in items}
    if "contact" in entities:
        needed.append("contact.edit")
    if "assignment" in entities:
        needed.append("equipment.assign")
    for permission in needed:
        require(ctx.actor, permission)
    with write(ctx, "data.import"):
        job = ImportJob.get_by_id(job_id)  # again, under the lock
        if job.status == "undone":
            raise UndoRefused(job_id, [_("it was undone already on {when} by {who}").format(
                when=format_datetime(job.undone_at), who=job.undone_by)])
        if job.status == "running":  # killed, or still importing in another session
            raise UndoRefused(job_id, [_("it has not finished (started by {who} on {when}, it "
                                         "may still be running): import the same file again "
                                         "to finish it, then undo it").format(
                who=job.started_by, when=format_datetime(job.started_at))])
        check = _Check(job_id, items)
        check.versions("customer", Customer.name)
        check.versions("contact", Contact.name)
        check.versions("equipment", Equipment.serial)
        check.assignments()
        check.foreign()
        check.currencies()
        if check.conflicts:
            raise UndoRefused(job_id, check.conflicts)
        return _revert(ctx, job, check)


def _revert(ctx: Context, job: ImportJob, check: _Check) -> UndoReport:
    db = ctx.db
    report = UndoReport(job.id)
    triggers = searchindex.drop(db)
    touched: set[int] = set()
    for part in _chunks(check.present["assignment"]):
        touched.update(c for (c,) in Assignment.select(Assignment.customer_id)
                       .where(Assignment.id.in_(part)).tuples())
        Assignment.delete().where(Assignment.id.in_(part)).execute()
    for part in _chunks(check.present["contact"]):
        touched.update(c for (c,) in Contact.select(Contact.customer)
                       .where(Contact.id.in_(part)).tuples())
        Contact.delete().where(Contact.id.in_(part)).execute()
    for part in _chunks(check.present["customer"]):
        GroupMembership.delete().where(GroupMembership.customer.in_(part)).execute()
        Customer.delete().where(Customer.id.in_(part)).execute()
    touched |= check.present["customer"]
    for part in _chunks(check.present["equipment"]):
        Equipment.delete().where(Equipment.id.in_(part)).execute()
    for entity in ("assignment", "contact", "customer", "equipment"):
        if check.present[entity]:
            report.removed[entity] = len(check.present[entity])
    now, login = utcnow(), ctx.actor.login
    for entity, model in MODELS.items():
        for entity_id, item in check.updated[entity].items():
            before = dict(item.before or {})
            groups = before.pop("groups", None)
            stamps = {"version": model.version + 1}
            if "updated_at" in model._meta.fields:
                stamps["updated_at"] = now
            if "updated_by" in model._meta.fields:
                stamps["updated_by"] = login
            model.update(**before, **stamps).where(model.id == entity_id).execute()
            if groups is not None:
                _restore_groups(entity_id, groups)
            if entity == "customer":
                touched.add(entity_id)
            elif entity == "contact":
                touched.add(Contact.get_by_id(entity_id).customer_id)
            else:
                touched.update(c for (c,) in Assignment.select(Assignment.customer_id).where(
                    Assignment.equipment == entity_id, Assignment.unassigned_at.is_null())
                    .tuples())
            report.restored[entity] = report.restored.get(entity, 0) + 1
    groups = list(check.created["group"])
    for part in _chunks(groups):
        used = {g for (g,) in GroupMembership.select(GroupMembership.group)
                .where(GroupMembership.group.in_(part)).distinct().tuples()}
        unused = [g for g in part if g not in used]
        if unused:
            CustomerGroup.delete().where(CustomerGroup.id.in_(unused)).execute()
            report.removed["group"] = report.removed.get("group", 0) + len(unused)
    searchindex.refresh(db, touched)
    searchindex.restore(db, triggers)
    refresh_estimate_copies(ctx, touched - check.present["customer"])
    ImportJob.update(status="undone", undone_at=now, undone_by=login).where(
        ImportJob.id == job.id).execute()
    audit(ctx, "undo_import", "import_job", job.id,
          before={"job": job.id, "kind": job.kind, "file": job.file_name, "counts": job.counts},
          after={"removed": report.removed, "restored": report.restored})
    return report


def _restore_groups(customer_id: int, names: list[str]) -> None:
    existing = {g.name.casefold(): g.id for g in CustomerGroup.select()}
    GroupMembership.delete().where(GroupMembership.customer == customer_id).execute()
    for name in names:
        group_id = existing.get(name.casefold())
        if group_id is None:
            group_id = CustomerGroup.create(name=name).id
        GroupMembership.insert(customer=customer_id, group=group_id).on_conflict_ignore().execute()
