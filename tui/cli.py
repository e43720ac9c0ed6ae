"""The ``clientbook`` command: scripting access to the same services the TUI uses.

Exit codes: 0 ok, 1 error (one line on stderr), 2 usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import traceback
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from tui.i18n import _, current_language, ngettext, set_language

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def default_data_dir() -> Path:
    from platformdirs import user_data_path

    return user_data_path("clientbook", appauthor=False)


def language_from_environment(environ) -> str | None:
    for name in ("CLIENTBOOK_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = environ.get(name)
        if value and value not in ("C", "POSIX", "C.UTF-8"):
            return value
    return None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clientbook",
        description=_("Customers, contacts, equipment and admin documents, from the keyboard."),
    )
    parser.add_argument("--db", metavar="PATH",
                        help=_("database file (default: $CLIENTBOOK_DB, else {path})").format(
                            path=default_data_dir() / "clientbook.db"))
    parser.add_argument("--config", metavar="FILE",
                        help=_("configuration YAML (default: $CLIENTBOOK_CONFIG, else the shipped one)"))
    parser.add_argument("--lang", metavar="LANG", help=_("language of messages (en, fr, da)"))
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    commands.add_parser("init", help=_("create the database; you become its administrator"))
    demo = commands.add_parser("demo", help=_("create or reuse a demo database and open it"))
    demo.add_argument("--customers", type=int, default=300, help=_("how many demo customers"))

    users = commands.add_parser("users", help=_("manage who may use the database"))
    users_commands = users.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = users_commands.add_parser("add", help=_("register a login with a role"))
    add.add_argument("login")
    add.add_argument("--role", required=True)
    add.add_argument("--name", default="", help=_("display name"))
    users_list = users_commands.add_parser("list", help=_("list users"))
    users_list.add_argument("--json", action="store_true")
    set_role = users_commands.add_parser("set-role", help=_("change a user's role"))
    set_role.add_argument("login")
    set_role.add_argument("role")
    for name, text in (("disable", _("stop a login from using the database")),
                       ("enable", _("let a disabled login in again"))):
        users_commands.add_parser(name, help=text).add_argument("login")

    customers = commands.add_parser("customers", help=_("list and search customers"))
    customers_commands = customers.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = customers_commands.add_parser("list", help=_("list customers, optionally searched"))
    listing.add_argument("--search", default="", metavar="TEXT",
                         help=_("words matched against every field"))
    listing.add_argument("--segment")
    listing.add_argument("--group")
    listing.add_argument("--limit", type=int, default=100)
    listing.add_argument("--offset", type=int, default=0)
    listing.add_argument("--json", action="store_true", help=_("print JSON for scripts"))
    add_event_commands(commands)
    add_notify_commands(commands)
    return parser


def add_event_commands(commands) -> None:
    events = commands.add_parser("events", help=_("record equipment events (one, or a feed)"))
    events_commands = events.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = events_commands.add_parser(
        "add", help=_("record one event against a machine and queue its e-mails"))
    add.add_argument("serial", metavar="SERIAL", help=_("the machine's serial number"))
    add.add_argument("--type", required=True, metavar="TYPE",
                     help=_("an event type of the configuration (e.g. service_due, alarm)"))
    add.add_argument("--message", default="", metavar="TEXT", help=_("what happened"))
    add.add_argument("--time", metavar="ISO8601",
                     help=_("when it happened, e.g. 2026-03-01T14:30:00Z (default: now; "
                            "no offset means UTC)"))
    ingest = events_commands.add_parser(
        "ingest", help=_("record the events of a JSON Lines feed (a file, or - for stdin)"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=_("Record the events of a JSON Lines feed: one JSON object per line, e.g.\n"
                      "\n"
                      '  {"serial": "BL-100", "type": "alarm", "message": "Tilt alarm",\n'
                      '   "time": "2026-03-01T14:30:00Z", "id": "unit7-000123"}\n'
                      "\n"
                      "  serial   the machine's serial number (required)\n"
                      "  type     an event type of the configuration (required)\n"
                      "  message  what happened (optional)\n"
                      "  time     ISO 8601; no offset means UTC (optional, default: now)\n"
                      "  id       the feed's own id of the event (optional): a line whose id is\n"
                      "           already recorded is skipped, so a feed can be ingested twice\n"
                      "\n"
                      "Blank lines are ignored. A bad line is reported on stderr as FILE:LINE:\n"
                      "problem and skipped; the good lines are kept.\n"
                      "\n"
                      "Exit status: 0 when no line was bad (lines skipped as already recorded\n"
                      "are not bad), 1 when some bad lines were skipped or the file cannot be\n"
                      "read, 2 for a usage error."))
    ingest.add_argument("file", metavar="FILE", help=_("the feed file, or - to read stdin"))
    listing = events_commands.add_parser("list", help=_("list recorded events, newest first"))
    listing.add_argument("serial", nargs="?", metavar="SERIAL",
                         help=_("only this machine's events"))
    listing.add_argument("--limit", type=positive, default=50, metavar="N")
    listing.add_argument("--json", action="store_true", help=_("print JSON for scripts"))


def add_notify_commands(commands) -> None:
    notify = commands.add_parser("notify", help=_("send and inspect the e-mail outbox"))
    notify_commands = notify.add_subparsers(dest="action", metavar="ACTION", required=True)
    send = notify_commands.add_parser(
        "send", help=_("send the e-mails that are due, once (run it from cron)"),
        description=_("Send the e-mails that are due over SMTP, once. Exit status: 0 when no "
                      "message failed for good in this run (messages that will be retried "
                      "do not count), 1 otherwise or when e-mail is not configured."))
    send.add_argument("--dry-run", action="store_true",
                      help=_("list what would be sent; contact no server, change nothing"))
    send.add_argument("--limit", type=positive, metavar="N",
                      help=_("send at most N messages"))
    from tui.domain.services.outbox import STATUSES

    listing = notify_commands.add_parser("list", help=_("list the outbox, newest first"))
    listing.add_argument("--status", choices=STATUSES)
    listing.add_argument("--limit", type=positive, default=100, metavar="N")
    listing.add_argument("--json", action="store_true", help=_("print JSON for scripts"))
    retry = notify_commands.add_parser(
        "retry", help=_("queue failed messages again, with a fresh set of attempts"))
    retry.add_argument("ids", nargs="+", type=positive, metavar="ID",
                       help=_("message numbers, as `notify list` shows them"))


def positive(text: str) -> int:
    """argparse type: a whole number >= 1 (a usage error otherwise)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(_("{value} is not a whole number of 1 or more").format(
            value=text))
    return value


