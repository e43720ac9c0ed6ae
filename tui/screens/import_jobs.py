"""Past imports (import jobs): when, who, what file, the result; undo the highlighted one.

Every real import is recorded as a job by the domain (``list_jobs``). Undo asks
first (ConfirmDialog), then runs ``undo_import`` in a thread worker: it puts
back what the job changed, or refuses, changing nothing, when someone edited
those records since (``UndoRefused`` names them), which is shown here as is.
``UndoJobs`` is that ask-then-undo, shared with the import screen's summary.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from tui.domain.errors import ClientbookError
from tui.domain.locale_format import format_datetime
from tui.domain.imports import UndoRefused, UndoReport, list_jobs, undo_import
from tui.domain.imports.report import ENTITY_LABELS
from tui.domain.models import ImportJob
from tui.i18n import N_, _, ngettext
from tui.bindings import TranslatedBindings
from tui.widgets.confirm import ConfirmDialog
from tui.widgets.footer import KeysFooter

STATUS_STYLES = {"done": "green", "interrupted": "yellow", "running": "cyan", "undone": "dim"}


def kind_label(kind: str) -> str:
    return {"customers": _("customers"), "contacts": _("contacts"),
            "equipment": _("equipment")}.get(kind, kind)


def status_label(status: str) -> str:
    return {"running": _("running"), "done": _("done"), "interrupted": _("interrupted"),
            "undone": _("undone")}.get(status, status)


def undone_text(report: UndoReport) -> str:
    """"Import job 3 undone: removed Customers 2, Contacts 4; restored Customers 1."""
    def listed(counts: dict[str, int]) -> str:
        order = [e for e in ENTITY_LABELS if e in counts] + [e for e in counts
                                                             if e not in ENTITY_LABELS]
        return ", ".join(f"{ENTITY_LABELS[e]() if e in ENTITY_LABELS else e} {counts[e]}"
                         for e in order if counts[e])

    parts = []
    if listed(report.removed):
        parts.append(_("removed {what}").format(what=listed(report.removed)))
    if listed(report.restored):
        parts.append(_("restored {what}").format(what=listed(report.restored)))
    return _("Import job {job} undone: {what}.").format(
        job=report.job_id, what="; ".join(parts) or _("nothing was left to change"))


class UndoJobs:
    """Mixin for a screen: confirm, undo a job in a thread, then ``undo_finished(...)``."""

    undoing = False

    def ask_undo(self, job_id: int, file_name: str) -> None:
        body = _("Everything import job {job} ({file}) created is deleted and what it updated "
                 "gets its earlier values back. If anyone changed one of those records since, "
                 "nothing is undone and you are told which.").format(
            job=job_id, file=Path(file_name).name)

        def answered(confirmed: bool | None) -> None:
            if confirmed:
                self.undoing = True
                self.refresh_bindings()
                self.undo_worker(job_id)

        self.app.push_screen(ConfirmDialog(_("Undo import job {job}?").format(job=job_id), body,
                                           _("Undo import")), answered)

    @work(thread=True, exclusive=True, group="import-undo", exit_on_error=False)
    def undo_worker(self, job_id: int) -> None:
        """Runs in its own thread, on (and then closing) that thread's database connection."""
        ctx = self.app.ctx
        try:
            message, done = undone_text(undo_import(ctx, job_id)), True
        except UndoRefused as refused:
            message, done = str(refused), False
        except ClientbookError as error:
            message, done = str(error), False
        except Exception as error:  # noqa: BLE001 - shown as a message, never a traceback
            message, done = _("Undo stopped: {error}").format(error=error), False
        finally:
            if not ctx.db.is_closed():
                ctx.db.close()  # peewee connections are per thread: this one is ours
        try:
            self.app.call_from_thread(self._undo_done, job_id, message, done)
        except RuntimeError:  # the app has closed meanwhile
            pass

    def _undo_done(self, job_id: int, message: str, done: bool) -> None:
        self.undoing = False
        if done:
            self.app.notify(message, title=_("Undone"), markup=False)
        if self.is_attached:
            self.refresh_bindings()
            self.undo_finished(job_id, message, done)
        elif not done:
            self.app.notify(message, title=_("Not undone"), severity="error", markup=False)

    def undo_finished(self, job_id: int, message: str, done: bool) -> None:
        """Show the outcome on the screen (the screen implements it)."""


