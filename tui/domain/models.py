"""Peewee models, declared unbound: ``database.open_database`` binds them.

The schema itself is created by the numbered migrations next door; a test
checks that these classes and the migrated tables agree column for column.
Timestamps are naive UTC.

Ids are never given twice (schema 6): every table with an integer id declares it
``AutoIncrementField`` (``INTEGER PRIMARY KEY AUTOINCREMENT``), so a deleted record's id
is not reused and a stale save or delete of it cannot land on a newer record.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal

from peewee import (
    BooleanField,
    CharField,
    CompositeKey,
    DateField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)
from playhouse.sqlite_ext import AutoIncrementField


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class JSONField(TextField):
    """JSON text: lists of keys (contact roles, notice types) and audit snapshots."""

    def db_value(self, value):
        return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)

    def python_value(self, value):
        return None if value is None else json.loads(value)


class BaseModel(Model):
    class Meta:
        legacy_table_names = False


class User(BaseModel):
    id = AutoIncrementField()
    login = CharField(unique=True)
    display_name = CharField(default="")
    role = CharField()
    active = BooleanField(default=True)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "app_user"


class Customer(BaseModel):
    id = AutoIncrementField()
    name = CharField()
    phone = CharField(default="")  # E.164
    email = CharField(default="")
    website = CharField(default="")
    billing_street = CharField(default="")
    billing_postal_code = CharField(default="")
    billing_city = CharField(default="")
    billing_country = CharField(null=True)  # ISO 3166-1 alpha-2
    billing_state = CharField(default="")  # ISO 3166-2 for US/CA, free region elsewhere
    shipping_same_as_billing = BooleanField(default=True)
    shipping_street = CharField(default="")
    shipping_postal_code = CharField(default="")
    shipping_city = CharField(default="")
    shipping_country = CharField(null=True)
    shipping_state = CharField(default="")
    segment = CharField()
    currency = CharField()  # ISO 4217
    language = CharField()  # ISO 639-1
    notify_event_types = JSONField(default=list)  # event types its contacts may hear about
    notes = TextField(default="")
    # Normalised keys for duplicate detection and search, kept by the service.
    name_key = CharField(index=True)
    email_key = CharField(default="", index=True)
    website_key = CharField(default="", index=True)
    search_digits = TextField(default="")
    created_at = DateTimeField(default=utcnow)
    created_by = CharField(default="")
    updated_at = DateTimeField(default=utcnow)
    updated_by = CharField(default="")
    version = IntegerField(default=1)
    # The customer's id in the system it was imported from (schema 4): re-importing the
    # same file matches on it, so nothing is created twice. Unique where set.
    external_id = CharField(null=True, unique=True)


class CustomerGroup(BaseModel):
    id = AutoIncrementField()
    name = CharField(unique=True)
    created_at = DateTimeField(default=utcnow)


class GroupMembership(BaseModel):
    customer = ForeignKeyField(Customer, backref="memberships", on_delete="CASCADE")
    group = ForeignKeyField(CustomerGroup, backref="memberships", on_delete="CASCADE")

    class Meta:
        primary_key = CompositeKey("customer", "group")


class Contact(BaseModel):
    id = AutoIncrementField()
    customer = ForeignKeyField(Customer, backref="contacts", on_delete="CASCADE")
    name = CharField()
    email = CharField(default="")
    phone = CharField(default="")
    job_title = CharField(default="")
    roles = JSONField(default=list)  # contact-role keys from the YAML
    search_digits = TextField(default="")
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)
    version = IntegerField(default=1)


class Equipment(BaseModel):
    id = AutoIncrementField()
    serial = CharField(unique=True)
    name = CharField(default="")
    make = CharField(default="")
    model = CharField(default="")
    type = CharField(default="")
    year = IntegerField(null=True)
    retired_at = DateTimeField(null=True)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)
    version = IntegerField(default=1)


class Assignment(BaseModel):
    """Who held which machine when. Rows are closed, never deleted."""

    id = AutoIncrementField()
    equipment = ForeignKeyField(Equipment, backref="assignments", on_delete="RESTRICT")
    # A plain id, not a foreign key: history outlives a deleted customer and still
    # answers "what did customer 42 hold"; the name copy keeps it readable.
    customer_id = IntegerField(index=True)
    customer_name = CharField()
    assigned_at = DateTimeField(default=utcnow)
    assigned_by = CharField()
    unassigned_at = DateTimeField(null=True)
    unassigned_by = CharField(null=True)


class AdminDocument(BaseModel):
    id = AutoIncrementField()
    customer = ForeignKeyField(Customer, backref="documents", on_delete="CASCADE")
    title = CharField()
    kind = CharField()
    file_sha256 = CharField(null=True)
    file_name = CharField(default="")
    file_size = IntegerField(default=0)
    reminder_on = DateField(null=True)
    uploaded_at = DateTimeField(default=utcnow)
    uploaded_by = CharField()
    version = IntegerField(default=1)


class EquipmentEvent(BaseModel):
    """Something that happened to a machine: service due, breakdown, alarm..."""

    id = AutoIncrementField()
    equipment = ForeignKeyField(Equipment, backref="events", on_delete="RESTRICT")
    type = CharField()  # an event-type key from the YAML
    occurred_at = DateTimeField(index=True)
    message = TextField(default="")
    # Who held the machine when it happened (plain id and a name copy, as Assignment).
    customer_id = IntegerField(null=True, index=True)
    customer_name = CharField(null=True)
    source = CharField(default="")  # tui / cli / ingest
    external_id = CharField(null=True, unique=True)  # a feed's own id: ingesting twice is harmless
    recorded_at = DateTimeField(default=utcnow)
    recorded_by = CharField()


class Notification(BaseModel):
    """One e-mail in the outbox, written in the same transaction as what caused it.

    Rendered when queued, so what the outbox shows is exactly what will be sent.
    status: pending -> sending (claimed by one sender) -> sent | failed.
    """

    id = AutoIncrementField()
    kind = CharField()  # event / welcome
    event = ForeignKeyField(EquipmentEvent, null=True, backref="notifications",
                            on_delete="RESTRICT")
    customer_id = IntegerField(null=True, index=True)
    contact_id = IntegerField(null=True)  # plain ids: the outbox outlives a deleted contact
    recipient_name = CharField(default="")
    recipient_email = CharField()
    language = CharField()
    subject = CharField()
    body = TextField()
    status = CharField(default="pending", index=True)
    attempts = IntegerField(default=0)
    next_attempt_at = DateTimeField(default=utcnow)
    last_error = TextField(default="")
    claimed_by = CharField(null=True)
    claimed_at = DateTimeField(null=True)
    sent_at = DateTimeField(null=True)
    message_id = CharField(unique=True)  # the Message-ID header, fixed when queued
    created_at = DateTimeField(default=utcnow)
    created_by = CharField()


class AuditEvent(BaseModel):
    id = AutoIncrementField()
    at = DateTimeField(default=utcnow, index=True)
    login = CharField(index=True)
    action = CharField()  # create / update / delete / assign / unassign / ...
    entity = CharField()
    entity_id = IntegerField(null=True)
    customer_id = IntegerField(null=True, index=True)  # for "everything about this customer"
    before = JSONField(null=True)
    after = JSONField(null=True)


class ImportJob(BaseModel):
    """One run (or resumed run) of a bulk import: what was read, by whom, with what result.

    status: running -> done | interrupted (Ctrl-C, resumable) -> undone. A job killed
    outright stays "running"; importing the same file again resumes it.
    """

    id = AutoIncrementField()
    kind = CharField()  # customers / contacts / equipment
    file_name = CharField()
    file_sha256 = CharField(default="")
    mapping = JSONField(default=dict)  # header -> field, as used
    on_match = CharField(default="skip")  # skip / update
    status = CharField(default="running", index=True)
    created = IntegerField(default=0)
    updated = IntegerField(default=0)
    skipped = IntegerField(default=0)  # matched and left alone (skip, or nothing changed)
    rejected = IntegerField(default=0)  # rows refused, written to the error file
    counts = JSONField(default=dict)  # the same per entity: {"customer": {"created": 3, ...}}
    last_line = IntegerField(default=0)  # last file line of the last committed batch
    error_file = CharField(default="")
    started_at = DateTimeField(default=utcnow)
    started_by = CharField()
    finished_at = DateTimeField(null=True)
    undone_at = DateTimeField(null=True)
    undone_by = CharField(null=True)


class ImportItem(BaseModel):
    """A record an import job created or updated, so the job can be undone.

    ``version`` is the version the import left: undo refuses when it differs now.
    ``before`` holds an updated record's previous values (None for a creation).
    """

    id = AutoIncrementField()
    job = ForeignKeyField(ImportJob, backref="items", on_delete="CASCADE", index=False)
    entity = CharField()  # customer / contact / equipment / assignment / group
    entity_id = IntegerField()
    action = CharField()  # create / update
    version = IntegerField(null=True)
    before = JSONField(null=True)


class DecimalText(TextField):
    """An exact decimal kept as text ("2.5"): SQLite's NUMERIC would turn it into a float."""

    def db_value(self, value):
        return None if value is None else str(Decimal(value))

    def python_value(self, value):
        return None if value is None else Decimal(value)


