"""One search over every field of a customer, backed by the FTS5 index of migration 0002.

Lists are paged in SQL: callers ask for the rows they show, never the table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tui.domain.context import Context
from tui.domain.permissions import require

PHONE_LIKE = re.compile(r"^[\d\s()+\-./]*\d[\d\s()+\-./]*$")
WORD = re.compile(r"\w", re.UNICODE)
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class CustomerRow:
    id: int
    name: str
    segment: str
    city: str
    country: str | None
    phone: str
    contacts: int
    machines: int


@dataclass(frozen=True)
class CustomerPage:
    rows: list[CustomerRow]
    total: int  # exact up to COUNT_CAP; when capped, COUNT_CAP + 1 and ``exact`` is False
    offset: int
    exact: bool = True


# Counting 100,000 matches costs more than finding the first page of them; past
# this many, the list says "10,000+" (the figures are in tests/benchmarks).
COUNT_CAP = 10_000


def _quoted(term: str) -> str:
    return '"' + term.replace('"', '""') + '"*'


def match_expression(text: str) -> str | None:
    """Turn what a user typed into a safe FTS5 query: every word must match as a prefix.

    Each term is quoted (so ``AND``, ``"``, ``@`` or ``*`` are plain text).
    Phone-like terms lose their punctuation, and a run of them ("20 30 40")
    also matches as one number, since people type phone numbers in groups.
    """
    text = CONTROL.sub(" ", text)
    parts: list[str] = []
    digit_run: list[str] = []

    def flush() -> None:
        if len(digit_run) > 1:
            separate = " AND ".join(_quoted(d) for d in digit_run)
            parts.append(f"(({separate}) OR {_quoted(''.join(digit_run))})")
        elif digit_run:
            parts.append(_quoted(digit_run[0]))
        digit_run.clear()

    for token in text.split():
        if PHONE_LIKE.match(token):
            digit_run.append(re.sub(r"\D", "", token))
            continue
        flush()
        if WORD.search(token):
            parts.append(_quoted(token))
    flush()
    return " AND ".join(parts) if parts else None


def _filters(text: str, segment: str | None, group: str | None) -> tuple[str, list]:
    clauses, params = [], []
    expression = match_expression(text or "")
    if expression:
        clauses.append("c.id IN (SELECT rowid FROM customer_search WHERE customer_search MATCH ?)")
        params.append(expression)
    if segment:
        clauses.append("c.segment = ?")
        params.append(segment)
    if group:
        clauses.append("c.id IN (SELECT m.customer_id FROM group_membership m JOIN customer_group g"
                       " ON g.id = m.group_id WHERE g.name = ? COLLATE NOCASE)")
        params.append(group)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


SORTS = {
    "name": "c.name COLLATE NOCASE, c.id",
    "city": "c.billing_city COLLATE NOCASE, c.name COLLATE NOCASE, c.id",
    "segment": "c.segment, c.name COLLATE NOCASE, c.id",
    "newest": "c.id DESC",
}


def search_customers(ctx: Context, text: str = "", *, segment: str | None = None,
                     group: str | None = None, sort: str = "name", limit: int = 50,
                     offset: int = 0) -> CustomerPage:
    """The page of customers matching ``text`` (every word, as a prefix, in any field)."""
    require(ctx.actor, "customer.view")
    where, params = _filters(text, segment, group)
    db = ctx.db
    if where:
        total = db.execute_sql(f"SELECT count(*) FROM (SELECT 1 FROM customer c{where} LIMIT ?)",
                               [*params, COUNT_CAP + 1]).fetchone()[0]
    else:
        total = db.execute_sql("SELECT count(*) FROM customer").fetchone()[0]
    exact = total <= COUNT_CAP or not where
    order = SORTS.get(sort, SORTS["name"])
    rows = db.execute_sql(
        "SELECT c.id, c.name, c.segment, c.billing_city, c.billing_country, c.phone,"
        " (SELECT count(*) FROM contact k WHERE k.customer_id = c.id),"
        " (SELECT count(*) FROM assignment a WHERE a.customer_id = c.id"
        "  AND a.unassigned_at IS NULL)"
        f" FROM customer c{where} ORDER BY {order} LIMIT ? OFFSET ?",
        [*params, max(0, limit), max(0, offset)],
    ).fetchall()
    return CustomerPage([CustomerRow(*row) for row in rows], total, offset, exact)
