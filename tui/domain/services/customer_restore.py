"""A deleted customer's last state, from its deletion's audit event, and its restore.

``delete_customer`` keeps everything in its audit event's ``before``: the customer's
fields, group names, contacts, documents (their files stay in the file store),
projects, the machines it held and the estimates it was unlinked from.

Who may restore: the rule is "whoever may read the audit trail and could have
typed the customer back in by hand", that is ``audit.view`` + ``customer.create``
+ ``contact.edit`` + ``document.edit`` (``RESTORE_PERMISSIONS``). A restore grants
nothing beyond those. In the shipped YAML: administrator, fleet administrator,
account owner; not the estimator or limited roles.

What a restore does, in one transaction, audited as ONE "restore" event whose
``before`` names the deletion event it undoes:

- the customer comes back with its original id when that id is free (so its
  assignment history and its audit rows line up), else with a new one (SQLite may
  give the highest id again after it was deleted); created_at/by are kept, the
  version goes up by one;
- its contacts, documents (the same stored files) and projects come back, with
  their ids when free; project contacts follow their contacts;
- its groups are re-attached; a group deleted since is re-created when the
  restorer may create groups (``group.edit``), else left out and said so;
- the estimates unlinked by the deletion and still unlinked are linked again (one
  "link" audit event each, as the deletion wrote one "unlink" each) and their copy
  of the customer's details refreshed; one linked elsewhere or deleted since is
  left alone and said so;
- machines are NOT given back: they stay with whoever holds them now; the result
  says which machines it held and who holds each now.

Refused: a deletion already restored (once is enough: delete again to restore
again), and a customer that now looks like one that exists (``find_duplicates``,
as creation does) unless ``allow_duplicate``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from peewee import DateField, DateTimeField

from tui.domain.context import Actor, Context
from tui.domain.errors import ClientbookError, DuplicateWarning, NotFound
from tui.domain.models import (
    AdminDocument,
    Assignment,
    AuditEvent,
    BaseModel,
    Contact,
    Customer,
    CustomerGroup,
    Equipment,
    Estimate,
    GroupMembership,
    Project,
    utcnow,
)
from tui.domain.permissions import require
from tui.domain.services._base import audit, snapshot, write
from tui.domain.services.customers import find_duplicates, group_names
from tui.domain.services.documents import blob_path
from tui.domain.services.estimates import refresh_customer_copies
from tui.domain.validation import digit_suffixes, email_key, name_key, website_key
from tui.domain.locale_format import format_datetime
from tui.i18n import _, ngettext

RESTORE_PERMISSIONS = ("audit.view", "customer.create", "contact.edit", "document.edit")


class RestoreRefused(ClientbookError):
    """The deletion cannot be undone (already restored, or not a customer's deletion)."""


def may_restore(actor: Actor) -> bool:
    """Whether the role may restore deleted customers at all (see RESTORE_PERMISSIONS)."""
    return all(actor.can(permission) for permission in RESTORE_PERMISSIONS)


@dataclass(frozen=True)
class MachineNow:
    """A machine the customer held when deleted, and who holds it now."""

    equipment_id: int
    serial: str
    name: str
    holder_id: int | None  # None: nobody holds it now
    holder: str | None

    def text(self) -> str:
        if self.holder_id is None:
            return _("{serial} is free").format(serial=self.serial)
        return _("{serial} is held by {holder} (#{id})").format(
            serial=self.serial, holder=self.holder, id=self.holder_id)


@dataclass(frozen=True)
class DeletedCustomer:
    """What a customer deletion's audit event kept, and where things stand now."""

    event_id: int
    customer_id: int  # its id when deleted
    name: str
    deleted_at: datetime
    deleted_by: str
    fields: dict  # the customer's columns as they were
    groups: list[str]
    contacts: list[dict]
    documents: list[dict]
    projects: list[dict]
    estimate_ids: list[int]
    machines: list[MachineNow]
    missing_files: list[str]  # titles of documents whose stored file is gone
    restore_event_id: int | None = None
    restored_as: int | None = None
    restored_at: datetime | None = None
    restored_by: str | None = None
    id_taken_by: str | None = None  # another customer's name, when its id was given again

    @property
    def refusal(self) -> str | None:
        """Why this deletion cannot be restored now, or None when it can."""
        if self.restored_at is None:
            return None
        return _("{name} (#{id}) was already restored by {login} on {when}, as #{new}.").format(
            name=self.name, id=self.customer_id, login=self.restored_by,
            when=format_datetime(self.restored_at) + " UTC", new=self.restored_as)

    def describe(self) -> list[str]:
        """What a restore would bring back and what it would not, one sentence a line."""
        lines = [_("Deleted by {login} on {when}.").format(
            login=self.deleted_by, when=format_datetime(self.deleted_at) + " UTC")]
        back = [ngettext("{count} contact", "{count} contacts", len(self.contacts)).format(
                    count=len(self.contacts)),
                ngettext("{count} document", "{count} documents", len(self.documents)).format(
                    count=len(self.documents)),
                ngettext("{count} project", "{count} projects", len(self.projects)).format(
                    count=len(self.projects))]
        lines.append(_("Comes back: the customer, {things}.").format(things=", ".join(back)))
        if self.groups:
            lines.append(_("Groups: {groups}.").format(groups=", ".join(self.groups)))
        if self.estimate_ids:
            lines.append(ngettext(
                "{count} estimate unlinked by the deletion is linked again if still unlinked.",
                "{count} estimates unlinked by the deletion are linked again if still unlinked.",
                len(self.estimate_ids)).format(count=len(self.estimate_ids)))
        if self.machines:
            lines.append(_("Machines are not given back: {machines}.").format(
                machines="; ".join(machine.text() for machine in self.machines)))
        if self.missing_files:
            lines.append(_("Files missing from the store (the documents come back without "
                           "them): {titles}.").format(titles=", ".join(self.missing_files)))
        if self.id_taken_by:
            lines.append(_("Its id #{id} now belongs to {other}: it comes back with a new id.")
                         .format(id=self.customer_id, other=self.id_taken_by))
        return lines


@dataclass(frozen=True)
class Restored:
    """What a restore brought back, and what it left where it is."""

    customer_id: int  # as restored
    original_id: int
    name: str
    event_id: int  # the "restore" audit event
    contacts: int
    documents: int
    projects: int
    groups: list[str]
    groups_left_out: list[str]
    estimates_linked: list[str]  # numbers
    estimates_left: list[str]  # numbers linked elsewhere since, or deleted
    machines: list[MachineNow]
    missing_files: list[str]
    external_id_dropped: str | None = None
    notes: list[str] = field(default_factory=list)

    def describe(self) -> list[str]:
        """The outcome, one sentence a line (the CLI prints it, the TUI notifies it)."""
        lines = [_("Restored {name} as #{id}: {contacts}, {documents}, {projects}.").format(
            name=self.name, id=self.customer_id,
            contacts=ngettext("{count} contact", "{count} contacts", self.contacts).format(
                count=self.contacts),
            documents=ngettext("{count} document", "{count} documents",
                               self.documents).format(count=self.documents),
            projects=ngettext("{count} project", "{count} projects", self.projects).format(
                count=self.projects))]
        if self.customer_id != self.original_id:
            lines.append(_("Its old id #{old} was taken by another customer.").format(
                old=self.original_id))
        if self.groups:
            lines.append(_("Groups: {groups}.").format(groups=", ".join(self.groups)))
        if self.groups_left_out:
            lines.append(_("Left out (deleted since, and you may not create groups): "
                           "{groups}.").format(groups=", ".join(self.groups_left_out)))
        if self.estimates_linked:
            lines.append(_("Estimates linked again: {numbers}.").format(
                numbers=", ".join(self.estimates_linked)))
        if self.estimates_left:
            lines.append(_("Estimates left as they are (linked elsewhere or deleted since): "
                           "{numbers}.").format(numbers=", ".join(self.estimates_left)))
        if self.machines:
            lines.append(_("Machines are not given back: {machines}.").format(
                machines="; ".join(machine.text() for machine in self.machines)))
        if self.missing_files:
            lines.append(_("Files missing from the store: {titles}.").format(
                titles=", ".join(self.missing_files)))
        if self.external_id_dropped:
            lines.append(_("Its external id {external} now belongs to another customer: "
                           "restored without it.").format(external=self.external_id_dropped))
        return lines


# ------------------------------------------------------------------ reading the deletion

def _deletion(audit_id: int | None, customer_id: int | None) -> AuditEvent:
    if audit_id is not None:
        event = AuditEvent.get_or_none(AuditEvent.id == audit_id)
        if event is None:
            raise NotFound(_("audit event"), audit_id)
        if event.action != "delete" or event.entity != "customer" or not event.before:
            raise RestoreRefused(_("Audit event #{id} is not a customer's deletion: there is "
                                   "nothing to restore from it.").format(id=audit_id))
        return event
    if customer_id is None:
        raise TypeError("audit_id or customer_id is needed")
    event = (AuditEvent.select()
             .where(AuditEvent.entity == "customer", AuditEvent.action == "delete",
                    AuditEvent.entity_id == customer_id)
             .order_by(AuditEvent.id.desc()).first())
    if event is None or not event.before:
        if Customer.select().where(Customer.id == customer_id).exists():
            raise RestoreRefused(_("Customer #{id} exists and was never deleted: there is "
                                   "nothing to restore.").format(id=customer_id))
        raise NotFound(_("deleted customer"), customer_id)
    return event


def _restore_of(deletion: AuditEvent) -> AuditEvent | None:
    """The restore event that undid this deletion, if any (restores are few: read them)."""
    for event in (AuditEvent.select()
                  .where(AuditEvent.entity == "customer", AuditEvent.action == "restore",
                         AuditEvent.id > deletion.id)
                  .order_by(AuditEvent.id)):
        if isinstance(event.before, dict) and event.before.get("delete_event") == deletion.id:
            return event
    return None


def _machines(equipment_ids: list[int]) -> list[MachineNow]:
    machines = {m.id: m for m in Equipment.select().where(Equipment.id.in_(equipment_ids))}
    holders = {a.equipment_id: a for a in Assignment.select().where(
        Assignment.equipment.in_(equipment_ids), Assignment.unassigned_at.is_null())}
    found = []
    for equipment_id in equipment_ids:
        machine = machines.get(equipment_id)
        if machine is None:  # deleted from the register since
            continue
        holder = holders.get(equipment_id)
        found.append(MachineNow(equipment_id, machine.serial, machine.name,
                                holder.customer_id if holder else None,
                                holder.customer_name if holder else None))
    return found


def _state(ctx: Context, deletion: AuditEvent) -> DeletedCustomer:
    before = dict(deletion.before)
    customer_id = deletion.entity_id
    restore = _restore_of(deletion)
    taken = None
    if restore is None:
        other = Customer.get_or_none(Customer.id == customer_id)
        taken = other.name if other is not None else None
    documents = list(before.get("documents") or [])
    missing = [d.get("title", "") for d in documents
               if d.get("file_sha256") and not blob_path(ctx, d["file_sha256"]).is_file()]
    extras = ("groups", "contacts", "documents", "unassigned_equipment", "projects",
              "unlinked_estimates")
    return DeletedCustomer(
        event_id=deletion.id, customer_id=customer_id, name=str(before.get("name", "")),
        deleted_at=deletion.at, deleted_by=deletion.login,
        fields={k: v for k, v in before.items() if k not in extras},
        groups=list(before.get("groups") or []),
        contacts=list(before.get("contacts") or []), documents=documents,
        projects=list(before.get("projects") or []),
        estimate_ids=list(before.get("unlinked_estimates") or []),
        machines=_machines(list(before.get("unassigned_equipment") or [])),
        missing_files=missing,
        restore_event_id=restore.id if restore else None,
        restored_as=restore.entity_id if restore else None,
        restored_at=restore.at if restore else None,
        restored_by=restore.login if restore else None,
        id_taken_by=taken)


def deleted_customer_state(ctx: Context, audit_id: int | None = None, *,
                           customer_id: int | None = None) -> DeletedCustomer:
    """A deleted customer's last state: from a deletion event, or a customer id's latest one."""
    require(ctx.actor, "audit.view")
    return _state(ctx, _deletion(audit_id, customer_id))


# ------------------------------------------------------------------ restoring

def _row(model: type[BaseModel], data: dict, **overrides) -> dict:
    """Insert values for ``model`` from a snapshot (column names, ISO text dates)."""
    values = {}
    for name, model_field in model._meta.fields.items():
        column = model_field.column_name
        if column not in data:
            continue
        value = data[column]
        if isinstance(value, str) and isinstance(model_field, DateTimeField):
            value = datetime.fromisoformat(value)
        elif isinstance(value, str) and isinstance(model_field, DateField):
            value = date.fromisoformat(value)
        values[name] = value
    values.update(overrides)
    return values


def _insert(model: type[BaseModel], values: dict) -> int:
    """Insert with the snapshot's id when no row has it now, else with a new one."""
    wanted = values.pop("id", None)
    if wanted is not None and not model.select().where(model.id == wanted).exists():
        values["id"] = wanted
    return model.insert(**values).execute()


def restore_customer(ctx: Context, customer_id: int | None = None, *,
                     audit_id: int | None = None, allow_duplicate: bool = False) -> Restored:
    """Bring a deleted customer back (see the module's docstring for every rule)."""
    for permission in RESTORE_PERMISSIONS:
        require(ctx.actor, permission)
    with write(ctx, "customer.create"):
        deletion = _deletion(audit_id, customer_id)
        state = _state(ctx, deletion)
        if state.refusal:
            raise RestoreRefused(state.refusal)
        now, login = utcnow(), ctx.actor.login
        values = _row(Customer, state.fields, version=int(state.fields.get("version") or 0) + 1,
                      updated_at=now, updated_by=login)
        values.update(name_key=name_key(values.get("name", "")),
                      email_key=email_key(values.get("email", "")),
                      website_key=website_key(values.get("website", "")),
                      search_digits=digit_suffixes(values["phone"]) if values.get("phone")
                      else "")
        if not allow_duplicate:
            duplicates = find_duplicates(values)
            if duplicates:
                raise DuplicateWarning(duplicates)
        dropped = None
        external = values.get("external_id")
        if external and Customer.select().where(Customer.external_id == external).exists():
            dropped, values["external_id"] = external, None
        new_id = _insert(Customer, values)

        groups, left_out = _regroup(ctx, new_id, state.groups)
        contact_ids: dict[int, int] = {}
        for contact in state.contacts:
            row = _row(Contact, contact, customer=new_id,
                       search_digits=digit_suffixes(contact["phone"])
                       if contact.get("phone") else "")
            contact_ids[contact.get("id")] = _insert(Contact, row)
        for document in state.documents:
            _insert(AdminDocument, _row(AdminDocument, document, customer=new_id))
        for project in state.projects:
            places = {place: contact_ids.get(project.get(place + "_id"))
                      for place in ("submission_contact", "billing_contact", "execution_contact")}
            _insert(Project, _row(Project, project, customer=new_id, **places))
        linked, left = _relink(ctx, new_id, state.estimate_ids)

        customer = Customer.get_by_id(new_id)
        after = snapshot(customer)
        after["groups"] = group_names(new_id)
        after["contacts"] = [snapshot(c) for c in Contact.select().where(
            Contact.customer == new_id).order_by(Contact.id)]
        after["documents"] = [snapshot(d) for d in AdminDocument.select().where(
            AdminDocument.customer == new_id).order_by(AdminDocument.id)]
        after["projects"] = [snapshot(p) for p in Project.select().where(
            Project.customer == new_id).order_by(Project.id)]
        after["linked_estimates"] = linked
        after["machines_not_returned"] = [m.equipment_id for m in state.machines]
        event = audit(ctx, "restore", "customer", new_id,
                      before={"delete_event": deletion.id, "deleted_id": state.customer_id},
                      after=after, customer_id=new_id)
        numbers = dict(Estimate.select(Estimate.id, Estimate.number)
                       .where(Estimate.id.in_(state.estimate_ids or [0])).tuples())
        return Restored(
            customer_id=new_id, original_id=state.customer_id, name=customer.name,
            event_id=event.id, contacts=len(state.contacts), documents=len(state.documents),
            projects=len(state.projects), groups=groups, groups_left_out=left_out,
            estimates_linked=[numbers.get(i, "#{id}".format(id=i)) for i in linked],
            estimates_left=[numbers.get(i, "#{id}".format(id=i)) for i in left],
            machines=state.machines, missing_files=state.missing_files,
            external_id_dropped=dropped)


def _regroup(ctx: Context, customer_id: int, names: list[str]) -> tuple[list[str], list[str]]:
    existing = {g.name.casefold(): g for g in CustomerGroup.select()}
    attached, left_out = [], []
    for name in names:
        group = existing.get(name.casefold())
        if group is None:
            if not ctx.actor.can("group.edit"):
                left_out.append(name)
                continue
            group = CustomerGroup.create(name=name)
            existing[name.casefold()] = group
            audit(ctx, "create", "group", group.id, after=snapshot(group))
        GroupMembership.insert(customer=customer_id, group=group.id).on_conflict_ignore().execute()
        attached.append(group.name)
    return attached, left_out


def _relink(ctx: Context, customer_id: int,
            estimate_ids: list[int]) -> tuple[list[int], list[int]]:
    """Link again the estimates the deletion unlinked and nobody linked since."""
    linked, left = [], []
    for estimate_id in estimate_ids:
        estimate = Estimate.get_or_none(Estimate.id == estimate_id)
        if estimate is None or estimate.customer_id is not None:
            left.append(estimate_id)
            continue
        Estimate.update(customer=customer_id).where(Estimate.id == estimate_id).execute()
        audit(ctx, "link", "estimate", estimate_id, before={"customer": None},
              after={"customer": customer_id}, customer_id=customer_id)
        linked.append(estimate_id)
    if linked:
        refresh_customer_copies(ctx, [customer_id])
    return linked, left
