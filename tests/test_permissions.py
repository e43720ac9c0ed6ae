"""Every role against every mutating action: allowed ones work, denied ones change nothing."""

from __future__ import annotations

import dataclasses

import pytest

from tui.domain.errors import PermissionDenied
from tui.domain.models import AuditEvent
from tui.domain.services import contacts, customers, documents, equipment, users
from tui.domain.services.contacts import ContactDraft
from tui.domain.services.customers import CustomerDraft
from tui.domain.services.equipment import EquipmentDraft

pytestmark = pytest.mark.both_backends

ROLES = ["administrator", "fleet_administrator", "account_owner", "estimator", "limited"]


@pytest.fixture
def world(admin, make_customer, make_machine, tmp_path):
    """One of everything, made by the administrator, for the other roles to act on."""
    customer = make_customer("Target A/S")
    contact = contacts.add_contact(admin, customer.id, ContactDraft(name="Kim"))
    held, free = make_machine("HELD-1"), make_machine("FREE-1")
    equipment.assign_equipment(admin, customer.id, [held.id])
    paper = tmp_path / "paper.txt"
    paper.write_text("terms")
    document = documents.add_document(admin, customer.id, "Terms", "contract", paper)
    users.add_user(admin, "someone", "limited")
    return dataclasses.make_dataclass("World", ["customer", "contact", "held", "free", "paper",
                                                "document"])(
        customer, contact, held, free, paper, document)


# action name -> (permission it needs, how to do it)
ACTIONS = {
    "create customer": ("customer.create",
                        lambda c, w: customers.create_customer(c, CustomerDraft(name="New Co"))),
    "edit customer": ("customer.edit", lambda c, w: customers.update_customer(
        c, w.customer.id, 1, CustomerDraft(name="Renamed", billing_country="DK"))),
    "delete customer": ("customer.delete", lambda c, w: customers.delete_customer(c, w.customer.id)),
    "add contact": ("contact.edit",
                    lambda c, w: contacts.add_contact(c, w.customer.id, ContactDraft(name="New"))),
    "edit contact": ("contact.edit", lambda c, w: contacts.update_contact(
        c, w.contact.id, 1, ContactDraft(name="Kim Larsen"))),
    "delete contacts": ("contact.edit", lambda c, w: contacts.delete_contacts(c, [w.contact.id])),
    "add machine": ("equipment.edit",
                    lambda c, w: equipment.add_equipment(c, EquipmentDraft(serial="NEW-1"))),
    "edit machine": ("equipment.edit", lambda c, w: equipment.update_equipment(
        c, w.free.id, 1, EquipmentDraft(serial="FREE-1", name="Renamed"))),
    "assign machine": ("equipment.assign",
                       lambda c, w: equipment.assign_equipment(c, w.customer.id, [w.free.id])),
    "unassign machine": ("equipment.assign",
                         lambda c, w: equipment.unassign_equipment(c, [w.held.id])),
    "add document": ("document.edit", lambda c, w: documents.add_document(
        c, w.customer.id, "Insurance", "insurance", w.paper)),
    "edit document": ("document.edit", lambda c, w: documents.update_document(
        c, w.document.id, 1, title="Terms v2", kind="contract", reminder_on=None)),
    "delete document": ("document.edit", lambda c, w: documents.delete_document(c, w.document.id)),
    "add user": ("user.manage", lambda c, w: users.add_user(c, "newbie", "limited")),
    "set role": ("user.manage", lambda c, w: users.set_role(c, "someone", "estimator")),
    "disable user": ("user.manage", lambda c, w: users.disable_user(c, "someone")),
    "enable user": ("user.manage", lambda c, w: users.enable_user(c, "someone")),
}

# What the product says each seed role may do (product.md C1, D2, R3), written out
# independently of the YAML so a wrong grant in the shipped file fails here.
CUSTOMER_WORK = {"create customer", "edit customer", "delete customer", "add contact",
                 "edit contact", "delete contacts", "add document", "edit document",
                 "delete document"}
