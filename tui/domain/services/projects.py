"""Projects of a customer (construction seed): deadline, dates, budget, state, three contacts.

Rules kept here:

- Seeing projects needs ``project.view``; creating one, or changing its name, dates,
  budget, contacts or state, or deleting it, needs ``project.edit`` (in the shipped
  YAML: administrator and account owner; limited, estimator and fleet administrator
  only see them).
- A closed project takes no change (edit, delete, closing again) until it is reopened;
  every refusal raises ``ProjectClosed`` saying so.
- The three contacts are picked from the project's customer's contacts; any of them
  may fill any of the three places. ``contacts_for_project`` lists them with those
  holding the matching contact role (submission, billing, execution) first.
- Deleting a contact clears it from every project naming it, closed ones included
  (a project cannot point at a contact that no longer exists); ``contact_uses`` tells
  beforehand what would be cleared, so the screen can ask first.
- The budget is in whole minor units of the customer's currency when the project was
  made, as estimates are.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from tui.domain.context import Context
from tui.domain.errors import ClientbookError, Conflict, NotFound, ValidationError
from tui.domain.models import Contact, Customer, Project, utcnow
from tui.domain.permissions import require
from tui.domain.services._base import audit, changed_fields, snapshot, versioned_update, write
from tui.domain.services.estimates import minor_to_text, search_words, to_minor
from tui.domain.validation import LIMITS, Errors, FieldError, clean_text, quoted
from tui.i18n import _, pgettext

STATES = ("open", "closed")
# place on the project -> the contact role that fits it
CONTACT_PLACES: dict[str, str] = {"submission_contact": "submission",
                                  "billing_contact": "billing",
                                  "execution_contact": "execution"}


class ProjectClosed(ClientbookError):
    """A change was asked of a closed project; it must be reopened first."""

    def __init__(self, name: str, message: str | None = None):
        self.name = name
        super().__init__(message or _(
            "Project {name} is closed: reopen it before changing it.").format(name=name))


@dataclass(frozen=True)
class ProjectDraft:
    """What the project form holds; the budget in major units as typed ("25000")."""

    name: str = ""
    submission_deadline: date | str | None = None
    starts_on: date | str | None = None
    ends_on: date | str | None = None
    budget: str | int | Decimal | None = None  # None or "": no budget given
    submission_contact_id: int | None = None
    billing_contact_id: int | None = None
    execution_contact_id: int | None = None

    @classmethod
    def from_project(cls, project: Project) -> "ProjectDraft":
        budget = (None if project.budget_minor is None
                  else minor_to_text(project.budget_minor, project.currency))
        return cls(project.name, project.submission_deadline, project.starts_on,
                   project.ends_on, budget, project.submission_contact_id,
                   project.billing_contact_id, project.execution_contact_id)


@dataclass(frozen=True)
class ProjectRow:
    """One project as a list shows it; contact names are "" when the place is empty."""

    id: int
    customer_id: int
    customer_name: str
    name: str
    state: str
    submission_deadline: date | None
    starts_on: date | None
    ends_on: date | None
    budget_minor: int | None
    currency: str
    submission_contact: str
    billing_contact: str
    execution_contact: str
    version: int

    @property
    def closed(self) -> bool:
        return self.state == "closed"


@dataclass(frozen=True)
class ProjectPage:
    rows: list[ProjectRow]
    total: int
    offset: int


@dataclass(frozen=True)
class ContactChoice:
    id: int
    name: str
    has_role: bool  # holds the contact role matching the place (listed first)


@dataclass(frozen=True)
class ContactUse:
    """A project place that deleting ``contact_id`` would empty."""

    contact_id: int
    contact_name: str
    project_id: int
    project_name: str
    place: str  # submission_contact / billing_contact / execution_contact
    project_closed: bool


def state_label(state: str) -> str:
    if state == "open":
        return pgettext("project state", "Open")
    if state == "closed":
        return pgettext("project state", "Closed")
    return state


def place_label(place: str) -> str:
    return {"submission_contact": _("Submission contact"),
            "billing_contact": _("Billing contact"),
            "execution_contact": _("Execution contact")}.get(place, place)


# ------------------------------------------------------------------ helpers

def _get(project_id: int) -> Project:
    project = Project.get_or_none(Project.id == project_id)
    if project is None:
        raise NotFound(_("project"), project_id)
    return project


def _customer(customer_id: int) -> Customer:
    customer = Customer.get_or_none(Customer.id == customer_id)
    if customer is None:
        raise NotFound(_("customer"), customer_id)
    return customer


def _date(value: date | str | None) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise FieldError(_("Not a date (YYYY-MM-DD): {value}").format(
            value=quoted(value))) from None


def _budget(value: object, currency: str) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    minor = to_minor(value, currency)
    if minor < 0:
        raise FieldError(_("The budget cannot be negative."))
    return minor


def _contact(customer: Customer, contact_id: int | None) -> int | None:
    if contact_id is None:
        return None
    contact = Contact.get_or_none(Contact.id == contact_id)
    if contact is None or contact.customer_id != customer.id:
        raise FieldError(_("Contact #{id} is not a contact of {customer}.").format(
            id=contact_id, customer=customer.name))
    return contact.id


def _validate(draft: ProjectDraft, customer: Customer, currency: str) -> dict:
    errors = Errors()
    values = {
        "name": errors.check("name", clean_text, draft.name, limit=LIMITS["title"],
                             required=True),
        "submission_deadline": errors.check("submission_deadline", _date,
                                            draft.submission_deadline),
        "starts_on": errors.check("starts_on", _date, draft.starts_on),
        "ends_on": errors.check("ends_on", _date, draft.ends_on),
        "budget_minor": errors.check("budget", _budget, draft.budget, currency),
    }
    for place in CONTACT_PLACES:
        values[place] = errors.check(f"{place}_id", _contact, customer,
                                     getattr(draft, f"{place}_id"))
    if values["starts_on"] and values["ends_on"] and values["ends_on"] < values["starts_on"]:
        errors.add("ends_on", _("The end date is before the start date."))
    errors.raise_if_any()
    return values


def _refuse_if_closed(project: Project) -> None:
    if project.state == "closed":
        raise ProjectClosed(project.name)


def _check_version(project: Project, expected_version: int | None) -> None:
    if expected_version is not None and project.version != expected_version:
        raise Conflict(_("project"), project.name, snapshot(project))


# ------------------------------------------------------------------ reading

def get_project(ctx: Context, project_id: int) -> Project:
    require(ctx.actor, "project.view")
    return _get(project_id)


def list_projects(ctx: Context, state: str | None = "open", *, customer_id: int | None = None,
                  search: str | None = None, limit: int = 100, offset: int = 0) -> ProjectPage:
    """A page of projects, by submission deadline (those without one last), then name.

    ``state``: "open" (the default view), "closed", or None for both. ``search``: every
    word must appear, case-insensitively, in the project's or its customer's name.
    """
    require(ctx.actor, "project.view")
    if state is not None and state not in STATES:
        raise ValidationError({"state": _("Unknown state {value}; expected one of: "
                                          "{known}.").format(value=quoted(state),
                                                             known=", ".join(STATES))})
    query = Project.select(Project, Customer.name).join(Customer)
    if state is not None:
        query = query.where(Project.state == state)
    if customer_id is not None:
        query = query.where(Project.customer == customer_id)
    for word in search_words(search):
        query = query.where(Project.name.contains(word) | Customer.name.contains(word))
    total = query.count()
    page = list(query.order_by(Project.submission_deadline.is_null(),
                               Project.submission_deadline, Project.name, Project.id)
                .limit(max(0, limit)).offset(max(0, offset)))
    ids = {getattr(p, f"{place}_id") for p in page for place in CONTACT_PLACES} - {None}
    names = {c.id: c.name for c in Contact.select(Contact.id, Contact.name)
             .where(Contact.id.in_(list(ids)))} if ids else {}
    rows = [ProjectRow(p.id, p.customer_id, p.customer.name, p.name, p.state,
                       p.submission_deadline, p.starts_on, p.ends_on, p.budget_minor, p.currency,
                       *(names.get(getattr(p, f"{place}_id"), "") for place in CONTACT_PLACES),
                       p.version)
            for p in page]
    return ProjectPage(rows, total, offset)


def contacts_for_project(ctx: Context, customer_id: int, place: str) -> list[ContactChoice]:
    """The contacts that may fill ``place`` (e.g. "billing_contact"): all of the customer's,
    those holding the matching role first, then by name."""
    require(ctx.actor, "project.view")
    require(ctx.actor, "contact.view")
    if place not in CONTACT_PLACES:
        raise KeyError(place)
    role = CONTACT_PLACES[place]
    contacts = Contact.select().where(Contact.customer == customer_id)
    choices = [ContactChoice(c.id, c.name, role in (c.roles or ())) for c in contacts]
    return sorted(choices, key=lambda c: (not c.has_role, c.name.casefold(), c.id))


def count_projects(customer_id: int) -> int:
    return Project.select().where(Project.customer == customer_id).count()


def contact_uses(contact_ids: Iterable[int]) -> list[ContactUse]:
    """Every project place naming one of these contacts (what deleting them would clear)."""
    ids = list(set(contact_ids))
    if not ids:
        return []
    names = {c.id: c.name for c in Contact.select(Contact.id, Contact.name)
             .where(Contact.id.in_(ids))}
    uses = []
    for place in CONTACT_PLACES:
        column = getattr(Project, place)
        for project in Project.select().where(column.in_(ids)).order_by(Project.name):
            contact_id = getattr(project, f"{place}_id")
            uses.append(ContactUse(contact_id, names.get(contact_id, ""), project.id,
                                   project.name, place, project.state == "closed"))
    return uses


# ------------------------------------------------------------------ writing

def create_project(ctx: Context, customer_id: int, draft: ProjectDraft) -> Project:
    """A new open project of ``customer_id``, its budget in the customer's currency."""
    with write(ctx, "project.edit"):
        customer = _customer(customer_id)
        values = _validate(draft, customer, customer.currency)
        login = ctx.actor.login
        project = Project.create(customer=customer, currency=customer.currency,
                                 created_by=login, updated_by=login, **values)
        audit(ctx, "create", "project", project.id, after=snapshot(project),
              customer_id=customer.id)
        return project


