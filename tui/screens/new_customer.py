"""The new-customer wizard: company → relationship → contacts → review → Save.

Nothing is stored before Save. Each Next checks the draft with the customers
service's ``validate_customer`` and blocks only on the fields of the step being
left; Save calls ``create_customer`` and shows what it refuses (duplicates to
confirm, permission, invalid fields) without losing what was typed.
"""

from __future__ import annotations

import os

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.suggester import Suggester
from textual.widgets import (Button, Checkbox, ContentSwitcher, DataTable, Header, Input,
                             Label, RadioButton, RadioSet, Select, SelectionList, Static)

from tui.domain.config import NOTIFY_CONTACT_ROLE
from tui.domain.errors import ClientbookError, ConfigError, DuplicateWarning, ValidationError
from tui.domain.mail import smtp_settings
from tui.domain.services.contacts import ContactDraft
from tui.domain.services.customers import (CustomerDraft, create_customer,
                                           create_customer_in_estimate, list_groups,
                                           validate_customer, welcome_recipients)
from tui.domain.validation import country_name, format_phone
from tui.i18n import N_, _, current_language, ngettext
from tui.bindings import TranslatedBindings
from tui.lock_wait import waits_for_lock
from tui.messages import CustomersChanged
from tui.widgets.address_fields import (AddressFields, FieldRow, focus_first_error,
                                        show_field_errors, state_label)
from tui.widgets.confirm import ConfirmDialog
from tui.widgets.contact_form import ContactFormDialog
from tui.widgets.footer import KeysFooter
from tui.widgets.notice_types import NoticeTypesList, notice_labels

STEPS = (("company", N_("Company")), ("relationship", N_("Relationship")),
         ("contacts", N_("Contacts")), ("review", N_("Review")))
COMPANY, RELATIONSHIP, CONTACTS, REVIEW = range(len(STEPS))
RELATIONSHIP_FIELDS = {"segment", "groups", "currency", "language", "notify_event_types",
                       "notes"}
LANGUAGES = {"en": "English", "fr": "Français", "da": "Dansk"}  # each in its own language
CONTACT_FIELDS = {"name": N_("Name"), "email": N_("E-mail"), "phone": N_("Phone"),
                  "job_title": N_("Job title"), "roles": N_("Roles")}


def step_of(field: str) -> int:
    """Which step shows the field a validation message is about."""
    if field.startswith("contacts["):
        return CONTACTS
    return RELATIONSHIP if field in RELATIONSHIP_FIELDS else COMPANY


