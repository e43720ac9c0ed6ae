"""Full-text index over every field of a customer, kept in step by triggers.

One FTS5 row per customer (rowid = customer id) holds the company's own
fields, its contacts' names, e-mails and job titles, the serials and names of
the machines it holds now, and the digit suffixes of every phone number (so
the last four digits find a number: FTS5 only matches from a word's start).
Triggers rebuild a customer's row whenever anything feeding it changes, so
no code path, the sqlite3 shell included, can leave the index behind.

On PostgreSQL the same text goes into one ``tsvector`` per customer
(``customer_search(customer_id, document)``, GIN index), kept by plpgsql triggers
of the same names. The text is folded by ``clientbook_words`` (unaccent, lower
case, every run of punctuation a space: FTS5's unicode61 with diacritics removed)
and searched with ``clientbook_prefix_query`` (the words of one typed term as a
phrase whose last word is a prefix: FTS5's ``"w1 w2"*``). A bulk import pauses the
triggers with ``SET LOCAL clientbook.search_paused = 'on'`` and rebuilds its
customers with ``customer_search_refresh(ids)`` (tui/domain/imports/searchindex.py).
The extensions ``unaccent`` and ``pg_trgm`` (PostgreSQL's contrib, trusted since 13)
are created here; ``pg_trgm`` indexes let the fleet's ``ILIKE '%word%'`` use an index.
"""

from peewee import PostgresqlDatabase, SqliteDatabase

from tui.domain.errors import DatabaseError
from tui.i18n import _

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


# --- PostgreSQL -------------------------------------------------------------------------

EXTENSIONS = ("unaccent", "pg_trgm")

PG_FUNCTIONS = r"""
CREATE FUNCTION clientbook_words(t text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
  $$ SELECT btrim(regexp_replace(
       lower(public.unaccent('public.unaccent'::regdictionary, coalesce(t, ''))),
       '[^[:alnum:]]+', ' ', 'g')) $$;

CREATE FUNCTION clientbook_prefix_query(t text) RETURNS tsquery
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
  $$ SELECT CASE WHEN clientbook_words(t) = '' THEN NULL ELSE
       to_tsquery('simple', array_to_string(
         (SELECT array_agg(quote_literal(w) ORDER BY n)
          FROM unnest(string_to_array(clientbook_words(t), ' ')) WITH ORDINALITY AS u(w, n)),
         ' <-> ') || ':*') END $$;

CREATE TABLE customer_search (customer_id bigint PRIMARY KEY, document tsvector NOT NULL);
CREATE INDEX customer_search_document ON customer_search USING gin (document);

CREATE FUNCTION customer_search_refresh(ids bigint[]) RETURNS void
  LANGUAGE sql VOLATILE AS
  $$
  DELETE FROM customer_search WHERE customer_id = ANY(ids);
  INSERT INTO customer_search (customer_id, document)
  SELECT c.id, to_tsvector('simple', clientbook_words(concat_ws(' ',
    c.name,
    c.billing_street, c.billing_postal_code, c.billing_city, c.billing_country, c.billing_state,
    c.shipping_street, c.shipping_postal_code, c.shipping_city, c.shipping_country,
    c.shipping_state,
    c.phone, c.email, c.website_key,
    (SELECT string_agg(concat_ws(' ', k.name, k.email, k.job_title), ' ')
     FROM contact k WHERE k.customer_id = c.id),
    (SELECT string_agg(concat_ws(' ', e.serial, e.name), ' ')
     FROM assignment a JOIN equipment e ON e.id = a.equipment_id
     WHERE a.customer_id = c.id AND a.unassigned_at IS NULL),
    c.search_digits,
    (SELECT string_agg(k.search_digits, ' ') FROM contact k WHERE k.customer_id = c.id),
    c.notes)))
  FROM customer c WHERE c.id = ANY(ids);
  $$;

CREATE FUNCTION customer_search_paused() RETURNS boolean
  LANGUAGE sql STABLE AS
  $$ SELECT coalesce(current_setting('clientbook.search_paused', true), '') = 'on' $$;

CREATE FUNCTION customer_search_on_customer() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF customer_search_paused() THEN RETURN NULL; END IF;
  IF TG_OP = 'DELETE' THEN
    DELETE FROM customer_search WHERE customer_id = OLD.id;
  ELSE
    PERFORM customer_search_refresh(ARRAY[NEW.id]::bigint[]);
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION customer_search_on_contact_or_assignment() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF customer_search_paused() THEN RETURN NULL; END IF;
  IF TG_OP = 'INSERT' THEN
    PERFORM customer_search_refresh(ARRAY[NEW.customer_id]::bigint[]);
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM customer_search_refresh(ARRAY[OLD.customer_id]::bigint[]);
  ELSE
    PERFORM customer_search_refresh(ARRAY[OLD.customer_id, NEW.customer_id]::bigint[]);
  END IF;
  RETURN NULL;
END $$;

CREATE FUNCTION customer_search_on_equipment() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF customer_search_paused() THEN RETURN NULL; END IF;
  PERFORM customer_search_refresh(ARRAY(
    SELECT a.customer_id FROM assignment a
    WHERE a.equipment_id = NEW.id AND a.unassigned_at IS NULL)::bigint[]);
  RETURN NULL;
END $$;
"""

