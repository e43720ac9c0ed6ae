"""Hostile input against every validator and the services' validate functions.

Arbitrary unicode (lone surrogates included), control characters, terminal escape
sequences, Rich/Textual markup, format placeholders and very long strings. Each check
either returns the canonical value, free of anything a terminal would act on, or
refuses with FieldError / ValidationError; never another exception. The messages of
those refusals are printed to terminals too (CLI stderr, the TUI), so they must be
inert as well. tests/test_validation.py (bottom) already holds round-trip properties
for e-mail, phone, country and website on plainer text; this file adds the hostile
alphabets, the services and the messages.
"""

from __future__ import annotations

import unicodedata
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from functools import lru_cache
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tui.domain import validation
from tui.domain.config import load_config
from tui.domain.errors import ValidationError
from tui.domain.imports import mapping as import_mapping
from tui.domain.imports import values as import_values
from tui.domain.models import AuditEvent, Contact, Customer, Equipment
from tui.domain.services import contacts, customers, documents, equipment, estimates, events
from tui.domain.services import projects
from tui.domain.services.contacts import ContactDraft
from tui.domain.services.customers import CustomerDraft
from tui.domain.services.equipment import EquipmentDraft
from tui.domain.validation import LIMITS, Errors, FieldError, clean_text

pytestmark = pytest.mark.both_backends

PROPERTY = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])
FEWER = settings(PROPERTY, max_examples=60)

# What a terminal would act on: C0/C1 controls (ESC, CSI 0x9b, OSC 0x9d, BEL...),
# DEL, lone surrogates and the bidi overrides/isolates that reorder what is shown.
ESCAPES = [
    "\x1b[31m", "\x1b[2J", "\x1b[H", "\x1b]0;pwned\x07",
    "\x1b]8;;http://evil\x1b\\x\x1b]8;;\x1b\\",
    "\x1bP+q\x1b\\", "\x9b2J", "\x9d0;t\x9c", "\x07", "\x08", "\x00", "\x7f", "\x85", "\r",
    "\u202e", "\u2066", "\ud800", "\udfff",
]
MARKUP = ["[bold red]X[/]", "[link=http://evil]y[/]", "[/]", "[@click=app.quit]q[/]",
          "$variable", "${HOME}", "{0}", "{name}", "{}", "%s", "%(x)s", "\\[b]", "[[b]]"]
ODD = ["e\u0301", "\ufb01", "\u200b", "\ufeff", "\u2028", "\u3000", "🧑\u200d🔧", "İ", "ß", "١٩٩٠",
       "Ⅻ", "\u00a0", "\t", "\n", "\r\n"]

HOSTILE = st.one_of(
    st.text(),
    st.text(st.characters(codec=None, exclude_categories=()), max_size=40),  # surrogates too
    st.lists(st.one_of(st.sampled_from(ESCAPES + MARKUP + ODD), st.text(max_size=6)),
             max_size=10).map("".join),
    st.builds(lambda chunk, times: chunk * times, st.text(min_size=1, max_size=4),
              st.integers(min_value=100, max_value=4000)),  # very long
)
MAYBE_TEXT = st.one_of(HOSTILE, st.none(), st.integers(), st.floats(), st.booleans())
NUMBERS = st.one_of(HOSTILE, st.integers(), st.decimals(allow_nan=True, allow_infinity=True),
                    st.none(), st.sampled_from(["1e3", "1,5", "1.000,25", "-0", "٣", "1_000"]))
DATES = st.one_of(HOSTILE, st.dates(), st.none(),
                  st.builds(lambda y, m, d: f"{y:04d}-{m:02d}-{d:02d}",
                            st.integers(0, 9999), st.integers(0, 13), st.integers(0, 32)))


def is_inert(char: str) -> bool:
    return not (unicodedata.category(char) in ("Cc", "Cs") or char in validation._BIDI_CONTROLS)


def assert_inert(text: str, *, multiline: bool = False) -> None:
    allowed = "\n\t" if multiline else ""
    bad = [c for c in text if c not in allowed and not is_inert(c)]
    assert not bad, (text, bad)


def assert_refusal_is_inert(error: FieldError | ValidationError) -> None:
    """Every message is a non-empty line free of controls and of anything that does not show."""
    messages = [error.message] if isinstance(error, FieldError) else list(error.errors.values())
    for message in messages:
        assert isinstance(message, str) and message.strip()
        assert_inert(message)
        assert "\n" not in message


