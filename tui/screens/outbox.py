"""The e-mail outbox (F4): what is pending, sent and failed; send now, retry, read a message.

Messages are queued by the transactions that cause them (equipment events,
the welcome e-mail). This screen shows them a page at a time, newest first,
read on the app's query thread; "Send now" runs the outbox service's sender in
a thread worker, which uses (and closes) that thread's own database
connection, with a progress bar, and says what happened when it is done.
"""

from __future__ import annotations

import asyncio
import os
from functools import partial

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import DataTable, Header, ProgressBar, Select, Static

from tui.domain.errors import ClientbookError
from tui.domain.locale_format import format_datetime, format_number
from tui.domain.mail import not_configured_reason, smtp_settings
from tui.domain.models import Notification
from tui.domain.services.outbox import (STATUSES, OutboxPage, SendReport, list_notifications,
                                        notification_statuses, outbox_counts,
                                        retry_notifications, send_due)
from tui.i18n import N_, _, ngettext
from tui.bindings import TranslatedBindings
from tui.lock_wait import waits_for_lock
from tui.widgets.footer import KeysFooter
from tui.widgets.message_view import (STATUS_STYLES, MessageViewDialog, kind_label,
                                      status_label)
from tui.widgets.paged_table import PagedTable

PAGE_SIZE = 100
MARK = "✓"
FILTERS = ("all", "pending", "sent", "failed")
PERMISSION = "notify.send"


def filter_label(key: str) -> str:
    return _("All") if key == "all" else status_label(key).capitalize()


class OutboxTable(PagedTable):
    """A page of outbox messages, two lines a row, keyed by notification id."""


