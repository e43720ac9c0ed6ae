"""Search speed with many customers: prints figures, asserts nothing.

    .venv/bin/python tests/benchmarks/bench_search.py [--customers 200000] [--db PATH|URL]

``--db postgresql://user:pw@host:port/dbname`` measures PostgreSQL instead (an empty
database; the schema is created).

100,000 customers, median ms of 7, page of 50, 2 busy cores (load 3 to 5; figures move 2-3x
with the load), 2026-11-24:

    query               SQLite  PostgreSQL 15 (C.UTF-8)
    ''                     0.5      6.9   (an exact count(*) of the table)
    'n'                   96.0      9.2   (>10,000: walks the name order)
    'nordic'              54.7     47.5   (5,893 matches, materialized then sorted)
    'zoe'                 51.8     60.8   (5,802, all at the end of the name order)
    'boreal lift'         21.5     20.7
    'aarhus 1234'          3.9      4.8
    '5678'                 1.2      4.4
    '45 2'               277.0     48.5
    'info1234@x1234.dk'    0.2      5.0
    'nothing-like-this'    0.1      1.3
    filling (triggers)    30 s    136 s   (one INSERT per row through psycopg2)
    size                 84 MB    146 MB

Rows are inserted with raw SQL (the triggers still build the index), then
typical searches are timed through the real service, page of 50 as the TUI asks.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tui.domain.config import load_config  # noqa: E402
from tui.domain.context import Actor, Context  # noqa: E402
from tui.domain.database import open_database  # noqa: E402
from tui.domain.services.search import search_customers  # noqa: E402
from tui.domain.validation import digit_suffixes  # noqa: E402

WORDS = ["Nordic", "Atlas", "Granit", "Fjord", "Alpine", "Øresund", "Bâtir", "Horizon", "Zoë",
         "Keystone", "Boréal", "Summit", "Delta", "Meridian", "Pioneer", "Sterling", "Valmont"]
TRADES = ["Construction", "Rental", "Maskinudlejning", "Location", "Lifting", "Bau", "Hire"]
CITIES = ["Aarhus", "Lyon", "Leeds", "Odense", "Nantes", "Köln", "Calgary", "Montréal"]


def fill(db, count: int, rng: random.Random) -> float:
    started = time.perf_counter()
    rows = []
    for index in range(count):
        name = f"{rng.choice(WORDS)} {rng.choice(TRADES)} {index}"
        phone = f"+45{rng.randint(20000000, 99999999)}"
        rows.append((name, name.lower(), phone, digit_suffixes(phone), f"info{index}@x{index}.dk",
                     rng.choice(CITIES), f"{rng.randint(1000, 9999)}", f"Vej {index}"))
    sql = (
            "INSERT INTO customer (name, name_key, phone, search_digits, email, billing_city,"
            " billing_postal_code, billing_street, segment, currency, language, created_at,"
            " updated_at, website, billing_state, shipping_street, shipping_postal_code,"
            " shipping_city, shipping_state, notes, email_key, website_key, created_by,"
            " updated_by, notify_event_types, shipping_same_as_billing, version) VALUES"
            " (?, ?, ?, ?, ?, ?, ?, ?, 'other', 'EUR', 'da', '2026-01-01', '2026-01-01', '', '',"
            " '', '', '', '', '', '', '', '', '', '[]', ?, 1)").replace("?", db.param)
    with db.atomic():
        db.cursor().executemany(sql, [(*row, True) for row in rows])
    return time.perf_counter() - started


def timed(ctx, text: str, repeat: int = 7) -> tuple[float, int]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        page = search_customers(ctx, text, limit=50)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000, page.total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--db")
    args = parser.parse_args()
    folder = tempfile.TemporaryDirectory()
    url = str(args.db) if args.db and str(args.db).startswith(("postgresql:", "postgres:")) else None
    path = None if url else (Path(args.db) if args.db else Path(folder.name) / "bench.db")
    db = open_database(url, create=True) if url else open_database(path,
                                                                 create=not path.exists())
    config = load_config()
    role = config.roles["administrator"]
    ctx = Context(db, config, Actor("bench", role.key, role.permissions))
    existing = db.execute_sql("SELECT count(*) FROM customer").fetchone()[0]
    if existing < args.customers:
        seconds = fill(db, args.customers - existing, random.Random(7))
        print(f"inserted {args.customers - existing} customers (index built by triggers) "
              f"in {seconds:.1f} s")
    if url:
        db.execute_sql("ANALYZE")
        size = db.execute_sql("SELECT pg_database_size(current_database())").fetchone()[0] / 1e6
    else:
        size = path.stat().st_size / 1e6
    print(f"database: {size:.0f} MB for {args.customers} customers")
    print(f"{'query':<28}{'median ms':>10}{'matches':>10}")
    for text in ["", "n", "nordic", "zoe", "boreal lift", "aarhus 1234", "5678", "45 2",
                 "info1234@x1234.dk", "nothing-like-this"]:
        ms, total = timed(ctx, text)
        print(f"{text!r:<28}{ms:>10.1f}{total:>10}")
    db.close()


if __name__ == "__main__":
    main()
