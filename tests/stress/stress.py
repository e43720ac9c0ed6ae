"""Many operators on one database: run the mixed workload, then check every promise.

    .venv/bin/python -m tests.stress.stress [--processes 8] [--ops 500] [--keep DIR] [--db URL]

(``--db postgresql://...``: an empty database on a PostgreSQL server instead of an SQLite
file in the work folder.)

prints the figures of one run (operations per second, lock retries, the longest wait
for the write lock) after checking it as tests/test_concurrency.py does. The test runs
the same code with fewer operations ($CLIENTBOOK_STRESS_OPS, default 60 per process).

What is checked, from the workers' logs (tests/stress/worker.py) against the file:
* no worker was shown an error other than the refusals a service is meant to give
  (stale version, machine held by someone, record deleted meanwhile);
* no id was given twice: every customer a worker created has an id of its own (the
  workers delete the newest customer half the time, whose id SQLite gave again before
  schema 6), and so has every contact added;
* every customer a worker was told it created exists, unless a logged delete removed it;
  a logged delete's customer is gone;
* no two successful saves of one customer claim the same version (that would be a lost
  update); a customer's version is its last logged save's, and its name and phone are
  that save's; a delete was made on the last saved version;
* each customer has exactly the contacts it was created with plus those logged as added;
* every logged assignment is in the history, the number closed is the number of logged
  unassigns plus the machines logged deletes released;
* invariants: one open assignment per machine, no open assignment of a missing customer,
  no contact without its customer, and on SQLite ``PRAGMA foreign_key_check`` empty and
  ``PRAGMA integrity_check`` ok;
* the audit trail has exactly one event per successful mutation (one per machine for
  an assignment), counted from the logs.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SEED_CUSTOMERS = 20
SEED_MACHINES = 30


class Raw:
    """A DB-API connection of its own to the database (SQLite file or PostgreSQL URL), with
    sqlite3's ``execute`` shortcut and ``?`` placeholders on both."""

    def __init__(self, target: Path | str):
        from tui.domain.database import is_database_url

        self.postgres = is_database_url(target)
        if self.postgres:
            import psycopg2

            self.connection = psycopg2.connect(str(target))
        else:
            self.connection = sqlite3.connect(target)

    def execute(self, sql: str, params=()):
        if self.postgres:
            cursor = self.connection.cursor()
            cursor.execute(sql.replace("?", "%s"), params)
            return cursor
        return self.connection.execute(sql, params)

    def close(self) -> None:
        self.connection.close()


def prepare(db_path: Path | str) -> dict:
    """A fresh database with customers (one contact each) and machines; returns what it holds."""
    from tui.domain.config import load_config
    from tui.domain.context import Actor, Context
    from tui.domain.database import open_database
    from tui.domain.services.contacts import ContactDraft
    from tui.domain.services.customers import CustomerDraft, create_customer
    from tui.domain.services.equipment import EquipmentDraft, add_equipment

    db = open_database(db_path, create=True)
    try:
        config = load_config()
        role = config.roles["administrator"]
        ctx = Context(db, config, Actor("setup", "administrator", role.permissions, "setup"))
        for number in range(SEED_CUSTOMERS):
            person = ContactDraft(name=f"Seed person {number}")
            create_customer(ctx, CustomerDraft(name=f"Seed {number}", billing_country="DK",
                                               contacts=(person,)), allow_duplicate=True)
        for number in range(SEED_MACHINES):
            add_equipment(ctx, EquipmentDraft(serial=f"ST-{number:03d}", name="Stress machine"))
    finally:
        db.close()
    connection = Raw(db_path)
    try:
        audit = connection.execute("SELECT count(*) FROM audit_event").fetchone()[0]
        contacts = dict(connection.execute(
            "SELECT customer_id, count(*) FROM contact GROUP BY customer_id").fetchall())
        customers = [row[0] for row in connection.execute("SELECT id FROM customer")]
    finally:
        connection.close()
    return {"audit": audit, "contacts": contacts, "customers": customers}


