"""Export customers, contacts or equipment to a file (F6): CSV, JSON, or vCard for contacts.

The dialog asks what, in which format (``FORMATS`` of that choice), which ones
(optional: the customer list's search) and where (default: ``default_file_name``
in the current directory). A file that exists is replaced only after a
ConfirmDialog. ``export_to_path`` runs in a thread worker; the service checks
the permissions and the choices, and its refusals are shown in the dialog,
which stays open. On success the app is told "Exported N … to PATH" and the
dialog dismisses with how many records were written.
"""

from __future__ import annotations

from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Select, Static

from tui.domain.errors import ClientbookError, ValidationError
from tui.domain.imports import FORMATS, default_file_name, export_to_path
from tui.i18n import N_, _, ngettext
from tui.bindings import TranslatedBindings
from tui.widgets.address_fields import FieldRow, show_field_errors
from tui.widgets.confirm import ConfirmDialog
from tui.widgets.footer import KeysFooter

FORMAT_LABELS = {"csv": "CSV", "json": "JSON", "vcard": "vCard"}


def what_label(what: str) -> str:
    return {"customers": _("customers"), "contacts": _("contacts"),
            "equipment": _("equipment")}.get(what, what)


def exported_text(what: str, count: int, path: Path) -> str:
    if what == "contacts":
        text = ngettext("Exported {n} contact to {path}.", "Exported {n} contacts to {path}.",
                        count)
    elif what == "equipment":
        text = ngettext("Exported {n} machine to {path}.", "Exported {n} machines to {path}.",
                        count)
    else:
        text = ngettext("Exported {n} customer to {path}.", "Exported {n} customers to {path}.",
                        count)
    return text.format(n=count, path=path)


def resolve_path(text: str) -> Path:
    """``~`` expanded; a relative path is taken from the current directory."""
    path = Path(text.strip()).expanduser()
    return path if path.is_absolute() else Path.cwd() / path


