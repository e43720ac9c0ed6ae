"""The audit trail read back (list_audit) and a deleted customer's restore, on a real file."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from tests.conftest import ContactDraft, CustomerDraft
from tui.domain.context import Actor, Context
from tui.domain.errors import DuplicateWarning, NotFound, PermissionDenied, ValidationError
from tui.domain.models import (
    AdminDocument,
    Assignment,
    AuditEvent,
    Contact,
    Customer,
    CustomerGroup,
    Estimate,
    Project,
)
from tui.domain.services.audit import (
    RESTORE_PERMISSIONS,
    RestoreRefused,
    audit_logins,
    deleted_customer_state,
    get_audit_event,
    list_audit,
    may_restore,
    parse_since,
    restore_customer,
)
from tui.domain.services.customers import (
    create_customer,
    delete_customer,
    get_customer,
    group_names,
    update_customer,
)
from tui.domain.services.contacts import update_contact
from tui.domain.services.documents import add_document, blob_path, document_file
from tui.domain.services.equipment import assign_equipment, assignment_history
from tui.domain.services.estimates import EstimateDraft, LineDraft, create_estimate
from tui.domain.services.projects import ProjectDraft, create_project

pytestmark = pytest.mark.both_backends


def as_login(ctx: Context, login: str) -> Context:
    actor = ctx.actor
    return Context(ctx.db, ctx.config, Actor(login, actor.role, actor.permissions, login))


def edit(ctx, customer, **changes):
    draft = CustomerDraft.from_customer(customer)
    return update_customer(ctx, customer.id, customer.version,
                           CustomerDraft(**{**draft.__dict__, **changes}))


# -- reading the trail ------------------------------------------------------------------------

def test_an_edit_lists_exactly_the_fields_it_changed_with_before_and_after(admin, make_customer):
    customer = make_customer("Acme Rental", phone="+4512345678", billing_city="Aarhus")
    edit(admin, customer, name="Acme Rental Nord", billing_city="Aalborg", segment="dealer")

    page = list_audit(admin, customer_id=customer.id)
    update = page.rows[0]
    assert (update.action, update.entity, update.entity_id) == ("update", "customer", customer.id)
    assert [(c.field, c.before, c.after) for c in update.changes] == [
        ("name", "Acme Rental", "Acme Rental Nord"),
        ("billing_city", "Aarhus", "Aalborg"),
        ("shipping_city", "Aarhus", "Aalborg"),  # shipping follows billing
        ("segment", "other", "dealer"),
    ]
    labels = {c.field: (c.label, c.before_text, c.after_text) for c in update.changes}
    assert labels["name"] == ("Name", "Acme Rental", "Acme Rental Nord")
    assert labels["segment"] == ("Segment", "Other", "Dealer")  # the YAML's labels
    assert update.summary == "Changed customer Acme Rental (#{id})".format(id=customer.id)
    assert update.login == "boss"
    creation = page.rows[1]
    assert creation.action == "create"
    created = {c.field: c.after for c in creation.changes}
    assert created["name"] == "Acme Rental" and created["phone"] == "+4512345678"
    assert "version" not in created and "created_by" not in created and "id" not in created
    assert all(c.before is None for c in creation.changes)


def test_a_contact_edit_is_listed_under_its_customer(admin, make_customer):
    customer = make_customer("Birch Ltd", contacts=(ContactDraft(name="Ann", email="a@x.dk"),))
    contact = Contact.get(Contact.customer == customer.id)
    update_contact(admin, contact.id, contact.version,
                   ContactDraft(name="Ann Berg", email="a@x.dk", roles=("billing", "notify")))
    row = list_audit(admin, customer_id=customer.id, entity="contact").rows[0]
    assert [(c.field, c.before_text, c.after_text) for c in row.changes] == [
        ("name", "Ann", "Ann Berg"),
        ("roles", "—", "Billing, Notify about equipment events"),
    ]
    assert row.summary == "Changed contact Ann"


def test_filters_customer_user_since_entity_and_paging(admin, make_customer, make_machine):
    first = make_customer("First A/S")
    second = make_customer("Second A/S")
    AuditEvent.update(at=datetime(2026, 1, 5, 12, 0)).execute()  # both created in January
    anna = as_login(admin, "anna")
    edit(anna, get_customer(admin, first.id), notes="called back")
    machine = make_machine("SN-9")
    assign_equipment(anna, second.id, [machine.id])

    assert {r.customer_id for r in list_audit(admin, customer_id=first.id).rows} == {first.id}
    assert len(list_audit(admin, customer_id=first.id).rows) == 2
    by_anna = list_audit(admin, user="anna")
    assert by_anna.total == 2 and {r.login for r in by_anna.rows} == {"anna"}
    assert [r.summary for r in by_anna.rows] == [
        "Assigned SN-9 to Second A/S", "Changed customer First A/S (#{id})".format(id=first.id)]
    recent = list_audit(admin, since=date(2026, 2, 1))
    assert "create" not in {r.action for r in recent.rows if r.entity == "customer"}
    assert recent.total == 3  # the edit, the machine's creation, the assignment
    assert list_audit(admin, since="2026-01-05T12:00:00Z").total == recent.total + 2
    assert list_audit(admin, since="2026-01-05T12:00:01").total == recent.total
    assert list_audit(admin, user="anna", customer_id=second.id).total == 1
    assert list_audit(admin, entity="equipment").total == 2
    everything = list_audit(admin, limit=2)
    assert (everything.total, len(everything.rows)) == (5, 2)
    rest = list_audit(admin, limit=2, offset=4)
    assert [r.id for r in rest.rows] == [min(r.id for r in list_audit(admin).rows)]
    assert audit_logins(admin) == ["anna", "boss"]


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01", "01/02/2026", "2026-02-30"])
def test_a_bad_since_names_the_filter(admin, text):
    with pytest.raises(ValidationError) as caught:
        list_audit(admin, since=text)
    assert "since" in caught.value.errors and text in caught.value.errors["since"]


def test_since_is_utc(admin):
    assert parse_since("2026-03-01T10:00+02:00") == datetime(2026, 3, 1, 8, 0)
    assert parse_since(date(2026, 3, 1)) == datetime(2026, 3, 1)
    assert parse_since("") is None


@pytest.mark.parametrize("role", ["limited", "estimator"])
def test_roles_without_audit_view_are_refused(as_role, make_customer, role):
    make_customer()
    ctx = as_role(role)
    for call in (lambda: list_audit(ctx), lambda: audit_logins(ctx),
                 lambda: get_audit_event(ctx, 1),
                 lambda: deleted_customer_state(ctx, customer_id=1)):
        with pytest.raises(PermissionDenied) as caught:
            call()
        assert caught.value.permission == "audit.view"


def test_fleet_administrator_and_account_owner_see_the_trail(as_role, make_customer):
    make_customer()
    for role in ("fleet_administrator", "account_owner"):
        assert list_audit(as_role(role)).total == 1


# -- a deletion and its restore ---------------------------------------------------------------

@pytest.fixture
def doomed(admin, make_customer, make_machine, tmp_path):
    """A customer with contacts, groups, a document with a file, a project, an estimate and
    two machines; then deleted."""
    customer = make_customer(
        "Nordic Lifting A/S", phone="+4587654321", email="info@nordic.example",
        groups=("VIP", "Jutland"), notes="good payer",
        contacts=(ContactDraft(name="Anders Holm", email="anders@nordic.example",
                               phone="+4511223344", roles=("billing",)),
                  ContactDraft(name="Mette Jensen", roles=("notify",))))
    contract = tmp_path / "contract.pdf"
    contract.write_bytes(b"%PDF-1.4 the contract")
    document = add_document(admin, customer.id, "Rental contract", "contract", file=contract,
                            reminder_on="2027-01-31")
    anders = Contact.get(Contact.name == "Anders Holm")
    project = create_project(admin, customer.id, ProjectDraft(
        name="Harbour crane", budget="25000", billing_contact_id=anders.id,
        starts_on="2026-05-01"))
    estimate = create_estimate(admin, EstimateDraft(customer.id, "Crane rental", "2026-03-02",
                                                    (LineDraft("Crane", "2", "1000"),)))
    held = [make_machine("CAT-1"), make_machine("JCB-2")]
    assign_equipment(admin, customer.id, [m.id for m in held])
    contact_ids = sorted(c.id for c in Contact.select().where(Contact.customer == customer.id))
    # made after it, so its id is not the highest one (SQLite would give that one again)
    bystander = make_customer("Bâtir Rental SARL", billing_country="FR")
    delete_customer(admin, customer.id)
    return {"customer": customer, "document": document, "project": project,
            "estimate": estimate, "machines": held, "contact_ids": contact_ids,
            "bystander": bystander}


def test_the_last_state_of_a_deleted_customer(admin, doomed):
    customer = doomed["customer"]
    state = deleted_customer_state(admin, customer_id=customer.id)
    assert state.name == "Nordic Lifting A/S" and state.customer_id == customer.id
    assert state.deleted_by == "boss" and state.refusal is None
    assert state.fields["notes"] == "good payer"
    assert sorted(state.groups) == ["Jutland", "VIP"]
    assert sorted(c["name"] for c in state.contacts) == ["Anders Holm", "Mette Jensen"]
    assert [d["title"] for d in state.documents] == ["Rental contract"]
    assert [p["name"] for p in state.projects] == ["Harbour crane"]
    assert state.estimate_ids == [doomed["estimate"].id]
    assert [(m.serial, m.holder_id) for m in state.machines] == [("CAT-1", None),
                                                                 ("JCB-2", None)]
    assert state.missing_files == []
    text = "\n".join(state.describe())
    assert "2 contacts, 1 document, 1 project" in text
    assert "CAT-1 is free" in text
    # the same state, from the event the audit screen shows
    row = list_audit(admin, customer_id=customer.id, action="delete").rows[0]
    assert row.is_customer_deletion
    assert deleted_customer_state(admin, row.id).event_id == row.id
    last = {c.field: c.before_text for c in row.changes}
    assert last["contacts"] == "Anders Holm, Mette Jensen"
    assert last["unassigned_equipment"] == "CAT-1, JCB-2"  # serials, not ids
    assert last["unlinked_estimates"] == doomed["estimate"].number
    assert last["groups"] == "Jutland, VIP" and last["notes"] == "good payer"
    assert row.restored_in is None
    assert all(c.after is None for c in row.changes)


def test_restore_round_trip(admin, as_role, make_customer, doomed):
    customer, held = doomed["customer"], doomed["machines"]
    # the machines moved on: CAT-1 to another customer, JCB-2 stays free
    other = doomed["bystander"]
    assign_equipment(admin, other.id, [held[0].id])

    restored = restore_customer(as_role("administrator", "chief"), customer.id)

    assert restored.customer_id == customer.id == restored.original_id
    back = Customer.get_by_id(customer.id)
    assert (back.name, back.phone, back.email, back.notes) == (
        "Nordic Lifting A/S", "+4587654321", "info@nordic.example", "good payer")
    assert back.created_by == "boss" and back.updated_by == "chief"
    assert back.version == customer.version + 1
    assert back.name_key and back.email_key == "info@nordic.example"
    assert group_names(back.id) == ["Jutland", "VIP"]
    contacts = list(Contact.select().where(Contact.customer == back.id).order_by(Contact.id))
    assert [c.id for c in contacts] == doomed["contact_ids"]  # same ids: they were free
    assert [(c.name, c.roles) for c in contacts] == [("Anders Holm", ["billing"]),
                                                     ("Mette Jensen", ["notify"])]
    assert contacts[0].search_digits  # phone search works again
    document = AdminDocument.get(AdminDocument.customer == back.id)
    assert (document.id, document.title, document.reminder_on) == (
        doomed["document"].id, "Rental contract", date(2027, 1, 31))
    assert document_file(admin, document.id).read_bytes() == b"%PDF-1.4 the contract"
    project = Project.get(Project.customer == back.id)
    assert (project.name, project.budget_minor, project.billing_contact_id) == (
        "Harbour crane", 2_500_000, contacts[0].id)
    assert project.starts_on == date(2026, 5, 1)
    estimate = Estimate.get_by_id(doomed["estimate"].id)
    assert estimate.customer_id == back.id
    # machines stay where they are
    assert Assignment.get(Assignment.equipment == held[0].id,
                          Assignment.unassigned_at.is_null()).customer_id == other.id
    assert not Assignment.select().where(Assignment.customer_id == back.id,
                                         Assignment.unassigned_at.is_null()).exists()
    assert [(m.serial, m.holder) for m in restored.machines] == [
        ("CAT-1", "Bâtir Rental SARL"), ("JCB-2", None)]
    text = "\n".join(restored.describe())
    assert "CAT-1 is held by Bâtir Rental SARL" in text and "JCB-2 is free" in text
    assert restored.estimates_linked == [estimate.number]
    # the history shows the deletion and the restore, the assignments stay as they were
    trail = list_audit(admin, customer_id=customer.id)
    actions = [(r.action, r.entity) for r in trail.rows]
    assert actions == [("restore", "customer"), ("link", "estimate"), ("delete", "customer"),
                       ("unlink", "estimate"), ("assign", "equipment"), ("assign", "equipment"),
                       ("create", "estimate"), ("create", "project"), ("create", "document"),
                       ("create", "customer")]
    restore_row = next(r for r in trail.rows if r.action == "restore")
    assert restore_row.login == "chief"
    assert restore_row.summary == "Restored customer Nordic Lifting A/S (#{id})".format(
        id=customer.id)
    deletion = next(r for r in trail.rows if r.action == "delete" and r.entity == "customer")
    assert AuditEvent.get_by_id(restore_row.id).before["delete_event"] == deletion.id
    assert deletion.restored_in == restore_row.id
    link = next(r for r in trail.rows if r.action == "link")
    assert link.summary == "Estimate {number} linked to customer #{id}".format(
        number=estimate.number, id=customer.id)
    assert len(assignment_history(admin, customer_id=customer.id)) == 2


def test_restoring_twice_is_refused(admin, doomed):
    customer = doomed["customer"]
    restore_customer(admin, customer.id)
    count = AuditEvent.select().count()
    with pytest.raises(RestoreRefused) as caught:
        restore_customer(admin, customer.id)
    assert "already restored by boss" in str(caught.value)
    state = deleted_customer_state(admin, customer_id=customer.id)
    assert state.refusal == str(caught.value)
    assert AuditEvent.select().count() == count  # nothing written
    # deleted again, it may be restored again (from the newer deletion)
    delete_customer(admin, customer.id)
    assert restore_customer(admin, customer.id).customer_id == customer.id


def test_a_customer_that_never_went_cannot_be_restored(admin, make_customer):
    customer = make_customer()
    with pytest.raises(RestoreRefused, match="never deleted"):
        restore_customer(admin, customer.id)
    with pytest.raises(NotFound):
        restore_customer(admin, 999)
    creation = list_audit(admin).rows[0]
    with pytest.raises(RestoreRefused, match="not a customer's deletion"):
        restore_customer(admin, audit_id=creation.id)


@pytest.mark.parametrize("role", ["limited", "estimator"])
def test_roles_that_may_not_restore(as_role, doomed, role):
    ctx = as_role(role)
    assert not may_restore(ctx.actor)
    with pytest.raises(PermissionDenied):
        restore_customer(ctx, doomed["customer"].id)
    assert not Customer.select().where(Customer.id == doomed["customer"].id).exists()


def test_the_restore_rule_is_the_permissions_of_a_retyping(as_role, config, doomed):
    assert RESTORE_PERMISSIONS == ("audit.view", "customer.create", "contact.edit",
                                   "document.edit")
    assert [role for role in config.roles if may_restore(as_role(role).actor)] == [
        "administrator", "fleet_administrator", "account_owner"]
    # without document.edit, even the rest of the rule is not enough
    base = as_role("account_owner")
    lacking = Context(base.db, base.config, Actor("al", "account_owner",
                                                  base.actor.permissions - {"document.edit"}))
    with pytest.raises(PermissionDenied) as caught:
        restore_customer(lacking, doomed["customer"].id)
    assert caught.value.permission == "document.edit"


def test_a_lookalike_created_since_asks_first(admin, make_customer, doomed):
    customer = doomed["customer"]
    make_customer("Nordic Lifting", billing_city="Odense")  # same name key
    with pytest.raises(DuplicateWarning) as caught:
        restore_customer(admin, customer.id)
    assert "Nordic Lifting" in str(caught.value)
    assert not Customer.select().where(Customer.id == customer.id).exists()
    assert restore_customer(admin, customer.id, allow_duplicate=True).customer_id == customer.id


def test_an_id_given_again_restores_under_a_new_one(admin, make_customer):
    customer = make_customer("Nordic Lifting A/S")
    delete_customer(admin, customer.id)
    # Ids are never given twice now (AUTOINCREMENT, schema 6), but a database upgraded from
    # schema 5 may already hold a customer under a deleted one's id: wind the counter back.
    if admin.db.file is None:  # PostgreSQL: the id sequence
        admin.db.execute_sql("SELECT setval(pg_get_serial_sequence('customer', 'id'), %s, false)",
                             (customer.id,))
    else:
        admin.db.execute_sql("UPDATE sqlite_sequence SET seq = ? WHERE name = 'customer'",
                             (customer.id - 1,))
    taker = create_customer(admin, CustomerDraft(name="Somebody Else", billing_country="DK"))
    assert taker.id == customer.id
    state = deleted_customer_state(admin, customer_id=customer.id)
    assert state.id_taken_by == "Somebody Else"
    restored = restore_customer(admin, customer.id)
    assert restored.customer_id != customer.id and restored.original_id == customer.id
    assert Customer.get_by_id(restored.customer_id).name == "Nordic Lifting A/S"
    assert Customer.get_by_id(customer.id).name == "Somebody Else"
    assert "taken by another customer" in "\n".join(restored.describe())
    # the restore is found under the new id, and it points to the deletion
    row = list_audit(admin, customer_id=restored.customer_id, action="restore").rows[0]
    assert AuditEvent.get_by_id(row.id).before == {"delete_event": state.event_id,
                                                   "deleted_id": customer.id}
    again = deleted_customer_state(admin, customer_id=customer.id)
    assert again.restored_as == restored.customer_id and again.refusal


def test_groups_deleted_since_are_recreated_or_left_out(as_role, admin, doomed):
    CustomerGroup.delete().where(CustomerGroup.name == "VIP").execute()
    base = as_role("account_owner")
    no_groups = Context(base.db, base.config, Actor("ao", "account_owner",
                                                    base.actor.permissions - {"group.edit"}))
    restored = restore_customer(no_groups, doomed["customer"].id)
    assert restored.groups == ["Jutland"] and restored.groups_left_out == ["VIP"]
    assert "Left out" in "\n".join(restored.describe())


def test_a_group_deleted_since_comes_back_for_who_may_create_groups(admin, doomed):
    CustomerGroup.delete().where(CustomerGroup.name == "VIP").execute()
    restored = restore_customer(admin, doomed["customer"].id)
    assert sorted(restored.groups) == ["Jutland", "VIP"]
    assert list_audit(admin, entity="group", action="create").rows[0].summary == \
        "Created group VIP"


def test_a_missing_file_is_said_not_hidden(admin, doomed):
    blob_path(admin, doomed["document"].file_sha256).unlink()
    state = deleted_customer_state(admin, customer_id=doomed["customer"].id)
    assert state.missing_files == ["Rental contract"]
    restored = restore_customer(admin, doomed["customer"].id)
    assert restored.missing_files == ["Rental contract"]
    documents = AdminDocument.select().where(AdminDocument.customer == restored.customer_id)
    assert documents.count() == 1


def test_an_estimate_linked_elsewhere_since_stays_there(admin, make_customer, doomed):
    other = make_customer("Other ApS")
    Estimate.update(customer=other.id).where(Estimate.id == doomed["estimate"].id).execute()
    restored = restore_customer(admin, doomed["customer"].id)
    assert restored.estimates_linked == [] and restored.estimates_left == [
        doomed["estimate"].number]
    assert Estimate.get_by_id(doomed["estimate"].id).customer_id == other.id


def test_a_restored_customer_is_found_by_search(admin, doomed):
    from tui.domain.services.search import search_customers

    restore_customer(admin, doomed["customer"].id)
    for words in ("Nordic", "Anders", "3344"):
        assert [r.id for r in search_customers(admin, words).rows] == [doomed["customer"].id]


def test_get_audit_event_and_time_order(admin, make_customer):
    customer = make_customer()
    row = get_audit_event(admin, list_audit(admin).rows[0].id)
    assert row.entity_id == customer.id and row.at <= datetime.utcnow() + timedelta(seconds=5)
    with pytest.raises(NotFound):
        get_audit_event(admin, 10_000)