# The same names as on SQLite: name -> (event, function).
PG_TRIGGERS = {
    "customer_search_customer_insert": ("AFTER INSERT ON customer", "customer_search_on_customer"),
    "customer_search_customer_update": ("AFTER UPDATE ON customer", "customer_search_on_customer"),
    "customer_search_customer_delete": ("AFTER DELETE ON customer", "customer_search_on_customer"),
    "customer_search_contact_insert": ("AFTER INSERT ON contact",
                                       "customer_search_on_contact_or_assignment"),
    "customer_search_contact_update": ("AFTER UPDATE ON contact",
                                       "customer_search_on_contact_or_assignment"),
    "customer_search_contact_delete": ("AFTER DELETE ON contact",
                                       "customer_search_on_contact_or_assignment"),
    "customer_search_assignment_insert": ("AFTER INSERT ON assignment",
                                          "customer_search_on_contact_or_assignment"),
    "customer_search_assignment_update": ("AFTER UPDATE ON assignment",
                                          "customer_search_on_contact_or_assignment"),
    "customer_search_equipment_update": ("AFTER UPDATE OF serial, name ON equipment",
                                         "customer_search_on_equipment"),
}

# ILIKE '%word%' searches (the fleet) find their rows through these instead of reading
# every row: 600 ms -> 1 to 4 ms at 100,000 machines (pg-plan 1.4).
PG_TRIGRAM_INDEXES = {
    "equipment_serial_trgm": ("equipment", "serial"),
    "equipment_name_trgm": ("equipment", "name"),
    "equipment_make_trgm": ("equipment", "make"),
    "equipment_model_trgm": ("equipment", "model"),
    "equipment_type_trgm": ("equipment", "type"),
    "customer_name_trgm": ("customer", "name"),
}


def _create_extensions(db) -> None:
    for extension in EXTENSIONS:
        try:
            with db.atomic():  # a savepoint: the refusal must not abort the migration's transaction
                db.execute_sql(f"CREATE EXTENSION IF NOT EXISTS {extension} SCHEMA public")
        except Exception as error:  # the driver's error: missing files or missing privilege
            text = str(error).strip()
            reason = text.splitlines()[0] if text else type(error).__name__
            raise DatabaseError(_(
                "The PostgreSQL extension {extension} could not be created ({reason}). "
                "Clientbook needs unaccent and pg_trgm: install the server's contrib package "
                "(postgresql-contrib) and use PostgreSQL 13 or newer, where the database owner "
                "may create them, or have a superuser run CREATE EXTENSION unaccent; "
                "CREATE EXTENSION pg_trgm; in this database.").format(
                    extension=extension, reason=reason)) from None


def up_postgresql(db) -> None:
    _create_extensions(db)
    db.execute_sql(PG_FUNCTIONS)
    for name, (event, function) in PG_TRIGGERS.items():
        db.execute_sql(f"CREATE TRIGGER {name} {event} FOR EACH ROW EXECUTE FUNCTION {function}()")
    # Index what an older database already holds (none yet: this keeps the two paths alike).
    db.execute_sql("SELECT customer_search_refresh(ARRAY(SELECT id FROM customer)::bigint[])")
    db.execute_sql("CREATE INDEX customer_name_nocase ON customer (lower(name), id)")
    # The list's other orders (search.PG_SORTS): a page past COUNT_CAP matches walks them.
    # 100,000 customers, sorted by city: 170 -> 16 ms with no search, 540 -> 64 ms for 'n'.
    db.execute_sql("CREATE INDEX customer_city_nocase ON customer"
                   " (lower(billing_city), lower(name), id)")
    db.execute_sql("CREATE INDEX customer_segment_name ON customer (segment, lower(name), id)")
    for name, (table, column) in PG_TRIGRAM_INDEXES.items():
        db.execute_sql(f"CREATE INDEX {name} ON {table} USING gin ({column} gin_trgm_ops)")


def up(migrator, db):
    if isinstance(db, PostgresqlDatabase):
        up_postgresql(db)
        return
    if not isinstance(db, SqliteDatabase):
        raise RuntimeError("the customer search index is written for SQLite and PostgreSQL")
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
