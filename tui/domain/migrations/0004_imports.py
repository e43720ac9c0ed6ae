"""Bulk import: customers' external ids, and import jobs with what each one did."""

from peewee import (
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)


def up(migrator, db):
    # SQLite cannot add a UNIQUE column: add it, then a unique index (NULLs never clash).
    migrator.migrate(
        migrator.add_column("customer", "external_id", CharField(null=True)),
        migrator.add_index("customer", ("external_id",), True),
    )

    class Base(Model):
        class Meta:
            database = db
            legacy_table_names = False

    class ImportJob(Base):
        kind = CharField()
        file_name = CharField()
        file_sha256 = CharField(default="")
        mapping = TextField(default="{}")
        on_match = CharField(default="skip")
        status = CharField(default="running", index=True)
        created = IntegerField(default=0)
        updated = IntegerField(default=0)
        skipped = IntegerField(default=0)
        rejected = IntegerField(default=0)
        counts = TextField(default="{}")
        last_line = IntegerField(default=0)
        error_file = CharField(default="")
        started_at = DateTimeField()
        started_by = CharField()
        finished_at = DateTimeField(null=True)
        undone_at = DateTimeField(null=True)
        undone_by = CharField(null=True)

    class ImportItem(Base):
        job = ForeignKeyField(ImportJob, on_delete="CASCADE", index=False)
        entity = CharField()
        entity_id = IntegerField()
        action = CharField()
        version = IntegerField(null=True)
        before = TextField(null=True)

    db.create_tables([ImportJob, ImportItem])
    # Undo and resume look a job's records up by entity.
    db.execute_sql("CREATE INDEX import_item_entity ON import_item (job_id, entity, entity_id)")
