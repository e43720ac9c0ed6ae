"""Contacts of a customer: who to call, bill, send bids to and notify."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields

from tui.domain.config import Config
from tui.domain.context import Context
from tui.domain.errors import NotFound
from tui.domain.models import Contact, Customer
from tui.domain.permissions import require
from tui.domain.services._base import audit, changed_fields, snapshot, versioned_update, write
from tui.domain.services.estimates import refresh_customer_copies
from tui.domain.services.projects import ContactUse, clear_contacts, contact_uses
from tui.domain.validation import (
    LIMITS,
    Errors,
    FieldError,
    clean_text,
    digit_suffixes,
    normalize_email,
    normalize_phone,
    quoted,
)
from tui.i18n import _


@dataclass(frozen=True)
class ContactDraft:
    """What a contact form or an import row holds before validation."""

    name: str = ""
    email: str = ""
    phone: str = ""
    job_title: str = ""
    roles: tuple[str, ...] = ()

    @classmethod
    def from_contact(cls, contact: Contact) -> "ContactDraft":
        values = {f.name: getattr(contact, f.name) for f in fields(cls)}
        values["roles"] = tuple(contact.roles or ())
        return cls(**values)


def _check_roles(config: Config, roles: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(roles))
    unknown = [r for r in chosen if r not in config.contact_roles]
    if unknown:
        raise FieldError(
            _("Unknown contact role {roles}; choose from {known}.").format(
                roles=", ".join(quoted(r) for r in unknown[:3]),
                known=", ".join(config.contact_roles)
            )
        )
    return chosen


def validate_contact(
    config: Config, draft: ContactDraft, region: str | None, errors: Errors, prefix: str = ""
) -> dict:
    """Clean a contact draft into column values, recording problems under ``prefix + field``."""
    values = {
        "name": errors.check(prefix + "name", clean_text, draft.name,
                             limit=LIMITS["name"], required=True),
        "email": errors.check(prefix + "email", normalize_email, draft.email),
        "phone": errors.check(prefix + "phone", normalize_phone, draft.phone, region),
        "job_title": errors.check(prefix + "job_title", clean_text, draft.job_title,
                                  limit=LIMITS["job_title"]),
        "roles": errors.check(prefix + "roles", _check_roles, config, draft.roles),
    }
    if values["phone"]:
        values["search_digits"] = digit_suffixes(values["phone"])
    else:
        values["search_digits"] = ""
    return values


def _customer(customer_id: int) -> Customer:
    customer = Customer.get_or_none(Customer.id == customer_id)
    if customer is None:
        raise NotFound(_("customer"), customer_id)
    return customer


def _contact(contact_id: int) -> Contact:
    contact = Contact.get_or_none(Contact.id == contact_id)
    if contact is None:
        raise NotFound(_("contact"), contact_id)
    return contact


def list_contacts(ctx: Context, customer_id: int) -> list[Contact]:
    require(ctx.actor, "contact.view")
    return list(
        Contact.select().where(Contact.customer == customer_id).order_by(Contact.name, Contact.id)
    )


def add_contact(ctx: Context, customer_id: int, draft: ContactDraft) -> Contact:
    with write(ctx, "contact.edit"):
        customer = _customer(customer_id)
        errors = Errors()
        values = validate_contact(ctx.config, draft, customer.billing_country, errors)
        errors.raise_if_any()
        contact = Contact.create(customer=customer, **values)
        audit(ctx, "create", "contact", contact.id, after=snapshot(contact),
              customer_id=customer.id)
        refresh_customer_copies(ctx, [customer.id])  # it may be the estimates' main contact
        return contact


def update_contact(
    ctx: Context, contact_id: int, expected_version: int, draft: ContactDraft
) -> Contact:
    with write(ctx, "contact.edit"):
        contact = _contact(contact_id)
        errors = Errors()
        values = validate_contact(ctx.config, draft, contact.customer.billing_country, errors)
        errors.raise_if_any()
        before = snapshot(contact)
        versioned_update(ctx, Contact, contact_id, expected_version, values, _("contact"), before)
        contact = _contact(contact_id)
        audit(ctx, "update", "contact", contact.id, before=before,
              after=changed_fields(before, snapshot(contact)), customer_id=contact.customer_id)
        refresh_customer_copies(ctx, [contact.customer_id])
        return contact


def contact_delete_impact(ctx: Context, contact_ids: Iterable[int]) -> list[ContactUse]:
    """The project places that deleting these contacts would empty, so a screen can ask
    first ("Camille Martin is the billing contact of Pont de Lyon: delete anyway?")."""
    require(ctx.actor, "contact.view")
    return contact_uses(contact_ids)


def delete_contacts(ctx: Context, contact_ids: Iterable[int]) -> int:
    """Delete several contacts at once (a multi-selection in the Contacts tab).

    Projects naming them lose them (see ``contact_delete_impact``), and the estimates'
    copy of the main contact is refreshed, in the same transaction.
    """
    with write(ctx, "contact.edit"):
        ids = list(dict.fromkeys(contact_ids))
        contacts = list(Contact.select().where(Contact.id.in_(ids)))
        missing = set(ids) - {c.id for c in contacts}
        if missing:
            raise NotFound(_("contact"), min(missing))
        clear_contacts(ctx, ids)
        for contact in contacts:
            audit(ctx, "delete", "contact", contact.id, before=snapshot(contact),
                  customer_id=contact.customer_id)
            contact.delete_instance()
        refresh_customer_copies(ctx, {contact.customer_id for contact in contacts})
        return len(contacts)
