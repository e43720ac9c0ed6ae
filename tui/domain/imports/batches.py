"""The shared part of an import's writer: counts, the plan of a batch, bulk inserts, ids.

``BaseWriter.batch(rows)`` plans a batch through the kind's handler (see
customer_rows.py and equipment_rows.py), then applies the plan unless it is a
dry run; ``writer.Writer`` puts the pieces together and documents the rules.
"""

from __future__ import annotations

import re
from operator import itemgetter
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from peewee import Model, fn

from tui.domain import dialect
from tui.domain.context import Context
from tui.domain.imports.prepare import Prepared
from tui.domain.models import (
    Assignment,
    Contact,
    Customer,
    CustomerGroup,
    Equipment,
    Estimate,
    GroupMembership,
    ImportItem,
    JSONField,
    utcnow,
)
from tui.domain.validation import name_key
from tui.i18n import _

ENTITIES = ("customer", "contact", "group", "equipment", "assignment")
CHUNK = 900  # ids per IN (...) query
SYNTHETIC_ID = re.compile(r"^clientbook-(\d+)$")  # exporter.export_key


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
    created: set[int] = field(default_factory=set)  # customers new in this batch (no row yet)
    rows: int = 0
    last_line: int = 0


@dataclass
class Plan:
    inserts: dict = field(default_factory=lambda: defaultdict(list))  # model -> rows
    updates: list = field(default_factory=list)  # (model, id, changes)
    memberships: list = field(default_factory=list)  # (customer id, [group ids]): replace
    items: list = field(default_factory=list)


class Rejected(Exception):
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
    marks = dialect.marks(db, len(fields))
    # Text, numbers, booleans, datetimes and ids go to the driver as they are, as peewee
    # passes them; only JSON needs converting.
    convert = [(i, _memo(f.db_value)) for i, f in enumerate(fields) if isinstance(f, JSONField)]
    take = itemgetter(*names) if len(names) > 1 else (lambda row: (row[names[0]],))
    if convert:
        data = []
        for row in rows:
            values = list(take(row))
            for i, db_value in convert:
                values[i] = db_value(values[i])
            data.append(values)
    else:
        data = [take(row) for row in rows]
    db.cursor().executemany(
        f'INSERT INTO "{model._meta.table_name}" ({columns}) VALUES ({marks})', data)


def _memo(db_value):
    """JSON text of a list of keys, encoded once per distinct list (roles, notices)."""
    seen: dict[tuple, str] = {}

    def convert(value):
        if isinstance(value, list) and all(type(v) is str for v in value):
            key = tuple(value)
            text = seen.get(key)
            if text is None:
                text = seen[key] = db_value(value)
            return text
        return db_value(value)

    return convert


def chunks(values, size: int = CHUNK):
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start:start + size]


def refresh_estimate_copies(ctx: Context, customer_ids) -> None:
    """Estimates keep a copy of their customer: an import that changed a customer or its
    contacts rewrites the copies in the batch's transaction, as an edit in the app does."""
    from tui.domain.services.estimates import refresh_customer_copies

    quoted = set()
    for part in chunks(list(customer_ids)):
        quoted.update(c for (c,) in Estimate.select(Estimate.customer)
                      .where(Estimate.customer.in_(part)).distinct().tuples())
    if quoted:
        refresh_customer_copies(ctx, quoted)


def diff(current: dict, values: dict, columns) -> dict:
    return {c: values[c] for c in columns if c in values and values[c] != current.get(c)}


def jsonable(values: dict) -> dict:
    out = {}
    for key, value in values.items():
        if isinstance(value, datetime):
            value = value.isoformat(sep=" ")
        out[key] = value
    return out


class BaseWriter:
    def __init__(self, ctx: Context, kind: str, *, on_match: str, job_id: int | None,
                 dry_run: bool):
        self.ctx, self.kind, self.on_match = ctx, kind, on_match
        self.job_id, self.dry = job_id, dry_run
        self.login = ctx.actor.login
        self.seen: dict[tuple, int] = {}  # customer match keys -> id, this run
        self.done: dict[str, set[int]] = defaultdict(set)  # handled by this run: not again
        self.own: dict[str, set[int]] = defaultdict(set)  # created by this job (resumed too)
        self.contacts: dict[int, list[list]] = {}  # customer id -> [[id, name key, e-mail key]]
        self.groups: dict[str, int] | None = None
        # model -> [next, stop(, first)]: the ids this batch may give (see _new_id)
        self.next_ids: dict[type[Model], list[int]] = {}
        self.block_size = 1
        self.references: dict[tuple, tuple[int, str, str | None] | str] = {}
        self.row_customer: dict[int, tuple[int, str, str | None]] = {}  # contacts file rows
        self.serials: dict[str, int] = {}
        self.now = utcnow()
        self.current_groups: dict[int, list[str]] = {}  # this batch's, for updates
        self.current_contacts: dict[int, dict] = {}

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
        """An id for a row this batch inserts, never given before (``dialect.reserve_ids``:
        above sqlite_sequence on SQLite, from the table's sequence on PostgreSQL), taken in
        blocks; the batch gives back what it did not use (``_release_ids``). A dry run only
        looks at the next free id and takes nothing."""
        block = self.next_ids.get(model)
        if block is None or block[0] >= block[1]:
            table = model._meta.table_name
            if self.dry:  # one open-ended block, counted on across batches
                start = dialect.next_id(self.ctx.db, table)
                block = [start, start + 10**12]
            else:
                size = max(self.block_size, 2 * (block[1] - block[2]) if block else 0)
                ids = dialect.reserve_ids(self.ctx.db, table, size)
                block = [ids.start, ids.stop, ids.start]
            self.next_ids[model] = block
        value = block[0]
        block[0] = value + 1
        return value

    def _release_ids(self) -> None:
        """Give back the ids of this batch's blocks that no row took (the last block's tail)."""
        for model, block in self.next_ids.items():
            if len(block) == 3 and block[0] < block[1]:
                dialect.release_ids(self.ctx.db, model._meta.table_name,
                                    range(block[0], block[1]))
        self.next_ids.clear()

    def _item(self, plan: Plan, entity: str, entity_id: int, action: str,
              version: int | None = None, before: dict | None = None) -> None:
        plan.items.append({"job": self.job_id, "entity": entity, "entity_id": entity_id,
                           "action": action, "version": version, "before": before})

    def batch(self, rows: list[Prepared]) -> BatchResult:
        result = BatchResult(rows=len(rows), last_line=rows[-1].line if rows else 0)
        self.now = utcnow()  # one time stamp for everything the batch writes
        if not self.dry:
            self.next_ids.clear()  # taken again under this batch's write lock
            self.block_size = max(1, len(rows))
        plan = Plan()
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
            self._release_ids()
            self._apply(plan)
            refresh_estimate_copies(self.ctx, result.touched - result.created)
        return result

    def _apply(self, plan: Plan) -> None:
        db = self.ctx.db
        for model in (CustomerGroup, Customer, Contact, Equipment, Assignment):
            bulk_insert(db, model, plan.inserts.get(model, []))
        now = self.now
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
