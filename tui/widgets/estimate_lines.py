"""The lines of an estimate as a table: position, description, quantity, unit price, amount.

The table shows the drafts (``LineDraft``, as typed in the operator's locale, unit prices
in major units) priced in the estimate's currency by the estimates service's rules
(``price_lines``), quantities and amounts written in that locale; a line
those rules refuse (after a change of currency, say) is marked "!" and its amount left
out of the total. ``show`` returns the total and the problems of each bad line.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import DataTable

from tui.domain.services.estimates import (LineDraft, format_amount, format_quantity,
                                           parse_decimal, to_minor)
from tui.domain.validation import FieldError
from tui.i18n import _
from tui.widgets.estimate_line_form import price_lines


class EstimateLinesTable(DataTable):
    def on_mount(self) -> None:
        # 80 columns: widths + 2 cells of padding each + the scrollbar.
        self.add_column("#", key="position", width=2)
        self.add_column(_("Description"), key="description", width=33)
        self.add_column(_("Qty"), key="quantity", width=6)
        self.add_column(_("Unit price"), key="unit_price", width=13)
        self.add_column(_("Amount"), key="amount", width=14)

    def show(self, lines: Sequence[LineDraft], currency: str, cursor: int | None = None
             ) -> tuple[int, dict[int, dict[str, str]]]:
        """Show ``lines``, the cursor on ``cursor`` (else where it was); return
        (total of the valid lines in minor units, problems by line index)."""
        row_before = self.cursor_row
        amounts, problems = price_lines(lines, currency)
        self.clear()
        for index, (line, amount) in enumerate(zip(lines, amounts)):
            wrong = index in problems
            try:
                quantity = format_quantity(parse_decimal(line.quantity))
            except FieldError:
                quantity = str(line.quantity)
            price = (str(line.unit_price) if wrong else
                     format_amount(to_minor(line.unit_price, currency), currency))
            self.add_row(
                Text("!" if wrong else str(index + 1), style="bold red" if wrong else ""),
                Text(line.description.splitlines()[0] if line.description else ""),
                Text(quantity, justify="right"), Text(price, justify="right"),
                Text("—" if amount is None else format_amount(amount, currency),
                     justify="right"), key=str(index))
        if lines:
            wanted = row_before if cursor is None else cursor
            self.move_cursor(row=max(0, min(wanted, len(lines) - 1)), animate=False)
        return sum(amount for amount in amounts if amount is not None), problems
