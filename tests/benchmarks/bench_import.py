"""Bulk import and export speed: prints figures, asserts nothing.

    .venv/bin/python tests/benchmarks/bench_import.py [--customers 100000] [--contacts 2]
        [--workers N] [--batch 1000] [--compare-index] [--keep DIR] [--pg-url URL]

``--pg-url postgresql://user:pw@host:port/postgres`` imports into new PostgreSQL databases
made on that server (bench_import_<pid>_*, dropped at the end) instead of SQLite files.

Generates a CSV of ``--customers`` companies with ``--contacts`` contacts each
(one row per contact, the company repeated, as spreadsheets hold them), then
times, through the real services:
  1. validation alone, per value and per row (the cost the app's rules carry),
  2. reading and validating the file without the database (one process),
  3. the import into an empty database,
  4. the same file again into the full database, with on_match=skip and =update,
  5. the export of customers and contacts as CSV,
and with ``--compare-index`` the import into an empty database with the search
index kept by its triggers (one rebuild per row) instead of once per batch.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tui.domain.config import load_config  # noqa: E402
from tui.domain.context import Actor, Context  # noqa: E402
from tui.domain.database import open_database  # noqa: E402
from tui.domain.imports import ImportOptions, export, open_csv, preview_mapping  # noqa: E402
from tui.domain.imports import run_import  # noqa: E402
from tui.domain.imports.prepare import prepare  # noqa: E402
from tui.domain.models import ALL_MODELS  # noqa: E402

HEADERS = ["External ID", "Société", "Téléphone", "E-mail", "Site web", "Adresse", "Code postal",
           "Ville", "Pays", "Segment", "Groupes", "Prénom", "Nom de famille", "Contact e-mail",
           "Contact phone", "Fonction", "Rôles"]
WORDS = ["Nordic", "Atlas", "Granit", "Fjord", "Alpine", "Øresund", "Bâtir", "Horizon", "Zoë",
         "Keystone", "Boréal", "Summit", "Delta", "Meridian", "Pioneer", "Sterling", "Valmont"]
TRADES = ["Construction", "Rental", "Maskinudlejning", "Location", "Lifting", "Bau", "Hire"]
PLACES = [("Aarhus", "8000", "Danemark", "+45 {a} {b} {c} {d}"),
          ("Lyon", "69003", "France", "04 {a} {b} {c} {d}"),
          ("Leeds", "LS1 4DY", "United Kingdom", "+44 113 496 {a}{b}"),
          ("Köln", "50667", "Allemagne", "+49 221 {a}{b}{c}{d}")]
FIRST = ["Mette", "Lars", "Camille", "Julien", "Oliver", "Amelia", "Lukas", "Anna"]
LAST = ["Jensen", "Dubois", "Smith", "Müller", "Nielsen", "Martin", "Taylor", "Weber"]


def generate(path: Path, customers: int, contacts: int, seed: int = 7) -> int:
    rng = random.Random(seed)
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(HEADERS)
        for i in range(customers):
            city, postal, country, phone = rng.choice(PLACES)
            digits = {k: f"{rng.randint(10, 99)}" for k in "abcd"}
            company = [f"C{i:07d}", f"{rng.choice(WORDS)} {rng.choice(TRADES)} {i}",
                       phone.format(**digits), f"info@firm{i}.example", f"www.firm{i}.example",
                       f"{rng.randint(1, 200)} Industrivej", postal, city, country,
                       rng.choice(["Dealer", "Loueur", "contractor", ""]),
                       rng.choice(["North", "South; Key accounts", ""])]
            for k in range(contacts):
                first, last = rng.choice(FIRST), rng.choice(LAST)
                contact_phone = phone.format(**{x: f"{rng.randint(10, 99)}" for x in "abcd"})
                writer.writerow(company + [first, last, f"{first.lower()}.{k}@firm{i}.example",
                                           contact_phone, "Site manager",
                                           rng.choice(["billing", "Facturation; notify", ""])])
                rows += 1
    return rows


PG_URL: str | None = None
PG_MADE: list[str] = []


def _pg_admin():
    import psycopg2

    connection = psycopg2.connect(PG_URL)
    connection.autocommit = True
    return connection


def context(path: Path, config) -> Context:
    if PG_URL:
        name = f"bench_import_{os.getpid()}_{path.stem}"
        admin = _pg_admin()
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.cursor().execute(f'CREATE DATABASE "{name}"')
        admin.close()
        PG_MADE.append(name)
        db = open_database(PG_URL.rsplit("/", 1)[0] + "/" + name, create=True)
    else:
        db = open_database(path, create=True)
    role = config.roles["administrator"]
    return Context(db, config, Actor("bench", "administrator", role.permissions))


def per_call(fn, values, repeat: int = 1) -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        for value in values:
            fn(value)
    return (time.perf_counter() - started) / (len(values) * repeat) * 1e6


def validation_costs(config) -> list[tuple[str, float]]:
    from tui.domain.services.contacts import ContactDraft, validate_contact
    from tui.domain.services.customers import CustomerDraft, validate_customer
    from tui.domain.validation import (
        Errors,
        clean_text,
        name_key,
        normalize_country,
        normalize_email,
        normalize_phone,
        normalize_website,
    )

    n = 3000
    phones = [f"+45 20 {i % 100:02d} {i // 100 % 100:02d} 40" for i in range(n)]
    national = [f"04 72 {i % 100:02d} {i // 100 % 100:02d} 00" for i in range(n)]
    emails = [f"lars.{i}@firm{i}.example" for i in range(n)]
    drafts = [CustomerDraft(name=f"Nordic Rental {i} A/S", phone=phones[i], email=emails[i],
                            website=f"www.firm{i}.example", billing_street="12 Industrivej",
                            billing_postal_code="8000", billing_city="Aarhus",
                            billing_country="DK") for i in range(n)]
    contacts = [ContactDraft(name=f"Lars Jensen {i}", email=emails[i], phone=phones[i],
                             job_title="Site manager", roles=("billing",)) for i in range(n)]
    return [
        ("normalize_phone (international)", per_call(lambda v: normalize_phone(v, None), phones)),
        ("normalize_phone (national, FR)", per_call(lambda v: normalize_phone(v, "FR"), national)),
        ("normalize_email", per_call(normalize_email, emails)),
        ("normalize_website", per_call(normalize_website, [f"www.f{i}.example" for i in range(n)])),
        ("normalize_country (French name)", per_call(normalize_country, ["Danemark"] * n)),
        ("clean_text (30 characters)", per_call(lambda v: clean_text(v, limit=200),
                                                [f"Nordic Rental Company {i} A/S" for i in range(n)])),
        ("name_key", per_call(name_key, [d.name for d in drafts])),
        ("validate_customer (no contact)", per_call(lambda d: validate_customer(config, d),
                                                    drafts)),
        ("validate_contact", per_call(lambda c: validate_contact(config, c, "DK", Errors()),
                                      contacts)),
    ]


def cpu_seconds() -> tuple[float, float]:
    """CPU time used so far by this process, and by its finished children (the workers)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time(), children.ru_utime + children.ru_stime