class OutboxScreen(TranslatedBindings, Screen):
    CSS_PATH = "outbox.tcss"
    AUTO_FOCUS = "#outbox-table"

    BINDINGS = [
        Binding("escape", "back", N_("Back"), id="outbox.back"),
        Binding("s", "send_now", N_("Send now"), id="outbox.send"),
        Binding("r", "retry", N_("Retry"), id="outbox.retry"),
        Binding("space", "mark", N_("Mark"), id="outbox.mark", show=False),
        Binding("v", "view", N_("View"), id="outbox.view"),
        Binding("f", "cycle_filter", N_("Filter"), id="outbox.filter"),
        Binding("g,f5", "refresh", N_("Refresh"), id="outbox.refresh", show=False),
        Binding("ctrl+pagedown", "page(1)", N_("Next page"), id="outbox.next_page", show=False),
        Binding("ctrl+pageup", "page(-1)", N_("Previous page"), id="outbox.previous_page",
                show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.page: OutboxPage | None = None
        self.page_offset = 0
        self.page_rows: dict[int, Notification] = {}
        self.marked: set[int] = set()
        self.sending = False
        self._request = 0  # the newest load asked for; older answers are dropped
        self._cursor_after_load: int | str | None = None  # a row index, "last", or None: keep

    # -- layout ----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="outbox-top"):
            yield Static("", id="outbox-counts", markup=False)
            yield Select([(filter_label(key), key) for key in FILTERS], value="all",
                         allow_blank=False, id="outbox-filter", compact=True)
        yield OutboxTable(id="outbox-table", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="outbox-sending"):
            yield Static("", id="outbox-sending-label", markup=False)
            yield ProgressBar(id="outbox-progress", show_eta=False)
        yield Static("", id="outbox-status", markup=False)
        yield KeysFooter()

    def on_mount(self) -> None:
        self.title = _("Outbox")
        table = self.query_one(OutboxTable)
        # 80 columns: widths + 2 cells of padding each + the scrollbar.
        table.add_column(MARK, key="mark", width=1)
        table.add_column(_("Created (UTC)"), key="created", width=16)
        table.add_column(_("Recipient"), key="recipient", width=18)
        table.add_column(_("Subject"), key="subject", width=24)
        table.add_column(_("Status"), key="status", width=9)
        self.query_one("#outbox-sending").display = False
        self.reload()

    # -- loading ---------------------------------------------------------------------------
    @property
    def status_filter(self) -> str:
        value = self.query_one("#outbox-filter", Select).value
        return "all" if value is Select.NULL else str(value)

    def reload(self, *, keep_cursor: bool = True) -> None:
        if not keep_cursor:
            self._cursor_after_load = 0
        status = self.status_filter
        self.load_page(None if status == "all" else status, self.page_offset)

    @work(exclusive=True, group="outbox-load")
    async def load_page(self, status: str | None, page_offset: int) -> None:
        """Read the page and the counts on the app's query thread, off the UI thread."""
        self._request += 1
        request = self._request
        ctx = self.app.ctx

        def read() -> tuple[OutboxPage, dict[str, int]] | str:
            try:
                return (list_notifications(ctx, status=status, limit=PAGE_SIZE,
                                           offset=page_offset), outbox_counts(ctx))
            except ClientbookError as error:
                return str(error)

        result = await asyncio.get_running_loop().run_in_executor(self.app.query_executor, read)
        if request != self._request:
            return
        if isinstance(result, str):
            self.query_one("#outbox-status", Static).update(result)
            return
        self.show_page(*result)

    def show_page(self, page: OutboxPage, counts: dict[str, int]) -> None:
        table = self.query_one(OutboxTable)
        keep_id = self.cursor_id() if self._cursor_after_load is None else None
        row_before = table.cursor_row
        self.page = page
        self.page_rows = {row.id: row for row in page.rows}
        self.marked &= set(self.page_rows)
        table.clear()
        for row in page.rows:
            table.add_row(*self.cells(row), key=str(row.id), height=2)
        if page.rows:
            wanted = self._cursor_after_load
            if keep_id in self.page_rows:
                index = table.get_row_index(str(keep_id))
            elif wanted == "last":
                index = len(page.rows) - 1
            elif isinstance(wanted, int):
                index = wanted
            else:  # the row under the cursor is gone: stay at the same height
                index = row_before
            table.move_cursor(row=min(max(index, 0), len(page.rows) - 1), animate=False)
        self._cursor_after_load = None
        self.query_one("#outbox-counts", Static).update(
            _("Pending {pending} · Sending {sending} · Sent {sent} · Failed {failed}").format(
                **{status: format_number(counts.get(status, 0)) for status in STATUSES}))
        self._update_status()
        self.refresh_bindings()

    def cells(self, row: Notification) -> tuple[Text, ...]:
        created = Text(format_datetime(row.created_at))  # UTC, as stored
        created.append("\n" + kind_label(row.kind), style="dim")
        recipient = Text(row.recipient_name or row.recipient_email)
        recipient.append("\n" + row.recipient_email, style="dim")
        subject = Text(row.subject)
        if row.status == "sent" and row.sent_at:
            subject.append("\n" + _("sent {when}").format(
                when=format_datetime(row.sent_at)), style="dim")
        elif row.last_error:
            subject.append("\n" + " ".join(row.last_error.split()),
                           style="red" if row.status == "failed" else "yellow")
        status = Text(status_label(row.status), style=STATUS_STYLES.get(row.status, ""))
        if row.attempts:
            status.append("\n" + ngettext("{count} try", "{count} tries", row.attempts).format(
                count=row.attempts), style="dim")
        cells = (Text(MARK if row.id in self.marked else ""), created, recipient, subject, status)
        for cell in cells:  # each line cut at the column's edge, never wrapped onto the next
            cell.no_wrap, cell.overflow = True, "ellipsis"
        return cells

    def _update_status(self) -> None:
        page = self.page
        if page is None:
            return
        if not page.total:
            text = (_("The outbox is empty.") if self.status_filter == "all"
                    else _("No {status} messages.").format(
                        status=status_label(self.status_filter)))
        else:
            text = _("{first}–{last} of {total}").format(
                first=format_number(page.offset + 1),
                last=format_number(page.offset + len(page.rows)), total=format_number(page.total))
            if self.marked:
                text += " · " + ngettext("{count} marked", "{count} marked",
                                         len(self.marked)).format(count=len(self.marked))
        try:
            configured = smtp_settings(self.app.ctx.config, os.environ) is not None
        except ClientbookError:
            configured = False
        if not configured:
            text += " · " + _("e-mail is not configured")
        self.query_one("#outbox-status", Static).update(text)

    def cursor_id(self) -> int | None:
        table = self.query_one(OutboxTable)
        if not table.row_count:
            return None
        row_key, _column = table.coordinate_to_cell_key(table.cursor_coordinate)
        return int(row_key.value) if row_key.value is not None else None

    # -- events ----------------------------------------------------------------------------
    @on(Select.Changed, "#outbox-filter")
    def _filter_changed(self) -> None:
        self.page_offset = 0
        self.marked.clear()
        self.reload(keep_cursor=False)

    @on(DataTable.RowSelected, "#outbox-table")
    def _row_chosen(self) -> None:
        self.action_view()

    @on(DataTable.RowHighlighted, "#outbox-table")
    def _row_highlighted(self) -> None:
        self.refresh_bindings()

    @on(OutboxTable.PageRequested)
    def _page_requested(self, event: OutboxTable.PageRequested) -> None:
        self._cursor_after_load = 0 if event.step > 0 else "last"
        self.action_page(event.step)

    def on_screen_resume(self) -> None:
        if self.page is not None:
            self.reload()

    # -- keys ------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("send_now", "retry", "mark", "view", "cycle_filter", "refresh", "page"):
            if not self.app.ctx.actor.can(PERMISSION):
                return False  # hidden: this role cannot use the outbox at all
            if action == "send_now" and self.sending:
                return None  # shown, greyed: one run at a time
            if action in ("retry", "mark", "view") and not self.page_rows:
                return None
        return True

    def palette_actions(self) -> list[tuple[str, object]]:
        """The command palette offers this screen's main actions."""
        offered = [(_("Send due e-mails now"), self.action_send_now, "send_now"),
                   (_("Retry the failed message(s) marked or under the cursor"),
                    self.action_retry, "retry"),
                   (_("Refresh the outbox"), self.action_refresh, "refresh")]
        return [(label, callback) for label, callback, action in offered
                if self.check_action(action, ())]

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_refresh(self) -> None:
        self.reload()

    def action_cycle_filter(self) -> None:
        select = self.query_one("#outbox-filter", Select)
        select.value = FILTERS[(FILTERS.index(self.status_filter) + 1) % len(FILTERS)]

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

    def action_mark(self) -> None:
        key = self.cursor_id()
        if key is None:
            return
        self.marked ^= {key}
        table = self.query_one(OutboxTable)
        table.update_cell(str(key), "mark", Text(MARK if key in self.marked else ""))
        if table.cursor_row < table.row_count - 1:
            table.move_cursor(row=table.cursor_row + 1, animate=False)
        self._update_status()

    def action_view(self) -> None:
        key = self.cursor_id()
        if key is not None:
            self.app.push_screen(MessageViewDialog(self.page_rows[key]))

    @waits_for_lock
    def action_retry(self) -> None:
        ids = sorted(self.marked) or [key for key in (self.cursor_id(),) if key is not None]
        if not ids:
            return
        ctx = self.app.ctx
        try:
            changed = retry_notifications(ctx, ids)
            statuses = notification_statuses(ctx, ids) if changed < len(ids) else {}
        except ClientbookError as error:
            self.notify(str(error), severity="error", markup=False)
            return
        if changed:
            self.notify(ngettext("{count} message is queued again.",
                                 "{count} messages are queued again.", changed).format(
                count=changed), markup=False)
        skipped = len(ids) - changed
        if skipped:
            if len(ids) == 1:
                why = _("Only failed messages can be retried; this one is {status}.").format(
                    status=status_label(statuses.get(ids[0], _("gone"))))
            else:
                why = ngettext("{count} message was not failed and is left as it is.",
                               "{count} messages were not failed and are left as they are.",
                               skipped).format(count=skipped)
            self.notify(why, severity="warning", markup=False)
        self.marked.clear()
        self.reload()

    # -- sending ---------------------------------------------------------------------------
    def action_send_now(self) -> None:
        if self.sending:
            return
        try:
            settings = smtp_settings(self.app.ctx.config, os.environ)
        except ClientbookError as error:
            self.notify(str(error), title=_("Cannot send"), severity="error", markup=False)
            return
        if settings is None:
            self.notify(not_configured_reason(), title=_("Nothing sent"), severity="warning",
                        markup=False)
            return
        self.sending = True
        self.query_one("#outbox-sending").display = True
        self.query_one("#outbox-sending-label", Static).update(_("Sending…"))
        self.query_one("#outbox-progress", ProgressBar).update(total=None, progress=0)
        self.refresh_bindings()
        self.send_worker(settings)

    @work(thread=True, exclusive=True, group="outbox-send", exit_on_error=False)
    def send_worker(self, settings) -> None:
        """Runs in its own thread: the sender uses (and here closes) this thread's connection."""
        ctx = self.app.ctx
        try:
            report: SendReport | str = send_due(
                ctx, settings, progress=partial(self._from_thread, self._progress))
        except ClientbookError as error:
            report = str(error)
        except Exception as error:  # noqa: BLE001 - shown as a message, never a traceback
            report = _("Sending stopped: {error}").format(error=error)
        finally:
            if not ctx.db.is_closed():
                ctx.db.close()  # peewee connections are per thread: this one is ours
        self._from_thread(self._sent, report)

    def _from_thread(self, callback, *args) -> None:
        try:
            self.app.call_from_thread(callback, *args)
        except RuntimeError:  # the app has closed meanwhile: nothing left to show it on
            pass

    def _progress(self, done: int, total: int) -> None:
        try:
            self.query_one("#outbox-progress", ProgressBar).update(total=total, progress=done)
            self.query_one("#outbox-sending-label", Static).update(
                _("Sending {done} of {total}…").format(done=done, total=total))
        except NoMatches:  # the screen was closed; the sender carries on
            pass

    def _sent(self, report: SendReport | str) -> None:
        """The worker is done: say what happened (even if this screen was left meanwhile)."""
        self.sending = False
        if isinstance(report, str):
            self.app.notify(report, title=_("Sending failed"), severity="error", markup=False)
        else:
            self.app.notify(self.report_text(report), title=_("Outbox"), markup=False,
                            severity="warning" if report.stopped or report.failed
                            else "information")
        if self.is_attached:
            try:
                self.query_one("#outbox-sending").display = False
            except NoMatches:
                return
            self.refresh_bindings()
            self.reload()

    @staticmethod
    def report_text(report: SendReport) -> str:
        if not report.due and not report.failed:
            return _("Nothing was due: no message sent.")
        parts = [ngettext("{count} sent", "{count} sent", report.sent).format(count=report.sent)]
        if report.deferred:
            parts.append(ngettext("{count} to retry later", "{count} to retry later",
                                  report.deferred).format(count=report.deferred))
        if report.failed:
            parts.append(ngettext("{count} failed", "{count} failed",
                                  report.failed).format(count=report.failed))
        if report.untouched:
            parts.append(ngettext("{count} not tried", "{count} not tried",
                                  report.untouched).format(count=report.untouched))
        text = ", ".join(parts) + "."
        if report.stopped:
            text += " " + _("Stopped: {reason}").format(reason=report.stopped)
        return text
