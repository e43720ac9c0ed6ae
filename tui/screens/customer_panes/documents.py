"""The Admin Documents tab: a customer's contracts, insurance papers… with reminders (D1, D2).

Everyone who may view documents sees the list, with reminders that have come
due standing out (overdue in the error colour, due within 14 days in the
warning colour) and counted on the status line. Roles with ``document.edit``
add (``a``), change (``e``) and delete (``d``); anyone who sees a document may
export a copy of its file (``x``).
"""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from tui.domain.errors import ClientbookError
from tui.domain.locale_format import format_date, format_decimal
from tui.domain.models import AdminDocument
from tui.domain.services.documents import (
    add_document,
    delete_document,
    document_file,
    list_documents,
    update_document,
)
from tui.i18n import N_, _, current_language, ngettext
from tui.bindings import TranslatedBindings
from tui.lock_wait import waits_for_lock
from tui.widgets.permitted import permitted
from tui.widgets.confirm import ConfirmDialog
from tui.widgets.document_form import DocumentDraft, DocumentFormDialog, ExportDialog

DUE_SOON_DAYS = 14


def human_size(count: int) -> str:
    if count < 1000:
        return _("{count} B").format(count=count)
    value = float(count)
    for unit in ("kB", "MB", "GB"):
        value /= 1000
        if value < 999.5 or unit == "GB":
            places = 0 if value >= 10 else 1
            shown = format_decimal(Decimal(f"{value:.{places}f}"), places=places)
            return f"{shown} {unit}"
    return str(count)  # unreachable


def reminder_state(reminder_on: date | None, today: date) -> str | None:
    """Return "overdue", "due" (within DUE_SOON_DAYS, today included) or None."""
    if reminder_on is None:
        return None
    if reminder_on < today:
        return "overdue"
    if reminder_on <= today + timedelta(days=DUE_SOON_DAYS):
        return "due"
    return None


