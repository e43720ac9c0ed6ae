"""One outbox message in full: who it is for, where it stands, and exactly what it says.

The outbox stores each message as rendered when it was queued, so what this
dialog shows is what the recipient gets (or got). Everything in it is user
data or server text: shown literally, never as markup.
"""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from tui.domain.mail import format_time
from tui.domain.models import Notification
from tui.i18n import N_, _, ngettext
from tui.bindings import TranslatedBindings


def utc(moment: datetime | None) -> str:
    """Stored times are naive UTC; say so, since operators sit in any time zone (the date
    in the operator's locale)."""
    return format_time(moment) if moment else ""


def kind_label(kind: str) -> str:
    return {"event": _("equipment event"), "welcome": _("welcome")}.get(kind, kind)


def status_label(status: str) -> str:
    return {"pending": _("pending"), "sending": _("sending"), "sent": _("sent"),
            "failed": _("failed")}.get(status, status)


STATUS_STYLES = {"pending": "yellow", "sending": "cyan", "sent": "green", "failed": "bold red"}


class MessageViewDialog(TranslatedBindings, ModalScreen[None]):
    """Subject, recipient, status, body and last error of one queued e-mail; Escape closes."""

    CSS_PATH = "message_view.tcss"

    BINDINGS = [
        Binding("escape,q", "close", N_("Close"), id="message_view.close"),
    ]

    def __init__(self, message: Notification) -> None:
        super().__init__()
        self.message = message

    def rows(self) -> list[tuple[str, str, str | None]]:
        """(label, value, widget id) of the facts shown above the body."""
        note = self.message
        to = f"{note.recipient_name} <{note.recipient_email}>" if note.recipient_name \
            else note.recipient_email
        status = status_label(note.status)
        if note.attempts:
            status += " · " + ngettext("{count} attempt", "{count} attempts",
                                       note.attempts).format(count=note.attempts)
        rows: list[tuple[str, str, str | None]] = [
            (_("To"), to, "message-to"),
            (_("Kind"), f"{kind_label(note.kind)} · {note.language}", None),
            (_("Status"), status, "message-status"),
            (_("Created"), _("{when} by {login}").format(when=utc(note.created_at),
                                                          login=note.created_by), None),
        ]
        if note.sent_at:
            rows.append((_("Sent"), utc(note.sent_at), None))
        elif note.status == "pending" and note.attempts:
            rows.append((_("Next try"), utc(note.next_attempt_at), None))
        if note.last_error:
            rows.append((_("Last error"), note.last_error, "message-error"))
        return rows

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.message.subject, id="message-subject", markup=False)
            for label, value, widget_id in self.rows():
                with Horizontal(classes="message-row"):
                    yield Label(label, classes="message-label", markup=False)
                    yield Static(Text(value), id=widget_id, classes="message-value")
            with VerticalScroll(id="message-body"):
                yield Static(Text(self.message.body.rstrip("\n")), id="message-text")
            with Horizontal(id="message-buttons"):
                yield Button(_("Close"), id="close", compact=True)

    def on_mount(self) -> None:
        self.query_one("#message-body").focus()  # arrows and Page keys scroll the body

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)
