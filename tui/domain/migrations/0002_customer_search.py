"""Full-text index over every field of a customer, kept in step by triggers.

One FTS5 row per customer (rowid = customer id) holds the company's own
fields, its contacts' names, e-mails and job titles, the serials and names of
the machines it holds now, and the digit suffixes of every phone number (so
the last four digits find a number: FTS5 only matches from a word's start).
Triggers rebuild a customer's row whenever anything feeding it changes, so
no code path, the sqlite3 shell included, can leave the index behind.
"""

from peewee import SqliteDatabase

COLUMNS = "name, address, phone, email, web, contacts, equipment, digits, notes"


def refresh(ids: str) -> str:
    """SQL that rebuilds the rows of the customers whose ids ``ids`` (a subquery or list) yields."""
    return f"""
    DELETE FROM customer_search WHERE rowid IN ({ids});
    INSERT INTO customer_search(rowid, {COLUMNS})
    SELECT c.id, c.name,
      c.billing_street || ' ' || c.billing_postal_code || ' ' || c.billing_city || ' ' ||
        ifnull(c.billing_country, '') || ' ' || c.billing_state || ' ' ||
        c.shipping_street || ' ' || c.shipping_postal_code || ' ' || c.shipping_city || ' ' ||
        ifnull(c.shipping_country, '') || ' ' || c.shipping_state,
      c.phone, c.email, c.website_key,
      ifnull((SELECT group_concat(k.name || ' ' || k.email || ' ' || k.job_title, ' ')
              FROM contact k WHERE k.customer_id = c.id), ''),
      ifnull((SELECT group_concat(e.serial || ' ' || e.name, ' ')
              FROM assignment a JOIN equipment e ON e.id = a.equipment_id
              WHERE a.customer_id = c.id AND a.unassigned_at IS NULL), ''),
      c.search_digits || ' ' || ifnull((SELECT group_concat(k.search_digits, ' ')
              FROM contact k WHERE k.customer_id = c.id), ''),
      c.notes
    FROM customer c WHERE c.id IN ({ids});
    """


TRIGGERS = {
    "customer_search_customer_insert": ("AFTER INSERT ON customer", refresh("new.id")),
    "customer_search_customer_update": ("AFTER UPDATE ON customer", refresh("new.id")),
    "customer_search_customer_delete": (
        "AFTER DELETE ON customer",
        "DELETE FROM customer_search WHERE rowid = old.id;",
    ),
    "customer_search_contact_insert": ("AFTER INSERT ON contact", refresh("new.customer_id")),
    "customer_search_contact_update": (
        "AFTER UPDATE ON contact",
        refresh("old.customer_id, new.customer_id"),
    ),
    "customer_search_contact_delete": ("AFTER DELETE ON contact", refresh("old.customer_id")),
    "customer_search_assignment_insert": ("AFTER INSERT ON assignment", refresh("new.customer_id")),
    "customer_search_assignment_update": (
        "AFTER UPDATE ON assignment",
        refresh("old.customer_id, new.customer_id"),
    ),
    "customer_search_equipment_update": (
        "AFTER UPDATE OF serial, name ON equipment",
        refresh(
            "SELECT a.customer_id FROM assignment a "
            "WHERE a.equipment_id = new.id AND a.unassigned_at IS NULL"
        ),
    ),
}


def up(migrator, db):
    if not isinstance(db, SqliteDatabase):
        raise RuntimeError("the customer search index is written for SQLite")
    db.execute_sql(
        f"CREATE VIRTUAL TABLE customer_search USING fts5({COLUMNS}, "
        "tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3')"
    )
    for name, (event, body) in TRIGGERS.items():
        db.execute_sql(f"CREATE TRIGGER {name} {event} BEGIN {body} END")
    # Index what an older database already holds.
    for statement in refresh("SELECT id FROM customer").split(";"):
        if statement.strip():
            db.execute_sql(statement)
    db.execute_sql("CREATE INDEX customer_name_nocase ON customer (name COLLATE NOCASE)")
