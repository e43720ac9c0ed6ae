"""Rows of a file turned into validated values, without touching the database.

``prepare(kind, config, fields, rows, regions)`` is a pure function of its
arguments, so the importer may run it in worker processes while the main
process writes the previous batch. Every value goes through the app's own
validation: ``validate_customer`` (the company part of a row),
``validate_contact`` (its contact part, phone numbers read in the customer's
country) and ``validate_equipment``, after ``values`` has mapped what messy
spreadsheets write (country names, phone extensions, role labels, ...).

A row's problems are keyed by the FIELD they concern (``mapping.FIELDS``
keys); the importer names the file's column for each when it writes the
error file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from tui.domain.config import Config
from tui.domain.errors import ValidationError
from tui.domain.imports.values import (
    choice_key,
    choice_keys,
    country_text,
    currency_text,
    language_text,
    join_name,
    parse_bool,
    parse_date,
    phone_text,
    split_list,
    unescape_cell,
    year_text,
)
from tui.domain.services.contacts import ContactDraft, validate_contact
from tui.domain.services.customers import CustomerDraft, validate_customer
from tui.domain.services.equipment import EquipmentDraft, validate_equipment
from tui.domain.validation import Errors, FieldError, clean_text, normalize_country

EXTERNAL_ID_LIMIT = 100
NO_NOTICES = ("none", "aucun", "aucune", "ingen", "-")
ADDRESS = ("street", "postal_code", "city", "country", "state")
CONTACT_PARTS = ("name", "first_name", "last_name", "email", "phone", "job_title", "roles")
# customer draft field <- the customers-file field feeding it
CUSTOMER_TEXT = ("name", "email", "website", "language", "notes",
                 *(f"billing_{p}" for p in ADDRESS), *(f"shipping_{p}" for p in ADDRESS))


@dataclass
class Prepared:
    """One row, validated. ``errors`` non-empty means the row is rejected as a whole."""

    line: int
    values: list[str]
    errors: dict[str, str] = field(default_factory=dict)  # field -> message
    # customers kind (and the company of a contacts/equipment row: its reference)
    customer: dict | None = None  # validated column values of a new customer
    customer_given: dict | None = None  # the draft fields the row gave (non-empty cells)
    groups: list[str] | None = None  # None: no groups column (or empty): leave them
    external_id: str | None = None
    # a contact (customers file with contact columns, or a contacts file)
    contact: dict | None = None
    contact_given: dict | None = None
    # a machine (equipment file)
    equipment: dict | None = None
    equipment_given: dict | None = None
    retired_on: date | None = None
    holder_external_id: str | None = None
    holder_name: str | None = None

    @property
    def ok(self) -> bool:
        return not self.errors


def cells(fields: Mapping[str, int], values: Sequence[str]) -> dict[str, str]:
    """{field: cell text} for the mapped columns, the export's formula guard undone."""
    return {name: unescape_cell(values[index]) if index < len(values) else ""
            for name, index in fields.items()}


def external_id_text(value: str) -> str | None:
    """An external id cell, checked as any text field; None when blank."""
    text = clean_text(value, limit=EXTERNAL_ID_LIMIT)
    return text or None


def customer_draft_fields(config: Config, given: Mapping[str, str]) -> tuple[dict, list[str]]:
    """Customers-file cells -> (CustomerDraft keyword arguments for the non-empty ones, errors
    as (field, message) pairs of what no service parses: booleans)."""
    draft: dict = {}
    problems = []
    for name in CUSTOMER_TEXT:
        text = given.get(name, "")
        if text.strip():
            if name.endswith("country"):
                text = country_text(text)
            elif name == "language":
                text = language_text(text)
            draft[name] = text
    if given.get("phone", "").strip():
        draft["phone"] = phone_text(given["phone"])
    if given.get("segment", "").strip():
        draft["segment"] = choice_key(config.segments, given["segment"])
    if given.get("currency", "").strip():
        draft["currency"] = currency_text(given["currency"])
    notices = given.get("notify_event_types", "").strip()
    if notices:
        draft["notify_event_types"] = (() if notices.casefold() in NO_NOTICES
                                       else choice_keys(config.event_types, notices))
    if given.get("groups", "").strip():
        draft["groups"] = split_list(given["groups"])
    same = given.get("shipping_same_as_billing", "")
    try:
        flag = parse_bool(same)
    except FieldError as error:
        problems.append(("shipping_same_as_billing", error.message))
        flag = None
    if flag is None:
        flag = not any(given.get(f"shipping_{p}", "").strip() for p in ADDRESS)
    draft["shipping_same_as_billing"] = flag
    return draft, problems


def contact_draft_fields(config: Config, given: Mapping[str, str]) -> dict:
    """Contact cells (keys without the contact_ prefix) -> ContactDraft keyword arguments."""
    draft = {}
    name = given.get("name", "").strip() or join_name(given.get("first_name", ""),
                                                      given.get("last_name", ""))
    if name:
        draft["name"] = name
    for key in ("email", "job_title"):
        if given.get(key, "").strip():
            draft[key] = given[key]
    if given.get("phone", "").strip():
        draft["phone"] = phone_text(given["phone"])
    if given.get("roles", "").strip():
        draft["roles"] = choice_keys(config.contact_roles, given["roles"])
    return draft


