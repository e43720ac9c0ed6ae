"""``clientbook events`` and ``clientbook notify``: the installed command, as a subprocess.

Data (customers, machines) is made in-process on a database that ``clientbook
init`` created, so the command acts as the OS login of this test, its
administrator; everything after that goes through the command line.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ContactDraft, CustomerDraft, actor_for
from tests.test_cli import (
    CLIENTBOOK,
    ME,
    SHIPPED_CONFIG,
    assert_error,
    assert_ok,
    assert_usage,
    cli_env,
    clientbook,
)
from tests.test_notify_smtp import FROM, Recorder, smtp_server  # noqa: F401 - a fixture
from tui.domain.config import load_config
from tui.domain.context import Context
from tui.domain.database import open_database
from tui.domain.models import Assignment
from tui.domain.services.customers import create_customer
from tui.domain.services.equipment import EquipmentDraft, add_equipment, assign_equipment

pytestmark = pytest.mark.skipif(not CLIENTBOOK.is_file(),
                                reason="the clientbook console script is not installed")


@pytest.fixture(scope="module")
def fleet_template(tmp_path_factory) -> Path:
    """A database made by ``init``: BL-100 held by an English customer with two notify
    contacts, FR-7 by a French one with one, and FREE-1 held by nobody."""
    home = tmp_path_factory.mktemp("fleet-home")
    path = home / "fleet.db"
    assert_ok(clientbook("init", db=path, home=home))
    config = load_config()
    db = open_database(path)
    try:
        ctx = Context(db, config, actor_for(config, "administrator", ME))
        holders = {
            "BL-100": create_customer(ctx, CustomerDraft(
                name="Boreal Lift Ltd", billing_country="GB", language="en", contacts=(
                    ContactDraft(name="Ann", email="ann@boreal.example", roles=("notify",)),
                    ContactDraft(name="Bo", email="bo@boreal.example", roles=("notify",)),
                    ContactDraft(name="Cy", email="cy@boreal.example", roles=("billing",))))),
            "FR-7": create_customer(ctx, CustomerDraft(
                name="Levage du Nord", billing_country="FR", language="fr", contacts=(
                    ContactDraft(name="Élodie", email="elodie@levage.example",
                                 roles=("notify",)),))),
        }
        for serial, customer in holders.items():
            machine = add_equipment(ctx, EquipmentDraft(serial=serial, name="Lift"))
            assign_equipment(ctx, customer.id, [machine.id])
        add_equipment(ctx, EquipmentDraft(serial="FREE-1", name="Spare"))
        # Held since long ago, so events at any time in the tests reach the holders.
        Assignment.update(assigned_at=datetime(2020, 1, 1)).execute()
    finally:
        db.close()
    return path


@pytest.fixture
def fleet(fleet_template: Path, home: Path) -> Path:
    path = home / "fleet.db"
    shutil.copyfile(fleet_template, path)
    return path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path


def rows(db: Path, sql: str, *params) -> list[tuple]:
    connection = sqlite3.connect(db)
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def events_stored(db: Path) -> list[tuple]:
    return rows(db, "SELECT e.type, q.serial, e.message, e.source, e.external_id "
                    "FROM equipment_event e JOIN equipment q ON q.id = e.equipment_id "
                    "ORDER BY e.id")


def outbox(db: Path) -> list[tuple]:
    return rows(db, "SELECT id, recipient_email, status, attempts, last_error "
                    "FROM notification ORDER BY id")


def run_with_stdin(args: list[str], data: bytes, db: Path, home: Path,
                   **env: str) -> subprocess.CompletedProcess:
    result = subprocess.run([str(CLIENTBOOK), "--db", str(db), *args], input=data,
                            env=cli_env(home, **env), cwd=home, capture_output=True,
                            timeout=60)
    stdout, stderr = result.stdout.decode(), result.stderr.decode()
    assert "unexpected error" not in stderr, stderr
    return subprocess.CompletedProcess(result.args, result.returncode, stdout, stderr)


def feed(*items) -> bytes:
    """JSON Lines: dicts are encoded, str and bytes lines are taken as written."""
    out = []
    for item in items:
        if isinstance(item, dict):
            item = json.dumps(item, ensure_ascii=False)
        out.append(item.encode() if isinstance(item, str) else item)
    return b"\n".join(out) + b"\n"


GOOD = ({"serial": "BL-100", "type": "alarm", "message": "Tilt", "id": "u1-1",
         "time": "2026-01-05T10:00:00+02:00"},
        {"serial": "FR-7", "type": "breakdown", "id": "u1-2"},
        {"serial": "FREE-1", "type": "service_due", "message": "500 h"})


# -- events add -----------------------------------------------------------------------------

def test_events_add_records_and_queues(fleet, home):
    result = assert_ok(clientbook("events", "add", "BL-100", "--type", "breakdown",
                                  "--message", "Hydraulic leak",
                                  "--time", "2026-01-05T10:00:00+02:00", db=fleet, home=home))
    assert result.stdout.splitlines() == [
        "Recorded event #1: Breakdown on BL-100 at 1/5/2026 08:00 UTC.",  # en_US
        "Held by Boreal Lift Ltd: 2 e-mails queued."]
    assert events_stored(fleet) == [("breakdown", "BL-100", "Hydraulic leak", "cli", None)]
    assert rows(fleet, "SELECT occurred_at FROM equipment_event") == [("2026-01-05 08:00:00",)]
    assert [(to, status) for _id, to, status, *_ in outbox(fleet)] == [
        ("ann@boreal.example", "pending"), ("bo@boreal.example", "pending")]


def test_events_add_on_a_machine_nobody_holds(fleet, home):
    result = assert_ok(clientbook("events", "add", "FREE-1", "--type", "alarm",
                                  db=fleet, home=home))
    assert "No customer held the machine then: no e-mail queued." in result.stdout
    assert len(events_stored(fleet)) == 1 and outbox(fleet) == []


@pytest.mark.parametrize("args, fragments", [
    (["NOPE", "--type", "alarm"], ['SERIAL: No machine has the serial number "NOPE"']),
    (["BL-100", "--type", "volcano"], ['--type: Unknown event type "volcano"', "alarm"]),
    (["BL-100", "--type", "alarm", "--time", "yesterday"], ['--time: Not a date and time']),
    (["BL-100", "--type", "alarm", "--time", "2999-01-01T00:00:00Z"], ["--time:", "future"]),
])
def test_events_add_refuses_bad_input_in_one_line(fleet, home, args, fragments):
    assert_error(clientbook("events", "add", *args, db=fleet, home=home), *fragments)
    assert events_stored(fleet) == [] and outbox(fleet) == []


def test_events_add_without_type_is_a_usage_error(fleet, home):
    assert_usage(clientbook("events", "add", "BL-100", db=fleet, home=home))


# -- events ingest --------------------------------------------------------------------------

def test_ingest_good_file(fleet, home):
    path = home / "feed.jsonl"
    path.write_bytes(feed(*GOOD))
    result = assert_ok(clientbook("events", "ingest", str(path), db=fleet, home=home))
    assert result.stdout == "Recorded 3 events, 3 e-mails queued; 0 lines skipped\n"
    assert events_stored(fleet) == [("alarm", "BL-100", "Tilt", "ingest", "u1-1"),
                                    ("breakdown", "FR-7", "", "ingest", "u1-2"),
                                    ("service_due", "FREE-1", "500 h", "ingest", None)]
    assert rows(fleet, "SELECT language, subject FROM notification WHERE recipient_email = ?",
                "elodie@levage.example") == [("fr", "Panne : FR-7 Lift")]


def test_ingesting_the_same_file_twice_skips_what_is_recorded(fleet, home):
    path = home / "feed.jsonl"
    path.write_bytes(feed(*GOOD[:2]))
    assert_ok(clientbook("events", "ingest", str(path), db=fleet, home=home))
    again = clientbook("events", "ingest", str(path), db=fleet, home=home)
    assert again.returncode == 0, again.stderr  # duplicates are not bad lines
    assert again.stdout == "Recorded 0 events, 0 e-mails queued; 2 lines skipped\n"
    assert again.stderr.splitlines() == [
        f'{path}:1: skipped: id: Event "u1-1" is already recorded.',
        f'{path}:2: skipped: id: Event "u1-2" is already recorded.']
    assert len(events_stored(fleet)) == 2 and len(outbox(fleet)) == 3


def test_ingest_all_bad_lines(fleet, home):
    path = home / "bad.jsonl"
    path.write_bytes(feed("not json", '["a list"]', {"serial": "BL-100"},
                          {"serial": "BL-100", "type": "alarm", "colour": "red"}))
    result = clientbook("events", "ingest", str(path), db=fleet, home=home)
    assert result.returncode == 1
    assert result.stdout == "Recorded 0 events, 0 e-mails queued; 4 lines skipped\n"
    first, second, third, fourth = result.stderr.splitlines()
    assert first == f"{path}:1: not valid JSON (Expecting value at column 1)"
    assert second == f'{path}:2: expected an object such as {{"serial": "...", "type": "alarm"}}'
    assert third == f'{path}:3: "type" is required and must be text'
    assert fourth == f'{path}:4: unknown key "colour"; expected: serial, type, message, time, id'
    assert events_stored(fleet) == [] and outbox(fleet) == []


MIXED = feed(
    b"\xef\xbb\xbf" + json.dumps(GOOD[0]).encode(),  # 1: a BOM is tolerated on line 1
    "",  # 2: blank, ignored
    b'{"serial": "BL-100", "type": "alarm", "message": "caf\xe9"}',  # 3: Latin-1, not UTF-8
    {"serial": "NOPE", "type": "alarm"},  # 4: unknown machine
    GOOD[1],  # 5
    {"serial": "BL-100", "type": "alarm", "id": "u1-1"},  # 6: already recorded (line 1)
    {"serial": "FR-7", "type": "alarm", "time": "2026-13-01T00:00:00Z"},  # 7: bad time
    '{"serial": "FR-7", "type": "alarm", "message": "Zoë \\u00e9t\\u00e9"}',  # 8: good
)
MIXED_PROBLEMS = [
    (3, "not UTF-8 text"),
    (4, 'serial: No machine has the serial number "NOPE".'),
    (6, 'skipped: id: Event "u1-1" is already recorded.'),
    (7, 'occurred_at: Not a date and time: "2026-13-01T00:00:00Z"'),
]


def check_mixed(result, fleet: Path, name: str) -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stdout == "Recorded 3 events, 4 e-mails queued; 4 lines skipped\n"
    lines = result.stderr.splitlines()
    assert len(lines) == len(MIXED_PROBLEMS), lines
    for line, (number, problem) in zip(lines, MIXED_PROBLEMS):
        assert line.startswith(f"{name}:{number}: {problem}"), (line, number, problem)
    assert events_stored(fleet) == [("alarm", "BL-100", "Tilt", "ingest", "u1-1"),
                                    ("breakdown", "FR-7", "", "ingest", "u1-2"),
                                    ("alarm", "FR-7", "Zoë été", "ingest", None)]


def test_ingest_mixed_file_keeps_good_lines_and_names_bad_ones(fleet, home):
    path = home / "mixed.jsonl"
    path.write_bytes(MIXED)
    check_mixed(clientbook("events", "ingest", str(path), db=fleet, home=home), fleet, str(path))


def test_ingest_mixed_from_stdin(fleet, home):
    check_mixed(run_with_stdin(["events", "ingest", "-"], MIXED, fleet, home), fleet, "<stdin>")


def test_ingest_good_and_bad_from_stdin(fleet, home):
    good = run_with_stdin(["events", "ingest", "-"], feed(*GOOD), fleet, home)
    assert (good.returncode, good.stderr) == (0, "")
    assert good.stdout == "Recorded 3 events, 3 e-mails queued; 0 lines skipped\n"
    bad = run_with_stdin(["events", "ingest", "-"], b"{oops\n", fleet, home)
    assert bad.returncode == 1
    assert bad.stderr.startswith("<stdin>:1: not valid JSON")
    empty = run_with_stdin(["events", "ingest", "-"], b"", fleet, home)
    assert (empty.returncode, empty.stdout) == (0, "Recorded 0 events, 0 e-mails queued; "
                                                   "0 lines skipped\n")
    assert len(events_stored(fleet)) == 3


def test_ingest_shows_progress_only_on_a_terminal(fleet, home):
    """Piped stderr stays clean (the tests above); a terminal sees a self-erasing line."""
    import os
    import pty

    path = home / "feed.jsonl"
    path.write_bytes(feed(*GOOD))
    leader, follower = pty.openpty()
    try:
        result = subprocess.run([str(CLIENTBOOK), "--db", str(fleet), "events", "ingest",
                                 str(path)], env=cli_env(home), cwd=home, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=follower, timeout=60)
        os.close(follower)
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: the terminal's other end is closed
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(leader)
    assert result.returncode == 0
    assert b"line 3: 3 recorded, 0 skipped" in seen
    assert seen.endswith(b"\r\x1b[K")  # erased before the summary
    assert result.stdout.decode() == "Recorded 3 events, 3 e-mails queued; 0 lines skipped\n"


def test_ingest_a_file_that_cannot_be_read(fleet, home):
    assert_error(clientbook("events", "ingest", str(home / "missing.jsonl"), db=fleet,
                            home=home), "missing.jsonl: cannot be read: No such file")
    assert_error(clientbook("events", "ingest", str(home), db=fleet, home=home),
                 "is a directory")
    assert events_stored(fleet) == []


def test_ingest_help_describes_the_format_and_exit_status(home):
    text = assert_ok(clientbook("events", "ingest", "--help", db=None, home=home)).stdout
    for key in ("serial", "type", "message", "time", "id"):
        assert f"\n  {key} " in text, key
    assert "Exit status: 0 when no line was bad" in text and "FILE:LINE" in text
    overview = assert_ok(clientbook("--help", db=None, home=home)).stdout
    assert "events" in overview and "notify" in overview


# -- events list ----------------------------------------------------------------------------

def test_events_list(fleet, home):
    path = home / "feed.jsonl"
    path.write_bytes(feed(*GOOD))
    assert_ok(clientbook("events", "ingest", str(path), db=fleet, home=home))
    listed = json.loads(assert_ok(clientbook("events", "list", "BL-100", "--json", db=fleet,
                                             home=home)).stdout)
    assert [(e["serial"], e["type"], e["time"], e["customer_name"]) for e in listed] == [
        ("BL-100", "alarm", "2026-01-05T08:00:00Z", "Boreal Lift Ltd")]
    table = assert_ok(clientbook("events", "list", db=fleet, home=home)).stdout
    assert "Left geofence" not in table and "Service due" in table and "FREE-1" in table
    assert_error(clientbook("events", "list", "NOPE", db=fleet, home=home), "NOPE")


# -- permissions ----------------------------------------------------------------------------

def test_a_role_without_the_permissions_is_refused(fleet, home, tmp_path):
    """A site whose administrators may only manage users: no events, no outbox."""
    text = SHIPPED_CONFIG.read_text(encoding="utf-8")
    assert 'grants: ["*"]' in text
    site = tmp_path / "site.yaml"
    site.write_text(text.replace('grants: ["*"]', "grants: [user.manage, equipment.view]", 1),
                    encoding="utf-8")
    config = ["--config", str(site)]
    assert_error(clientbook(*config, "events", "add", "BL-100", "--type", "alarm", db=fleet,
                            home=home), "not allowed")
    path = home / "feed.jsonl"
    path.write_bytes(feed(*GOOD))
    assert_error(clientbook(*config, "events", "ingest", str(path), db=fleet, home=home),
                 "not allowed")
    assert_error(clientbook(*config, "notify", "list", db=fleet, home=home), "not allowed")
    assert_error(clientbook(*config, "notify", "send", db=fleet, home=home,
                            CLIENTBOOK_SMTP_HOST="127.0.0.1", CLIENTBOOK_MAIL_FROM=FROM),
                 "not allowed")
    assert events_stored(fleet) == []


# -- notify ---------------------------------------------------------------------------------

def smtp_env(port: int) -> dict[str, str]:
    return {"CLIENTBOOK_SMTP_HOST": "127.0.0.1", "CLIENTBOOK_SMTP_PORT": str(port),
            "CLIENTBOOK_SMTP_SECURITY": "none", "CLIENTBOOK_MAIL_FROM": FROM}


def test_notify_send_without_configuration(fleet, home):
    assert_ok(clientbook("events", "add", "BL-100", "--type", "alarm", db=fleet, home=home))
    for args in (("notify", "send"), ("notify", "send", "--dry-run")):
        assert_error(clientbook(*args, db=fleet, home=home), "E-mail is not configured",
                     "CLIENTBOOK_SMTP_HOST")
    assert {status for _id, _to, status, *_ in outbox(fleet)} == {"pending"}


def test_notify_send_delivers_and_reports(fleet, home, smtp_server):
    recorder, port = smtp_server()
    assert_ok(clientbook("events", "add", "BL-100", "--type", "alarm", db=fleet, home=home))
    assert_ok(clientbook("events", "add", "FR-7", "--type", "alarm", db=fleet, home=home))
    dry = assert_ok(clientbook("notify", "send", "--dry-run", db=fleet, home=home,
                               **smtp_env(port)))
    assert dry.stdout.splitlines() == [
        "#1 ann@boreal.example: would send", "#2 bo@boreal.example: would send",
        "#3 elodie@levage.example: would send",
        "Dry run: 3 messages would be sent; nothing was changed."]
    assert recorder.accepted == [] and {row[2] for row in outbox(fleet)} == {"pending"}

    sent = assert_ok(clientbook("notify", "send", db=fleet, home=home, **smtp_env(port)))
    assert sent.stdout.splitlines()[-1] == "Sent 3, will retry 0, failed 0."
    assert sorted(m["To"].addresses[0].addr_spec for m in recorder.accepted) == [
        "ann@boreal.example", "bo@boreal.example", "elodie@levage.example"]
    assert {row[2] for row in outbox(fleet)} == {"sent"}
    again = assert_ok(clientbook("notify", "send", db=fleet, home=home, **smtp_env(port)))
    assert again.stdout == "Sent 0, will retry 0, failed 0.\n" and len(recorder.accepted) == 3


def test_notify_send_with_the_server_down_exits_0_and_keeps_them(fleet, home):
    from tests.test_notify_smtp import free_port

    assert_ok(clientbook("events", "add", "BL-100", "--type", "alarm", db=fleet, home=home))
    result = assert_ok(clientbook("notify", "send", db=fleet, home=home,
                                  **smtp_env(free_port())))
    lines = result.stdout.splitlines()
    assert lines[0].startswith("#1 ann@boreal.example: will retry (cannot reach the server")
    assert lines[1] == "#2 bo@boreal.example: not tried"
    assert lines[2] == "Sent 0, will retry 1, failed 0."
    assert lines[3].startswith("Stopped early: cannot reach the server")
    assert lines[3].endswith("1 message left for the next run.")
    assert [(status, attempts) for _id, _to, status, attempts, _e in outbox(fleet)] == [
        ("pending", 1), ("pending", 0)]


def test_refused_message_fails_then_list_and_retry(fleet, home, smtp_server):
    recorder, port = smtp_server()
    recorder.refuse_rcpt["ann@boreal.example"] = "550 5.1.1 No such user here"
    assert_ok(clientbook("events", "add", "BL-100", "--type", "alarm", db=fleet, home=home))
    result = clientbook("notify", "send", db=fleet, home=home, **smtp_env(port))
    assert result.returncode == 1 and result.stderr == ""  # a permanent failure this run
    assert ("#1 ann@boreal.example: failed (recipient refused: 550 5.1.1 No such user here)"
            in result.stdout.splitlines())
    assert result.stdout.splitlines()[-1] == "Sent 1, will retry 0, failed 1."

    failed = json.loads(assert_ok(clientbook("notify", "list", "--status", "failed", "--json",
                                             db=fleet, home=home)).stdout)
    assert failed["total"] == 1
    [entry] = failed["notifications"]
    assert (entry["id"], entry["recipient_email"], entry["attempts"]) == (
        1, "ann@boreal.example", 1)
    assert "550 5.1.1 No such user here" in entry["last_error"]
    table = assert_ok(clientbook("notify", "list", db=fleet, home=home)).stdout
    assert "Alarm: BL-100 Lift" in table and "No such user here" in table
    assert table.splitlines()[-1] == "2 of 2 messages"

    assert_error(clientbook("notify", "retry", "2", "99", db=fleet, home=home),
                 "not retried: #2 (sent), #99 (no such message)")
    retried = assert_ok(clientbook("notify", "retry", "1", db=fleet, home=home))
    assert retried.stdout == "1 message queued again.\n"
    assert outbox(fleet)[0][2:4] == ("pending", 0)
    del recorder.refuse_rcpt["ann@boreal.example"]
    assert_ok(clientbook("notify", "send", db=fleet, home=home, **smtp_env(port)))
    assert [m["To"].addresses[0].addr_spec for m in recorder.accepted].count(
        "ann@boreal.example") == 1


@pytest.mark.parametrize("args", [
    ("notify", "list", "--status", "lost"),
    ("notify", "retry"),
    ("notify", "retry", "one"),
    ("notify", "send", "--limit", "0"),
    ("notify",),
])
def test_notify_usage_errors(fleet, home, args):
    assert_usage(clientbook(*args, db=fleet, home=home))
