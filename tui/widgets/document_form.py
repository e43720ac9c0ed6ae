"""Dialogs of the Admin Documents tab: add or change a document, and export a copy.

``DocumentFormDialog`` is given a ``submit`` callable (the caller's service
call); the service's validation errors are shown beside their fields and the
dialog stays open, so nothing typed is lost. It dismisses with the saved
``DocumentDraft``, or None when cancelled. The reminder is shown and typed in the
operator's locale (23/11/2026 in French; ISO is read too) and handed to ``submit``
as a date; one that cannot be read is told under its field (with the form in that locale),
beside the service's other messages, and nothing is saved.

``ExportDialog`` asks where to copy a stored file; it checks the destination
(folder exists, overwriting is confirmed) and dismisses with the target Path.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from tui.domain.errors import ClientbookError, ValidationError
from tui.domain.locale_format import date_example, format_date, parse_date
from tui.domain.validation import FieldError
from tui.i18n import N_, _
from tui.bindings import TranslatedBindings
from tui.lock_wait import waits_for_lock
from tui.widgets.confirm import ConfirmDialog
from tui.widgets.footer import KeysFooter

FIELDS = ("title", "kind", "file", "reminder_on")


@dataclass(frozen=True)
class DocumentDraft:
    title: str = ""
    kind: str = ""
    path: str = ""  # of the file to store; only when adding
    reminder_on: str | date = ""  # as typed (the operator's locale), a date, or empty


class DocumentFormDialog(TranslatedBindings, ModalScreen[DocumentDraft | None]):
    CSS_PATH = "document_form.tcss"

    BINDINGS = [
        Binding("escape", "cancel", N_("Cancel"), id="document_form.cancel"),
        Binding("ctrl+s", "save", N_("Save"), id="document_form.save"),
    ]

    def __init__(self, title: str, kinds: Sequence[tuple[str, str]],
                 submit: Callable[[DocumentDraft], object], *,
                 draft: DocumentDraft | None = None, file_name: str | None = None) -> None:
        """``kinds`` are (label, key); ``file_name`` set means editing: the file is not asked."""
        super().__init__()
        self.title_text = title
        self.kinds = list(kinds)
        self.submit = submit
        self.draft = draft or DocumentDraft(kind=self.kinds[0][1] if self.kinds else "")
        self.editing = file_name is not None
        self.file_name = file_name or ""

    def compose(self) -> ComposeResult:
        draft = self.draft
        with VerticalScroll():
            yield Static(self.title_text, classes="dialog-heading", markup=False)
            with Horizontal(classes="form-row"):
                yield Label(_("Title"))
                yield Input(draft.title, id="form-title")
            yield Static(id="error-title", classes="form-error", markup=False)
            with Horizontal(classes="form-row"):
                yield Label(_("Kind"))
                known = [key for _label, key in self.kinds]
                yield Select(self.kinds, id="form-kind", allow_blank=not known,
                             value=draft.kind if draft.kind in known else
                             (known[0] if known else Select.NULL))
            yield Static(id="error-kind", classes="form-error", markup=False)
            if self.editing:
                yield Static(_("File: {name}").format(name=self.file_name or _("none")),
                             id="form-file-name", markup=False)
            else:
                with Horizontal(classes="form-row"):
                    yield Label(_("File path"))
                    yield Input(draft.path, id="form-path",
                                placeholder=_("/path/to/file.pdf (empty: no file)"))
            yield Static(id="error-file", classes="form-error", markup=False)
            with Horizontal(classes="form-row"):
                yield Label(_("Reminder"))
                reminder = draft.reminder_on
                yield Input(format_date(reminder) if isinstance(reminder, date) else reminder,
                            id="form-reminder", max_length=10,
                            placeholder=_("e.g. {example}").format(example=date_example()))
            yield Static(id="error-reminder_on", classes="form-error", markup=False)
            yield Static(id="error-general", classes="form-error", markup=False)
            with Horizontal(classes="form-buttons"):
                yield Button(_("Cancel"), id="form-cancel")
                yield Button(_("Save"), id="form-save", variant="primary")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one("#form-title", Input).focus()

    def current(self) -> DocumentDraft:
        kind = self.query_one("#form-kind", Select).value
        path = "" if self.editing else self.query_one("#form-path", Input).value.strip()
        return DocumentDraft(
            title=self.query_one("#form-title", Input).value,
            kind="" if kind is Select.NULL else str(kind),
            path=path,
            reminder_on=self.query_one("#form-reminder", Input).value.strip(),
        )

    def show_errors(self, errors: dict[str, str]) -> None:
        for field in (*FIELDS, "general"):
            label = self.query_one(f"#error-{field}", Static)
            message = errors.get(field, "")
            label.update(message)
            label.set_class(bool(message), "-shown")
        # a message for a field the form does not show still reaches the user
        extra = [message for field, message in errors.items() if field not in (*FIELDS, "general")]
        if extra:
            general = self.query_one("#error-general", Static)
            general.update(" ".join(extra))
            general.add_class("-shown")

    @waits_for_lock
    def action_save(self) -> None:
        draft, unreadable = self.current(), None
        try:
            if draft.reminder_on:
                draft = replace(draft, reminder_on=parse_date(draft.reminder_on))
        except FieldError as problem:  # the service refuses it too, with the other fields
            unreadable = problem.message
        try:
            self.submit(draft)
        except ValidationError as error:
            errors = dict(error.errors)
            if unreadable:
                errors["reminder_on"] = unreadable  # in the operator's locale's words
            self.show_errors(errors)
            return
        except ClientbookError as error:
            self.show_errors({"general": str(error)})
            return
        self.dismiss(draft)

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted)
    def input_submitted(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#form-save")
    def save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#form-cancel")
    def cancel_pressed(self) -> None:
        self.action_cancel()


def export_target(typed: str, file_name: str) -> Path:
    """Where a copy named ``file_name`` goes when the user typed ``typed``; ValueError if it
    cannot go there. A folder gets the file's own name."""
    if not typed.strip():
        raise ValueError(_("Type where to save the copy."))
    target = Path(typed.strip()).expanduser()
    if target.is_dir():
        target = target / file_name
    folder = target.parent
    if not folder.exists():
        raise ValueError(_("The folder {folder} does not exist.").format(folder=folder))
    if not folder.is_dir():
        raise ValueError(_("{folder} is not a folder.").format(folder=folder))
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(_("You may not write in {folder}.").format(folder=folder))
    if target.is_dir():
        raise ValueError(_("{path} is a folder.").format(path=target))
    return target


