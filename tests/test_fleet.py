"""The equipment register (E1, E3): search, filters, sorts, paging, retire, reinstate, delete,
and the one-open-assignment rule decided by the database when two operators race."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from dataclasses import replace
from pathlib import Path

import peewee
import pytest

from tests.conftest import ContactDraft
from tui.domain.context import Actor, Context
from tui.domain.dialect import sql
from tui.domain.errors import (
    AlreadyAssigned,
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from tui.domain.models import Assignment, AuditEvent, Equipment, EquipmentEvent
from tui.domain.services.customers import CustomerDraft, delete_customer, update_customer
from tui.domain.services.equipment import (
    FLEET_SORTS,
    EquipmentDraft,
    add_equipment,
    assign_equipment,
    assignment_history,
    current_assignment,
    delete_equipment,
    delete_refusal,
    equipment_types,
    get_equipment,
    reinstate_equipment,
    retire_equipment,
    search_equipment,
    search_unassigned_equipment,
    unassign_equipment,
    update_equipment,
)
from tui.domain.services.events import machine_events, record_event, why_nobody_notified

pytestmark = pytest.mark.both_backends

READ_ONLY_ROLES = ("limited", "account_owner", "estimator")


def serials(page) -> list[str]:
    return [row.serial for row in page.rows]


@pytest.fixture
def fleet(admin, make_customer, make_machine):
    """Six machines: two held by two customers, one retired, three free; varied columns."""
    nordic = make_customer("Nordic Lifting A/S")
    batir = make_customer("Bâtir Rental SARL", billing_country="FR")
    machines = {
        "CAT-320-0042": make_machine("CAT-320-0042", name="Excavator 20 t", make="Caterpillar",
                                     model="320", type="excavator", year=2019),
        "JCB-540-0117": make_machine("JCB-540-0117", name="Telehandler", make="JCB",
                                     model="540-140", type="telehandler", year=2021),
        "GEN-XAS-0009": make_machine("GEN-XAS-0009", name="Generator", make="Atlas Copco",
                                     model="QAS 60", type="generator", year=2016),
        "LFT-GS19-03": make_machine("LFT-GS19-03", name="Scissor lift", make="Genie",
                                    model="GS-1930", type="lift"),
        "CMP-XAS-0021": make_machine("CMP-XAS-0021", name="Compressor 50% duty",
                                     make="Atlas Copco", model="XAS_58", type="compressor",
                                     year=2023),
        "OLD-0001": make_machine("OLD-0001", name="Old dumper", make="Thwaites", type="dumper",
                                 year=2001),
    }
    assign_equipment(admin, nordic.id, [machines["JCB-540-0117"].id])
    assign_equipment(admin, batir.id, [machines["CAT-320-0042"].id])
    old = machines["OLD-0001"]
    retire_equipment(admin, old.id, old.version)
    return {"nordic": nordic, "batir": batir, **machines}


# -- search ---------------------------------------------------------------------------------

def test_empty_search_lists_the_working_fleet_by_serial_with_holders(admin, fleet):
    page = search_equipment(admin)
    assert serials(page) == ["CAT-320-0042", "CMP-XAS-0021", "GEN-XAS-0009", "JCB-540-0117",
                             "LFT-GS19-03"]
    assert page.total == 5 and page.offset == 0
    by_serial = {row.serial: row for row in page.rows}
    cat = by_serial["CAT-320-0042"]
    assert (cat.holder_id, cat.holder_name) == (fleet["batir"].id, "Bâtir Rental SARL")
    assert cat.held_since is not None and not cat.retired
    assert (cat.name, cat.make, cat.model, cat.type, cat.year) == (
        "Excavator 20 t", "Caterpillar", "320", "excavator", 2019)
    free = by_serial["LFT-GS19-03"]
    assert (free.holder_id, free.holder_name, free.held_since, free.year) == (
        None, None, None, None)


@pytest.mark.parametrize("text, expected", [
    ("cat-320", ["CAT-320-0042"]),            # serial, any case
    ("telehandler", ["JCB-540-0117"]),        # name (and type)
    ("atlas", ["CMP-XAS-0021", "GEN-XAS-0009"]),  # make
    ("qas", ["GEN-XAS-0009"]),                # model
    ("lift", ["LFT-GS19-03", "JCB-540-0117"]),  # type "lift" + holder "Nordic Lifting"
    ("2021", ["JCB-540-0117"]),               # year
    ("bâtir", ["CAT-320-0042"]),              # holder name
    ("nordic", ["JCB-540-0117"]),
    ("atlas 2016", ["GEN-XAS-0009"]),         # every word must match
    ("atlas nordic", []),
    ("50%", ["CMP-XAS-0021"]),                # % is a plain character
    ("%", ["CMP-XAS-0021"]),
    ("xas_", ["CMP-XAS-0021"]),               # _ too: "XAS-" does not match "xas_"
    ("_", ["CMP-XAS-0021"]),
    ("\\", []),
    ("dumper", []),                           # retired: not in the working fleet
])
def test_search_matches_every_column_literally(admin, fleet, text, expected):
    page = search_equipment(admin, text)
    assert sorted(serials(page)) == sorted(expected)
    assert page.total == len(expected)


def test_search_takes_backslashes_literally(admin, make_machine):
    make_machine("BS-1", name="Share \\\\yard\\pump")
    make_machine("BS-2", name="yard pump")
    assert serials(search_equipment(admin, "\\")) == ["BS-1"]
    assert serials(search_equipment(admin, "\\yard\\p")) == ["BS-1"]
    assert serials(search_equipment(admin, "yard")) == ["BS-1", "BS-2"]


def test_control_characters_in_search_words_separate_words_and_never_raise(admin, fleet):
    # PostgreSQL refuses a NUL in any parameter; no stored text holds a control character.
    assert serials(search_equipment(admin, "atlas\x002016")) == ["GEN-XAS-0009"]
    assert serials(search_equipment(admin, "\x00\x1b\x9b")) == serials(search_equipment(admin))
    assert search_equipment(admin, "", type="li\x00ft").total == 0
    assert search_equipment(admin, "nordic\x00", sort="holder").total == 1
    assert search_unassigned_equipment(admin, "\x00").total == len(
        search_unassigned_equipment(admin).rows)
    assert search_unassigned_equipment(admin, "xas\x00zzz").total == 0


def test_short_and_long_words_match_alike(admin, db, make_customer, make_machine):
    """PostgreSQL tests words of 3 characters or more through its trigram indexes and shorter
    ones row by row (see _postgres_word); SQLite row by row: the same machines either way."""
    make_machine("YR-1", name="Pump_50%", make="Grundfos", year=2019)
    make_machine("YR-2", name="Pump 50", make="Grundfos", year=2001)
    held = make_machine("HLD-1", name="Hoist")
    orphan = make_machine("ORP-1", name="Winch")
    assign_equipment(admin, make_customer("Ghost Lifting").id, [held.id])
    # An open assignment whose customer row is gone: its copy of the name is the holder.
    db.execute_sql(sql(db, "INSERT INTO assignment (equipment_id, customer_id, customer_name,"
                           " assigned_at, assigned_by) VALUES (?, 999999, 'Phantom Hire',"
                           " '2026-01-01', 'x')"), [orphan.id])
    cases = {
        "2019": ["YR-1"], "201": ["YR-1"], "20": ["YR-1", "YR-2"], "9": ["YR-1"],
        "p_5": ["YR-1"], "p%5": [], "mp_50%": ["YR-1"], "_5": ["YR-1"], "%": ["YR-1"],
        "GRUNDFOS": ["YR-1", "YR-2"], "gr": ["YR-1", "YR-2"],
        "ghost": ["HLD-1"], "GH": ["HLD-1"], "phantom": ["ORP-1"], "ph": ["ORP-1"],
        "hire": ["ORP-1"], "lifting 2019": [], "pump 2001": ["YR-2"],
    }
    for text, expected in cases.items():
        page = search_equipment(admin, text)
        assert (serials(page), page.total) == (expected, len(expected)), text
    assert [r.holder_name for r in search_equipment(admin, "phantom").rows] == ["Phantom Hire"]


def test_search_uses_the_holders_current_name(admin, fleet):
    nordic = fleet["nordic"]
    draft = replace(CustomerDraft.from_customer(nordic), name="Nordic Hoist A/S")
    update_customer(admin, nordic.id, nordic.version, draft)
    assert search_equipment(admin, "JCB").rows[0].holder_name == "Nordic Hoist A/S"
    assert serials(search_equipment(admin, "hoist")) == ["JCB-540-0117"]
    assert serials(search_equipment(admin, "nordic lifting")) == []


def test_holding_filters(admin, fleet):
    assert serials(search_equipment(admin, holding="assigned")) == ["CAT-320-0042",
                                                                    "JCB-540-0117"]
    assert serials(search_equipment(admin, holding="unassigned")) == [
        "CMP-XAS-0021", "GEN-XAS-0009", "LFT-GS19-03"]
    retired = search_equipment(admin, holding="retired")
    assert serials(retired) == ["OLD-0001"]
    assert retired.rows[0].retired and retired.rows[0].holder_name is None
    assert serials(search_equipment(admin, "dumper", holding="retired")) == ["OLD-0001"]
    with pytest.raises(ValidationError) as error:
        search_equipment(admin, holding="lost")
    assert "holding" in error.value.errors


def test_type_filter_and_the_types_offered(admin, fleet):
    assert serials(search_equipment(admin, type="generator")) == ["GEN-XAS-0009"]
    assert serials(search_equipment(admin, type="dumper")) == []
    assert serials(search_equipment(admin, type="dumper", holding="retired")) == ["OLD-0001"]
    assert serials(search_equipment(admin, "atlas", type="compressor")) == ["CMP-XAS-0021"]
    Equipment.update(type="").where(Equipment.serial == "LFT-GS19-03").execute()
    assert equipment_types(admin) == ["compressor", "dumper", "excavator", "generator",
                                      "telehandler"]


@pytest.mark.parametrize("sort, expected", [
    ("serial", ["CAT-320-0042", "CMP-XAS-0021", "GEN-XAS-0009", "JCB-540-0117",
                "LFT-GS19-03"]),
    ("name", ["CMP-XAS-0021", "CAT-320-0042", "GEN-XAS-0009", "LFT-GS19-03",
              "JCB-540-0117"]),
    ("make", ["GEN-XAS-0009", "CMP-XAS-0021", "CAT-320-0042", "LFT-GS19-03",
              "JCB-540-0117"]),  # Atlas Copco QAS before Atlas Copco XAS
    ("type", ["CMP-XAS-0021", "CAT-320-0042", "GEN-XAS-0009", "LFT-GS19-03",
              "JCB-540-0117"]),
    ("year", ["GEN-XAS-0009", "CAT-320-0042", "JCB-540-0117", "CMP-XAS-0021",
              "LFT-GS19-03"]),  # no year last
    ("holder", ["CAT-320-0042", "JCB-540-0117", "CMP-XAS-0021", "GEN-XAS-0009",
                "LFT-GS19-03"]),  # Bâtir, Nordic, then the free ones by serial
])
def test_sorts(admin, fleet, sort, expected):
    assert serials(search_equipment(admin, sort=sort)) == expected


def test_sort_ties_break_by_serial_and_unknown_sort_is_refused(admin, make_machine):
    for serial in ("B-2", "A-9", "C-1", "A-1"):
        make_machine(serial, make="Same", model="Same", type="same", name="same", year=2020)
    for sort in FLEET_SORTS:
        assert serials(search_equipment(admin, sort=sort)) == ["A-1", "A-9", "B-2", "C-1"]
    with pytest.raises(ValidationError):
        search_equipment(admin, sort="colour")


def test_paging_in_sql(admin, make_machine):
    for index in range(25):
        make_machine(f"M-{index:03d}", type="lift")
    first = search_equipment(admin, limit=10)
    second = search_equipment(admin, limit=10, offset=10)
    last = search_equipment(admin, limit=10, offset=20)
    assert (first.total, second.total, last.total) == (25, 25, 25)
    assert serials(first) == [f"M-{i:03d}" for i in range(10)]
    assert serials(second) == [f"M-{i:03d}" for i in range(10, 20)]
    assert serials(last) == [f"M-{i:03d}" for i in range(20, 25)] and last.offset == 20
    assert search_equipment(admin, limit=10, offset=30).rows == []
    # with words, the count comes with the page; past the end it is still right
    worded = search_equipment(admin, "m-0 lift", limit=10, offset=10)
    assert (serials(worded), worded.total) == ([f"M-{i:03d}" for i in range(10, 20)], 25)
    beyond = search_equipment(admin, "m-0", limit=10, offset=30)
    assert (beyond.rows, beyond.total) == ([], 25)
    by_holder = search_equipment(admin, "m-01", sort="holder", limit=5, offset=5)
    assert (serials(by_holder), by_holder.total) == ([f"M-01{i}" for i in range(5, 10)], 10)


def test_reading_the_register_needs_equipment_view(db, config, fleet):
    nobody = Context(db, config, Actor("nobody", "none", frozenset()))
    for call in (lambda: search_equipment(nobody), lambda: equipment_types(nobody),
                 lambda: get_equipment(nobody, fleet["LFT-GS19-03"].id),
                 lambda: current_assignment(nobody, fleet["LFT-GS19-03"].id),
                 lambda: machine_events(nobody, fleet["LFT-GS19-03"].id)):
        with pytest.raises(PermissionDenied):
            call()
    for role in READ_ONLY_ROLES:  # every shipped role may look at the fleet
        assert search_equipment(Context(db, config, Actor(role, role, config.roles[
            role].permissions))).total == 5


def test_get_equipment_and_its_holder(admin, fleet):
    cat = fleet["CAT-320-0042"]
    assert get_equipment(admin, cat.id).serial == "CAT-320-0042"
    with pytest.raises(NotFound):
        get_equipment(admin, 999_999)
    assert current_assignment(admin, cat.id).customer_name == "Bâtir Rental SARL"
    assert current_assignment(admin, fleet["LFT-GS19-03"].id) is None


# -- editing needs equipment.edit ---------------------------------------------------------------

@pytest.mark.parametrize("role", READ_ONLY_ROLES)
def test_roles_without_equipment_edit_change_nothing(as_role, fleet, role):
    ctx = as_role(role)
    lift = fleet["LFT-GS19-03"]
    calls = [
        lambda: add_equipment(ctx, EquipmentDraft(serial="NEW-1")),
        lambda: update_equipment(ctx, lift.id, lift.version, EquipmentDraft(serial="X")),
        lambda: retire_equipment(ctx, lift.id, lift.version),
        lambda: reinstate_equipment(ctx, fleet["OLD-0001"].id, fleet["OLD-0001"].version),
        lambda: delete_equipment(ctx, lift.id, lift.version),
        lambda: delete_refusal(ctx, lift.id),
    ]
    audited = AuditEvent.select().count()
    for call in calls:
        with pytest.raises(PermissionDenied):
            call()
    assert AuditEvent.select().count() == audited
    assert Equipment.get_by_id(lift.id).retired_at is None
    assert Equipment.select().where(Equipment.serial == "NEW-1").count() == 0


def test_fleet_administrator_may_edit(as_role, fleet):
    ctx = as_role("fleet_administrator", "fleet")
    lift = fleet["LFT-GS19-03"]
    retired = retire_equipment(ctx, lift.id, lift.version)
    assert retired.machine.retired_at is not None


# -- retire / reinstate ----------------------------------------------------------------------

def test_retire_closes_the_open_assignment_in_the_same_transaction(admin, fleet):
    jcb = fleet["JCB-540-0117"]
    result = retire_equipment(admin, jcb.id, jcb.version)
    assert result.released_from == "Nordic Lifting A/S"
    assert result.machine.retired_at is not None and result.machine.version == jcb.version + 1
    closed = Assignment.get(Assignment.equipment == jcb.id)
    assert closed.unassigned_at is not None and closed.unassigned_by == "boss"
    assert current_assignment(admin, jcb.id) is None
    actions = [(e.action, e.entity_id, e.customer_id) for e in
               AuditEvent.select().where(AuditEvent.entity == "equipment",
                                         AuditEvent.entity_id == jcb.id)
               .order_by(AuditEvent.id)]
    assert actions[-2:] == [("unassign", jcb.id, fleet["nordic"].id), ("retire", jcb.id, None)]
    retire_row = AuditEvent.select().where(AuditEvent.action == "retire",
                                           AuditEvent.entity_id == jcb.id).get()
    assert retire_row.before["retired_at"] is None and retire_row.after["retired_at"]
    # retired machines cannot be assigned, and the history still shows the holding
    with pytest.raises(ValidationError):
        assign_equipment(admin, fleet["nordic"].id, [jcb.id])
    assert [a.customer_name for a in assignment_history(admin, equipment_id=jcb.id)] == [
        "Nordic Lifting A/S"]


def test_retire_a_free_machine_and_reinstate_it(admin, fleet):
    lift = fleet["LFT-GS19-03"]
    result = retire_equipment(admin, lift.id, lift.version)
    assert result.released_from is None
    assert "LFT-GS19-03" not in serials(search_equipment(admin))
    assert "LFT-GS19-03" not in serials(search_unassigned_equipment(admin, ""))
    with pytest.raises(ValidationError, match="already retired"):
        retire_equipment(admin, lift.id, result.machine.version)
    back = reinstate_equipment(admin, lift.id, result.machine.version)
    assert back.retired_at is None and back.version == lift.version + 2
    assert "LFT-GS19-03" in serials(search_equipment(admin, holding="unassigned"))
    with pytest.raises(ValidationError, match="not retired"):
        reinstate_equipment(admin, lift.id, back.version)
    assert AuditEvent.select().where(AuditEvent.action == "reinstate",
                                     AuditEvent.entity_id == lift.id).count() == 1


def test_retire_and_reinstate_refuse_a_stale_version(admin, fleet):
    jcb = fleet["JCB-540-0117"]
    update_equipment(admin, jcb.id, jcb.version, EquipmentDraft(serial=jcb.serial, name="X"))
    with pytest.raises(Conflict):
        retire_equipment(admin, jcb.id, jcb.version)
    # nothing happened: still held, not retired
    assert current_assignment(admin, jcb.id) is not None
    assert Equipment.get_by_id(jcb.id).retired_at is None
    old = fleet["OLD-0001"]
    with pytest.raises(Conflict):
        reinstate_equipment(admin, old.id, old.version)  # the fixture retired it since


def test_missing_machine(admin):
    for call in (retire_equipment, reinstate_equipment, delete_equipment):
        with pytest.raises(NotFound):
            call(admin, 424242, 1)


# -- delete -----------------------------------------------------------------------------------

def test_delete_refused_while_held_naming_the_holder(admin, fleet):
    jcb = fleet["JCB-540-0117"]
    with pytest.raises(ValidationError) as error:
        delete_equipment(admin, jcb.id, jcb.version)
    message = error.value.errors["equipment"]
    assert message == ("Machine JCB-540-0117 is held by Nordic Lifting A/S; retire it or "
                       "unassign it first.")
    assert delete_refusal(admin, jcb.id) == message
    assert Equipment.get_or_none(Equipment.id == jcb.id) is not None


def test_delete_refused_once_it_has_history(admin, fleet):
    jcb = fleet["JCB-540-0117"]
    unassign_equipment(admin, [jcb.id])
    with pytest.raises(ValidationError, match="retire it instead so its history is kept"):
        delete_equipment(admin, jcb.id, jcb.version)
    gen = fleet["GEN-XAS-0009"]
    record_event(admin, equipment_id=gen.id, type="alarm", message="Low oil")
    with pytest.raises(ValidationError, match="retire it instead"):
        delete_equipment(admin, gen.id, gen.version)
    assert "retire it instead" in delete_refusal(admin, gen.id)
    assert Equipment.select().where(Equipment.id.in_([jcb.id, gen.id])).count() == 2


def test_delete_a_machine_without_history(admin, fleet):
    lift = fleet["LFT-GS19-03"]
    assert delete_refusal(admin, lift.id) is None
    with pytest.raises(Conflict):
        delete_equipment(admin, lift.id, lift.version + 1)
    delete_equipment(admin, lift.id, lift.version)
    assert Equipment.get_or_none(Equipment.id == lift.id) is None
    row = AuditEvent.get(AuditEvent.action == "delete", AuditEvent.entity == "equipment")
    assert row.entity_id == lift.id and row.before["serial"] == "LFT-GS19-03"
    # a retired machine without history may be deleted too
    old = Equipment.get_by_id(fleet["OLD-0001"].id)
    delete_equipment(admin, old.id, old.version)


# -- history and events -------------------------------------------------------------------------

def test_history_survives_the_customer(admin, fleet):
    cat = fleet["CAT-320-0042"]
    batir = type(fleet["batir"]).get_by_id(fleet["batir"].id)
    delete_customer(admin, batir.id, batir.version)
    history = assignment_history(admin, equipment_id=cat.id)
    assert [(h.customer_name, h.unassigned_by) for h in history] == [("Bâtir Rental SARL", "boss")]
    assert search_equipment(admin, "cat-320").rows[0].holder_name is None


def test_machine_events_count_the_emails_and_explain_silence(admin, make_customer,
                                                             make_machine):
    silent = make_customer("Quiet Hire", notify_event_types=("alarm",),
                           contacts=(ContactDraft(name="Bill", email="b@x.example",
                                                  roles=("billing",)),))
    loud = make_customer("Loud Hire", contacts=(
        ContactDraft(name="Ann", email="ann@x.example", roles=("notify",)),
        ContactDraft(name="Bo", email="bo@x.example", roles=("notify",))))
    free = make_machine("FREE-1")
    quiet = make_machine("QUIET-1")
    busy = make_machine("BUSY-1")
    assign_equipment(admin, silent.id, [quiet.id])
    assign_equipment(admin, loud.id, [busy.id])

    nobody = record_event(admin, equipment_id=free.id, type="alarm")
    assert "not assigned" in why_nobody_notified(admin, nobody.event)
    no_role = record_event(admin, equipment_id=quiet.id, type="alarm")
    assert why_nobody_notified(admin, no_role.event) == (
        "Quiet Hire has no contact with the notify role")
    refused = record_event(admin, equipment_id=quiet.id, type="breakdown")
    assert "does not take notices of this type" in why_nobody_notified(admin, refused.event)
    first = record_event(admin, equipment_id=busy.id, type="breakdown", message="Leak")
    second = record_event(admin, equipment_id=busy.id, type="alarm", message="Tilt")
    rows = machine_events(admin, busy.id)
    assert [(r.event.id, r.queued) for r in rows] == [(second.event.id, 2), (first.event.id, 2)]
    assert rows[0].event.customer_name == "Loud Hire"
    assert [r.queued for r in machine_events(admin, quiet.id)] == [0, 0]


# -- two operators, one machine: the database decides -------------------------------------------

def test_the_partial_unique_index_refuses_a_second_open_assignment(db, fleet):
    """Below every service: raw SQL cannot open a second assignment either."""
    with pytest.raises(peewee.IntegrityError):
        with db.atomic():
            db.execute_sql(sql(db, "INSERT INTO assignment (equipment_id, customer_id,"
                                   " customer_name, assigned_at, assigned_by)"
                                   " VALUES (?, 1, 'X', '2026-01-01', 'x')"),
                           (fleet["JCB-540-0117"].id,))


def test_two_threads_two_connections_one_winner(admin, as_role, make_customer, make_machine):
    """Both operators saw the machine free; both assign at once on their own connections."""
    machine = make_machine("RACE-1", name="Contested")
    first = make_customer("First Hire ApS")
    second = make_customer("Second Hire ApS")
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}
    connections = {}

    def operator(login: str, customer_id: int) -> None:
        ctx = as_role("fleet_administrator", login)
        try:
            assert machine.id in [m.id for m in search_unassigned_equipment(ctx, "RACE").rows]
            connections[login] = id(ctx.db.connection())
            barrier.wait(timeout=5)
            assign_equipment(ctx, customer_id, [machine.id])
            outcomes[login] = "assigned"
        except AlreadyAssigned as error:
            outcomes[login] = error
        finally:
            ctx.db.close()  # this thread's own connection

    threads = [threading.Thread(target=operator, args=("ann", first.id)),
               threading.Thread(target=operator, args=("bo", second.id))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert len(set(connections.values())) == 2  # really two SQLite connections
    winners = [login for login, outcome in outcomes.items() if outcome == "assigned"]
    losers = [outcome for outcome in outcomes.values() if isinstance(outcome, AlreadyAssigned)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    holder = current_assignment(admin, machine.id)
    assert holder.customer_name == {"ann": "First Hire ApS", "bo": "Second Hire ApS"}[winners[0]]
    assert losers[0].holder == holder.customer_name
    assert str(losers[0]) == f"Machine RACE-1 is already assigned to {holder.customer_name}."
    assert Assignment.select().where(Assignment.equipment == machine.id).count() == 1


def test_another_process_assigned_it_a_moment_ago(admin, db_target, make_customer, make_machine):
    """The other operator is another process; what we saw as free is taken when we save."""
    machine = make_machine("RACE-2")
    ours = make_customer("Our Customer ApS")
    theirs = make_customer("Their Customer GmbH", billing_country="DE")
    assert [m.serial for m in search_unassigned_equipment(admin, "RACE-2").rows] == ["RACE-2"]
    script = textwrap.dedent(f"""
        from tui.domain.config import load_config
        from tui.domain.context import Actor, Context
        from tui.domain.database import open_database
        from tui.domain.services.equipment import assign_equipment
        db = open_database({str(db_target)!r})
        config = load_config()
        role = config.roles["fleet_administrator"]
        ctx = Context(db, config, Actor("other", role.key, role.permissions))
        assign_equipment(ctx, {theirs.id}, [{machine.id}])
        db.close()
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60,
                   cwd=Path(__file__).resolve().parents[1])
    with pytest.raises(AlreadyAssigned) as error:
        assign_equipment(admin, ours.id, [machine.id])
    assert error.value.holder == "Their Customer GmbH"
    assert "Their Customer GmbH" in str(error.value)
    assert current_assignment(admin, machine.id).assigned_by == "other"
