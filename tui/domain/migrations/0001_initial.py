"""Initial schema: users, customers, groups, contacts, equipment, assignments, documents, audit."""

from peewee import (
    BooleanField,
    CharField,
    CompositeKey,
    DateField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    SQL,
    TextField,
)


def up(migrator, db):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class User(Base):
        login = CharField(unique=True)
        display_name = CharField(default="")
        role = CharField()
        active = BooleanField(default=True)
        created_at = DateTimeField()

        class Meta:
            table_name = "app_user"

    class Customer(Base):
        name = CharField()
        phone = CharField(default="")
        email = CharField(default="")
        website = CharField(default="")
        billing_street = CharField(default="")
        billing_postal_code = CharField(default="")
        billing_city = CharField(default="")
        billing_country = CharField(null=True)
        billing_state = CharField(default="")
        shipping_same_as_billing = BooleanField(default=True)
        shipping_street = CharField(default="")
        shipping_postal_code = CharField(default="")
        shipping_city = CharField(default="")
        shipping_country = CharField(null=True)
        shipping_state = CharField(default="")
        segment = CharField()
        currency = CharField()
        language = CharField()
        notify_event_types = TextField(default="[]")
        notes = TextField(default="")
        name_key = CharField(index=True)
        email_key = CharField(default="", index=True)
        website_key = CharField(default="", index=True)
        search_digits = TextField(default="")
        created_at = DateTimeField()
        created_by = CharField(default="")
        updated_at = DateTimeField()
        updated_by = CharField(default="")
        version = IntegerField(default=1)

    class CustomerGroup(Base):
        name = CharField(unique=True)
        created_at = DateTimeField()

    class GroupMembership(Base):
        customer = ForeignKeyField(Customer, on_delete="CASCADE")
        group = ForeignKeyField(CustomerGroup, on_delete="CASCADE")

        class Meta:
            primary_key = CompositeKey("customer", "group")

    class Contact(Base):
        customer = ForeignKeyField(Customer, on_delete="CASCADE")
        name = CharField()
        email = CharField(default="")
        phone = CharField(default="")
        job_title = CharField(default="")
        roles = TextField(default="[]")
        search_digits = TextField(default="")
        created_at = DateTimeField()
        updated_at = DateTimeField()
        version = IntegerField(default=1)

    class Equipment(Base):
        serial = CharField(unique=True)
        name = CharField(default="")
        make = CharField(default="")
        model = CharField(default="")
        type = CharField(default="")
        year = IntegerField(null=True)
        retired_at = DateTimeField(null=True)
        created_at = DateTimeField()
        updated_at = DateTimeField()
        version = IntegerField(default=1)

    class Assignment(Base):
        equipment = ForeignKeyField(Equipment, on_delete="RESTRICT")
        customer_id = IntegerField(index=True)
        customer_name = CharField()
        assigned_at = DateTimeField()
        assigned_by = CharField()
        unassigned_at = DateTimeField(null=True)
        unassigned_by = CharField(null=True)

    # The database, not Python, guarantees one open assignment per machine.
    Assignment.add_index(
        Assignment.index(Assignment.equipment, unique=True, name="assignment_one_open_per_equipment")
        .where(SQL("unassigned_at IS NULL"))
    )

    class AdminDocument(Base):
        customer = ForeignKeyField(Customer, on_delete="CASCADE")
        title = CharField()
        kind = CharField()
        file_sha256 = CharField(null=True)
        file_name = CharField(default="")
        file_size = IntegerField(default=0)
        reminder_on = DateField(null=True)
        uploaded_at = DateTimeField()
        uploaded_by = CharField()
        version = IntegerField(default=1)

    class AuditEvent(Base):
        at = DateTimeField(index=True)
        login = CharField(index=True)
        action = CharField()
        entity = CharField()
        entity_id = IntegerField(null=True)
        customer_id = IntegerField(null=True, index=True)
        before = TextField(null=True)
        after = TextField(null=True)

    db.create_tables(
        [User, Customer, CustomerGroup, GroupMembership, Contact, Equipment, Assignment,
         AdminDocument, AuditEvent]
    )
