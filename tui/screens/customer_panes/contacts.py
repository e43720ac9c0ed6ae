"""The Contacts tab: the customer's contact people; add, edit, mark several and delete.

Add and Edit open the ContactFormDialog, which returns a draft; this pane stores it
with the contacts service. E-mail addresses and phone numbers are mailto:/tel: links
(OSC 8) in terminals that support them. Every cell is a rich Text, never markup.
"""

from __future__ import annotations

from dataclasses import replace

from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from tui.domain.errors import ClientbookError, Conflict
from tui.domain.models import Contact
from tui.domain.services.contacts import (ContactDraft, add_contact, contact_delete_impact,
                                          delete_contacts, list_contacts, update_contact)
from tui.domain.services.customers import get_customer
from tui.domain.services.projects import place_label
from tui.domain.validation import format_phone, phone_uri
from tui.i18n import N_, _, current_language, ngettext
from tui.bindings import TranslatedBindings
from tui.lock_wait import waits_for_lock
from tui.messages import CustomersChanged
from tui.widgets.confirm import ConfirmDialog

MARK = "✓"


def link(text: str, uri: str) -> Text:
    """Plain text that terminals supporting OSC 8 open as a link."""
    return Text(text, style=Style(link=uri) if uri and text else Style())


class ContactsTable(DataTable):
    """The contacts, one row each, keyed by contact id."""


