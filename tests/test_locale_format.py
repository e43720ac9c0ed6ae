"""Dates, numbers and amounts in the operator's locale (issue 9): the issue's examples in
French, Danish and US English, round trips (format, then parse, gives the value back),
the plain/ISO forms still read, bad input named with the expected form, and the
documents written for a customer (PDF proposal, e-mails) in the customer's language
whatever the operator's."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from tests.conftest import ContactDraft
from tui import i18n
from tui.domain import locale_format as lf
from tui.domain.mail import format_time, render
from tui.domain.models import Notification, utcnow
from tui.domain.proposal import render_proposal
from tui.domain.services import estimates
from tui.domain.services.equipment import assign_equipment
from tui.domain.services.estimates import EstimateDraft, LineDraft, create_estimate
from tui.domain.services.events import record_event
from tui.domain.validation import FieldError

DAY = date(2026, 11, 23)
LOCALES = ["en_US", "fr_FR", "da_DK", "en_GB", "fr_CA"]
NBSP, NNBSP = "\u00a0", "\u202f"


def plain_spaces(text: str) -> str:
    """Babel's no-break spaces as the ordinary spaces the issue writes."""
    return text.replace(NBSP, " ").replace(NNBSP, " ")


@pytest.fixture
def operator():
    """``operator("fr")`` switches the process-wide language; English again afterwards."""
    yield i18n.set_language
    i18n.set_language("en")


# ------------------------------------------------------------------ the issue's examples

@pytest.mark.parametrize("locale, day, amount", [
    ("fr_FR", "23/11/2026", "1 234,50 €"),
    ("da_DK", "23.11.2026", "1.234,50 kr."),
    ("en_US", "11/23/2026", "$1,234.50"),
])
def test_the_issues_examples(locale, day, amount):
    currency = {"fr_FR": "EUR", "da_DK": "DKK", "en_US": "USD"}[locale]
    assert lf.format_date(DAY, locale) == day
    assert plain_spaces(lf.format_amount(123450, currency, locale)) == amount
    # and the entry fields accept what they show
    assert lf.parse_date(day, locale) == DAY
    assert lf.parse_amount(amount, currency, locale) == 123450
    assert lf.parse_amount(lf.format_amount(123450, currency, locale), currency, locale) == 123450


def test_babels_exact_characters():
    """What Babel writes, character for character: a narrow no-break space groups French
    thousands and a no-break space comes before the symbol."""
    assert lf.format_amount(123450, "EUR", "fr_FR") == "1" + NNBSP + "234,50" + NBSP + "€"
    assert lf.format_amount(123450, "DKK", "da_DK") == "1.234,50" + NBSP + "kr."
    assert lf.format_amount(123450, "EUR", "en_US") == "€1,234.50"
    # CLDR's currency spacing, which Babel leaves out: a code is not glued to the digits
    assert lf.format_amount(123450, "DKK", "en_US") == "DKK" + NBSP + "1,234.50"
    assert lf.format_decimal(Decimal("1234.5"), "fr_FR") == "1" + NNBSP + "234,5"


def test_other_locales_and_bare_languages():
    assert lf.format_date(DAY, "en_GB") == "23/11/2026"
    assert lf.format_date(DAY, "fr_CA") == "2026-11-23"
    assert lf.format_date(date(2026, 1, 5), "en_US") == "1/5/2026"
    assert lf.format_date(date(2026, 1, 5), "da_DK") == "05.01.2026"
    assert lf.locale_for("fr") == "fr_FR" and lf.locale_for("da-DK.UTF-8") == "da_DK"
    assert lf.locale_for("de_AT") == "de_AT"  # Babel knows it: taken as given
    assert lf.locale_for("zz_ZZ") == "en_US"
    assert lf.format_amount(123450, "EUR", "da") == lf.format_amount(123450, "EUR", "da_DK")


def test_dates_and_times():
    moment = datetime(2026, 11, 23, 14, 5)
    assert lf.format_datetime(moment, "fr_FR") == "23/11/2026 14:05"
    assert lf.format_datetime(moment, "en_US") == "11/23/2026 14:05"
    assert format_time(moment, "da_DK") == "23.11.2026 14:05 UTC"
    assert lf.format_moment("2026-11-23T14:05:00", "da_DK") == "23.11.2026 14:05"
    assert lf.format_moment(None) == ""
    for text, locale in (("23/11/2026 14:05", "fr_FR"), ("11/23/2026 14:05", "en_US"),
                         ("23.11.2026 14.05", "da_DK"), ("2026-11-23T14:05Z", "fr_FR"),
                         ("2026-11-23T15:05+01:00", "en_US"), ("2026-11-23 14:05", "da_DK")):
        assert lf.parse_datetime(text, locale) == moment, (text, locale)
    assert lf.parse_datetime("23/11/2026", "fr_FR") == datetime(2026, 11, 23)


