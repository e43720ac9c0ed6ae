"""Rows of a customers file (the company, and its contact when the row has one) and of a
contacts file: matching, deciding and planning, as ``writer.Writer`` describes."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

from tui.domain.errors import ValidationError
from tui.domain.imports.batches import (
    SYNTHETIC_ID,
    BatchResult,
    Plan,
    Rejected,
    chunks,
    diff,
    jsonable,
)
from tui.domain.imports.prepare import Prepared
from tui.domain.models import Contact, Customer, CustomerGroup, GroupMembership
from tui.domain.services.contacts import ContactDraft, validate_contact
from tui.domain.services.customers import (
    CustomerDraft,
    currency_lock,
    group_names,
    validate_customer,
)
from tui.domain.validation import Errors, email_key
from tui.i18n import _

# Columns an update may change (never ids, stamps or versions).
CUSTOMER_COLUMNS = ("name", "phone", "email", "website", "billing_street", "billing_postal_code",
                    "billing_city", "billing_country", "billing_state",
                    "shipping_same_as_billing", "shipping_street", "shipping_postal_code",
                    "shipping_city", "shipping_country", "shipping_state", "segment",
                    "currency", "language", "notify_event_types", "notes", "name_key",
                    "email_key", "website_key", "search_digits", "external_id")
CONTACT_COLUMNS = ("name", "email", "phone", "job_title", "roles", "search_digits")


def person_key(name: str) -> str:
    """How a contact's name is compared within its customer: case and spacing ignored.

    Names are stored cleaned (NFC, single spaces), so this is enough; accents count.
    """
    return " ".join(name.casefold().split())


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


class CustomerRows:
    """Mixed into ``writer.Writer``: the customers and contacts kinds."""

    # ---------------------------------------------------------------- customers file

    def _customers(self, rows: list[Prepared], plan: Plan, result: BatchResult) -> None:
        by_external, by_name = self._fetch_customers(rows)
        matched = set()
        for row in rows:
            found = self._match(row, by_external, by_name)
            if found:
                matched.add(found[1])
        self._load_contacts(matched)
        self._prefetch_for_update(matched)
        for row in rows:
            try:
                customer = self._decide_customer(row, by_external, by_name)
                contact = self._decide_contact(row, customer) if row.contact else None
            except Rejected as rejected:
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
        for part in chunks(externals):
            for found in Customer.select().where(Customer.external_id.in_(part)).dicts():
                by_external[found["external_id"]] = found
        # "clientbook-<id>": an export of this database naming a customer without an
        # external id; it is that customer when the name still agrees.
        synthetic = {int(m.group(1)): e for e in externals - set(by_external)
                     if (m := SYNTHETIC_ID.match(e))}
        for part in chunks(synthetic):
            for found in Customer.select().where(Customer.id.in_(part),
                                                 Customer.external_id.is_null()).dicts():
                by_external[("self", synthetic[found["id"]])] = found
        for part in chunks(names):
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
            old_groups = self.current_groups.get(current["id"])
            if old_groups is None:
                old_groups = group_names(current["id"])
        same_groups = row.groups is None or (sorted(map(str.casefold, row.groups))
                                             == sorted(map(str.casefold, old_groups)))
        extra = {}
        if (row.external_id and current["external_id"] is None
                and row.external_id != f"clientbook-{current['id']}"):
            extra["external_id"] = row.external_id
        if not diff(current, quick, quick) and same_groups:
            return extra, None
        base = CustomerDraft.from_customer(Customer(**current))
        merged = {k: v for k, v in given.items() if k != "groups"}
        if row.groups is not None:
            merged["groups"] = tuple(row.groups)
        try:
            values, groups, _none = validate_customer(self.ctx.config, replace(base, **merged))
        except ValidationError as error:
            raise Rejected(error.errors) from None
        changes = diff(current, values, CUSTOMER_COLUMNS)
        if "currency" in changes:  # C6: estimates are priced in the customer's currency
            locked = currency_lock(self.ctx.config, Customer(**current), changes["currency"])
            if locked:
                raise Rejected({"currency": locked})
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
                    raise Rejected({"groups": _("There is no group {name}, and you may not "
                                                 "create groups.").format(name=name)})
                found = ("new", name)
            ids.append(found)
        return ids

    def _resolve_groups(self, ids: list, plan: Plan, result: BatchResult) -> list[int]:
        out = []
        for entry in ids:
            if isinstance(entry, tuple):
                name = entry[1]
                found = self.groups.get(name.casefold())
                if found is None:
                    found = self._new_id(CustomerGroup)
                    self.groups[name.casefold()] = found
                    plan.inserts[CustomerGroup].append(
                        {"id": found, "name": name, "created_at": self.now})
                    self._item(plan, "group", found, "create")
                    result.counts["group"].created += 1
                entry = found
            out.append(entry)
        return list(dict.fromkeys(out))

    def _commit_customer(self, row: Prepared, decision, plan: Plan,
                         result: BatchResult) -> int:
        state = decision[0]
        counts = result.counts["customer"]
        if state == "new":
            customer_id = self._new_id(Customer)
            now = self.now
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
            result.created.add(customer_id)
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
                           before=jsonable(before))
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

    def _prefetch_for_update(self, customer_ids) -> None:
        """With on_match "update", the batch's matched customers' groups and contacts in
        two queries, instead of one or two per row."""
        self.current_groups: dict[int, list[str]] = {}
        self.current_contacts: dict[int, dict] = {}
        if self.on_match != "update" or not customer_ids:
            return
        for part in chunks(customer_ids):
            for customer_id in part:
                self.current_groups[customer_id] = []
            query = (GroupMembership.select(GroupMembership.customer, CustomerGroup.name)
                     .join(CustomerGroup).where(GroupMembership.customer.in_(part))
                     .order_by(CustomerGroup.name).tuples())
            for customer_id, name in query:
                self.current_groups[customer_id].append(name)
            for contact in Contact.select().where(Contact.customer.in_(part)).dicts():
                self.current_contacts[contact["id"]] = contact

    def _load_contacts(self, customer_ids) -> None:
        missing = [c for c in customer_ids if c not in self.contacts]
        for customer_id in missing:
            self.contacts[customer_id] = []
        for part in chunks(missing):
            query = (Contact.select(Contact.id, Contact.customer, Contact.name, Contact.email)
                     .where(Contact.customer.in_(part)).order_by(Contact.id).tuples())
            for contact_id, customer_id, name, email in query:
                self.contacts[customer_id].append([contact_id, person_key(name), email_key(email)])

    def _find_contact(self, customer_id: int, values: dict) -> int | None:
        known = self.contacts.get(customer_id, [])
        wanted_email = email_key(values["email"])
        if wanted_email:
            for contact_id, _name, email in known:
                if email == wanted_email:
                    return contact_id
        wanted_name = person_key(values["name"])
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
        current = self.current_contacts.get(contact_id)
        if current is None:
            current = Contact.select().where(Contact.id == contact_id).dicts().get()
        quick = {k: row.contact[k] for k in (row.contact_given or {}) if k in row.contact}
        if not diff(current, quick, quick):
            return "unchanged", contact_id
        if region is None:
            region = Customer.get_by_id(customer_id).billing_country
        base = ContactDraft(**{k: current[k] for k in ("name", "email", "phone", "job_title")},
                            roles=tuple(current["roles"] or ()))
        errors = Errors()
        values = validate_contact(self.ctx.config, replace(base, **row.contact_given), region,
                                  errors)
        if errors:
            raise Rejected({f"contact_{k}" if self.kind == "customers" else k: v
                             for k, v in errors.errors.items()})
        changes = diff(current, values, CONTACT_COLUMNS)
        if not changes:
            return "unchanged", contact_id
        return "update", contact_id, current, changes

    def _commit_contact(self, row: Prepared, customer_id: int, decision, plan: Plan,
                        result: BatchResult) -> None:
        counts = result.counts["contact"]
        state = decision[0]
        if state == "new":
            contact_id = self._new_id(Contact)
            now = self.now
            plan.inserts[Contact].append({**row.contact, "id": contact_id,
                                          "customer": customer_id, "created_at": now,
                                          "updated_at": now, "version": 1})
            self._item(plan, "contact", contact_id, "create", version=1)
            self.contacts.setdefault(customer_id, []).append(
                [contact_id, person_key(row.contact["name"]), email_key(row.contact["email"])])
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
                           before=jsonable({c: current[c] for c in changes}))
                for entry in self.contacts.get(customer_id, []):
                    if entry[0] == contact_id:
                        entry[1] = person_key(changes.get("name", current["name"]))
                        entry[2] = email_key(changes.get("email", current["email"]))
                counts.updated += 1
                result.touched.add(customer_id)
        self.done["contact"].add(contact_id)

    def contact_rows(self, rows: list[tuple[int, list[str]]], fields: dict[str, int]
                     ) -> tuple[dict[int, str | None], dict[int, dict[str, str]]]:
        """Find each contact row's customer before validation: (regions, errors by line)."""
        from tui.domain.imports.prepare import cells, external_id_text
        from tui.domain.validation import FieldError, clean_text

        regions, errors = {}, {}
        for line, values in rows:
            given = cells(fields, values)
            try:
                external_id = external_id_text(given.get("customer_external_id", ""))
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

    def _contacts(self, rows: list[Prepared], plan: Plan, result: BatchResult) -> None:
        customers = {self.row_customer[r.line][0] for r in rows}
        self._load_contacts(customers)
        self._prefetch_for_update(customers)
        for row in rows:
            customer_id, _name, region = self.row_customer[row.line]
            try:
                decision = self._decide_contact(row, ("existing", customer_id), region)
            except Rejected as rejected:
                result.rejected.append((row, rejected.errors))
                continue
            self._commit_contact(row, customer_id, decision, plan, result)