class ContactsPane(TranslatedBindings, Vertical):
    BINDINGS = [
        Binding("a", "add", N_("Add"), id="contacts.add"),
        Binding("e", "edit", N_("Edit"), id="contacts.edit"),
        Binding("space", "mark", N_("Mark"), id="contacts.mark"),
        Binding("d,delete", "delete", N_("Delete"), id="contacts.delete"),
    ]

    def __init__(self, customer_id: int) -> None:
        super().__init__()
        self.customer_id = customer_id
        self.contacts: dict[int, Contact] = {}
        self.marked: set[int] = set()
        self.phone_country: str | None = None  # reads and shows national phone numbers

    def compose(self) -> ComposeResult:
        yield ContactsTable(id="contacts-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="contacts-status", markup=False)

    def on_mount(self) -> None:
        table = self.query_one(ContactsTable)
        # 80 columns: widths + 2 cells of padding each + the scrollbar.
        table.add_column(MARK, key="mark", width=1)
        table.add_column(_("Name"), key="name", width=16)
        table.add_column(_("Job title"), key="job_title", width=10)
        table.add_column(_("E-mail"), key="email", width=18)
        table.add_column(_("Phone"), key="phone", width=13)
        table.add_column(_("Roles"), key="roles", width=8)
        self.reload()

    def on_show(self) -> None:
        """Shown (tab chosen): show what is stored now, focus the table for this tab's keys."""
        self.reload()
        focused = self.screen.focused
        if focused is None or self not in focused.ancestors:
            self.query_one(ContactsTable).focus()

    # -- loading -----------------------------------------------------------------------------
    def reload(self, select_id: int | None = None) -> None:
        """Read the contacts again, keeping the cursor on the same contact (or ``select_id``)."""
        ctx = self.app.ctx
        table = self.query_one(ContactsTable)
        row_before = table.cursor_row
        if select_id is None and table.row_count:
            select_id = self.cursor_contact_id()
        try:
            customer = get_customer(ctx, self.customer_id)
            contacts = list_contacts(ctx, self.customer_id)
        except ClientbookError as error:
            self.query_one("#contacts-status", Static).update(str(error))
            return
        self.phone_country = customer.billing_country or ctx.config.defaults.country
        self.contacts = {contact.id: contact for contact in contacts}
        self.marked &= set(self.contacts)
        table.clear()
        roles = ctx.config.contact_roles
        for contact in contacts:
            role_labels = ", ".join(roles[r].label_for(current_language()) if r in roles else r
                                    for r in contact.roles or ())
            table.add_row(
                Text(MARK if contact.id in self.marked else ""),
                Text(contact.name), Text(contact.job_title),
                link(contact.email, f"mailto:{contact.email}"),
                link(format_phone(contact.phone, self.phone_country), phone_uri(contact.phone)),
                Text(role_labels), key=str(contact.id))
        if select_id in self.contacts:
            table.move_cursor(row=table.get_row_index(str(select_id)), animate=False)
        elif contacts:  # that contact is gone: stay at the same height
            table.move_cursor(row=min(max(row_before, 0), len(contacts) - 1), animate=False)
        self._update_status()
        self.refresh_bindings()

    def _update_status(self) -> None:
        count = len(self.contacts)
        if not count:
            text = (_("No contacts yet: press a to add one.")
                    if self.app.ctx.actor.can("contact.edit") else _("No contacts."))
        else:
            text = ngettext("{count} contact", "{count} contacts", count).format(count=count)
            if self.marked:
                text += " · " + ngettext("{count} marked", "{count} marked",
                                         len(self.marked)).format(count=len(self.marked))
            current = self.contacts.get(self.cursor_contact_id() or 0)
            if current is not None and current.roles:
                roles = self.app.ctx.config.contact_roles
                text += " · " + ", ".join(
                    roles[r].label_for(current_language()) if r in roles else r
                    for r in current.roles)
        self.query_one("#contacts-status", Static).update(text)

    def cursor_contact_id(self) -> int | None:
        table = self.query_one(ContactsTable)
        if not table.row_count:
            return None
        row_key, _column = table.coordinate_to_cell_key(table.cursor_coordinate)
        return int(row_key.value) if row_key.value is not None else None

    @on(DataTable.RowHighlighted, "#contacts-table")
    def _highlighted(self) -> None:
        self._update_status()

    # -- actions -----------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("add", "edit", "mark", "delete"):
            if not self.app.ctx.actor.can("contact.edit"):
                return False
            if action != "add" and not self.contacts:
                return None  # shown, but nothing to act on
        return True

    def action_mark(self) -> None:
        contact_id = self.cursor_contact_id()
        if contact_id is None:
            return
        self.marked ^= {contact_id}
        table = self.query_one(ContactsTable)
        table.update_cell(str(contact_id), "mark", Text(MARK if contact_id in self.marked else ""))
        if table.cursor_row < table.row_count - 1:
            table.move_cursor(row=table.cursor_row + 1)
        self._update_status()

    def action_add(self) -> None:
        from tui.widgets.contact_form import ContactFormDialog

        self.app.push_screen(ContactFormDialog(region=self.phone_country,
                                               title=_("New contact")), self._add)

    @waits_for_lock
    def _add(self, draft: ContactDraft | None) -> None:
        if draft is None:
            return
        try:
            contact = add_contact(self.app.ctx, self.customer_id, draft)
        except ClientbookError as error:
            self.notify(str(error), severity="error", markup=False)
            return
        self._changed(contact.id, _("Contact {name} added.").format(name=contact.name))

    @on(DataTable.RowSelected, "#contacts-table")
    def _row_selected(self) -> None:
        if self.check_action("edit", ()):
            self.action_edit()

    def action_edit(self) -> None:
        from tui.widgets.contact_form import ContactFormDialog

        contact = self.contacts.get(self.cursor_contact_id() or 0)
        if contact is None:
            return
        draft = ContactDraft.from_contact(contact)
        draft = replace(draft, phone=format_phone(draft.phone, self.phone_country))
        version = contact.version
        self.app.push_screen(
            ContactFormDialog(draft, region=self.phone_country,
                              title=_("Edit contact")),
            lambda edited: self._edit(contact.id, version, draft, edited))

    @waits_for_lock
    def _edit(self, contact_id: int, version: int, shown: ContactDraft,
              edited: ContactDraft | None) -> None:
        if edited is None or edited == shown:
            return
        if edited.phone == shown.phone:  # untouched: keep the stored international form
            edited = replace(edited, phone=self.contacts[contact_id].phone)
        try:
            contact = update_contact(self.app.ctx, contact_id, version, edited)
        except Conflict as error:
            self.notify(str(error), severity="error", markup=False)
            self.reload()
            return
        except ClientbookError as error:
            self.notify(str(error), severity="error", markup=False)
            return
        self._changed(contact.id, _("Contact {name} saved.").format(name=contact.name))

    def action_delete(self) -> None:
        ids = sorted(self.marked, key=list(self.contacts).index) or (
            [self.cursor_contact_id()] if self.contacts else [])
        ids = [contact_id for contact_id in ids if contact_id in self.contacts]
        if not ids:
            return
        names = [self.contacts[contact_id].name for contact_id in ids]
        listed = ", ".join(names[:5])
        if len(names) > 5:
            listed += " " + _("and {count} more").format(count=len(names) - 5)
        title = ngettext("Delete {count} contact?", "Delete {count} contacts?",
                         len(ids)).format(count=len(ids))
        body = _("{names} will be deleted from this customer and no longer be notified. "
                 "Their history stays in the audit trail.").format(names=listed)
        try:
            uses = contact_delete_impact(self.app.ctx, ids)
        except ClientbookError as error:
            self.notify(str(error), severity="error", markup=False)
            return
        if uses:  # project places the deletion empties: say which, before asking
            shown = [(_("{project} (closed): {place}, {contact}") if use.project_closed else
                      _("{project}: {place}, {contact}")).format(
                project=use.project_name, place=place_label(use.place),
                contact=use.contact_name) for use in uses[:4]]
            if len(uses) > 4:
                shown.append(_("and {count} more").format(count=len(uses) - 4))
            body += "\n\n" + _("Projects that lose a contact:") + "\n" + "\n".join(
                "• " + line for line in shown)
        self.app.push_screen(ConfirmDialog(title, body, _("Delete")),
                             lambda confirmed: self._delete(ids) if confirmed else None)

    @waits_for_lock
    def _delete(self, ids: list[int]) -> None:
        try:
            count = delete_contacts(self.app.ctx, ids)
        except ClientbookError as error:
            self.notify(str(error), severity="error", markup=False)
            self.reload()
            return
        self.marked -= set(ids)
        self._changed(None, ngettext("{count} contact deleted.", "{count} contacts deleted.",
                                     count).format(count=count))

    def _changed(self, select_id: int | None, message: str) -> None:
        self.reload(select_id)
        self.post_message(CustomersChanged(self.customer_id))  # the list's contact count
        self.notify(message, markup=False)
