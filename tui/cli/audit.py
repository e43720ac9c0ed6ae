"""``clientbook audit`` (the trail: who, when, what changed field by field) and
``clientbook customers restore`` (a deleted customer back from the trail)."""

from __future__ import annotations

import argparse
import json

from tui.cli.output import EXIT_OK, positive, print_table
from tui.i18n import _, ngettext


def _offset(text: str) -> int:
    """argparse type: a whole number >= 0."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(_("{value} is not a whole number of 0 or more").format(
            value=text))
    return value


def add_commands(commands) -> None:
    audit = commands.add_parser(
        "audit", help=_("list changes, newest first: who, when, what changed field by field"),
        description=_("List the audit trail, newest first: who changed what, when, with each "
                      "changed field's value before and after. Times are UTC."))
    audit.add_argument("--customer", type=positive, metavar="ID",
                       help=_("only what concerns this customer (deleted ones too)"))
    audit.add_argument("--user", metavar="LOGIN", help=_("only the changes made by this login"))
    audit.add_argument("--since", metavar="DATE",
                       help=_("only changes from this date (YYYY-MM-DD, UTC) or time "
                              "(YYYY-MM-DDTHH:MM, no offset means UTC)"))
    audit.add_argument("--entity", metavar="KIND",
                       help=_("only changes to this kind of record: customer, contact, "
                              "document, equipment, estimate, project, group, user..."))
    audit.add_argument("--action", metavar="ACTION",
                       help=_("only this action: create, update, delete, restore, assign..."))
    audit.add_argument("--limit", type=positive, default=50, metavar="N",
                       help=_("at most N changes (default 50)"))
    audit.add_argument("--offset", type=_offset, default=0, metavar="N",
                       help=_("skip the N newest first"))
    audit.add_argument("--json", action="store_true", help=_("print JSON for scripts"))


def add_restore_command(customers_commands) -> None:
    restore = customers_commands.add_parser(
        "restore", help=_("bring a deleted customer back from the audit trail"),
        description=_("Bring a deleted customer back as it was when deleted: its contacts, "
                      "documents (with their files), groups and projects, and the estimates "
                      "it was unlinked from. Machines are not given back: they stay with "
                      "whoever holds them now. Needs the permissions audit.view, "
                      "customer.create, contact.edit and document.edit."))
    restore.add_argument("customer_id", type=positive, metavar="ID",
                         help=_("the id the customer had (see `clientbook audit --action "
                                "delete --entity customer`)"))
    restore.add_argument("--event", type=positive, metavar="N",
                         help=_("restore from this deletion event rather than the customer's "
                                "latest deletion"))
    restore.add_argument("--allow-duplicate", action="store_true",
                         help=_("restore even if a customer that looks the same exists now"))
    restore.add_argument("--dry-run", action="store_true",
                         help=_("show the last state and what a restore would do; change "
                                "nothing"))


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def run(ctx, args) -> int:
    from tui.domain.errors import ClientbookError, ValidationError
    from tui.domain.locale_format import format_datetime
    from tui.domain.services.audit import list_audit

    try:
        page = list_audit(ctx, customer_id=args.customer, user=args.user, since=args.since,
                          entity=args.entity, action=args.action, limit=args.limit,
                          offset=args.offset)
    except ValidationError as error:  # name the option, not the field
        raise ClientbookError("; ".join(f"--{name}: {message}"
                                        for name, message in error.errors.items())) from None
    if args.json:  # for machines: ISO dates and plain numbers, whatever the locale
        print(json.dumps({"total": page.total, "offset": page.offset, "events": [{
            "id": row.id, "at": row.at.isoformat() + "Z", "login": row.login,
            "action": row.action, "entity": row.entity, "entity_id": row.entity_id,
            "customer_id": row.customer_id, "summary": row.summary,
            "changes": [{"field": c.field, "label": c.label, "before": c.before,
                         "after": c.after} for c in row.changes],
        } for row in page.rows]}, ensure_ascii=False, indent=2))
        return EXIT_OK
    if not page.rows:
        print(_("No change matches.") if not page.total else _(
            "No change after the first {offset} of {total}.").format(offset=page.offset,
                                                                    total=page.total))
        return EXIT_OK
    print_table(
        ["#", _("When (UTC)"), _("Who"), _("What"), _("Changes")],
        [[str(row.id), format_datetime(row.at), row.login, row.summary,
          "\n".join(_("{field}: {before} → {after}").format(
              field=c.label, before=_one_line(c.before_text), after=_one_line(c.after_text))
              for c in row.changes)]
         for row in page.rows],
        wrap_column=3)
    print(ngettext("{first}–{last} of {total} change", "{first}–{last} of {total} changes",
                   page.total).format(first=page.offset + 1, last=page.offset + len(page.rows),
                                      total=page.total))
    return EXIT_OK


def run_restore(ctx, args) -> int:
    from tui.domain.errors import ClientbookError, DuplicateWarning
    from tui.domain.services.audit import deleted_customer_state, restore_customer

    if args.dry_run:
        state = deleted_customer_state(ctx, args.event, customer_id=args.customer_id)
        _check_event(state.customer_id, args)
        if state.refusal:
            raise ClientbookError(state.refusal)
        print(_("{name} (#{id}), deletion event #{event}:").format(
            name=state.name, id=state.customer_id, event=state.event_id))
        for line in state.describe():
            print("  " + _one_line(line))
        print(_("Nothing was changed (--dry-run)."))
        return EXIT_OK
    if args.event is not None:
        _check_event(deleted_customer_state(ctx, args.event).customer_id, args)
    try:
        restored = restore_customer(ctx, args.customer_id, audit_id=args.event,
                                    allow_duplicate=args.allow_duplicate)
    except DuplicateWarning as warning:
        raise ClientbookError(_("{warning} Nothing was restored; add --allow-duplicate to "
                                "restore it anyway.").format(warning=warning)) from None
    for line in restored.describe():
        print(_one_line(line))
    return EXIT_OK


def _check_event(customer_id: int, args) -> None:
    """--event must be a deletion of the customer ID named."""
    from tui.domain.errors import ClientbookError

    if args.event is not None and customer_id != args.customer_id:
        raise ClientbookError(_("Deletion event #{event} is of customer #{other}, not "
                                "#{id}.").format(event=args.event, other=customer_id,
                                                 id=args.customer_id))