def database_path(args, environ) -> tuple[Path, bool]:
    """The database to use, and whether it is the default one (whose folder we may create)."""
    chosen = explicit_database(args, environ)
    if chosen:
        return chosen, False
    return default_data_dir() / "clientbook.db", True


def explicit_database(args, environ) -> Path | None:
    """--db, else $CLIENTBOOK_DB; an empty --db is a mistake, never "the default one"."""
    from tui.domain.errors import DatabaseError

    if args.db is not None:
        if not args.db.strip():
            raise DatabaseError(_("--db was given an empty path."))
        return Path(args.db).expanduser()
    chosen = environ.get("CLIENTBOOK_DB", "").strip()
    return Path(chosen).expanduser() if chosen else None


def main(argv: Sequence[str] | None = None) -> int:
    environ = os.environ
    set_language(language_from_environment(environ))
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.lang:
        set_language(args.lang)
    try:
        return run(args, environ)
    except KeyboardInterrupt:
        return EXIT_ERROR
    except BrokenPipeError:  # `clientbook ... | head`: the reader has seen enough
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the exit-time flush does not fail again
        return EXIT_ERROR
    except Exception as error:  # noqa: BLE001 - the last line of defence for users
        from tui.domain.errors import ClientbookError

        if isinstance(error, ClientbookError):
            message = str(error)
        else:
            log = Path(tempfile.gettempdir()) / "clientbook-error.log"
            log.write_text(traceback.format_exc(), encoding="utf-8")
            message = _("unexpected error: {error} (details in {log})").format(error=error, log=log)
        print(f"clientbook: {' '.join(message.split())}", file=sys.stderr)
        return EXIT_ERROR