class EstimateSequence(BaseModel):
    """The last estimate number given out in a year; numbers are never given twice."""

    year = IntegerField(primary_key=True)
    last = IntegerField(default=0)


class Estimate(BaseModel):
    """A priced proposal to a customer (schema 5).

    The customer's details are copied in (``customer_name`` to ``language``): the service
    refreshes the copy whenever the customer or its contacts change, and keeps it when the
    customer is deleted, which only clears ``customer``. Amounts are whole minor units
    of ``currency`` (cents), never floats.
    """

    id = AutoIncrementField()
    number = CharField(unique=True)  # E-2026-0001
    title = CharField()
    issued_on = DateField(index=True)
    currency = CharField()  # ISO 4217, the customer's when the estimate was made
    status = CharField(default="draft", index=True)  # draft / sent / accepted / declined
    customer = ForeignKeyField(Customer, null=True, backref="estimates", on_delete="SET NULL",
                               index=False)  # indexed with issued_on by the migration
    customer_name = CharField()
    billing_street = CharField(default="")
    billing_postal_code = CharField(default="")
    billing_city = CharField(default="")
    billing_country = CharField(null=True)
    billing_state = CharField(default="")
    shipping_street = CharField(default="")
    shipping_postal_code = CharField(default="")
    shipping_city = CharField(default="")
    shipping_country = CharField(null=True)
    shipping_state = CharField(default="")
    phone = CharField(default="")
    email = CharField(default="")
    contact_name = CharField(default="")
    language = CharField()  # the customer's: the proposal is written in it
    total_minor = IntegerField(default=0)  # sum of the lines' amounts, kept by the service
    created_at = DateTimeField(default=utcnow)
    created_by = CharField(default="")
    updated_at = DateTimeField(default=utcnow)
    updated_by = CharField(default="")
    version = IntegerField(default=1)


