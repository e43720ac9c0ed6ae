"""Customers, contacts, equipment and documents through the services, on a real database
(SQLite and PostgreSQL: each test runs as [sqlite] and [postgresql])."""

from __future__ import annotations

from datetime import date

import peewee
import pytest

from tests.conftest import raw_connection
from tui.domain.errors import (
    AlreadyAssigned,
    Conflict,
    DuplicateWarning,
    NotFound,
    ValidationError,
)
from tui.domain.models import (
    AdminDocument,
    Assignment,
    AuditEvent,
    Contact,
    Customer,
    GroupMembership,
    utcnow,
)
from tui.domain.services import contacts as contact_service
from tui.domain.services import customers as customer_service
from tui.domain.services import documents as document_service
from tui.domain.services import equipment as equipment_service
from tui.domain.services.contacts import ContactDraft
from tui.domain.services.customers import CustomerDraft

pytestmark = pytest.mark.both_backends

def draft(**fields) -> CustomerDraft:
    values = {"name": "Nordic Lifting A/S", "billing_country": "DK"}
    values.update(fields)
    return CustomerDraft(**values)


def test_create_normalises_and_applies_defaults(admin, config):
    customer = customer_service.create_customer(admin, draft(
        name="  Nordic   Lifting A/S ", phone="12 34 56 78", email="Info@Nordic.DK",
        website="WWW.Nordic.dk", billing_city="Aarhus"))
    assert customer.name == "Nordic Lifting A/S"
    assert customer.phone == "+4512345678"
    assert customer.email.lower() == "info@nordic.dk"
    assert customer.website == "https://www.nordic.dk"
    assert customer.website_key == "nordic.dk"
    assert customer.segment == config.default_segment == "other"
    assert customer.currency == config.defaults.currency
    assert customer.shipping_same_as_billing and customer.shipping_city == "Aarhus"
    assert customer.notify_event_types == list(config.event_types)
    assert customer.version == 1 and customer.created_by == "boss"


def test_create_with_contacts_and_groups_in_one_go(admin):
    customer = customer_service.create_customer(admin, draft(
        groups=("Key accounts", "North"),
        contacts=(ContactDraft(name="Mette Jensen", email="mj@nordic.dk", phone="20 30 40 50",
                               roles=("billing", "notify")),
                  ContactDraft(name="Lars Nielsen"))))
    stored = contact_service.list_contacts(admin, customer.id)
    assert [c.name for c in stored] == ["Lars Nielsen", "Mette Jensen"]
    assert stored[1].phone == "+4520304050" and stored[1].roles == ["billing", "notify"]
    assert customer_service.group_names(customer.id) == ["Key accounts", "North"]
    event = AuditEvent.get(AuditEvent.entity == "customer", AuditEvent.action == "create")
    assert event.login == "boss" and len(event.after["contacts"]) == 2


def test_invalid_draft_reports_every_field_and_stores_nothing(admin):
    with pytest.raises(ValidationError) as caught:
        customer_service.create_customer(admin, draft(
            name=" ", email="not-an-email", phone="12", billing_country="Atlantis",
            segment="nonsense", currency="EURO",
            contacts=(ContactDraft(name="", roles=("boss",)),)))
    errors = caught.value.errors
    assert {"name", "email", "billing_country", "segment", "currency",
            "contacts[0].name", "contacts[0].roles"} <= set(errors)
    assert Customer.select().count() == 0 and Contact.select().count() == 0
    assert AuditEvent.select().count() == 0


@pytest.mark.parametrize("country,state,expected", [
    ("US", "tx", "US-TX"), ("United States", "Texas", "US-TX"), ("CA", "QC", "CA-QC"),
    ("DK", "Midtjylland", "Midtjylland"), ("FR", "", ""),
])
def test_state_follows_country(admin, country, state, expected):
    customer = customer_service.create_customer(admin, draft(billing_country=country,
                                                             billing_state=state))
    assert customer.billing_state == expected