def run(args, environ) -> int:
    from tui.domain.config import load_config, resolve_config_path

    config = load_config(resolve_config_path(args.config, environ))
    path, is_default = database_path(args, environ)
    if args.command == "init":
        return command_init(config, path, is_default)
    if args.command == "demo":
        return command_demo(config, args, environ)
    ctx = open_context(config, path)
    if args.command is None:
        return open_app(ctx)
    if args.command == "users":
        return command_users(ctx, args)
    if args.command == "customers":
        return command_customers(ctx, args)
    if args.command == "events":
        return command_events(ctx, args)
    if args.command == "notify":
        return command_notify(ctx, args, environ)
    raise AssertionError(args.command)


def open_context(config, path: Path, *, create: bool = False):
    from tui.domain.context import Context, os_login
    from tui.domain.database import open_database
    from tui.domain.services.users import register_first_user, resolve_actor

    db = open_database(path, create=create)
    login = os_login()
    if create:
        register_first_user(db, config, login)
    return Context(db, config, resolve_actor(config, login))


def open_app(ctx) -> int:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        print(_("clientbook: the app needs a terminal; for scripts use the commands "
                "(see `clientbook --help`)."), file=sys.stderr)
        return EXIT_ERROR
    from tui.app import ClientbookApp

    app = ClientbookApp(ctx)
    app.run()
    return EXIT_OK if not app.return_code else EXIT_ERROR


def command_init(config, path: Path, is_default: bool) -> int:
    from tui.domain.database import is_absent
    from tui.domain.errors import DatabaseError

    if path.exists() and not path.is_dir() and not is_absent(path):
        raise DatabaseError(_("A database already exists at {path}.").format(path=path))
    if is_default:
        path.parent.mkdir(parents=True, exist_ok=True)
    ctx = open_context(config, path, create=True)
    print(_("Created {path}; {login} is its administrator.").format(
        path=path, login=ctx.actor.login))
    return EXIT_OK


def command_demo(config, args, environ) -> int:
    """Create the demo database on first use, reuse it after, then open the app on it."""
    from tui.domain.demo import populate

    from tui.domain.database import is_absent

    chosen = explicit_database(args, environ)
    path = chosen or default_data_dir() / "demo.db"
    if chosen is None:
        path.parent.mkdir(parents=True, exist_ok=True)
    fresh = is_absent(path)
    ctx = open_context(config, path, create=fresh)
    if fresh:
        counts = populate(ctx, customers=max(1, args.customers))
        print(_("Demo database created at {path}: {customers} customers, {contacts} contacts, "
                "{machines} machines, {documents} documents.").format(path=path, **counts))
    else:
        print(_("Reusing the demo database at {path}.").format(path=path))
    return open_app(ctx)


def command_users(ctx, args) -> int:
    from tui.domain.services import users

    if args.action == "add":
        user = users.add_user(ctx, args.login, args.role, args.name)
        print(_("Added {login} as {role}.").format(login=user.login, role=user.role))
    elif args.action == "list":
        rows = [{"login": u.login, "display_name": u.display_name, "role": u.role,
                 "active": u.active} for u in users.list_users(ctx)]
        if args.json:
            print(json.dumps(rows, ensure_ascii=False, indent=2))
        else:
            print_table([_("Login"), _("Name"), _("Role"), _("Active")],
                        [[r["login"], r["display_name"], r["role"],
                          _("yes") if r["active"] else _("no")] for r in rows])
    elif args.action == "set-role":
        user = users.set_role(ctx, args.login, args.role)
        print(_("{login} is now {role}.").format(login=user.login, role=user.role))
    elif args.action == "disable":
        users.disable_user(ctx, args.login)
        print(_("{login} is disabled.").format(login=args.login))
    elif args.action == "enable":
        users.enable_user(ctx, args.login)
        print(_("{login} is enabled.").format(login=args.login))
    return EXIT_OK


