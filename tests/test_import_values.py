"""Bulk import, the parts that need no database: reading files, mapping headers, messy values."""

from __future__ import annotations

from datetime import date

import pytest

from tui.domain.imports.mapping import (
    FIELDS,
    MappingError,
    parse_mapping,
    preview_mapping,
    resolve_field,
)
from tui.domain.imports.reading import ImportFileError, open_csv
from tui.domain.imports.values import (
    choice_key,
    choice_keys,
    country_text,
    currency_text,
    fold,
    join_name,
    parse_bool,
    parse_date,
    phone_text,
    split_list,
    split_name,
    unescape_cell,
    year_text,
)
from tui.domain.validation import FieldError, normalize_country, normalize_phone

# ---------------------------------------------------------------- reading


def write(path, text: str, encoding: str = "utf-8") -> object:
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize("encoding, expected", [
    ("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("cp1252", "cp1252"),
])
def test_encodings_are_detected_and_read(tmp_path, encoding, expected):
    text = "Société,Ville,Notes\nÉlan SARL,Orléans,Coût 5 € — « ça »\n"
    source = open_csv(write(tmp_path / "f.csv", text, encoding))
    assert source.encoding == expected
    assert source.headers == ("Société", "Ville", "Notes")
    assert list(source.rows()) == [(2, ["Élan SARL", "Orléans", "Coût 5 € — « ça »"])]


def test_latin1_bytes_that_windows_1252_leaves_undefined_are_read_as_latin1(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes("Nom;Notes\nZoé;x".encode("latin-1") + b"\x81\n")
    source = open_csv(path)
    assert source.encoding == "latin-1"
    assert list(source.rows()) == [(2, ["Zoé", "x\x81"])]


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_delimiter_is_detected(tmp_path, delimiter):
    rows = [["Name", "City", "Notes"], ["Acme, Inc.", "Lyon", "a;b"], ["Beta", "Nice", ""]]
    quoted = [delimiter.join(f'"{c}"' if ("," in c or ";" in c) else c for c in row)
              for row in rows]
    source = open_csv(write(tmp_path / "f.csv", "\n".join(quoted) + "\n"))
    assert source.delimiter == delimiter
    assert [values for _line, values in source.rows()] == rows[1:]


def test_rows_report_the_line_where_a_row_starts(tmp_path):
    text = ('Name,Notes\r\n'
            'Acme,"first line\r\nsecond line\r\nthird"\r\n'
            '\r\n'
            'Beta,plain\r\n'
            'Gamma,"x\ny"\n'
            'Delta\n')
    source = open_csv(write(tmp_path / "f.csv", text))
    rows = list(source.rows())
    assert [line for line, _values in rows] == [2, 6, 7, 9]
    assert rows[0][1] == ["Acme", "first line\r\nsecond line\r\nthird"]
    assert rows[3][1] == ["Delta", ""]  # short rows are padded
    assert source.total_lines == 9
    assert [line for line, _v in source.rows(after_line=6)] == [7, 9]


def test_header_after_blank_lines_and_sha256(tmp_path):
    source = open_csv(write(tmp_path / "f.csv", "\n\nName\nAcme\n"))
    assert source.header_line == 3 and source.headers == ("Name",)
    assert list(source.rows()) == [(4, ["Acme"])]
    assert len(source.sha256) == 64


@pytest.mark.parametrize("content, message", [
    (None, "No file"), ("", "is empty"), ("\n\n", "is empty"),
])
def test_unreadable_files_give_a_sentence(tmp_path, content, message):
    path = tmp_path / "f.csv"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ImportFileError, match=message):
        open_csv(path)


def test_a_folder_is_refused(tmp_path):
    with pytest.raises(ImportFileError, match="folder"):
        open_csv(tmp_path)


def test_a_csv_error_names_the_line(tmp_path, monkeypatch):
    import csv

    monkeypatch.setattr(csv, "field_size_limit", csv.field_size_limit)
    old = csv.field_size_limit(100)
    try:
        source = open_csv(write(tmp_path / "f.csv", "Name,Notes\nA,b\nB," + "x" * 500 + "\n"))
        with pytest.raises(ImportFileError, match="line 3"):
            list(source.rows())
    finally:
        csv.field_size_limit(old)


# ---------------------------------------------------------------- mapping


def test_english_headers_are_recognised():
    headers = ["Company", "Phone", "E-mail", "Address", "City", "Postal code", "Country",
               "State", "Website", "Notes", "Segment", "Currency", "Language", "Groups",
               "External ID", "Contact name", "Job title", "Contact e-mail", "Contact phone",
               "Roles"]
    preview = preview_mapping("customers", headers)
    assert preview.ok, preview.problems
    assert [c.field for c in preview.columns] == [
        "name", "phone", "email", "billing_street", "billing_city", "billing_postal_code",
        "billing_country", "billing_state", "website", "notes", "segment", "currency",
        "language", "groups", "external_id", "contact_name", "contact_job_title",
        "contact_email", "contact_phone", "contact_roles"]


def test_french_headers_are_recognised_whatever_the_case_accents_and_spaces():
    headers = ["  SOCIETE ", "Téléphone", "courriel", "Adresse", "ville", "Code Postal", "pays",
               "Région", "Site web", "Devise", "Langue", "Groupes", "Référence", "Prénom",
               "Nom de famille", "Fonction", "Raison sociale"]
    preview = preview_mapping("customers", headers)
    fields = [c.field for c in preview.columns]
    assert fields[:16] == [
        "name", "phone", "email", "billing_street", "billing_city", "billing_postal_code",
        "billing_country", "billing_state", "website", "currency", "language", "groups",
        "external_id", "contact_first_name", "contact_last_name", "contact_job_title"]
    # a second column for the company name is reported, not used twice
    assert preview.columns[16].field is None and preview.columns[16].how == "duplicate"
    assert "SOCIETE" in preview.columns[16].note


@pytest.mark.parametrize("headers, expected", [
    (["Nom", "Téléphone"], ["name", "phone"]),  # the company's name
    (["Société", "Nom"], ["name", "contact_name"]),  # a person's name beside the company
    (["Société", "Prénom", "Nom"], ["name", "contact_first_name", "contact_last_name"]),
])
def test_a_bare_name_column_reads_as_its_neighbours_suggest(headers, expected):
    assert [c.field for c in preview_mapping("customers", headers).columns] == expected


def test_contacts_and_equipment_files_have_their_own_headers():
    contacts = preview_mapping("contacts", ["Client", "Prénom", "Nom", "Portable", "Rôles",
                                            "Poste", "Code client"])
    assert [c.field for c in contacts.columns] == [
        "customer", "first_name", "last_name", "phone", "roles", "job_title",
        "customer_external_id"]
    equipment = preview_mapping("equipment", ["Numéro de série", "Marque", "Modèle", "Type",
                                              "Année", "Client", "Nom"])
    assert [c.field for c in equipment.columns] == [
        "serial", "make", "model", "type", "year", "customer", "name"]


def test_explicit_mapping_overrides_recognition_and_can_ignore():
    explicit = parse_mapping(["Société=name", "Nom=contact name", "Tel=", "Divers=notes"])
    preview = preview_mapping("customers", ["Société", "Nom", "Tel", "Divers", "Bizarre"],
                              explicit)
    assert preview.ok
    assert preview.fields == {"name": 0, "contact_name": 1, "notes": 3}
    assert [(c.header, c.how) for c in preview.columns] == [
        ("Société", "explicit"), ("Nom", "explicit"), ("Tel", "ignored"),
        ("Divers", "explicit"), ("Bizarre", "unknown")]
    assert preview.ignored == ["Tel", "Bizarre"] and preview.unknown == ["Bizarre"]
    text = "\n".join(preview.describe())
    assert "Bizarre: ignored (not recognised)" in text and "Tel: ignored" in text
    assert preview.as_mapping() == {"Société": "name", "Nom": "contact_name", "Tel": None,
                                    "Divers": "notes", "Bizarre": None}


def test_explicit_mapping_problems_are_reported_not_guessed():
    preview = preview_mapping("customers", ["Firma", "Tlf"],
                              {"Firmanavn X": "name", "Tlf": "fax number"})
    assert not preview.ok
    problems = " ".join(preview.problems)
    assert '"Firmanavn X"' in problems and "does not have" in problems
    assert "fax number" in problems and "names no field" in problems


def test_required_fields_without_a_column_are_problems():
    assert not preview_mapping("customers", ["Phone"]).ok
    assert "serial" in " ".join(preview_mapping("equipment", ["Make"]).problems)
    contacts = preview_mapping("contacts", ["E-mail"])
    assert len(contacts.problems) == 2
    lonely = preview_mapping("customers", ["Company", "Contact phone"])
    assert "no contact name column" in " ".join(lonely.problems)


def test_two_explicit_columns_for_one_field_are_a_problem():
    preview = preview_mapping("customers", ["A", "B"], {"A": "name", "B": "name"})
    assert "both mapped to name" in " ".join(preview.problems)


def test_error_file_columns_are_ignored_quietly():
    preview = preview_mapping("customers", ["error_line", "error_field", "error_message", "Name"])
    assert preview.ok and preview.unknown == [] and preview.fields == {"name": 3}


@pytest.mark.parametrize("spec", ["Société", "=name"])
def test_unreadable_mapping_specs(spec):
    with pytest.raises(MappingError):
        parse_mapping([spec])


def test_fields_can_be_named_by_their_aliases_and_no_alias_is_ambiguous():
    assert resolve_field("customers", "Téléphone") == "phone"
    assert resolve_field("customers", "billing_city") == "billing_city"
    with pytest.raises(MappingError):
        resolve_field("invoices", "name")
    for kind, fields in FIELDS.items():
        owner = {}
        for name, aliases in fields.items():
            for alias in (name, *aliases):
                assert owner.setdefault(fold(alias), name) == name, (kind, alias)


# ---------------------------------------------------------------- messy values


@pytest.mark.parametrize("text, region, expected", [
    ("+45 12 34 56 78 x123", None, "+4512345678;ext=123"),
    ("Tél. : 01 23 45 67 89 poste 12", "FR", "+33123456789;ext=12"),
    ("(713) 555-0123 ext. 4", "US", "+17135550123;ext=4"),
    ("12 34 56 78", "DK", "+4512345678"),
    ("020 7946 0123", "GB", "+442079460123"),
    ("+44 (0)20 7946 0123", None, "+442079460123"),
    ("0045 12 34 56 78", None, "+4512345678"),
    ("Mobile: +45 20 30 40 50", None, "+4520304050"),
])
def test_phones_in_national_form_and_with_extensions(text, region, expected):
    assert normalize_phone(phone_text(text), region) == expected


@pytest.mark.parametrize("text, expected", [
    ("Allemagne", "DE"), ("Germany", "DE"), ("de", "DE"), ("DEU", "DE"), ("Danemark", "DK"),
    ("États-Unis", "US"), ("U.S.A.", "US"), ("Royaume-Uni", "GB"), ("England", "GB"),
    ("Suisse", "CH"), ("Holland", "NL"),
])
def test_countries_by_code_or_english_or_french_name(text, expected):
    assert normalize_country(country_text(text)) == expected


def test_an_unknown_country_stays_as_written_for_validation_to_refuse():
    assert country_text("Atlantis") == "Atlantis"
    with pytest.raises(FieldError, match="Unknown country: Atlantis"):
        normalize_country(country_text("Atlantis"))


@pytest.mark.parametrize("text, expected", [
    ("31/12/2026", date(2026, 12, 31)), ("1.3.26", date(2026, 3, 1)),
    ("05-06-1999", date(1999, 6, 5)), ("2026-03-01", date(2026, 3, 1)),
    ("2026-03-01T10:00:00Z", date(2026, 3, 1)), ("2026/03/01", date(2026, 3, 1)),
    ("", None),
])
def test_dates_day_month_year_or_iso(text, expected):
    assert parse_date(text) == expected


@pytest.mark.parametrize("text, message", [("31/02/2026", "no such day"),
                                           ("March 3rd", "day/month/year")])
def test_impossible_dates_say_why(text, message):
    with pytest.raises(FieldError, match=message):
        parse_date(text)


@pytest.mark.parametrize("text, expected", [
    ("yes", True), ("Oui", True), ("x", True), ("1", True), ("VRAI", True), ("ja", True),
    ("no", False), ("non", False), ("0", False), ("faux", False), ("-", False), ("", None),
])
def test_booleans(text, expected):
    assert parse_bool(text) is expected


def test_a_non_boolean_is_refused():
    with pytest.raises(FieldError, match='Not yes or no: "peut-être"'):
        parse_bool("peut-être")


def test_lists_names_and_choices(config):
    assert split_list("billing, notify") == ("billing", "notify")
    assert split_list("A, B; C") == ("A, B", "C")  # semicolons win
    assert split_list(" ; ") == ()
    assert join_name(" Jean ", "Dupont") == "Jean Dupont" and join_name("", "Curie") == "Curie"
    assert split_name("Anne Marie Dupont") == ("Anne Marie", "Dupont")
    assert split_name("Cher") == ("", "Cher")
    assert choice_key(config.segments, "Revendeur") == "dealer"
    assert choice_key(config.segments, "RENTAL company") == "rental_company"
    assert choice_key(config.segments, "Martians") == "Martians"
    assert choice_keys(config.contact_roles, "Facturation; Notifié des événements d'équipement"
                       ) == ("billing", "notify")


def test_currencies_cells_and_years():
    assert currency_text("€") == "EUR" and currency_text("euros") == "EUR"
    assert currency_text("usd") == "usd"  # left for validation, which upper-cases codes
    assert unescape_cell("'+4512345678") == "+4512345678"
    assert unescape_cell("'=1+1") == "=1+1"
    assert unescape_cell("'quoted'") == "'quoted'"
    assert year_text("2019.0") == "2019" and year_text("15/03/2019") == "2019"
    assert year_text("soon") == "soon"