@pytest.mark.parametrize("country", ["US", "CA"])
def test_us_and_canada_require_a_state(admin, country):
    with pytest.raises(ValidationError) as caught:
        customer_service.create_customer(admin, draft(billing_country=country))
    assert "billing_state" in caught.value.errors


def test_separate_shipping_address_is_validated_on_its_own(admin):
    customer = customer_service.create_customer(admin, draft(
        billing_city="Aarhus", shipping_same_as_billing=False, shipping_city="Calgary",
        shipping_country="CA", shipping_state="AB"))
    assert (customer.billing_city, customer.shipping_city) == ("Aarhus", "Calgary")
    assert customer.shipping_state == "CA-AB"
    with pytest.raises(ValidationError) as caught:
        customer_service.create_customer(admin, draft(
            name="Other", shipping_same_as_billing=False, shipping_country="US"))
    assert "shipping_state" in caught.value.errors


@pytest.mark.parametrize("fields,reason", [
    ({"name": "NORDIC LIFTING"}, "same name"),
    ({"name": "Nordic Lifting SARL"}, "same name"),
    ({"name": "Nørdic Lifting"}, None),  # ø is a letter, not an accent: a different name
    ({"name": "Someone else", "email": "INFO@nordic.dk"}, "same e-mail"),
    ({"name": "Someone else", "phone": "+45 12 34 56 78"}, "same phone"),
    ({"name": "Someone else", "website": "http://nordic.dk/contact"}, "same website"),
])
def test_likely_duplicates_warn_and_can_be_overridden(admin, fields, reason):
    customer_service.create_customer(admin, draft(
        phone="12345678", email="info@nordic.dk", website="www.nordic.dk"))
    if reason is None:
        customer_service.create_customer(admin, draft(**fields))
        return
    with pytest.raises(DuplicateWarning) as caught:
        customer_service.create_customer(admin, draft(**fields))
    assert caught.value.matches[0][2] == reason
    assert Customer.select().count() == 1
    customer_service.create_customer(admin, draft(**fields), allow_duplicate=True)
    assert Customer.select().count() == 2


def test_accents_and_legal_suffixes_fold_in_duplicate_keys(admin):
    customer_service.create_customer(admin, draft(name="Société Générale SA"))
    with pytest.raises(DuplicateWarning):
        customer_service.create_customer(admin, draft(name="societe generale"))


def test_update_bumps_version_and_audits_the_change(admin):
    customer = customer_service.create_customer(admin, draft(billing_city="Aarhus"))
    edited = CustomerDraft.from_customer(customer)
    changed = customer_service.update_customer(
        admin, customer.id, customer.version,
        CustomerDraft(**{**edited.__dict__, "billing_city": "Odense", "groups": ("VIP",)}))
    assert changed.version == 2 and changed.billing_city == changed.shipping_city == "Odense"
    event = AuditEvent.get(AuditEvent.entity == "customer", AuditEvent.action == "update")
    assert event.before["billing_city"] == "Aarhus"
    assert event.after["billing_city"] == "Odense" and event.after["groups"] == ["VIP"]
    assert "name" not in event.after  # only what changed


def test_stale_version_is_a_conflict_and_changes_nothing(admin):
    customer = customer_service.create_customer(admin, draft())
    first = CustomerDraft.from_customer(customer)
    customer_service.update_customer(admin, customer.id, 1,
                                     CustomerDraft(**{**first.__dict__, "notes": "mine"}))
    with pytest.raises(Conflict) as caught:
        customer_service.update_customer(admin, customer.id, 1,
                                         CustomerDraft(**{**first.__dict__, "notes": "theirs"}))
    assert caught.value.current["notes"] == "mine"
    assert Customer.get_by_id(customer.id).notes == "mine"


