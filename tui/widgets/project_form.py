"""Add or change a project: name, dates, budget and its three contacts (construction seed).

``ProjectFormDialog`` is given a ``submit`` callable (the caller's service call with the
``ProjectDraft`` as typed). The service's validation errors are shown under their fields
and the dialog stays open, so nothing typed is lost; any other refusal (a project closed
meanwhile, no permission) is told in a notification and the dialog closes with None.
It dismisses with what ``submit`` returned (the saved project).

The contacts are offered from the customer's contacts (``ContactChoice``), those holding
the matching contact role first and marked with it; "(none)" leaves a place empty.

Dates are shown and typed in the operator's locale (23/11/2026 in French; ISO is read
too) and handed to the service as dates; a date that cannot be read is told under its
field, beside the service's other messages. The budget is typed in the locale too (the
service reads it with the operator's locale).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import date

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Select, Static

from tui.domain.errors import ClientbookError, ValidationError
from tui.domain.locale_format import date_example, format_date, parse_date
from tui.domain.services.projects import CONTACT_PLACES, ContactChoice, ProjectDraft, place_label
from tui.domain.validation import FieldError
from tui.i18n import N_, _, current_language
from tui.bindings import TranslatedBindings
from tui.lock_wait import waits_for_lock
from tui.widgets.address_fields import FieldRow, focus_first_error, show_field_errors
from tui.widgets.footer import KeysFooter

DATES = ("submission_deadline", "starts_on", "ends_on")


class ProjectFormDialog(TranslatedBindings, ModalScreen[object]):
    CSS_PATH = "project_form.tcss"

    BINDINGS = [
        Binding("escape", "cancel", N_("Cancel"), id="project_form.cancel"),
        Binding("ctrl+s", "save", N_("Save"), id="project_form.save", priority=True),
    ]

    def __init__(self, title: str, customer_name: str, currency: str,
                 choices: Mapping[str, Sequence[ContactChoice]],
                 submit: Callable[[ProjectDraft], object], *,
                 draft: ProjectDraft | None = None) -> None:
        """``choices``: place ("billing_contact"…) -> the contacts that may fill it."""
        super().__init__()
        self.heading = title
        self.customer_name = customer_name
        self.currency = currency
        self.choices = choices
        self.submit = submit
        self.draft = draft or ProjectDraft()

    def compose(self) -> ComposeResult:
        draft = self.draft
        labels = {"submission_deadline": _("Submission deadline"),
                  "starts_on": _("Starts on"), "ends_on": _("Ends on")}
        with Vertical(id="project-box"):
            yield Static(self.heading, id="project-title", markup=False)
            yield Static(_("Customer: {name}").format(name=self.customer_name),
                         id="project-customer", markup=False)
            yield FieldRow(_("Name"), Input(draft.name, id="project-name", compact=True),
                           field="name", required=True)
            for key in DATES:
                value = getattr(draft, key)
                shown = format_date(value) if isinstance(value, date) else str(value or "")
                yield FieldRow(labels[key], Input(
                    shown, id=f"project-{key}", compact=True, max_length=10,
                    placeholder=_("e.g. {example}").format(example=date_example())), field=key)
            yield FieldRow(_("Budget"), Input("" if draft.budget is None else str(draft.budget),
                                              id="project-budget", compact=True),
                           Static(self.currency, id="project-currency", markup=False),
                           field="budget")
            for place in CONTACT_PLACES:
                chosen = getattr(draft, f"{place}_id")
                options = self.contact_options(place)
                known = {value for _label, value in options}
                yield FieldRow(place_label(place), Select(
                    options, prompt=_("(none)"), id=f"project-{place}", compact=True,
                    value=chosen if chosen in known else Select.NULL), field=f"{place}_id")
            with Horizontal(id="project-buttons"):
                yield Button(_("Cancel"), id="project-cancel", compact=True)
                yield Button(_("Save"), id="project-save", variant="primary", compact=True)
        yield KeysFooter()

    def contact_options(self, place: str) -> list[tuple[str, int]]:
        roles = self.app.ctx.config.contact_roles
        role = roles.get(CONTACT_PLACES[place])
        mark = role.label_for(current_language()) if role else CONTACT_PLACES[place]
        return [(_("{name} ({role})").format(name=choice.name, role=mark) if choice.has_role
                 else choice.name, choice.id)
                for choice in self.choices.get(place, ())]

    def on_mount(self) -> None:
        self.query_one("#project-name", Input).focus()

    def current(self) -> ProjectDraft:
        def text(key: str) -> str:
            return self.query_one(f"#project-{key}", Input).value.strip()

        def contact(place: str) -> int | None:
            value = self.query_one(f"#project-{place}", Select).value
            return None if value is Select.NULL else int(value)

        return ProjectDraft(name=self.query_one("#project-name", Input).value,
                            submission_deadline=text("submission_deadline") or None,
                            starts_on=text("starts_on") or None, ends_on=text("ends_on") or None,
                            budget=text("budget") or None,
                            **{f"{place}_id": contact(place) for place in CONTACT_PLACES})

    @staticmethod
    def dated(draft: ProjectDraft) -> tuple[ProjectDraft, dict[str, str]]:
        """``draft`` with the dates read in the operator's locale, and the message of each
        date that cannot be read (left as typed: the service refuses it too)."""
        dates, problems = {}, {}
        for key in DATES:
            text = getattr(draft, key)
            try:
                dates[key] = parse_date(text) if text else None
            except FieldError as problem:
                problems[key] = problem.message
        return replace(draft, **dates), problems

    @waits_for_lock
    def action_save(self) -> None:
        draft, unreadable = self.dated(self.current())
        try:
            saved = self.submit(draft)
        except ValidationError as error:
            error = ValidationError({**error.errors, **unreadable})  # the locale's words
            wrong = show_field_errors(self, error.errors)
            focus_first_error(wrong)
            shown = {row.field_key for row in wrong}
            rest = [message for key, message in error.errors.items() if key not in shown]
            if rest:
                self.notify("\n".join(rest), severity="error", markup=False)
            return
        except ClientbookError as error:  # closed meanwhile, not allowed, deleted
            self.app.notify(str(error), title=_("Not saved"), severity="error", markup=False)
            self.dismiss(None)
            return
        self.dismiss(saved)

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted)
    def next_field(self) -> None:
        self.focus_next()

    @on(Button.Pressed, "#project-save")
    def save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#project-cancel")
    def cancel_pressed(self) -> None:
        self.action_cancel()
