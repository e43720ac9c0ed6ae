"""Projects: contacts from the customer's, closed projects refuse changes until reopened,
the state filter, who may change what, and contact deletion clearing project places."""

from __future__ import annotations

from datetime import date

import pytest

from tests.conftest import ContactDraft
from tui.domain.errors import Conflict, PermissionDenied, ValidationError
from tui.domain.models import AuditEvent, Project
from tui.domain.services import contacts as contact_service
from tui.domain.services import customers as customer_service
from tui.domain.services.projects import (
    ProjectClosed,
    ProjectDraft,
    close_project,
    contacts_for_project,
    create_project,
    delete_project,
    get_project,
    list_projects,
    reopen_project,
    update_project,
)

pytestmark = pytest.mark.both_backends


@pytest.fixture
def site(make_customer):
    customer = make_customer("Granit Byg A/S", currency="DKK", contacts=(
        ContactDraft(name="Mette Bid", roles=("submission",)),
        ContactDraft(name="Lars Money", roles=("billing",)),
        ContactDraft(name="Søren Site", roles=("execution", "notify"))))
    return customer


def contacts_of(admin, customer) -> dict:
    return {c.name: c.id for c in contact_service.list_contacts(admin, customer.id)}


def full_draft(admin, customer, **changes) -> ProjectDraft:
    ids = contacts_of(admin, customer)
    values = dict(name="Harbour bridge", submission_deadline="2026-04-01",
                  starts_on=date(2026, 5, 1), ends_on="2026-09-30", budget="1.250.000,00",
                  submission_contact_id=ids["Mette Bid"], billing_contact_id=ids["Lars Money"],
                  execution_contact_id=ids["Søren Site"])
    return ProjectDraft(**(values | changes))


def test_a_project_holds_dates_budget_and_three_of_the_customers_contacts(admin, site):
    project = create_project(admin, site.id, full_draft(admin, site))
    ids = contacts_of(admin, site)
    assert (project.state, project.currency, project.budget_minor) == ("open", "DKK", 125000000)
    assert (project.submission_deadline, project.starts_on, project.ends_on) == (
        date(2026, 4, 1), date(2026, 5, 1), date(2026, 9, 30))
    assert (project.submission_contact_id, project.billing_contact_id,
            project.execution_contact_id) == (ids["Mette Bid"], ids["Lars Money"],
                                              ids["Søren Site"])
    [row] = list_projects(admin).rows
    assert (row.customer_name, row.submission_contact, row.billing_contact,
            row.execution_contact) == ("Granit Byg A/S", "Mette Bid", "Lars Money", "Søren Site")
    assert ProjectDraft.from_project(project).budget == "1250000.00"


def test_contact_choices_put_the_matching_role_first(admin, site):
    choices = contacts_for_project(admin, site.id, "billing_contact")
    assert [(c.name, c.has_role) for c in choices] == [
        ("Lars Money", True), ("Mette Bid", False), ("Søren Site", False)]
    with pytest.raises(KeyError):
        contacts_for_project(admin, site.id, "boss_contact")


def test_only_the_customers_own_contacts_and_sane_dates_are_accepted(admin, site, make_customer):
    stranger = make_customer("Other ApS", contacts=(ContactDraft(name="Not Ours"),))
    theirs = contacts_of(admin, stranger)["Not Ours"]
    with pytest.raises(ValidationError) as caught:
        create_project(admin, site.id, full_draft(
            admin, site, name="", billing_contact_id=theirs, starts_on="2026-10-01",
            submission_deadline="next week", budget="-5"))
    assert set(caught.value.errors) == {"name", "billing_contact_id", "ends_on",
                                        "submission_deadline", "budget"}
    assert "not a contact of Granit Byg A/S" in caught.value.errors["billing_contact_id"]
    assert Project.select().count() == 0
    bare = create_project(admin, site.id, ProjectDraft(name="Just a name"))
    assert bare.budget_minor is None and bare.billing_contact_id is None


def test_a_closed_project_refuses_changes_until_reopened(admin, site):
    project = create_project(admin, site.id, full_draft(admin, site))
    closed = close_project(admin, project.id, project.version)
    assert closed.state == "closed" and closed.closed_by == "boss"
    draft = full_draft(admin, site, budget="2000000")
    with pytest.raises(ProjectClosed, match="Harbour bridge is closed: reopen it"):
        update_project(admin, project.id, closed.version, draft)
    with pytest.raises(ProjectClosed, match="already closed"):
        close_project(admin, project.id, closed.version)
    with pytest.raises(ProjectClosed):
        delete_project(admin, project.id, closed.version)
    assert get_project(admin, project.id).budget_minor == 125000000
    opened = reopen_project(admin, project.id, closed.version)
    assert opened.state == "open" and opened.closed_at is None and opened.closed_by is None
    with pytest.raises(ValidationError, match="already open"):
        reopen_project(admin, project.id, opened.version)
    changed = update_project(admin, project.id, opened.version, draft)
    assert changed.budget_minor == 200000000
    actions = [a.action for a in AuditEvent.select().where(AuditEvent.entity == "project")
               .order_by(AuditEvent.id)]
    assert actions == ["create", "close", "reopen", "update"]


def test_a_stale_version_is_refused(admin, site):
    project = create_project(admin, site.id, ProjectDraft(name="One"))
    update_project(admin, project.id, project.version, ProjectDraft(name="Two"))
    with pytest.raises(Conflict):
        update_project(admin, project.id, project.version, ProjectDraft(name="Three"))
    with pytest.raises(Conflict):
        close_project(admin, project.id, project.version)