def test_contacts_edit_and_delete_several(admin, make_customer):
    customer = make_customer()
    one = contact_service.add_contact(admin, customer.id, ContactDraft(name="One"))
    two = contact_service.add_contact(admin, customer.id, ContactDraft(name="Two"))
    three = contact_service.add_contact(admin, customer.id, ContactDraft(name="Three"))
    contact_service.update_contact(admin, one.id, 1, ContactDraft(name="One", job_title="Boss"))
    with pytest.raises(Conflict):
        contact_service.update_contact(admin, one.id, 1, ContactDraft(name="Stale"))
    assert contact_service.delete_contacts(admin, [two.id, three.id]) == 2
    assert [c.job_title for c in contact_service.list_contacts(admin, customer.id)] == ["Boss"]
    with pytest.raises(NotFound):
        contact_service.delete_contacts(admin, [two.id])


def test_delete_customer_cascades_and_keeps_history(admin, make_customer, make_machine, tmp_path):
    customer = make_customer(contacts=(ContactDraft(name="A"), ContactDraft(name="B")),
                             groups=("North",))
    other = make_customer("Someone Else")
    held, returned = make_machine(), make_machine()
    equipment_service.assign_equipment(admin, customer.id, [held.id, returned.id])
    equipment_service.unassign_equipment(admin, [returned.id])
    paper = tmp_path / "contract.pdf"
    paper.write_bytes(b"%PDF-1.4 contract")
    document_service.add_document(admin, customer.id, "Contract 2026", "contract", paper)

    impact = customer_service.delete_impact(admin, customer.id)
    assert (impact.machines_unassigned, impact.contacts_deleted, impact.documents_deleted) == (1, 2, 1)
    assert customer_service.delete_customer(admin, customer.id) == impact

    assert Customer.get_or_none(Customer.id == customer.id) is None
    assert Contact.select().where(Contact.customer == customer.id).count() == 0
    assert AdminDocument.select().count() == 0
    assert GroupMembership.select().count() == 0
    history = equipment_service.assignment_history(admin, customer_id=customer.id)
    assert len(history) == 2 and all(a.unassigned_at is not None for a in history)
    assert {a.customer_name for a in history} == {"Acme Rental A/S"}
    # the machine is free again, and the other customer can take it
    equipment_service.assign_equipment(admin, other.id, [held.id])
    event = AuditEvent.get(AuditEvent.entity == "customer", AuditEvent.action == "delete")
    assert event.before["name"] == "Acme Rental A/S"
    assert sorted(c["name"] for c in event.before["contacts"]) == ["A", "B"]
    assert event.before["documents"][0]["title"] == "Contract 2026"
    assert event.before["unassigned_equipment"] == [held.id]
    assert event.before["groups"] == ["North"]


def test_delete_with_stale_version_is_refused(admin, make_customer):
    customer = make_customer()
    with pytest.raises(Conflict):
        customer_service.delete_customer(admin, customer.id, expected_version=7)
    assert Customer.get_or_none(Customer.id == customer.id) is not None


def test_one_open_assignment_per_machine(admin, make_customer, make_machine):
    first, second = make_customer("First"), make_customer("Second")
    machine, spare = make_machine("CAT-1"), make_machine("CAT-2")
    equipment_service.assign_equipment(admin, first.id, [machine.id])
    with pytest.raises(AlreadyAssigned, match="CAT-1.*First"):
        equipment_service.assign_equipment(admin, second.id, [spare.id, machine.id])
    # all or nothing: the spare was not given to Second either
    assert equipment_service.assigned_equipment(admin, second.id) == []
    equipment_service.unassign_equipment(admin, [machine.id])
    equipment_service.assign_equipment(admin, second.id, [machine.id])
    assert [m.serial for m in equipment_service.assigned_equipment(admin, second.id)] == ["CAT-1"]


