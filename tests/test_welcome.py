"""The optional welcome e-mail at creation (C12): queued in the outbox with the customer."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tui.domain.errors import ConfigError
from tui.domain.models import AuditEvent, Contact, Customer, Notification
from tui.domain.services import customers as customer_service
from tui.domain.services.contacts import ContactDraft
from tui.domain.services.customers import CustomerDraft, create_customer, welcome_recipients

pytestmark = pytest.mark.both_backends

CONTACTS = (
    ContactDraft(name="Mette Jensen", email="mette@nordic.example", roles=("billing",)),
    ContactDraft(name="Lars Nielsen"),  # no e-mail: skipped
    ContactDraft(name="Anders Holm", email="anders@nordic.example", roles=("notify",)),
)


def draft(**fields) -> CustomerDraft:
    values = {"name": "Nordic Lifting A/S", "billing_country": "DK", "contacts": CONTACTS}
    values.update(fields)
    return CustomerDraft(**values)


def test_one_welcome_per_contact_with_an_email(admin, config):
    customer = create_customer(admin, draft(), send_welcome=True)
    queued = list(Notification.select().order_by(Notification.recipient_name))
    assert [(n.recipient_name, n.recipient_email) for n in queued] == [
        ("Anders Holm", "anders@nordic.example"), ("Mette Jensen", "mette@nordic.example")]
    contacts = {c.name: c.id for c in Contact.select()}
    for message in queued:
        assert message.kind == "welcome" and message.status == "pending"
        assert message.customer_id == customer.id
        assert message.contact_id == contacts[message.recipient_name]
        assert message.event_id is None
        assert message.created_by == "boss"
        assert message.language == "en"
        assert message.subject == f"Welcome to {config.business_name}"
        assert f"Hello {message.recipient_name}," in message.body
        assert "Nordic Lifting A/S is now a customer of" in message.body
    event = AuditEvent.get(AuditEvent.entity == "customer", AuditEvent.action == "create")
    assert sorted(event.after["welcome_emails_to"]) == sorted(
        [contacts["Anders Holm"], contacts["Mette Jensen"]])


@pytest.mark.parametrize("language, subject, greeting", [
    ("fr", "Bienvenue chez", "Bonjour Mette Jensen,"),
    ("en", "Welcome to", "Hello Mette Jensen,"),
])
def test_welcome_is_written_in_the_customers_language(admin, language, subject, greeting):
    create_customer(admin, draft(language=language, contacts=CONTACTS[:1]), send_welcome=True)
    message = Notification.get()
    assert message.language == language
    assert message.subject.startswith(subject)
    assert message.body.startswith(greeting)


def test_a_language_without_a_template_falls_back_to_english(admin):
    create_customer(admin, draft(language="de", contacts=CONTACTS[:1]), send_welcome=True)
    message = Notification.get()
    assert (message.language, message.subject[:10]) == ("en", "Welcome to")


def test_nothing_is_queued_unless_asked(admin):
    create_customer(admin, draft())
    create_customer(admin, draft(name="Other A/S"), send_welcome=False)
    assert Customer.select().count() == 2 and Contact.select().count() == 6
    assert Notification.select().count() == 0
    event = AuditEvent.select().where(AuditEvent.entity == "customer").first()
    assert "welcome_emails_to" not in event.after


def test_no_contact_with_an_email_queues_nothing(admin):
    customer = create_customer(admin, draft(contacts=(ContactDraft(name="Lars Nielsen"),)),
                               send_welcome=True)
    assert Customer.get_by_id(customer.id).name == "Nordic Lifting A/S"
    assert Notification.select().count() == 0


def test_a_failing_welcome_rolls_back_the_customer(admin, monkeypatch):
    """The second message fails: the first one, the contacts and the customer go too."""
    calls = []
    real = customer_service.enqueue

    def enqueue_then_fail(ctx, **kwargs):
        calls.append(kwargs["contact"].name)
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(ctx, **kwargs)

    monkeypatch.setattr(customer_service, "enqueue", enqueue_then_fail)
    with pytest.raises(RuntimeError, match="disk full"):
        create_customer(admin, draft(), send_welcome=True)
    assert len(calls) == 2
    assert Customer.select().count() == 0
    assert Contact.select().count() == 0
    assert Notification.select().count() == 0
    assert AuditEvent.select().count() == 0


def test_a_broken_template_is_reported_and_nothing_is_stored(admin, tmp_path):
    (tmp_path / "welcome.en.txt").write_text("Welcome ${nobody}\n\nHi\n", encoding="utf-8")
    ctx = replace(admin, config=replace(admin.config, email=replace(admin.config.email,
                                                                    templates=tmp_path)))
    with pytest.raises(ConfigError, match="welcome.en.txt, line 1"):
        create_customer(ctx, draft(), send_welcome=True)
    assert Customer.select().count() == 0 and Notification.select().count() == 0
    create_customer(ctx, draft())  # without the welcome, the template is not needed
    assert Customer.select().count() == 1


def test_a_role_that_may_create_customers_may_welcome_them(as_role):
    """notify.send is for the outbox screen; queuing is covered by customer.create."""
    owner = as_role("account_owner", "olga")
    assert not owner.actor.can("notify.send")
    create_customer(owner, draft(), send_welcome=True)
    assert Notification.select().count() == 2
    assert {n.created_by for n in Notification.select()} == {"olga"}


def test_welcome_recipients_are_the_contacts_with_an_address():
    assert [c.name for c in welcome_recipients(CONTACTS)] == ["Mette Jensen", "Anders Holm"]
    assert welcome_recipients([ContactDraft(name="x", email="  ")]) == []