# ---------------------------------------------------------------- clean_text


@PROPERTY
@given(HOSTILE, st.booleans(), st.booleans(), st.sampled_from([1, 20, 200, 10_000]))
@example("\x1b[31mRed\x1b[0m", False, False, 200)
@example("[bold red]X[/] $variable {0}", False, False, 200)
def test_clean_text_gives_inert_bounded_canonical_text_or_refuses(text, multiline, required,
                                                                  limit):
    try:
        result = clean_text(text, limit=limit, required=required, multiline=multiline)
    except FieldError as error:
        assert_refusal_is_inert(error)
        return
    assert_inert(result, multiline=multiline)
    assert len(result) <= limit
    assert unicodedata.is_normalized("NFC", result)
    assert result == result.strip()
    if required:
        assert result
    if not multiline:
        assert "\n" not in result and "\t" not in result and "  " not in result
    assert clean_text(result, limit=limit, required=required, multiline=multiline) == result


@PROPERTY
@given(st.lists(st.sampled_from(ESCAPES), min_size=1, max_size=3), st.text(max_size=20),
       st.booleans())
def test_anything_a_terminal_would_act_on_is_refused(escapes, filler, multiline):
    text = filler.join(escapes) + filler
    if multiline and all(e == "\r" for e in escapes):
        return  # a lone CR is a line break in a multi-line field
    if not multiline and all(e in ("\r",) for e in escapes):
        return  # and whitespace in a single-line one
    with pytest.raises(FieldError, match="Control characters are not allowed"):
        clean_text(text, limit=100_000, multiline=multiline)


@pytest.mark.parametrize("text", MARKUP)
def test_markup_and_placeholders_are_ordinary_text(text):
    assert clean_text(text, limit=100) == text


def test_not_text_is_refused_not_crashed():
    for value in (1, 1.5, b"bytes", ["x"], object()):
        with pytest.raises(FieldError, match="Expected text"):
            clean_text(value, limit=10)


# ---------------------------------------------------------------- the other validators

VALIDATORS = {
    "normalize_email": validation.normalize_email,
    "normalize_phone DK": lambda v: validation.normalize_phone(v, "DK"),
    "normalize_phone none": lambda v: validation.normalize_phone(v, None),
    "normalize_country": validation.normalize_country,
    "normalize_state US": lambda v: validation.normalize_state("US", v),
    "normalize_state DK": lambda v: validation.normalize_state("DK", v),
    "normalize_currency": validation.normalize_currency,
    "normalize_language": validation.normalize_language,
    "normalize_website": validation.normalize_website,
}


@pytest.mark.parametrize("name", list(VALIDATORS))
@PROPERTY
@given(text=MAYBE_TEXT)
def test_validators_return_inert_values_or_refuse_inertly(name, text):
    try:
        result = VALIDATORS[name](text)
    except FieldError as error:
        assert_refusal_is_inert(error)
        return
    if result is not None:
        assert isinstance(result, str)
        assert_inert(result)
        assert VALIDATORS[name](result) == result  # canonical: validating again changes nothing


@PROPERTY
@given(HOSTILE, HOSTILE)
def test_keys_and_display_helpers_never_raise(a, b):
    for key in (validation.name_key(a), validation.email_key(a), validation.website_key(a)):
        assert isinstance(key, str)
    validation.digit_suffixes(a, b)
    validation.format_phone(a, b[:2] or None)
    validation.country_name(a[:2] or None, b[:5] or "en")
    validation.requires_state(a)


# ---------------------------------------------------------------- the services' validators


@pytest.fixture(scope="module")
def shipped(config):
    return config


CUSTOMER_TEXT = ("name", "phone", "email", "website", "billing_street", "billing_postal_code",
                 "billing_city", "billing_country", "billing_state", "shipping_street",
                 "shipping_postal_code", "shipping_city", "shipping_country", "shipping_state",
                 "segment", "currency", "language", "notes")


@FEWER
@given(st.fixed_dictionaries({name: HOSTILE for name in CUSTOMER_TEXT}),
       st.booleans(), st.lists(HOSTILE, max_size=2), st.lists(HOSTILE, max_size=2),
       st.one_of(st.none(), st.lists(HOSTILE, max_size=2)))