class ExportDialog(TranslatedBindings, ModalScreen[Path | None]):
    CSS_PATH = "document_form.tcss"

    BINDINGS = [
        Binding("escape", "cancel", N_("Cancel"), id="export.cancel"),
    ]

    def __init__(self, title: str, file_name: str, suggestion: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.file_name = file_name
        self.suggestion = suggestion

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, classes="dialog-heading", markup=False)
            yield Label(_("Save a copy as (a file path, or a folder to keep its name):"))
            yield Input(self.suggestion, id="export-path")
            yield Static(id="export-error", markup=False)
            with Horizontal():
                yield Button(_("Cancel"), id="export-cancel")
                yield Button(_("Export"), id="export-save", variant="primary")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one("#export-path", Input).focus()

    def action_export(self) -> None:
        error = self.query_one("#export-error", Static)
        try:
            target = export_target(self.query_one("#export-path", Input).value, self.file_name)
        except ValueError as problem:
            error.update(str(problem))
            return
        error.update("")
        if target.exists():
            def replace_confirmed(replace: bool | None) -> None:
                if replace:
                    self.dismiss(target)  # not returned: the callback would await it

            self.app.push_screen(
                ConfirmDialog(_("Replace file?"),
                              _("{path} already exists. Replace it with this document?").format(
                                  path=target), _("Replace")),
                replace_confirmed)
            return
        self.dismiss(target)

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted, "#export-path")
    @on(Button.Pressed, "#export-save")
    def export_requested(self) -> None:
        self.action_export()

    @on(Button.Pressed, "#export-cancel")
    def cancel_pressed(self) -> None:
        self.action_cancel()
