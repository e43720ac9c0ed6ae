"""Equipment events: who is notified, in which language, and the JSON Lines feed."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from tests.conftest import ContactDraft
from tui.domain.errors import ConfigError, PermissionDenied, ValidationError
from tui.domain.mail import load_template, render, template_path
from tui.domain.models import Assignment, EquipmentEvent, Notification, utcnow
from tui.domain.services.customers import CustomerDraft, delete_customer, update_customer
from tui.domain.services.equipment import assign_equipment, unassign_equipment
from tui.domain.services.events import (
    holder_at,
    ingest_events,
    list_events,
    record_event,
)
from tui.domain.services.outbox import list_notifications, outbox_counts, retry_notifications

pytestmark = pytest.mark.both_backends


def contact(name, email="", roles=("notify",)):
    return ContactDraft(name=name, email=email, roles=tuple(roles))


@pytest.fixture
def held_machine(admin, make_customer, make_machine):
    """A machine held by a customer with two notify contacts, one other and one without e-mail."""
    customer = make_customer("Boreal Lift ApS", language="en", contacts=(
        contact("Ann Notify", "ann@example.com"),
        contact("Bo Notify", "bo@example.com", ("notify", "billing")),
        contact("Cy Billing", "cy@example.com", ("billing",)),
        contact("Di Nomail", "", ("notify",)),
    ))
    machine = make_machine("BL-100", name="Scissor lift", make="Genie", model="GS-1930")
    assign_equipment(admin, customer.id, [machine.id])
    return customer, machine


def test_event_notifies_each_notify_contact_with_an_address(admin, held_machine):
    customer, machine = held_machine
    recorded = record_event(admin, serial="BL-100", type="breakdown", message="Hydraulic leak")
    assert (recorded.notifications, recorded.without_email) == (2, 1)
    assert recorded.event.customer_id == customer.id
    queued = list(Notification.select().order_by(Notification.id))
    assert [n.recipient_email for n in queued] == ["ann@example.com", "bo@example.com"]
    first = queued[0]
    assert (first.status, first.kind, first.language, first.event_id) == (
        "pending", "event", "en", recorded.event.id)
    assert first.subject == "Breakdown: BL-100 Scissor lift"
    assert "Hello Ann Notify" in first.body and "Hydraulic leak" in first.body
    assert "Genie GS-1930" in first.body
    assert len({n.message_id for n in queued}) == 2


def test_event_and_notifications_share_one_transaction(admin, held_machine, monkeypatch):
    import tui.domain.services.events as events

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(events, "enqueue", broken)
    with pytest.raises(RuntimeError):
        record_event(admin, serial="BL-100", type="alarm")
    assert EquipmentEvent.select().count() == 0 and Notification.select().count() == 0


def test_customer_language_picks_the_template(admin, held_machine):
    customer, _machine = held_machine
    update_customer(admin, customer.id, customer.version,
                    CustomerDraft.from_customer(customer).__class__(
                        **{**CustomerDraft.from_customer(customer).__dict__, "language": "fr"}))
    record_event(admin, serial="BL-100", type="breakdown", message="Fuite")
    note = Notification.select().first()
    assert note.language == "fr"
    assert note.subject == "Panne : BL-100 Scissor lift"
    assert note.body.startswith("Bonjour Ann Notify")


def test_language_without_template_falls_back_to_english(admin, make_customer, make_machine):
    german = make_customer("Deutsche Miete GmbH", language="de",
                           contacts=(contact("Ulla", "ulla@example.de"),))
    danish = make_customer("Dansk Udlejning", language="da",
                           contacts=(contact("Ea", "ea@example.dk"),))
    for customer in (german, danish):
        machine = make_machine()
        assign_equipment(admin, customer.id, [machine.id])
        record_event(admin, equipment_id=machine.id, type="alarm")
    by_address = {n.recipient_email: n for n in Notification.select()}
    assert by_address["ulla@example.de"].language == "en"
    assert by_address["ulla@example.de"].subject.startswith("Alarm: ")
    assert by_address["ea@example.dk"].language == "da"
    assert by_address["ea@example.dk"].body.startswith("Hej Ea")


def test_customer_that_did_not_ask_for_that_type_gets_nothing(admin, make_customer, make_machine):
    customer = make_customer("Picky A/S", notify_event_types=("breakdown",),
                             contacts=(contact("Ann", "ann@example.com"),))
    machine = make_machine()
    assign_equipment(admin, customer.id, [machine.id])
    assert record_event(admin, equipment_id=machine.id, type="alarm").notifications == 0
    assert record_event(admin, equipment_id=machine.id, type="breakdown").notifications == 1


def test_a_machine_known_only_by_its_serial_reads_cleanly(admin, make_customer, make_machine):
    customer = make_customer("Bare A/S", contacts=(contact("Ann", "ann@example.com"),))
    machine = make_machine("S1")
    assign_equipment(admin, customer.id, [machine.id])
    record_event(admin, equipment_id=machine.id, type="alarm")
    note = Notification.get()
    assert note.subject == "Alarm: S1"
    assert "  Machine:  S1\n" in note.body and "()" not in note.body


def test_unassigned_machine_records_without_notifications(admin, make_machine):
    machine = make_machine()
    recorded = record_event(admin, equipment_id=machine.id, type="service_due")
    assert recorded.event.customer_id is None and recorded.notifications == 0
    assert EquipmentEvent.select().count() == 1


def test_holder_is_taken_at_the_time_of_the_event(admin, make_customer, make_machine):
    first = make_customer("First Holder", contacts=(contact("Ann", "ann@first.example"),))
    second = make_customer("Second Holder", contacts=(contact("Bo", "bo@second.example"),))
    machine = make_machine()
    assign_equipment(admin, first.id, [machine.id])
    unassign_equipment(admin, [machine.id])
    assign_equipment(admin, second.id, [machine.id])
    # Put the first holding in the past so an event in between belongs to it.
    rows = list(Assignment.select().order_by(Assignment.id))
    start = utcnow() - timedelta(days=10)
    Assignment.update(assigned_at=start, unassigned_at=start + timedelta(days=5)).where(
        Assignment.id == rows[0].id).execute()
    Assignment.update(assigned_at=start + timedelta(days=6)).where(
        Assignment.id == rows[1].id).execute()
    assert holder_at(machine.id, start - timedelta(days=1)) is None
    late_feed = record_event(admin, equipment_id=machine.id, type="alarm",
                             occurred_at=start + timedelta(days=2))
    assert late_feed.event.customer_name == "First Holder"
    assert Notification.get().recipient_email == "ann@first.example"
    gap = record_event(admin, equipment_id=machine.id, type="alarm",
                       occurred_at=(start + timedelta(days=5, hours=12)).isoformat() + "Z")
    assert gap.event.customer_id is None and gap.notifications == 0
    assert record_event(admin, equipment_id=machine.id, type="alarm").event.customer_name == (
        "Second Holder")


def test_events_stay_with_the_machine_after_the_customer_is_deleted(admin, held_machine):
    customer, machine = held_machine
    record_event(admin, serial="BL-100", type="alarm")
    delete_customer(admin, customer.id)
    [event] = list_events(admin, customer_id=customer.id)
    assert event.customer_name == "Boreal Lift ApS" and event.equipment.serial == "BL-100"
    assert list_events(admin, equipment_id=machine.id) == [event]


@pytest.mark.parametrize("fields, field", [
    ({"serial": "BL-100", "type": "volcano"}, "type"),
    ({"serial": "NOPE", "type": "alarm"}, "serial"),
    ({"serial": "BL-100", "type": "alarm", "message": "bad \x1b[31m"}, "message"),
    ({"serial": "BL-100", "type": "alarm", "occurred_at": "yesterday"}, "occurred_at"),
    ({"serial": "BL-100", "type": "alarm", "occurred_at": "2999-01-01T00:00:00Z"}, "occurred_at"),
    ({"serial": "BL-100", "type": "alarm", "message": "x" * 2001}, "message"),
])
def test_bad_events_are_refused_with_the_field_named(admin, held_machine, fields, field):
    with pytest.raises(ValidationError) as caught:
        record_event(admin, **fields)
    assert field in caught.value.errors
    assert EquipmentEvent.select().count() == 0 and Notification.select().count() == 0


def test_offsets_are_converted_to_utc(admin, make_machine):
    machine = make_machine()
    event = record_event(admin, equipment_id=machine.id, type="alarm",
                         occurred_at="2026-01-05T10:00:00+02:00").event
    assert EquipmentEvent.get_by_id(event.id).occurred_at == datetime(2026, 1, 5, 8, 0)


def test_recording_needs_the_permission(as_role, held_machine):
    with pytest.raises(PermissionDenied):
        record_event(as_role("account_owner"), serial="BL-100", type="alarm")
    with pytest.raises(PermissionDenied):
        ingest_events(as_role("limited"), [b'{"serial": "BL-100", "type": "alarm"}\n'])
    assert record_event(as_role("fleet_administrator"), serial="BL-100", type="alarm")


# ------------------------------------------------------------------ feed

def lines(*items) -> list[bytes]:
    return [(item if isinstance(item, (str, bytes)) else json.dumps(item)).encode()
            if not isinstance(item, bytes) else item for item in items]


def test_ingest_good_lines(admin, held_machine):
    report = ingest_events(admin, lines(
        {"serial": "BL-100", "type": "alarm", "id": "t-1"},
        "",
        {"serial": "BL-100", "type": "service_due", "message": "500 h service", "id": 2},
    ))
    assert (report.recorded, report.notifications, report.errors) == (2, 4, [])
    assert {e.external_id for e in EquipmentEvent.select()} == {"t-1", "2"}
    assert {e.source for e in EquipmentEvent.select()} == {"ingest"}


def test_ingest_reports_bad_lines_and_keeps_good_ones(admin, held_machine):
    report = ingest_events(admin, lines(
        {"serial": "BL-100", "type": "alarm"},
        "{not json",
        [1, 2],
        {"serial": "BL-100", "typ": "alarm"},
        {"serial": "NOPE", "type": "alarm"},
        {"serial": "BL-100", "type": "volcano"},
        b'{"serial": "BL-100", "type": "alarm", "message": "caf\xe9"}',
        {"serial": "BL-100", "type": "breakdown", "time": "not a time"},
        {"serial": "BL-100", "type": "breakdown", "message": "still fine"},
    ))
    assert report.recorded == 2
    assert [number for number, _ in report.errors] == [2, 3, 4, 5, 6, 7, 8]
    reasons = dict(report.errors)
    assert "not valid JSON" in reasons[2]
    assert 'expected an object such as {"serial": "...", "type": "alarm"}' == reasons[3]
    assert 'unknown key "typ"' in reasons[4]
    assert "NOPE" in reasons[5]
    assert "volcano" in reasons[6]
    assert "UTF-8" in reasons[7]
    assert "not a time" in reasons[8]
    assert [e.type for e in EquipmentEvent.select().order_by(EquipmentEvent.id)] == [
        "alarm", "breakdown"]


def test_ingesting_the_same_feed_twice_records_each_event_once(admin, held_machine):
    feed = lines({"serial": "BL-100", "type": "alarm", "id": "x-1"},
                 {"serial": "BL-100", "type": "alarm", "id": "x-2"})
    assert ingest_events(admin, feed).recorded == 2
    again = ingest_events(admin, feed)
    assert again.recorded == 0 and [n for n, _ in again.duplicates] == [1, 2]
    assert again.errors == []
    assert EquipmentEvent.select().count() == 2 and Notification.select().count() == 4


def test_ingest_commits_in_batches_and_reports_progress(admin, make_machine, monkeypatch):
    import tui.domain.services.events as events

    monkeypatch.setattr(events, "INGEST_BATCH", 3)
    machine = make_machine()
    seen = []
    feed = lines(*({"serial": machine.serial, "type": "alarm"} for _ in range(7)))
    report = ingest_events(admin, feed, progress=lambda line, r: seen.append((line, r.recorded)))
    assert report.recorded == 7 and seen == [(3, 3), (6, 6), (7, 7)]


# ------------------------------------------------------------------ outbox queries

def test_outbox_lists_counts_and_retries(admin, as_role, held_machine):
    record_event(admin, serial="BL-100", type="alarm")
    assert outbox_counts(admin) == {"pending": 2, "sending": 0, "sent": 0, "failed": 0}
    first, second = list_notifications(admin).rows[::-1]
    Notification.update(status="failed", attempts=8, last_error="550 no such user").where(
        Notification.id == first.id).execute()
    assert list_notifications(admin, status="failed").total == 1
    assert retry_notifications(admin, [first.id, second.id]) == 1  # the pending one is left
    again = Notification.get_by_id(first.id)
    assert (again.status, again.attempts, again.last_error) == ("pending", 0, "550 no such user")
    with pytest.raises(PermissionDenied):
        list_notifications(as_role("limited"))
    with pytest.raises(PermissionDenied):
        retry_notifications(as_role("account_owner"), [first.id])


# ------------------------------------------------------------------ templates

def test_shipped_templates_are_valid(config):
    for kind in ("event", "welcome"):
        for language in ("en", "fr", "da"):
            path, used = template_path(config, kind, language)
            assert used == language
            load_template(path, kind)


def test_values_are_not_expanded_twice(config):
    rendered = render(config, "welcome", "en", {"customer_name": "$business_name ${x}\nEvil: 1",
                                                "contact_name": "Ann"})
    assert "$business_name ${x}" in rendered.body
    assert "\n" not in rendered.subject


@pytest.mark.parametrize("text, problem", [
    ("Hello\n\nBody\n", 'line 1: the first line must be "Subject: ..."'),
    ("Subject: Hi\nBody\n", "line 2: leave an empty line"),
    ("Subject: Hi\n\nDear ${contact}\n", 'line 3: unknown placeholder "${contact}"'),
    ("Subject: Cost $5\n\nBody\n", "line 1: a $ must be followed by a name"),
])
def test_template_mistakes_name_the_file_and_line(tmp_path, text, problem):
    path = tmp_path / "welcome.en.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_template(path, "welcome")
    assert str(path) in str(caught.value) and problem in str(caught.value)
