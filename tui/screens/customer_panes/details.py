"""The Details tab: every field of a customer, read-only until Edit; Save, Cancel, Delete.

Edit reads the customer afresh and remembers its version; Save hands the customers
service a CustomerDraft made from the fields and that version. The service does all
checking: its ValidationError messages go under their fields, a DuplicateWarning asks
first, and a Conflict (someone saved meanwhile) opens the ConflictDialog instead of
overwriting. Field texts are compared as shown (``texts``), so "what changed" means
what the operator changed on screen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields as dataclass_fields, replace

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Label, Select, Static, TextArea

from tui.domain.errors import (ClientbookError, Conflict, DuplicateWarning, PermissionDenied,
                               ValidationError)
from tui.domain.locale_format import format_datetime, format_moment
from tui.domain.services.customers import (CustomerDraft, delete_customer, delete_impact,
                                           get_customer, group_names, update_customer)
from tui.domain.validation import country_name, format_phone, requires_state
from tui.i18n import N_, _, current_language, ngettext
from tui.bindings import TranslatedBindings
from tui.lock_wait import waits_for_lock
from tui.messages import CustomersChanged
from tui.widgets.address_fields import resolve_country, subdivision_options
from tui.widgets.confirm import ConfirmDialog
from tui.widgets.conflict import OVERWRITE, RELOAD, ConflictDialog
from tui.widgets.notice_types import NoticeTypesList, notice_labels

PREFIXES = ("billing_", "shipping_")
INPUTS = ("name", "phone", "email", "website",
          *(p + part for p in PREFIXES for part in ("street", "postal_code", "city", "country")),
          "groups", "currency", "language")
EDITABLE = "Input, Select, Checkbox, TextArea, SelectionList"


def long_labels() -> dict[str, str]:
    """Every field's name as the conflict dialog shows it (billing and shipping apart)."""
    return {
        "name": _("Name"), "phone": _("Phone"), "email": _("E-mail"), "website": _("Website"),
        "billing_street": _("Billing street"), "billing_postal_code": _("Billing postal code"),
        "billing_city": _("Billing city"), "billing_country": _("Billing country"),
        "billing_state": _("Billing state/region"),
        "shipping_same_as_billing": _("Shipping same as billing"),
        "shipping_street": _("Shipping street"),
        "shipping_postal_code": _("Shipping postal code"),
        "shipping_city": _("Shipping city"), "shipping_country": _("Shipping country"),
        "shipping_state": _("Shipping state/region"),
        "segment": _("Segment"), "groups": _("Groups"), "currency": _("Currency"),
        "language": _("Language"), "notify_event_types": _("Notices its contacts receive"),
        "notes": _("Notes"),
    }


def draft_texts(draft: CustomerDraft, default_country: str | None) -> dict[str, object]:
    """The draft as the fields show it: phone in national form, groups comma-separated."""
    special = ("phone", "groups", "shipping_same_as_billing", "notify_event_types")
    texts: dict[str, object] = {key: getattr(draft, key) or "" for key in long_labels()
                                if key not in special}
    texts["notify_event_types"] = tuple(draft.notify_event_types or ())
    texts["phone"] = format_phone(draft.phone, draft.billing_country or default_country)
    texts["groups"] = ", ".join(draft.groups)
    texts["shipping_same_as_billing"] = bool(draft.shipping_same_as_billing)
    return texts


def draft_from_snapshot(stored: Mapping, groups: list[str]) -> CustomerDraft:
    """A draft of what is stored now, from a Conflict's snapshot of the row."""
    names = {f.name for f in dataclass_fields(CustomerDraft)} - {"groups", "contacts",
                                                                  "notify_event_types"}
    values = {key: ("" if stored.get(key) is None else stored[key]) for key in names}
    values["shipping_same_as_billing"] = bool(stored.get("shipping_same_as_billing", True))
    return CustomerDraft(**values, groups=tuple(groups),
                         notify_event_types=tuple(stored.get("notify_event_types") or ()))


