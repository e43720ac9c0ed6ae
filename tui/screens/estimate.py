"""One estimate: title, date, status, the customer's details (a copy), the priced lines.

Choosing the customer (``c``, a searchable pick) fills the customer block from that
customer, read-only: the estimates service keeps the copy up to date afterwards. Lines
are added and changed in a small dialog and kept here until Ctrl+S saves the whole
estimate with the version it was read at; someone else's save in between opens the
conflict dialog instead of being overwritten. The status is saved at once when it is
changed. ``p`` writes the PDF proposal of what is saved (a thread worker), and F8 lets
whoever may (the estimator included) add a new customer from here, through the wizard.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Select, Static

from tui.domain import models
from tui.domain.errors import ClientbookError, Conflict, ValidationError
from tui.domain.locale_format import date_example, format_date, format_moment, parse_date
from tui.domain.models import Estimate
from tui.domain.services.customers import get_customer
from tui.domain.services.estimates import (COPIED_FIELDS, STATUSES, EstimateDraft, LineDraft,
                                           create_estimate, customer_copy, estimate_lines,
                                           format_amount, get_estimate, set_status,
                                           status_label, update_estimate)
from tui.domain.validation import FieldError
from tui.i18n import N_, _, ngettext
from tui.bindings import TranslatedBindings
from tui.lock_wait import waits_for_lock
from tui.widgets.address_fields import FieldRow, show_field_errors
from tui.widgets.confirm import ConfirmDialog
from tui.widgets.conflict import OVERWRITE, RELOAD, ConflictDialog
from tui.widgets.customer_block import CustomerBlock
from tui.widgets.estimate_line_form import EstimateLineDialog, price_lines
from tui.widgets.estimate_lines import EstimateLinesTable
from tui.widgets.footer import KeysFooter
from tui.widgets.pick_customer import NEW, PickCustomerDialog
from tui.widgets.proposal_export import ProposalExport

EDITING = ("save", "choose_customer", "new_customer", "add_line", "edit_line", "delete_line",
           "status")
FIELD_LABELS = {"title": N_("Title"), "issued_on": N_("Date"), "customer": N_("Customer"),
                "lines": N_("Lines"), "total": N_("Total")}


def shown_date(value: object) -> str:
    """A date (or the ISO text a snapshot holds) in the operator's locale; what was typed
    and cannot be read, as it was typed."""
    if value in (None, ""):
        return ""
    try:
        return format_date(parse_date(value))
    except FieldError:
        return str(value)


class EstimateScreen(TranslatedBindings, ProposalExport, Screen):
    CSS_PATH = "estimate.tcss"

    BINDINGS = [
        Binding("ctrl+s", "save", N_("Save"), id="estimate.save"),
        Binding("c", "choose_customer", N_("Customer"), id="estimate.customer"),
        Binding("f8", "new_customer", N_("New customer"), id="estimate.new_customer"),
        Binding("a", "add_line", N_("Add line"), id="estimate.add_line"),
        # Edit and Delete are named in the line under the table: 80 columns hold no more keys.
        Binding("e", "edit_line", N_("Edit line"), id="estimate.edit_line", show=False),
        Binding("d,delete", "delete_line", N_("Delete line"), id="estimate.delete_line",
                show=False),
        Binding("s", "status", N_("Status"), id="estimate.status", show=False),
        Binding("p", "proposal", N_("PDF"), id="estimate.proposal"),
        Binding("escape", "back", N_("Back"), id="estimate.back"),
    ]

    def __init__(self, estimate_id: int | None = None, *, customer_id: int | None = None) -> None:
        """An existing estimate, or a new one (for ``customer_id`` if given)."""
        super().__init__()
        self.estimate_id = estimate_id
        self.preset_customer = customer_id
        self.number = ""
        self.status = "draft"
        self.edit_version = 0
        self.customer_id: int | None = None
        self.copy: dict | None = None  # the customer's details as the estimate keeps them
        self.unlinked = False  # a stored estimate whose customer was deleted
        self.currency = ""
        self.lines: list[LineDraft] = []
        self.saved: EstimateDraft | None = None  # what is stored (or the blank new one)
        self.line_problems: dict[int, dict[str, str]] = {}

    # -- layout ----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="estimate-meta"):
            yield Static(id="estimate-number", markup=False)
            yield Select([(status_label(key), key) for key in STATUSES], value="draft",
                         allow_blank=False, id="estimate-status", compact=True)
            yield Static(id="estimate-currency", markup=False)
        with Horizontal(id="estimate-head"):
            yield FieldRow(_("Title"), Input(id="estimate-title", compact=True),
                           field="title", required=True, id="estimate-title-row")
            yield FieldRow(_("Date"), Input(id="estimate-date", compact=True, max_length=10,
                                            placeholder=_("e.g. {example}").format(
                                                example=date_example())),
                           field="issued_on", id="estimate-date-row")
        yield CustomerBlock(id="estimate-customer")
        yield EstimateLinesTable(id="estimate-lines", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="estimate-bottom"):
            yield Static(id="estimate-hint", markup=False)
            yield Static(id="estimate-total", markup=False)
        yield KeysFooter()

    def on_mount(self) -> None:
        if self.estimate_id is not None:
            self.load()
            self.query_one(EstimateLinesTable).focus()
        else:
            self.start_new()
        self.set_editable(self.app.ctx.actor.can("estimate.edit"))

    def start_new(self) -> None:
        self.title = _("New estimate")
        self.currency = self.app.ctx.config.defaults.currency
        self.query_one("#estimate-date", Input).value = format_date(models.utcnow().date())
        if self.preset_customer is not None:
            self.use_customer(self.preset_customer)
        self.saved = self.current_draft()
        self.show_meta()
        self.show_customer()
        self.show_lines()
        if self.preset_customer is None and self.app.ctx.actor.can("estimate.edit"):
            self.call_after_refresh(self.action_choose_customer)  # P1: start from the list
        else:
            self.query_one("#estimate-title", Input).focus()

    def set_editable(self, editable: bool) -> None:
        for selector in ("#estimate-title", "#estimate-date", "#estimate-status"):
            self.query_one(selector).disabled = not editable
        if editable and self.estimate_id is None:
            self.query_one("#estimate-status").disabled = True  # a new estimate is a draft

    # -- loading ---------------------------------------------------------------------------
    def load(self, estimate: Estimate | None = None) -> bool:
        """Show the stored estimate (read afresh unless given); False if it cannot be read."""
        ctx = self.app.ctx
        try:
            estimate = estimate or get_estimate(ctx, self.estimate_id)
            stored = estimate_lines(ctx, estimate.id)
        except ClientbookError as error:
            self.notify(str(error), severity="error", markup=False)
            self.query_one("#estimate-hint", Static).update(str(error))
            return False
        self.estimate_id = estimate.id
        self.number, self.status = estimate.number, estimate.status
        self.edit_version, self.currency = estimate.version, estimate.currency
        self.customer_id = estimate.customer_id
        self.unlinked = estimate.customer_id is None
        self.copy = {name: getattr(estimate, name) for name in COPIED_FIELDS}
        self.lines = [LineDraft.from_line(line, estimate.currency) for line in stored]
        self.query_one("#estimate-title", Input).value = estimate.title
        self.query_one("#estimate-date", Input).value = format_date(estimate.issued_on)
        self.title = _("Estimate {number}").format(number=estimate.number)
        self.saved = self.current_draft()
        self.show_errors({})
        self.show_meta()
        self.show_customer()
        self.show_lines()
        return True

    def current_draft(self) -> EstimateDraft:
        return EstimateDraft(self.customer_id, self.query_one("#estimate-title", Input).value,
                             self.query_one("#estimate-date", Input).value.strip(),
                             tuple(self.lines))

    @property
    def dirty(self) -> bool:
        return self.saved is not None and self.current_draft() != self.saved

    # -- showing ---------------------------------------------------------------------------
    def show_meta(self) -> None:
        self.query_one("#estimate-number", Static).update(
            self.number or _("New estimate (numbered when saved)"))
        select = self.query_one("#estimate-status", Select)
        if select.value != self.status:
            select.value = self.status
        self.query_one("#estimate-currency", Static).update(
            _("Amounts in {currency}").format(currency=self.currency))
        self.refresh_bindings()

    def show_customer(self) -> None:
        self.query_one(CustomerBlock).show(self.copy, unlinked=self.unlinked,
                                           none_hint=_("none chosen yet: press c to choose"))

    def show_lines(self, cursor: int | None = None) -> None:
        total, self.line_problems = self.query_one(EstimateLinesTable).show(
            self.lines, self.currency, cursor)
        self.query_one("#estimate-total", Static).update(Text(_("Total {amount}").format(
            amount=format_amount(total, self.currency)), style="bold"))
        self.show_hint()
        self.refresh_bindings()

    def show_hint(self, text: str | None = None) -> None:
        if text is None:
            if self.line_problems:
                index = min(self.line_problems)
                text = _("Line {number}: {problem}").format(
                    number=index + 1, problem=" ".join(self.line_problems[index].values()))
            elif self.writing_pdf:
                text = _("Writing the proposal…")
            else:
                text = ngettext("{count} line", "{count} lines", len(self.lines)).format(
                    count=len(self.lines))
                if self.lines and self.check_action("edit_line", ()):
                    text += " · " + _("Enter edits, d deletes")
                if self.dirty:
                    text += " · " + _("not saved (Ctrl+S)")
        hint = self.query_one("#estimate-hint", Static)
        hint.update(text)
        hint.set_class(bool(self.line_problems), "-error")

    def show_errors(self, errors: dict[str, str]) -> None:
        show_field_errors(self, errors)
        lines = {key for key in errors if key.startswith("lines")}
        rest = [message for key, message in errors.items()
                if key not in ("title", "issued_on", "customer_id") and key not in lines]
        line_messages = []
        for key in sorted(lines):
            index, _dot, field = key.removeprefix("lines[").partition("].")
            if field:
                line_messages.append(_("Line {number}: {problem}").format(
                    number=int(index.rstrip("]")) + 1, problem=errors[key]))
            else:
                line_messages.append(errors[key])
        if rest or line_messages:
            self.notify("\n".join(rest + line_messages), title=_("Not saved"),
                        severity="error", markup=False)

    # -- the customer ----------------------------------------------------------------------
    def use_customer(self, customer_id: int) -> bool:
        """Take this customer's details and currency (P1); False if it cannot be read."""
        try:
            customer = get_customer(self.app.ctx, customer_id)
        except ClientbookError as error:
            self.notify(str(error), severity="error", markup=False)
            return False
        before = self.currency
        self.customer_id, self.unlinked = customer.id, False
        self.copy = customer_copy(customer)
        self.currency = customer.currency
        if self.lines and before and before != self.currency:
            self.notify(_("The prices are now in {currency}, the currency of {name}.").format(
                currency=self.currency, name=customer.name), markup=False)
        return True

    def action_choose_customer(self) -> None:
        if self.check_action("choose_customer", ()) is not True:
            return
        may_create = self.check_action("new_customer", ()) is True
        self.app.push_screen(PickCustomerDialog(_("Customer of this estimate"),
                                                allow_new=may_create), self.customer_chosen)

    def customer_chosen(self, choice: int | str | None) -> None:
        if choice == NEW:
            self.action_new_customer()
            return
        if isinstance(choice, int) and self.use_customer(choice):
            self.show_errors({})
            self.customer_changed()

    def customer_changed(self) -> None:
        self.show_meta()
        self.show_customer()
        self.show_lines()
        if not self.query_one("#estimate-title", Input).value:
            self.query_one("#estimate-title", Input).focus()

    def action_new_customer(self) -> None:
        """The wizard, saving with ``create_customer_in_estimate``; its customer is chosen."""
        if self.check_action("new_customer", ()) is not True:
            return
        from tui.screens.new_customer import NewCustomerScreen

        self.app.push_screen(NewCustomerScreen(for_estimate=True), self.customer_created)

    def customer_created(self, customer_id: int | None) -> None:
        if customer_id is not None and self.use_customer(customer_id):
            self.show_errors({})
            self.customer_changed()

    # -- lines -----------------------------------------------------------------------------
    def cursor_line(self) -> int | None:
        table = self.query_one(EstimateLinesTable)
        return table.cursor_row if self.lines and table.row_count else None

    def action_add_line(self) -> None:
        def added(line: LineDraft | None) -> None:
            if line is not None:
                self.lines.append(line)
                self.show_lines(cursor=len(self.lines) - 1)
            self.query_one(EstimateLinesTable).focus()

        self.app.push_screen(EstimateLineDialog(self.currency), added)

    def action_edit_line(self) -> None:
        index = self.cursor_line()
        if index is None:
            return

        def edited(line: LineDraft | None) -> None:
            if line is not None:
                self.lines[index] = line
                self.show_lines(cursor=index)
            self.query_one(EstimateLinesTable).focus()

        dialog = EstimateLineDialog(self.currency, self.lines[index],
                                    title=_("Line {number}").format(number=index + 1))
        self.app.push_screen(dialog, edited)

    @on(DataTable.RowSelected, "#estimate-lines")
    def line_selected(self) -> None:
        if self.check_action("edit_line", ()):
            self.action_edit_line()

    def action_delete_line(self) -> None:
        index = self.cursor_line()
        if index is None:
            return
        del self.lines[index]  # not stored until Ctrl+S; Escape offers to discard
        self.show_lines(cursor=index)

    @on(Input.Changed)
    def field_changed(self) -> None:
        self.show_hint()

    # -- status ----------------------------------------------------------------------------
    def action_status(self) -> None:
        select = self.query_one("#estimate-status", Select)
        if not select.disabled:
            select.focus()
            select.expanded = True

    @on(Select.Changed, "#estimate-status")
    @waits_for_lock
    def status_changed(self, event: Select.Changed) -> None:
        wanted = event.value
        if wanted is Select.NULL or wanted == self.status or self.estimate_id is None:
            return
        try:
            estimate = set_status(self.app.ctx, self.estimate_id, self.edit_version, str(wanted))
        except ClientbookError as error:  # someone saved meanwhile, or not allowed
            self.notify(str(error), severity="error", markup=False)
            event.select.value = self.status
            return
        # only the status changed: the edits on screen stay, on top of the new version
        self.status, self.edit_version = estimate.status, estimate.version
        self.notify(_("{number} is now {status}.").format(number=self.number,
                                                          status=status_label(self.status)),
                    markup=False)
        self.show_meta()

    # -- saving ----------------------------------------------------------------------------
    @waits_for_lock
    def action_save(self) -> None:
        if self.check_action("save", ()) is not True:
            return
        ctx, draft = self.app.ctx, self.current_draft()
        try:
            if self.estimate_id is None:
                estimate = create_estimate(ctx, draft)
            else:
                estimate = update_estimate(ctx, self.estimate_id, self.edit_version, draft)
        except ValidationError as error:
            self.show_errors(error.errors)
            return
        except Conflict as error:
            self.resolve_conflict(error)
            return
        except ClientbookError as error:
            self.notify(str(error), title=_("Not saved"), severity="error", markup=False)
            return
        self.load(estimate)
        self.set_editable(True)
        self.notify(_("Estimate {number} saved.").format(number=estimate.number), markup=False)

    def resolve_conflict(self, error: Conflict) -> None:
        ctx, stored = self.app.ctx, error.current
        try:
            theirs_lines = [LineDraft.from_line(line, stored.get("currency") or self.currency)
                            for line in estimate_lines(ctx, self.estimate_id)]
        except ClientbookError as problem:  # deleted meanwhile
            self.notify(str(problem), severity="error", markup=False)
            return
        theirs = self.display(stored.get("title"), stored.get("issued_on"),
                              stored.get("customer_name"), theirs_lines,
                              stored.get("currency") or self.currency, stored.get("total_minor"))
        mine = self.current_draft()
        yours = self.display(mine.title, mine.issued_on, (self.copy or {}).get("customer_name"),
                             self.lines, self.currency, None)
        message = _("{who} saved this estimate at {when} UTC while you were editing. Nothing "
                    "of yours is saved yet.").format(
            who=stored.get("updated_by") or _("Someone"),
            when=format_moment(stored.get("updated_at")))

        def chosen(choice: str | None) -> None:
            if choice == RELOAD:
                self.load()
            elif choice == OVERWRITE:
                self.edit_version = int(stored.get("version") or self.edit_version)
                self.status = stored.get("status") or self.status
                self.action_save()

        labels = {key: _(label) for key, label in FIELD_LABELS.items()}
        self.app.push_screen(ConflictDialog(theirs, yours, labels=labels, message=message),
                             chosen)

    def display(self, title, issued_on, customer, lines, currency: str,
                total: int | None) -> dict[str, str]:
        """An estimate's fields as the conflict dialog compares them."""
        amounts, _problems = price_lines(lines, currency)
        if total is None:
            total = sum(amount for amount in amounts if amount is not None)
        return {"title": str(title or ""), "issued_on": shown_date(issued_on),
                "customer": str(customer or ""),
                "lines": "\n".join(f"{line.quantity} × {line.description.splitlines()[0]}"
                                   f" @ {line.unit_price}" for line in lines if line.description),
                "total": format_amount(total, currency)}

    # -- keys and leaving --------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        can = self.app.ctx.actor.can
        if action in EDITING and not can("estimate.edit"):
            return False
        if action == "new_customer":
            return can("customer.create") or can("customer.create_in_estimate")
        if action in ("edit_line", "delete_line") and not self.lines:
            return None  # offered, but nothing to act on yet
        if action == "status" and self.estimate_id is None:
            return None
        if action == "proposal" and self.estimate_id is None:
            return None
        return True

    def action_back(self) -> None:
        if isinstance(self.focused, Input):
            self.query_one(EstimateLinesTable).focus()  # Escape leaves a field first
            return
        if not self.dirty or self.check_action("save", ()) is not True:
            self.app.pop_screen()
            return
        self.app.push_screen(
            ConfirmDialog(_("Discard changes?"),
                          _("Your changes to this estimate are not saved and will be lost."),
                          _("Discard")),
            lambda discard: self.app.pop_screen() if discard else None)

    def palette_actions(self) -> list[tuple[str, object]]:
        """(label, callback) for the command palette: what this role may do here."""
        offered = []
        for action, label in (("save", _("Save this estimate")),
                              ("choose_customer", _("Choose the estimate's customer")),
                              ("new_customer", _("New customer for this estimate")),
                              ("add_line", _("Add a line to the estimate")),
                              ("proposal", _("Write the PDF proposal"))):
            if self.check_action(action, ()) is True:
                offered.append((label, getattr(self, f"action_{action}")))
        return offered