FLEET_WORK = {"add machine", "edit machine", "assign machine", "unassign machine"}
USER_WORK = {"add user", "set role", "disable user", "enable user"}
EXPECTED = {
    "administrator": CUSTOMER_WORK | FLEET_WORK | USER_WORK,
    "fleet_administrator": CUSTOMER_WORK | FLEET_WORK,
    "account_owner": CUSTOMER_WORK,
    "estimator": set(),
    "limited": set(),
}


def test_expectations_cover_every_action():
    assert CUSTOMER_WORK | FLEET_WORK | USER_WORK == set(ACTIONS)


@pytest.mark.parametrize("action", list(ACTIONS))
@pytest.mark.parametrize("role", ROLES)
def test_role_may_or_may_not(role, action, world, as_role):
    permission, perform = ACTIONS[action]
    ctx = as_role(role, f"{role}-login")
    events_before = AuditEvent.select().count()
    if action in EXPECTED[role]:
        perform(ctx, world)
        assert AuditEvent.select().count() > events_before
        latest = AuditEvent.select().order_by(AuditEvent.id.desc()).first()
        assert latest.login == f"{role}-login"
    else:
        with pytest.raises(PermissionDenied) as caught:
            perform(ctx, world)
        assert caught.value.permission == permission
        assert f"{role}-login" in str(caught.value)
        assert AuditEvent.select().count() == events_before


def test_shipped_roles_match_the_product(config):
    for role, allowed in EXPECTED.items():
        granted = config.roles[role].permissions
        for action, (permission, _perform) in ACTIONS.items():
            assert (permission in granted) == (action in allowed), (role, action)


@pytest.mark.parametrize("role", ROLES)
def test_everyone_may_read_customers_and_contacts(role, world, as_role):
    ctx = as_role(role)
    assert customers.get_customer(ctx, world.customer.id).name == "Target A/S"
    assert [c.name for c in contacts.list_contacts(ctx, world.customer.id)] == ["Kim"]


def test_limited_reads_documents_but_estimator_does_not(world, as_role):
    assert [d.title for d in documents.list_documents(as_role("limited"), world.customer.id)] == [
        "Terms"]
    with pytest.raises(PermissionDenied):
        documents.list_documents(as_role("estimator"), world.customer.id)


def test_contacts_at_creation_need_the_contact_permission(world, as_role, config):
    """A role that may create customers but not contacts cannot sneak contacts in."""
    from tui.domain.context import Actor, Context

    base = as_role("account_owner")
    narrow = Actor("narrow", "custom", base.actor.permissions - {"contact.edit"})
    ctx = Context(base.db, config, narrow)
    with pytest.raises(PermissionDenied):
        customers.create_customer(ctx, CustomerDraft(name="X", contacts=(ContactDraft(name="Y"),)))
    customers.create_customer(ctx, CustomerDraft(name="X"))


def test_new_groups_need_the_group_permission(world, as_role, config):
    from tui.domain.context import Actor, Context
    from tui.domain.errors import ValidationError

    base = as_role("account_owner")
    ctx = Context(base.db, config, Actor("nogroups", "custom",
                                         base.actor.permissions - {"group.edit"}))
    with pytest.raises(ValidationError, match="may not create groups"):
        customers.create_customer(ctx, CustomerDraft(name="X", groups=("Brand new",)))
    customers.create_customer(as_role("account_owner"), CustomerDraft(name="Y",
                                                                      groups=("Brand new",)))
    customers.create_customer(ctx, CustomerDraft(name="Z", groups=("brand NEW",)))


def test_require_any_needs_one_of_them_and_names_the_first():
    from tui.domain.context import Actor
    from tui.domain.permissions import require, require_any

    clerk = Actor("clerk", "custom", frozenset({"contact.edit"}))
    require_any(clerk, "customer.edit", "contact.edit")  # one is enough
    with pytest.raises(PermissionDenied) as caught:
        require_any(clerk, "customer.edit", "customer.create")
    assert caught.value.permission == "customer.edit" and "clerk" in str(caught.value)
    with pytest.raises(PermissionDenied):
        require(clerk, "customer.edit")
    for mistaken in (("contact.edit", "contact.edti"), ()):  # a programming error, loudly
        with pytest.raises(KeyError):
            require_any(clerk, *mistaken)