def command_customers(ctx, args) -> int:
    from tui.domain.services.search import search_customers
    from tui.domain.validation import format_phone

    page = search_customers(ctx, args.search, segment=args.segment, group=args.group,
                            limit=args.limit, offset=args.offset)
    if args.json:
        print(json.dumps({"total": page.total, "offset": page.offset,
                          "customers": [asdict(row) for row in page.rows]},
                         ensure_ascii=False, indent=2))
        return EXIT_OK
    segments = ctx.config.segments
    print_table(
        ["#", _("Name"), _("Segment"), _("City"), _("Country"), _("Phone"), _("Contacts"),
         _("Machines")],
        [[str(r.id), r.name, segments[r.segment].label if r.segment in segments else r.segment,
          r.city, r.country or "", format_phone(r.phone, r.country), str(r.contacts),
          str(r.machines)] for r in page.rows],
    )
    shown = len(page.rows)
    print(_("{shown} of {total} customers").format(shown=shown, total=page.total))
    return EXIT_OK


# -- events ---------------------------------------------------------------------------------

EVENT_OPTIONS = {"type": "--type", "message": "--message", "occurred_at": "--time",
                 "serial": "SERIAL"}


def command_events(ctx, args) -> int:
    if args.action == "add":
        return command_events_add(ctx, args)
    if args.action == "ingest":
        return command_events_ingest(ctx, args)
    return command_events_list(ctx, args)


def command_events_add(ctx, args) -> int:
    from tui.domain.errors import ClientbookError, ValidationError
    from tui.domain.mail import format_time
    from tui.domain.services.events import record_event

    try:
        recorded = record_event(ctx, serial=args.serial, type=args.type, message=args.message,
                                occurred_at=args.time, source="cli")
    except ValidationError as error:  # name the option, not the field
        raise ClientbookError("; ".join(f"{EVENT_OPTIONS.get(name, name)}: {message}"
                                        for name, message in error.errors.items())) from None
    event = recorded.event
    label = ctx.config.event_types[event.type].label_for(current_language())
    print(_("Recorded event #{id}: {type} on {serial} at {moment}.").format(
        id=event.id, type=label, serial=args.serial.strip(), moment=format_time(event.occurred_at)))
    if event.customer_id is None:
        print(_("No customer held the machine then: no e-mail queued."))
    else:
        print(ngettext("Held by {customer}: {count} e-mail queued.",
                       "Held by {customer}: {count} e-mails queued.",
                       recorded.notifications).format(
            customer=event.customer_name, count=recorded.notifications))
    if recorded.without_email:
        print(ngettext("{count} contact asked for notices but has no e-mail address.",
                       "{count} contacts asked for notices but have no e-mail address.",
                       recorded.without_email).format(count=recorded.without_email))
    return EXIT_OK


class _Progress:
    """One self-rewriting line on stderr, only when stderr is a terminal."""

    def __init__(self):
        self.shown = sys.stderr.isatty()

    def update(self, text: str) -> None:
        if self.shown:
            print(f"\r\x1b[K{text}", end="", file=sys.stderr, flush=True)

    def clear(self) -> None:
        if self.shown:
            print("\r\x1b[K", end="", file=sys.stderr, flush=True)


