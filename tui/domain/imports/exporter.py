"""Export customers, contacts and equipment as CSV or JSON, and contacts as vCard 4.0.

``export(ctx, what, fmt, out, search=None)`` writes to a text stream and returns
how many records it wrote; ``export_to_path`` opens the file itself (CSV as
UTF-8 with a byte-order mark, which spreadsheets need to read accents; JSON
and vCard as plain UTF-8). ``what`` is customers / contacts / equipment, ``fmt``
one of ``FORMATS[what]``. ``search`` keeps the customers the customer list's
search finds (``search_customers``), the contacts of those customers, or for
equipment the machines the register's search finds.

CSV headers are English whatever the user's language (a file is the same
wherever it was made) and are ones the importer recognises, so an export imports back
as it was: customers, then contacts (keyed by their customer's external id),
then equipment (its holder by external id). A customer without an external id
is exported with ``clientbook-<its id>`` as one; importing such a file
elsewhere keeps it as the new customer's external id, and in the same
database the importer finds the customer it stands for.

Formula injection: a CSV cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return gets a leading ``'`` so a spreadsheet shows it as text instead
of running it (a phone number appears as ``'+4512345678``); the importer removes
that quote again. JSON and vCard are not spreadsheet formats and are written as is.

vCard (RFC 6350): one card per contact with FN, N (last word taken as the family
name), ORG, TITLE, EMAIL, TEL as a ``tel:`` URI, the contact roles as
CATEGORIES and a stable UID; CRLF line endings, text escaped, lines folded at
75 octets without splitting a UTF-8 character.

Permissions: ``data.export`` and the view permission of what is exported
(contacts also need ``customer.view``: each names its company).
"""

from __future__ import annotations

import csv
import json
import re
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from tui.domain.context import Context
from tui.domain.errors import ValidationError
from tui.domain.imports.values import FORMULA_STARTS, split_name
from tui.domain.models import (
    Assignment,
    Contact,
    Customer,
    CustomerGroup,
    Equipment,
    GroupMembership,
)
from tui.domain.permissions import require
from tui.domain.validation import quoted
from tui.i18n import _, current_language

FORMATS = {"customers": ("csv", "json"), "contacts": ("csv", "json", "vcard"),
           "equipment": ("csv", "json")}
EXTENSIONS = {"csv": "csv", "json": "json", "vcard": "vcf"}
PERMISSIONS = {"customers": ("customer.view",), "contacts": ("contact.view", "customer.view"),
               "equipment": ("equipment.view",)}
PAGE = 1000
SYNTHETIC_ID = re.compile(r"^clientbook-(\d+)$")
UID_NAMESPACE = uuid.UUID("6f1c7a52-3c8e-4a51-9d0e-2f4b1c9a7e10")

# (CSV header, field key): the headers are ones mapping.py recognises for that field.
CUSTOMER_COLUMNS = (
    ("External ID", "external_id"), ("Name", "name"), ("Phone", "phone"), ("E-mail", "email"),
    ("Website", "website"), ("Street", "billing_street"), ("Postal code", "billing_postal_code"),
    ("City", "billing_city"), ("Country", "billing_country"), ("State", "billing_state"),
    ("Shipping same as billing", "shipping_same_as_billing"),
    ("Shipping street", "shipping_street"), ("Shipping postal code", "shipping_postal_code"),
    ("Shipping city", "shipping_city"), ("Shipping country", "shipping_country"),
    ("Shipping state", "shipping_state"), ("Segment", "segment"), ("Currency", "currency"),
    ("Language", "language"), ("Notify event types", "notify_event_types"),
    ("Groups", "groups"), ("Notes", "notes"))
CONTACT_COLUMNS = (
    ("Customer external ID", "customer_external_id"), ("Customer", "customer"),
    ("Name", "name"), ("E-mail", "email"), ("Phone", "phone"), ("Job title", "job_title"),
    ("Roles", "roles"))
EQUIPMENT_COLUMNS = (
    ("Serial number", "serial"), ("Name", "name"), ("Make", "make"), ("Model", "model"),
    ("Type", "type"), ("Year", "year"), ("Retired on", "retired_on"),
    ("Customer external ID", "customer_external_id"), ("Customer", "customer"))
COLUMNS = {"customers": CUSTOMER_COLUMNS, "contacts": CONTACT_COLUMNS,
           "equipment": EQUIPMENT_COLUMNS}


