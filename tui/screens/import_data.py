"""Import customers, contacts or equipment from a CSV file (F5), in three steps.

1. The file: what it holds, its path (``~`` and paths relative to the current
   directory work), what to do with records that exist already, dry run.
   F9 or Enter in the path reads the file's shape (``open_csv``) in a thread;
   a file that cannot be read is said under the path and nothing else changes.
2. The mapping: the file's facts and each column with its first values and the
   field it feeds as the domain recognised it. Enter (or e) changes the
   highlighted column's field, which previews the mapping again with that
   explicit choice; the preview's problems are shown and refuse F9 Start.
3. The run: ``run_import`` in a thread worker; a progress bar is fed by the
   progress callback after each committed batch (through messages: the thread
   never touches a widget). c or Escape cancels after the batch in hand (the job
   is "interrupted"; importing the same file again resumes it). Then the summary,
   the job number, u to undo the job (``UndoJobs``) and Escape to go back.

The screen never writes to the database: the domain's importer does, and it
refuses whatever the role may not do.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import (Checkbox, ContentSwitcher, DataTable, Header, Input,
                             ProgressBar, Select, Static)
from textual.worker import get_current_worker

from tui.domain.context import Context
from tui.domain.errors import ClientbookError, PermissionDenied
from tui.domain.imports import (KINDS, CsvFile, ImportCancelled, ImportOptions, ImportReport,
                                MappingPreview, check_error_path, check_permissions,
                                field_label, open_csv, preview_mapping, run_import)
from tui.domain.imports.report import default_errors_path
from tui.i18n import N_, _, ngettext
from tui.bindings import TranslatedBindings
from tui.screens.import_jobs import UndoJobs, kind_label
from tui.widgets.address_fields import FieldRow, show_field_errors
from tui.widgets.export_dialog import resolve_path
from tui.widgets.footer import KeysFooter
from tui.widgets.pick_field import FieldPickerDialog

SAMPLE_ROWS = 3  # rows read for the "first values" column
ENCODINGS = {"utf-8-sig": "UTF-8 (BOM)", "utf-8": "UTF-8", "cp1252": "Windows-1252",
             "latin-1": "Latin-1"}


def delimiter_label(delimiter: str) -> str:
    return {",": _("commas"), ";": _("semicolons"), "\t": _("tabs")}.get(delimiter, delimiter)


def how_label(how: str, note: str) -> Text:
    if note == _("column of an error file"):
        return Text(_("error column"), style="dim")
    label, style = {"recognised": (_("recognised"), "green"),
                    "explicit": (_("your choice"), "bold"), "ignored": (_("your choice"), "bold"),
                    "unknown": (_("unknown"), "yellow"),
                    "duplicate": (_("duplicate"), "yellow")}.get(how, (how, ""))
    return Text(label, style=style)


def importable_kinds(ctx: Context) -> list[str]:
    """The kinds this role may import at all (the service decides, per kind)."""
    kinds = []
    for kind in KINDS:
        try:
            check_permissions(ctx, kind)
        except PermissionDenied:
            continue
        kinds.append(kind)
    return kinds


def import_refusal(ctx: Context) -> str | None:
    """Why this role may not import anything (the service's words), or None."""
    if importable_kinds(ctx):
        return None
    try:
        check_permissions(ctx, KINDS[0])
    except PermissionDenied as error:
        return str(error)
    return None


def shown_path(path: Path) -> str:
    """Relative to the current directory when under it (short, and what the user typed)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class OpenedFile:
    source: CsvFile
    rows: int  # data rows
    samples: tuple[tuple[str, ...], ...]  # the first rows' cells


def read_file(path: Path, database: Path | None) -> OpenedFile:
    """The file's shape, its data rows counted and its first rows (in a thread: it reads all).

    An error file beside it that the import may not replace is refused here, before the
    mapping is shown (the importer checks again before reading a row).
    """
    source = open_csv(path)
    check_error_path(default_errors_path(source.path), source.path, database)
    rows, samples = 0, []
    for _line, values in source.rows():
        rows += 1
        if len(samples) < SAMPLE_ROWS:
            samples.append(tuple(values))
    return OpenedFile(source, rows, tuple(samples))


class ImportScreen(TranslatedBindings, UndoJobs, Screen):
    CSS_PATH = "import_data.tcss"
    AUTO_FOCUS = "#import-kind"
    batch_size = 1000  # rows per transaction; tests make it small to see several batches

    BINDINGS = [
        Binding("escape", "back", N_("Back"), id="import.back"),
        Binding("escape", "cancel_import", N_("Cancel import"), id="import.cancel_escape",
                show=False),
        Binding("c", "cancel_import", N_("Cancel import"), id="import.cancel"),
        Binding("f9", "next", N_("Next"), id="import.next"),
        Binding("f9", "start", N_("Start"), id="import.start"),
        Binding("e", "change_field", N_("Field"), id="import.change_field"),
        Binding("u", "undo", N_("Undo import"), id="import.undo"),
        # Said by the hint and the summary; the footer has no room left at 80 columns.
        Binding("f8", "jobs", N_("Import jobs"), id="import.jobs", show=False),
    ]

    class Progressed(Message):
        def __init__(self, line: int, total_lines: int, rows: int) -> None:
            super().__init__()
            self.line, self.total_lines, self.rows = line, total_lines, rows

    class Finished(Message):
        def __init__(self, outcome: ImportReport | str) -> None:
            super().__init__()
            self.outcome = outcome  # the report, or why the import could not run

    def __init__(self) -> None:
        super().__init__()
        self.step = "file"  # file / map / run
        self.opening = False
        self.running = False
        self.cancelling = threading.Event()
        self.opened: OpenedFile | None = None
        self.kind = KINDS[0]
        self.explicit: dict[str, str] = {}  # header -> field ("" ignores): the user's choices
        self.preview: MappingPreview | None = None
        self.report: ImportReport | None = None
        self.undone = False

    # -- layout ----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        kinds = importable_kinds(self.app.ctx) or list(KINDS)
        yield Header()
        with ContentSwitcher(initial="import-file", id="import-steps"):
            with Vertical(id="import-file"):
                yield Static(_("Step 1 of 3 · The file"), classes="import-step-title")
                yield FieldRow(_("Import"), Select(
                    [(kind_label(kind), kind) for kind in kinds], value=kinds[0],
                    allow_blank=False, compact=True, id="import-kind"), field="kind")
                yield FieldRow(_("CSV file"), Input(
                    id="import-path", compact=True,
                    placeholder=_("path of the file (~ and relative paths work)")),
                    field="path", required=True)
                yield FieldRow(_("Existing records"), Select(
                    [(_("skip them, leave them as they are"), "skip"),
                     (_("update them from the file"), "update")], value="skip",
                    allow_blank=False, compact=True, id="import-on-match"), field="on_match")
                yield Checkbox(_("Dry run: check everything and report, change nothing"),
                               id="import-dry-run", compact=True)
                yield Static("", id="import-file-error", markup=False)
                yield Static(_("A customer, contact or machine that exists already is found "
                               "by its external id (or name, e-mail, serial). Rejected rows "
                               "go to an error file beside the input.\nF9 or Enter in the "
                               "path reads the file's columns (nothing is imported yet). "
                               "F8 lists past imports."), classes="hint")
            with Vertical(id="import-map"):
                yield Static("", id="import-facts", markup=False)
                yield DataTable(id="import-columns", cursor_type="row", zebra_stripes=True)
                yield Static("", id="import-problems", markup=False)
                yield Static(_("Enter or e: change the highlighted column's field · "
                               "F9: start · Esc: back"), classes="hint")
            with Vertical(id="import-run"):
                yield Static("", id="import-run-title", markup=False)
                yield ProgressBar(id="import-progress", show_eta=False)
                yield Static("", id="import-run-line", markup=False)
                with VerticalScroll(id="import-summary-box"):
                    yield Static("", id="import-summary", markup=False)
                    yield Static("", id="import-undo-status", markup=False)
        yield KeysFooter()

    def on_mount(self) -> None:
        self.title = _("Import from CSV")
        table = self.query_one("#import-columns", DataTable)
        # 80 columns: widths + 2 cells of padding each + the scrollbar.
        table.add_column(_("Column"), key="header", width=17)
        table.add_column(_("First values"), key="values", width=21)
        table.add_column(_("Field"), key="field", width=20)
        table.add_column(_("How"), key="how", width=11)

    def _go(self, step: str) -> None:
        self.step = step
        self.query_one(ContentSwitcher).current = f"import-{step}"
        self.refresh_bindings()

    # -- step 1: the file ------------------------------------------------------------------
    @on(Input.Submitted, "#import-path")
    def _path_submitted(self) -> None:
        self.action_next()

    def action_next(self) -> None:
        if self.step != "file" or self.opening:
            return
        text = self.query_one("#import-path", Input).value
        if not text.strip():
            self._file_error({"path": _("Type the path of the CSV file to import.")})
            return
        kind = str(self.query_one("#import-kind", Select).value)
        try:
            check_permissions(self.app.ctx, kind, on_match=self.on_match)
        except PermissionDenied as error:
            self._file_error({"general": str(error)})
            return
        self._file_error({})
        self.opening = True
        self.refresh_bindings()
        self.query_one("#import-file-error", Static).update(_("Reading the file…"))
        self.open_file(resolve_path(text), kind)

    @property
    def on_match(self) -> str:
        return str(self.query_one("#import-on-match", Select).value)

    @property
    def dry_run(self) -> bool:
        return self.query_one("#import-dry-run", Checkbox).value

    def _file_error(self, errors: dict[str, str]) -> None:
        show_field_errors(self.query_one("#import-file"), errors)
        self.query_one("#import-file-error", Static).update(errors.get("general", ""))

    @work(exclusive=True, group="import-open", exit_on_error=False)
    async def open_file(self, path: Path, kind: str) -> None:
        try:
            opened: OpenedFile | str = await asyncio.to_thread(
                read_file, path, getattr(self.app.ctx.db, "path", None))
        except ClientbookError as error:
            opened = str(error)
        except Exception as error:  # noqa: BLE001 - shown under the path, never a traceback
            opened = _("Cannot read {path}: {reason}").format(path=path, reason=error)
        self.opening = False
        self.refresh_bindings()
        if isinstance(opened, str):
            self._file_error({"path": opened})
            self.query_one("#import-path", Input).focus()
            return
        self.query_one("#import-file-error", Static).update("")
        old = self.opened
        if old is None or old.source.path != opened.source.path or self.kind != kind \
                or old.source.headers != opened.source.headers:
            self.explicit = {}  # choices made for another file or kind do not carry over
        self.opened, self.kind = opened, kind
        self.show_mapping()
        self._go("map")
        self.query_one("#import-columns", DataTable).focus()

    # -- step 2: the mapping ---------------------------------------------------------------
    def show_mapping(self) -> None:
        opened = self.opened
        source = opened.source
        self.preview = preview_mapping(self.kind, source.headers, self.explicit)
        facts = _("{file} · {encoding} · {delimiter} · {rows}").format(
            file=shown_path(source.path), encoding=ENCODINGS.get(source.encoding, source.encoding),
            delimiter=delimiter_label(source.delimiter),
            rows=ngettext("{n} row", "{n} rows", opened.rows).format(n=opened.rows))
        facts += "\n" + _("Import {kind} · existing records: {on_match}{dry}").format(
            kind=kind_label(self.kind),
            on_match=_("update") if self.on_match == "update" else _("skip"),
            dry=" · " + _("dry run") if self.dry_run else "")
        self.query_one("#import-facts", Static).update(facts)
        table = self.query_one("#import-columns", DataTable)
        row = table.cursor_row
        table.clear()
        for column in self.preview.columns:
            values = [sample[column.index] for sample in opened.samples
                      if column.index < len(sample) and sample[column.index].strip()]
            header = column.header or _("(column {n})").format(n=column.index + 1)
            field = (Text(field_label(column.field)) if column.field
                     else Text(_("— ignored"), style="dim"))
            cells = (Text(header), Text(" · ".join(values), style="dim"), field,
                     how_label(column.how, column.note))
            for cell in cells:
                cell.no_wrap, cell.overflow = True, "ellipsis"
            table.add_row(*cells, key=str(column.index))
        if table.row_count:
            table.move_cursor(row=min(max(row, 0), table.row_count - 1), animate=False)
        problems = self.query_one("#import-problems", Static)
        problems.update("\n".join(self.preview.problems))
        problems.display = bool(self.preview.problems)
        self.refresh_bindings()

    @on(DataTable.RowSelected, "#import-columns")
    def _row_chosen(self) -> None:
        self.action_change_field()

    def action_change_field(self) -> None:
        table = self.query_one("#import-columns", DataTable)
        if self.step != "map" or self.preview is None or not table.row_count:
            return
        column = self.preview.columns[table.cursor_row]

        def chosen(field: str | None) -> None:
            if field is None or self.opened is None:
                return
            self.explicit[column.header] = field
            self.show_mapping()

        self.app.push_screen(FieldPickerDialog(self.kind, column.header or _(
            "(column {n})").format(n=column.index + 1), column.field), chosen)

    def action_start(self) -> None:
        if self.step != "map" or self.running or self.preview is None or self.opened is None:
            return
        problems = self.query_one("#import-problems", Static)
        if not self.preview.ok:
            self.notify(_("Fix the mapping first: {problems}").format(
                problems=" ".join(self.preview.problems)), severity="warning", markup=False)
            return
        try:
            check_permissions(self.app.ctx, self.kind, self.preview, self.on_match)
        except PermissionDenied as error:
            problems.update(str(error))
            problems.display = True
            return
        source = self.opened.source
        options = ImportOptions(on_match=self.on_match, dry_run=self.dry_run,
                                batch_size=self.batch_size)
        self.running, self.report, self.undone = True, None, False
        self.cancelling.clear()
        self.query_one("#import-run-title", Static).update(
            (_("Checking {file} (dry run: nothing will be changed)…") if options.dry_run
             else _("Importing {kind} from {file}…")).format(
                file=shown_path(source.path), kind=kind_label(self.kind)))
        self.query_one("#import-progress", ProgressBar).update(total=source.total_lines,
                                                               progress=0)
        self.query_one("#import-run-line", Static).update("")
        self.query_one("#import-summary", Static).update("")
        self.query_one("#import-undo-status", Static).update("")
        self._go("run")
        self.query_one("#import-summary-box").focus()
        self.run_worker_thread(source, self.preview, options)

    # -- step 3: the run -------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="import-run", exit_on_error=False)
    def run_worker_thread(self, source: CsvFile, preview: MappingPreview,
                          options: ImportOptions) -> None:
        """Runs in its own thread, on (and then closing) that thread's database connection."""
        ctx = self.app.ctx
        worker = get_current_worker()

        def progress(done) -> None:
            self.post_message(self.Progressed(done.line, done.total_lines, done.rows))
            if self.cancelling.is_set() or worker.is_cancelled:
                raise ImportCancelled()

        try:
            outcome: ImportReport | str = run_import(ctx, source, preview, options,
                                                     progress=progress)
        except ClientbookError as error:
            outcome = str(error)
        except Exception as error:  # noqa: BLE001 - shown as a message, never a traceback
            outcome = _("The import stopped: {error}").format(error=error)
        finally:
            if not ctx.db.is_closed():
                ctx.db.close()  # peewee connections are per thread: this one is ours
        self.post_message(self.Finished(outcome))

    @on(Progressed)
    def _progressed(self, message: Progressed) -> None:
        self.query_one("#import-progress", ProgressBar).update(total=message.total_lines,
                                                               progress=message.line)
        line = _("Line {line} of {total} · {rows}").format(
            line=message.line, total=message.total_lines,
            rows=ngettext("{n} row read", "{n} rows read", message.rows).format(n=message.rows))
        if self.cancelling.is_set():
            line += " · " + _("cancelling after this batch…")
        self.query_one("#import-run-line", Static).update(line)

    @on(Finished)
    def _finished(self, message: Finished) -> None:
        self.running = False
        outcome = message.outcome
        title = self.query_one("#import-run-title", Static)
        summary = self.query_one("#import-summary", Static)
        summary.set_class(isinstance(outcome, str), "-failed")
        if isinstance(outcome, str):
            title.update(_("The import did not run."))
            summary.update(outcome)
            self.refresh_bindings()
            return
        self.report = outcome
        if outcome.status == "done":
            self.query_one("#import-progress", ProgressBar).update(
                total=max(outcome.total_lines, 1), progress=max(outcome.total_lines, 1))
            title.update(_("Dry run finished.") if outcome.dry_run else _("Import finished."))
        else:
            title.update(_("Import cancelled."))
        self.query_one("#import-run-line", Static).update(
            ngettext("{n} row read", "{n} rows read", outcome.rows).format(n=outcome.rows))
        lines = list(outcome.summary())
        if outcome.resumed_after_line:
            lines.append(_("This run finished import job {job}, which had stopped after line "
                           "{line}.").format(job=outcome.job_id, line=outcome.resumed_after_line))
        if outcome.job_id is not None:
            lines.append(_("Import job {job} · u undoes it · F8 lists every import.").format(
                job=outcome.job_id))
        summary.update("\n".join(lines))
        self.refresh_bindings()

    def action_cancel_import(self) -> None:
        if self.running and not self.cancelling.is_set():
            self.cancelling.set()
            self.query_one("#import-run-line", Static).update(
                _("Cancelling after the batch in hand…"))
            self.refresh_bindings()

    def action_undo(self) -> None:
        report = self.report
        if self.step == "run" and report is not None and report.job_id and not self.undone:
            self.ask_undo(report.job_id, str(self.opened.source.path if self.opened else ""))

    def undo_finished(self, job_id: int, message: str, done: bool) -> None:
        self.undone = self.undone or done
        status = self.query_one("#import-undo-status", Static)
        status.update(message)
        status.set_class(not done, "-refused")
        self.refresh_bindings()

    # -- keys ------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        step, running = self.step, self.running
        if action == "back":
            return not running
        if action == "cancel_import":
            return (None if self.cancelling.is_set() else True) if running else False
        if action == "next":
            return (None if self.opening else True) if step == "file" else False
        if action == "start":
            if step != "map":
                return False
            return True if self.preview is not None and self.preview.ok else None
        if action == "change_field":
            return step == "map"
        if action == "undo":
            report = self.report
            if step != "run" or running or report is None or report.job_id is None:
                return False
            return None if self.undone or self.undoing else True
        if action == "jobs":
            return not running
        return True

    def palette_actions(self) -> list[tuple[str, object]]:
        offered = [(_("Cancel the import after the batch in hand"), self.action_cancel_import,
                    "cancel_import"),
                   (_("Undo the import just made"), self.action_undo, "undo")]
        return [(label, callback) for label, callback, action in offered
                if self.check_action(action, ())]

    def action_back(self) -> None:
        if self.running:
            return
        if self.step == "file":
            self.app.pop_screen()
        elif self.step == "map":
            self._go("file")
            self.query_one("#import-path", Input).focus()
        else:  # a finished run: back to the file (the mapping chosen is kept for it)
            self._go("file")
            self.query_one("#import-path", Input).focus()

    def action_jobs(self) -> None:
        if not self.running:
            self.app.action_open_import_jobs()