def _contact_errors(errors: Mapping[str, str], prefix: str, given: Mapping[str, str]) -> dict:
    """Contact validation errors keyed by the file's fields (name may come from first/last)."""
    out = {}
    for key, message in errors.items():
        if key == "name" and not given.get("name", "").strip():
            key = "last_name" if given.get("last_name", "").strip() else (
                "first_name" if given.get("first_name", "").strip() else "name")
        out[prefix + key] = message
    return out


def _validate_contact(config: Config, given: Mapping[str, str], region: str | None,
                      prefix: str) -> tuple[dict | None, dict | None, dict]:
    draft = contact_draft_fields(config, given)
    errors = Errors()
    values = validate_contact(config, ContactDraft(**draft), region, errors)
    if errors:
        return None, draft, _contact_errors(errors.errors, prefix, given)
    return values, draft, {}


class _CustomerCache:
    """A company repeated on several rows (one per contact) is validated once."""

    def __init__(self, config: Config):
        self.config = config
        self.seen: dict[tuple, tuple] = {}

    def validate(self, given: dict[str, str]) -> tuple:
        key = tuple(sorted(given.items()))
        found = self.seen.get(key)
        if found is None:
            found = self.seen[key] = self._validate(given)
        return found

    def _validate(self, given: dict[str, str]) -> tuple:
        errors: dict[str, str] = {}
        external_id = None
        try:
            external_id = external_id_text(given.get("external_id", ""))
        except FieldError as error:
            errors["external_id"] = error.message
        draft, problems = customer_draft_fields(self.config, given)
        errors.update(dict(problems))
        groups = list(draft["groups"]) if "groups" in draft else None
        try:
            values, groups_clean, _contacts = validate_customer(self.config, CustomerDraft(**draft))
        except ValidationError as error:
            errors.update(error.errors)
            return None, draft, groups, external_id, errors
        return values, draft, (groups_clean if groups is not None else None), external_id, errors


def _region(config: Config, customer: dict | None, draft: dict) -> str | None:
    """Where the row's contact phones are read: the customer's country, even when another
    of the company's fields is wrong (so the contact's own errors are real ones)."""
    if customer is not None:
        return customer["billing_country"]
    try:
        return normalize_country(draft.get("billing_country", "")) or config.defaults.country
    except FieldError:
        return config.defaults.country


def prepare_customers(config: Config, fields: Mapping[str, int],
                      rows: Sequence[tuple[int, list[str]]]) -> list[Prepared]:
    cache = _CustomerCache(config)
    contact_fields = {f: f.removeprefix("contact_") for f in fields if f.startswith("contact_")}
    out = []
    for line, values in rows:
        given = cells(fields, values)
        company = {k: v for k, v in given.items() if k not in contact_fields}
        customer, draft, groups, external_id, errors = cache.validate(company)
        row = Prepared(line, values, dict(errors), customer, draft, groups, external_id)
        contact_given = {part: given[f] for f, part in contact_fields.items()}
        if any(v.strip() for v in contact_given.values()):
            region = _region(config, customer, draft)
            row.contact, row.contact_given, contact_errors = _validate_contact(
                config, contact_given, region, "contact_")
            row.errors.update(contact_errors)
        out.append(row)
    return out


def prepare_contacts(config: Config, fields: Mapping[str, int],
                     rows: Sequence[tuple[int, list[str]]],
                     regions: Mapping[int, str | None]) -> list[Prepared]:
    """A contacts file; ``regions[line]`` is the country of the row's customer (found by the
    importer), so national phone numbers read as the app reads them."""
    out = []
    for line, values in rows:
        given = cells(fields, values)
        row = Prepared(line, values)
        row.contact, row.contact_given, row.errors = _validate_contact(
            config, {k: v for k, v in given.items() if k in CONTACT_PARTS},
            regions.get(line), "")
        out.append(row)
    return out


def prepare_equipment(config: Config, fields: Mapping[str, int],
                      rows: Sequence[tuple[int, list[str]]]) -> list[Prepared]:
    out = []
    for line, values in rows:
        given = cells(fields, values)
        row = Prepared(line, values)
        draft = {k: given[k] for k in ("serial", "name", "make", "model", "type")
                 if given.get(k, "").strip()}
        if given.get("year", "").strip():
            draft["year"] = year_text(given["year"])
        row.equipment_given = draft
        try:
            row.equipment = validate_equipment(EquipmentDraft(**draft))
        except ValidationError as error:
            row.errors.update(error.errors)
        try:
            row.retired_on = parse_date(given.get("retired_on", ""))
        except FieldError as error:
            row.errors["retired_on"] = error.message
        try:
            row.holder_external_id = external_id_text(given.get("customer_external_id", ""))
            row.holder_name = clean_text(given.get("customer", ""), limit=200) or None
        except FieldError as error:
            row.errors["customer"] = error.message
        out.append(row)
    return out


def prepare(kind: str, config: Config, fields: Mapping[str, int],
            rows: Sequence[tuple[int, list[str]]],
            regions: Mapping[int, str | None] | None = None) -> list[Prepared]:
    if kind == "customers":
        return prepare_customers(config, fields, rows)
    if kind == "contacts":
        return prepare_contacts(config, fields, rows, regions or {})
    if kind == "equipment":
        return prepare_equipment(config, fields, rows)
    raise ValueError(kind)


