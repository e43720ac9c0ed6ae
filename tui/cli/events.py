"""``clientbook events``: record equipment events one at a time, or a JSON Lines feed."""

from __future__ import annotations

import argparse
import json
import sys

from tui.cli.output import EXIT_ERROR, EXIT_OK, TerminalProgress, positive, print_table
from tui.i18n import _, current_language, ngettext


def add_commands(commands) -> None:
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


EVENT_OPTIONS = {"type": "--type", "message": "--message", "occurred_at": "--time",
                 "serial": "SERIAL"}


def run(ctx, args) -> int:
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
    progress = TerminalProgress()
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
    if args.json:  # for machines: ISO dates and plain numbers, whatever the locale
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
