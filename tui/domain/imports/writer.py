"""What an import does with validated rows: match, decide, then write one batch at a time.

``Writer.batch(rows)`` first PLANS the batch: each row is matched against the
database and against what this run already did, and its actions (create /
update / nothing, for the customer and its contact, or the machine and its
assignment) are decided together, so a row is taken or rejected whole. Then,
unless it is a dry run, it APPLIES the plan with bulk inserts (``executemany``)
and records every record it created or updated as an ``ImportItem`` (what undo
needs). The caller holds the transaction; a dry run plans exactly as a real
run and writes nothing.

Matching, so that running a file again creates no duplicates:
- customers: by external id when the row has one; otherwise, or when no
  customer has that external id, by normalised name (``name_key``) plus the
  same phone or the same e-mail, among customers without an external id. A row
  with neither phone nor e-mail matches by name plus postal code and city. The
  external id ``clientbook-<id>`` (how exports name a customer that has none)
  also finds customer <id> of this database when it has no external id and
  the same name.
- contacts: within their customer, by e-mail; a row without an e-mail (or whose
  e-mail no contact has) by name, among contacts without another e-mail.
- machines: by serial number.
A matched record is left alone with ``on_match="skip"``. With ``"update"`` the
row's non-empty cells replace its values (an empty cell never erases anything),
validated again together with what the record already holds; a customer
matched by name gets the row's external id when it has none.

A customer's rows may be spread over the file (one per contact): the first
creates or matches it, the others only add their contacts.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime, time

from peewee import Model, fn

from tui.domain.context import Context
from tui.domain.errors import ValidationError
from tui.domain.imports.prepare import Prepared
from tui.domain.imports.values import fold
from tui.domain.models import (
    Assignment,
    Contact,
    Customer,
    CustomerGroup,
    Equipment,
    GroupMembership,
    ImportItem,
    JSONField,
    utcnow,
)
from tui.domain.services._base import snapshot
from tui.domain.services.contacts import ContactDraft, validate_contact
from tui.domain.services.customers import CustomerDraft, group_names, validate_customer
from tui.domain.services.equipment import EquipmentDraft, validate_equipment
from tui.domain.validation import Errors, email_key, name_key
from tui.i18n import _

ENTITIES = ("customer", "contact", "group", "equipment", "assignment")
CHUNK = 900  # ids per IN (...) query
SYNTHETIC_ID = re.compile(r"^clientbook-(\d+)$")  # exporter.export_key
# Columns an update may change (never ids, stamps or versions).
CUSTOMER_COLUMNS = ("name", "phone", "email", "website", "billing_street", "billing_postal_code",
                    "billing_city", "billing_country", "billing_state",
                    "shipping_same_as_billing", "shipping_street", "shipping_postal_code",
                    "shipping_city", "shipping_country", "shipping_state", "segment",
                    "currency", "language", "notify_event_types", "notes", "name_key",
                    "email_key", "website_key", "search_digits", "external_id")
CONTACT_COLUMNS = ("name", "email", "phone", "job_title", "roles", "search_digits")
EQUIPMENT_COLUMNS = ("serial", "name", "make", "model", "type", "year", "retired_at")


@dataclass
class EntityCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0  # matched, and the file holds nothing new for it
    skipped: int = 0  # matched and left alone (on_match "skip"), or a repeated row

    def add(self, other: "EntityCounts") -> None:
        for name in ("created", "updated", "unchanged", "skipped"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "skipped": self.skipped}

    def __bool__(self) -> bool:
        return any(self.as_dict().values())


def new_counts() -> dict[str, EntityCounts]:
    return {entity: EntityCounts() for entity in ENTITIES}


@dataclass
class BatchResult:
    counts: dict[str, EntityCounts] = field(default_factory=new_counts)
    rejected: list[tuple[Prepared, dict[str, str]]] = field(default_factory=list)
    touched: set[int] = field(default_factory=set)  # customers whose search row to rebuild
    rows: int = 0
    last_line: int = 0


@dataclass
class _Plan:
    inserts: dict = field(default_factory=lambda: defaultdict(list))  # model -> rows
    updates: list = field(default_factory=list)  # (model, id, changes)
    memberships: list = field(default_factory=list)  # (customer id, [group ids]): replace
    items: list = field(default_factory=list)


class _Rejected(Exception):
    def __init__(self, errors: dict[str, str]):
        super().__init__(errors)
        self.errors = errors


def bulk_insert(db, model: type[Model], rows: list[dict]) -> None:
    """``executemany`` of rows sharing one set of keys, values converted as peewee would."""
    if not rows:
        return
    names = list(rows[0])
    fields = [model._meta.fields[name] for name in names]
    columns = ", ".join(f'"{f.column_name}"' for f in fields)
    marks = ", ".join("?" * len(fields))
    # Text, numbers, booleans, datetimes and ids go to sqlite3 as they are, as peewee
    # passes them; only JSON needs converting.
    convert = [(i, f.db_value) for i, f in enumerate(fields) if isinstance(f, JSONField)]
    data = []
    for row in rows:
        values = [row[name] for name in names]
        for i, db_value in convert:
            values[i] = db_value(values[i])
        data.append(values)
    db.cursor().executemany(
        f'INSERT INTO "{model._meta.table_name}" ({columns}) VALUES ({marks})', data)


def _chunks(values, size: int = CHUNK):
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _company_keys(values: dict) -> list[tuple]:
    """Keys under which a customer WITHOUT an external id is matched (see the docstring)."""
    key = values["name_key"]
    keys = []
    if values["phone"]:
        keys.append(("phone", key, values["phone"]))
    if values["email_key"]:
        keys.append(("email", key, values["email_key"]))
    if not values["phone"] and not values["email_key"]:
        keys.append(("place", key, values["billing_postal_code"], values["billing_city"]))
    return keys


def _same_company(values: dict, row: dict) -> bool:
    if values["phone"] and values["phone"] == row["phone"]:
        return True
    if values["email_key"] and values["email_key"] == row["email_key"]:
        return True
    return (not values["phone"] and not values["email_key"] and not row["phone"]
            and not row["email_key"]
            and values["billing_postal_code"] == row["billing_postal_code"]
            and values["billing_city"] == row["billing_city"])


def _diff(current: dict, values: dict, columns) -> dict:
    return {c: values[c] for c in columns if c in values and values[c] != current.get(c)}


class Writer:
    def __init__(self, ctx: Context, kind: str, *, on_match: str, job_id: int | None,
                 dry_run: bool):
        self.ctx, self.kind, self.on_match = ctx, kind, on_match
        self.job_id, self.dry = job_id, dry_run
        self.login = ctx.actor.login
        self.seen: dict[tuple, int] = {}  # customer match keys -> id, this run
        self.done: dict[str, set[int]] = defaultdict(set)  # handled by this run: not again
        self.own: dict[str, set[int]] = defaultdict(set)  # created by this job (resumed too)
        self.contacts: dict[int, list[list]] = {}  # customer id -> [[id, name fold, e-mail key]]
        self.groups: dict[str, int] | None = None
        self.next_ids: dict[type[Model], int] = {}
        self.references: dict[tuple, tuple[int, str, str | None] | str] = {}
        self.row_customer: dict[int, tuple[int, str, str | None]] = {}  # contacts file rows
        self.serials: dict[str, int] = {}

    # ---------------------------------------------------------------- shared

    def load_own(self) -> None:
        """A resumed job: what it created already is its own work, not a match."""
        if self.job_id is None:
            return
        query = (ImportItem.select(ImportItem.entity, ImportItem.entity_id)
                 .where(ImportItem.job == self.job_id, ImportItem.action == "create"))
        for entity, entity_id in query.tuples():
            self.own[entity].add(entity_id)

    def _new_id(self, model: type[Model]) -> int:
        if model not in self.next_ids:
            table = model._meta.table_name
            top = self.ctx.db.execute_sql(f'SELECT ifnull(max(id), 0) FROM "{table}"').fetchone()
            self.next_ids[model] = top[0] + 1
        value = self.next_ids[model]
        self.next_ids[model] = value + 1
        return value

    def _item(self, plan: _Plan, entity: str, entity_id: int, action: str,
              version: int | None = None, before: dict | None = None) -> None:
        plan.items.append({"job": self.job_id, "entity": entity, "entity_id": entity_id,
                           "action": action, "version": version, "before": before})

    def batch(self, rows: list[Prepared]) -> BatchResult:
        result = BatchResult(rows=len(rows), last_line=rows[-1].line if rows else 0)
        if not self.dry:
            self.next_ids.clear()  # taken again under this batch's write lock
        plan = _Plan()
        good = []
        for row in rows:
            if row.ok:
                good.append(row)
            else:
                result.rejected.append((row, row.errors))
        handler = {"customers": self._customers, "contacts": self._contacts,
                   "equipment": self._equipment}[self.kind]
        handler(good, plan, result)
        result.rejected.sort(key=lambda pair: pair[0].line)
        if not self.dry:
            self._apply(plan)
        return result

    def _apply(self, plan: _Plan) -> None:
        db = self.ctx.db
        for model in (CustomerGroup, Customer, Contact, Equipment, Assignment):
            bulk_insert(db, model, plan.inserts.get(model, []))
        now = utcnow()
        for model, key, changes in plan.updates:
            stamps = {"version": model.version + 1}
            if "updated_at" in model._meta.fields:
                stamps["updated_at"] = now
            if "updated_by" in model._meta.fields:
                stamps["updated_by"] = self.login
            model.update(**changes, **stamps).where(model.id == key).execute()
        for customer_id, group_ids in plan.memberships:
            GroupMembership.delete().where(GroupMembership.customer == customer_id).execute()
            bulk_insert(db, GroupMembership,
                        [{"customer": customer_id, "group": g} for g in group_ids])
        bulk_insert(db, GroupMembership, plan.inserts.get(GroupMembership, []))
        bulk_insert(db, ImportItem, plan.items)

    # ---------------------------------------------------------------- customers file

    def _customers(self, rows: list[Prepared], plan: _Plan, result: BatchResult) -> None:
        by_external, by_name = self._fetch_customers(rows)
        existing = set()
        for row in rows:
            found = self._match(row, by_external, by_name)
            if found and found[0] == "existing":
                existing.add(found[1])
        self._load_contacts(existing)
        for row in rows:
            try:
                customer = self._decide_customer(row, by_external, by_name)
                contact = self._decide_contact(row, customer) if row.contact else None
            except _Rejected as rejected:
                result.rejected.append((row, rejected.errors))
                continue
            customer_id = self._commit_customer(row, customer, plan, result)
            if contact is not None:
                self._commit_contact(row, customer_id, contact, plan, result)

    def _fetch_customers(self, rows: list[Prepared]) -> tuple[dict, dict]:
        """The batch's candidates: by external id, by "clientbook-<id>", by name key."""
        externals = {r.external_id for r in rows if r.external_id
                     and ("ext", r.external_id) not in self.seen}
        names = {r.customer["name_key"] for r in rows}
        by_external, by_name = {}, defaultdict(list)
        for part in _chunks(externals):
            for found in Customer.select().where(Customer.external_id.in_(part)).dicts():
                by_external[found["external_id"]] = found
        # "clientbook-<id>": an export of this database naming a customer without an
        # external id; it is that customer when the name still agrees.
        synthetic = {int(m.group(1)): e for e in externals - set(by_external)
                     if (m := SYNTHETIC_ID.match(e))}
        for part in _chunks(synthetic):
            for found in Customer.select().where(Customer.id.in_(part),
                                                 Customer.external_id.is_null()).dicts():
                by_external[("self", synthetic[found["id"]])] = found
        for part in _chunks(names):
            query = (Customer.select().where(Customer.name_key.in_(part),
                                             Customer.external_id.is_null())
                     .order_by(Customer.id).dicts())
            for found in query:
                by_name[found["name_key"]].append(found)
        return by_external, by_name

    def _match(self, row: Prepared, by_external: dict, by_name: dict):
        """("seen", id) | ("existing", id, current row) | None for a new customer.

        The in-run map (``seen``) follows the database's rules exactly, so a run that
        resumes an interrupted one decides as one uninterrupted run would.
        """
        external_id, values = row.external_id, row.customer
        current = None
        if external_id:
            if ("ext", external_id) in self.seen:
                return "seen", self.seen[("ext", external_id)]
            current = by_external.get(external_id)
            itself = by_external.get(("self", external_id))
            if current is None and itself is not None and itself["name_key"] == values["name_key"]:
                current = itself
        if current is None:
            for key in _company_keys(values):
                if key in self.seen:
                    return "seen", self.seen[key]
            current = next((c for c in by_name.get(values["name_key"], ())
                            if c["external_id"] is None and _same_company(values, c)), None)
        if current is None:
            return None
        if current["id"] in self.own["customer"] or current["id"] in self.done["customer"]:
            return "seen", current["id"]
        return "existing", current["id"], current

    def _decide_customer(self, row: Prepared, by_external: dict, by_name: dict):
        found = self._match(row, by_external, by_name)
        if found is None:
            return "new", self._group_ids(row.groups or [], create=True)
        if found[0] == "seen":
            return found
        _state, customer_id, current = found
        if self.on_match == "skip":
            return "skip", customer_id, current
        changes, groups = self._customer_changes(row, current)
        if not changes and groups is None:
            return "unchanged", customer_id, current
        return "update", customer_id, current, changes, groups

    def _customer_changes(self, row: Prepared, current: dict) -> tuple[dict, list | None]:
        given = row.customer_given or {}
        quick = {c: row.customer[c] for c in given if c in CUSTOMER_COLUMNS and c in row.customer}
        old_groups = None
        if row.groups is not None:
            old_groups = group_names(current["id"])
        same_groups = row.groups is None or (sorted(map(str.casefold, row.groups))
                                             == sorted(map(str.casefold, old_groups)))
        extra = {}
        if (row.external_id and current["external_id"] is None
                and row.external_id != f"clientbook-{current['id']}"):
            extra["external_id"] = row.external_id
        if not _diff(current, quick, quick) and same_groups:
            return extra, None
        base = CustomerDraft.from_customer(Customer(**current))
        merged = {k: v for k, v in given.items() if k != "groups"}
        if row.groups is not None:
            merged["groups"] = tuple(row.groups)
        try:
            values, groups, _none = validate_customer(self.ctx.config, replace(base, **merged))
        except ValidationError as error:
            raise _Rejected(error.errors) from None
        changes = _diff(current, values, CUSTOMER_COLUMNS)
        changes.update(extra)
        new_groups = None
        if row.groups is not None and not same_groups:
            new_groups = (groups, self._group_ids(groups, create=True), old_groups)
        return changes, new_groups

    def _group_ids(self, names: list[str], *, create: bool) -> list:
        """Group ids by name (case-insensitive); a new group is ("new", name) to create."""
        if self.groups is None:
            self.groups = {g.name.casefold(): g.id for g in CustomerGroup.select()}
        ids = []
        for name in names:
            found = self.groups.get(name.casefold())
            if found is None:
                if not self.ctx.actor.can("group.edit"):
                    raise _Rejected({"groups": _("There is no group {name}, and you may not "
                                                 "create groups.").format(name=name)})
                found = ("new", name)
            ids.append(found)
        return ids

    def _resolve_groups(self, ids: list, plan: _Plan, result: BatchResult) -> list[int]:
        out = []
        for entry in ids:
            if isinstance(entry, tuple):
                name = entry[1]
                found = self.groups.get(name.casefold())
                if found is None:
                    found = self._new_id(CustomerGroup)
                    self.groups[name.casefold()] = found
                    plan.inserts[CustomerGroup].append(
                        {"id": found, "name": name, "created_at": utcnow()})
                    self._item(plan, "group", found, "create")
                    result.counts["group"].created += 1
                entry = found
            out.append(entry)
        return list(dict.fromkeys(out))

    def _commit_customer(self, row: Prepared, decision, plan: _Plan,
                         result: BatchResult) -> int:
        state = decision[0]
        counts = result.counts["customer"]
        if state == "new":
            customer_id = self._new_id(Customer)
            now = utcnow()
            plan.inserts[Customer].append({
                **row.customer, "id": customer_id, "external_id": row.external_id,
                "created_at": now, "updated_at": now, "created_by": self.login,
                "updated_by": self.login, "version": 1})
            for group_id in self._resolve_groups(decision[1], plan, result):
                plan.inserts[GroupMembership].append({"customer": customer_id, "group": group_id})
            self._item(plan, "customer", customer_id, "create", version=1)
            self.contacts[customer_id] = []
            counts.created += 1
            result.touched.add(customer_id)
        else:
            customer_id = decision[1]
            if state == "skip":
                counts.skipped += 1
            elif state == "unchanged":
                counts.unchanged += 1
            elif state == "update":
                _s, _id, current, changes, groups = decision
                before = {c: current[c] for c in changes}
                if groups is not None:
                    names, ids, old = groups
                    plan.memberships.append(
                        (customer_id, self._resolve_groups(ids, plan, result)))
                    before["groups"] = old
                if changes:
                    plan.updates.append((Customer, customer_id, changes))
                version = current["version"] + (1 if changes else 0)
                self._item(plan, "customer", customer_id, "update", version=version,
                           before=_jsonable(before))
                counts.updated += 1
                result.touched.add(customer_id)
        if state == "seen":
            return customer_id
        self.done["customer"].add(customer_id)
        if row.external_id:
            self.seen.setdefault(("ext", row.external_id), customer_id)
        if state == "new":
            keeps = row.external_id
        else:
            current, changes = decision[2], (decision[3] if state == "update" else {})
            keeps = changes.get("external_id", current["external_id"])
        if keeps is None:  # matched by name and phone/e-mail/place from now on
            for key in _company_keys(row.customer):
                self.seen.setdefault(key, customer_id)
        return customer_id

    # ---------------------------------------------------------------- contacts

    def _load_contacts(self, customer_ids) -> None:
        missing = [c for c in customer_ids if c not in self.contacts]
        for customer_id in missing:
            self.contacts[customer_id] = []
        for part in _chunks(missing):
            query = (Contact.select(Contact.id, Contact.customer, Contact.name, Contact.email)
                     .where(Contact.customer.in_(part)).order_by(Contact.id).tuples())
            for contact_id, customer_id, name, email in query:
                self.contacts[customer_id].append([contact_id, fold(name), email_key(email)])

    def _find_contact(self, customer_id: int, values: dict) -> int | None:
        known = self.contacts.get(customer_id, [])
        wanted_email = email_key(values["email"])
        if wanted_email:
            for contact_id, _name, email in known:
                if email == wanted_email:
                    return contact_id
        wanted_name = fold(values["name"])
        for contact_id, name, email in known:
            if name == wanted_name and (not wanted_email or not email):
                return contact_id
        return None

    def _decide_contact(self, row: Prepared, customer, region: str | None = None):
        if customer[0] == "new":
            return ("new",)
        customer_id = customer[1]
        self._load_contacts([customer_id])
        contact_id = self._find_contact(customer_id, row.contact)
        if contact_id is None:
            return ("new",)
        if contact_id in self.own["contact"] or contact_id in self.done["contact"]:
            return "skip", contact_id
        if self.on_match == "skip":
            return "skip", contact_id
        current = Contact.select().where(Contact.id == contact_id).dicts().get()
        quick = {k: row.contact[k] for k in (row.contact_given or {}) if k in row.contact}
        if not _diff(current, quick, quick):
            return "unchanged", contact_id
        if region is None:
            region = Customer.get_by_id(customer_id).billing_country
        base = ContactDraft(**{k: current[k] for k in ("name", "email", "phone", "job_title")},
                            roles=tuple(current["roles"] or ()))
        errors = Errors()
        values = validate_contact(self.ctx.config, replace(base, **row.contact_given), region,
                                  errors)
        if errors:
            raise _Rejected({f"contact_{k}" if self.kind == "customers" else k: v
                             for k, v in errors.errors.items()})
        changes = _diff(current, values, CONTACT_COLUMNS)
        if not changes:
            return "unchanged", contact_id
        return "update", contact_id, current, changes

    def _commit_contact(self, row: Prepared, customer_id: int, decision, plan: _Plan,
                        result: BatchResult) -> None:
        counts = result.counts["contact"]
        state = decision[0]
        if state == "new":
            contact_id = self._new_id(Contact)
            now = utcnow()
            plan.inserts[Contact].append({**row.contact, "id": contact_id,
                                          "customer": customer_id, "created_at": now,
                                          "updated_at": now, "version": 1})
            self._item(plan, "contact", contact_id, "create", version=1)
            self.contacts.setdefault(customer_id, []).append(
                [contact_id, fold(row.contact["name"]), email_key(row.contact["email"])])
            counts.created += 1
            result.touched.add(customer_id)
        else:
            contact_id = decision[1]
            if state == "skip":
                counts.skipped += 1
            elif state == "unchanged":
                counts.unchanged += 1
            else:
                _s, _id, current, changes = decision
                plan.updates.append((Contact, contact_id, changes))
                self._item(plan, "contact", contact_id, "update", version=current["version"] + 1,
                           before=_jsonable({c: current[c] for c in changes}))
                for entry in self.contacts.get(customer_id, []):
                    if entry[0] == contact_id:
                        entry[1] = fold(changes.get("name", current["name"]))
                        entry[2] = email_key(changes.get("email", current["email"]))
                counts.updated += 1
                result.touched.add(customer_id)
        self.done["contact"].add(contact_id)

    # ---------------------------------------------------------------- contacts file

    def resolve_customer(self, external_id: str | None, name: str | None):
        """(id, name, country) of the customer a row names, or the reason it cannot be told."""
        key = (external_id, name)
        if key in self.references:
            return self.references[key]
        columns = (Customer.id, Customer.name, Customer.billing_country)
        if external_id:
            found = list(Customer.select(*columns)
                         .where(Customer.external_id == external_id).tuples())
            synthetic = SYNTHETIC_ID.match(external_id)
            if not found and synthetic:
                # "clientbook-<id>": how exports name a customer without an external id.
                found = [c for c in Customer.select(*columns).where(
                    Customer.id == int(synthetic.group(1)), Customer.external_id.is_null()
                ).tuples() if name is None or name_key(c[1]) == name_key(name)]
            answer = found[0] if found else _("No customer has the external id {value}.").format(
                value=external_id)
        elif name:
            answer = self._customer_named(name)
        else:
            answer = _("The row names no customer.")
        self.references[key] = answer
        return answer

    def _customer_named(self, name: str):
        columns = (Customer.id, Customer.name, Customer.billing_country)
        found = list(Customer.select(*columns).where(fn.lower(Customer.name) == name.lower())
                     .order_by(Customer.id).limit(6).tuples())
        if not found:
            found = list(Customer.select(*columns).where(Customer.name_key == name_key(name))
                         .order_by(Customer.id).limit(6).tuples())
        if len(found) == 1:
            return found[0]
        if not found:
            return _("No customer is named {name}.").format(name=name)
        listed = ", ".join(f"#{cid} {cname}" for cid, cname, _c in found[:5])
        return _("Several customers are named {name} ({listed}); give their external id "
                 "instead.").format(name=name, listed=listed)

    def contact_rows(self, rows: list[tuple[int, list[str]]], fields: dict[str, int]
                     ) -> tuple[dict[int, str | None], dict[int, dict[str, str]]]:
        """Find each contact row's customer before validation: (regions, errors by line)."""
        from tui.domain.imports.prepare import _external_id, cells
        from tui.domain.validation import FieldError, clean_text

        regions, errors = {}, {}
        for line, values in rows:
            given = cells(fields, values)
            try:
                external_id = _external_id(given.get("customer_external_id", ""))
                name = clean_text(given.get("customer", ""), limit=200) or None
            except FieldError as error:
                errors[line] = {"customer": error.message}
                continue
            answer = self.resolve_customer(external_id, name)
            if isinstance(answer, str):
                errors[line] = {"customer_external_id" if external_id else "customer": answer}
                continue
            self.row_customer[line] = answer
            regions[line] = answer[2]
        return regions, errors

    def _contacts(self, rows: list[Prepared], plan: _Plan, result: BatchResult) -> None:
        self._load_contacts({self.row_customer[r.line][0] for r in rows})
        for row in rows:
            customer_id, _name, region = self.row_customer[row.line]
            try:
                decision = self._decide_contact(row, ("existing", customer_id), region)
            except _Rejected as rejected:
                result.rejected.append((row, rejected.errors))
                continue
            self._commit_contact(row, customer_id, decision, plan, result)

    # ---------------------------------------------------------------- equipment file

    def _equipment(self, rows: list[Prepared], plan: _Plan, result: BatchResult) -> None:
        serials = [r.equipment["serial"] for r in rows if r.equipment["serial"] not in self.serials]
        current: dict[str, dict] = {}
        for part in _chunks(serials):
            for machine in Equipment.select().where(Equipment.serial.in_(part)).dicts():
                current[machine["serial"]] = machine
        holders: dict[int, tuple[int, str]] = {}
        ids = [m["id"] for m in current.values()]
        for part in _chunks(ids):
            query = (Assignment.select(Assignment.equipment, Assignment.customer_id,
                                       Assignment.customer_name)
                     .where(Assignment.equipment.in_(part), Assignment.unassigned_at.is_null())
                     .tuples())
            for equipment_id, customer_id, customer_name in query:
                holders[equipment_id] = (customer_id, customer_name)
        for row in rows:
            try:
                decision = self._decide_machine(row, current, holders)
            except _Rejected as rejected:
                result.rejected.append((row, rejected.errors))
                continue
            self._commit_machine(row, decision, plan, result)

    def _holder(self, row: Prepared):
        if not (row.holder_external_id or row.holder_name):
            return None
        answer = self.resolve_customer(row.holder_external_id, row.holder_name)
        if isinstance(answer, str):
            field = "customer_external_id" if row.holder_external_id else "customer"
            raise _Rejected({field: answer})
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
                raise _Rejected({"customer": _("Machine {serial} is retired.").format(
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
            raise _Rejected(error.errors) from None
        changes = _diff(machine, values, EQUIPMENT_COLUMNS)
        held = holders.get(machine["id"])
        if retired_at and machine["retired_at"] is None:
            if held or holder:
                raise _Rejected({"retired_on": _(
                    "Machine {serial} is held by {holder}; unassign it before retiring it.")
                    .format(serial=serial, holder=(held or holder)[1])})
            changes["retired_at"] = retired_at
        assign = None
        if holder and (held is None or held[0] != holder[0]):
            if held is not None:
                raise _Rejected({"customer": _("Machine {serial} is already assigned to "
                                               "{holder}.").format(serial=serial,
                                                                   holder=held[1])})
            if machine["retired_at"] is not None:
                raise _Rejected({"customer": _("Machine {serial} is retired.").format(
                    serial=serial)})
            assign = holder
        if not changes and assign is None:
            return "unchanged", machine["id"]
        return "update", machine["id"], machine, changes, assign, held

    def _commit_machine(self, row: Prepared, decision, plan: _Plan, result: BatchResult) -> None:
        counts = result.counts["equipment"]
        state = decision[0]
        if state == "new":
            _s, holder, retired_at = decision
            machine_id = self._new_id(Equipment)
            now = utcnow()
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
                               before=_jsonable({c: machine[c] for c in changes}))
                    counts.updated += 1
                    if held and ({"serial", "name"} & set(changes)):
                        result.touched.add(held[0])
                if assign:
                    self._assign(machine_id, assign, plan, result)
                    if not changes:
                        counts.unchanged += 1
        self.serials[row.equipment["serial"]] = machine_id

    def _assign(self, machine_id: int, holder, plan: _Plan, result: BatchResult) -> None:
        customer_id, customer_name, _country = holder
        assignment_id = self._new_id(Assignment)
        plan.inserts[Assignment].append({
            "id": assignment_id, "equipment": machine_id, "customer_id": customer_id,
            "customer_name": customer_name, "assigned_at": utcnow(),
            "assigned_by": self.login, "unassigned_at": None, "unassigned_by": None})
        self._item(plan, "assignment", assignment_id, "create")
        result.counts["assignment"].created += 1
        result.touched.add(customer_id)


def _jsonable(values: dict) -> dict:
    out = {}
    for key, value in values.items():
        if isinstance(value, datetime):
            value = value.isoformat(sep=" ")
        out[key] = value
    return out


__all__ = ["Writer", "BatchResult", "EntityCounts", "new_counts", "bulk_insert", "snapshot"]
