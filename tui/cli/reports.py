"""``clientbook report --by group|segment``: the figures per group or segment, and a chart.

The table and the chart are for people (numbers and amounts in the operator's locale);
``--json`` is for machines (plain numbers, amounts as "1234.50").
"""

from __future__ import annotations

import json
import sys

from tui.cli.output import EXIT_OK, print_table
from tui.i18n import _

CHART_WIDTH = 40
METRICS = ("customers", "contacts", "machines")


def add_commands(commands) -> None:
    report = commands.add_parser(
        "report", help=_("customers, contacts, machines and open estimates per group or segment"))
    report.add_argument("--by", required=True, choices=("group", "segment"),
                        help=_("one row per customer group, or per segment"))
    report.add_argument("--chart", choices=METRICS, default="customers",
                        help=_("what the bar chart shows (default: customers)"))
    report.add_argument("--json", action="store_true", help=_("print JSON for scripts"))


def totals_text(totals: dict[str, int], locale: str | None = None) -> str:
    """{"EUR": 15000, "DKK": 30000} -> "300,00 kr.; 150,00 €" in Danish (never added
    together); ``locale`` None: the operator's."""
    from tui.domain.locale_format import format_amount

    return "; ".join(format_amount(amount, currency, locale)
                     for currency, amount in sorted(totals.items()))


def bar_chart(items: list[tuple[str, int]], width: int = CHART_WIDTH) -> list[str]:
    """Lines of a horizontal bar chart: label, bar scaled to the largest value, the value."""
    from tui.domain.locale_format import format_number

    if not items:
        return []
    block = "█"
    try:
        block.encode(sys.stdout.encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        block = "#"
    label_width = min(30, max(len(label) for label, _value in items))
    largest = max(value for _label, value in items) or 1
    lines = []
    for label, value in items:
        shown = label if len(label) <= label_width else label[:label_width - 1] + "…"
        bar = block * round(value * width / largest)
        if value and not bar:
            bar = "▏" if block == "█" else "|"  # small but not nothing
        lines.append(f"{shown.ljust(label_width)}  {bar} {format_number(value)}".rstrip())
    return lines


def run(ctx, args) -> int:
    from tui.domain.locale_format import format_number
    from tui.domain.services.estimates import minor_to_text
    from tui.domain.services.reports import report_by

    rows = report_by(ctx, args.by)
    if args.json:  # for machines: ISO dates and plain numbers, whatever the locale
        print(json.dumps({"by": args.by, "rows": [{
            "key": r.key, "label": r.label, "customers": r.customers, "contacts": r.contacts,
            "assigned_machines": r.assigned_machines, "open_estimates": r.open_estimates,
            "open_estimates_total": {currency: minor_to_text(amount, currency)
                                     for currency, amount in sorted(
                                         r.open_estimates_total.items())},
        } for r in rows]}, ensure_ascii=False, indent=2))
        return EXIT_OK
    heading = _("Group") if args.by == "group" else _("Segment")
    print_table([heading, _("Customers"), _("Contacts"), _("Machines"), _("Open estimates"),
                 _("Open estimates' total")],
                [[r.label, format_number(r.customers), format_number(r.contacts),
                  format_number(r.assigned_machines), format_number(r.open_estimates),
                  totals_text(r.open_estimates_total)]
                 for r in rows], wrap_column=0)
    if args.by == "group":
        print(_("A customer in several groups counts in each of them."))
    values = {"customers": lambda r: r.customers, "contacts": lambda r: r.contacts,
              "machines": lambda r: r.assigned_machines}[args.chart]
    titles = {"customers": _("Customers"), "contacts": _("Contacts"),
              "machines": _("Machines held")}
    print()
    print(titles[args.chart])
    for line in bar_chart([(r.label, values(r)) for r in rows]):
        print(line)
    return EXIT_OK
