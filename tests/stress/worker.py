"""One operator process for the concurrency and crash tests, run as a real process:

    python -m tests.stress.worker stress DB LOG --login w1 --ops 60 --seed 1 [--go FILE]
    python -m tests.stress.worker race DB LOG --entity customer --id 3 --value X \\
        --ready FILE --go FILE
    python -m tests.stress.worker loop DB LOG --op save|delete --seed 1

(from the repository root, so ``tests`` imports as a namespace package).

Every operation that returns is logged to LOG as one JSON line, flushed at once, so
the parent can compare what each process was told with what the database holds:
``{"op": ..., "ok": true, ...}`` for a success, ``{"ok": false, "refused": "Conflict"}``
for a refusal the service is meant to give (a stale version, a machine someone holds,
a record someone deleted), ``{"ok": false, "error": ...}`` for anything else, which is
what a user must never see ("database is locked" above all). ``stress`` ends with a
``{"op": "stats", ...}`` line: the database's lock statistics and the time taken.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from dataclasses import replace
from pathlib import Path

from peewee import fn

from tui.domain.config import load_config
from tui.domain.context import Actor, Context
from tui.domain.database import open_database
from tui.domain.errors import (
    AlreadyAssigned,
    ClientbookError,
    Conflict,
    DatabaseError,
    NotFound,
    ValidationError,
)
from tui.domain.models import Assignment, Contact, Customer, Equipment
from tui.domain.services.contacts import ContactDraft, add_contact, update_contact
from tui.domain.services.customers import CustomerDraft, create_customer, delete_customer, \
    update_customer
from tui.domain.services.documents import update_document
from tui.domain.services.equipment import EquipmentDraft, assign_equipment, \
    unassign_equipment, update_equipment
from tui.domain.services.estimates import EstimateDraft, LineDraft, update_estimate
from tui.domain.services.projects import ProjectDraft, update_project

# What a service may rightly answer under concurrency: the operator is told, nothing is lost.
REFUSALS = (Conflict, NotFound, AlreadyAssigned, ValidationError)

# Operation -> weight in the stress mix.
MIX = {"create": 20, "edit": 30, "contact": 15, "assign": 15, "unassign": 10, "delete": 10}


def context(db_path: str, login: str) -> Context:
    db = open_database(db_path)
    config = load_config()
    role = config.roles["administrator"]
    return Context(db, config, Actor(login, "administrator", role.permissions, login))


class Log:
    def __init__(self, path: str):
        self.file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def write(self, **record) -> None:
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()

    def close(self) -> None:
        self.file.close()


def attempt(log: Log, op: str, action, *, db=None, **known) -> None:
    """Run one operation; log its success (``action`` returns the fields to log) or why not.

    With ``db``, the record also says how long the operation waited for the write lock."""
    if db is not None:
        waited = db.lock_stats.total_wait
        known = {**known, "started": time.monotonic()}
    try:
        fields = action()
    except REFUSALS as refusal:
        log.write(op=op, ok=False, refused=type(refusal).__name__, **known)
    except DatabaseError as error:  # DatabaseLocked included: the user would have seen it
        log.write(op=op, ok=False, error=f"{type(error).__name__}: {error}", **known)
    except Exception as error:  # noqa: BLE001 - anything else is what the test looks for
        log.write(op=op, ok=False, error=f"{type(error).__name__}: {error}", **known)
    else:
        if db is not None:
            known = {**known, "wait": db.lock_stats.total_wait - waited,
                     "took": time.monotonic() - known["started"]}
        if fields is not None:
            log.write(op=op, ok=True, **known, **fields)


def wait_for(path: str | None) -> None:
    if path:
        while not os.path.exists(path):
            time.sleep(0.005)


# ----------------------------------------------------------------------- stress mix

def random_customer() -> Customer | None:
    return Customer.select().order_by(fn.Random()).limit(1).first()


def customer_to_delete(rng: random.Random) -> Customer | None:
    """Half the time the newest customer, else any.

    The newest on purpose: before schema 6 SQLite gave its id to the next customer made,
    so a stale save or delete of the deleted one landed on the new one. Ids are
    AUTOINCREMENT now; stress.py checks that no id went to two customers and that every
    save and delete found the customer it read.
    """
    if rng.random() < 0.5:
        return Customer.select().order_by(Customer.id.desc()).limit(1).first()
    return random_customer()


def phone(rng: random.Random) -> str:
    return f"+45 {rng.randrange(20, 99)} {rng.randrange(10, 99)} {rng.randrange(10, 99)} " \
           f"{rng.randrange(10, 99)}"


def stress(args) -> None:
    ctx = context(args.db, args.login)
    rng = random.Random(args.seed)
    log = Log(args.log)
    machines = [m.id for m in Equipment.select(Equipment.id)]
    ops = list(MIX)
    weights = [MIX[op] for op in ops]
    wait_for(args.go)
    started = time.monotonic()
    for number in range(args.ops):
        op = rng.choices(ops, weights)[0]
        tag = f"{args.login}-{number}"
        if op == "create":
            contacts = rng.randrange(3)

            def create(tag=tag, contacts=contacts):
                customer = create_customer(ctx, CustomerDraft(
                    name=f"Stress {tag}", phone=phone(rng), billing_country="DK",
                    contacts=tuple(ContactDraft(name=f"Person {tag} {n}")
                                   for n in range(contacts))), allow_duplicate=True)
                return {"id": customer.id, "contacts": contacts, "name": customer.name}

            attempt(log, op, create, db=ctx.db)
        elif op == "edit":
            current = random_customer()
            if current is None:
                log.write(op=op, ok=False, skipped=True)
                continue

            def edit(current=current, tag=tag):
                draft = replace(CustomerDraft.from_customer(current), name=f"Edited {tag}",
                                phone=phone(rng))
                saved = update_customer(ctx, current.id, current.version, draft,
                                        allow_duplicate=True)
                return {"version": saved.version, "name": saved.name, "phone": saved.phone}

            attempt(log, op, edit, db=ctx.db, id=current.id, read_version=current.version)
        elif op == "contact":
            current = random_customer()
            if current is None:
                log.write(op=op, ok=False, skipped=True)
                continue
            attempt(log, op, lambda c=current, tag=tag: {"contact": add_contact(
                ctx, c.id, ContactDraft(name=f"Added {tag}")).id}, db=ctx.db, id=current.id)
        elif op == "assign":
            current = random_customer()
            if current is None or not machines:
                log.write(op=op, ok=False, skipped=True)
                continue
            chosen = rng.sample(machines, min(len(machines), rng.choice((1, 1, 2))))

            def assign(c=current, chosen=chosen):
                made = assign_equipment(ctx, c.id, chosen)
                return {"assignments": [[a.id, a.equipment_id] for a in made]}

            attempt(log, op, assign, db=ctx.db, id=current.id, machines=chosen)
        elif op == "unassign":
            held = (Assignment.select(Assignment.equipment)
                    .where(Assignment.unassigned_at.is_null()).order_by(fn.Random()).first())
            if held is None:
                log.write(op=op, ok=False, skipped=True)
                continue
            attempt(log, op, lambda e=held.equipment_id: {"closed": unassign_equipment(ctx, [e])},
                    db=ctx.db, equipment=held.equipment_id)
        elif op == "delete":
            current = customer_to_delete(rng)
            if current is None:
                log.write(op=op, ok=False, skipped=True)
                continue

            def delete(c=current):
                impact = delete_customer(ctx, c.id, expected_version=c.version)
                return {"unassigned": impact.machines_unassigned,
                        "contacts": impact.contacts_deleted}

            attempt(log, op, delete, db=ctx.db, id=current.id, version=current.version)
    stats = ctx.db.lock_stats
    log.write(op="stats", ok=True, login=args.login, seconds=time.monotonic() - started,
              transactions=stats.transactions, retries=stats.retries, gave_up=stats.gave_up,
              max_wait=stats.max_wait, total_wait=stats.total_wait)
    log.close()
    ctx.db.close()


# ----------------------------------------------------------------------- lost-update race

def race(args) -> None:
    """Read one record, say so, wait for the go, then save a change on the version read."""
    ctx = context(args.db, args.login)
    log = Log(args.log)
    value, key = args.value, args.id
    if args.entity == "customer":
        current = Customer.get_by_id(key)
        draft = replace(CustomerDraft.from_customer(current), name=value)
        save = lambda: update_customer(ctx, key, current.version, draft,  # noqa: E731
                                       allow_duplicate=True).version
    elif args.entity == "contact":
        current = Contact.get_by_id(key)
        draft = replace(ContactDraft.from_contact(current), name=value)
        save = lambda: update_contact(ctx, key, current.version, draft).version  # noqa: E731
    elif args.entity == "equipment":
        current = Equipment.get_by_id(key)
        draft = replace(EquipmentDraft.from_equipment(current), name=value)
        save = lambda: update_equipment(ctx, key, current.version, draft).version  # noqa: E731
    elif args.entity == "document":
        from tui.domain.models import AdminDocument

        current = AdminDocument.get_by_id(key)
        save = lambda: update_document(ctx, key, current.version, title=value,  # noqa: E731
                                       kind=current.kind,
                                       reminder_on=current.reminder_on).version
    elif args.entity == "estimate":
        from tui.domain.models import Estimate

        current = Estimate.get_by_id(key)
        draft = EstimateDraft(customer_id=current.customer_id, title=value,
                              issued_on=current.issued_on,
                              lines=(LineDraft("Work", "1", "100"),))
        save = lambda: update_estimate(ctx, key, current.version, draft).version  # noqa: E731
    elif args.entity == "project":
        from tui.domain.models import Project

        current = Project.get_by_id(key)
        draft = replace(ProjectDraft.from_project(current), name=value)
        save = lambda: update_project(ctx, key, current.version, draft).version  # noqa: E731
    else:
        raise SystemExit(f"unknown entity {args.entity}")
    partial = Path(args.ready + ".partial")  # the test reads it as soon as it exists:
    partial.write_text(str(current.version))  # write it whole first, then rename it
    partial.replace(args.ready)
    wait_for(args.go)
    attempt(log, "save", lambda: {"version": save()}, login=args.login, value=value,
            read_version=current.version)
    log.close()
    ctx.db.close()


# ----------------------------------------------------------------------- kill targets

def loop(args) -> None:
    """Save or delete customers over and over until killed. Before each operation it logs
    ``begin``, after it the operation: a kill between the two was in the middle of one."""
    ctx = context(args.db, args.login)
    rng = random.Random(args.seed)
    log = Log(args.log)
    log.write(op="started", ok=True)
    number = 0
    while True:
        number += 1
        if args.op == "save":
            # A customer with its contacts (the wizard's Save), then an edit of it.
            log.write(op="begin", ok=True, what="create")
            made = create_customer(ctx, CustomerDraft(
                name=f"Crash {args.seed}-{number}", phone=phone(rng), billing_country="DK",
                contacts=tuple(ContactDraft(name=f"Contact {number}-{n}", roles=("billing",))
                               for n in range(5))), allow_duplicate=True)
            log.write(op="create", ok=True, id=made.id)
            log.write(op="begin", ok=True, what="edit", id=made.id)
            draft = replace(CustomerDraft.from_customer(made),
                            name=f"Crash edited {args.seed}-{number}")
            saved = update_customer(ctx, made.id, made.version, draft, allow_duplicate=True)
            log.write(op="edit", ok=True, id=made.id, version=saved.version)
        else:
            victim = (Customer.select().where(Customer.name.startswith("Victim"))
                      .order_by(fn.Random()).first())
            if victim is None:
                log.write(op="done", ok=True)
                break
            log.write(op="begin", ok=True, what="delete", id=victim.id)
            delete_customer(ctx, victim.id, expected_version=victim.version)
            log.write(op="delete", ok=True, id=victim.id)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tests.stress.worker")
    parser.add_argument("mode", choices=("stress", "race", "loop"))
    parser.add_argument("db")
    parser.add_argument("log")
    parser.add_argument("--login", default="worker")
    parser.add_argument("--ops", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--go")
    parser.add_argument("--ready")
    parser.add_argument("--entity")
    parser.add_argument("--id", type=int)
    parser.add_argument("--value")
    parser.add_argument("--op", choices=("save", "delete"), default="save")
    args = parser.parse_args(argv)
    try:
        {"stress": stress, "race": race, "loop": loop}[args.mode](args)
    except ClientbookError as error:
        print(f"worker: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