def test_validate_customer_refuses_with_field_names_or_gives_inert_values(
        shipped, fields, same, groups, contact_names, notify):
    contact_drafts = tuple(ContactDraft(name=n, email=n, phone=n, job_title=n, roles=(n,))
                           for n in contact_names)
    draft = CustomerDraft(**fields, shipping_same_as_billing=same, groups=tuple(groups),
                          contacts=contact_drafts,
                          notify_event_types=None if notify is None else tuple(notify))
    try:
        values, group_names, contact_values = customers.validate_customer(shipped, draft)
    except ValidationError as error:
        assert_refusal_is_inert(error)
        known = set(CUSTOMER_TEXT) | {"groups", "notify_event_types"}
        known |= {f"contacts[{i}].{f}" for i in range(len(contact_drafts))
                  for f in ("name", "email", "phone", "job_title", "roles")}
        assert set(error.errors) <= known, set(error.errors) - known
        return
    for key, value in values.items():
        if isinstance(value, str):
            assert_inert(value, multiline=key == "notes")
    for name in group_names:
        assert_inert(name)
    for contact in contact_values:
        assert_inert(contact["name"])
        assert_inert(contact["job_title"])


@PROPERTY
@given(HOSTILE, HOSTILE, HOSTILE, HOSTILE, st.lists(HOSTILE, max_size=3),
       st.sampled_from([None, "DK", "US", "zz", ""]))
def test_validate_contact_records_errors_by_field_and_never_raises(shipped, name, email, phone,
                                                                   job, roles, region):
    errors = Errors()
    draft = ContactDraft(name, email, phone, job, tuple(roles))
    values = contacts.validate_contact(shipped, draft, region, errors, prefix="contacts[0].")
    assert set(errors.errors) <= {f"contacts[0].{f}" for f in
                                  ("name", "email", "phone", "job_title", "roles")}
    for message in errors.errors.values():
        assert_inert(message)
    if not errors:
        for key in ("name", "email", "phone", "job_title"):
            assert_inert(values[key])
        assert len(values["name"]) <= LIMITS["name"]


# Years a person or a file might give, hostile text among them.
YEARS = st.one_of(st.none(), st.integers(), st.floats(), st.booleans(), HOSTILE,
                  st.text(alphabet="0123456789 -+._١٩", max_size=12),
                  st.sampled_from(["", "1990", " 2001 ", "1899", "99999", "9" * 5000,
                                   "19\x1b[2J90"]))


@PROPERTY
@given(st.fixed_dictionaries({name: HOSTILE for name in ("serial", "name", "make", "model",
                                                         "type")}), YEARS)
def test_validate_equipment(fields, year):
    try:
        values = equipment.validate_equipment(EquipmentDraft(**fields, year=year))
    except ValidationError as error:
        assert set(error.errors) <= {"serial", "name", "make", "model", "type", "year"}
        assert_refusal_is_inert(error)
        return
    for name in ("serial", "name", "make", "model", "type"):
        assert_inert(values[name])
        assert len(values[name]) <= LIMITS[name]
    assert values["serial"]
    assert values["year"] is None or 1900 <= values["year"] <= date.today().year + 1


# parse_decimal refuses exponents in text; a Decimal passed in may carry any exponent.
EXTREME_DECIMALS = st.sampled_from([Decimal("1E+999999999"), Decimal("-9E+999999"),
                                    Decimal("1E-999999999"), Decimal("0E+999999999"),
                                    Decimal("0E-999999999"), Decimal("1." + "0" * 40 + "1")])
DECIMALS = st.one_of(st.decimals(allow_nan=True, allow_infinity=True, min_value=None,
                                 max_value=None, places=None), EXTREME_DECIMALS)
AMOUNTS = st.one_of(HOSTILE, st.integers(), DECIMALS, st.none(),
                    st.sampled_from(["1e3", "1,5", "1.000,25", "-0", "٣", "1_000", "+.5"]))
SAFE_DATES = st.one_of(st.dates(), st.none(), st.just(""),
                       st.builds(lambda y, m, d: f"{y:04d}-{m:02d}-{d:02d}",
                                 st.integers(0, 9999), st.integers(0, 13), st.integers(0, 32)))


