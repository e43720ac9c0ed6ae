"""Record an event on a machine: type, time (UTC) and message.

The time is shown and typed in the operator's locale (23/11/2026 14:30 in French; ISO
8601 is read too, and a time with an offset such as 2026-11-23T15:30+01:00 is converted
to UTC). The dialog reads it, then hands the datetime to a ``submit(type, occurred_at,
message)`` callable (the caller's service call, events.record_event). The service checks
everything else; its ValidationError messages go under their fields and the dialog stays
open. It dismisses with what ``submit`` returned (the Recorded result), or None.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Select, Static, TextArea

from tui.domain import models
from tui.domain.errors import ClientbookError, ValidationError
from tui.domain.locale_format import datetime_example, format_datetime, parse_datetime
from tui.domain.validation import FieldError
from tui.i18n import N_, _, current_language
from tui.bindings import TranslatedBindings
from tui.lock_wait import waits_for_lock
from tui.widgets.address_fields import FieldRow, focus_first_error, show_field_errors
from tui.widgets.footer import KeysFooter

FIELDS = ("type", "occurred_at", "message")


class EventFormDialog(TranslatedBindings, ModalScreen[object]):
    """Dismisses with the recorded event (what ``submit`` returned), or None."""

    CSS_PATH = "event_form.tcss"

    BINDINGS = [
        Binding("escape", "cancel", N_("Cancel"), id="event_form.cancel"),
        Binding("ctrl+s", "save", N_("Record"), id="event_form.save", priority=True),
    ]

    def __init__(self, title: str, submit: Callable[[str, datetime, str], object]) -> None:
        super().__init__()
        self.heading = title
        self.submit = submit

    def compose(self) -> ComposeResult:
        language = current_language()
        choices = [(choice.label_for(language), key)
                   for key, choice in self.app.ctx.config.event_types.items()]
        with Vertical(id="event-box"):
            yield Static(self.heading, id="event-title", markup=False)
            yield FieldRow(_("Type"), Select(choices, prompt=_("Choose…"), id="event-type",
                                             compact=True), field="type", required=True)
            yield FieldRow(_("Time (UTC)"),
                           Input(format_datetime(models.utcnow()), id="event-time",
                                 compact=True, placeholder=_("e.g. {example}").format(
                                     example=datetime_example())),
                           field="occurred_at", required=True)
            yield FieldRow(_("Message"), TextArea(id="event-message", compact=True),
                           field="message")
            yield Static(id="event-error-general", markup=False)
            with Horizontal(id="event-buttons"):
                yield Button(_("Cancel"), id="event-cancel")
                yield Button(_("Record"), id="event-save", variant="primary")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one("#event-type", Select).focus()

    def current(self) -> tuple[str, str, str]:
        kind = self.query_one("#event-type", Select).value
        return ("" if kind is Select.NULL else str(kind),
                self.query_one("#event-time", Input).value,
                self.query_one("#event-message", TextArea).text)

    def show_errors(self, errors: dict[str, str]) -> None:
        wrong = show_field_errors(self, errors)
        extra = " ".join(message for field, message in errors.items() if field not in FIELDS)
        self.query_one("#event-error-general", Static).update(extra)
        if wrong:
            focus_first_error(wrong)

    @waits_for_lock
    def action_save(self) -> None:
        kind, when, message = self.current()
        if not when.strip():  # an empty time would mean "now" to the service: say it instead
            self.show_errors({"occurred_at": _("Type when it happened, e.g. {example}.").format(
                example=format_datetime(models.utcnow()))})
            return
        try:
            moment = parse_datetime(when)
        except FieldError as problem:
            self.show_errors({"occurred_at": problem.message})
            return
        try:
            recorded = self.submit(kind, moment, message)
        except ValidationError as error:
            self.show_errors(error.errors)
            return
        except ClientbookError as error:
            self.show_errors({"general": str(error)})
            return
        self.dismiss(recorded)

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted, "#event-time")
    def time_submitted(self) -> None:
        self.focus_next()

    @on(Button.Pressed, "#event-save")
    def save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#event-cancel")
    def cancel_pressed(self) -> None:
        self.action_cancel()