def run(db_path: Path | str, workdir: Path, processes: int, ops: int, seed: int = 0,
        timeout: float = 600) -> tuple[list[dict], float]:
    """Start the workers, let them go together; (every log record, seconds from go to end)."""
    go = workdir / "go"
    logs = [workdir / f"worker-{k}.jsonl" for k in range(processes)]
    children = [subprocess.Popen(
        [sys.executable, "-m", "tests.stress.worker", "stress", str(db_path), str(log),
         "--login", f"w{k}", "--ops", str(ops), "--seed", str(seed * 1000 + k), "--go", str(go)],
        cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True) for k, log in enumerate(logs)]
    try:
        deadline = time.monotonic() + 120
        while not all(log.exists() for log in logs):  # each opened the database: ready
            for child in children:
                if child.poll() is not None:
                    raise AssertionError(f"a worker ended before the start: {child.communicate()}")
            if time.monotonic() > deadline:
                raise AssertionError("the workers did not start in 120 s")
            time.sleep(0.01)
        started = time.monotonic()
        go.touch()
        outputs = [child.communicate(timeout=timeout) for child in children]
        seconds = time.monotonic() - started
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.communicate()
    for child, (out, err) in zip(children, outputs):
        if child.returncode != 0:
            raise AssertionError(f"worker exit {child.returncode}: {out} {err}")
    records = []
    for k, log in enumerate(logs):
        for line in log.read_text(encoding="utf-8").splitlines():
            records.append({"worker": k, **json.loads(line)})
    return records, seconds


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def check(db_path: Path | str, records: list[dict], before: dict) -> dict:
    """Assert every promise of the module docstring; return the run's figures."""
    errors = [r for r in records if not r["ok"] and "error" in r]
    _expect(not errors, f"{len(errors)} operations failed with an error a user would see: "
                        f"{errors[:5]}")
    done = [r for r in records if r["ok"] and r["op"] != "stats"]
    stats = [r for r in records if r["op"] == "stats"]
    connection = Raw(db_path)
    try:
        return _check(connection, done, stats, records, before)
    finally:
        connection.close()