class EstimateLine(BaseModel):
    id = AutoIncrementField()
    estimate = ForeignKeyField(Estimate, backref="lines", on_delete="CASCADE", index=False)
    position = IntegerField()  # 1, 2, 3... in the order shown
    description = TextField()
    quantity = DecimalText()
    unit_price_minor = IntegerField()
    amount_minor = IntegerField()  # quantity x unit price, rounded half up to a minor unit


class Project(BaseModel):
    """A customer's project (construction seed): dates, budget, state and three contacts.

    A closed project takes no change until it is reopened. Deleting a contact clears it
    from the projects that named it.
    """

    id = AutoIncrementField()
    customer = ForeignKeyField(Customer, backref="projects", on_delete="CASCADE")
    name = CharField()
    submission_deadline = DateField(null=True)
    starts_on = DateField(null=True)
    ends_on = DateField(null=True)
    budget_minor = IntegerField(null=True)  # estimated budget, minor units of ``currency``
    currency = CharField()
    state = CharField(default="open", index=True)  # open / closed
    submission_contact = ForeignKeyField(Contact, null=True, backref="submission_projects",
                                         on_delete="SET NULL")
    billing_contact = ForeignKeyField(Contact, null=True, backref="billing_projects",
                                      on_delete="SET NULL")
    execution_contact = ForeignKeyField(Contact, null=True, backref="execution_projects",
                                        on_delete="SET NULL")
    closed_at = DateTimeField(null=True)
    closed_by = CharField(null=True)
    created_at = DateTimeField(default=utcnow)
    created_by = CharField(default="")
    updated_at = DateTimeField(default=utcnow)
    updated_by = CharField(default="")
    version = IntegerField(default=1)


ALL_MODELS: list[type[BaseModel]] = [
    User,
    Customer,
    CustomerGroup,
    GroupMembership,
    Contact,
    Equipment,
    Assignment,
    AdminDocument,
    AuditEvent,
    EquipmentEvent,
    Notification,
    ImportJob,
    ImportItem,
    EstimateSequence,
    Estimate,
    EstimateLine,
    Project,
]