class DetailRow(Vertical):
    """``label  widget…`` with the field's error message under it."""

    def __init__(self, label: str, *widgets: Widget, field: str, row_id: str | None = None):
        super().__init__(id=row_id, classes="detail-row")
        self.field_key = field
        self.label_text = label
        self._widgets = widgets

    def compose(self) -> ComposeResult:
        with Horizontal(classes="detail-line"):
            yield Label(self.label_text, classes="detail-label", markup=False)
            yield from self._widgets
        error = Static("", classes="field-error", markup=False)
        error.display = False
        yield error

    def set_label(self, label: str) -> None:
        self.query_one(".detail-label", Label).update(label)

    def set_error(self, message: str | None) -> None:
        error = self.query_one(".field-error", Static)
        error.update(message or "")
        error.display = bool(message)
        self.set_class(bool(message), "-error")


class DetailsPane(TranslatedBindings, Vertical):
    BINDINGS = [
        Binding("e", "edit", N_("Edit"), id="details.edit"),
        Binding("ctrl+s", "save", N_("Save"), id="details.save"),
        Binding("escape", "cancel", N_("Cancel"), id="details.cancel"),
        Binding("ctrl+d,delete", "delete", N_("Delete customer"), id="details.delete"),
    ]

    def __init__(self, customer_id: int) -> None:
        super().__init__()
        self.customer_id = customer_id
        self.editing = False
        self.edit_version = 0
        self.base_draft = CustomerDraft()
        self._stored_texts: dict[str, object] = {}  # the stored customer, as the fields show it
        self._shown_texts: dict[str, object] = {}  # what the fields held when loaded
        self._state_country: dict[str, str | None] = {}
        self._loaded_phone = ""  # stored (E.164) form of the phone the field was loaded with

    # -- building ---------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        def text(key: str, label: str, **kwargs) -> DetailRow:
            return DetailRow(label, Input(id=key, compact=True, **kwargs), field=key)

        config = self.app.ctx.config
        with VerticalScroll(id="fields"), Vertical(id="form", disabled=True):
            yield text("name", _("Name"))
            yield text("phone", _("Phone"))
            yield text("email", _("E-mail"))
            yield text("website", _("Website"))
            for prefix, title in (("billing_", _("Billing address")),
                                  ("shipping_", _("Shipping address"))):
                yield Static(title, classes="section-title")
                if prefix == "shipping_":
                    yield Checkbox(_("Same as billing"), True, id="shipping_same_as_billing",
                                   compact=True)
                with Vertical(id=prefix + "address", classes="address"):
                    yield text(prefix + "street", _("Street"))
                    yield text(prefix + "postal_code", _("Postal code"))
                    yield text(prefix + "city", _("City"))
                    yield DetailRow(_("Country"), Input(id=prefix + "country", compact=True,
                                                        classes="country"),
                                    Static("", id=prefix + "country_name",
                                           classes="country-name", markup=False),
                                    field=prefix + "country")
                    yield DetailRow(_("Region"),
                                    Select([], prompt=_("Choose…"), id=prefix + "state_select",
                                           compact=True),
                                    Input(id=prefix + "region", compact=True),
                                    field=prefix + "state", row_id=prefix + "state_row")
            yield Static(_("Relationship"), classes="section-title")
            default = config.segments[config.default_segment].label_for(current_language())
            yield DetailRow(_("Segment"), Select(
                [(c.label_for(current_language()), key) for key, c in config.segments.items()],
                prompt=_("{segment} (default)").format(segment=default), id="segment",
                compact=True), field="segment")
            yield text("groups", _("Groups"), placeholder=_("comma-separated"))
            yield text("currency", _("Currency"), classes="code")
            yield text("language", _("Language"), classes="code")
            yield DetailRow(_("Notices its contacts receive"),
                            Static("", id="notify_event_types_text", markup=False),
                            NoticeTypesList(config.event_types, (), id="notify_event_types"),
                            field="notify_event_types")
            yield DetailRow(_("Notes"), TextArea(id="notes", compact=True), field="notes")
        with Horizontal(id="details-bar"):
            yield Static("", id="details-meta", markup=False)
            yield Button(_("Edit"), id="edit", compact=True)
            yield Button(_("Save"), id="save", variant="primary", compact=True)
            yield Button(_("Cancel"), id="cancel", compact=True)
            yield Button(_("Delete customer…"), id="delete", variant="error", compact=True)

    def on_mount(self) -> None:
        self.load()
        self._set_editing(False)

    def on_show(self) -> None:
        """Shown (tab chosen): take the focus so this tab's keys work at once."""
        focused = self.screen.focused
        if focused is None or self not in focused.ancestors:
            self._focus_default()

    def _focus_default(self) -> None:
        self.query_one("#name" if self.editing else "#fields").focus()

    # -- loading and reading ----------------------------------------------------------------
    def load(self) -> bool:
        """Show the stored customer; False if it cannot be read (deleted, not allowed)."""
        try:
            customer = get_customer(self.app.ctx, self.customer_id)
        except ClientbookError as error:
            self.query_one("#details-meta", Static).update(str(error))
            return False
        self.edit_version = customer.version
        self.base_draft = CustomerDraft.from_customer(customer)
        self._stored_texts = draft_texts(self.base_draft, self.app.ctx.config.defaults.country)
        self.show_texts(self._stored_texts)
        self._shown_texts = self.read_texts()
        self._loaded_phone = self.base_draft.phone
        saved = format_datetime(customer.updated_at) if customer.updated_at else ""
        self.query_one("#details-meta", Static).update(
            _("v{version} · saved {when} UTC by {who}").format(
                version=customer.version, when=saved, who=customer.updated_by or "—"))
        return True

    def show_texts(self, texts: Mapping[str, object]) -> None:
        for key in INPUTS:
            self.query_one(f"#{key}", Input).value = str(texts.get(key) or "")
        self.query_one("#shipping_same_as_billing", Checkbox).value = bool(
            texts.get("shipping_same_as_billing", True))
        segment = texts.get("segment")
        self.query_one("#segment", Select).value = (
            segment if segment in self.app.ctx.config.segments else Select.NULL)
        self.query_one("#notes", TextArea).load_text(str(texts.get("notes") or ""))
        notices = tuple(texts.get("notify_event_types") or ())
        self.query_one("#notify_event_types", NoticeTypesList).set_chosen(notices)
        self.query_one("#notify_event_types_text", Static).update(
            notice_labels(self.app.ctx.config.event_types, notices))
        for prefix in PREFIXES:
            self._sync_country(prefix)
            state = str(texts.get(prefix + "state") or "")
            if requires_state(self._country(prefix)):
                select = self.query_one(f"#{prefix}state_select", Select)
                codes = {code for _label, code in subdivision_options(self._country(prefix))}
                select.value = state if state in codes else Select.NULL
            else:
                self.query_one(f"#{prefix}region", Input).value = state
        self._sync_shipping()

    def read_texts(self) -> dict[str, object]:
        texts: dict[str, object] = {key: self.query_one(f"#{key}", Input).value
                                    for key in INPUTS}
        for prefix in PREFIXES:
            if requires_state(self._country(prefix)):
                chosen = self.query_one(f"#{prefix}state_select", Select).value
                texts[prefix + "state"] = "" if chosen is Select.NULL else str(chosen)
            else:
                texts[prefix + "state"] = self.query_one(f"#{prefix}region", Input).value
        texts["shipping_same_as_billing"] = self.query_one("#shipping_same_as_billing",
                                                           Checkbox).value
        segment = self.query_one("#segment", Select).value
        texts["segment"] = "" if segment is Select.NULL else str(segment)
        texts["notes"] = self.query_one("#notes", TextArea).text
        texts["notify_event_types"] = self.query_one("#notify_event_types",
                                                     NoticeTypesList).chosen
        return texts

    def read_draft(self) -> CustomerDraft:
        """The fields as a draft; an untouched phone keeps its stored international form."""
        texts = self.read_texts()
        values = {key: value for key, value in texts.items() if key not in ("phone", "groups")}
        values["groups"] = tuple(g.strip() for g in str(texts["groups"]).split(",") if g.strip())
        values["phone"] = (self._loaded_phone if texts["phone"] == self._shown_texts["phone"]
                           else texts["phone"])
        return replace(self.base_draft, **values)

    # -- country drives the state field ------------------------------------------------------
    def _country(self, prefix: str) -> str | None:
        text = self.query_one(f"#{prefix}country", Input).value
        if text.strip():
            return resolve_country(text)
        if prefix == "shipping_":
            return self._country("billing_")
        return self.app.ctx.config.defaults.country

    def _sync_country(self, prefix: str) -> None:
        code = self._country(prefix)
        typed = self.query_one(f"#{prefix}country", Input).value.strip()
        self.query_one(f"#{prefix}country_name", Static).update(
            country_name(code, current_language()) if code else
            (_("not recognised") if typed else ""))
        select = self.query_one(f"#{prefix}state_select", Select)
        region = self.query_one(f"#{prefix}region", Input)
        row = self.query_one(f"#{prefix}state_row", DetailRow)
        if requires_state(code):
            if self._state_country.get(prefix) != code:
                self._state_country[prefix] = code
                select.set_options(subdivision_options(code))
            row.set_label(_("State") if code == "US" else _("Province"))
            select.display, region.display = True, False
        else:
            row.set_label(_("Region"))
            select.display, region.display = False, True

    def _sync_shipping(self) -> None:
        same = self.query_one("#shipping_same_as_billing", Checkbox).value
        self.query_one("#shipping_address").display = not same

    @on(Input.Changed, "#billing_country, #shipping_country")
    def _country_changed(self) -> None:
        for prefix in PREFIXES:
            self._sync_country(prefix)

    @on(Checkbox.Changed, "#shipping_same_as_billing")
    def _same_changed(self) -> None:
        self._sync_shipping()

    # -- modes and errors --------------------------------------------------------------------
    def _set_editing(self, editing: bool) -> None:
        self.editing = editing
        self.query_one("#form").disabled = not editing  # one style update, not one per field
        actor = self.app.ctx.actor
        self.query_one("#edit").display = not editing and actor.can("customer.edit")
        self.query_one("#save").display = self.query_one("#cancel").display = editing
        self.query_one("#delete").display = not editing and actor.can("customer.delete")
        # reading: the chosen notices in words; editing: the list to tick them
        self.query_one("#notify_event_types").display = editing
        self.query_one("#notify_event_types_text").display = not editing
        self.set_class(editing, "-editing")
        self.refresh_bindings()

    def show_errors(self, errors: Mapping[str, str]) -> None:
        wrong = []
        for row in self.query(DetailRow):
            row.set_error(errors.get(row.field_key))
            if row.field_key in errors:
                wrong.append(row)
        shown = {row.field_key for row in wrong}
        if "shipping_same_as_billing" in errors:
            shown.add("shipping_same_as_billing")
        rest = [message for key, message in errors.items() if key not in shown]
        if rest:
            self.notify("\n".join(rest), severity="error", markup=False)
        for row in wrong:
            target = next((w for w in row.query(EDITABLE) if w.focusable), None)
            if target is not None:
                target.focus()
                row.scroll_visible()
                break

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        actor = self.app.ctx.actor
        if action == "edit":
            return not self.editing and actor.can("customer.edit")
        if action in ("save", "cancel"):
            return self.editing
        if action == "delete":
            return not self.editing and actor.can("customer.delete")
        return True

    @on(Button.Pressed)
    def _button(self, event: Button.Pressed) -> None:
        event.stop()
        {"edit": self.action_edit, "save": self.action_save, "cancel": self.action_cancel,
         "delete": self.action_delete}[event.button.id or ""]()

    # -- edit, save, cancel ------------------------------------------------------------------
    def action_edit(self) -> None:
        if self.editing or not self.load():  # start from what is stored now
            return
        self._set_editing(True)
        self.query_one("#name", Input).focus()

    @waits_for_lock
    def action_save(self, allow_duplicate: bool = False) -> None:
        if not self.editing:
            return
        draft = self.read_draft()
        try:
            update_customer(self.app.ctx, self.customer_id, self.edit_version, draft,
                            allow_duplicate=allow_duplicate)
        except ValidationError as error:
            self.show_errors(error.errors)
            return
        except DuplicateWarning as error:
            self.app.push_screen(
                ConfirmDialog(_("Possible duplicate"),
                              str(error) + "\n" + _("Save this customer anyway?"),
                              _("Save anyway"), danger=False),
                lambda confirmed: self.action_save(allow_duplicate=True) if confirmed else None)
            return
        except Conflict as error:
            self._resolve_conflict(error, allow_duplicate)
            return
        except PermissionDenied as error:
            self.notify(str(error), severity="error", markup=False)
            self._stop_editing()
            return
        except ClientbookError as error:  # e.g. deleted meanwhile
            self.notify(str(error), severity="error", markup=False)
            return
        self._stop_editing()
        self.post_message(CustomersChanged(self.customer_id))
        self.notify(_("Saved"))

    def _stop_editing(self) -> None:
        self.show_errors({})
        self.load()
        self._set_editing(False)
        self._focus_default()

    def action_cancel(self) -> None:
        if not self.editing:
            return
        if self.read_texts() == self._shown_texts:
            self._stop_editing()
            return
        self.app.push_screen(
            ConfirmDialog(_("Discard changes?"),
                          _("Your changes to this customer will be lost."), _("Discard")),
            lambda discard: self._stop_editing() if discard else None)

    # -- conflicts ---------------------------------------------------------------------------
    def _resolve_conflict(self, error: Conflict, allow_duplicate: bool) -> None:
        theirs_draft = draft_from_snapshot(error.current, group_names(self.customer_id))
        theirs = draft_texts(theirs_draft, self.app.ctx.config.defaults.country)
        mine = self.read_texts()
        keys = [key for key in mine if mine[key] != self._shown_texts.get(key)
                or theirs.get(key) != self._stored_texts.get(key)]
        when = format_moment(error.current.get("updated_at"))
        message = _("{who} saved this customer at {when} UTC while you were editing. Nothing "
                    "of yours is saved yet.").format(
            who=error.current.get("updated_by") or _("Someone"), when=when)

        def chosen(choice: str | None) -> None:
            if choice == RELOAD:
                self._stop_editing()
                self.post_message(CustomersChanged(self.customer_id))
            elif choice == OVERWRITE:
                self.edit_version = int(error.current.get("version") or self.edit_version)
                self.base_draft = theirs_draft  # keeps what the form does not show
                self._stored_texts = theirs
                self.action_save(allow_duplicate)

        self.app.push_screen(
            ConflictDialog({k: self._display(k, theirs[k]) for k in keys},
                           {k: self._display(k, mine[k]) for k in keys},
                           labels=long_labels(), message=message), chosen)

    def _display(self, key: str, value: object) -> str:
        if isinstance(value, bool):
            return _("Yes") if value else _("No")
        if key == "notify_event_types":
            return notice_labels(self.app.ctx.config.event_types, value)
        if key == "segment":
            segments = self.app.ctx.config.segments
            return segments[value].label_for(current_language()) if value in segments else \
                str(value)
        return str(value)

    # -- delete ------------------------------------------------------------------------------
    def action_delete(self) -> None:
        ctx = self.app.ctx
        try:
            customer = get_customer(ctx, self.customer_id)
            impact = delete_impact(ctx, self.customer_id)
        except ClientbookError as error:
            self.notify(str(error), severity="error", markup=False)
            return
        machines = ngettext("{count} machine will be unassigned",
                            "{count} machines will be unassigned",
                            impact.machines_unassigned).format(count=impact.machines_unassigned)
        contacts = ngettext("{count} contact", "{count} contacts",
                            impact.contacts_deleted).format(count=impact.contacts_deleted)
        documents = ngettext("{count} document", "{count} documents",
                             impact.documents_deleted).format(count=impact.documents_deleted)
        body = _("Delete {name}? {machines}, {contacts} and {documents} deleted. Their "
                 "history stays in the audit trail.").format(
            name=customer.name, machines=machines, contacts=contacts, documents=documents)
        if impact.projects_deleted:
            body += " " + ngettext("Its {count} project is deleted too.",
                                   "Its {count} projects are deleted too.",
                                   impact.projects_deleted).format(count=impact.projects_deleted)
        if impact.estimates_unlinked:
            body += " " + ngettext(
                "Its {count} estimate keeps a copy of the customer's details but is no longer "
                "linked to it.",
                "Its {count} estimates keep a copy of the customer's details but are no longer "
                "linked to it.", impact.estimates_unlinked).format(
                count=impact.estimates_unlinked)
        version, name = customer.version, customer.name
        self.app.push_screen(
            ConfirmDialog(_("Delete customer"), body, _("Delete")),
            lambda confirmed: self._delete(version, name) if confirmed else None)

    @waits_for_lock
    def _delete(self, version: int, name: str) -> None:
        try:
            delete_customer(self.app.ctx, self.customer_id, version)
        except Conflict as error:
            self.notify(str(error), severity="error", markup=False)
            self.load()
            return
        except ClientbookError as error:
            self.notify(str(error), severity="error", markup=False)
            return
        self.post_message(CustomersChanged(self.customer_id))
        self.notify(_("Deleted {name}.").format(name=name), markup=False)
        if self.app.screen is self.screen:
            self.app.pop_screen()
