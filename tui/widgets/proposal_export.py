"""Writing an estimate's PDF proposal from a screen: where to, then a thread worker.

``ProposalExport`` is mixed into the estimate screen, which provides ``estimate_id``,
``number``, ``dirty`` and ``show_hint``. The proposal shows what is saved, so an
estimate with unsaved changes is refused with a word to save first. The path is asked
in the ExportDialog (default ``<number>.pdf`` in the current directory; an existing file
is replaced only after a confirmation); the PDF is then written (0.2-0.35 s) in a thread
on that thread's own database connection, and the path written is told.
"""

from __future__ import annotations

from pathlib import Path

from textual import work

from tui.domain.errors import ClientbookError
from tui.domain.proposal import write_proposal
from tui.i18n import _
from tui.widgets.document_form import ExportDialog


class ProposalExport:
    writing_pdf = False

    def action_proposal(self) -> None:
        if self.estimate_id is None or self.dirty:
            self.notify(_("Save the estimate first (Ctrl+S): the proposal shows what is saved."),
                        severity="warning")
            return
        if self.writing_pdf:
            return
        name = f"{self.number}.pdf"
        self.app.push_screen(ExportDialog(_("Proposal {number} as PDF").format(
            number=self.number), name, name), self.proposal_target)

    def proposal_target(self, target: Path | None) -> None:
        if target is None:
            return
        self.writing_pdf = True
        self.show_hint()
        self.write_pdf(self.estimate_id, target)

    @work(thread=True, exclusive=True, group="proposal", exit_on_error=False)
    def write_pdf(self, estimate_id: int, target: Path) -> None:
        """Runs in its own thread, on (and then closing) that thread's database connection."""
        ctx = self.app.ctx
        try:
            outcome: Path | str = write_proposal(ctx, estimate_id, target).resolve()
        except ClientbookError as error:
            outcome = str(error)
        except Exception as error:  # noqa: BLE001 - shown as a message, never a traceback
            outcome = _("The proposal was not written: {error}").format(error=error)
        finally:
            if not ctx.db.is_closed():
                ctx.db.close()  # peewee connections are per thread: this one is ours
        try:
            self.app.call_from_thread(self.pdf_written, outcome)
        except RuntimeError:  # the app has closed meanwhile
            pass

    def pdf_written(self, outcome: Path | str) -> None:
        self.writing_pdf = False
        if isinstance(outcome, str):
            self.app.notify(outcome, title=_("PDF proposal"), severity="error", markup=False)
        else:
            self.app.notify(_("Proposal written to {path}").format(path=outcome),
                            title=_("PDF proposal"), markup=False)
        if self.is_attached:
            self.show_hint()