def test_numbers():
    assert lf.format_number(1234567, "fr_FR") == "1 234 567".replace(" ", NNBSP)
    assert lf.format_number(1234567, "da_DK") == "1.234.567"
    assert lf.format_number(1234567, "en_US") == "1,234,567"
    assert lf.format_decimal(Decimal("2.500"), "da_DK") == "2,5"  # no trailing zeros
    assert lf.format_decimal(Decimal("2.5"), "en_US", places=2) == "2.50"
    assert lf.format_decimal(Decimal("-1234.5"), "fr_FR", grouping=False) == "-1234,5"


def test_minor_units_of_each_currency():
    assert lf.format_amount(1234, "JPY", "en_US") == "¥1,234"
    assert lf.format_amount(-1234567, "KWD", "en_US") == "-KWD" + NBSP + "1,234.567"
    assert lf.format_amount(1234567, "KWD", "fr_FR") == "1" + NNBSP + "234,567" + NBSP + "KWD"
    assert lf.format_amount(-150, "EUR", "da_DK") == "-1,50" + NBSP + "€"


# ------------------------------------------------------------------ round trips

AMOUNTS = [0, 1, -1, 5, 99, 100, 123450, -123450, 100_000_000, -987_654_321, 10 ** 15]


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("currency", ["EUR", "DKK", "USD", "JPY", "KWD", "CLF"])
def test_amounts_round_trip(locale, currency):
    for minor in AMOUNTS:
        shown = lf.format_amount(minor, currency, locale)
        assert lf.parse_amount(shown, currency, locale) == minor, shown
        # and with ordinary spaces, as a person types them
        assert lf.parse_amount(plain_spaces(shown), currency, locale) == minor, shown
        # the form field's own text (no symbol) goes back through the estimates service
        field = estimates.minor_to_field(minor, currency, locale)
        assert estimates.to_minor(field, currency, locale) == minor, field


@pytest.mark.parametrize("locale", LOCALES)
def test_numbers_round_trip(locale):
    for text in ("0", "1", "-1", "0.5", "2.125", "-3.75", "1234.5", "1000000", "-1234567.891"):
        number = Decimal(text)
        for places in (None, 3):
            shown = lf.format_decimal(number, locale, places=places)
            assert lf.parse_decimal(shown, locale) == number, shown
            assert estimates.parse_decimal(shown, locale) == number, shown


@pytest.mark.parametrize("locale", LOCALES)
def test_dates_round_trip(locale):
    day = date(2024, 1, 1)
    while day < date(2027, 1, 1):
        assert lf.parse_date(lf.format_date(day, locale), locale) == day
        day += timedelta(days=7)
    moment = datetime(2026, 2, 3, 4, 5)
    assert lf.parse_datetime(lf.format_datetime(moment, locale), locale) == moment


# ------------------------------------------------------------------ plain and ISO forms

@pytest.mark.parametrize("locale", LOCALES)
def test_iso_and_plain_forms_are_read_everywhere(locale):
    assert lf.parse_date("2026-11-23", locale) == DAY
    assert lf.parse_decimal("1234.50", locale) == Decimal("1234.50")
    assert lf.parse_amount("1234.50", "EUR", locale) == 123450
    assert lf.parse_amount("EUR 1234.50", "EUR", locale) == 123450
    assert lf.parse_amount("-1234.50 EUR", "EUR", locale) == -123450
    assert lf.parse_decimal("-3", locale) == -3 and lf.parse_decimal(".5", locale) == Decimal(".5")


def test_what_each_locale_means_wins_and_ambiguity_is_refused():
    assert lf.parse_decimal("1,250", "en_US") == 1250  # US grouping
    assert lf.parse_decimal("1,250", "da_DK") == Decimal("1.25")  # Danish decimal comma
    assert lf.parse_decimal("1.250", "da_DK") == 1250  # Danish grouping
    assert lf.parse_decimal("1.250", "en_US") == Decimal("1.25")
    with pytest.raises(FieldError, match="Write the number as 1\u202f234,5"):
        lf.parse_decimal("1.250", "fr_FR")  # 1250 or 1.25: not guessed
    # a form no convention could misread is taken in any locale
    assert lf.parse_decimal("1.250,50", "en_US") == Decimal("1250.50")
    assert lf.parse_decimal("1,250.50", "da_DK") == Decimal("1250.50")
    assert lf.parse_decimal("1 250,50", "en_US") == Decimal("1250.50")
    assert lf.parse_decimal("1,5", "en_US") == Decimal("1.5")
    assert lf.parse_decimal("1.5", "da_DK") == Decimal("1.5")
    assert lf.parse_decimal("1234.5", "fr_FR") == Decimal("1234.5")


