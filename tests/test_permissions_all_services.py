"""Every public service function as every role, an unknown login, a disabled user and nobody.

tests/test_permissions.py holds the role x action matrix of the customer, contact,
machine, document and user *changes*; this file covers everything else the services
offer (reading included): equipment life cycle, events, the outbox, estimates, projects,
reports, imports and exports, backups, and every reader. What each role may do is
written out below from data/clientbook.yaml by hand (patterns expanded), not computed
from the configuration, so a wrong grant or a wrong check fails here. A refused call must
raise PermissionDenied naming the permission and change nothing: not a row, not a file.

Runs on both backends: on PostgreSQL the world is built once per test process and each test
starts from a snapshot of it (conftest's PostgresTests.restore, ~20 ms, where a database made
from a template took ~0.3 s); the backup actions are SQLite's only (PostgreSQL is backed up
with pg_dump).
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import shutil
import sqlite3
from datetime import date
from pathlib import Path

import pytest

import tests.test_permissions as role_matrix
from tui.domain import backup
from tui.domain.context import Actor, Context
from tui.domain.database import open_database
from tui.domain.errors import IdentityRefused, PermissionDenied
from tui.domain.imports import ImportOptions, check_permissions, export, export_to_path
from tui.domain.imports import get_job, import_file, list_jobs, undo_import
from tui.domain.mail import SmtpSettings
from tui.domain.models import AuditEvent, Contact, Customer, Equipment, EquipmentEvent
from tui.domain.models import Estimate, Notification, Project, User, utcnow
from tui.domain.services import contacts, customers, documents, equipment, estimates, events
from tui.domain.services import outbox, projects, reports, search, users
from tui.domain.services.contacts import ContactDraft
from tui.domain.services.customers import CustomerDraft
from tui.domain.services.equipment import EquipmentDraft
from tui.domain.services.estimates import EstimateDraft, LineDraft
from tui.domain.services.projects import ProjectDraft

ROLES = ["administrator", "fleet_administrator", "account_owner", "estimator", "limited"]

EVERYTHING = frozenset({
    "customer.view", "customer.create", "customer.create_in_estimate", "customer.edit",
    "customer.delete", "contact.view", "contact.edit", "equipment.view", "equipment.edit",
    "equipment.assign", "event.record", "document.view", "document.edit", "estimate.view",
    "estimate.edit", "project.view", "project.edit", "group.edit", "data.import", "data.export",
    "notify.send", "audit.view", "user.manage", "backup.restore"})
CUSTOMER_ALL = {"customer.view", "customer.create", "customer.create_in_estimate",
                "customer.edit", "customer.delete"}
# data/clientbook.yaml, roles -> grants, with the patterns expanded by hand.
GRANTS = {
    "administrator": EVERYTHING,
    "fleet_administrator": frozenset(CUSTOMER_ALL | {
        "contact.view", "contact.edit", "equipment.view", "equipment.edit", "equipment.assign",
        "event.record", "document.view", "document.edit", "group.edit", "data.import",
        "data.export", "notify.send", "audit.view", "estimate.view", "project.view"}),
    "account_owner": frozenset(CUSTOMER_ALL | {
        "contact.view", "contact.edit", "equipment.view", "document.view", "document.edit",
        "estimate.view", "estimate.edit", "project.view", "project.edit", "group.edit",
        "data.import", "data.export", "audit.view"}),
    "estimator": frozenset({"customer.view", "customer.create_in_estimate", "contact.view",
                            "estimate.view", "estimate.edit", "project.view",
                            "equipment.view"}),
    "limited": frozenset({"customer.view", "contact.view", "document.view", "project.view",
                          "equipment.view", "estimate.view"}),
}
pytestmark = pytest.mark.both_backends
# Backups are files of an SQLite database: on PostgreSQL they refuse (pg_dump instead).
SQLITE_ONLY_ACTIONS = {"check a backup", "live counts", "back up", "restore"}


def here(ids: dict, name: str) -> Path:
    """A file beside the world's database (in the test's own folder)."""
    return ids["folder"] / name


SMTP = SmtpSettings(host="127.0.0.1", port=9, security="none", username=None, password=None,
                    timeout_seconds=1, from_address="service@example.com", from_name="Test")


def test_the_shipped_roles_grant_exactly_what_this_file_expects(config):
    assert set(config.roles) == set(GRANTS)
    for role, granted in GRANTS.items():
        assert config.roles[role].permissions == granted, role


# ---------------------------------------------------------------- the world


def build_world(ctx: Context, folder: Path) -> dict:
    """One of everything, made by the administrator; returns the ids the actions use."""
    target = customers.create_customer(ctx, CustomerDraft(
        name="Target A/S", billing_country="DK", groups=("VIP",), contacts=(
            ContactDraft(name="Kim", email="kim@target.example", roles=("notify", "billing")),
            ContactDraft(name="Lee", email="lee@target.example"))))
    spare = customers.create_customer(ctx, CustomerDraft(name="Spare Ltd", billing_country="GB"))
    kim = contacts.list_contacts(ctx, target.id)[0]
    held = equipment.add_equipment(ctx, EquipmentDraft(serial="HELD-1", name="Crane"))
    free = equipment.add_equipment(ctx, EquipmentDraft(serial="FREE-1"))
    old = equipment.add_equipment(ctx, EquipmentDraft(serial="OLD-1"))
    unused = equipment.add_equipment(ctx, EquipmentDraft(serial="UNUSED-1"))
    equipment.assign_equipment(ctx, target.id, [held.id])
    equipment.retire_equipment(ctx, old.id, old.version)
    paper = folder / "terms.txt"
    paper.write_text("terms")
    document = documents.add_document(ctx, target.id, "Terms", "contract", paper,
                                      reminder_on=date(2020, 1, 1))
    recorded = events.record_event(ctx, equipment_id=held.id, type="alarm", message="Tilt")
    failed = Notification.get(Notification.event == recorded.event.id)
    Notification.update(status="failed").where(Notification.id == failed.id).execute()
    estimate = estimates.create_estimate(ctx, EstimateDraft(
        customer_id=target.id, title="Crane hire", lines=(LineDraft("Crane", "2", "100"),)))
    # a copy gone stale (as if written before a change), for refresh_customer_copies to mend
    Estimate.update(customer_name="Target (as once named)").where(
        Estimate.id == estimate.id).execute()
    project = projects.create_project(ctx, target.id, ProjectDraft(
        name="Bridge", submission_contact_id=kim.id))
    closed = projects.create_project(ctx, target.id, ProjectDraft(name="Old job"))
    projects.close_project(ctx, closed.id, closed.version)
    rows = folder / "import.csv"
    rows.write_text("Name,Country\nImported Co,FR\n")
    job = import_file(ctx, "customers", rows, options=ImportOptions(workers=0))
    users.add_user(ctx, "someone", "limited")
    users.add_user(ctx, "gone", "account_owner")
    users.disable_user(ctx, "gone")
    return {"target": target.id, "spare": spare.id, "kim": kim.id, "held": held.id,
            "free": free.id, "old": old.id, "unused": unused.id, "document": document.id,
            "event": recorded.event.id, "failed": failed.id, "estimate": estimate.id,
            "number": estimate.number, "project": project.id, "closed": closed.id,
            "job": job.job_id}


@pytest.fixture(scope="module")
def template(tmp_path_factory, backend, request, config):
    """The world in a database, built once per module and test process: an SQLite file each
    test works on a copy of, or a PostgreSQL database with a snapshot of the world that each
    test's changes are undone from (conftest's PostgresTests.snapshot/restore)."""
    folder = tmp_path_factory.mktemp("world")
    if backend == "postgresql":
        tests = request.getfixturevalue("postgres_tests")
        name = tests.create(f"{tests.prefix}_world", template=tests.template)
        target = tests.url_for(name)
        files = folder / "world.files"
        previous = os.environ.get("CLIENTBOOK_FILES")
        os.environ["CLIENTBOOK_FILES"] = str(files)
    else:
        name, target = None, folder / "world.db"
    db = open_database(target, create=True)
    try:
        users.register_first_user(db, config, "boss")
        admin = Context(db, config, Actor("boss", "administrator", GRANTS["administrator"]))
        ids = build_world(admin, folder)
        # a backup to restore, and a feed to ingest
        if backend == "sqlite":
            backup.backup_database(admin, folder / "saved.db")
        else:
            tests.snapshot(db)
    finally:
        db.close()
        if backend == "postgresql":
            if previous is None:
                os.environ.pop("CLIENTBOOK_FILES", None)
            else:
                os.environ["CLIENTBOOK_FILES"] = previous
    (folder / "feed.jsonl").write_text(json.dumps({"serial": "FREE-1", "type": "alarm"}) + "\n")
    return folder, ids, name


@pytest.fixture
def world(template, tmp_path, backend, request, monkeypatch, config):
    """The world as built, opened and bound; ``world.ctx(actor)`` acts in it."""
    folder, ids, database_name = template
    for name in ("world.db", "world.db.files", "saved.db", "saved.db.files", "feed.jsonl",
                 "import.csv", "world.files"):
        source = folder / name
        if source.exists():
            (shutil.copytree if source.is_dir() else shutil.copyfile)(source, tmp_path / name)
    ids = {**ids, "folder": tmp_path}
    if backend == "postgresql":
        tests = request.getfixturevalue("postgres_tests")
        monkeypatch.setenv("CLIENTBOOK_FILES", str(tmp_path / "world.files"))
        db = open_database(tests.url_for(database_name))
        tests.restore(db)  # what the test before changed, undone
    else:
        db = open_database(tmp_path / "world.db")
    yield dataclasses.make_dataclass("World", ["db", "config", "ids", "folder", "ctx"])(
        db, config, ids, tmp_path, lambda actor: Context(db, config, actor))
    db.close()


def fingerprint(world) -> tuple:
    """Every row of every table, and every stored or written file."""
    if getattr(world.db, "file", None) is None:  # PostgreSQL: through the world's connection
        rows = tuple((t, tuple(world.db.execute_sql(f'SELECT * FROM "{t}" ORDER BY 1').fetchall()))
                     for t in sorted(world.db.get_tables()))
    else:
        connection = sqlite3.connect(world.folder / "world.db")
        try:
            tables = [r[0] for r in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
            rows = tuple((t, tuple(connection.execute(f'SELECT * FROM "{t}"').fetchall()))
                         for t in tables)
        finally:
            connection.close()
    live = {"world.db", "world.db-wal", "world.db-shm"}  # read above, row by row
    files = tuple(sorted(str(p.relative_to(world.folder)) for p in world.folder.rglob("*")
                         if p.is_file() and p.name not in live))
    return rows, files


# ---------------------------------------------------------------- the actions

def needs(*permissions: str):
    return lambda granted: set(permissions) <= granted


def needs_any_of(first: str, *alternatives: str, also: tuple[str, ...] = ()):
    return lambda granted: set(also) <= granted and bool({first, *alternatives} & granted)


def _version(model, key):
    return model.get_by_id(key).version


# name -> (who may, what it does, whether it changes anything)
READS = {
    "get customer": (needs("customer.view"),
                     lambda c, i: customers.get_customer(c, i["target"])),
    "list groups": (needs("customer.view"), lambda c, i: customers.list_groups(c)),
    "delete impact": (needs("customer.view"),
                      lambda c, i: customers.delete_impact(c, i["target"])),
    "search customers": (needs("customer.view"),
                         lambda c, i: search.search_customers(c, "target")),
    "list contacts": (needs("contact.view"),
                      lambda c, i: contacts.list_contacts(c, i["target"])),
    "contact delete impact": (needs("contact.view"),
                              lambda c, i: contacts.contact_delete_impact(c, [i["kim"]])),
    "list documents": (needs("document.view"),
                       lambda c, i: documents.list_documents(c, i["target"])),
    "document file": (needs("document.view"),
                      lambda c, i: documents.document_file(c, i["document"])),
    "due reminders": (needs("document.view"),
                      lambda c, i: documents.due_reminders(c, date.today())),
    "assigned equipment": (needs("equipment.view"),
                           lambda c, i: equipment.assigned_equipment(c, i["target"])),
    "assignment history": (needs("equipment.view"),
                           lambda c, i: equipment.assignment_history(c, customer_id=i["target"])),
    "search unassigned": (needs("equipment.view"),
                          lambda c, i: equipment.search_unassigned_equipment(c, "free")),
    "open assignments": (needs("equipment.view"),
                         lambda c, i: equipment.open_assignments(c, i["target"])),
    "search equipment": (needs("equipment.view"), lambda c, i: equipment.search_equipment(c)),
    "equipment types": (needs("equipment.view"), lambda c, i: equipment.equipment_types(c)),
    "get equipment": (needs("equipment.view"),
                      lambda c, i: equipment.get_equipment(c, i["held"])),
    "current assignment": (needs("equipment.view"),
                           lambda c, i: equipment.current_assignment(c, i["held"])),
    "delete refusal": (needs("equipment.edit"),
                       lambda c, i: equipment.delete_refusal(c, i["held"])),
    "list events": (needs("equipment.view"),
                    lambda c, i: events.list_events(c, equipment_id=i["held"])),
    "machine events": (needs("equipment.view"),
                       lambda c, i: events.machine_events(c, i["held"])),
    "why nobody notified": (needs("equipment.view"), lambda c, i: events.why_nobody_notified(
        c, EquipmentEvent.get_by_id(i["event"]))),
    "list notifications": (needs("notify.send"), lambda c, i: outbox.list_notifications(c)),
    "outbox counts": (needs("notify.send"), lambda c, i: outbox.outbox_counts(c)),
    "notification statuses": (needs("notify.send"),
                              lambda c, i: outbox.notification_statuses(c, [i["failed"]])),
    "send due, dry run": (needs("notify.send"),
                          lambda c, i: outbox.send_due(c, SMTP, dry_run=True)),
    "get estimate": (needs("estimate.view"),
                     lambda c, i: estimates.get_estimate(c, i["estimate"])),
    "estimate by number": (needs("estimate.view"),
                           lambda c, i: estimates.get_estimate_by_number(c, i["number"])),
    "estimate lines": (needs("estimate.view"),
                       lambda c, i: estimates.estimate_lines(c, i["estimate"])),
    "search estimates": (needs("estimate.view"),
                         lambda c, i: estimates.search_estimates(c, "crane")),
    "estimates of a customer": (needs("estimate.view"),
                                lambda c, i: estimates.estimates_for_customer(c, i["target"])),
    "get project": (needs("project.view"), lambda c, i: projects.get_project(c, i["project"])),
    "list projects": (needs("project.view"), lambda c, i: projects.list_projects(c)),
    "contacts for a project": (needs("project.view", "contact.view"),
                               lambda c, i: projects.contacts_for_project(
                                   c, i["target"], "billing_contact")),
    "report by segment": (needs("customer.view", "contact.view", "equipment.view",
                                "estimate.view"), lambda c, i: reports.report_by(c, "segment")),
    "list users": (needs("user.manage"), lambda c, i: users.list_users(c)),
    "list import jobs": (needs("data.import"), lambda c, i: list_jobs(c)),
    "get import job": (needs("data.import"), lambda c, i: get_job(c, i["job"])),
    "may import customers": (needs("data.import", "customer.create"),
                             lambda c, i: check_permissions(c, "customers")),
    "may import equipment": (needs("data.import", "equipment.edit"),
                             lambda c, i: check_permissions(c, "equipment")),
    "export contacts": (needs("data.export", "contact.view", "customer.view"),
                        lambda c, i: export(c, "contacts", "csv", io.StringIO())),
    "export equipment": (needs("data.export", "equipment.view"),
                         lambda c, i: export(c, "equipment", "json", io.StringIO())),
    "check a backup": (needs("backup.restore"),
                       lambda c, i: backup.check_backup(c, here(i, "saved.db"))),
    "live counts": (needs("backup.restore"), lambda c, i: backup.live_counts(c)),
}

CHANGES = {
    "retire machine": (needs("equipment.edit"), lambda c, i: equipment.retire_equipment(
        c, i["free"], _version(Equipment, i["free"]))),
    "reinstate machine": (needs("equipment.edit"), lambda c, i: equipment.reinstate_equipment(
        c, i["old"], _version(Equipment, i["old"]))),
    "delete machine": (needs("equipment.edit"), lambda c, i: equipment.delete_equipment(
        c, i["unused"], _version(Equipment, i["unused"]))),
    "record event": (needs("event.record"), lambda c, i: events.record_event(
        c, equipment_id=i["held"], type="breakdown", message="Pump")),
    "ingest events": (needs("event.record"), lambda c, i: events.ingest_events(
        c, [json.dumps({"serial": "FREE-1", "type": "alarm"})])),
    "retry notifications": (needs("notify.send"),
                            lambda c, i: outbox.retry_notifications(c, [i["failed"]])),
    "create customer with contacts": (needs("customer.create", "contact.edit"),
                                      lambda c, i: customers.create_customer(c, CustomerDraft(
                                          name="New Co", contacts=(ContactDraft(name="Ann"),)))),
    "create customer from an estimate": (
        needs_any_of("customer.create", "customer.create_in_estimate", also=("estimate.edit",)),
        lambda c, i: customers.create_customer_in_estimate(c, CustomerDraft(
            name="Quoted Co", contacts=(ContactDraft(name="Bea", roles=("billing",)),)))),
    "create estimate": (needs("estimate.edit"), lambda c, i: estimates.create_estimate(
        c, EstimateDraft(customer_id=i["spare"], title="Survey",
                         lines=(LineDraft("Visit", "1", "80"),)))),
    "update estimate": (needs("estimate.edit"), lambda c, i: estimates.update_estimate(
        c, i["estimate"], _version(Estimate, i["estimate"]), EstimateDraft(
            customer_id=i["target"], title="Crane hire, 3 days",
            lines=(LineDraft("Crane", "3", "100"),)))),
    "estimate status": (needs("estimate.edit"), lambda c, i: estimates.set_status(
        c, i["estimate"], _version(Estimate, i["estimate"]), "sent")),
    "delete estimate": (needs("estimate.edit"),
                        lambda c, i: estimates.delete_estimate(c, i["estimate"])),
    "create project": (needs("project.edit"), lambda c, i: projects.create_project(
        c, i["spare"], ProjectDraft(name="Harbour"))),
    "update project": (needs("project.edit"), lambda c, i: projects.update_project(
        c, i["project"], _version(Project, i["project"]),
        ProjectDraft(name="Bridge, phase 2", billing_contact_id=i["kim"]))),
    "close project": (needs("project.edit"), lambda c, i: projects.close_project(
        c, i["project"], _version(Project, i["project"]))),
    "reopen project": (needs("project.edit"), lambda c, i: projects.reopen_project(
        c, i["closed"], _version(Project, i["closed"]))),
    "delete project": (needs("project.edit"),
                       lambda c, i: projects.delete_project(c, i["project"])),
    "import customers": (needs("data.import", "customer.create"), lambda c, i: import_file(
        c, "customers", here(i, "import.csv"),
        options=ImportOptions(workers=0, resume=False))),
    "undo import": (needs("data.import", "customer.create"),
                    lambda c, i: undo_import(c, i["job"])),
    "export to a file": (needs("data.export", "customer.view"), lambda c, i: export_to_path(
        c, "customers", "json", here(i, "out.json"))),
    "back up": (needs("data.export"),
                lambda c, i: backup.backup_database(c, here(i, "copy.db"))),
    "restore": (needs("backup.restore"),
                lambda c, i: backup.restore_database(c, here(i, "saved.db"))),
    # steps of other services' transactions, public and so checked like them
    "store a document file": (needs("document.edit"), lambda c, i: documents.store_file(
        c, here(i, "import.csv"))),
    "queue an event notice": (needs("event.record"), lambda c, i: outbox.enqueue(
        c, kind="event", customer=Customer.get_by_id(i["target"]),
        contact=Contact.get_by_id(i["kim"]), event=EquipmentEvent.get_by_id(i["event"]),
        values=dict.fromkeys(("event_type", "occurred_at", "message", "serial", "machine_name",
                              "make", "model", "machine"), "x"))),
    "queue a welcome": (needs_any_of("customer.create", "customer.create_in_estimate"),
                        lambda c, i: outbox.enqueue(
                            c, kind="welcome", customer=Customer.get_by_id(i["target"]),
                            contact=Contact.get_by_id(i["kim"]), values={})),
    "notify contacts of an event": (needs("event.record"), lambda c, i: events.notify_contacts(
        c, EquipmentEvent.get_by_id(i["event"]), Equipment.get_by_id(i["held"]))),
    "refresh estimate copies": (
        needs_any_of("customer.edit", "contact.edit", "customer.create"),
        lambda c, i: estimates.refresh_customer_copies(c, [i["target"]])),
    "unlink estimates of a customer": (needs("customer.delete"),
                                       lambda c, i: estimates.unlink_customer(c, i["target"])),
    "delete projects of a customer": (needs("customer.delete"), lambda c, i: (
        projects.delete_customer_projects(c, i["target"]))),
    "clear contacts from projects": (needs("contact.edit"),
                                     lambda c, i: projects.clear_contacts(c, [i["kim"]])),
}
ACTIONS = {**READS, **CHANGES}

# Public functions that take a context and need no permission: blob_path and store_dir only
# compute where a digest's file / the store lives (reading it is document_file's, which
# checks document.view; writing, store_file's, which checks document.edit).
HELPERS = {"documents.blob_path", "documents.store_dir"}
# Which service function each action calls (the coverage check below reads it).
CALLS = {
    "customers": {"get_customer", "list_groups", "delete_impact", "create_customer",
                  "create_customer_in_estimate", "update_customer", "delete_customer"},
    "contacts": {"list_contacts", "contact_delete_impact", "add_contact", "update_contact",
                 "delete_contacts"},
    "documents": {"list_documents", "document_file", "due_reminders", "add_document",
                  "update_document", "delete_document", "store_file"},
    "equipment": {"assigned_equipment", "assignment_history", "search_unassigned_equipment",
                  "open_assignments", "search_equipment", "equipment_types", "get_equipment",
                  "current_assignment", "delete_refusal", "retire_equipment",
                  "reinstate_equipment", "delete_equipment", "add_equipment",
                  "update_equipment", "assign_equipment", "unassign_equipment"},
    "events": {"list_events", "machine_events", "why_nobody_notified", "record_event",
               "ingest_events", "notify_contacts"},
    "outbox": {"list_notifications", "outbox_counts", "notification_statuses", "send_due",
               "retry_notifications", "enqueue"},
    "estimates": {"get_estimate", "get_estimate_by_number", "estimate_lines", "search_estimates",
                  "estimates_for_customer", "create_estimate", "update_estimate", "set_status",
                  "delete_estimate", "refresh_customer_copies", "unlink_customer"},
    "projects": {"get_project", "list_projects", "contacts_for_project", "create_project",
                 "update_project", "close_project", "reopen_project", "delete_project",
                 "delete_customer_projects", "clear_contacts"},
    "reports": {"report_by"},
    "search": {"search_customers"},
    "users": {"list_users", "add_user", "set_role", "disable_user", "enable_user"},
}


def test_every_public_service_function_is_called_here_or_in_the_role_matrix():
    """A new service function taking a context must join a table (or HELPERS)."""
    import inspect

    modules = {"customers": customers, "contacts": contacts, "documents": documents,
               "equipment": equipment, "events": events, "outbox": outbox,
               "estimates": estimates, "projects": projects, "reports": reports,
               "search": search, "users": users}
    missing = []
    for name, module in modules.items():
        for function_name, function in inspect.getmembers(module, inspect.isfunction):
            if function.__module__ != module.__name__ or function_name.startswith("_"):
                continue
            if list(inspect.signature(function).parameters)[:1] != ["ctx"]:
                continue
            key = f"{name}.{function_name}"
            if function_name not in CALLS.get(name, set()) and key not in HELPERS:
                missing.append(key)
    assert not missing
    assert {a for a in role_matrix.ACTIONS} <= set(role_matrix.EXPECTED["administrator"])


# ---------------------------------------------------------------- running them


def act(world, actor: Actor, action: str, allowed: bool) -> None:
    may, perform = ACTIONS[action]
    before = fingerprint(world)
    audits = AuditEvent.select().count()
    if allowed:
        perform(world.ctx(actor), world.ids)
        if action in CHANGES:
            assert fingerprint(world) != before, f"{action} changed nothing"
            if AuditEvent.select().count() > audits:
                assert AuditEvent.select().order_by(AuditEvent.id.desc()).get().login == (
                    actor.login)
        else:
            assert fingerprint(world) == before, f"reading ({action}) changed something"
        return
    with pytest.raises(PermissionDenied) as caught:
        perform(world.ctx(actor), world.ids)
    assert caught.value.permission not in actor.permissions
    assert caught.value.login == actor.login and actor.login in str(caught.value)
    assert fingerprint(world) == before, f"refused {action} left something behind"


def _actions(names) -> list:
    return [pytest.param(name, marks=pytest.mark.sqlite_only) if name in SQLITE_ONLY_ACTIONS
            else name for name in names]


@pytest.mark.parametrize("action", _actions(ACTIONS))
@pytest.mark.parametrize("role", ROLES)
def test_each_role_may_exactly_what_its_grants_say(world, role, action):
    granted = GRANTS[role]
    act(world, Actor(f"{role}-login", role, granted), action, ACTIONS[action][0](granted))


def test_the_expectations_are_not_vacuous():
    """Every action is allowed to someone and refused to someone."""
    for action, (may, _perform) in ACTIONS.items():
        verdicts = {role: may(GRANTS[role]) for role in ROLES}
        assert verdicts["administrator"], action
        assert not may(frozenset()), action
    assert sum(not may(GRANTS["limited"]) for may, _p in ACTIONS.values()) > 20


NOBODY = Actor("nobody", "custom", frozenset())


@pytest.mark.parametrize("action", _actions([*ACTIONS, *role_matrix.ACTIONS]))
def test_an_actor_granted_nothing_is_refused_everything(world, action):
    """A site's role with ``grants: []``: no service may do anything for it."""
    if action in ACTIONS:
        act(world, NOBODY, action, allowed=False)
        return
    before = fingerprint(world)
    with pytest.raises(PermissionDenied):
        role_matrix.ACTIONS[action][1](world.ctx(NOBODY), _matrix_world(world))
    assert fingerprint(world) == before