def timed_import(ctx, path: Path, options: ImportOptions):
    """(wall seconds, report, main CPU seconds, workers' CPU seconds)."""
    source = open_csv(path)
    preview = preview_mapping("customers", source.headers)
    main_before, workers_before = cpu_seconds()
    started = time.perf_counter()
    report = run_import(ctx, source, preview, options)
    wall = time.perf_counter() - started
    main_after, workers_after = cpu_seconds()
    return wall, report, main_after - main_before, workers_after - workers_before


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--contacts", type=int, default=2)
    parser.add_argument("--workers", type=int, default=None, help="validating processes")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--compare-index", action="store_true",
                        help="also import with the search index kept by its triggers")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep its files")
    parser.add_argument("--pg-url", help="a PostgreSQL server's maintenance database URL")
    args = parser.parse_args(argv)
    config = load_config()
    global PG_URL
    PG_URL = args.pg_url
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-import-"))
    work.mkdir(parents=True, exist_ok=True)
    n = args.customers
    print(f"{n:,} customers with {args.contacts} contacts each; batches of {args.batch}; "
          f"workers: {'automatic' if args.workers is None else args.workers}; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    print("\nValidation, the app's own rules (microseconds per call):")
    for label, micros in validation_costs(config):
        print(f"  {label:<34} {micros:8.1f}")

    path = work / "customers.csv"
    started = time.perf_counter()
    rows = generate(path, n, args.contacts)
    print(f"\nGenerated {rows:,} rows ({path.stat().st_size / 1e6:.1f} MB) in "
          f"{time.perf_counter() - started:.1f} s: {path}")

    source = open_csv(path)
    preview = preview_mapping("customers", source.headers)
    assert preview.ok, preview.problems
    started = time.perf_counter()
    read = sum(1 for _row in source.rows())
    reading = time.perf_counter() - started
    sample = list(source.rows())[: min(rows, 20_000)]
    started = time.perf_counter()
    prepare("customers", config, preview.fields, sample)
    preparing = (time.perf_counter() - started) / len(sample)
    print(f"Reading the CSV alone: {read / reading:,.0f} rows/s; validating (one process): "
          f"{1 / preparing:,.0f} rows/s = {1 / preparing / args.contacts:,.0f} customers/s")

    results = []
    options = ImportOptions(batch_size=args.batch, workers=args.workers)
    ctx = context(work / "bench.db", config)
    measured = timed_import(ctx, path, options)
    assert measured[1].rejected == 0, measured[1].errors[:3]
    results.append(("import into an empty database", *measured))
    for on_match in ("skip", "update"):
        measured = timed_import(ctx, path, ImportOptions(
            batch_size=args.batch, workers=args.workers, on_match=on_match))
        results.append((f"again into the full one, on_match={on_match}", *measured))
    for what in ("customers", "contacts"):
        out = io.StringIO()
        main_before = time.process_time()
        started = time.perf_counter()
        count = export(ctx, what, "csv", out)
        results.append((f"export {what} as CSV", time.perf_counter() - started, count,
                        time.process_time() - main_before, 0.0))
    ctx.db.close()

    if args.compare_index:
        other = context(work / "triggers.db", config)
        measured = timed_import(other, path, ImportOptions(
            batch_size=args.batch, workers=args.workers, fast_index=False))
        results.append(("import, index kept by the triggers", *measured))
        other.db.close()

    # CPU seconds do not depend on what else the machine runs; "idle 2-core" is what they
    # allow when the main process and the workers each get the cores they can use.
    print(f"\n{'what':<40} {'wall s':>7} {'cust/s':>7} {'rows/s':>8} {'cpu main':>8} "
          f"{'workers':>8} {'idle 2-core cust/s':>18}")
    for label, seconds, report, main_cpu, workers_cpu in results:
        if isinstance(report, int):
            print(f"{label:<40} {seconds:7.2f} {'':>7} {report / seconds:8,.0f} "
                  f"{main_cpu:8.1f} {'':>8} {'(' + format(report / main_cpu, ',.0f') + ' rows/s)':>18}")
            continue
        bound = max(main_cpu, (main_cpu + workers_cpu) / 2)
        print(f"{label:<40} {seconds:7.2f} {n / seconds:7,.0f} {rows / seconds:8,.0f} "
              f"{main_cpu:8.1f} {workers_cpu:8.1f} {n / bound:18,.0f}")
        print(f"    {'; '.join(report.summary()[:2])}")
    print(f"\nload average now: {', '.join(f'{x:.1f}' for x in os.getloadavg())} "
          f"(on {os.cpu_count()} cores)")
    for model in ALL_MODELS:
        model._meta.database = None
    if PG_MADE:
        admin = _pg_admin()
        for name in PG_MADE:
            admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()
    if not args.keep:
        for leftover in work.iterdir():
            leftover.unlink()
        work.rmdir()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