def command_events_ingest(ctx, args) -> int:
    from tui.domain.errors import ClientbookError
    from tui.domain.services.events import ingest_events

    if args.file == "-":
        name, stream, close = "<stdin>", sys.stdin.buffer, False
    else:
        name = args.file
        try:
            stream, close = open(args.file, "rb"), True  # noqa: SIM115 - closed below
        except IsADirectoryError:
            raise ClientbookError(_("{file}: is a directory, not a feed file").format(
                file=name)) from None
        except OSError as exc:
            raise ClientbookError(_("{file}: cannot be read: {reason}").format(
                file=name, reason=exc.strerror or exc)) from None
    progress = _Progress()
    printed = {"errors": 0, "duplicates": 0}

    def report_new(report) -> None:
        """Bad and duplicate lines as they are found, in line order."""
        new = ([(line, message) for line, message in report.errors[printed["errors"]:]]
               + [(line, _("skipped: {reason}").format(reason=message))
                  for line, message in report.duplicates[printed["duplicates"]:]])
        printed.update(errors=len(report.errors), duplicates=len(report.duplicates))
        if new:
            progress.clear()
        for line, message in sorted(new):
            print(f"{name}:{line}: {' '.join(message.split())}", file=sys.stderr)

    def on_batch(line: int, report) -> None:
        report_new(report)
        progress.update(_("line {line}: {recorded} recorded, {skipped} skipped").format(
            line=line, recorded=report.recorded, skipped=report.lines_skipped))

    try:
        report = ingest_events(ctx, stream, progress=on_batch)
    except OSError as exc:
        raise ClientbookError(_("{file}: cannot be read: {reason}").format(
            file=name, reason=exc.strerror or exc)) from None
    finally:
        progress.clear()
        if close:
            stream.close()
    report_new(report)
    print(_("Recorded {recorded} events, {queued} e-mails queued; {skipped} lines skipped").format(
        recorded=report.recorded, queued=report.notifications, skipped=report.lines_skipped))
    return EXIT_ERROR if report.errors else EXIT_OK


def command_events_list(ctx, args) -> int:
    from tui.domain.errors import ClientbookError
    from tui.domain.mail import format_time
    from tui.domain.models import Equipment
    from tui.domain.permissions import require
    from tui.domain.services.events import list_events

    equipment_id = None
    if args.serial is not None:
        require(ctx.actor, "equipment.view")
        machine = Equipment.get_or_none(Equipment.serial == args.serial.strip())
        if machine is None:
            raise ClientbookError(_('No machine has the serial number "{serial}".').format(
                serial=args.serial))
        equipment_id = machine.id
    rows = list_events(ctx, equipment_id=equipment_id, limit=args.limit)
    if args.json:
        print(json.dumps([{
            "id": e.id, "serial": e.equipment.serial, "type": e.type,
            "time": e.occurred_at.isoformat() + "Z", "message": e.message,
            "customer_id": e.customer_id, "customer_name": e.customer_name,
            "source": e.source, "external_id": e.external_id,
        } for e in rows], ensure_ascii=False, indent=2))
        return EXIT_OK
    types = ctx.config.event_types
    print_table(["#", _("When"), _("Serial"), _("Type"), _("Held by"), _("Message")],
                [[str(e.id), format_time(e.occurred_at), e.equipment.serial,
                  types[e.type].label_for(current_language()) if e.type in types else e.type,
                  e.customer_name or "", " ".join(e.message.split())] for e in rows],
                wrap_column=5)
    return EXIT_OK


# -- notify ---------------------------------------------------------------------------------

def command_notify(ctx, args, environ) -> int:
    if args.action == "send":
        return command_notify_send(ctx, args, environ)
    if args.action == "list":
        return command_notify_list(ctx, args)
    return command_notify_retry(ctx, args)


def outcome_label(outcome: str) -> str:
    from tui.domain.services import outbox

    return {outbox.SENT: _("sent"), outbox.DEFERRED: _("will retry"),
            outbox.FAILED: _("failed"), outbox.UNTOUCHED: _("not tried"),
            outbox.WOULD_SEND: _("would send"), outbox.WOULD_FAIL: _("would fail")}[outcome]


def status_label(status: str) -> str:
    return {"pending": _("pending"), "sending": _("sending"), "sent": _("sent"),
            "failed": _("failed")}.get(status, status)


