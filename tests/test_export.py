"""Export as CSV, JSON and vCard 4.0, and the round trip export -> import into an empty database.

The vCard output is read back with the small RFC 6350 parser below (unfolding,
escapes, structured values), not with a library, so the test needs nothing extra.
"""

from __future__ import annotations

import csv
import io
import json

import pytest

from tui.domain.context import Actor, Context
from tui.domain.errors import PermissionDenied, ValidationError
from tui.domain.imports import (
    ImportOptions,
    export,
    export_to_path,
    import_file,
    preview_mapping,
)
from tui.domain.imports.exporter import COLUMNS, escape_text, fold_line, guard_cell
from tui.domain.models import ALL_MODELS
from tui.domain.services.contacts import ContactDraft
from tui.domain.services.equipment import assign_equipment

pytestmark = pytest.mark.both_backends


def exported(ctx, what, fmt, search=None) -> str:
    out = io.StringIO(newline="")
    export(ctx, what, fmt, out, search=search)
    return out.getvalue()


def csv_rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


# ---------------------------------------------------------------- a minimal vCard reader


def unfold(text: str) -> list[str]:
    assert text.endswith("\r\n"), "a vCard stream ends with CRLF"
    physical = text[:-2].split("\r\n")
    assert all("\n" not in line and "\r" not in line for line in physical), "bare LF or CR"
    assert all(len(line.encode("utf-8")) <= 75 for line in physical), "line not folded"
    lines: list[str] = []
    for line in physical:
        if line.startswith((" ", "\t")):
            lines[-1] += line[1:]
        else:
            lines.append(line)
    return lines


def split_escaped(value: str, separator: str) -> list[str]:
    parts, current, escaped = [], "", False
    for char in value:
        if escaped:
            current += "\\" + char
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == separator:
            parts.append(current)
            current = ""
        else:
            current += char
    return parts + [current]


def unescape(value: str) -> str:
    out, escaped = "", False
    for char in value:
        if escaped:
            out += "\n" if char in "nN" else char
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            out += char
    return out


def parse_vcards(text: str) -> list[dict[str, list[tuple[list[str], str]]]]:
    cards, card = [], None
    for line in unfold(text):
        head, _colon, value = line.partition(":")
        name, *params = head.split(";")
        if name == "BEGIN":
            assert value == "VCARD" and card is None
            card = {}
        elif name == "END":
            assert value == "VCARD"
            cards.append(card)
            card = None
        else:
            card.setdefault(name.upper(), []).append((params, value))
    assert card is None, "a card was not closed"
    return cards


# ---------------------------------------------------------------- CSV and JSON


def test_csv_headers_are_ones_the_importer_recognises():
    for what, columns in COLUMNS.items():
        headers = [header for header, _key in columns]
        preview = preview_mapping(what, headers)
        assert preview.ok and preview.unknown == [], (what, preview.problems)
        assert [c.field for c in preview.columns] == [key for _h, key in columns], what


def test_customers_csv_and_json(admin, make_customer):
    make_customer("Nordic Kran ApS", phone="+45 12 34 56 78 x9", email="info@kran.example",
                  notes="line one\nline two", groups=("Key accounts", "North"),
                  billing_city="Vejle", notify_event_types=())
    rows = csv_rows(exported(admin, "customers", "csv"))
    assert len(rows) == 1
    row = rows[0]
    assert row["External ID"] == "clientbook-1" and row["Name"] == "Nordic Kran ApS"
    assert row["Phone"] == "'+4512345678;ext=9"  # guarded: a spreadsheet would compute +45...
    assert row["Notes"] == "line one\nline two" and row["Groups"] == "Key accounts; North"
    assert row["Country"] == "DK" and row["Shipping same as billing"] == "yes"
    assert row["Notify event types"] == "none"
    [record] = json.loads(exported(admin, "customers", "json"))
    assert record["phone"] == "+4512345678;ext=9" and record["groups"] == ["Key accounts", "North"]
    assert record["id"] == 1 and record["notify_event_types"] == []