def update_project(ctx: Context, project_id: int, expected_version: int,
                   draft: ProjectDraft) -> Project:
    """Change name, dates, budget and contacts of an open project."""
    with write(ctx, "project.edit"):
        project = _get(project_id)
        _refuse_if_closed(project)
        _check_version(project, expected_version)
        values = _validate(draft, _customer(project.customer_id), project.currency)
        before = snapshot(project)
        versioned_update(ctx, Project, project_id, expected_version, values, _("project"),
                         before)
        project = _get(project_id)
        audit(ctx, "update", "project", project_id, before=before,
              after=changed_fields(before, snapshot(project)), customer_id=project.customer_id)
        return project


def close_project(ctx: Context, project_id: int, expected_version: int) -> Project:
    with write(ctx, "project.edit"):
        project = _get(project_id)
        if project.state == "closed":
            raise ProjectClosed(project.name, _("Project {name} is already closed.").format(
                name=project.name))
        return _set_state(ctx, project, expected_version, "closed")


def reopen_project(ctx: Context, project_id: int, expected_version: int) -> Project:
    with write(ctx, "project.edit"):
        project = _get(project_id)
        if project.state == "open":
            raise ValidationError({"state": _("Project {name} is already open.").format(
                name=project.name)})
        return _set_state(ctx, project, expected_version, "open")


