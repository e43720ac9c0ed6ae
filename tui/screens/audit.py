"""The audit trail: who changed what and when, newest first, filtered; a customer's deletion
can be restored from here.

The table holds one page, read on the app's query thread (filters are applied in SQL by
``list_audit``). Enter or ``v`` opens an event's field-by-field changes; on a customer's
deletion, ``r`` restores it after a confirmation that says what comes back and what does
not (machines stay with whoever holds them now). Who may restore is the service's rule
(``may_restore``); the key is not offered to other roles, and whatever the service
refuses (already restored, a lookalike exists) is shown, not raised.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, time
from functools import partial

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Select, Static

from tui.domain.errors import ClientbookError, DuplicateWarning, ValidationError
from tui.domain.locale_format import (date_example, format_datetime, format_number,
                                      parse_date, parse_datetime)
from tui.domain.validation import FieldError
from tui.domain.services.audit import (
    AuditPage,
    AuditRow,
    audit_logins,
    deleted_customer_state,
    list_audit,
    may_restore,
    restore_customer,
)
from tui.i18n import N_, _
from tui.bindings import TranslatedBindings
from tui.lock_wait import waits_for_lock
from tui.messages import CustomersChanged
from tui.widgets.audit_detail import AuditDetailDialog
from tui.widgets.confirm import ConfirmDialog
from tui.widgets.footer import KeysFooter
from tui.widgets.paged_table import PagedTable

PAGE_SIZE = 100


def kinds() -> dict[str, tuple[str, str | None, str | None]]:
    """Choices of the "what" filter: key -> (label, entity, action)."""
    return {
        "all": (_("All changes"), None, None),
        "deleted": (_("Deleted customers"), "customer", "delete"),
        "customer": (_("Customers"), "customer", None),
        "contact": (_("Contacts"), "contact", None),
        "document": (_("Documents"), "document", None),
        "equipment": (_("Equipment"), "equipment", None),
        "estimate": (_("Estimates"), "estimate", None),
        "project": (_("Projects"), "project", None),
        "group": (_("Groups"), "group", None),
        "user": (_("Users"), "user", None),
    }


def read_since(text: str) -> datetime | None:
    """The "since" filter as typed in the operator's locale: a date (11/23/2026 in US
    English), a date and time (11/23/2026 14:30), or ISO 8601; None when empty.
    ValidationError naming the filter when it is neither."""
    if not text:
        return None
    try:
        return parse_datetime(text)
    except FieldError:
        try:
            return datetime.combine(parse_date(text), time())
        except FieldError as problem:  # the date's message: what a filter usually holds
            raise ValidationError({"since": problem.message}) from None


def readable_since(text: str) -> bool:
    try:
        read_since(text)
    except ValidationError:
        return False
    return True


class AuditTable(PagedTable):
    """A page of audit events, two lines a row, keyed by event id."""


class AuditScreen(TranslatedBindings, Screen):
    CSS_PATH = "audit.tcss"
    AUTO_FOCUS = "#audit-table"

    BINDINGS = [
        Binding("escape", "back", N_("Back"), id="audit.back"),
        Binding("v", "view", N_("Details"), id="audit.view"),
        Binding("r", "restore", N_("Restore"), id="audit.restore"),
        Binding("slash", "focus_filters", N_("Filter"), id="audit.filter"),
        Binding("g,f5", "refresh", N_("Refresh"), id="audit.refresh", show=False),
        Binding("ctrl+pagedown", "page(1)", N_("Next page"), id="audit.next_page", show=False),
        Binding("ctrl+pageup", "page(-1)", N_("Previous page"), id="audit.previous_page",
                show=False),
    ]

    def __init__(self, customer_id: int | None = None) -> None:
        super().__init__()
        self.initial_customer = customer_id
        self.page: AuditPage | None = None
        self.page_offset = 0
        self.rows: dict[int, AuditRow] = {}
        self._request = 0  # the newest load asked for; older answers are dropped
        self._cursor_after_load: int | str | None = None  # row index, "last", or None: keep
        self._asked: tuple[dict, int] | None = None  # the filters and offset last asked for

    # -- layout ----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="audit-filters"):
            yield Input(str(self.initial_customer or ""), placeholder=_("Customer #"),
                        restrict=r"#?[0-9]*", id="audit-customer", compact=True)
            yield Select([], prompt=_("All users"), id="audit-user", compact=True)
            yield Input(placeholder=_("Since {example}").format(example=date_example()),
                        id="audit-since", compact=True)
            yield Select([(label, key) for key, (label, _e, _a) in kinds().items()],
                         value="all", allow_blank=False, id="audit-kind", compact=True)
        yield AuditTable(id="audit-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="audit-status", markup=False)
        yield KeysFooter()

    def on_mount(self) -> None:
        self.title = _("Audit trail")
        table = self.query_one(AuditTable)
        # 80 columns: widths + 2 cells of padding each + the scrollbar.
        table.add_column(_("When (UTC)"), key="when", width=16)
        table.add_column(_("Who"), key="who", width=10)
        table.add_column(_("What"), key="what", width=46)
        try:
            logins = audit_logins(self.app.ctx)
        except ClientbookError:
            logins = []  # the load below says why
        self.query_one("#audit-user", Select).set_options([(login, login) for login in logins])
        self.reload()

    # -- filters ---------------------------------------------------------------------------
    def filters(self) -> dict:
        """The filters as ``list_audit`` takes them; a bad one raises ValidationError."""
        customer = self.query_one("#audit-customer", Input).value.strip().lstrip("#")
        user = self.query_one("#audit-user", Select).value
        kind = self.query_one("#audit-kind", Select).value
        _label, entity, action = kinds().get(str(kind), kinds()["all"])
        since = self.query_one("#audit-since", Input).value.strip()
        if customer and not customer.isdigit():  # restrict= lets only "#" and digits in
            raise ValidationError({"customer": _("Not a customer number: {value}").format(
                value=customer)})
        return {"customer_id": int(customer) if customer else None,
                "user": None if user is Select.NULL else str(user),
                "since": read_since(since), "entity": entity, "action": action}

    # -- loading ---------------------------------------------------------------------------
    def reload(self, *, keep_cursor: bool = True) -> None:
        """Read the page again (after a change, a refresh, a page key)."""
        if not keep_cursor:
            self._cursor_after_load = 0
        try:
            filters = self.filters()
        except ValidationError as error:
            self._asked = None
            self.show_error(error)
            return
        self._asked = (filters, self.page_offset)
        self.load_page(filters, self.page_offset)

    def filters_changed(self) -> None:
        """A filter moved: back to the first page, unless it asks what is shown already
        (a Select says Changed when it is filled in, for instance)."""
        try:
            filters = self.filters()
        except ValidationError:
            filters = None
        if filters is not None and (filters, 0) == self._asked:
            return
        self.page_offset = 0
        self.reload(keep_cursor=False)

    @work(exclusive=True, group="audit-load")
    async def load_page(self, filters: dict, page_offset: int) -> None:
        self._request += 1
        request = self._request
        read = partial(list_audit, self.app.ctx, **filters, limit=PAGE_SIZE, offset=page_offset)

        def run() -> AuditPage | ClientbookError:
            try:
                return read()
            except ClientbookError as error:
                return error

        result = await asyncio.get_running_loop().run_in_executor(self.app.query_executor, run)
        if request != self._request:
            return
        if isinstance(result, ClientbookError):
            self.show_error(result)
        else:
            self.show_page(result)

    def show_error(self, error: ClientbookError) -> None:
        """A refused or mistyped filter: say which and why; the table empties."""
        if isinstance(error, ValidationError):
            names = {"since": _("Since"), "customer": _("Customer")}
            text = "; ".join(_("{field}: {problem}").format(field=names.get(key, key),
                                                             problem=problem)
                             for key, problem in error.errors.items())
        else:
            text = str(error)
        self.page, self.rows = None, {}
        self.query_one(AuditTable).clear()
        self.query_one("#audit-status", Static).update(text)
        self.query_one("#audit-status").add_class("error")
        self.refresh_bindings()

    def show_page(self, page: AuditPage) -> None:
        table = self.query_one(AuditTable)
        keep_id = self.cursor_id() if self._cursor_after_load is None else None
        row_before = table.cursor_row
        self.page = page
        self.rows = {row.id: row for row in page.rows}
        table.clear()
        for row in page.rows:
            table.add_row(*self.cells(row), key=str(row.id), height=2)
        if page.rows:
            wanted = self._cursor_after_load
            if keep_id in self.rows:
                index = table.get_row_index(str(keep_id))
            elif wanted == "last":
                index = len(page.rows) - 1
            elif isinstance(wanted, int):
                index = wanted
            else:
                index = row_before
            table.move_cursor(row=min(max(index, 0), len(page.rows) - 1), animate=False)
        self._cursor_after_load = None
        status = self.query_one("#audit-status", Static)
        status.remove_class("error")
        if not page.total:
            status.update(_("No change matches."))
        else:
            status.update(_("{first}–{last} of {total} · Enter shows the fields").format(
                first=format_number(page.offset + 1),
                last=format_number(page.offset + len(page.rows)),
                total=format_number(page.total)))
        self.refresh_bindings()

    def cells(self, row: AuditRow) -> tuple[Text, ...]:
        when = Text(format_datetime(row.at))  # UTC, as stored
        when.append("\n#{id}".format(id=row.id), style="dim")
        what = Text(row.summary, style="bold red" if row.is_customer_deletion else "")
        if row.is_customer_deletion and row.restored_in is not None:
            detail = _("restored (event #{id})").format(id=row.restored_in)
        elif row.is_customer_deletion:
            detail = (_("last state kept · r restores") if may_restore(self.app.ctx.actor)
                      else _("last state kept"))
        elif all(c.before is None for c in row.changes) or all(
                c.after is None for c in row.changes):
            detail = ""  # a record made or removed whole: the dialog lists its fields
        else:
            detail = ", ".join(change.label for change in row.changes)
        what.append("\n" + detail, style="dim")
        cells = (when, Text(row.login), what)
        for cell in cells:  # each line cut at the column's edge, never wrapped onto the next
            cell.no_wrap, cell.overflow = True, "ellipsis"
        return cells

    def cursor_id(self) -> int | None:
        table = self.query_one(AuditTable)
        if not table.row_count:
            return None
        row_key, _column = table.coordinate_to_cell_key(table.cursor_coordinate)
        return int(row_key.value) if row_key.value is not None else None

    def cursor_row(self) -> AuditRow | None:
        key = self.cursor_id()
        return self.rows.get(key) if key is not None else None

    # -- events ----------------------------------------------------------------------------
    @on(Input.Changed, "#audit-customer")
    def _customer_changed(self) -> None:
        self.filters_changed()

    @on(Input.Changed, "#audit-since")
    def _since_changed(self, event: Input.Changed) -> None:
        text = event.value.strip()
        # half a date is not worth an error while typing: reload once it reads as a date,
        # or is as long as one and so worth saying what is wrong with it
        if not text or len(text) >= len(date_example()) or readable_since(text):
            self.filters_changed()

    @on(Input.Submitted)
    def _filter_submitted(self) -> None:
        self.filters_changed()
        self.query_one(AuditTable).focus()

    @on(Select.Changed)
    def _select_changed(self) -> None:
        self.filters_changed()

    @on(DataTable.RowSelected, "#audit-table")
    def _row_chosen(self) -> None:
        self.action_view()

    @on(DataTable.RowHighlighted, "#audit-table")
    def _row_highlighted(self) -> None:
        self.refresh_bindings()

    @on(AuditTable.PageRequested)
    def _page_requested(self, event: AuditTable.PageRequested) -> None:
        self._cursor_after_load = 0 if event.step > 0 else "last"
        self.action_page(event.step)

    def on_screen_resume(self) -> None:
        if self.page is not None:
            self.reload()

    # -- keys ------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "restore":
            row = self.cursor_row()
            return bool(row and row.is_customer_deletion and may_restore(self.app.ctx.actor))
        if action == "view" and not self.rows:
            return None
        return True

    def palette_actions(self) -> list[tuple[str, object]]:
        offered = [(_("Restore the deleted customer under the cursor…"), self.action_restore,
                    "restore"),
                   (_("Show the fields of the change under the cursor"), self.action_view,
                    "view"),
                   (_("Refresh the audit trail"), self.action_refresh, "refresh")]
        return [(label, callback) for label, callback, action in offered
                if self.check_action(action, ())]

    def action_back(self) -> None:
        if isinstance(self.focused, Input | Select):
            self.query_one(AuditTable).focus()
        else:
            self.app.pop_screen()

    def action_focus_filters(self) -> None:
        self.query_one("#audit-customer", Input).focus()

    def action_refresh(self) -> None:
        self.reload()

    def action_page(self, step: int) -> None:
        if self.page is None:
            return
        page_offset = self.page_offset + step * PAGE_SIZE
        if page_offset < 0 or page_offset >= max(self.page.total, 1):
            return
        if self._cursor_after_load is None:
            self._cursor_after_load = 0
        self.page_offset = page_offset
        self.reload()

    def action_view(self) -> None:
        row = self.cursor_row()
        if row is None:
            return
        state = None
        if row.is_customer_deletion:
            try:
                state = deleted_customer_state(self.app.ctx, row.id)
            except ClientbookError as error:
                self.notify(str(error), severity="error", markup=False)
        dialog = AuditDetailDialog(row, state, may_restore=may_restore(self.app.ctx.actor))
        self.app.push_screen(dialog, partial(self._detail_closed, row.id))

    def _detail_closed(self, audit_id: int, restore: bool | None) -> None:
        if restore:
            self._confirm_restore(audit_id)

    def action_restore(self) -> None:
        row = self.cursor_row()
        if row is not None and row.is_customer_deletion:
            self._confirm_restore(row.id)

    # -- restoring -------------------------------------------------------------------------
    def _confirm_restore(self, audit_id: int) -> None:
        """Say what comes back and what does not, then ask; refusals are shown, not asked."""
        try:
            state = deleted_customer_state(self.app.ctx, audit_id)
        except ClientbookError as error:
            self.notify(str(error), title=_("Cannot restore"), severity="error", markup=False)
            return
        if state.refusal:
            self.notify(state.refusal, title=_("Cannot restore"), severity="error",
                        markup=False)
            return
        dialog = ConfirmDialog(_("Restore {name}?").format(name=state.name),
                               "\n".join(state.describe()), _("Restore"), danger=False)
        self.app.push_screen(dialog, partial(self._restore_confirmed, audit_id, False))

    @waits_for_lock
    def _restore_confirmed(self, audit_id: int, allow_duplicate: bool,
                           confirmed: bool | None) -> None:
        if not confirmed:
            return
        try:
            restored = restore_customer(self.app.ctx, audit_id=audit_id,
                                        allow_duplicate=allow_duplicate)
        except DuplicateWarning as warning:
            dialog = ConfirmDialog(
                _("Restore anyway?"),
                _("{warning}\nA customer that looks the same exists now. Restore this one "
                  "as well?").format(warning=warning), _("Restore anyway"), danger=False)
            self.app.push_screen(dialog, partial(self._restore_confirmed, audit_id, True))
            return
        except ClientbookError as error:
            self.notify(str(error), title=_("Cannot restore"), severity="error", markup=False)
            return
        self.notify("\n".join(restored.describe()), title=_("Restored"), markup=False,
                    timeout=15)
        self.app.post_message(CustomersChanged(restored.customer_id))
        self.reload()