def _matrix_world(world):
    """The objects tests/test_permissions.py's actions expect, from this world."""
    from tui.domain.models import AdminDocument, Contact, Customer

    ids = world.ids
    return dataclasses.make_dataclass("W", ["customer", "contact", "held", "free", "paper",
                                            "document"])(
        Customer.get_by_id(ids["target"]), Contact.get_by_id(ids["kim"]),
        Equipment.get_by_id(ids["held"]), Equipment.get_by_id(ids["free"]),
        world.folder / "import.csv", AdminDocument.get_by_id(ids["document"]))


# ---------------------------------------------------------------- who is at the keyboard


def test_an_unknown_login_acts_as_the_default_role_everywhere(world):
    """unknown_logins: default -> the login acts as default_role (limited), unregistered."""
    assert world.config.unknown_logins == "default" and world.config.default_role == "limited"
    actor = users.resolve_actor(world.config, "stranger")
    assert (actor.login, actor.role, actor.registered) == ("stranger", "limited", False)
    for action, (may, _perform) in ACTIONS.items():
        act(world, actor, action, may(GRANTS["limited"]))
    for action, (_permission, perform) in role_matrix.ACTIONS.items():
        before = fingerprint(world)
        with pytest.raises(PermissionDenied):
            perform(world.ctx(actor), _matrix_world(world))
        assert fingerprint(world) == before, action


