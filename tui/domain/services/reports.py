"""Reports by customer group or segment (Perfex "groups", C5).

One row per group (or segment): how many customers, their contacts, the machines they
hold now, and the total of their open estimates. Counting rules:

- A customer in several groups counts in each of them, so group rows do not add up to
  the number of customers; customers in no group have a row of their own (key None).
  By segment every customer counts once; every configured segment has a row, even
  with no customer, and a stored segment the configuration no longer knows keeps its
  key as its label.
- "Open" estimates are the draft and sent ones (``estimates.OPEN_STATUSES``) still
  linked to a customer: an estimate whose customer was deleted belongs to no group.
- Totals are kept per currency (``{"EUR": 125050, "DKK": 300000}``, whole minor units):
  amounts in different currencies are never added together, and no rate is guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tui.domain import dialect
from tui.domain.context import Context
from tui.domain.errors import ValidationError
from tui.domain.permissions import require
from tui.domain.services.estimates import OPEN_STATUSES
from tui.domain.validation import quoted
from tui.i18n import N_, _, current_language

DIMENSIONS = {"group": N_("Group"), "segment": N_("Segment")}
REQUIRED = ("customer.view", "contact.view", "equipment.view", "estimate.view")


@dataclass(frozen=True)
class ReportRow:
    key: str | None  # group name or segment key; None: customers in no group
    label: str
    customers: int
    contacts: int
    assigned_machines: int
    open_estimates_total: dict[str, int] = field(default_factory=dict)  # currency -> minor
    open_estimates: int = 0  # how many estimates make up the total


# The customers of each bucket: (customer_id, bucket); a NULL bucket is "no group".
_BUCKETS = {
    "segment": "SELECT c.id AS customer_id, c.segment AS bucket FROM customer c",
    "group": ("SELECT c.id AS customer_id, g.name AS bucket FROM customer c"
              " LEFT JOIN group_membership m ON m.customer_id = c.id"
              " LEFT JOIN customer_group g ON g.id = m.group_id"),
}


def report_by(ctx: Context, dimension: str) -> list[ReportRow]:
    """The report's rows by ``dimension`` ("group" or "segment"), labelled in the user's
    language: segments in the configuration's order, groups by name, "no group" last."""
    for permission in REQUIRED:
        require(ctx.actor, permission)
    if dimension not in _BUCKETS:
        raise ValidationError({"by": _("Unknown report {value}; expected one of: {known}.")
                               .format(value=quoted(dimension), known=", ".join(DIMENSIONS))})
    buckets = _BUCKETS[dimension]
    db = ctx.db

    def counted(sql: str, params=()) -> dict:
        return {bucket: count for bucket, count in db.execute_sql(
            f"WITH b AS ({buckets}) {sql}", list(params)).fetchall()}

    customers = counted("SELECT bucket, count(*) FROM b GROUP BY bucket")
    contacts = counted("SELECT b.bucket, count(*) FROM b JOIN contact k"
                       " ON k.customer_id = b.customer_id GROUP BY b.bucket")
    machines = counted("SELECT b.bucket, count(*) FROM b JOIN assignment a"
                       " ON a.customer_id = b.customer_id AND a.unassigned_at IS NULL"
                       " GROUP BY b.bucket")
    marks = dialect.marks(db, len(OPEN_STATUSES))
    totals: dict[object, dict[str, int]] = {}
    estimates: dict[object, int] = {}
    for bucket, currency, amount, count in db.execute_sql(
            f"WITH b AS ({buckets}) SELECT b.bucket, e.currency, sum(e.total_minor), count(*)"
            f" FROM b JOIN estimate e ON e.customer_id = b.customer_id"
            f" WHERE e.status IN ({marks}) GROUP BY b.bucket, e.currency"
            f" ORDER BY e.currency", list(OPEN_STATUSES)).fetchall():
        # int(): PostgreSQL's sum of a bigint is a numeric (Decimal)
        totals.setdefault(bucket, {})[currency] = int(amount)
        estimates[bucket] = estimates.get(bucket, 0) + count

    if dimension == "segment":
        configured = ctx.config.segments
        keys = [*configured, *sorted(k for k in customers if k not in configured)]
        language = current_language()
        labels = {k: configured[k].label_for(language) if k in configured else k for k in keys}
    else:
        names = [name for (name,) in db.execute_sql(
            f"SELECT name FROM customer_group ORDER BY {dialect.nocase(db, 'name')}, name"
        ).fetchall()]
        keys = [*names, *([None] if None in customers else [])]
        labels = {**{name: name for name in names}, None: _("(no group)")}
    return [ReportRow(key, labels[key], customers.get(key, 0), contacts.get(key, 0),
                      machines.get(key, 0), totals.get(key, {}), estimates.get(key, 0))
            for key in keys]