def test_formula_cells_get_a_leading_quote_in_csv_only(admin, make_customer):
    make_customer("=HYPERLINK(\"http://evil.example\",\"click\")", notes="@SUM(A1:A9)",
                  contacts=(ContactDraft(name="-Minus", job_title="+Plus"),))
    customers = csv_rows(exported(admin, "customers", "csv"))
    assert customers[0]["Name"] == "'=HYPERLINK(\"http://evil.example\",\"click\")"
    assert customers[0]["Notes"] == "'@SUM(A1:A9)"
    contacts = csv_rows(exported(admin, "contacts", "csv"))
    assert (contacts[0]["Name"], contacts[0]["Job title"]) == ("'-Minus", "'+Plus")
    assert contacts[0]["Customer"] == "'=HYPERLINK(\"http://evil.example\",\"click\")"
    assert json.loads(exported(admin, "contacts", "json"))[0]["name"] == "-Minus"
    assert [guard_cell(v) for v in ("\tx", "\rx", "a=b", "", None, 7)] == [
        "'\tx", "'\rx", "a=b", "", "", "7"]


def test_equipment_csv_names_the_holder(admin, make_customer, make_machine):
    holder = make_customer("Holder ApS")
    machine = make_machine("SN-9", make="Volvo", year=2020)
    make_machine("SN-10")
    assign_equipment(admin, holder.id, [machine.id])
    rows = csv_rows(exported(admin, "equipment", "csv"))
    assert [(r["Serial number"], r["Customer"], r["Customer external ID"], r["Year"])
            for r in rows] == [("SN-9", "Holder ApS", f"clientbook-{holder.id}", "2020"),
                               ("SN-10", "", "", "")]


def test_search_keeps_what_the_searches_find(admin, make_customer, make_machine):
    kran = make_customer("Kran Udlejning ApS", contacts=(ContactDraft(name="Ida Holm"),))
    make_customer("Bâtir SARL", billing_country="FR", contacts=(ContactDraft(name="Léa"),))
    digger = make_machine("EXC-1", name="Excavator")
    make_machine("LFT-2", name="Lift")
    assign_equipment(admin, kran.id, [digger.id])
    assert [r["Name"] for r in csv_rows(exported(admin, "customers", "csv", "batir"))] == [
        "Bâtir SARL"]
    assert [r["Name"] for r in csv_rows(exported(admin, "contacts", "csv", "kran"))] == [
        "Ida Holm"]
    assert [r["Serial number"] for r in csv_rows(exported(admin, "equipment", "csv",
                                                          "excavator"))] == ["EXC-1"]
    assert csv_rows(exported(admin, "customers", "csv", "nothing-like-this")) == []


# ---------------------------------------------------------------- vCard


def test_vcards_parse_back(admin, make_customer):
    long_org = "Société Générale de Location d'Équipements et de Matériel de Chantier, Lyon"
    make_customer(long_org, billing_country="FR", contacts=(
        ContactDraft(name="Zoé Lefèvre-Dubois", email="zoe@example.fr", phone="04 72 00 00 00 x7",
                     job_title="Chef; de chantier, Nord\\Sud", roles=("billing", "notify")),
        ContactDraft(name="Cher"),
    ))
    text = exported(admin, "contacts", "vcard")
    cards = parse_vcards(text)
    assert len(cards) == 2
    zoe, cher = cards
    assert zoe["VERSION"] == [([], "4.0")]
    assert unescape(zoe["FN"][0][1]) == "Zoé Lefèvre-Dubois"
    family, given, *rest = split_escaped(zoe["N"][0][1], ";")
    assert (unescape(family), unescape(given), rest) == ("Lefèvre-Dubois", "Zoé", ["", "", ""])
    assert unescape(zoe["ORG"][0][1]) == long_org
    assert unescape(zoe["TITLE"][0][1]) == "Chef; de chantier, Nord\\Sud"
    assert len(split_escaped(zoe["TITLE"][0][1], ",")) == 1  # its comma is escaped
    assert zoe["EMAIL"] == [(["TYPE=work"], "zoe@example.fr")]
    params, uri = zoe["TEL"][0]
    assert "VALUE=uri" in params and uri == "tel:+33472000000;ext=7"
    assert [unescape(v) for v in split_escaped(zoe["CATEGORIES"][0][1], ",")] == [
        "Billing", "Notify about equipment events"]
    assert zoe["UID"][0][1].startswith("urn:uuid:") and zoe["UID"] != cher["UID"]
    assert "TEL" not in cher and "EMAIL" not in cher
    assert split_escaped(cher["N"][0][1], ";")[:2] == ["Cher", ""]
    assert any(line.startswith(" ") for line in text.split("\r\n")), "the ORG line is folded"
    assert exported(admin, "contacts", "vcard") == text  # stable UIDs


def test_folding_never_splits_a_character():
    line = "ORG:" + "é" * 60  # 124 octets
    folded = fold_line(line)
    pieces = folded.split("\r\n ")
    assert "".join(pieces) == line
    assert all(len(p.encode()) <= 74 for p in pieces[1:]) and len(pieces[0].encode()) <= 75
    assert escape_text("a,b;c\\d\ne") == "a\\,b\\;c\\\\d\\ne"