class DocumentsPane(TranslatedBindings, Vertical):
    BINDINGS = [
        Binding("a", "add", N_("Add"), id="documents.add"),
        Binding("e", "edit", N_("Edit"), id="documents.edit"),
        Binding("x", "export", N_("Export copy"), id="documents.export"),
        Binding("d", "delete", N_("Delete"), id="documents.delete"),
    ]

    def __init__(self, customer_id: int) -> None:
        super().__init__()
        self.customer_id = customer_id
        self.documents: dict[int, AdminDocument] = {}
        self.select_after_load: int | None = None  # a document just added

    def compose(self) -> ComposeResult:
        yield DataTable(id="documents-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="documents-status", markup=False)

    def on_mount(self) -> None:
        table = self.query_one("#documents-table", DataTable)
        # 80 columns: widths + 2 cells of padding each + the scrollbar.
        table.add_column(_("Kind"), key="kind", width=11)
        table.add_column(_("Title"), key="title", width=20)
        table.add_column(_("File"), key="file", width=14)
        table.add_column(_("Size"), key="size", width=7)
        table.add_column(_("Reminder"), key="reminder", width=10)
        self.refresh_list()

    def on_show(self) -> None:
        """The tab was opened: show the documents as they are now, and take the keys."""
        self.refresh_list()
        self.query_one("#documents-table", DataTable).focus()

    # -- loading ---------------------------------------------------------------------------
    def kind_label(self, kind: str) -> str:
        choice = self.app.ctx.config.document_kinds.get(kind)
        return choice.label_for(current_language()) if choice else kind

    def reminder_cell(self, reminder_on: date | None, today: date) -> Text:
        if reminder_on is None:
            return Text("")
        state = reminder_state(reminder_on, today)
        colours = self.app.theme_variables
        if state == "overdue":
            style = Style(color=colours.get("error", "red"), bold=True)
        elif state == "due":
            style = Style(color=colours.get("warning", "yellow"))
        else:
            style = Style()
        return Text(format_date(reminder_on), style=style)

    def refresh_list(self) -> None:
        table = self.query_one("#documents-table", DataTable)
        status = self.query_one("#documents-status", Static)
        cursor_key = self.select_after_load or self.cursor_id()
        cursor_row = table.cursor_row
        self.select_after_load = None
        try:
            documents = list_documents(self.app.ctx, self.customer_id)
        except ClientbookError as error:
            table.clear()
            self.documents = {}
            status.update(str(error))
            self.refresh_bindings()
            return
        table.clear()
        self.documents = {document.id: document for document in documents}
        today = date.today()
        for document in documents:
            table.add_row(
                self.kind_label(document.kind), Text(document.title), Text(document.file_name),
                human_size(document.file_size) if document.file_sha256 else "",
                self.reminder_cell(document.reminder_on, today), key=str(document.id))
        if cursor_key in self.documents:
            table.move_cursor(row=table.get_row_index(str(cursor_key)), animate=False)
        elif documents:  # the row under the cursor went: stay at the same place
            table.move_cursor(row=min(cursor_row, len(documents) - 1), animate=False)
        status.update(self.status_text(documents, today))
        self.refresh_bindings()

    def status_text(self, documents: list[AdminDocument], today: date) -> str:
        if not documents:
            if self.app.ctx.actor.can("document.edit"):
                return _("No documents yet. Press a to add one.")
            return _("No documents yet.")
        parts = [ngettext("{count} document", "{count} documents", len(documents)).format(
            count=len(documents))]
        states = [reminder_state(document.reminder_on, today) for document in documents]
        if overdue := states.count("overdue"):
            parts.append(ngettext("{count} reminder overdue", "{count} reminders overdue",
                                  overdue).format(count=overdue))
        if due := states.count("due"):
            parts.append(ngettext("{count} due within {days} days",
                                  "{count} due within {days} days", due).format(
                count=due, days=DUE_SOON_DAYS))
        return " · ".join(parts)

    def cursor_id(self) -> int | None:
        table = self.query_one("#documents-table", DataTable)
        if not table.row_count:
            return None
        row_key, _column = table.coordinate_to_cell_key(table.cursor_coordinate)
        return int(row_key.value)

    def current(self) -> AdminDocument | None:
        document_id = self.cursor_id()
        return None if document_id is None else self.documents.get(document_id)

    def kinds(self) -> list[tuple[str, str]]:
        language = current_language()
        return [(choice.label_for(language), key)
                for key, choice in self.app.ctx.config.document_kinds.items()]

    # -- permissions -----------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("add", "edit", "delete") and not self.app.ctx.actor.can("document.edit"):
            return False
        if action in ("edit", "delete", "export") and not self.documents:
            return None  # offered, but nothing to act on yet
        return True

    def allowed(self, permission: str) -> bool:
        return permitted(self, permission)

    # -- actions ---------------------------------------------------------------------------
    def action_add(self) -> None:
        if not self.allowed("document.edit"):
            return
        ctx = self.app.ctx

        def submit(draft: DocumentDraft) -> object:
            document = add_document(ctx, self.customer_id, draft.title, draft.kind,
                                    draft.path or None, draft.reminder_on or None)
            self.select_after_load = document.id
            return document

        self.app.push_screen(DocumentFormDialog(_("Add a document"), self.kinds(), submit),
                             self.saved)

    def action_edit(self) -> None:
        if not self.allowed("document.edit"):
            return
        document = self.current()
        if document is None:
            return
        ctx = self.app.ctx

        def submit(draft: DocumentDraft) -> object:
            return update_document(ctx, document.id, document.version, title=draft.title,
                                   kind=draft.kind, reminder_on=draft.reminder_on or None)

        draft = DocumentDraft(title=document.title, kind=document.kind,
                              reminder_on=format_date(document.reminder_on)
                              if document.reminder_on else "")
        self.app.push_screen(
            DocumentFormDialog(_("Change document"), self.kinds(), submit, draft=draft,
                               file_name=document.file_name),
            self.saved)

    def saved(self, draft: DocumentDraft | None) -> None:
        self.refresh_list()  # also after a cancel: a conflict may have shown newer data
        if draft is not None:
            self.notify(_("Saved."))

    def action_export(self) -> None:
        document = self.current()
        if document is None:
            return
        try:
            source = document_file(self.app.ctx, document.id)
        except ClientbookError as error:
            self.notify(str(error), severity="error", markup=False)
            return
        if source is None:
            self.notify(_("This document has no file to export."), severity="warning")
            return
        if not source.is_file():
            self.notify(_("The stored file of this document is missing from {store}.").format(
                store=source.parent), severity="error", markup=False)
            return
        file_name = document.file_name or source.name
        title = _("Export a copy of {title}").format(title=document.title)
        self.app.push_screen(ExportDialog(title, file_name, f"~/{file_name}"),
                             lambda target: self.export_to(source, target))

    def export_to(self, source: Path, target: Path | None) -> None:
        if target is None:
            return
        try:
            shutil.copyfile(source, target)
        except OSError as error:
            self.notify(_("Could not copy to {path}: {reason}").format(
                path=target, reason=error.strerror or error), severity="error", markup=False)
            return
        self.notify(_("Copied to {path}.").format(path=target), markup=False)

    def action_delete(self) -> None:
        if not self.allowed("document.edit"):
            return
        document = self.current()
        if document is None:
            return
        body = _("Delete the document “{title}”? The audit trail keeps a record of it.").format(
            title=document.title)
        self.app.push_screen(ConfirmDialog(_("Delete document"), body, _("Delete")),
                             lambda confirmed: self.delete_confirmed(document.id, confirmed))

    @waits_for_lock
    def delete_confirmed(self, document_id: int, confirmed: bool | None) -> None:
        if not confirmed:
            return
        try:
            delete_document(self.app.ctx, document_id)
        except ClientbookError as error:
            self.notify(str(error), severity="error", markup=False)
        else:
            self.notify(_("Document deleted."))
        self.refresh_list()