def test_an_unknown_login_is_refused_at_the_door_when_the_site_says_so(world):
    strict = dataclasses.replace(world.config, unknown_logins="refuse")
    before = fingerprint(world)
    with pytest.raises(IdentityRefused, match="stranger is not a user of this database"):
        users.resolve_actor(strict, "stranger")
    assert fingerprint(world) == before


def test_a_disabled_user_is_refused_at_the_door(world):
    with pytest.raises(IdentityRefused, match="gone is disabled"):
        users.resolve_actor(world.config, "gone")
    # enabled again, the same login gets its role back
    admin = world.ctx(Actor("boss", "administrator", GRANTS["administrator"]))
    users.enable_user(admin, "gone")
    assert users.resolve_actor(world.config, "gone").role == "account_owner"


def test_a_session_opened_before_its_user_was_disabled_can_no_longer_change_anything(world):
    admin = world.ctx(Actor("boss", "administrator", GRANTS["administrator"]))
    users.set_role(admin, "someone", "account_owner")
    session = world.ctx(users.resolve_actor(world.config, "someone"))  # opened now
    customers.create_customer(session, CustomerDraft(name="Office Hours Ltd"))  # allowed
    users.disable_user(admin, "someone")
    before = fingerprint(world)
    with pytest.raises(PermissionDenied, match="someone was disabled after this session") as caught:
        customers.create_customer(session, CustomerDraft(name="After hours Ltd"))
    assert caught.value.login == "someone" and caught.value.permission == "customer.create"
    assert fingerprint(world) == before
    users.enable_user(admin, "someone")  # enabled again: the open session works again
    customers.create_customer(session, CustomerDraft(name="Back again Ltd"))


