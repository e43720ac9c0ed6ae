"""Equipment register speed with a large fleet: prints figures, asserts nothing.

    .venv/bin/python tests/benchmarks/bench_fleet.py [--machines 50000] [--db PATH]

Machines, customers and open assignments (half the fleet held, a few percent
retired) are inserted with raw SQL, then search_equipment is timed through the
real service, a page of 100 as the register asks: empty search, a word, a serial
prefix, a holder's name, each holding filter, a type, and each sort.
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
from tui.domain.services.equipment import FLEET_SORTS, search_equipment  # noqa: E402

MAKES = [("Caterpillar", ["320", "336", "D6", "950M"], "excavator"),
         ("JCB", ["540-140", "3CX", "8026"], "telehandler"),
         ("Atlas Copco", ["QAS 60", "XAS 58", "XATS 138"], "compressor"),
         ("Genie", ["GS-1930", "S-65", "Z-45"], "lift"),
         ("Bobcat", ["S70", "E35", "T590"], "loader"),
         ("Thwaites", ["MACH 2090", "MACH 201"], "dumper"),
         ("Wacker Neuson", ["DPU 6555", "ET18"], "compactor")]
NAMES = ["Excavator", "Telehandler", "Compressor", "Scissor lift", "Skid steer", "Dumper",
         "Generator", "Plate compactor", "Boom lift", "Backhoe"]
CUSTOMERS = ["Nordic", "Atlas", "Granit", "Fjord", "Alpine", "Øresund", "Bâtir", "Horizon",
             "Keystone", "Boréal", "Summit", "Delta", "Meridian", "Pioneer", "Sterling"]
TRADES = ["Construction", "Rental", "Lifting", "Bau", "Hire", "Location"]


def fill(db, machines: int, rng: random.Random) -> float:
    started = time.perf_counter()
    customers = max(1, machines // 10)
    customer_rows = []
    for index in range(customers):
        name = f"{rng.choice(CUSTOMERS)} {rng.choice(TRADES)} {index}"
        customer_rows.append((name, name.lower()))
    machine_rows = []
    for index in range(machines):
        make, models, kind = rng.choice(MAKES)
        retired = "2026-01-01 00:00:00" if rng.random() < 0.03 else None
        machine_rows.append((f"{make[:3].upper()}-{index:07d}", rng.choice(NAMES), make,
                             rng.choice(models), kind, rng.randint(1995, 2026), retired))
    with db.atomic():
        cursor = db.cursor()
        cursor.executemany(
            "INSERT INTO customer (name, name_key, phone, search_digits, email, billing_city,"
            " billing_postal_code, billing_street, segment, currency, language, created_at,"
            " updated_at, website, billing_state, shipping_street, shipping_postal_code,"
            " shipping_city, shipping_state, notes, email_key, website_key, created_by,"
            " updated_by, notify_event_types, shipping_same_as_billing, version) VALUES"
            " (?, ?, '', '', '', '', '', '', 'other', 'EUR', 'en', '2026-01-01', '2026-01-01',"
            " '', '', '', '', '', '', '', '', '', '', '', '[]', 1, 1)", customer_rows)
        first_customer = db.execute_sql("SELECT min(id) FROM customer").fetchone()[0]
        first_machine = (db.execute_sql("SELECT ifnull(max(id), 0) FROM equipment")
                         .fetchone()[0] + 1)
        cursor.executemany(
            "INSERT INTO equipment (serial, name, make, model, type, year, retired_at,"
            " created_at, updated_at, version) VALUES"
            " (?, ?, ?, ?, ?, ?, ?, '2026-01-01', '2026-01-01', 1)", machine_rows)
        assignments = []
        for offset, row in enumerate(machine_rows):
            if row[6] is None and offset % 2 == 0:  # half the fleet held
                holder = first_customer + rng.randrange(customers)
                assignments.append((first_machine + offset, holder,
                                    customer_rows[holder - first_customer][0]))
        # The customer search index triggers fire per assignment: this is the slow part.
        cursor.executemany(
            "INSERT INTO assignment (equipment_id, customer_id, customer_name, assigned_at,"
            " assigned_by) VALUES (?, ?, ?, '2026-02-01 08:00:00', 'bench')", assignments)
    db.execute_sql("ANALYZE")
    return time.perf_counter() - started


def timed(ctx, repeat: int = 7, **query) -> tuple[float, int]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        page = search_equipment(ctx, limit=100, **query)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000, page.total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--machines", type=int, default=50_000)
    parser.add_argument("--db", type=Path)
    args = parser.parse_args()
    folder = tempfile.TemporaryDirectory()
    path = args.db or Path(folder.name) / "bench.db"
    db = open_database(path, create=not path.exists())
    config = load_config()
    role = config.roles["administrator"]
    ctx = Context(db, config, Actor("bench", role.key, role.permissions))
    existing = db.execute_sql("SELECT count(*) FROM equipment").fetchone()[0]
    if existing < args.machines:
        seconds = fill(db, args.machines - existing, random.Random(7))
        print(f"inserted {args.machines - existing} machines, half of them assigned, "
              f"in {seconds:.1f} s")
    held = db.execute_sql("SELECT count(*) FROM assignment WHERE unassigned_at IS NULL"
                          ).fetchone()[0]
    holder = db.execute_sql("SELECT customer_name FROM assignment WHERE unassigned_at IS NULL"
                            " LIMIT 1").fetchone()
    holder_word = holder[0].split()[0] if holder else "Nordic"
    middle = db.execute_sql("SELECT serial FROM equipment WHERE retired_at IS NULL"
                            " ORDER BY id LIMIT 1 OFFSET ?", [held]).fetchone()
    serial = middle[0] if middle else "CAT-0000001"
    print(f"database: {path.stat().st_size / 1e6:.0f} MB, {args.machines} machines, "
          f"{held} held")
    cases = [
        ("empty search, page 1", {}),
        ("empty search, page 100", {"offset": 9_900}),
        ("word: excavator", {"text": "excavator"}),
        ("rare word: 8026", {"text": "8026"}),
        ("two words: atlas 2019", {"text": "atlas 2019"}),
        ("serial prefix: CAT-00012", {"text": "CAT-00012"}),
        (f"whole serial: {serial}", {"text": serial}),
        (f"holder: {holder_word}", {"text": holder_word}),
        ("no match: zzzz", {"text": "zzzz"}),
        ("holding: assigned", {"holding": "assigned"}),
        ("holding: unassigned", {"holding": "unassigned"}),
        ("holding: retired", {"holding": "retired"}),
        ("type: lift", {"type": "lift"}),
        ("type lift + unassigned", {"type": "lift", "holding": "unassigned"}),
        *((f"sort: {sort}", {"sort": sort}) for sort in FLEET_SORTS),
        ("sort holder + word", {"sort": "holder", "text": "genie"}),
    ]
    print(f"{'query':<32}{'median ms':>10}{'matches':>10}")
    for label, query in cases:
        ms, total = timed(ctx, **query)
        print(f"{label:<32}{ms:>10.1f}{total:>10}")
    db.close()


if __name__ == "__main__":
    main()
