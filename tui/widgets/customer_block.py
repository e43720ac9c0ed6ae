"""The customer's details as an estimate keeps them (its copy), shown read-only.

Name (with a note when the estimate's customer was deleted), billing and shipping
address, and how to reach them: main contact, phone, e-mail. The copy is a mapping of
the Estimate's copied columns (``estimates.COPIED_FIELDS``); None: no customer yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import SimpleNamespace

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from tui.domain.proposal import address_lines
from tui.domain.validation import format_phone
from tui.i18n import _, current_language
from tui.widgets.address_fields import FieldRow

LABEL_WIDTH = 11  # the label column, as DEFAULT_CSS sets it for the rows above too


class CustomerBlock(Vertical):
    """The copy, read-only; its first row carries the ``customer_id`` field's errors."""

    DEFAULT_CSS = """
    CustomerBlock {
        height: auto;
    }
    CustomerBlock FieldRow .field-label {
        width: 11;
    }
    CustomerBlock FieldRow .field-error {
        margin-left: 11;
    }
    CustomerBlock #customer-name {
        width: 1fr;
    }
    CustomerBlock #customer-details {
        height: 3;
        color: $text-muted;
    }
    """

    def compose(self) -> ComposeResult:
        yield FieldRow(_("Customer"), Static(id="customer-name"), field="customer_id")
        yield Static(id="customer-details", markup=False)

    def show(self, copy: Mapping | None, *, unlinked: bool = False,
             none_hint: str = "") -> None:
        name = self.query_one("#customer-name", Static)
        details = self.query_one("#customer-details", Static)
        if copy is None:
            name.update(Text(none_hint or _("none chosen yet"), style="italic"))
            details.update("")
            return
        shown, language = SimpleNamespace(**copy), current_language()
        title = Text(shown.customer_name, style="bold")
        if unlinked:
            title.append("  " + _("(no longer linked: its customer was deleted)"),
                         style="italic")
        name.update(title)
        billing = ", ".join(address_lines(shown, "billing", language)) or "—"
        shipping = ", ".join(address_lines(shown, "shipping", language)) or "—"
        reach = " · ".join(part for part in (
            shown.contact_name, format_phone(shown.phone, shown.billing_country), shown.email)
            if part) or "—"
        labels = [_("Billing"), _("Shipping"), _("Contact")]
        width = max(LABEL_WIDTH, *(len(label) + 1 for label in labels))
        details.update("\n".join(label.ljust(width) + value
                                 for label, value in zip(labels, (billing, shipping, reach))))
