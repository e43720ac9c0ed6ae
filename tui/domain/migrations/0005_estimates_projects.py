"""Estimates with their lines and numbering, customers' projects, and the currency lock (C6)."""

from peewee import (
    CharField,
    DateField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

from tui.domain.dialect import is_postgres


def up(migrator, db):
    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Customer(Base):  # only referred to
        name = CharField()

    class Contact(Base):  # only referred to
        name = CharField()

    class EstimateSequence(Base):
        year = IntegerField(primary_key=True)
        last = IntegerField(default=0)

    class Estimate(Base):
        number = CharField(unique=True)
        title = CharField()
        issued_on = DateField(index=True)
        currency = CharField()
        status = CharField(default="draft", index=True)
        customer = ForeignKeyField(Customer, null=True, on_delete="SET NULL", backref="+",
                                   index=False)  # estimate_customer below
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
        language = CharField()
        total_minor = IntegerField(default=0)
        created_at = DateTimeField()
        created_by = CharField(default="")
        updated_at = DateTimeField()
        updated_by = CharField(default="")
        version = IntegerField(default=1)

    class EstimateLine(Base):
        estimate = ForeignKeyField(Estimate, on_delete="CASCADE", index=False, backref="+")
        position = IntegerField()
        description = TextField()
        quantity = TextField()
        unit_price_minor = IntegerField()
        amount_minor = IntegerField()

    class Project(Base):
        customer = ForeignKeyField(Customer, on_delete="CASCADE", backref="+")
        name = CharField()
        submission_deadline = DateField(null=True)
        starts_on = DateField(null=True)
        ends_on = DateField(null=True)
        budget_minor = IntegerField(null=True)
        currency = CharField()
        state = CharField(default="open", index=True)
        submission_contact = ForeignKeyField(Contact, null=True, on_delete="SET NULL",
                                             backref="+")
        billing_contact = ForeignKeyField(Contact, null=True, on_delete="SET NULL", backref="+")
        execution_contact = ForeignKeyField(Contact, null=True, on_delete="SET NULL",
                                            backref="+")
        closed_at = DateTimeField(null=True)
        closed_by = CharField(null=True)
        created_at = DateTimeField()
        created_by = CharField(default="")
        updated_at = DateTimeField()
        updated_by = CharField(default="")
        version = IntegerField(default=1)

    db.create_tables([EstimateSequence, Estimate, EstimateLine, Project])
    # A customer's estimates and projects; an estimate's lines in order.
    db.execute_sql("CREATE INDEX estimate_customer ON estimate (customer_id, issued_on)")
    db.execute_sql("CREATE UNIQUE INDEX estimate_line_order ON estimate_line "
                   "(estimate_id, position)")
    # Deleting a contact looks up the projects naming it (and SQLite does, for SET NULL).
    for role in ("submission", "billing", "execution"):
        db.execute_sql(f"CREATE INDEX project_{role}_contact ON project ({role}_contact_id)")
    # C6, whatever path writes the customer (the service says why first; an import or
    # the sqlite3 shell meets this): amounts in minor units mean nothing in another currency.
    if is_postgres(db):
        # The same rule as a row trigger; SQLSTATE 23000 (integrity_constraint_violation)
        # so that peewee raises IntegrityError, as SQLite's RAISE(ABORT) gives.
        db.execute_sql(
            "CREATE FUNCTION customer_currency_locked() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN"
            " IF EXISTS (SELECT 1 FROM estimate WHERE customer_id = OLD.id) THEN"
            " RAISE EXCEPTION 'the currency of a customer with estimates cannot change'"
            " USING ERRCODE = 'integrity_constraint_violation';"
            " END IF;"
            " RETURN NEW;"
            " END $$")
        db.execute_sql(
            "CREATE TRIGGER customer_currency_locked BEFORE UPDATE OF currency ON customer"
            " FOR EACH ROW WHEN (NEW.currency IS DISTINCT FROM OLD.currency)"
            " EXECUTE FUNCTION customer_currency_locked()")
        return
    db.execute_sql(
        "CREATE TRIGGER customer_currency_locked BEFORE UPDATE OF currency ON customer"
        " WHEN new.currency IS NOT old.currency"
        " AND EXISTS (SELECT 1 FROM estimate WHERE customer_id = old.id)"
        " BEGIN SELECT RAISE(ABORT, 'the currency of a customer with estimates cannot change');"
        " END")