def _check(db: Raw, done: list[dict], stats: list[dict], records: list[dict],
           before: dict) -> dict:
    def one(sql, *params):
        return db.execute(sql, params).fetchone()[0]

    customers = {row[0]: row[1:] for row in db.execute(
        "SELECT id, version, name, phone FROM customer")}
    deleted = {r["id"]: r for r in done if r["op"] == "delete"}
    _expect(len(deleted) == len([r for r in done if r["op"] == "delete"]),
            "one customer was deleted twice")
    created = {r["id"]: r for r in done if r["op"] == "create"}
    # Ids are never given twice (schema 6, AUTOINCREMENT; the workers delete the newest
    # customer half the time): a new customer never gets a deleted one's id, nor a seed's.
    _expect(len(created) == len([r for r in done if r["op"] == "create"]),
            "one id was given to two new customers")
    _expect(not set(created) & set(before["customers"]),
            "a new customer got the id of a customer that existed before the run")
    added_contacts = [r["contact"] for r in done if r["op"] == "contact"]
    _expect(len(added_contacts) == len(set(added_contacts)),
            "one contact id was given twice")
    for key in created:
        _expect((key in customers) != (key in deleted),
                f"customer {key}: created, deleted={key in deleted}, "
                f"in database={key in customers}")
    for key in deleted:
        _expect(key not in customers, f"customer {key} was deleted but is still there")

    # Optimistic locking: each successful save made a new version, none made the same one.
    saves = defaultdict(list)
    for r in done:
        if r["op"] == "edit":
            saves[r["id"]].append(r)
    for key, edits in saves.items():
        versions = [e["version"] for e in edits]
        _expect(len(versions) == len(set(versions)),
                f"customer {key}: two saves claim one version {sorted(versions)} (lost update)")
        for e in edits:
            _expect(e["version"] == e["read_version"] + 1,
                    f"customer {key}: a save on version {e['read_version']} made {e['version']}")
        last = max(edits, key=lambda e: e["version"])
        if key in customers:
            version, name, phone = customers[key]
            _expect((version, name, phone) == (last["version"], last["name"], last["phone"]),
                    f"customer {key}: database has {(version, name, phone)}, last save was {last}")
        else:
            _expect(deleted[key]["version"] == last["version"],
                    f"customer {key}: deleted on version {deleted[key]['version']}, "
                    f"last saved {last['version']}")
    for key, (version, _name, _phone) in customers.items():
        if key not in saves:
            _expect(version == 1, f"customer {key}: version {version} with no save logged")

    # Contacts: what the customer was created with, plus the ones logged as added.
    added = Counter(r["id"] for r in done if r["op"] == "contact")
    for r in done:
        if r["op"] == "contact":
            exists = one("SELECT count(*) FROM contact WHERE id = ? AND customer_id = ?",
                         r["contact"], r["id"])
            _expect(exists == (r["id"] in customers),
                    f"contact {r['contact']} of customer {r['id']}: in database={exists}")
    counts = dict(db.execute("SELECT customer_id, count(*) FROM contact GROUP BY customer_id"))
    for key in customers:
        initial = created[key]["contacts"] if key in created else before["contacts"].get(key, 0)
        _expect(counts.get(key, 0) == initial + added[key],
                f"customer {key}: {counts.get(key, 0)} contacts, expected {initial} + "
                f"{added[key]}")

    # Assignments: all logged ones in the history; closed ones counted exactly.
    assigned = [pair for r in done if r["op"] == "assign" for pair in r["assignments"]]
    history = {row[0]: row[1:] for row in db.execute(
        "SELECT id, equipment_id, customer_id, unassigned_at IS NOT NULL FROM assignment")}
    _expect(len(history) == len(assigned),
            f"{len(history)} assignments in the history, {len(assigned)} logged")
    for r in done:
        if r["op"] == "assign":
            for assignment_id, equipment_id in r["assignments"]:
                _expect(history.get(assignment_id, (None, None))[:2] == (equipment_id, r["id"]),
                        f"assignment {assignment_id} is {history.get(assignment_id)}")
    unassigned = sum(r["closed"] for r in done if r["op"] == "unassign")
    released = sum(r["unassigned"] for r in done if r["op"] == "delete")
    closed = sum(1 for row in history.values() if row[2])
    _expect(closed == unassigned + released,
            f"{closed} assignments closed; logged {unassigned} unassigned + {released} released")

    # Invariants.
    _expect(db.execute("SELECT equipment_id FROM assignment WHERE unassigned_at IS NULL "
                       "GROUP BY equipment_id HAVING count(*) > 1").fetchall() == [],
            "a machine has two open assignments")
    _expect(one("SELECT count(*) FROM assignment a LEFT JOIN customer c ON c.id = a.customer_id"
                " WHERE a.unassigned_at IS NULL AND c.id IS NULL") == 0,
            "an open assignment of a deleted customer")
    _expect(one("SELECT count(*) FROM contact k LEFT JOIN customer c ON c.id = k.customer_id"
                " WHERE c.id IS NULL") == 0, "a contact without its customer")
    if not db.postgres:  # PostgreSQL enforces foreign keys always and has no such check
        _expect(db.execute("PRAGMA foreign_key_check").fetchall() == [], "foreign_key_check")
        _expect(db.execute("PRAGMA integrity_check").fetchall() == [("ok",)], "integrity_check")

    # One audit event per successful mutation (an assignment: one per machine).
    expected = sum(len(r["assignments"]) if r["op"] == "assign" else 1 for r in done)
    audit = one("SELECT count(*) FROM audit_event")
    _expect(audit == before["audit"] + expected,
            f"{audit - before['audit']} audit events for {expected} successful mutations")

    attempted = [r for r in records if r["op"] != "stats"]
    waits = sorted(r["wait"] for r in done if "wait" in r)
    took = sorted(r["took"] for r in done if "took" in r)

    def percentile(values: list[float], share: float) -> float:
        return values[min(len(values) - 1, int(share * len(values)))] if values else 0.0

    return {
        "operations": len(attempted),
        "succeeded": len(done),
        "by_op": dict(Counter(r["op"] for r in done)),
        "refused": dict(Counter(r["refused"] for r in records if "refused" in r)),
        "skipped": sum(1 for r in records if r.get("skipped")),
        "transactions": sum(s["transactions"] for s in stats),
        "retries": sum(s["retries"] for s in stats),
        "gave_up": sum(s["gave_up"] for s in stats),
        "max_wait": max((s["max_wait"] for s in stats), default=0.0),
        "mean_wait": (sum(s["total_wait"] for s in stats)
                      / max(1, sum(s["transactions"] for s in stats))),
        # per successful operation: time waiting for the write lock, and in all
        "wait_p50": percentile(waits, 0.5), "wait_p99": percentile(waits, 0.99),
        "took_p50": percentile(took, 0.5), "took_p99": percentile(took, 0.99),
        "took_max": took[-1] if took else 0.0,
    }


def stress_run(workdir: Path, processes: int, ops: int, seed: int = 0,
               target: Path | str | None = None) -> dict:
    """``target``: an empty database (a PostgreSQL URL); else a new SQLite file in workdir."""
    db_path = target if target is not None else workdir / "stress.db"
    before = prepare(db_path)
    records, seconds = run(db_path, workdir, processes, ops, seed)
    figures = check(db_path, records, before)
    figures.update(processes=processes, ops_per_process=ops, seconds=seconds,
                   per_second=figures["operations"] / seconds)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(prog="tests.stress.stress")
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--ops", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", help="work in this folder and keep it")
    parser.add_argument("--db", help="an empty PostgreSQL database's URL (default: SQLite)")
    args = parser.parse_args()
    if args.keep:
        workdir = Path(args.keep)
        workdir.mkdir(parents=True, exist_ok=True)
        figures = stress_run(workdir, args.processes, args.ops, args.seed, args.db)
    else:
        with tempfile.TemporaryDirectory() as scratch:
            figures = stress_run(Path(scratch), args.processes, args.ops, args.seed, args.db)
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