@PROPERTY
@given(HOSTILE, SAFE_DATES,
       st.lists(st.tuples(HOSTILE, AMOUNTS, AMOUNTS), max_size=3),
       st.sampled_from(["EUR", "JPY", "KWD", "DKK"]))
def test_validate_estimate(title, issued_on, lines, currency):
    draft = estimates.EstimateDraft(customer_id=1, title=title, issued_on=issued_on,
                                    lines=tuple(estimates.LineDraft(*line) for line in lines))
    try:
        values, rows = estimates._validate(draft, currency)
    except ValidationError as error:
        allowed = {"title", "issued_on", "lines"} | {
            f"lines[{i}].{f}" for i in range(len(lines))
            for f in ("description", "quantity", "unit_price")}
        assert set(error.errors) <= allowed
        return
    assert_inert(values["title"])
    assert len(rows) == len(lines)
    for row in rows:
        assert_inert(row["description"], multiline=True)
        assert isinstance(row["amount_minor"], int) and isinstance(row["quantity"], Decimal)
    assert values["total_minor"] == sum(row["amount_minor"] for row in rows)


@PROPERTY
@given(HOSTILE, SAFE_DATES, SAFE_DATES, SAFE_DATES, AMOUNTS,
       st.sampled_from(["EUR", "JPY", "KWD"]))
def test_validate_project(name, deadline, starts, ends, budget, currency):
    draft = projects.ProjectDraft(name=name, submission_deadline=deadline, starts_on=starts,
                                  ends_on=ends, budget=budget)
    nobody = SimpleNamespace(id=1, name="Nobody")  # no contact is picked: never looked up
    try:
        values = projects._validate(draft, nobody, currency)
    except ValidationError as error:
        assert set(error.errors) <= {"name", "submission_deadline", "starts_on", "ends_on",
                                     "budget"}
        return
    assert_inert(values["name"])
    assert values["budget_minor"] is None or values["budget_minor"] >= 0


@PROPERTY
@given(SAFE_DATES)
def test_document_reminders_and_kinds(shipped, value):
    try:
        result = documents._reminder(value)
    except FieldError:
        return
    assert result is None or isinstance(result, date)


@PROPERTY
@given(HOSTILE)
def test_document_kind_and_event_type_refuse_unknown_keys(shipped, value):
    ctx = SimpleNamespace(config=shipped)
    for check, known in ((documents._kind, shipped.document_kinds),
                         (events._event_type, shipped.event_types)):
        try:
            assert check(ctx, value) in known
        except FieldError as error:
            assert_refusal_is_inert(error)


# Offsets that push a time past year 1 or 9999 are among them: refused, not overflowing.
TIMES = st.one_of(
    HOSTILE, st.none(), st.integers(),
    st.datetimes(timezones=st.one_of(st.none(), st.just(timezone.utc),
                                     st.builds(lambda m: timezone(timedelta(minutes=m)),
                                               st.integers(-1439, 1439)))),
    st.builds(lambda y, off: f"{y:04d}-06-01T12:00:00{off}", st.integers(1, 9999),
              st.sampled_from(["", "Z", "z", "+01:00", "-12:30", "+23:59"])),
    st.sampled_from(["0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-05:00",
                     "0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59.999999-00:01"]),
)


@PROPERTY
@given(TIMES)
def test_event_times(value):
    try:
        moment = events.parse_time(value)
    except FieldError as error:
        assert_refusal_is_inert(error)
        return
    assert moment.tzinfo is None and 1970 <= moment.year


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-05:00"])
def test_an_event_time_beyond_the_calendar_once_in_utc_is_refused(text):
    with pytest.raises(FieldError, match="out of range once converted to UTC") as caught:
        events.parse_time(text)
    assert text in caught.value.message


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-05:00"])
def test_an_audit_since_beyond_the_calendar_once_in_utc_is_refused(text):
    from tui.domain.services import audit

    with pytest.raises(ValidationError, match="out of range once converted to UTC"):
        audit.parse_since(text)


# ---------------------------------------------------------------- messages that echo input

@lru_cache(maxsize=1)
def shipped_config():
    return load_config()


SHIPPED = SimpleNamespace(config=None)


def _ctx():
    SHIPPED.config = shipped_config()
    return SHIPPED