def test_a_session_whose_user_was_demoted_loses_what_the_new_role_lacks(world):
    admin = world.ctx(Actor("boss", "administrator", GRANTS["administrator"]))
    users.set_role(admin, "someone", "account_owner")
    session = world.ctx(users.resolve_actor(world.config, "someone"))
    users.set_role(admin, "someone", "estimator")
    before = fingerprint(world)
    with pytest.raises(PermissionDenied, match="role became estimator") as caught:
        customers.create_customer(session, CustomerDraft(name="Demoted Ltd"))
    assert caught.value.permission == "customer.create"
    with pytest.raises(PermissionDenied, match="role became estimator"):  # every write(), not one
        documents.add_document(session, world.ids["target"], "Late", "contract")
    assert fingerprint(world) == before
    # what both roles grant still works: estimator and account owner both edit estimates
    estimates.create_estimate(session, EstimateDraft(
        customer_id=world.ids["spare"], title="Still mine", lines=(LineDraft("Visit", "1", "5"),)))
    # and a promotion is not taken up by the open session: it acts as it was opened
    users.set_role(admin, "someone", "administrator")
    with pytest.raises(PermissionDenied):
        users.add_user(session, "newcomer", "limited")


def test_a_role_the_configuration_no_longer_defines_changes_nothing(world):
    session = world.ctx(Actor("someone", "limited", GRANTS["account_owner"]))
    User.update(role="retired_role").where(User.login == "someone").execute()
    before = fingerprint(world)
    with pytest.raises(PermissionDenied, match="retired_role, which the configuration does not"):
        customers.create_customer(session, CustomerDraft(name="Ghost Ltd"))
    assert fingerprint(world) == before