def test_one_open_assignment_is_enforced_by_the_database_itself(db, make_customer, make_machine):
    """Bypass the services entirely: the unique partial index still says no."""
    customer, machine = make_customer(), make_machine()
    raw, driver = raw_connection(db)
    try:
        cursor = raw.cursor()
        insert = ("INSERT INTO assignment (equipment_id, customer_id, customer_name, assigned_at,"
                  " assigned_by) VALUES ({p}, {p}, 'x', '2026-01-01', 'x')").format(p=db.param)
        cursor.execute(insert, (machine.id, customer.id))
        raw.commit()
        with pytest.raises(driver.IntegrityError, match="(?i)unique"):
            cursor.execute(insert, (machine.id, customer.id))
        raw.rollback()
        # a closed assignment does not count
        cursor.execute("UPDATE assignment SET unassigned_at = '2026-01-02'")
        cursor.execute(insert, (machine.id, customer.id))
        raw.commit()
    finally:
        raw.close()
    assert Assignment.select().count() == 2


def test_foreign_keys_are_on(db, make_customer):
    with pytest.raises(peewee.IntegrityError):
        Contact.create(customer=999, name="Orphan")


def test_retired_machine_cannot_be_assigned(admin, make_customer, make_machine):
    customer, machine = make_customer(), make_machine()
    machine.retired_at = utcnow()
    machine.save()
    with pytest.raises(ValidationError):
        equipment_service.assign_equipment(admin, customer.id, [machine.id])


def test_equipment_serial_is_unique_and_year_checked(admin, make_machine):
    make_machine("JCB-9")
    with pytest.raises(ValidationError) as caught:
        equipment_service.add_equipment(admin, equipment_service.EquipmentDraft(
            serial="JCB-9", year="19x"))
    assert set(caught.value.errors) == {"year"}  # fields first; the serial is checked once valid
    with pytest.raises(ValidationError, match="already registered"):
        equipment_service.add_equipment(admin, equipment_service.EquipmentDraft(serial="JCB-9"))


def test_documents_are_content_addressed_beside_the_database(admin, make_customer, tmp_path, db):
    customer = make_customer()
    source = tmp_path / "insurance.pdf"
    source.write_bytes(b"policy 42")
    first = document_service.add_document(admin, customer.id, "Policy", "insurance", source,
                                          "2026-12-01")
    second = document_service.add_document(admin, customer.id, "Copy", "insurance", source)
    assert first.file_sha256 == second.file_sha256 and first.file_size == 9
    stored = document_service.document_file(admin, first.id)
    assert stored.read_bytes() == b"policy 42" and stored.is_relative_to(db.files_dir)
    assert first.file_name == "insurance.pdf"
    due = document_service.due_reminders(admin, date(2026, 12, 1))
    assert [d.title for d in due] == ["Policy"]
    assert document_service.due_reminders(admin, date(2026, 11, 30)) == []
    with pytest.raises(ValidationError) as caught:
        document_service.add_document(admin, customer.id, "", "receipt", tmp_path / "nope",
                                      "31/02/2026")
    assert set(caught.value.errors) == {"title", "kind", "file", "reminder_on"}


def test_every_change_writes_one_audit_event_in_its_transaction(admin, make_customer, make_machine):
    before = AuditEvent.select().count()
    customer = make_customer()
    machine = make_machine()
    equipment_service.assign_equipment(admin, customer.id, [machine.id])
    contact_service.add_contact(admin, customer.id, ContactDraft(name="C"))
    assert AuditEvent.select().count() == before + 4
    # a failed change writes nothing
    with pytest.raises(ValidationError):
        contact_service.add_contact(admin, customer.id, ContactDraft(name=""))
    assert AuditEvent.select().count() == before + 4


def test_a_file_that_cannot_be_read_is_a_clear_refusal(admin, make_customer, tmp_path,
                                                       monkeypatch):
    """An unreadable file (root reads anything, so the refusal is simulated at open)."""
    customer = make_customer()
    source = tmp_path / "secret.pdf"
    source.write_bytes(b"x")
    real_open = type(source).open

    def refuse(self, *args, **kwargs):
        if self == source:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(type(source), "open", refuse)
    with pytest.raises(ValidationError) as caught:
        document_service.add_document(admin, customer.id, "Secret", "insurance", source)
    assert "Cannot read" in caught.value.errors["file"]
    assert "Permission denied" in caught.value.errors["file"]
    assert not AdminDocument.select().exists()