def guard_cell(value) -> str:
    """CSV cell text; one a spreadsheet would run as a formula gets a leading '."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if text and text[0] in FORMULA_STARTS:
        return "'" + text
    return text


def export_key(customer_id: int, external_id: str | None) -> str:
    """How exports name a customer: its external id, else ``clientbook-<id>``."""
    return external_id or f"clientbook-{customer_id}"


def check_export(ctx: Context, what: str, fmt: str) -> None:
    if what not in FORMATS:
        raise ValidationError({"what": _("Cannot export {what}; choose customers, contacts or "
                                         "equipment.").format(what=quoted(what))})
    if fmt not in FORMATS[what]:
        raise ValidationError({"format": _("{what} cannot be exported as {format}; choose "
                                           "{known}.").format(what=what, format=quoted(fmt),
                                                              known=", ".join(FORMATS[what]))})
    require(ctx.actor, "data.export")
    for permission in PERMISSIONS[what]:
        require(ctx.actor, permission)


def default_file_name(what: str, fmt: str) -> str:
    return f"{what}.{EXTENSIONS[fmt]}"


def export_to_path(ctx: Context, what: str, fmt: str, path: str | Path, *,
                   search: str | None = None) -> int:
    check_export(ctx, what, fmt)
    encoding = "utf-8-sig" if fmt == "csv" else "utf-8"
    with Path(path).open("w", encoding=encoding, newline="") as handle:
        return export(ctx, what, fmt, handle, search=search)


def export(ctx: Context, what: str, fmt: str, out: TextIO, *, search: str | None = None) -> int:
    """Write every ``what`` (or those ``search`` finds) to ``out``; returns how many."""
    check_export(ctx, what, fmt)
    records = {"customers": _customers, "contacts": _contacts, "equipment": _equipment}[what](
        ctx, search)
    if fmt == "csv":
        return _write_csv(out, COLUMNS[what], records)
    if fmt == "json":
        return _write_json(out, records)
    return _write_vcards(ctx, out, records)


# ---------------------------------------------------------------- selecting


def _customer_ids(ctx: Context, search: str | None) -> list[int] | None:
    """Ids of the customers the list's search finds; None: no search, every customer."""
    if not (search or "").strip():
        return None
    from tui.domain.services.search import search_customers

    ids, offset = [], 0
    while True:
        page = search_customers(ctx, search, sort="newest", limit=PAGE, offset=offset)
        ids.extend(row.id for row in page.rows)
        if len(page.rows) < PAGE:
            return sorted(ids)
        offset += PAGE


def _pages(model, ids: list[int] | None, *, key=None) -> Iterator[list[dict]]:
    """Rows of ``model`` as dicts, by id, a page at a time (only ``ids`` when given)."""
    key = key or model.id
    if ids is not None:
        for start in range(0, len(ids), PAGE):
            part = ids[start:start + PAGE]
            yield list(model.select().where(key.in_(part)).order_by(model.id).dicts())
        return
    last = 0
    while True:
        page = list(model.select().where(model.id > last).order_by(model.id).limit(PAGE).dicts())
        if not page:
            return
        yield page
        last = page[-1]["id"]


def _groups(customer_ids: list[int]) -> dict[int, list[str]]:
    found = defaultdict(list)
    query = (GroupMembership.select(GroupMembership.customer, CustomerGroup.name)
             .join(CustomerGroup).where(GroupMembership.customer.in_(customer_ids))
             .order_by(CustomerGroup.name).tuples())
    for customer_id, name in query:
        found[customer_id].append(name)
    return found


def _customers(ctx: Context, search: str | None) -> Iterator[dict]:
    for page in _pages(Customer, _customer_ids(ctx, search)):
        groups = _groups([c["id"] for c in page])
        for c in page:
            same = c["shipping_same_as_billing"]
            record = {"id": c["id"], "external_id": export_key(c["id"], c["external_id"])}
            for _header, key in CUSTOMER_COLUMNS[1:]:
                if key.startswith("shipping_") and key != "shipping_same_as_billing" and same:
                    record[key] = ""
                elif key == "groups":
                    record[key] = groups.get(c["id"], [])
                else:
                    record[key] = c.get(key)
            record["notify_event_types"] = list(c["notify_event_types"] or [])
            yield record


def _customer_names(ids) -> dict[int, tuple[str, str]]:
    found = {}
    ids = list(ids)
    for start in range(0, len(ids), PAGE):
        query = (Customer.select(Customer.id, Customer.name, Customer.external_id)
                 .where(Customer.id.in_(ids[start:start + PAGE])).tuples())
        for customer_id, name, external_id in query:
            found[customer_id] = (name, export_key(customer_id, external_id))
    return found


def _contacts(ctx: Context, search: str | None) -> Iterator[dict]:
    customers = _customer_ids(ctx, search)
    if customers is None:
        pages = _pages(Contact, None)
    else:
        pages = _pages(Contact, customers, key=Contact.customer)
    for page in pages:
        names = _customer_names({c["customer"] for c in page})
        for c in page:
            name, key = names.get(c["customer"], ("", ""))
            yield {"id": c["id"], "customer_external_id": key, "customer": name,
                   "customer_id": c["customer"], "name": c["name"], "email": c["email"],
                   "phone": c["phone"], "job_title": c["job_title"],
                   "roles": list(c["roles"] or [])}


