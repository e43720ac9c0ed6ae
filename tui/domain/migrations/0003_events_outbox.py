"""Equipment events and the e-mail outbox."""

from peewee import (
    CharField,
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

    class Equipment(Base):  # only referred to
        serial = CharField(unique=True)

    class EquipmentEvent(Base):
        equipment = ForeignKeyField(Equipment, on_delete="RESTRICT")
        type = CharField()
        occurred_at = DateTimeField(index=True)
        message = TextField(default="")
        customer_id = IntegerField(null=True, index=True)
        customer_name = CharField(null=True)
        source = CharField(default="")
        external_id = CharField(null=True, unique=True)
        recorded_at = DateTimeField()
        recorded_by = CharField()

    class Notification(Base):
        kind = CharField()
        event = ForeignKeyField(EquipmentEvent, null=True, on_delete="RESTRICT")
        customer_id = IntegerField(null=True, index=True)
        contact_id = IntegerField(null=True)
        recipient_name = CharField(default="")
        recipient_email = CharField()
        language = CharField()
        subject = CharField()
        body = TextField()
        status = CharField(default="pending", index=True)
        attempts = IntegerField(default=0)
        next_attempt_at = DateTimeField()
        last_error = TextField(default="")
        claimed_by = CharField(null=True)
        claimed_at = DateTimeField(null=True)
        sent_at = DateTimeField(null=True)
        message_id = CharField(unique=True)
        created_at = DateTimeField()
        created_by = CharField()

    db.create_tables([EquipmentEvent, Notification])
    # What a sender asks for: due pending messages, oldest first.
    db.execute_sql("CREATE INDEX notification_due ON notification (status, next_attempt_at)")
    db.execute_sql("CREATE INDEX equipment_event_machine ON equipment_event "
                   "(equipment_id, occurred_at)")
