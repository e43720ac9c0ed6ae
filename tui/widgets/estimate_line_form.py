"""One line of an estimate: description, quantity, unit price; a modal that stores nothing.

The dialog checks the line with the estimates service's own validation (the rules of
quantities, prices in the estimate's currency and descriptions live there, not here),
shows each message under its field and the line's amount as it will be computed, and
dismisses with the ``LineDraft`` as typed once it is valid (None when cancelled). Numbers
are typed and shown in the operator's locale ("1 234,5" in French; plain "1234.5" is read
too). The estimate screen keeps the drafts and saves them all with the estimate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static, TextArea

from tui.domain.errors import ValidationError
from tui.domain.services import estimates as estimate_service
from tui.domain.locale_format import number_example
from tui.domain.services.estimates import EstimateDraft, LineDraft, format_amount, minor_units
from tui.i18n import N_, _
from tui.bindings import TranslatedBindings
from tui.widgets.address_fields import FieldRow, focus_first_error, show_field_errors
from tui.widgets.footer import KeysFooter

LINE_FIELDS = ("description", "quantity", "unit_price")


def check_line(line: LineDraft, currency: str) -> tuple[int | None, dict[str, str]]:
    """(the line's amount in minor units, or None; its problems by field) per the service.

    The service validates a whole estimate; a one-line draft with a placeholder title
    gives exactly the line's own messages, keyed "lines[0].<field>".
    """
    draft = EstimateDraft(title="-", lines=(line,))
    try:
        _values, lines = estimate_service._validate(draft, currency)
    except ValidationError as error:
        prefix = "lines[0]."
        return None, {key.removeprefix(prefix): message for key, message in error.errors.items()
                      if key.startswith(prefix) or key == "lines"}
    return lines[0]["amount_minor"], {}


def price_lines(lines: Sequence[LineDraft], currency: str
                ) -> tuple[list[int | None], dict[int, dict[str, str]]]:
    """Every line's amount (None where it is not valid) and the problems of each bad line."""
    amounts: list[int | None] = []
    problems: dict[int, dict[str, str]] = {}
    for index, line in enumerate(lines):
        amount, errors = check_line(line, currency)
        amounts.append(amount)
        if errors:
            problems[index] = errors
    return amounts, problems


class EstimateLineDialog(TranslatedBindings, ModalScreen["LineDraft | None"]):
    """Add or change a line; dismisses with the valid LineDraft, or None."""

    CSS_PATH = "estimate_line_form.tcss"

    BINDINGS = [
        Binding("escape", "cancel", N_("Cancel"), id="estimate_line.cancel"),
        Binding("ctrl+s", "ok", N_("OK"), id="estimate_line.ok", priority=True),
    ]

    def __init__(self, currency: str, line: LineDraft | None = None, *,
                 title: str | None = None) -> None:
        super().__init__()
        self.currency = currency
        self.line = line or LineDraft()
        self.heading = title or (_("Edit line") if line else _("New line"))

    def compose(self) -> ComposeResult:
        line = self.line
        with Vertical(id="line-box"):
            yield Static(self.heading, id="line-title", markup=False)
            yield FieldRow(_("Description"),
                           TextArea(line.description, id="line-description", compact=True,
                                    soft_wrap=True, show_line_numbers=False),
                           field="description", required=True)
            yield FieldRow(_("Quantity"), Input(str(line.quantity), id="line-quantity",
                                                compact=True), field="quantity", required=True)
            yield FieldRow(_("Unit price"),
                           Input(str(line.unit_price), id="line-unit-price", compact=True,
                                 placeholder=self.price_hint()),
                           Static(self.currency, id="line-currency", markup=False),
                           field="unit_price", required=True)
            yield Static(id="line-amount", markup=False)
            with Horizontal(id="line-buttons"):
                yield Button(_("Cancel"), id="line-cancel")
                yield Button(_("OK"), id="line-ok", variant="primary")
        yield KeysFooter()

    def price_hint(self) -> str:
        example = number_example(places=minor_units(self.currency))
        return _("e.g. {example}; below 0: a discount").format(example=example)

    def on_mount(self) -> None:
        self.query_one("#line-description", TextArea).focus()
        self.show_amount()

    def read(self) -> LineDraft:
        return LineDraft(self.query_one("#line-description", TextArea).text,
                         self.query_one("#line-quantity", Input).value.strip(),
                         self.query_one("#line-unit-price", Input).value.strip())

    def show_amount(self) -> None:
        line = self.read()  # the amount needs a quantity and a price, not yet a description
        amount, _errors = check_line(replace(line, description=line.description or "-"),
                                     self.currency)
        text = "—" if amount is None else format_amount(amount, self.currency)
        self.query_one("#line-amount", Static).update(_("Amount: {amount}").format(amount=text))

    @on(Input.Changed)
    @on(TextArea.Changed)
    def changed(self) -> None:
        self.show_amount()

    @on(Input.Submitted, "#line-quantity")
    def quantity_submitted(self) -> None:
        self.query_one("#line-unit-price", Input).focus()

    @on(Input.Submitted, "#line-unit-price")
    def price_submitted(self) -> None:
        self.action_ok()

    def action_ok(self) -> None:
        line = self.read()
        _amount, errors = check_line(line, self.currency)
        wrong = show_field_errors(self, errors)
        if errors:
            focus_first_error(wrong)
            rest = [message for key, message in errors.items() if key not in LINE_FIELDS]
            if rest:
                self.notify("\n".join(rest), severity="error", markup=False)
            return
        self.dismiss(line)

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#line-ok")
    def ok_pressed(self) -> None:
        self.action_ok()

    @on(Button.Pressed, "#line-cancel")
    def cancel_pressed(self) -> None:
        self.action_cancel()
