"""``clientbook estimates`` (list, pdf) and ``clientbook projects`` (list).

The tables are for people: dates and amounts in the operator's locale (11/23/2026 and
$1,234.50 in US English, 23/11/2026 and 1 234,50 € in French). ``--json`` is for
machines: ISO dates and plain amounts ("1234.50") whatever the locale.
"""

from __future__ import annotations

import json
import sys

from tui.cli.output import EXIT_OK, positive, print_table
from tui.i18n import _

STATUS_CHOICES = ("draft", "sent", "accepted", "declined", "open")
STATE_CHOICES = ("open", "closed", "all")


def add_commands(commands) -> None:
    estimates = commands.add_parser("estimates", help=_("list estimates, print a proposal PDF"))
    actions = estimates.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help=_("list estimates, newest first"))
    listing.add_argument("--search", default="", metavar="TEXT",
                         help=_("words matched against number, title and customer"))
    listing.add_argument("--customer", type=positive, metavar="ID",
                         help=_("only this customer's estimates"))
    listing.add_argument("--status", choices=STATUS_CHOICES,
                         help=_("only this status (open = draft or sent)"))
    listing.add_argument("--limit", type=positive, default=100, metavar="N")
    listing.add_argument("--offset", type=int, default=0, metavar="N")
    listing.add_argument("--json", action="store_true", help=_("print JSON for scripts"))
    pdf = actions.add_parser("pdf", help=_("write an estimate as a PDF proposal"))
    pdf.add_argument("number", metavar="NUMBER", help=_("the estimate's number, e.g. E-2026-0001"))
    pdf.add_argument("-o", "--output", required=True, metavar="FILE",
                     help=_("the PDF file to write (- for standard output)"))
    pdf.add_argument("--language", metavar="LANG",
                     help=_("language of the proposal (default: the customer's)"))

    projects = commands.add_parser("projects", help=_("list customers' projects"))
    project_actions = projects.add_subparsers(dest="action", metavar="ACTION", required=True)
    project_list = project_actions.add_parser("list", help=_("list projects by deadline"))
    project_list.add_argument("--state", choices=STATE_CHOICES, default="open",
                              help=_("open (default), closed or all"))
    project_list.add_argument("--customer", type=positive, metavar="ID",
                              help=_("only this customer's projects"))
    project_list.add_argument("--search", default="", metavar="TEXT",
                              help=_("words matched against project and customer names"))
    project_list.add_argument("--limit", type=positive, default=100, metavar="N")
    project_list.add_argument("--json", action="store_true", help=_("print JSON for scripts"))


def run(ctx, args) -> int:
    if args.command == "projects":
        return command_projects_list(ctx, args)
    if args.action == "pdf":
        return command_estimates_pdf(ctx, args)
    return command_estimates_list(ctx, args)


def command_estimates_list(ctx, args) -> int:
    from tui.domain.locale_format import format_date, format_number
    from tui.domain.services.estimates import format_amount, search_estimates, status_label

    page = search_estimates(ctx, args.search, customer_id=args.customer, status=args.status,
                            limit=args.limit, offset=max(0, args.offset))
    if args.json:  # for machines: ISO dates and plain numbers, whatever the locale
        from tui.domain.services.estimates import minor_to_text

        print(json.dumps({"total": page.total, "offset": page.offset, "estimates": [{
            "id": r.id, "number": r.number, "title": r.title, "date": r.issued_on.isoformat(),
            "status": r.status, "customer_id": r.customer_id, "customer_name": r.customer_name,
            "currency": r.currency, "total": minor_to_text(r.total_minor, r.currency),
        } for r in page.rows]}, ensure_ascii=False, indent=2))
        return EXIT_OK
    print_table([_("Number"), _("Date"), _("Customer"), _("Title"), _("Status"), _("Total")],
                [[r.number, format_date(r.issued_on),
                  r.customer_name + ("" if r.customer_id else " " + _("(deleted)")), r.title,
                  status_label(r.status), format_amount(r.total_minor, r.currency)]
                 for r in page.rows], wrap_column=3)
    print(_("{shown} of {total} estimates").format(shown=format_number(len(page.rows)),
                                                   total=format_number(page.total)))
    return EXIT_OK


def command_estimates_pdf(ctx, args) -> int:
    from tui.domain.proposal import proposal_language, render_proposal, write_proposal
    from tui.domain.services.estimates import get_estimate_by_number

    estimate = get_estimate_by_number(ctx, args.number)
    language = proposal_language(ctx, estimate, args.language)
    if args.output == "-":
        sys.stdout.flush()
        sys.stdout.buffer.write(render_proposal(ctx, estimate.id, language=language))
        sys.stdout.buffer.flush()
        return EXIT_OK
    path = write_proposal(ctx, estimate.id, args.output, language=language)
    print(_("Wrote the proposal {number} ({language}) to {path}.").format(
        number=estimate.number, language=language, path=path))
    return EXIT_OK


def command_projects_list(ctx, args) -> int:
    from tui.domain.locale_format import format_date, format_number
    from tui.domain.services.estimates import format_amount, minor_to_text
    from tui.domain.services.projects import list_projects, state_label

    state = None if args.state == "all" else args.state
    page = list_projects(ctx, state, customer_id=args.customer, search=args.search,
                         limit=args.limit)

    def day(value) -> str | None:  # JSON: ISO
        return value.isoformat() if value else None

    def shown_day(value) -> str:  # the table: the operator's locale
        return format_date(value) if value else ""

    if args.json:  # for machines: ISO dates and plain numbers, whatever the locale
        print(json.dumps({"total": page.total, "projects": [{
            "id": r.id, "name": r.name, "customer_id": r.customer_id,
            "customer_name": r.customer_name, "state": r.state,
            "submission_deadline": day(r.submission_deadline), "starts_on": day(r.starts_on),
            "ends_on": day(r.ends_on), "currency": r.currency,
            "budget": None if r.budget_minor is None else minor_to_text(r.budget_minor,
                                                                        r.currency),
            "submission_contact": r.submission_contact, "billing_contact": r.billing_contact,
            "execution_contact": r.execution_contact,
        } for r in page.rows]}, ensure_ascii=False, indent=2))
        return EXIT_OK
    print_table([_("Project"), _("Customer"), _("State"), _("Deadline"), _("Start"), _("End"),
                 _("Budget"), _("Billing contact")],
                [[r.name, r.customer_name, state_label(r.state), shown_day(r.submission_deadline),
                  shown_day(r.starts_on), shown_day(r.ends_on),
                  "" if r.budget_minor is None else format_amount(r.budget_minor, r.currency),
                  r.billing_contact] for r in page.rows], wrap_column=0)
    print(_("{shown} of {total} projects").format(shown=format_number(len(page.rows)),
                                                  total=format_number(page.total)))
    return EXIT_OK
