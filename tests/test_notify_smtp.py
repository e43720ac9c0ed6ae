"""The outbox sender against a real SMTP server (aiosmtpd on 127.0.0.1).

What arrives is checked as the receiving server saw it: envelope recipients,
headers, body language. The server down, a slow server with two senders at
once, refusals, AUTH and TLS are all real network conversations.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email
import email.policy
import shutil
import socket
import ssl
import subprocess
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from tests.conftest import ContactDraft
from tests.test_cli import CLIENTBOOK, cli_env, my_login
from tui.domain.config import load_config
from tui.domain.context import Context
from tui.domain.errors import ConfigError, PermissionDenied
from tui.domain.mail import smtp_settings
from tui.domain.models import AuditEvent, Notification, utcnow
from tui.domain.services.equipment import assign_equipment
from tui.domain.services.events import record_event
from tui.domain.services.outbox import (
    DEFERRED,
    FAILED,
    SENT,
    UNTOUCHED,
    WOULD_FAIL,
    WOULD_SEND,
    retry_notifications,
    send_due,
)
from tui.domain.services.users import add_user

pytestmark = pytest.mark.both_backends
FROM = "service@clientbook.example"


# -- a recording SMTP server ----------------------------------------------------------------

class Recorder:
    """aiosmtpd handler: keeps what it accepted; can refuse, be slow, or wait for company."""

    def __init__(self):
        self.accepted: list[email.message.EmailMessage] = []
        self.envelopes = []  # (peer, mail_from, rcpt_tos, login)
        self.refuse_rcpt: dict[str, str] = {}  # address -> reply, e.g. "550 5.1.1 no such user"
        self.data_reply = "250 OK"
        self.delay = 0.0
        self.wait_for_peers = 0  # hold each message until this many connections have sent one
        self.peers_seen: set = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse_rcpt:
            return self.refuse_rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.peers_seen.add(session.peer)
        deadline = time.monotonic() + 15
        while len(self.peers_seen) < self.wait_for_peers and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        if self.delay:
            await asyncio.sleep(self.delay)
        if not self.data_reply.startswith("250"):
            return self.data_reply
        login = session.auth_data if session.authenticated else None
        self.envelopes.append((session.peer, envelope.mail_from, list(envelope.rcpt_tos), login))
        self.accepted.append(email.message_from_bytes(envelope.original_content,
                                                      policy=email.policy.default))
        return "250 OK"

    def message_ids(self) -> list[str]:
        return [message["Message-ID"] for message in self.accepted]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server():
    """``smtp_server(port=None, **controller_kwargs)`` -> (Recorder, port), stopped after."""
    started = []

    def start(port: int | None = None, recorder: Recorder | None = None, **kwargs):
        recorder = recorder or Recorder()
        port = port or free_port()
        controller = Controller(recorder, hostname="127.0.0.1", port=port, **kwargs)
        controller.start()
        started.append(controller)
        return recorder, port

    yield start
    for controller in started:
        controller.stop()


def settings_for(config, port: int, **env: str):
    values = {"CLIENTBOOK_SMTP_HOST": "127.0.0.1", "CLIENTBOOK_SMTP_PORT": str(port),
              "CLIENTBOOK_SMTP_SECURITY": "none", "CLIENTBOOK_MAIL_FROM": FROM, **env}
    return smtp_settings(config, values)


# -- data -----------------------------------------------------------------------------------

def notify(name: str, address: str) -> ContactDraft:
    return ContactDraft(name=name, email=address, roles=("notify",))


@pytest.fixture
def two_languages(admin, make_customer, make_machine):
    """An English and a French customer, each holding a machine, one notify contact each."""
    english = make_customer("Boreal Lift Ltd", language="en",
                            contacts=(notify("Ann Smith", "ann@boreal.example"),))
    french = make_customer("Levage du Nord", language="fr",
                           contacts=(notify("Élodie Martin", "elodie@levage.example"),))
    for customer, serial in ((english, "EN-1"), (french, "FR-1")):
        machine = make_machine(serial, name="Scissor lift")
        assign_equipment(admin, customer.id, [machine.id])
    return english, french


def queue(admin, count: int, serial: str = "EN-1") -> list[Notification]:
    for _ in range(count):
        record_event(admin, serial=serial, type="breakdown", message="Hydraulic leak")
    return list(Notification.select().order_by(Notification.id))


def fresh(note: Notification) -> Notification:
    return Notification.get_by_id(note.id)


# -- delivery -------------------------------------------------------------------------------

def test_messages_arrive_in_the_customers_language(admin, config, two_languages, smtp_server):
    recorder, port = smtp_server()
    record_event(admin, serial="EN-1", type="breakdown", message="Hydraulic leak")
    record_event(admin, serial="FR-1", type="breakdown", message="Fuite hydraulique")
    queued = {n.recipient_email: n for n in Notification.select()}
    progress = []

    report = send_due(admin, settings_for(config, port), progress=lambda *p: progress.append(p))

    assert (report.sent, report.deferred, report.failed, report.due) == (2, 0, 0, 2)
    assert progress == [(0, 2), (1, 2), (2, 2)]
    by_to = {message["To"].addresses[0].addr_spec: message for message in recorder.accepted}
    assert [rcpts for _peer, _from, rcpts, _login in recorder.envelopes] == [
        ["ann@boreal.example"], ["elodie@levage.example"]]
    assert {mail_from for _peer, mail_from, _rcpts, _login in recorder.envelopes} == {FROM}
    english, french = by_to["ann@boreal.example"], by_to["elodie@levage.example"]
    assert english["Subject"] == "Breakdown: EN-1 Scissor lift"
    assert english.get_content().startswith("Hello Ann Smith")
    assert english["Content-Language"] == "en"
    assert french["Subject"] == "Panne : FR-1 Scissor lift"
    assert french.get_content().startswith("Bonjour Élodie Martin")
    assert "Fuite hydraulique" in french.get_content()
    assert french["Content-Language"] == "fr"
    assert french["To"].addresses[0].display_name == "Élodie Martin"
    assert english["From"].addresses[0].addr_spec == FROM
    assert english["From"].addresses[0].display_name == config.business_name
    assert english["Message-ID"] == queued["ann@boreal.example"].message_id
    assert french["Message-ID"] == queued["elodie@levage.example"].message_id
    assert len({peer for peer, *_rest in recorder.envelopes}) == 1  # one connection per run
    for note in Notification.select():
        assert (note.status, note.attempts, note.last_error) == ("sent", 1, "")
        assert note.sent_at is not None
    assert AuditEvent.select().where(AuditEvent.action == "send",
                                     AuditEvent.entity == "notification").count() == 2

    again = send_due(admin, settings_for(config, port))
    assert (again.due, again.sent) == (0, 0) and len(recorder.accepted) == 2


def test_server_down_keeps_the_message_pending_then_delivers_it_once(
        admin, config, two_languages, smtp_server):
    [note] = queue(admin, 1)
    port = free_port()  # nothing listens here yet
    started = utcnow()

    down = send_due(admin, settings_for(config, port), now=started)

    assert (down.sent, down.deferred, down.failed) == (0, 1, 0)
    assert "cannot reach the server" in down.stopped
    note = fresh(note)
    assert (note.status, note.attempts) == ("pending", 1)
    assert "cannot reach the server" in note.last_error
    assert note.next_attempt_at == started + timedelta(seconds=config.email.retry_delay_seconds)
    assert (note.claimed_by, note.claimed_at) == (None, None)

    recorder, _port = smtp_server(port)
    early = send_due(admin, settings_for(config, port), now=started + timedelta(seconds=10))
    assert (early.due, early.sent, recorder.accepted) == (0, 0, [])  # not due yet

    later = note.next_attempt_at + timedelta(seconds=1)
    back = send_due(admin, settings_for(config, port), now=later)
    assert (back.sent, back.deferred) == (1, 0)
    assert recorder.message_ids() == [note.message_id]
    assert (fresh(note).status, fresh(note).attempts, fresh(note).last_error) == ("sent", 2, "")

    assert send_due(admin, settings_for(config, port), now=later + timedelta(days=1)).sent == 0
    assert recorder.message_ids() == [note.message_id]


def test_the_delay_doubles_after_each_failure(admin, config, two_languages):
    [note] = queue(admin, 1)
    settings = settings_for(config, free_port())
    delay = config.email.retry_delay_seconds
    moment = utcnow()
    for attempt in range(1, 4):
        send_due(admin, settings, now=moment)
        note = fresh(note)
        assert note.attempts == attempt
        assert note.next_attempt_at == moment + timedelta(seconds=delay * 2 ** (attempt - 1))
        moment = note.next_attempt_at


def test_an_unreachable_server_stops_the_run_without_burning_the_rest(
        admin, config, two_languages):
    notes = queue(admin, 3)
    report = send_due(admin, settings_for(config, free_port()))
    assert (report.deferred, report.untouched, report.sent) == (1, 2, 0)
    assert [r.outcome for r in report.results] == [DEFERRED, UNTOUCHED, UNTOUCHED]
    assert [fresh(n).attempts for n in notes] == [1, 0, 0]
    assert {fresh(n).status for n in notes} == {"pending"}


def test_max_attempts_reached_marks_the_message_failed(admin, config, two_languages):
    strict = Context(admin.db, dataclasses.replace(
        config, email=dataclasses.replace(config.email, max_attempts=2)), admin.actor)
    [note] = queue(admin, 1)
    settings = settings_for(config, free_port())
    send_due(strict, settings)
    assert fresh(note).status == "pending"
    report = send_due(strict, settings, now=fresh(note).next_attempt_at)
    assert (report.failed, report.deferred) == (1, 0)
    note = fresh(note)
    assert (note.status, note.attempts) == ("failed", 2)
    assert note.last_error.startswith("gave up after 2 attempts")
    assert "cannot reach the server" in note.last_error


def test_a_refused_recipient_fails_at_once_and_can_be_retried(
        admin, config, two_languages, smtp_server):
    recorder, port = smtp_server()
    record_event(admin, serial="EN-1", type="alarm")
    record_event(admin, serial="FR-1", type="alarm")
    recorder.refuse_rcpt["ann@boreal.example"] = "550 5.1.1 <ann@boreal.example>: no such user"

    report = send_due(admin, settings_for(config, port))

    # The refusal does not end the run: the same connection carries the next message.
    assert (report.sent, report.failed, report.deferred) == (1, 1, 0)
    refused = Notification.get(Notification.recipient_email == "ann@boreal.example")
    assert (refused.status, refused.attempts) == ("failed", 1)
    assert "550" in refused.last_error and "no such user" in refused.last_error
    assert [r.reason for r in report.results if r.outcome == FAILED] == [refused.last_error]
    assert recorder.message_ids() == [
        Notification.get(Notification.recipient_email == "elodie@levage.example").message_id]

    del recorder.refuse_rcpt["ann@boreal.example"]
    assert send_due(admin, settings_for(config, port)).due == 0  # failed stays failed
    assert retry_notifications(admin, [refused.id]) == 1
    assert (fresh(refused).status, fresh(refused).attempts) == ("pending", 0)
    assert send_due(admin, settings_for(config, port)).sent == 1
    assert fresh(refused).status == "sent"
    assert recorder.message_ids().count(refused.message_id) == 1


def test_a_rejected_message_fails_and_a_temporary_refusal_is_retried(
        admin, config, two_languages, smtp_server):
    recorder, port = smtp_server()
    first, second = queue(admin, 2)
    recorder.data_reply = "554 5.7.1 Message rejected as spam"
    report = send_due(admin, settings_for(config, port))
    assert report.failed == 2 and "554 5.7.1 Message rejected as spam" in fresh(first).last_error

    retry_notifications(admin, [first.id, second.id])
    recorder.data_reply = "451 4.3.0 Try again later"
    report = send_due(admin, settings_for(config, port))
    assert (report.deferred, report.failed, report.stopped) == (2, 0, "")  # both tried
    assert (fresh(first).status, fresh(first).attempts) == ("pending", 1)
    assert "451" in fresh(first).last_error
    assert recorder.accepted == []


def test_a_crashed_sender_is_not_resent_but_failed_with_a_warning(
        admin, config, two_languages, smtp_server):
    recorder, port = smtp_server()
    crashed, recent = queue(admin, 2)
    long_ago = utcnow() - timedelta(hours=1)
    Notification.update(status="sending", claimed_by="ghost@old-host:123",
                        claimed_at=long_ago).where(Notification.id == crashed.id).execute()
    Notification.update(status="sending", claimed_by="busy@host:456",
                        claimed_at=utcnow()).where(Notification.id == recent.id).execute()

    report = send_due(admin, settings_for(config, port))

    assert (report.failed, report.sent) == (1, 0)
    crashed = fresh(crashed)
    assert crashed.status == "failed"
    assert "interrupted while sending" in crashed.last_error
    assert "may have arrived" in crashed.last_error and "ghost@old-host:123" in crashed.last_error
    assert fresh(recent).status == "sending"  # another sender is on it right now
    assert recorder.accepted == []
    # An operator who checked can send it again.
    assert retry_notifications(admin, [crashed.id]) == 1
    assert send_due(admin, settings_for(config, port)).sent == 1
    assert recorder.message_ids() == [crashed.message_id]


def test_dry_run_changes_nothing_and_sends_nothing(admin, config, two_languages, smtp_server):
    recorder, port = smtp_server()
    notes = queue(admin, 2)
    Notification.update(status="sending", claimed_at=utcnow() - timedelta(hours=1)).where(
        Notification.id == notes[1].id).execute()
    before = [fresh(n).__data__ for n in notes]
    audits = AuditEvent.select().count()

    report = send_due(admin, settings_for(config, port), dry_run=True)

    assert report.dry_run and (report.sent, report.failed, report.deferred) == (0, 0, 0)
    assert [(r.notification_id, r.outcome) for r in report.results] == [
        (notes[1].id, WOULD_FAIL), (notes[0].id, WOULD_SEND)]
    assert [fresh(n).__data__ for n in notes] == before
    assert AuditEvent.select().count() == audits
    assert recorder.accepted == [] and recorder.peers_seen == set()


def test_sending_needs_the_permission(as_role, config, two_languages, admin, smtp_server):
    recorder, port = smtp_server()
    [note] = queue(admin, 1)
    for role in ("limited", "account_owner"):
        with pytest.raises(PermissionDenied):
            send_due(as_role(role), settings_for(config, port))
    assert fresh(note).status == "pending" and recorder.accepted == []
    assert send_due(as_role("fleet_administrator"), settings_for(config, port)).sent == 1


def test_limit_sends_at_most_that_many(admin, config, two_languages, smtp_server):
    recorder, port = smtp_server()
    queue(admin, 3)
    assert send_due(admin, settings_for(config, port), limit=2).sent == 2
    assert Notification.select().where(Notification.status == "pending").count() == 1


# -- several senders ------------------------------------------------------------------------

def test_two_threads_each_with_its_own_connection_never_send_twice(
        admin, config, two_languages, smtp_server):
    """The TUI's way: send_due in worker threads while the main thread holds the database."""
    recorder, port = smtp_server()
    notes = queue(admin, 12)
    recorder.wait_for_peers, recorder.delay = 2, 0.005
    reports, closed_after = [None, None], [None, None]

    def run(index: int) -> None:
        reports[index] = send_due(admin, settings_for(config, port))
        closed_after[index] = admin.db.is_closed()  # this thread's own connection

    threads = [threading.Thread(target=run, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(recorder.message_ids()) == sorted(n.message_id for n in notes)
    assert all(report.sent > 0 for report in reports), reports
    assert sum(report.sent for report in reports) == 12
    assert closed_after == [True, True]  # each thread's connection was closed again
    assert not admin.db.is_closed()  # the main thread's connection is untouched


@pytest.mark.skipif(not CLIENTBOOK.is_file(), reason="the clientbook script is not installed")
def test_two_clientbook_processes_deliver_each_message_exactly_once(
        admin, config, db_target, two_languages, smtp_server, tmp_path):
    recorder, port = smtp_server()
    add_user(admin, my_login(), "fleet_administrator")
    queue(admin, 15, "EN-1")
    notes = queue(admin, 15, "FR-1")
    assert len(notes) == 30
    # Each message waits until both senders have a message in flight, then a little more:
    # the two runs certainly overlap, and both get a share.
    recorder.wait_for_peers, recorder.delay = 2, 0.01
    env = cli_env(tmp_path, CLIENTBOOK_SMTP_HOST="127.0.0.1", CLIENTBOOK_SMTP_PORT=str(port),
                  CLIENTBOOK_SMTP_SECURITY="none", CLIENTBOOK_MAIL_FROM=FROM)
    senders = [subprocess.Popen([str(CLIENTBOOK), "--db", str(db_target), "notify", "send"],
                                env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [sender.communicate(timeout=60) for sender in senders]

    for sender, (out, err) in zip(senders, outputs):
        assert sender.returncode == 0, (out, err)
        assert err == ""
    ids = recorder.message_ids()
    assert sorted(ids) == sorted(n.message_id for n in notes)  # all, each exactly once
    assert len(set(ids)) == 30
    per_sender = [int(out.split("Sent ")[1].split(",")[0]) for out, _err in outputs]
    assert sum(per_sender) == 30 and min(per_sender) > 0, outputs
    assert len({peer for peer, *_rest in recorder.envelopes}) == 2
    assert {n.status for n in Notification.select()} == {"sent"}


# -- login and encryption -------------------------------------------------------------------

class Accounts:
    def __init__(self, **passwords: str):
        self.passwords = passwords
        self.logins: list[str] = []

    def __call__(self, server, session, envelope, mechanism, auth_data):
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.logins.append(login)
        ok = self.passwords.get(login) == password
        return AuthResult(success=ok, handled=False, auth_data=login)  # handled: we reply 535


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_login_from_the_environment_reaches_the_server(admin, config, two_languages,
                                                       smtp_server):
    accounts = Accounts(mailer="s3cret pass")
    recorder, port = smtp_server(authenticator=accounts, auth_require_tls=False,
                                 auth_required=True)
    [note] = queue(admin, 1)
    wrong = settings_for(config, port, CLIENTBOOK_SMTP_USERNAME="mailer",
                         CLIENTBOOK_SMTP_PASSWORD="guess")
    report = send_due(admin, wrong)
    assert report.deferred == 1 and "login refused" in fresh(note).last_error
    assert "535" in fresh(note).last_error

    right = settings_for(config, port, CLIENTBOOK_SMTP_USERNAME="mailer",
                         CLIENTBOOK_SMTP_PASSWORD="s3cret pass")
    assert send_due(admin, right, now=fresh(note).next_attempt_at).sent == 1
    assert set(accounts.logins) == {"mailer"}  # smtplib tries PLAIN, then LOGIN
    assert [login for *_rest, login in recorder.envelopes] == ["mailer"]


@pytest.fixture
def certificate(tmp_path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 made by openssl: (cert, key)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    return cert, key


def server_tls(certificate) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*map(str, certificate))
    return context


def test_starttls_with_the_sites_ca(admin, config, two_languages, smtp_server, certificate):
    accounts = Accounts(mailer="pw")
    recorder, port = smtp_server(tls_context=server_tls(certificate), require_starttls=True,
                                 authenticator=accounts)  # AUTH only once encrypted
    [note] = queue(admin, 1)
    untrusted = settings_for(config, port, CLIENTBOOK_SMTP_SECURITY="starttls")
    report = send_due(admin, untrusted)
    assert report.deferred == 1 and "TLS failed" in fresh(note).last_error
    assert "CERTIFICATE_VERIFY_FAILED" in fresh(note).last_error

    trusted = settings_for(config, port, CLIENTBOOK_SMTP_SECURITY="starttls",
                           CLIENTBOOK_SMTP_CA_FILE=str(certificate[0]),
                           CLIENTBOOK_SMTP_USERNAME="mailer", CLIENTBOOK_SMTP_PASSWORD="pw")
    assert send_due(admin, trusted, now=fresh(note).next_attempt_at).sent == 1
    assert recorder.message_ids() == [note.message_id] and accounts.logins == ["mailer"]


def test_implicit_tls_with_the_sites_ca(admin, config, two_languages, smtp_server, certificate):
    recorder, port = smtp_server(ssl_context=server_tls(certificate))
    [note] = queue(admin, 1)
    settings = settings_for(config, port, CLIENTBOOK_SMTP_SECURITY="ssl",
                            CLIENTBOOK_SMTP_CA_FILE=str(certificate[0]))
    assert send_due(admin, settings).sent == 1
    assert recorder.message_ids() == [note.message_id]


def test_starttls_refused_by_a_plain_server_is_retried_later(admin, config, two_languages,
                                                             smtp_server):
    recorder, port = smtp_server()
    [note] = queue(admin, 1)
    report = send_due(admin, settings_for(config, port, CLIENTBOOK_SMTP_SECURITY="starttls"))
    assert report.deferred == 1 and "STARTTLS" in fresh(note).last_error
    assert recorder.accepted == []


# -- configuration --------------------------------------------------------------------------

def config_with(tmp_path: Path, replacement: str) -> Path:
    shipped = Path(__file__).resolve().parents[1] / "data" / "clientbook.yaml"
    text = shipped.read_text(encoding="utf-8")
    assert "    ca_file: null" in text
    path = tmp_path / "site.yaml"
    path.write_text(text.replace("    ca_file: null", replacement, 1), encoding="utf-8")
    return path


def test_ca_file_in_the_config_is_relative_to_it(tmp_path, certificate):
    loaded = load_config(config_with(tmp_path, "    ca_file: cert.pem"))
    assert loaded.email.smtp.ca_file == certificate[0].resolve()
    settings = smtp_settings(loaded, {"CLIENTBOOK_SMTP_HOST": "mail.example",
                                      "CLIENTBOOK_MAIL_FROM": FROM})
    assert settings.ca_file == certificate[0].resolve() and settings.port == 587


def test_missing_ca_file_is_one_line_naming_file_line_and_key(tmp_path):
    path = config_with(tmp_path, "    ca_file: nowhere/ca.pem")
    line = next(number for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(),
                                                     start=1) if "ca_file: nowhere" in text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}, line {line}: email.smtp.ca_file: ")
    assert "nowhere/ca.pem is not a file" in message


def test_ca_file_must_be_text(tmp_path):
    with pytest.raises(ConfigError, match=r"email\.smtp\.ca_file: must be text"):
        load_config(config_with(tmp_path, "    ca_file: 42"))


def test_ca_file_from_the_environment_is_checked(config, tmp_path):
    with pytest.raises(ConfigError, match="CLIENTBOOK_SMTP_CA_FILE: .*missing.pem is not a file"):
        settings_for(config, 25, CLIENTBOOK_SMTP_CA_FILE=str(tmp_path / "missing.pem"))


def test_a_ca_file_that_is_not_pem_fails_before_any_message_is_claimed(
        admin, config, two_languages, tmp_path):
    [note] = queue(admin, 1)
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("not a certificate\n", encoding="utf-8")
    settings = settings_for(config, free_port(), CLIENTBOOK_SMTP_CA_FILE=str(bogus))
    with pytest.raises(ConfigError, match="bogus.pem: not a file of PEM certificates"):
        send_due(admin, settings)
    assert (fresh(note).status, fresh(note).attempts) == ("pending", 0)


@pytest.mark.parametrize("env, fragment", [
    ({"CLIENTBOOK_SMTP_PORT": "smtp"}, "CLIENTBOOK_SMTP_PORT: smtp is not a port number"),
    ({"CLIENTBOOK_SMTP_SECURITY": "tls"}, "CLIENTBOOK_SMTP_SECURITY: must be one of"),
    ({"CLIENTBOOK_MAIL_FROM": "nobody"}, "CLIENTBOOK_MAIL_FROM: nobody is not an e-mail"),
])
def test_bad_settings_from_the_environment(config, env, fragment):
    with pytest.raises(ConfigError) as caught:
        settings_for(config, 25, **env)
    assert fragment in str(caught.value) and "\n" not in str(caught.value)


def test_not_configured_without_host_or_sender(config):
    assert smtp_settings(config, {}) is None
    assert smtp_settings(config, {"CLIENTBOOK_SMTP_HOST": "mail.example"}) is None
    assert smtp_settings(config, {"CLIENTBOOK_MAIL_FROM": FROM}) is None
    settings = smtp_settings(config, {"CLIENTBOOK_SMTP_HOST": "mail.example",
                                      "CLIENTBOOK_MAIL_FROM": FROM,
                                      "CLIENTBOOK_SMTP_SECURITY": "ssl"})
    assert (settings.port, settings.username, settings.password) == (465, None, None)