def _set_state(ctx: Context, project: Project, expected_version: int, state: str) -> Project:
    _check_version(project, expected_version)
    closing = state == "closed"
    values = {"state": state, "closed_at": utcnow() if closing else None,
              "closed_by": ctx.actor.login if closing else None}
    before = snapshot(project)
    versioned_update(ctx, Project, project.id, expected_version, values, _("project"), before)
    after = snapshot(_get(project.id))
    audit(ctx, "close" if closing else "reopen", "project", project.id, before=before,
          after=changed_fields(before, after), customer_id=project.customer_id)
    return _get(project.id)


def delete_project(ctx: Context, project_id: int, expected_version: int | None = None) -> None:
    """Delete an open project (a closed one must be reopened first)."""
    with write(ctx, "project.edit"):
        project = _get(project_id)
        _refuse_if_closed(project)
        _check_version(project, expected_version)
        audit(ctx, "delete", "project", project_id, before=snapshot(project),
              customer_id=project.customer_id)
        project.delete_instance()


# ------------------------------------------------------------------ hooks of other services

def delete_customer_projects(ctx: Context, customer_id: int) -> list[dict]:
    """Delete a customer's projects, closed ones too, as the customer goes (delete_customer's
    transaction, whose permission it takes); returns their snapshots for the customer's
    audit record."""
    require(ctx.actor, "customer.delete")
    projects = list(Project.select().where(Project.customer == customer_id))
    Project.delete().where(Project.customer == customer_id).execute()
    return [snapshot(p) for p in projects]


def clear_contacts(ctx: Context, contact_ids: Iterable[int]) -> list[ContactUse]:
    """Empty every project place naming these contacts, before they are deleted
    (delete_contacts's transaction, whose permission it takes). Each project changed gets
    a new version and an audit record."""
    require(ctx.actor, "contact.edit")
    uses = contact_uses(contact_ids)
    places: dict[int, list[str]] = {}
    for use in uses:
        places.setdefault(use.project_id, []).append(use.place)
    for project_id, emptied in places.items():
        before = snapshot(_get(project_id))
        (Project.update(**dict.fromkeys(emptied), version=Project.version + 1,
                        updated_at=utcnow(), updated_by=ctx.actor.login)
         .where(Project.id == project_id).execute())
        project = _get(project_id)
        audit(ctx, "update", "project", project_id, before=before,
              after=changed_fields(before, snapshot(project)), customer_id=project.customer_id)
    return uses
