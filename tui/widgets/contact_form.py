"""Add or edit one contact person: a modal that returns a ContactDraft, stores nothing.

The caller stores the draft (the contacts service) or keeps it (the new-customer
wizard). The dialog checks the draft with the contacts service's own
``validate_contact`` so the rules live in one place, and shows each message under
its field.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Static

from tui.domain.services.contacts import ContactDraft, validate_contact
from tui.domain.validation import Errors
from tui.i18n import N_, _, current_language
from tui.bindings import TranslatedBindings
from tui.widgets.address_fields import FieldRow, focus_first_error, show_field_errors
from tui.widgets.confirm import ConfirmDialog
from tui.widgets.footer import KeysFooter

TEXT_FIELDS = ("name", "email", "phone", "job_title")


class ContactFormDialog(TranslatedBindings, ModalScreen["ContactDraft | None"]):
    """Dismisses with the contact as typed once the service finds it valid, else None."""

    CSS_PATH = "contact_form.tcss"

    BINDINGS = [
        Binding("escape", "cancel", N_("Cancel"), id="contact_form.cancel"),
        Binding("ctrl+s", "submit", N_("OK"), id="contact_form.submit", priority=True),
    ]

    def __init__(self, draft: ContactDraft | None = None, *, region: str | None = None,
                 title: str | None = None) -> None:
        super().__init__()
        self.draft = draft or ContactDraft()
        self.phone_region = region  # reads national phone numbers; not Widget.region
        self.heading = title or (_("Edit contact") if draft else _("New contact"))
        self._initial: ContactDraft | None = None

    def compose(self) -> ComposeResult:
        config = self.app.ctx.config
        language = current_language()
        draft = self.draft
        with Vertical(id="contact-box"):
            yield Static(self.heading, id="contact-title", markup=False)
            with VerticalScroll(id="contact-fields"):
                yield FieldRow(_("Name"), Input(draft.name, id="name", compact=True),
                               field="name", required=True)
                yield FieldRow(_("E-mail"), Input(draft.email, id="email", compact=True),
                               field="email")
                yield FieldRow(_("Phone"), Input(draft.phone, id="phone", compact=True),
                               field="phone")
                yield FieldRow(_("Job title"),
                               Input(draft.job_title, id="job_title", compact=True),
                               field="job_title")
                yield FieldRow(_("Roles"), Vertical(*(
                    Checkbox(choice.label_for(language), key in draft.roles, id=f"role-{key}",
                             compact=True)
                    for key, choice in config.contact_roles.items()), id="roles"),
                    field="roles", id="roles-row")
            with Horizontal(id="contact-buttons"):
                yield Button(_("Cancel"), id="cancel")
                yield Button(_("OK"), id="ok", variant="primary")
        yield KeysFooter()

    def on_mount(self) -> None:
        self._initial = self.read()
        self.query_one("#name", Input).focus()

    def read(self) -> ContactDraft:
        """The contact as typed, roles in the configured order."""
        values = {field: self.query_one(f"#{field}", Input).value for field in TEXT_FIELDS}
        roles = tuple(key for key in self.app.ctx.config.contact_roles
                      if self.query_one(f"#role-{key}", Checkbox).value)
        return ContactDraft(**values, roles=roles)

    @on(Input.Submitted)
    def _next_field(self) -> None:
        self.focus_next()

    @on(Button.Pressed, "#ok")
    def action_submit(self) -> None:
        draft = self.read()
        errors = Errors()
        validate_contact(self.app.ctx.config, draft, self.phone_region, errors)
        wrong = show_field_errors(self, errors.errors)
        if wrong:
            focus_first_error(wrong)
            return
        self.dismiss(draft)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        if self.read() == self._initial:
            self.dismiss(None)
            return

        def answered(discard: bool | None) -> None:
            if discard:
                self.dismiss(None)

        self.app.push_screen(
            ConfirmDialog(_("Discard changes?"),
                          _("What you typed for this contact will be lost."), _("Discard")),
            answered)