# ---------------------------------------------------------------- permissions and arguments


def test_export_needs_data_export_and_the_view_permission(as_role, db, config, tmp_path):
    for role in ("limited", "estimator"):
        with pytest.raises(PermissionDenied, match="export data"):
            exported(as_role(role), "customers", "csv")
    viewer = Context(db, config, Actor("vi", "custom", frozenset({"data.export",
                                                                 "customer.view"})))
    assert exported(viewer, "customers", "csv").startswith("External ID,")
    with pytest.raises(PermissionDenied, match="view contacts"):
        exported(viewer, "contacts", "vcard")
    with pytest.raises(PermissionDenied, match="view equipment"):
        export_to_path(viewer, "equipment", "csv", tmp_path / "e.csv")
    assert not (tmp_path / "e.csv").exists()
    assert exported(as_role("account_owner"), "equipment", "json") == "[]\n"


@pytest.mark.parametrize("what, fmt", [("customers", "vcard"), ("invoices", "csv"),
                                       ("equipment", "xml")])
def test_unknown_exports_are_refused(admin, what, fmt):
    with pytest.raises(ValidationError):
        exported(admin, what, fmt)


# ---------------------------------------------------------------- round trip


def business_state(db) -> dict:
    """Customers, contacts, groups, machines and who holds them, by value: no ids, no
    external ids (a round trip gives each customer the one it was exported with)."""
    def q(sql):
        return sorted(db.execute_sql(sql).fetchall(), key=repr)

    return {
        "customers": q("SELECT name, phone, email, website, billing_street, billing_postal_code,"
                       " billing_city, billing_country, billing_state, shipping_same_as_billing,"
                       " shipping_street, shipping_postal_code, shipping_city, shipping_country,"
                       " shipping_state, segment, currency, language, notify_event_types, notes,"
                       " name_key, email_key, website_key, search_digits FROM customer"),
        "contacts": q("SELECT c.name, c.phone, k.name, k.email, k.phone, k.job_title, k.roles,"
                      " k.search_digits FROM contact k JOIN customer c ON c.id = k.customer_id"),
        "groups": q("SELECT c.name, c.phone, g.name FROM group_membership m JOIN customer c"
                    " ON c.id = m.customer_id JOIN customer_group g ON g.id = m.group_id"),
        "equipment": q("SELECT serial, name, make, model, type, year, date(retired_at)"
                       " FROM equipment"),
        "held": q("SELECT e.serial, c.name, c.phone FROM assignment a"
                  " JOIN equipment e ON e.id = a.equipment_id JOIN customer c"
                  " ON c.id = a.customer_id WHERE a.unassigned_at IS NULL"),
    }


def test_demo_data_exported_then_imported_into_an_empty_database_comes_back(admin, db, config,
                                                                            tmp_path, fresh_target):
    from tui.domain.database import open_database
    from tui.domain.demo import populate

    populate(admin, customers=30)
    files = {what: tmp_path / f"{what}.csv" for what in ("customers", "contacts", "equipment")}
    texts = {}
    for what, path in files.items():
        export_to_path(admin, what, "csv", path)
        texts[what] = path.read_bytes()
    original = business_state(db)
    assert len(original["held"]) > 5 and len(original["contacts"]) > 30
    empty = open_database(fresh_target())
    try:
        role = config.roles["fleet_administrator"]
        ctx = Context(empty, config, Actor("mia", "fleet_administrator", role.permissions))
        for what, path in files.items():
            report = import_file(ctx, what, path, options=ImportOptions(batch_size=7))
            assert report.rejected == 0, report.errors
        assert business_state(empty) == original
        for what, path in files.items():  # and exported again, it is the same file
            export_to_path(ctx, what, "csv", path)
            assert path.read_bytes() == texts[what], what
    finally:
        empty.close()
        db.bind(ALL_MODELS)


def test_an_export_imported_into_its_own_database_changes_nothing(admin, db, tmp_path):
    from tui.domain.demo import populate

    populate(admin, customers=12)
    before = business_state(db)
    for what in ("customers", "contacts", "equipment"):
        path = tmp_path / f"{what}.csv"
        export_to_path(admin, what, "csv", path)
        report = import_file(admin, what, path, options=ImportOptions(on_match="update"))
        assert report.created == 0 and report.updated == 0 and report.rejected == 0, (
            what, report.summary(), report.errors[:3])
    assert business_state(db) == before