class GroupSuggester(Suggester):
    """Completes the last comma-separated group name from the existing groups."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.names = names

    async def get_suggestion(self, value: str) -> str | None:
        stem = value.rpartition(",")[2].lstrip()
        if not stem:
            return None
        for known in self.names:
            if known.startswith(stem) and known != stem:
                return value + known[len(stem):]
        return None


class NewCustomerScreen(TranslatedBindings, Screen):
    CSS_PATH = "new_customer.tcss"

    BINDINGS = [
        Binding("escape", "cancel", N_("Cancel"), id="new_customer.cancel"),
        Binding("f8", "back", N_("Back"), id="new_customer.back", priority=True),
        Binding("f9", "next", N_("Next"), id="new_customer.next", priority=True),
        Binding("ctrl+s", "save", N_("Save"), id="new_customer.save", priority=True),
        Binding("a", "add_contact", N_("Add"), id="new_customer.add_contact"),
        Binding("e", "edit_contact", N_("Edit"), id="new_customer.edit_contact"),
        Binding("d,delete", "remove_contact", N_("Remove"), id="new_customer.remove_contact"),
        Binding("w", "toggle_welcome", N_("Welcome e-mail"), id="new_customer.welcome"),
    ]

    def __init__(self, *, for_estimate: bool = False) -> None:
        """``for_estimate``: opened from an estimate, it saves with
        ``create_customer_in_estimate`` (the estimator's one way to create a customer) and
        dismisses with the new customer's id instead of opening the customer."""
        super().__init__()
        self.for_estimate = for_estimate
        self.step = COMPANY
        self.contacts: list[ContactDraft] = []
        self._initial: CustomerDraft | None = None
        self._checked: set[int] = set()  # steps whose Next was tried: re-check as one types

    # -- layout ----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        config = self.app.ctx.config
        language = current_language()
        defaults = config.defaults
        yield Header()
        yield Static(id="step-title")
        with ContentSwitcher(initial="step-company", id="steps"):
            with VerticalScroll(id="step-company", classes="step"):
                yield FieldRow(_("Company name"), Input(id="name", compact=True),
                               field="name", required=True)
                yield FieldRow(_("Phone"), Input(id="phone", compact=True), field="phone")
                yield FieldRow(_("E-mail"), Input(id="email", compact=True), field="email")
                yield FieldRow(_("Website"), Input(id="website", compact=True),
                               field="website")
                yield Static(_("Billing address"), classes="section")
                yield AddressFields("billing_", fallback_country=defaults.country,
                                    id="billing")
                yield Checkbox(_("Shipping address same as billing"), True,
                               id="same_as_billing", compact=True)
                yield Static(_("Shipping address"), classes="section shipping")
                yield AddressFields("shipping_", fallback_country=defaults.country,
                                    id="shipping", classes="shipping")
            with VerticalScroll(id="step-relationship", classes="step"):
                yield FieldRow(_("Relationship"), RadioSet(
                    *(RadioButton(choice.label_for(language), id=f"segment-{key}")
                      for key, choice in config.segments.items()),
                    id="segment", compact=True), field="segment")
                yield Static(_("Enter or Space chooses; no choice means {segment}.").format(
                    segment=config.segments[config.default_segment].label_for(language)),
                    id="segment-hint", classes="hint", markup=False)
                yield FieldRow(_("Groups"), Input(id="groups", compact=True,
                                                  placeholder=_("comma-separated")),
                               field="groups")
                yield Static(id="groups-hint", classes="hint", markup=False)
                yield FieldRow(_("Currency"), Input(defaults.currency, id="currency",
                                                    compact=True, max_length=3),
                               field="currency")
                languages = dict(LANGUAGES)
                languages.setdefault(defaults.language, defaults.language)
                yield FieldRow(_("Language"), Select(
                    [(label, code) for code, label in languages.items()],
                    value=defaults.language, allow_blank=False, id="language", compact=True),
                    field="language")
                yield FieldRow(_("Notices its contacts receive"),
                               NoticeTypesList(config.event_types, id="notify_event_types"),
                               field="notify_event_types")
                notify = config.contact_roles.get(NOTIFY_CONTACT_ROLE)
                yield Static(_("Space ticks or unticks. Only its contacts with the role "
                               "{role} are e-mailed.").format(
                    role=notify.label_for(language) if notify else NOTIFY_CONTACT_ROLE),
                    id="notices-hint", classes="hint", markup=False)
            with Vertical(id="step-contacts", classes="step"):
                yield DataTable(id="contacts", cursor_type="row", zebra_stripes=True)
                yield Static(id="contacts-error", classes="field-error", markup=False)
                with Horizontal(id="contact-actions"):
                    yield Button(_("Add contact (a)"), id="add-contact", compact=True)
                    yield Button(_("Edit (e)"), id="edit-contact", compact=True)
                    yield Button(_("Remove (d)"), id="remove-contact", compact=True)
            with VerticalScroll(id="step-review", classes="step"):
                with Vertical(id="welcome-box"):
                    yield Checkbox(_("Send a welcome e-mail to the contacts"), False,
                                   id="welcome", disabled=True, compact=True)
                    yield Static("", classes="hint", id="welcome-hint", markup=False)
                yield Vertical(id="summary")
        with Horizontal(id="nav"):
            yield Button(_("Back"), id="back")
            yield Button(_("Next"), id="next", variant="primary")
            yield Button(_("Save"), id="save", variant="success")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.title = (_("New customer for the estimate") if self.for_estimate
                      else _("New customer"))
        groups = list_groups(self.app.ctx)
        self.query_one("#groups", Input).suggester = GroupSuggester(groups)
        if groups:
            shown = ", ".join(groups[:8]) + (", …" if len(groups) > 8 else "")
            self.query_one("#groups-hint", Static).update(
                _("Existing groups: {names}").format(names=shown))
        table = self.query_one("#contacts", DataTable)
        table.add_column(_("Name"), key="name", width=20)
        table.add_column(_("E-mail"), key="email", width=22)
        table.add_column(_("Phone"), key="phone", width=14)
        table.add_column(_("Roles"), key="roles", width=12)
        self._show_shipping()
        self._show_step()
        self._initial = self.draft()

    # -- the draft -------------------------------------------------------------------------
    def draft(self) -> CustomerDraft:
        """Everything typed so far, as the service wants it."""
        def value(widget_id: str) -> str:
            return self.query_one(f"#{widget_id}", Input).value

        same = self.query_one("#same_as_billing", Checkbox).value
        address = self.query_one("#billing", AddressFields).values()
        if not same:
            address.update(self.query_one("#shipping", AddressFields).values())
        pressed = self.query_one("#segment", RadioSet).pressed_button
        language = self.query_one("#language", Select).value
        return CustomerDraft(
            name=value("name"), phone=value("phone"), email=value("email"),
            website=value("website"), shipping_same_as_billing=same, **address,
            segment=pressed.id.removeprefix("segment-") if pressed and pressed.id else "",
            groups=tuple(g.strip() for g in value("groups").split(",") if g.strip()),
            currency=value("currency"),
            language="" if language is Select.NULL else str(language),
            notify_event_types=self.query_one("#notify_event_types", NoticeTypesList).chosen,
            contacts=tuple(self.contacts))

    def problems(self) -> dict[str, str]:
        try:
            validate_customer(self.app.ctx.config, self.draft())
        except ValidationError as error:
            return error.errors
        return {}

    def check_step(self, step: int, *, focus: bool = False) -> bool:
        """Show the messages of ``step``'s fields; True when it has none."""
        errors = {k: v for k, v in self.problems().items() if step_of(k) == step}
        if step == CONTACTS:
            self._show_contact_errors(errors)
            return not errors
        body = self.query_one(f"#step-{STEPS[step][0]}")
        wrong = show_field_errors(body, errors)
        if focus:
            focus_first_error(wrong)
        return not errors

    def _show_contact_errors(self, errors: dict[str, str]) -> None:
        lines = []
        for key, message in errors.items():
            index, _dot, field = key.removeprefix("contacts[").partition("].")
            number = int(index.rstrip("]")) + 1
            name = self.contacts[number - 1].name if number <= len(self.contacts) else ""
            lines.append(_("Contact {number} ({name}), {field}: {message}").format(
                number=number, name=name, field=_(CONTACT_FIELDS.get(field, field)),
                message=message))
        self.query_one("#contacts-error", Static).update("\n".join(lines))

    # -- steps -----------------------------------------------------------------------------
    def _show_step(self) -> None:
        key, label = STEPS[self.step]
        self.query_one("#step-title", Static).update(
            _("Step {number} of {total}: {title}").format(
                number=self.step + 1, total=len(STEPS), title=_(label)))
        self.query_one("#steps", ContentSwitcher).current = f"step-{key}"
        self.query_one("#back", Button).disabled = self.step == COMPANY
        self.query_one("#next", Button).display = self.step != REVIEW
        self.query_one("#save", Button).display = self.step == REVIEW
        if self.step == REVIEW:
            self._show_welcome()
            self._show_summary()
        self.refresh_bindings()
        self.call_after_refresh(self._focus_step)

    def _focus_step(self) -> None:
        target = {COMPANY: "#name", RELATIONSHIP: "#segment", CONTACTS: "#contacts",
                  REVIEW: "#save"}[self.step]
        self.query_one(target).focus()

    def go(self, step: int) -> None:
        self.step = step
        self._show_step()

    def action_next(self) -> None:
        if self.step == REVIEW:
            return
        self._checked.add(self.step)
        if self.check_step(self.step, focus=True):
            self.go(self.step + 1)

    def action_back(self) -> None:
        if self.step > COMPANY:
            self.go(self.step - 1)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "back":
            return self.step > COMPANY
        if action == "next":
            return self.step < REVIEW
        if action == "save":
            return self.step == REVIEW
        if action in ("add_contact", "edit_contact", "remove_contact"):
            return self.step == CONTACTS
        if action == "toggle_welcome":
            return self.step == REVIEW and not self.query_one("#welcome", Checkbox).disabled
        return True

    BUTTON_ACTIONS = {"back": "back", "next": "next", "save": "save",
                      "add-contact": "add_contact", "edit-contact": "edit_contact",
                      "remove-contact": "remove_contact"}

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        action = self.BUTTON_ACTIONS.get(event.button.id or "")
        if action:
            await self.run_action(action)

    @on(Input.Submitted)
    def _next_field(self) -> None:
        self.focus_next()

    @on(Input.Changed)
    @on(Select.Changed)
    @on(RadioSet.Changed)
    @on(SelectionList.SelectedChanged)
    def _recheck(self) -> None:
        if self._initial is not None and self.step in self._checked:
            self.check_step(self.step)

    @on(Input.Changed, "#billing_country")
    def _billing_country_changed(self) -> None:
        self.query_one("#shipping", AddressFields).set_fallback_country(
            self.query_one("#billing", AddressFields).country_code())

    @on(Checkbox.Changed, "#same_as_billing")
    def _show_shipping(self) -> None:
        same = self.query_one("#same_as_billing", Checkbox).value
        for widget in self.query(".shipping"):
            widget.display = not same

    # -- contacts --------------------------------------------------------------------------
    def _region(self) -> str | None:
        return self.query_one("#billing", AddressFields).country_code()

    def _refresh_contacts(self, cursor: int | None = None) -> None:
        table = self.query_one("#contacts", DataTable)
        labels = self.app.ctx.config.contact_roles
        language = current_language()
        table.clear()
        for index, contact in enumerate(self.contacts):
            roles = ", ".join(labels[r].label_for(language) if r in labels else r
                              for r in contact.roles)
            table.add_row(contact.name, contact.email, contact.phone, roles, key=str(index))
        if cursor is not None and self.contacts:
            table.move_cursor(row=min(cursor, len(self.contacts) - 1), animate=False)
        if CONTACTS in self._checked:
            self.check_step(CONTACTS)

    def _selected_contact(self) -> int | None:
        table = self.query_one("#contacts", DataTable)
        return table.cursor_row if self.contacts and table.cursor_row >= 0 else None

    def action_add_contact(self) -> None:
        def added(draft: ContactDraft | None) -> None:
            if draft is not None:
                self.contacts.append(draft)
                self._refresh_contacts(cursor=len(self.contacts) - 1)
            self.query_one("#contacts", DataTable).focus()

        self.app.push_screen(ContactFormDialog(region=self._region(), title=_("Add contact")),
                             added)

    def action_edit_contact(self) -> None:
        index = self._selected_contact()
        if index is None:
            return

        def edited(draft: ContactDraft | None) -> None:
            if draft is not None:
                self.contacts[index] = draft
                self._refresh_contacts(cursor=index)
            self.query_one("#contacts", DataTable).focus()

        self.app.push_screen(ContactFormDialog(self.contacts[index], region=self._region()),
                             edited)

    def action_remove_contact(self) -> None:
        index = self._selected_contact()
        if index is not None:
            del self.contacts[index]
            self._refresh_contacts(cursor=index)

    @on(DataTable.RowSelected, "#contacts")
    def _row_chosen(self) -> None:
        self.action_edit_contact()

    # -- review and save -------------------------------------------------------------------
    def summary(self) -> list[tuple[str, str]]:
        """(label, value) lines of everything Save will store, as the service will store it."""
        config = self.app.ctx.config
        language = current_language()
        try:
            values, groups, contacts = validate_customer(config, self.draft())
        except ValidationError:  # not reachable through Next; Save shows the messages
            return [("", _("Some fields need attention: press Save to see them."))]
        country = values["billing_country"]

        def address(prefix: str) -> str:
            city = " ".join(p for p in (values[prefix + "postal_code"], values[prefix + "city"])
                            if p)
            parts = (values[prefix + "street"], city, state_label(values[prefix + "state"]),
                     country_name(values[prefix + "country"], language))
            return ", ".join(p for p in parts if p) or _("(none)")

        roles = config.contact_roles
        lines = [
            (_("Company name"), values["name"]),
            (_("Phone"), format_phone(values["phone"], country)),
            (_("E-mail"), values["email"]),
            (_("Website"), values["website"]),
            (_("Billing address"), address("billing_")),
            (_("Shipping address"), _("same as billing") if values["shipping_same_as_billing"]
             else address("shipping_")),
            (_("Relationship"), config.segments[values["segment"]].label_for(language)),
            (_("Groups"), ", ".join(groups) or _("(none)")),
            (_("Currency"), values["currency"]),
            (_("Language"), LANGUAGES.get(values["language"], values["language"])),
            (_("Notices"), notice_labels(config.event_types, values["notify_event_types"])),
            (_("Contacts"), str(len(contacts)) if contacts else _("(none)")),
        ]
        for number, contact in enumerate(contacts, 1):
            details = [", ".join(p for p in (contact["name"], contact["job_title"]) if p),
                       " · ".join(p for p in (contact["email"],
                                              format_phone(contact["phone"], country)) if p),
                       ", ".join(roles[r].label_for(language) for r in contact["roles"])]
            lines.append((_("Contact {number}").format(number=number),
                          "\n".join(p for p in details if p)))
        return [(label, value) for label, value in lines if value]

    # -- the welcome e-mail (C12) ----------------------------------------------------------
    def welcome_count(self) -> int:
        """How many welcome e-mails Save would queue if the box is ticked."""
        return len(welcome_recipients(self.contacts))

    def sends_welcome(self) -> bool:
        box = self.query_one("#welcome", Checkbox)
        return box.value and not box.disabled and self.welcome_count() > 0

    def _show_welcome(self) -> None:
        """Offer the welcome e-mail only when some contact has an address; say whether it
        will be sent, and to how many."""
        box = self.query_one("#welcome", Checkbox)
        count = self.welcome_count()
        box.disabled = count == 0
        if not count:
            box.value = False
            hint = (_("None of the contacts has an e-mail address.") if self.contacts
                    else _("No contacts to welcome."))
        elif box.value:
            hint = ngettext("Will be sent to the {count} contact with an e-mail address.",
                            "Will be sent to the {count} contacts with an e-mail address.",
                            count).format(count=count)
        else:
            hint = _("Not sent.") + " " + ngettext(
                "{count} contact has an e-mail address and would get one.",
                "{count} contacts have an e-mail address and would get one.",
                count).format(count=count)
        if count:
            try:
                configured = smtp_settings(self.app.ctx.config, os.environ) is not None
            except ConfigError as error:
                hint += " " + _("E-mail settings are wrong ({error}): the messages will wait "
                                "in the outbox until they are fixed.").format(error=error)
            else:
                if not configured:
                    hint += " " + _("E-mail is not configured: the messages will wait in the "
                                    "outbox until it is.")
        self.query_one("#welcome-hint", Static).update(hint)
        self.refresh_bindings()

    @on(Checkbox.Changed, "#welcome")
    def _welcome_changed(self) -> None:
        if self.step == REVIEW:
            self._show_welcome()

    def action_toggle_welcome(self) -> None:
        box = self.query_one("#welcome", Checkbox)
        if self.step == REVIEW and not box.disabled:
            box.toggle()

    def _show_summary(self) -> None:
        box = self.query_one("#summary", Vertical)
        box.remove_children()
        box.mount_all(Horizontal(Label(label, classes="review-label", markup=False),
                                 Static(value, classes="review-value", markup=False),
                                 classes="review-row")
                      for label, value in self.summary())

    def summary_text(self) -> str:
        """The review as plain text: one "label: value" line per row."""
        return "\n".join(f"{label}: {value}" for label, value in self.summary())

    @waits_for_lock
    def action_save(self, allow_duplicate: bool = False) -> None:
        if self.step != REVIEW:
            return
        ctx = self.app.ctx
        welcome = self.sends_welcome()
        create = create_customer_in_estimate if self.for_estimate else create_customer
        try:
            customer = create(ctx, self.draft(), allow_duplicate=allow_duplicate,
                              send_welcome=welcome)
        except DuplicateWarning as warning:
            self._confirm_duplicate(warning)
            return
        except ValidationError as error:
            self._show_refusal(error)
            return
        except ClientbookError as error:
            self.app.notify(str(error), title=_("Not saved"), severity="error", markup=False)
            return
        self.app.post_message(CustomersChanged(customer.id))
        message = _("Customer {name} created.").format(name=customer.name)
        if welcome:
            count = self.welcome_count()
            message += " " + ngettext("{count} welcome e-mail queued in the outbox.",
                                      "{count} welcome e-mails queued in the outbox.",
                                      count).format(count=count)
        self.app.notify(message, markup=False)
        if self.for_estimate:
            self.dismiss(customer.id)
            return
        self.app.pop_screen()
        self.app.action_open_customer(customer.id)

    def _confirm_duplicate(self, warning: DuplicateWarning) -> None:
        listed = "\n".join(f"#{cid} {name} ({reason})" for cid, name, reason in warning.matches)
        body = _("Possible duplicate of:\n{listed}\n\nSave anyway?").format(listed=listed)

        def answered(save: bool | None) -> None:
            if save:
                self.action_save(allow_duplicate=True)

        self.app.push_screen(ConfirmDialog(_("Possible duplicate"), body, _("Save anyway"),
                                           danger=False), answered)

    def _show_refusal(self, error: ValidationError) -> None:
        """The service refused a field: go to its step and show the message there."""
        step = min(step_of(field) for field in error.errors)
        self.go(step)
        self._checked.add(step)
        errors = {k: v for k, v in error.errors.items() if step_of(k) == step}
        if step == CONTACTS:
            self._show_contact_errors(errors)
        else:
            body = self.query_one(f"#step-{STEPS[step][0]}")
            self.call_after_refresh(focus_first_error, show_field_errors(body, errors))
        self.app.notify(str(error), title=_("Not saved"), severity="error", markup=False)

    # -- leaving ---------------------------------------------------------------------------
    def action_cancel(self) -> None:
        if self.draft() == self._initial:
            self.app.pop_screen()
            return

        def answered(discard: bool | None) -> None:
            if discard:
                self.app.pop_screen()

        self.app.push_screen(ConfirmDialog(_("Discard the new customer?"),
                                           _("Nothing has been saved; what you typed will be "
                                             "lost."), _("Discard")), answered)