ECHOING = {
    # validator -> how to call it with the hostile text; refusing is allowed, not required
    "clean_text": lambda v: clean_text(v, limit=50),
    "normalize_phone": lambda v: validation.normalize_phone(v, "DK"),
    "normalize_country": validation.normalize_country,
    "normalize_currency": validation.normalize_currency,
    "normalize_website": validation.normalize_website,
    "import year_text": import_values.year_text,
    "event type": lambda v: events._event_type(_ctx(), v),
    "estimate number": estimates.parse_decimal,
}
NAMING = {
    # these refuse hostile text and name it in their message: as validation.quoted shows it
    "equipment year": equipment._year,
    "document reminder": documents._reminder,
    "document kind": lambda v: documents._kind(_ctx(), v),
    "estimate issued_on": estimates._issued_on,
    "project dates": projects._date,
    "event time": events.parse_time,
    "customer segment": lambda v: customers._choice(v, shipped_config().segments, "other",
                                                    "segment"),
    "customer notice types": lambda v: customers._event_types(shipped_config(), (v,)),
    "contact roles": lambda v: contacts._check_roles(shipped_config(), (v,)),
    "import parse_date": import_values.parse_date,
    "import parse_bool": import_values.parse_bool,
    "import mapping": lambda v: import_mapping.parse_mapping([v]),
    "import mapping header": lambda v: _mapping_problem(v + "=name"),
    "audit since": lambda v: _audit().parse_since(v),
}


def _audit():
    from tui.domain.services import audit

    return audit


def _mapping_problem(spec):
    preview = import_mapping.preview_mapping("customers", ["Name"],
                                             import_mapping.parse_mapping([spec]))
    raise FieldError(" ".join(preview.problems))


ESCAPE_SHOWN = {"\x1b[2J": "\\x1b", "\x1b]8;;http://evil\x1b\\": "\\x1b", "\x9b31m": "\\x9b",
                "\x07": "\\x07", "\u202e": "\\u202e", "\ud800": "\\ud800"}


@pytest.mark.parametrize("check", [pytest.param(fn, id=name) for name, fn in ECHOING.items()])
@FEWER
@given(st.sampled_from(list(ESCAPE_SHOWN)), st.sampled_from(["", "x", "2026-13-01", "12"]))
def test_refusals_never_echo_control_characters(check, escape, filler):
    try:
        check(filler + escape + filler)
    except (FieldError, ValidationError) as error:
        assert_refusal_is_inert(error)


@pytest.mark.parametrize("check", [pytest.param(fn, id=name) for name, fn in NAMING.items()])
@FEWER
@given(st.sampled_from(list(ESCAPE_SHOWN)), st.sampled_from(["x", "2026-13-01", "12"]))
def test_refusals_name_the_input_with_its_escapes_visible(check, escape, filler):
    with pytest.raises((FieldError, ValidationError, import_mapping.MappingError)) as caught:
        check(filler + escape + filler)
    error = caught.value
    if isinstance(error, import_mapping.MappingError):
        error = FieldError(str(error))
    assert_refusal_is_inert(error)
    message = error.message if isinstance(error, FieldError) else " ".join(error.errors.values())
    assert ESCAPE_SHOWN[escape] in message, message


def test_the_serial_of_an_unknown_machine_is_named_inertly(admin):
    """events._machine names the serial as it came (from a feed line): escapes shown, not sent."""
    with pytest.raises(ValidationError) as caught:
        events.record_event(admin, serial="\x1b[2JX", type="alarm")
    message = caught.value.errors["serial"]
    assert_inert(message)
    assert message == 'No machine has the serial number "\\x1b[2JX".'


def test_a_feed_line_with_an_unknown_key_names_it_inertly():
    with pytest.raises(FieldError) as caught:
        events.parse_line('{"serial": "A", "type": "alarm", "\\u001b[2J": 1}', 1)
    assert_inert(caught.value.message)
    assert '"\\x1b[2J"' in caught.value.message


@pytest.mark.parametrize("value", [Decimal("1E+999999999"), Decimal("-9E+999999"),
                                   Decimal("1E+19"), Decimal("1E+16")])
def test_a_huge_decimal_is_too_large_not_an_overflow(value):
    with pytest.raises(FieldError, match="too large"):
        estimates.to_minor(value, "EUR")