def _equipment_ids(ctx: Context, search: str | None) -> list[int] | None:
    if not (search or "").strip():
        return None
    from tui.domain.services.equipment import search_equipment

    ids = []
    for holding in ("all", "retired"):
        offset = 0
        while True:
            page = search_equipment(ctx, search, holding=holding, limit=PAGE, offset=offset)
            ids.extend(row.id for row in page.rows)
            if len(page.rows) < PAGE:
                break
            offset += PAGE
    return sorted(set(ids))


def _equipment(ctx: Context, search: str | None) -> Iterator[dict]:
    for page in _pages(Equipment, _equipment_ids(ctx, search)):
        held = {}
        query = (Assignment.select(Assignment.equipment, Assignment.customer_id,
                                   Assignment.customer_name)
                 .where(Assignment.equipment.in_([m["id"] for m in page]),
                        Assignment.unassigned_at.is_null()).tuples())
        for equipment_id, customer_id, customer_name in query:
            held[equipment_id] = (customer_id, customer_name)
        names = _customer_names({c for c, _n in held.values()})
        for m in page:
            holder = held.get(m["id"])
            name, key = ("", "")
            if holder:
                name, key = names.get(holder[0], (holder[1], ""))
            retired = m["retired_at"]
            yield {"id": m["id"], "serial": m["serial"], "name": m["name"], "make": m["make"],
                   "model": m["model"], "type": m["type"], "year": m["year"],
                   "retired_on": retired.date().isoformat() if retired else "",
                   "customer_external_id": key, "customer": name,
                   "customer_id": holder[0] if holder else None}


# ---------------------------------------------------------------- writing


def _cell(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return "; ".join(value) if value else ""
    return guard_cell(value)


def _write_csv(out: TextIO, columns, records: Iterator[dict]) -> int:
    writer = csv.writer(out)
    writer.writerow([header for header, _key in columns])
    count = 0
    for record in records:
        row = []
        for _header, key in columns:
            value = record.get(key)
            if key == "notify_event_types" and value == []:
                value = "none"  # an empty cell would mean "every type" on the way back in
            row.append(_cell(value))
        writer.writerow(row)
        count += 1
    return count


def _write_json(out: TextIO, records: Iterator[dict]) -> int:
    out.write("[")
    count = 0
    for record in records:
        out.write(",\n" if count else "\n")
        out.write(json.dumps(record, ensure_ascii=False, sort_keys=False))
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count


def escape_text(value: str) -> str:
    """RFC 6350 section 3.4: backslash, comma, semicolon and newline escaped."""
    return (value.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;")
            .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n"))


def fold_line(line: str, limit: int = 75) -> str:
    """Fold a content line at ``limit`` octets (RFC 6350 section 3.2), never inside a character."""
    data = line.encode("utf-8")
    if len(data) <= limit:
        return line
    parts, start, room = [], 0, limit
    while start < len(data):
        end = min(start + room, len(data))
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # a continuation byte
            end -= 1
        parts.append(data[start:end].decode("utf-8"))
        start, room = end, limit - 1  # continuation lines begin with one space
    return "\r\n ".join(parts)


def _vcard(contact: dict, roles_label) -> list[str]:
    given, family = split_name(contact["name"])
    lines = ["BEGIN:VCARD", "VERSION:4.0",
             "UID:urn:uuid:" + str(uuid.uuid5(UID_NAMESPACE, f"contact/{contact['id']}")),
             "FN:" + escape_text(contact["name"]),
             f"N:{escape_text(family)};{escape_text(given)};;;"]
    if contact["customer"]:
        lines.append("ORG:" + escape_text(contact["customer"]))
    if contact["job_title"]:
        lines.append("TITLE:" + escape_text(contact["job_title"]))
    if contact["email"]:
        lines.append("EMAIL;TYPE=work:" + escape_text(contact["email"]))
    if contact["phone"]:
        # a URI value: its ";ext=" belongs to the URI and is not escaped
        lines.append("TEL;VALUE=uri;TYPE=work,voice:tel:" + contact["phone"])
    if contact["roles"]:
        lines.append("CATEGORIES:" + ",".join(escape_text(roles_label(r))
                                              for r in contact["roles"]))
    lines.append("END:VCARD")
    return lines


def _write_vcards(ctx: Context, out: TextIO, records: Iterator[dict]) -> int:
    choices, language = ctx.config.contact_roles, current_language()

    def label(key: str) -> str:
        choice = choices.get(key)
        return choice.label_for(language) if choice else key

    count = 0
    for record in records:
        for line in _vcard(record, label):
            out.write(fold_line(line) + "\r\n")
        count += 1
    return count