def command_notify_send(ctx, args, environ) -> int:
    from tui.domain.errors import ClientbookError
    from tui.domain.mail import not_configured_reason, smtp_settings
    from tui.domain.services.outbox import send_due

    settings = smtp_settings(ctx.config, environ)
    if settings is None:
        raise ClientbookError(not_configured_reason())
    progress = _Progress()

    def on_progress(done: int, total: int) -> None:
        progress.update(_("{done} of {total}").format(done=done, total=total))

    try:
        report = send_due(ctx, settings, dry_run=args.dry_run, limit=args.limit,
                          progress=on_progress)
    finally:
        progress.clear()
    for result in report.results:
        line = f"#{result.notification_id} {result.recipient}: {outcome_label(result.outcome)}"
        print(line + (f" ({' '.join(result.reason.split())})" if result.reason else ""))
    if report.dry_run:
        print(ngettext("Dry run: {count} message would be sent; nothing was changed.",
                       "Dry run: {count} messages would be sent; nothing was changed.",
                       report.due).format(count=report.due))
        return EXIT_OK
    print(_("Sent {sent}, will retry {deferred}, failed {failed}.").format(
        sent=report.sent, deferred=report.deferred, failed=report.failed))
    if report.stopped:
        print(ngettext("Stopped early: {reason}; {count} message left for the next run.",
                       "Stopped early: {reason}; {count} messages left for the next run.",
                       report.untouched).format(reason=report.stopped, count=report.untouched))
    return EXIT_ERROR if report.failed else EXIT_OK


def command_notify_list(ctx, args) -> int:
    from tui.domain.mail import format_time
    from tui.domain.services.outbox import list_notifications

    page = list_notifications(ctx, status=args.status, limit=args.limit)

    def stamp(moment):
        return moment.isoformat() + "Z" if moment else None

    if args.json:
        print(json.dumps({"total": page.total, "notifications": [{
            "id": n.id, "status": n.status, "kind": n.kind, "recipient_name": n.recipient_name,
            "recipient_email": n.recipient_email, "language": n.language, "subject": n.subject,
            "attempts": n.attempts, "next_attempt_at": stamp(n.next_attempt_at),
            "last_error": n.last_error, "sent_at": stamp(n.sent_at),
            "created_at": stamp(n.created_at), "message_id": n.message_id,
            "customer_id": n.customer_id, "event_id": n.event_id,
        } for n in page.rows]}, ensure_ascii=False, indent=2))
        return EXIT_OK

    def note(n) -> str:
        if n.status == "sent":
            return _("sent {moment}").format(moment=format_time(n.sent_at))
        if n.status == "pending" and n.attempts:
            return _("next try {moment}: {error}").format(
                moment=format_time(n.next_attempt_at), error=n.last_error)
        return n.last_error

    print_table(["#", _("Status"), _("Queued"), _("To"), _("Subject"), _("Tries"), _("Note")],
                [[str(n.id), status_label(n.status), format_time(n.created_at),
                  n.recipient_email, n.subject, str(n.attempts), " ".join(note(n).split())]
                 for n in page.rows], wrap_column=6)
    print(_("{shown} of {total} messages").format(shown=len(page.rows), total=page.total))
    return EXIT_OK


def command_notify_retry(ctx, args) -> int:
    from tui.domain.errors import ClientbookError
    from tui.domain.services.outbox import notification_statuses, retry_notifications

    ids = list(dict.fromkeys(args.ids))
    statuses = notification_statuses(ctx, ids)
    retried = retry_notifications(ctx, [key for key in ids if statuses.get(key) == "failed"])
    print(ngettext("{count} message queued again.", "{count} messages queued again.",
                   retried).format(count=retried))
    refused = [_("#{id} (no such message)").format(id=key) if key not in statuses else
               _("#{id} ({status})").format(id=key, status=status_label(statuses[key]))
               for key in ids if statuses.get(key) != "failed"]
    if refused:
        raise ClientbookError(_("not retried: {ids}; only failed messages can be retried").format(
            ids=", ".join(refused)))
    return EXIT_OK


def print_table(headers: list[str], rows: list[list[str]], wrap_column: int = 1) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False, highlight=False)
    for index, header in enumerate(headers):
        # Long names may wrap; numbers, codes and phone numbers never should.
        table.add_column(header, no_wrap=index != wrap_column, overflow="fold")
    for row in rows:
        # Text, not markup: a name like "[bold]" or an escape sequence is shown inert.
        table.add_row(*(Text(value) for value in row))
    # Piped into grep or a file: never wrap, whatever the width of a terminal.
    console = Console(soft_wrap=False) if sys.stdout.isatty() else Console(width=1000)
    console.print(table)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