class ExportDialog(TranslatedBindings, ModalScreen[int | None]):
    """Dismisses with the number of records written, or None when cancelled."""

    CSS_PATH = "export_dialog.tcss"

    BINDINGS = [
        Binding("escape", "cancel", N_("Cancel"), id="export.cancel"),
        Binding("ctrl+s", "export", N_("Export"), id="export.save", priority=True),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.default_path = default_file_name("customers", "csv")
        self.busy = False

    def compose(self) -> ComposeResult:
        with Vertical(id="export-box"):
            yield Static(_("Export"), id="export-title", markup=False)
            yield FieldRow(_("What"), Select([(what_label(w), w) for w in FORMATS],
                                             value="customers", allow_blank=False,
                                             compact=True, id="export-what"), field="what")
            yield FieldRow(_("Format"), Select(self.format_options("customers"), value="csv",
                                               allow_blank=False, compact=True,
                                               id="export-format"), field="format")
            yield FieldRow(_("Only matching"), Input(
                id="export-search", compact=True,
                placeholder=_("optional: a search, as in the customer list")), field="search")
            yield FieldRow(_("File"), Input(self.default_path, id="export-path", compact=True),
                           field="path", required=True)
            yield Static("", id="export-error-general", markup=False)
            yield Static("", id="export-status", markup=False)
            yield Static(_("A relative path is taken from the current directory; an existing "
                           "file is replaced only if you say so."), classes="hint")
            with Horizontal(id="export-buttons"):
                yield Button(_("Cancel"), id="export-cancel")
                yield Button(_("Export"), id="export-save", variant="primary")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one("#export-what", Select).focus()

    @staticmethod
    def format_options(what: str) -> list[tuple[str, str]]:
        return [(FORMAT_LABELS.get(fmt, fmt), fmt) for fmt in FORMATS[what]]

    def chosen(self) -> tuple[str, str]:
        what = self.query_one("#export-what", Select).value
        fmt = self.query_one("#export-format", Select).value
        what = "customers" if what is Select.NULL else str(what)
        fmt = FORMATS[what][0] if fmt is Select.NULL or fmt not in FORMATS[what] else str(fmt)
        return what, fmt

    @on(Select.Changed, "#export-what")
    def _what_changed(self) -> None:
        what = self.chosen()[0]
        formats = self.query_one("#export-format", Select)
        keep = formats.value if formats.value in FORMATS[what] else FORMATS[what][0]
        formats.set_options(self.format_options(what))
        formats.value = keep
        self._default_path()

    @on(Select.Changed, "#export-format")
    def _format_changed(self) -> None:
        self._default_path()

    def _default_path(self) -> None:
        """Follow the choices with the default name, unless the user typed a path of their own."""
        path = self.query_one("#export-path", Input)
        new = default_file_name(*self.chosen())
        if path.value.strip() in ("", self.default_path):
            path.value = new
        self.default_path = new

    def show_errors(self, errors: dict[str, str]) -> None:
        show_field_errors(self, errors)
        extra = " ".join(m for field, m in errors.items()
                         if field not in ("what", "format", "search", "path"))
        self.query_one("#export-error-general", Static).update(extra)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "export-path":
            self.action_export()
        else:
            self.focus_next()

    def action_export(self) -> None:
        if self.busy:
            return
        text = self.query_one("#export-path", Input).value
        if not text.strip():
            self.show_errors({"path": _("Type the name of the file to write.")})
            return
        path = resolve_path(text)
        if path.is_dir():
            self.show_errors({"path": _("{path} is a folder: add a file name.").format(
                path=path)})
            return
        self.show_errors({})
        if path.exists():
            def answered(replace: bool | None) -> None:
                if replace:
                    self._start(path)

            self.app.push_screen(ConfirmDialog(
                _("Replace {name}?").format(name=path.name),
                _("{path} exists already. Exporting replaces its content.").format(path=path),
                _("Replace")), answered)
            return
        self._start(path)

    def _start(self, path: Path) -> None:
        what, fmt = self.chosen()
        search = self.query_one("#export-search", Input).value.strip() or None
        self.busy = True
        status = self.query_one("#export-status", Static)
        status.update(_("Exporting…"))
        status.display = True
        self.export_worker(what, fmt, path, search)

    @work(thread=True, exclusive=True, group="export", exit_on_error=False)
    def export_worker(self, what: str, fmt: str, path: Path, search: str | None) -> None:
        """Runs in its own thread, on (and then closing) that thread's database connection."""
        ctx = self.app.ctx
        try:
            outcome: int | dict[str, str] = export_to_path(ctx, what, fmt, path, search=search)
        except ValidationError as error:
            outcome = dict(error.errors)
        except ClientbookError as error:
            outcome = {"general": str(error)}
        except OSError as error:
            outcome = {"path": _("Cannot write {path}: {reason}").format(
                path=path, reason=error.strerror or error)}
        except Exception as error:  # noqa: BLE001 - shown in the dialog, never a traceback
            outcome = {"general": _("The export stopped: {error}").format(error=error)}
        finally:
            if not ctx.db.is_closed():
                ctx.db.close()  # peewee connections are per thread: this one is ours
        try:
            self.app.call_from_thread(self._done, what, path, outcome)
        except RuntimeError:  # the app has closed meanwhile
            pass

    def _done(self, what: str, path: Path, outcome: int | dict[str, str]) -> None:
        self.busy = False
        if isinstance(outcome, dict):
            if self.is_attached:
                self.query_one("#export-status", Static).display = False
                self.show_errors(outcome)
            return
        self.app.notify(exported_text(what, outcome, path), title=_("Export"), markup=False)
        self.dismiss(outcome)

    def action_cancel(self) -> None:
        if not self.busy:
            self.dismiss(None)

    @on(Button.Pressed, "#export-save")
    def _save_pressed(self) -> None:
        self.action_export()

    @on(Button.Pressed, "#export-cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()
