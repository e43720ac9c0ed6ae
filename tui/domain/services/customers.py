"""Customers: creation with contacts in one step, editing with optimistic locking, deletion."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import TypeVar

from tui.domain.config import Config
from tui.domain.context import Context
from tui.domain.errors import Conflict, DuplicateWarning, NotFound, ValidationError
from tui.domain.models import (
    AdminDocument,
    Assignment,
    Contact,
    Customer,
    CustomerGroup,
    GroupMembership,
    utcnow,
)
from tui.domain.permissions import require
from tui.domain.services._base import audit, changed_fields, snapshot, versioned_update, write
from tui.domain.services.contacts import ContactDraft, validate_contact
from tui.domain.services.estimates import (
    count_for_customer,
    refresh_customer_copies,
    unlink_customer,
)
from tui.domain.services.projects import count_projects, delete_customer_projects
from tui.domain.services.outbox import enqueue
from tui.domain.validation import (
    LIMITS,
    Errors,
    FieldError,
    clean_text,
    digit_suffixes,
    email_key,
    name_key,
    normalize_country,
    normalize_currency,
    normalize_email,
    normalize_language,
    normalize_phone,
    normalize_state,
    normalize_website,
    quoted,
    website_key,
)
from tui.i18n import _, ngettext

ADDRESS_PARTS = ("street", "postal_code", "city", "country", "state")
ContactT = TypeVar("ContactT", ContactDraft, Contact)


@dataclass(frozen=True)
class CustomerDraft:
    """Everything a customer form holds, as typed; the service validates and normalises it."""

    name: str = ""
    phone: str = ""
    email: str = ""
    website: str = ""
    billing_street: str = ""
    billing_postal_code: str = ""
    billing_city: str = ""
    billing_country: str = ""
    billing_state: str = ""
    shipping_same_as_billing: bool = True
    shipping_street: str = ""
    shipping_postal_code: str = ""
    shipping_city: str = ""
    shipping_country: str = ""
    shipping_state: str = ""
    segment: str = ""  # empty: the configured default ("other")
    currency: str = ""  # empty: the configured default
    language: str = ""  # empty: the configured default
    notify_event_types: tuple[str, ...] | None = None  # None: every event type
    notes: str = ""
    groups: tuple[str, ...] = ()
    contacts: tuple[ContactDraft, ...] = field(default=())  # used by create only

    @classmethod
    def from_customer(cls, customer: Customer) -> "CustomerDraft":
        skip = {"groups", "contacts", "notify_event_types"}
        values = {f.name: getattr(customer, f.name) for f in fields(cls) if f.name not in skip}
        values = {k: ("" if v is None else v) for k, v in values.items()}
        values["notify_event_types"] = tuple(customer.notify_event_types or ())
        values["groups"] = tuple(group_names(customer.id))
        return cls(**values)


@dataclass(frozen=True)
class DeleteImpact:
    """What deleting a customer does, for the confirmation to state."""

    machines_unassigned: int
    contacts_deleted: int
    documents_deleted: int
    estimates_unlinked: int = 0  # they keep their copy of the customer's details (C10, P2)
    projects_deleted: int = 0


def _choice(value: str, choices, default: str, what: str) -> str:
    value = (value or "").strip() or default
    if value not in choices:
        raise FieldError(
            _("Unknown {what} {value}; choose from {known}.").format(
                what=what, value=quoted(value), known=", ".join(choices)
            )
        )
    return value


def _event_types(config: Config, chosen: tuple[str, ...] | None) -> list[str]:
    if chosen is None:
        return list(config.event_types)
    unknown = [t for t in chosen if t not in config.event_types]
    if unknown:
        raise FieldError(
            _("Unknown event type {types}; choose from {known}.").format(
                types=", ".join(quoted(t) for t in unknown[:3]),
                known=", ".join(config.event_types)
            )
        )
    return list(dict.fromkeys(chosen))


def _address(draft: CustomerDraft, prefix: str, default_country: str | None, errors: Errors) -> dict:
    country = errors.check(prefix + "country", normalize_country,
                           getattr(draft, prefix + "country")) or default_country
    return {
        prefix + "street": errors.check(prefix + "street", clean_text,
                                        getattr(draft, prefix + "street"), limit=LIMITS["street"]),
        prefix + "postal_code": errors.check(prefix + "postal_code", clean_text,
                                             getattr(draft, prefix + "postal_code"),
                                             limit=LIMITS["postal_code"]),
        prefix + "city": errors.check(prefix + "city", clean_text, getattr(draft, prefix + "city"),
                                      limit=LIMITS["city"]),
        prefix + "country": country,
        prefix + "state": errors.check(prefix + "state", normalize_state, country,
                                       getattr(draft, prefix + "state")),
    }


def validate_customer(config: Config, draft: CustomerDraft) -> tuple[dict, list[str], list[dict]]:
    """Clean a draft into (column values, group names, contact values); raise every error at once."""
    errors = Errors()
    values = {"name": errors.check("name", clean_text, draft.name, limit=LIMITS["name"],
                                   required=True)}
    values.update(_address(draft, "billing_", config.defaults.country, errors))
    values["shipping_same_as_billing"] = bool(draft.shipping_same_as_billing)
    if draft.shipping_same_as_billing:
        values.update({f"shipping_{p}": values[f"billing_{p}"] for p in ADDRESS_PARTS})
    else:
        values.update(_address(draft, "shipping_", values["billing_country"], errors))
    region = values["billing_country"]
    values["phone"] = errors.check("phone", normalize_phone, draft.phone, region)
    values["email"] = errors.check("email", normalize_email, draft.email)
    values["website"] = errors.check("website", normalize_website, draft.website)
    values["segment"] = errors.check("segment", _choice, draft.segment, config.segments,
                                     config.default_segment, _("segment"))
    values["currency"] = errors.check("currency", normalize_currency,
                                      draft.currency or config.defaults.currency)
    values["language"] = errors.check("language", normalize_language,
                                      draft.language or config.defaults.language)
    values["notify_event_types"] = errors.check("notify_event_types", _event_types, config,
                                                draft.notify_event_types)
    values["notes"] = errors.check("notes", clean_text, draft.notes, limit=LIMITS["notes"],
                                   multiline=True)
    groups = [errors.check("groups", clean_text, g, limit=LIMITS["group"], required=True)
              for g in draft.groups]
    contacts = [validate_contact(config, c, region, errors, prefix=f"contacts[{i}].")
                for i, c in enumerate(draft.contacts)]
    errors.raise_if_any()
    values["name_key"] = name_key(values["name"])
    values["email_key"] = email_key(values["email"])
    values["website_key"] = website_key(values["website"])
    values["search_digits"] = digit_suffixes(values["phone"]) if values["phone"] else ""
    return values, list(dict.fromkeys(groups)), contacts


def find_duplicates(values: dict, exclude_id: int | None = None) -> list[tuple[int, str, str]]:
    """Customers that look like the same company: same folded name, e-mail, phone or website."""
    probes = [(Customer.name_key, values["name_key"], _("same name")),
              (Customer.email_key, values["email_key"], _("same e-mail")),
              (Customer.phone, values["phone"], _("same phone")),
              (Customer.website_key, values["website_key"], _("same website"))]
    found: dict[int, tuple[int, str, str]] = {}
    for column, value, reason in probes:
        if not value:
            continue
        query = Customer.select(Customer.id, Customer.name).where(column == value)
        if exclude_id is not None:
            query = query.where(Customer.id != exclude_id)
        for customer in query.limit(5):
            found.setdefault(customer.id, (customer.id, customer.name, reason))
    return list(found.values())


def _get(customer_id: int) -> Customer:
    customer = Customer.get_or_none(Customer.id == customer_id)
    if customer is None:
        raise NotFound(_("customer"), customer_id)
    return customer


def get_customer(ctx: Context, customer_id: int) -> Customer:
    require(ctx.actor, "customer.view")
    return _get(customer_id)


def group_names(customer_id: int) -> list[str]:
    query = (CustomerGroup.select(CustomerGroup.name).join(GroupMembership)
             .where(GroupMembership.customer == customer_id).order_by(CustomerGroup.name))
    return [g.name for g in query]


def list_groups(ctx: Context) -> list[str]:
    require(ctx.actor, "customer.view")
    return [g.name for g in CustomerGroup.select().order_by(CustomerGroup.name)]


def _set_groups(ctx: Context, customer: Customer, names: list[str]) -> None:
    existing = {g.name.casefold(): g for g in CustomerGroup.select()}
    groups = []
    for name in names:
        group = existing.get(name.casefold())
        if group is None:
            if not ctx.actor.can("group.edit"):
                raise ValidationError({"groups": _("There is no group {name}, and you may not "
                                                   "create groups.").format(name=name)})
            group = CustomerGroup.create(name=name)
            existing[name.casefold()] = group
            audit(ctx, "create", "group", group.id, after=snapshot(group))
        groups.append(group)
    GroupMembership.delete().where(GroupMembership.customer == customer.id).execute()
    for group in groups:
        GroupMembership.insert(customer=customer.id, group=group.id).on_conflict_ignore().execute()


def welcome_recipients(contacts: Iterable[ContactT]) -> list[ContactT]:
    """The contacts (drafts or stored) a welcome e-mail goes to: those with an address (C12)."""
    return [contact for contact in contacts if (contact.email or "").strip()]


def create_customer(ctx: Context, draft: CustomerDraft, *, allow_duplicate: bool = False,
                    send_welcome: bool = False) -> Customer:
    """Store a customer and its contacts in one transaction (the wizard's Save).

    With ``send_welcome``, a welcome e-mail to each contact with an address is
    queued in the outbox in the same transaction, in the customer's language:
    if anything fails, neither the customer nor its messages are stored.
    """
    return _create(ctx, draft, "customer.create", allow_duplicate=allow_duplicate,
                   send_welcome=send_welcome)


def create_customer_in_estimate(ctx: Context, draft: CustomerDraft, *,
                                allow_duplicate: bool = False,
                                send_welcome: bool = False) -> Customer:
    """A new customer added from an estimate's customer picker (P1, C1).

    The only way the estimator role creates customers: it needs ``estimate.edit`` and
    ``customer.create_in_estimate`` (``customer.create`` also does). The contacts typed in
    that flow are stored with the customer without ``contact.edit``: the estimate takes
    its main contact from them, and they are part of the customer being created. The
    audit record says the customer was created from an estimate.
    """
    require(ctx.actor, "estimate.edit")
    if ctx.actor.can("customer.create"):
        return _create(ctx, draft, "customer.create", allow_duplicate=allow_duplicate,
                       send_welcome=send_welcome, from_estimate=True)
    return _create(ctx, draft, "customer.create_in_estimate", allow_duplicate=allow_duplicate,
                   send_welcome=send_welcome, from_estimate=True)


def _create(ctx: Context, draft: CustomerDraft, permission: str, *, allow_duplicate: bool,
            send_welcome: bool, from_estimate: bool = False) -> Customer:
    with write(ctx, permission):
        values, groups, contacts = validate_customer(ctx.config, draft)
        if contacts and not from_estimate:
            require(ctx.actor, "contact.edit")
        if not allow_duplicate:
            duplicates = find_duplicates(values)
            if duplicates:
                raise DuplicateWarning(duplicates)
        login = ctx.actor.login
        customer = Customer.create(**values, created_by=login, updated_by=login)
        _set_groups(ctx, customer, groups)
        stored = [Contact.create(customer=customer, **c) for c in contacts]
        welcomed = welcome_recipients(stored) if send_welcome else []
        for contact in welcomed:
            enqueue(ctx, kind="welcome", customer=customer, contact=contact, values={})
        after = snapshot(customer)
        after["groups"] = groups
        after["contacts"] = [snapshot(c) for c in stored]
        if send_welcome:
            after["welcome_emails_to"] = [contact.id for contact in welcomed]
        if from_estimate:
            after["created_in_estimate"] = True
        audit(ctx, "create", "customer", customer.id, after=after, customer_id=customer.id)
        return customer


def update_customer(
    ctx: Context, customer_id: int, expected_version: int, draft: CustomerDraft,
    *, allow_duplicate: bool = False,
) -> Customer:
    """Save an edit made on version ``expected_version``; refuse if someone saved since.

    The copy of the customer's details on its estimates is refreshed in the same
    transaction (P2). Its currency cannot change once it has estimates (C6).
    """
    with write(ctx, "customer.edit"):
        current = _get(customer_id)
        if current.version != expected_version:
            raise Conflict(_("customer"), customer_id, snapshot(current))
        locked = currency_lock(ctx.config, current, draft.currency)
        try:
            values, groups, _contacts = validate_customer(ctx.config, draft)
        except ValidationError as error:
            if locked:
                raise ValidationError({**error.errors, "currency": locked}) from None
            raise
        if locked:
            raise ValidationError({"currency": locked})
        keys = ("name_key", "email_key", "phone", "website_key")
        if not allow_duplicate and any(values[k] != getattr(current, k) for k in keys):
            duplicates = find_duplicates(values, exclude_id=customer_id)
            if duplicates:
                raise DuplicateWarning(duplicates)
        before = snapshot(current)
        before["groups"] = group_names(customer_id)
        versioned_update(ctx, Customer, customer_id, expected_version, values, _("customer"),
                         before)
        customer = _get(customer_id)
        _set_groups(ctx, customer, groups)
        after = snapshot(customer)
        after["groups"] = groups
        audit(ctx, "update", "customer", customer_id, before=before,
              after=changed_fields(before, after), customer_id=customer_id)
        refresh_customer_copies(ctx, [customer_id])
        return customer


def currency_lock(config: Config, customer: Customer, wanted: str) -> str | None:
    """Why ``customer``'s currency may not become ``wanted`` (C6), or None when it may.

    Estimates are priced in the customer's currency: once it has any, changing the
    currency would change what their amounts mean. A form can call this to show the
    currency field read-only with the reason.
    """
    wanted = (wanted or config.defaults.currency or "").strip().upper()
    if wanted == customer.currency:
        return None
    count = count_for_customer(customer.id)
    if not count:
        return None
    return ngettext(
        "The currency stays {currency}: {name} has {count} estimate, priced in {currency}.",
        "The currency stays {currency}: {name} has {count} estimates, priced in {currency}.",
        count).format(currency=customer.currency, name=customer.name, count=count)


def delete_impact(ctx: Context, customer_id: int) -> DeleteImpact:
    require(ctx.actor, "customer.view")
    _get(customer_id)
    return DeleteImpact(
        machines_unassigned=Assignment.select().where(
            Assignment.customer_id == customer_id, Assignment.unassigned_at.is_null()).count(),
        contacts_deleted=Contact.select().where(Contact.customer == customer_id).count(),
        documents_deleted=AdminDocument.select().where(
            AdminDocument.customer == customer_id).count(),
        estimates_unlinked=count_for_customer(customer_id),
        projects_deleted=count_projects(customer_id),
    )


def delete_customer(ctx: Context, customer_id: int, expected_version: int | None = None) -> DeleteImpact:
    """Unassign its machines (history kept), delete contacts, documents and projects, then
    the customer. Its estimates keep their copy of its details but lose the link (C10, P2).

    The audit event keeps a full snapshot, so an administrator can see, and
    later restore, what was deleted. Stored document files are kept for that.
    """
    with write(ctx, "customer.delete"):
        customer = _get(customer_id)
        if expected_version is not None and customer.version != expected_version:
            raise Conflict(_("customer"), customer_id, snapshot(customer))
        now, login = utcnow(), ctx.actor.login
        open_assignments = list(Assignment.select().where(
            Assignment.customer_id == customer_id, Assignment.unassigned_at.is_null()))
        contacts = list(Contact.select().where(Contact.customer == customer_id))
        documents = list(AdminDocument.select().where(AdminDocument.customer == customer_id))
        before = snapshot(customer)
        before["groups"] = group_names(customer_id)
        before["contacts"] = [snapshot(c) for c in contacts]
        before["documents"] = [snapshot(d) for d in documents]
        before["unassigned_equipment"] = [a.equipment_id for a in open_assignments]
        before["projects"] = delete_customer_projects(ctx, customer_id)
        before["unlinked_estimates"] = unlink_customer(ctx, customer_id)
        (Assignment.update(unassigned_at=now, unassigned_by=login)
         .where(Assignment.customer_id == customer_id, Assignment.unassigned_at.is_null())
         .execute())
        Contact.delete().where(Contact.customer == customer_id).execute()
        AdminDocument.delete().where(AdminDocument.customer == customer_id).execute()
        GroupMembership.delete().where(GroupMembership.customer == customer_id).execute()
        customer.delete_instance()
        audit(ctx, "delete", "customer", customer_id, before=before, customer_id=customer_id)
        return DeleteImpact(len(open_assignments), len(contacts), len(documents),
                            len(before["unlinked_estimates"]), len(before["projects"]))