@pytest.mark.parametrize("text", ["1.2.3", "1,2,3", "ten", "1e5", "NaN", "٣", "1,23,456",
                                  "12,34,5", "--1", "1-", "$ 5", ""])
def test_what_is_not_a_number_is_refused(text):
    with pytest.raises(FieldError):
        lf.parse_decimal(text, "en_US")


# ------------------------------------------------------------------ bad input messages

@pytest.mark.parametrize("locale, example", [("fr_FR", "23/11/2026"), ("da_DK", "23.11.2026"),
                                             ("en_US", "11/23/2026")])
def test_a_bad_date_names_what_was_typed_and_the_form(locale, example):
    for typed in ("31/02/2026", "someday", "23/11/26", "2026-13-01"):
        with pytest.raises(FieldError) as caught:
            lf.parse_date(typed, locale)
        assert caught.value.message == f'Not a date: "{typed}". Write the date as {example}.'
    with pytest.raises(FieldError, match="required"):
        lf.parse_date("  ", locale)


def test_the_day_and_month_order_is_the_locales():
    assert lf.parse_date("5/1/2026", "en_US") == date(2026, 5, 1)
    assert lf.parse_date("5/1/2026", "fr_FR") == date(2026, 1, 5)
    with pytest.raises(FieldError):
        lf.parse_date("23/11/2026", "en_US")  # no 23rd month


def test_bad_numbers_and_amounts_name_the_form():
    with pytest.raises(FieldError) as caught:
        lf.parse_decimal("abc", "da_DK")
    assert caught.value.message == 'Not a number: "abc". Write the number as 1.234,5.'
    with pytest.raises(FieldError) as caught:
        lf.parse_amount("12 pounds", "EUR", "fr_FR")
    assert plain_spaces(caught.value.message) == (
        'Not an amount: "12 pounds". Write the amount as 1 234,50.')
    with pytest.raises(FieldError) as caught:
        lf.parse_amount("x", "JPY", "en_US")
    assert caught.value.message.endswith("Write the amount as 1,234.")
    with pytest.raises(FieldError, match="JPY amounts have no decimals"):
        lf.parse_amount("12.5", "JPY", "en_US")
    with pytest.raises(FieldError, match="KWD amounts have at most 3 decimals"):
        lf.parse_amount("1,2345", "KWD", "da_DK")
    with pytest.raises(FieldError) as caught:
        lf.parse_datetime("tomorrow", "fr_FR")
    assert caught.value.message.endswith("Write it as 23/11/2026 14:30.")


def test_messages_show_escapes_not_control_characters():
    with pytest.raises(FieldError) as caught:
        lf.parse_amount("1\x1b[2J", "EUR", "en_US")
    assert "\x1b" not in caught.value.message and "\\x1b" in caught.value.message


# ------------------------------------------------------------------ the operator's locale

def test_none_means_the_operators_locale(operator):
    assert lf.format_date(DAY) == "11/23/2026"
    operator("fr")
    assert lf.format_date(DAY) == "23/11/2026" and lf.date_pattern() == "dd/MM/yyyy"
    assert lf.parse_decimal("1 234,5") == Decimal("1234.5")
    assert plain_spaces(estimates.format_amount(123450, "EUR")) == "1 234,50 €"
    operator("da_DK")
    assert lf.format_date(DAY) == "23.11.2026" and lf.parse_date("23.11.2026") == DAY
    assert estimates.to_minor("1.234,50", "DKK") == 123450
    operator("en_GB")
    assert lf.format_date(DAY) == "23/11/2026" and lf.parse_date("23/11/2026") == DAY


