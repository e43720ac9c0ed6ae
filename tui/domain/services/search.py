"""One search over every field of a customer, backed by the index of migration 0002
(FTS5 on SQLite, a tsvector on PostgreSQL).

Lists are paged in SQL: callers ask for the rows they show, never the table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from peewee import PostgresqlDatabase

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


def _terms(text: str) -> list[str | list[str]]:
    """What a user typed, as the terms every customer must match: a word (str), or a run
    of phone-like terms (list of digit strings, matched apart or as one number)."""
    text = CONTROL.sub(" ", text)
    terms: list[str | list[str]] = []
    digit_run: list[str] = []

    def flush() -> None:
        if len(digit_run) > 1:
            terms.append(list(digit_run))
        elif digit_run:
            terms.append(digit_run[0])
        digit_run.clear()

    for token in text.split():
        if PHONE_LIKE.match(token):
            digit_run.append(re.sub(r"\D", "", token))
            continue
        flush()
        if WORD.search(token):
            terms.append(token)
    flush()
    return terms


def match_expression(text: str) -> str | None:
    """Turn what a user typed into a safe FTS5 query: every word must match as a prefix.

    Each term is quoted (so ``AND``, ``"``, ``@`` or ``*`` are plain text).
    Phone-like terms lose their punctuation, and a run of them ("20 30 40")
    also matches as one number, since people type phone numbers in groups.
    """
    parts: list[str] = []
    for term in _terms(text):
        if isinstance(term, list):
            separate = " AND ".join(_quoted(d) for d in term)
            parts.append(f"(({separate}) OR {_quoted(''.join(term))})")
        else:
            parts.append(_quoted(term))
    return " AND ".join(parts) if parts else None


_PREFIX = "clientbook_prefix_query(?)"


def tsquery_expression(text: str) -> tuple[str, list[str]] | None:
    """The PostgreSQL twin of ``match_expression``: SQL for a ``tsquery`` plus its parameters.

    Every term is a bound parameter of ``clientbook_prefix_query`` (migration 0002), which
    folds it as the index was folded and makes its words a phrase ending in a prefix, so
    no text a user types is ever read as query syntax.
    """
    parts: list[str] = []
    params: list[str] = []
    for term in _terms(text):
        if isinstance(term, list):
            separate = " && ".join([_PREFIX] * len(term))
            parts.append(f"(({separate}) || {_PREFIX})")
            params.extend([*term, "".join(term)])
        else:
            parts.append(_PREFIX)
            params.append(term)
    return (" && ".join(parts), params) if parts else None


def _is_postgres(db) -> bool:
    return isinstance(db, PostgresqlDatabase)


def _sql(db, text: str) -> str:
    """``?`` placeholders as the driver wants them (no ``?`` or ``%`` in literals here)."""
    return text.replace("?", db.param) if db.param != "?" else text


# How the PostgreSQL page finds its rows (the count, made first, decides; the planner's own
# guess for prefix queries is off by up to 1000x, pg-plan R8; figures in bench_search.py):
IN_INDEX = "in"  # the count: matches from the GIN index, joined
MATERIALIZED = "materialized"  # at most COUNT_CAP matches: take them all first, then sort those
WALK = "walk"  # more: walk the customers in the page's order, testing each one's document


def _filters(db, text: str, segment: str | None, group: str | None,
             shape: str = IN_INDEX) -> tuple[str, list]:
    clauses, params = [], []
    postgres = _is_postgres(db)
    if postgres:
        query = tsquery_expression(text or "")
        if query:
            expression, terms = query
            if shape == WALK:
                clauses.append("(SELECT s.document FROM customer_search s"
                               f" WHERE s.customer_id = c.id) @@ ({expression})")
            elif shape == MATERIALIZED:
                clauses.append("c.id IN (SELECT customer_id FROM matches)")
                terms = []  # they go with the WITH clause (_matches)
            else:
                clauses.append("c.id IN (SELECT s.customer_id FROM customer_search s"
                               f" WHERE s.document @@ ({expression}))")
            params.extend(terms)
    else:
        expression = match_expression(text or "")
        if expression:
            clauses.append("c.id IN (SELECT rowid FROM customer_search"
                           " WHERE customer_search MATCH ?)")
            params.append(expression)
    if segment:
        clauses.append("c.segment = ?")
        params.append(CONTROL.sub(" ", segment))  # no stored key holds one; PostgreSQL refuses NUL
    if group:
        same_name = "lower(g.name) = lower(?)" if postgres else "g.name = ? COLLATE NOCASE"
        clauses.append("c.id IN (SELECT m.customer_id FROM group_membership m JOIN customer_group g"
                       f" ON g.id = m.group_id WHERE {same_name})")
        params.append(CONTROL.sub(" ", group))
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


SORTS = {
    "name": "c.name COLLATE NOCASE, c.id",
    "city": "c.billing_city COLLATE NOCASE, c.name COLLATE NOCASE, c.id",
    "segment": "c.segment, c.name COLLATE NOCASE, c.id",
    "newest": "c.id DESC",
}
# PostgreSQL has no NOCASE; lower() is what its customer_name_nocase index holds.
PG_SORTS = {
    "name": "lower(c.name), c.id",
    "city": "lower(c.billing_city), lower(c.name), c.id",
    "segment": "c.segment, lower(c.name), c.id",
    "newest": "c.id DESC",
}


def search_customers(ctx: Context, text: str = "", *, segment: str | None = None,
                     group: str | None = None, sort: str = "name", limit: int = 50,
                     offset: int = 0) -> CustomerPage:
    """The page of customers matching ``text`` (every word, as a prefix, in any field)."""
    require(ctx.actor, "customer.view")
    db = ctx.db
    where, params = _filters(db, text, segment, group)
    query = tsquery_expression(text or "") if _is_postgres(db) else None
    if query and not segment and not group:
        # the triggers keep exactly one row per customer: no join with customer needed
        total = db.execute_sql(
            _sql(db, "SELECT count(*) FROM (SELECT 1 FROM customer_search s"
                     f" WHERE s.document @@ ({query[0]}) LIMIT ?) AS m"),
            [*query[1], COUNT_CAP + 1]).fetchone()[0]
    elif where:
        total = db.execute_sql(
            _sql(db, f"SELECT count(*) FROM (SELECT 1 FROM customer c{where} LIMIT ?) AS m"),
            [*params, COUNT_CAP + 1]).fetchone()[0]
    else:
        total = db.execute_sql("SELECT count(*) FROM customer").fetchone()[0]
    exact = total <= COUNT_CAP or not where
    sorts = PG_SORTS if _is_postgres(db) else SORTS
    order = sorts.get(sort, sorts["name"])
    prefix, prefix_params = "", []
    if query:
        shape = MATERIALIZED if exact else WALK
        where, params = _filters(db, text, segment, group, shape)
        if shape == MATERIALIZED:
            prefix = ("WITH matches AS MATERIALIZED (SELECT s.customer_id FROM customer_search s"
                      f" WHERE s.document @@ ({query[0]})) ")
            prefix_params = query[1]
    rows = db.execute_sql(_sql(db, prefix +
        "SELECT c.id, c.name, c.segment, c.billing_city, c.billing_country, c.phone,"
        " (SELECT count(*) FROM contact k WHERE k.customer_id = c.id),"
        " (SELECT count(*) FROM assignment a WHERE a.customer_id = c.id"
        "  AND a.unassigned_at IS NULL)"
        f" FROM customer c{where} ORDER BY {order} LIMIT ? OFFSET ?"),
        [*prefix_params, *params, max(0, limit), max(0, offset)],
    ).fetchall()
    return CustomerPage([CustomerRow(*row) for row in rows], total, offset, exact)