def test_the_list_filters_by_state_open_by_default(admin, site, make_customer):
    other = make_customer("Fjord Anlæg ApS")
    first = create_project(admin, site.id, ProjectDraft(name="Quay",
                                                        submission_deadline="2026-06-01"))
    create_project(admin, site.id, ProjectDraft(name="Tunnel", submission_deadline="2026-02-01"))
    create_project(admin, other.id, ProjectDraft(name="Depot"))
    close_project(admin, first.id, first.version)
    assert [r.name for r in list_projects(admin).rows] == ["Tunnel", "Depot"]
    assert [r.name for r in list_projects(admin, "closed").rows] == ["Quay"]
    assert [r.name for r in list_projects(admin, None).rows] == ["Tunnel", "Quay", "Depot"]
    assert [r.name for r in list_projects(admin, None, customer_id=other.id).rows] == ["Depot"]
    assert [r.name for r in list_projects(admin, None, search="fjord").rows] == ["Depot"]
    page = list_projects(admin, None, limit=1, offset=1)
    assert page.total == 3 and [r.name for r in page.rows] == ["Quay"]
    with pytest.raises(ValidationError, match="Unknown state"):
        list_projects(admin, "archived")


@pytest.mark.parametrize("typed", ["fjord\x00", "\x00", "dep\x00ot", "fjord\x1b[2J"])
def test_control_characters_in_the_search_separate_words_and_never_fail(admin, site,
                                                                          make_customer, typed):
    """No stored name holds one (validation); PostgreSQL refuses a NUL in any parameter."""
    create_project(admin, make_customer("Fjord Anlæg ApS").id, ProjectDraft(name="Depot"))
    create_project(admin, site.id, ProjectDraft(name="Tunnel"))
    expected = {"fjord\x00": ["Depot"], "\x00": ["Depot", "Tunnel"], "dep\x00ot": ["Depot"],
                "fjord\x1b[2J": []}[typed]
    assert [r.name for r in list_projects(admin, None, search=typed).rows] == expected


@pytest.mark.parametrize("role", ["limited", "estimator", "fleet_administrator"])
def test_viewers_see_projects_but_cannot_change_them(as_role, admin, site, role):
    project = create_project(admin, site.id, full_draft(admin, site))
    viewer = as_role(role)
    assert [r.id for r in list_projects(viewer).rows] == [project.id]
    assert contacts_for_project(viewer, site.id, "submission_contact")
    for attempt in (lambda: create_project(viewer, site.id, ProjectDraft(name="Mine")),
                    lambda: update_project(viewer, project.id, project.version,
                                           ProjectDraft(name="Mine")),
                    lambda: close_project(viewer, project.id, project.version),
                    lambda: delete_project(viewer, project.id)):
        with pytest.raises(PermissionDenied, match="change projects"):
            attempt()
    assert get_project(admin, project.id).version == project.version


def test_the_account_owner_may_change_projects(as_role, site, admin):
    owner = as_role("account_owner")
    project = create_project(owner, site.id, ProjectDraft(name="Owned"))
    closed = close_project(owner, project.id, project.version)
    assert reopen_project(owner, closed.id, closed.version).state == "open"


def test_deleting_a_contact_a_project_uses_says_so_then_clears_it(admin, site):
    project = create_project(admin, site.id, full_draft(admin, site))
    closed_one = create_project(admin, site.id, full_draft(admin, site, name="Old depot"))
    close_project(admin, closed_one.id, closed_one.version)
    lars = contacts_of(admin, site)["Lars Money"]
    uses = contact_service.contact_delete_impact(admin, [lars])
    assert sorted((u.project_name, u.place, u.contact_name, u.project_closed) for u in uses) == [
        ("Harbour bridge", "billing_contact", "Lars Money", False),
        ("Old depot", "billing_contact", "Lars Money", True)]
    assert contact_service.contact_delete_impact(admin, [contacts_of(admin, site)["Mette Bid"]])
    contact_service.delete_contacts(admin, [lars])
    for kept in (project, closed_one):
        fresh = Project.get_by_id(kept.id)
        assert fresh.billing_contact_id is None
        assert fresh.submission_contact_id is not None and fresh.version > kept.version
    cleared = AuditEvent.select().where(AuditEvent.entity == "project",
                                        AuditEvent.action == "update")
    assert {a.entity_id for a in cleared} == {project.id, closed_one.id}
    assert all(a.after["billing_contact_id"] is None for a in cleared)


def test_a_contact_in_no_project_has_nothing_to_clear(admin, site):
    create_project(admin, site.id, ProjectDraft(name="Empty"))
    assert contact_service.contact_delete_impact(admin, contacts_of(admin, site).values()) == []


def test_deleting_the_customer_deletes_its_projects(admin, site):
    create_project(admin, site.id, full_draft(admin, site))
    assert customer_service.delete_impact(admin, site.id).projects_deleted == 1
    impact = customer_service.delete_customer(admin, site.id)
    assert impact.projects_deleted == 1 and Project.select().count() == 0
    record = AuditEvent.get(AuditEvent.entity == "customer", AuditEvent.action == "delete")
    assert [p["name"] for p in record.before["projects"]] == ["Harbour bridge"]