def test_a_french_operator_types_an_estimate(operator, admin, make_customer):
    operator("fr")
    lyon = make_customer("Bâtir Lyon SARL", billing_country="FR", currency="EUR")
    estimate = create_estimate(admin, EstimateDraft(
        customer_id=lyon.id, title="Grue", issued_on="23/11/2026",
        lines=(LineDraft("Grue", "1,5", "1 234,50"), LineDraft("Remise", "1", "-34,5 €"))))
    assert estimate.issued_on == DAY
    assert estimate.total_minor == 185175 - 3450
    # what the form shows again reads back to the same line
    shown = [LineDraft.from_line(line, "EUR") for line in estimates.estimate_lines(admin,
                                                                                   estimate.id)]
    assert [(line.quantity, plain_spaces(line.unit_price)) for line in shown] == [
        ("1,5", "1 234,50"), ("1", "-34,50")]
    again = estimates.update_estimate(admin, estimate.id, estimate.version, EstimateDraft(
        lyon.id, "Grue", lf.format_date(DAY), tuple(shown)))
    assert again.total_minor == estimate.total_minor and again.issued_on == DAY


def test_a_bad_estimate_date_is_told_in_the_operators_form(operator, admin, make_customer):
    from tui.domain.errors import ValidationError

    operator("da")
    customer = make_customer("Fjord Kran ApS")
    with pytest.raises(ValidationError) as caught:
        create_estimate(admin, EstimateDraft(customer_id=customer.id, title="Kran",
                                             issued_on="31.02.2026"))
    assert "23.11.2026" in caught.value.errors["issued_on"]


# ------------------------------------------------------------------ the customer's language

def test_the_proposal_is_in_its_languages_locale_whatever_the_operators(
        operator, admin, make_customer):
    from tests.test_proposal_pdf import text_of

    french = make_customer("Bâtir Lyon SARL", billing_country="FR", language="fr",
                           currency="EUR")
    english = make_customer("Summit Lifting Ltd", billing_country="GB", language="en",
                            currency="EUR")
    ids = {}
    for customer in (french, english):
        ids[customer.language] = create_estimate(admin, EstimateDraft(
            customer_id=customer.id, title="Hire", issued_on="2026-11-23",
            lines=(LineDraft("Crane", "2", "617.25"),))).id
    for language in ("da", "en", "fr"):
        operator(language)
        text = text_of(render_proposal(admin, ids["fr"]))
        assert "Date 23/11/2026" in text and "Total 1 234,50 €" in text, language
        text = text_of(render_proposal(admin, ids["en"]))
        assert "Date 11/23/2026" in text and "Total €1,234.50" in text, language


@pytest.fixture
def held_by(admin, make_customer, make_machine):
    """held_by(language) -> a machine held by a customer of that language with a contact to
    notify."""
    counter = iter(range(1, 100))

    def make(language: str):
        n = next(counter)
        customer = make_customer(f"Customer {n}", language=language, contacts=(
            ContactDraft(name="Ann", email=f"ann{n}@example.com", roles=("notify",)),))
        machine = make_machine(f"LF-{n:03d}", name="Scissor lift")
        assign_equipment(admin, customer.id, [machine.id])
        return machine

    return make


def test_event_emails_use_the_customers_language_not_the_operators(operator, admin, held_by):
    """C6: the customer's language picks the template and the date's form."""
    french, english, danish = held_by("fr"), held_by("en"), held_by("da")
    when = (utcnow() + timedelta(minutes=1)).replace(second=0, microsecond=0)  # once held
    d, m, y, hm = f"{when.day:02d}", f"{when.month:02d}", when.year, f"{when:%H:%M}"
    for operator_language in ("da", "fr", "en"):
        operator(operator_language)
        Notification.delete().execute()
        for machine in (french, english, danish):
            record_event(admin, equipment_id=machine.id, type="breakdown", message="Leak",
                         occurred_at=when)
        bodies = {n.language: n.body for n in Notification.select()}
        assert set(bodies) == {"fr", "en", "da"}, operator_language
        assert "Bonjour Ann" in bodies["fr"] and f"{d}/{m}/{y} {hm} UTC" in bodies["fr"]
        assert "Hello Ann" in bodies["en"]
        assert f"{when.month}/{when.day}/{y} {hm} UTC" in bodies["en"]
        assert "Hej Ann" in bodies["da"] and f"{d}.{m}.{y} {hm} UTC" in bodies["da"]


def test_render_writes_dates_in_the_templates_language(config):
    moment = datetime(2026, 11, 23, 14, 5)
    values = {"occurred_at": moment, "event_type": "Panne"}
    assert "23/11/2026 14:05 UTC" in render(config, "event", "fr", values).body
    assert "23.11.2026 14:05 UTC" in render(config, "event", "da", values).body
    # a language with no template: the template's language decides the form too
    rendered = render(config, "event", "de", values)
    assert rendered.language == "en" and "11/23/2026 14:05 UTC" in rendered.body
