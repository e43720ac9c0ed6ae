"""``clientbook notify``: send the e-mail outbox (from cron), list it, retry what failed."""

from __future__ import annotations

import json

from tui.cli.output import EXIT_ERROR, EXIT_OK, TerminalProgress, positive, print_table
from tui.i18n import _, ngettext


def add_commands(commands) -> None:
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


def run(ctx, args, environ) -> int:
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
    progress = TerminalProgress()

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

    if args.json:  # for machines: ISO dates and plain numbers, whatever the locale
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