@pytest.mark.parametrize("value, currency, minor", [
    (Decimal("0E+999999999"), "EUR", 0), (Decimal("12.5"), "EUR", 1250),
    (Decimal("1E+12"), "JPY", 10 ** 12), (Decimal("-0"), "KWD", 0)])
def test_amounts_in_range_whatever_their_exponent(value, currency, minor):
    assert estimates.to_minor(value, currency) == minor


@pytest.mark.parametrize("value", [Decimal("1E-999999999"), Decimal("1." + "0" * 40 + "1")])
def test_a_fraction_of_a_minor_unit_is_refused_however_small(value):
    """No rounding to the default context's 28 digits: 1.000…001 is not 1."""
    with pytest.raises(FieldError, match="decimals"):
        estimates.to_minor(value, "EUR")


# ---------------------------------------------------------------- validation.quoted

@PROPERTY
@given(MAYBE_TEXT, st.integers(1, 80))
def test_quoted_is_a_short_inert_line(value, limit):
    shown = validation.quoted(value, limit)
    assert shown.startswith('"') and shown.endswith('"')
    assert_inert(shown)
    assert shown.isprintable()
    assert len(shown) <= limit + 3  # the quotes and "…"


@pytest.mark.parametrize("value, shown", [
    ("19x9", '"19x9"'), ("", '""'), ("a\x1b[2Jb", '"a\\x1b[2Jb"'), ("\x9b", '"\\x9b"'),
    ("\u202eabc", '"\\u202eabc"'), ("\ud800", '"\\ud800"'), ("tab\there", '"tab\\there"'),
    ("line\nbreak", '"line\\nbreak"'), ('say "hi"', '"say \\"hi\\""'), ("a\\b", '"a\\\\b"'),
    ("zero\u200bwidth", '"zero\\u200bwidth"'), ("\U000e0001", '"\\U000e0001"'),
    ("Zoë [bold]{0}", '"Zoë [bold]{0}"'), (1990, '"1990"'), (None, '"None"'),
    ("x" * 50, '"' + "x" * 40 + '…"'), ("\x1b" * 20, '"' + "\\x1b" * 10 + '…"'),
])
def test_quoted_shows_what_was_typed(value, shown):
    assert validation.quoted(value) == shown


@pytest.mark.parametrize("value, shown", [
    ("E-2026-0001", "E-2026-0001"), ("Code client", "Code client"), ("", '""'),
    (" padded ", '" padded "'), ("a\x1bb", '"a\\x1bb"'), ('say "hi"', '"say \\"hi\\""'),
    ("x" * 41, '"' + "x" * 40 + '…"'), ("\u00a0", '"\\xa0"')])
def test_quoted_bare_leaves_off_the_quotes_only_when_it_shows_as_it_is(value, shown):
    assert validation.quoted(value, bare=True) == shown


def test_a_name_looked_up_is_named_inertly(admin):
    from tui.domain.errors import NotFound
    from tui.domain.services import users

    with pytest.raises(NotFound, match="^No estimate E-2030-0001.$"):
        estimates.get_estimate_by_number(admin, "e-2030-0001")
    with pytest.raises(NotFound) as caught:
        estimates.get_estimate_by_number(admin, "E-\x1b[2J")
    assert str(caught.value) == 'No estimate "E-\\x1b[2J".'
    with pytest.raises(NotFound) as caught:
        users.disable_user(admin, "ghost\x07")
    assert str(caught.value) == 'No user "ghost\\x07".'


def test_a_nul_in_a_looked_up_name_finds_nothing(admin, make_machine):
    """Nothing stored holds a NUL (validation); on PostgreSQL a lookup must not hand one to the
    server, which refuses it ("cannot store text"), but find nothing, as on SQLite."""
    from tui.domain.errors import NotFound
    from tui.domain.services import audit, outbox, users

    make_machine("SN-1")
    with pytest.raises(NotFound) as caught:
        estimates.get_estimate_by_number(admin, "E-2030\x00")
    assert str(caught.value) == 'No estimate "E-2030\\x00".'
    with pytest.raises(NotFound, match="No user"):
        users.disable_user(admin, "boss\x00")
    with pytest.raises(NotFound, match="No user"):
        users.set_role(admin, "boss\x00", "limited")
    with pytest.raises(ValidationError, match="No machine has the serial number"):
        events.record_event(admin, type="alarm", serial="SN-1\x00")
    report = events.ingest_events(admin, ['{"serial": "SN-1\\u0000", "type": "alarm"}'])
    assert report.recorded == 0 and "No machine has the serial number" in report.errors[0][1]
    assert audit.list_audit(admin, user="boss\x00").total == 0
    assert audit.list_audit(admin, entity="customer\x00").total == 0
    assert outbox.list_notifications(admin, status="failed\x00").total == 0
    assert not users.resolve_actor(admin.config, "boss\x00").registered