class ImportJobsScreen(TranslatedBindings, UndoJobs, Screen):
    CSS_PATH = "import_jobs.tcss"
    AUTO_FOCUS = "#jobs-table"

    BINDINGS = [
        Binding("escape", "back", N_("Back"), id="import_jobs.back"),
        Binding("u", "undo", N_("Undo"), id="import_jobs.undo"),
        Binding("g", "refresh", N_("Refresh"), id="import_jobs.refresh", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.jobs: dict[int, ImportJob] = {}
        self._request = 0

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="jobs-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="jobs-message", markup=False)
        yield Static("", id="jobs-status", markup=False)
        yield KeysFooter()

    def on_mount(self) -> None:
        self.title = _("Import jobs")
        table = self.query_one(DataTable)
        # 80 columns: widths + 2 cells of padding each + the scrollbar.
        table.add_column(_("Started (UTC)"), key="started", width=16)
        table.add_column(_("File"), key="file", width=18)
        table.add_column(_("Result"), key="result", width=24)
        table.add_column(_("Status"), key="status", width=11)
        self.reload()

    def on_screen_resume(self) -> None:
        if self._request:  # back from a dialog or another screen (not the first showing)
            self.reload()

    @work(exclusive=True, group="import-jobs-load")
    async def reload(self) -> None:
        """Read the jobs on the app's query thread, off the UI thread."""
        self._request += 1
        request = self._request
        ctx = self.app.ctx

        def read() -> list[ImportJob] | str:
            try:
                return list_jobs(ctx)
            except ClientbookError as error:
                return str(error)

        jobs = await asyncio.get_running_loop().run_in_executor(self.app.query_executor, read)
        if request != self._request:
            return
        if isinstance(jobs, str):
            self.query_one("#jobs-status", Static).update(jobs)
            return
        self.show_jobs(jobs)

    def show_jobs(self, jobs: list[ImportJob]) -> None:
        table = self.query_one(DataTable)
        keep = self.cursor_id()
        self.jobs = {job.id: job for job in jobs}
        table.clear()
        for job in jobs:
            table.add_row(*self.cells(job), key=str(job.id), height=2)
        if keep in self.jobs:
            table.move_cursor(row=table.get_row_index(str(keep)), animate=False)
        self.query_one("#jobs-status", Static).update(
            ngettext("{count} import job, newest first", "{count} import jobs, newest first",
                     len(jobs)).format(count=len(jobs)) if jobs
            else _("No import yet: F5 imports a CSV file."))
        self.refresh_bindings()

    @staticmethod
    def cells(job: ImportJob) -> tuple[Text, ...]:
        started = Text(format_datetime(job.started_at))  # UTC, as stored
        started.append("\n" + job.started_by, style="dim")
        file = Text(Path(job.file_name).name)
        how = kind_label(job.kind)
        if job.on_match == "update":
            how += " · " + _("update")
        file.append("\n" + how, style="dim")
        result = Text(_("{created} created, {updated} updated").format(
            created=job.created, updated=job.updated))
        result.append("\n" + _("{skipped} skipped, {rejected} rejected").format(
            skipped=job.skipped, rejected=job.rejected),
            style="red" if job.rejected else "dim")
        status = Text(status_label(job.status), style=STATUS_STYLES.get(job.status, ""))
        status.append("\n" + _("job {id}").format(id=job.id), style="dim")
        cells = (started, file, result, status)
        for cell in cells:
            cell.no_wrap, cell.overflow = True, "ellipsis"
        return cells

    def cursor_id(self) -> int | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        row_key, _column = table.coordinate_to_cell_key(table.cursor_coordinate)
        return int(row_key.value) if row_key.value is not None else None

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "undo":
            job = self.jobs.get(self.cursor_id() or 0)
            if job is None or job.status == "undone":
                return None  # shown, greyed
            return not self.undoing or None
        return True

    def palette_actions(self) -> list[tuple[str, object]]:
        if self.check_action("undo", ()):
            return [(_("Undo the highlighted import job"), self.action_undo)]
        return []

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_refresh(self) -> None:
        self.reload()

    def action_undo(self) -> None:
        job = self.jobs.get(self.cursor_id() or 0)
        if job is None or self.undoing:
            return
        self.ask_undo(job.id, job.file_name)

    def undo_finished(self, job_id: int, message: str, done: bool) -> None:
        shown = self.query_one("#jobs-message", Static)
        shown.update(message)
        shown.set_class(not done, "-refused")
        self.reload()
