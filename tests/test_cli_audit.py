"""``clientbook audit`` and ``clientbook customers restore``: the installed command, run as a
subprocess.

The database is made by ``clientbook init`` (so the command acts as the OS login of this
test, its administrator); the history in it is written in-process, partly as other logins,
with the times set by hand so ``--since`` has something to cut.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

from tests.conftest import ContactDraft, CustomerDraft, actor_for
from tests.test_cli import CLIENTBOOK, ME, as_json, assert_error, assert_ok, assert_usage, \
    clientbook
from tui.domain.config import load_config
from tui.domain.context import Actor, Context
from tui.domain.database import open_database
from tui.domain.models import AuditEvent
from tui.domain.services.customers import (
    CustomerDraft as Draft,
    create_customer,
    delete_customer,
    get_customer,
    update_customer,
)
from tui.domain.services.documents import add_document
from tui.domain.services.equipment import EquipmentDraft, add_equipment, assign_equipment

pytestmark = pytest.mark.skipif(not CLIENTBOOK.is_file(),
                                reason="the clientbook console script is not installed")


@pytest.fixture
def history(tmp_path: Path) -> dict:
    """Acme (edited by anna in March), Birch (deleted in April, with a contact, a document
    and a machine that Acme holds since), both created in January by me."""
    home = tmp_path / "home"
    home.mkdir()
    path = home / "audit.db"
    assert_ok(clientbook("init", db=path, home=home))
    config = load_config()
    db = open_database(path)
    try:
        me = Context(db, config, actor_for(config, "administrator", ME))
        anna = Context(db, config, Actor("anna", "administrator", me.actor.permissions, "anna"))
        acme = create_customer(me, CustomerDraft(name="Acme Rental", billing_country="DK",
                                                 billing_city="Aarhus"))
        birch = create_customer(me, CustomerDraft(
            name="Birch Hire", billing_country="DK", groups=("VIP",),
            contacts=(ContactDraft(name="Bo Birk", email="bo@birch.example"),)))
        create_customer(me, CustomerDraft(name="Cedar Tools", billing_country="DK"))
        paper = tmp_path / "insurance.txt"
        paper.write_text("policy 42", encoding="utf-8")
        add_document(me, birch.id, "Insurance", "insurance", file=paper)
        machine = add_equipment(me, EquipmentDraft(serial="LIFT-7", name="Lift"))
        assign_equipment(me, birch.id, [machine.id])
        AuditEvent.update(at=datetime(2026, 1, 10, 9, 0)).execute()
        current = get_customer(me, acme.id)
        update_customer(anna, acme.id, current.version, Draft(
            **{**Draft.from_customer(current).__dict__, "name": "Acme Rental Nord",
               "billing_city": "Aalborg"}))
        AuditEvent.update(at=datetime(2026, 3, 2, 14, 30)).where(
            AuditEvent.at > datetime(2026, 1, 11)).execute()
        delete_customer(me, birch.id)
        assign_equipment(me, acme.id, [machine.id])
        AuditEvent.update(at=datetime(2026, 4, 7, 8, 15)).where(
            AuditEvent.at > datetime(2026, 3, 3)).execute()
    finally:
        db.close()
    return {"db": path, "acme": acme.id, "birch": birch.id}


def run(history, *args, **env):
    return clientbook(*args, db=history["db"], home=history["db"].parent, **env)


def test_audit_lists_who_when_and_each_changed_field(history):
    out = assert_ok(run(history, "audit", "--customer", str(history["acme"]))).stdout
    lines = out.splitlines()
    assert lines[0].split() == ["#", "When", "(UTC)", "Who", "What", "Changes"]
    update = next(i for i, line in enumerate(lines) if "Changed customer Acme Rental" in line)
    assert "3/2/2026 14:30" in lines[update] and " anna " in lines[update]
    assert "Name: Acme Rental → Acme Rental Nord" in lines[update]
    assert "Billing city: Aarhus → Aalborg" in lines[update + 1]
    assert "Shipping city: Aarhus → Aalborg" in lines[update + 2]
    assert "Assigned LIFT-7 to Acme Rental Nord" in out
    assert lines[-1] == "1–3 of 3 changes"


def test_audit_json_and_filters(history):
    def ids(*args):
        page = as_json(run(history, "audit", "--json", *args))
        return page, [(e["action"], e["entity"], e["login"]) for e in page["events"]]

    page, everything = ids()
    # init's user, 3 customers, a group, a document, a machine, 2 assignments, an edit, a delete
    assert page["total"] == len(everything) == 11
    _, by_anna = ids("--user", "anna")
    assert by_anna == [("update", "customer", "anna")]
    _, since = ids("--since", "2026-04-01")
    assert since == [("assign", "equipment", ME), ("delete", "customer", ME)]
    assert all(e["at"] >= "2026-04-01" for e in as_json(run(
        history, "audit", "--json", "--since", "2026-04-01"))["events"])
    _, since_time = ids("--since", "2026-03-02T14:30Z")
    assert ("update", "customer", "anna") in since_time and len(since_time) == len(since) + 1
    page, birch = ids("--customer", str(history["birch"]))
    deletion = next(e for e in page["events"] if e["action"] == "delete")
    changes = {c["field"]: c for c in deletion["changes"]}
    assert changes["name"] == {"field": "name", "label": "Name", "before": "Birch Hire",
                               "after": None}
    assert [c["name"] for c in changes["contacts"]["before"]] == ["Bo Birk"]
    assert changes["groups"]["before"] == ["VIP"]
    page, limited = ids("--limit", "2", "--offset", "1")
    assert (page["total"], page["offset"], len(limited)) == (11, 1, 2)
    assert limited == everything[1:3]
    _, deletions = ids("--entity", "customer", "--action", "delete")
    assert deletions == [("delete", "customer", ME)]


def test_audit_bad_input(history):
    assert_error(run(history, "audit", "--since", "last week"), "--since", "last week")
    for args in (("--limit", "0"), ("--customer", "x"), ("--offset", "-1"), ("--bogus",)):
        assert_usage(run(history, "audit", *args))
    out = assert_ok(run(history, "audit", "--user", "nobody")).stdout
    assert out.strip() == "No change matches."
    out = assert_ok(run(history, "audit", "--offset", "100")).stdout
    assert out.strip() == "No change after the first 100 of 11."


def test_audit_is_refused_without_audit_view(history):
    with sqlite3.connect(history["db"]) as connection:
        connection.execute("UPDATE app_user SET role = 'limited' WHERE login = ?", [ME])
    connection.close()
    assert_error(run(history, "audit"), "not allowed to view the audit trail")
    assert_error(run(history, "customers", "restore", str(history["birch"])),
                 "not allowed to view the audit trail")


def test_restore_round_trip_and_twice(history):
    birch = str(history["birch"])
    dry = assert_ok(run(history, "customers", "restore", birch, "--dry-run")).stdout
    assert f"Birch Hire (#{birch})" in dry
    assert "1 contact, 1 document, 0 projects" in dry
    assert "LIFT-7 is held by Acme Rental Nord" in dry
    assert "Nothing was changed" in dry
    assert as_json(run(history, "customers", "list", "--json"))["total"] == 2

    out = assert_ok(run(history, "customers", "restore", birch)).stdout
    assert out.splitlines()[0] == (
        f"Restored Birch Hire as #{birch}: 1 contact, 1 document, 0 projects.")
    assert "Groups: VIP." in out
    assert ("Machines are not given back: LIFT-7 is held by Acme Rental Nord "
            f"(#{history['acme']})") in out
    listing = as_json(run(history, "customers", "list", "--json", "--search", "Birch"))
    assert [(c["id"], c["contacts"], c["machines"]) for c in listing["customers"]] == [
        (int(birch), 1, 0)]
    trail = as_json(run(history, "audit", "--json", "--customer", birch))["events"]
    assert [e["action"] for e in trail][:2] == ["restore", "delete"]

    line = assert_error(run(history, "customers", "restore", birch), "already restored")
    assert f"by {ME}" in line
    assert_error(run(history, "customers", "restore", birch, "--dry-run"), "already restored")


def test_restore_refusals(history):
    assert_error(run(history, "customers", "restore", str(history["acme"])), "never deleted")
    assert_error(run(history, "customers", "restore", "99"), "No deleted customer 99")
    deletion = as_json(run(history, "audit", "--json", "--action", "delete"))["events"][0]
    assert_error(run(history, "customers", "restore", str(history["acme"]), "--event",
                     str(deletion["id"])), f"is of customer #{history['birch']}")
    creation = as_json(run(history, "audit", "--json", "--action", "create", "--entity",
                           "customer"))["events"][0]
    assert_error(run(history, "customers", "restore", "1", "--event", str(creation["id"])),
                 "not a customer's deletion")
    assert_usage(run(history, "customers", "restore"))
    assert_usage(run(history, "customers", "restore", "abc"))


def test_restore_of_a_lookalike_needs_allow_duplicate(history):
    config = load_config()
    db = open_database(history["db"])
    try:
        me = Context(db, config, actor_for(config, "administrator", ME))
        create_customer(me, CustomerDraft(name="Birch Hire ApS", billing_country="DK"))
    finally:
        db.close()
    birch = str(history["birch"])
    assert_error(run(history, "customers", "restore", birch), "Possible duplicate",
                 "--allow-duplicate")
    out = assert_ok(run(history, "customers", "restore", birch, "--allow-duplicate")).stdout
    assert out.startswith(f"Restored Birch Hire as #{birch}")


def test_audit_help_names_the_filters(history):
    out = assert_ok(run(history, "audit", "--help")).stdout
    for option in ("--customer", "--user", "--since", "--json", "--limit"):
        assert option in out
    out = assert_ok(run(history, "customers", "restore", "--help")).stdout
    assert "audit.view" in out and "--allow-duplicate" in out
    json.loads(assert_ok(run(history, "audit", "--json", "--limit", "1")).stdout)