def test_a_login_the_user_table_does_not_hold_acts_as_its_session_was_given(world):
    """No row to re-read: the actor stands as resolved (unknown_logins: default)."""
    stranger = Actor("stranger", "account_owner", GRANTS["account_owner"], registered=False)
    assert not User.select().where(User.login == "stranger").exists()
    customers.create_customer(world.ctx(stranger), CustomerDraft(name="Walk-in Ltd"))
    assert AuditEvent.select().order_by(AuditEvent.id.desc()).get().login == "stranger"


def test_an_import_checks_every_permission_it_needs_at_each_batch(world):
    """A user whose role keeps data.import but loses customer.create (a site's own role) is
    stopped at the next batch: write() re-checks all the import's permissions."""
    from tui.domain.config import Role

    importer = Role("importer", "Importer", {}, ("data.import",), frozenset({"data.import"}))
    config = dataclasses.replace(world.config, roles={**world.config.roles, "importer": importer})
    admin = Context(world.db, config, Actor("boss", "administrator", GRANTS["administrator"]))
    users.set_role(admin, "someone", "account_owner")
    session = Context(world.db, config, users.resolve_actor(config, "someone"))
    rows = world.folder / "many.csv"
    rows.write_text("Name,Country\n" + "".join(f"Firm {n},FR\n" for n in range(30)))
    demoted = []

    def demote_after_the_first_batch(progress):
        if not demoted:
            users.set_role(admin, "someone", "importer")
            demoted.append(progress)

    with pytest.raises(PermissionDenied, match="role became importer") as caught:
        import_file(session, "customers", rows, options=ImportOptions(
            workers=0, batch_size=10), progress=demote_after_the_first_batch)
    assert caught.value.permission == "customer.create"
    imported = Customer.select().where(Customer.name.startswith("Firm ")).count()
    assert imported == 10, "only the batch before the change"


def test_storing_a_file_needs_the_document_permission(world):
    before = fingerprint(world)
    with pytest.raises(PermissionDenied):
        documents.store_file(world.ctx(NOBODY), world.folder / "import.csv")
    assert fingerprint(world) == before