def test_quoted_never_fails_on_what_it_is_given():
    class Hostile:
        def __str__(self):
            raise RuntimeError("no")

    assert validation.quoted(Hostile()) == '"<Hostile>"'
    assert validation.quoted(10 ** 5000) == '"<int>"'  # past Python's digit limit for str()
    assert len(validation.quoted("x" * 10_000_000)) == 43


# ---------------------------------------------------------------- through the services


TERMINAL_ATTACKS = ["\x1b[2J\x1b[HPwned", "Acme\x1b]8;;http://evil\x1b\\click\x1b]8;;\x1b\\",
                    "Acme\x9b31m", "Acme\u202eSA/S", "Acme\x00Ltd", "Acme\x07", "\ud800Acme"]


@pytest.mark.parametrize("name", TERMINAL_ATTACKS)
def test_services_refuse_terminal_escapes_and_store_nothing(admin, make_customer, make_machine,
                                                            name, tmp_path):
    customer = make_customer("Plain Ltd")
    machine = make_machine("PLAIN-1")
    before = (Customer.select().count(), Contact.select().count(), Equipment.select().count(),
              AuditEvent.select().count())
    attempts = {
        "create customer": (lambda: customers.create_customer(
            admin, CustomerDraft(name=name, billing_country="DK")), "name"),
        "rename customer": (lambda: customers.update_customer(
            admin, customer.id, customer.version, CustomerDraft(name=name,
                                                                billing_country="DK")), "name"),
        "customer with contact": (lambda: customers.create_customer(admin, CustomerDraft(
            name="Fine", contacts=(ContactDraft(name=name),))), "contacts[0].name"),
        "add contact": (lambda: contacts.add_contact(admin, customer.id,
                                                     ContactDraft(name="Kim", job_title=name)),
                        "job_title"),
        "add machine": (lambda: equipment.add_equipment(admin, EquipmentDraft(serial=name)),
                        "serial"),
        "rename machine": (lambda: equipment.update_equipment(
            admin, machine.id, machine.version, EquipmentDraft(serial="PLAIN-1", name=name)),
                           "name"),
        "add document": (lambda: documents.add_document(admin, customer.id, name, "contract"),
                         "title"),
        "group": (lambda: customers.create_customer(admin, CustomerDraft(name="Fine",
                                                                          groups=(name,))),
                  "groups"),
        "notes": (lambda: customers.create_customer(admin, CustomerDraft(name="Fine",
                                                                          notes=name)), "notes"),
    }
    for what, (attempt, field) in attempts.items():
        with pytest.raises(ValidationError) as caught:
            attempt()
        assert field in caught.value.errors, (what, caught.value.errors)
        assert "Control characters are not allowed" in caught.value.errors[field], what
        assert_refusal_is_inert(caught.value)
    assert (Customer.select().count(), Contact.select().count(), Equipment.select().count(),
            AuditEvent.select().count()) == before
    assert customers.get_customer(admin, customer.id).name == "Plain Ltd"


@pytest.mark.parametrize("name", MARKUP)
def test_markup_is_stored_exactly_as_typed(admin, make_machine, name):
    customer = customers.create_customer(admin, CustomerDraft(
        name=name, billing_city=name, notes=name,
        contacts=(ContactDraft(name=name, job_title=name),)), allow_duplicate=True)
    assert customers.get_customer(admin, customer.id).name == name
    assert contacts.list_contacts(admin, customer.id)[0].job_title == name
    machine = equipment.add_equipment(admin, EquipmentDraft(serial=f"S{len(name)}{name}",
                                                            name=name))
    assert Equipment.get_by_id(machine.id).name == name
