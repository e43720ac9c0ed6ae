"""Tests for tui.domain.validation: exact outputs for good input, FieldError for bad."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui.domain.errors import ValidationError
from tui.domain.validation import (
    LEGAL_SUFFIXES,
    LIMITS,
    Errors,
    FieldError,
    clean_text,
    country_name,
    digit_suffixes,
    email_key,
    format_phone,
    name_key,
    normalize_country,
    normalize_currency,
    normalize_email,
    normalize_language,
    normalize_phone,
    normalize_state,
    normalize_website,
    phone_uri,
    requires_state,
    website_key,
)

PROPERTY = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------- clean_text


@pytest.mark.parametrize(
    ("value", "kwargs", "expected"),
    [
        (None, {}, ""),
        ("", {}, ""),
        ("  Acme  ", {}, "Acme"),
        ("Acme   \t Corp\n", {}, "Acme Corp"),
        ("a\r\nb", {}, "a b"),
        ("Cafe\u0301", {}, "Caf\u00e9"),  # NFC
        ("  line one  \r\n\tline two\n\n", {"multiline": True}, "line one\n\tline two"),
        ("a\rb", {"multiline": True}, "a\nb"),
        ("x" * 5, {"limit": 5}, "xxxxx"),
        ("Zoë 😀 東京", {}, "Zoë 😀 東京"),
    ],
)
def test_clean_text_good(value, kwargs, expected):
    kwargs = {"limit": 100, **kwargs}
    assert clean_text(value, **kwargs) == expected


@pytest.mark.parametrize(
    ("value", "kwargs", "message"),
    [
        ("", {"required": True}, "This field is required."),
        (None, {"required": True}, "This field is required."),
        ("   \t ", {"required": True}, "This field is required."),
        ("x" * 6, {"limit": 5}, "At most 5 characters."),
        ("Evil\x1b[31mRed", {}, "Control characters are not allowed (found U+001B)."),
        ("Evil\x1b[31mRed", {"multiline": True}, "Control characters are not allowed (found U+001B)."),
        ("bell\x07", {}, "Control characters are not allowed (found U+0007)."),
        ("csi\x9b31m", {}, "Control characters are not allowed (found U+009B)."),
        ("nul\x00", {"multiline": True}, "Control characters are not allowed (found U+0000)."),
        ("del\x7f", {}, "Control characters are not allowed (found U+007F)."),
        ("sep\x1f", {}, "Control characters are not allowed (found U+001F)."),
        ("bidi\u202eevil", {}, "Control characters are not allowed (found U+202E)."),
        ("surrogate\ud800", {}, "Control characters are not allowed (found U+D800)."),
    ],
)
def test_clean_text_bad(value, kwargs, message):
    kwargs = {"limit": 100, **kwargs}
    with pytest.raises(FieldError) as caught:
        clean_text(value, **kwargs)
    assert caught.value.message == message


@pytest.mark.parametrize("value", [42, 1.5, b"bytes", ["a"], True, object()])
def test_clean_text_refuses_non_text(value):
    with pytest.raises(FieldError):
        clean_text(value, limit=100)


def _has_forbidden(text: str, multiline: bool) -> bool:
    allowed = "\n\t" if multiline else ""
    return any(
        c not in allowed and (unicodedata.category(c) in ("Cc", "Cs") or c == "\x1b")
        for c in text
    )


@PROPERTY
@given(st.text(), st.booleans(), st.booleans())
def test_clean_text_property(text, multiline, required):
    try:
        result = clean_text(text, limit=LIMITS["notes"], multiline=multiline, required=required)
    except FieldError:
        return
    assert not _has_forbidden(result, multiline)
    assert result == result.strip()
    assert len(result) <= LIMITS["notes"]
    if not multiline:
        assert "  " not in result and "\n" not in result
    assert clean_text(result, limit=LIMITS["notes"], multiline=multiline) == result


# ---------------------------------------------------------------- e-mail


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", ""),
        (None, ""),
        ("  jane@example.com ", "jane@example.com"),
        ("Jane.Doe@EXAMPLE.COM", "Jane.Doe@example.com"),
        ("kontakt@bücher.de", "kontakt@bücher.de"),
        ("a+tag@sub.example.org", "a+tag@sub.example.org"),
    ],
)
def test_normalize_email_good(value, expected):
    assert normalize_email(value) == expected


@pytest.mark.parametrize(
    "value", ["jane", "jane@", "@example.com", "jane@localhost", "a b@example.com",
              "jane@@example.com", "jane@example..com", "x" * 250 + "@example.com"]
)
def test_normalize_email_bad(value):
    with pytest.raises(FieldError) as caught:
        normalize_email(value)
    assert caught.value.message


def test_normalize_email_message_has_reason():
    with pytest.raises(FieldError) as caught:
        normalize_email("jane")
    assert caught.value.message.startswith("Not a valid e-mail address: ")
    assert "@" in caught.value.message


def test_email_key():
    assert email_key("Jane.Doe@Example.com") == "jane.doe@example.com"
    assert email_key("") == ""


# ---------------------------------------------------------------- phone


@pytest.mark.parametrize(
    ("value", "region", "expected"),
    [
        ("", "DK", ""),
        (None, None, ""),
        ("020 7946 0958", "GB", "+442079460958"),
        ("020 7946 0958", "gb", "+442079460958"),
        ("+44 20 7946 0958", None, "+442079460958"),
        ("+44 (0)20 7946 0958", "DK", "+442079460958"),
        ("12 34 56 78", "DK", "+4512345678"),
        ("01 23 45 67 89", "FR", "+33123456789"),
        ("(415) 555-2671", "US", "+14155552671"),
        ("+1 415 555 2671 x123", None, "+14155552671;ext=123"),
        ("+1 415 555 2671 ext. 123", None, "+14155552671;ext=123"),
        ("+1 415 555 2671;ext=123", None, "+14155552671;ext=123"),
        ("tel:+14155552671", None, "+14155552671"),
        ("+4512345678", "AQ", "+4512345678"),  # region phonenumbers does not know
    ],
)
def test_normalize_phone_good(value, region, expected):
    assert normalize_phone(value, region) == expected


@pytest.mark.parametrize(
    ("value", "region"),
    [
        ("12345678", None),       # national form without a region
        ("+45 1234", None),       # too short
        ("123", "DK"),
        ("call me maybe", "DK"),
        ("abc 12345678 xyz", "DK"),
        ("1-800-FLOWERS", "US"),
        ("+", None),
        ("12345678901234567890123", "DK"),
        ("+1 415 555 2671 x", None),
    ],
)
def test_normalize_phone_bad(value, region):
    with pytest.raises(FieldError):
        normalize_phone(value, region)


def test_normalize_phone_without_region_asks_for_international_form():
    with pytest.raises(FieldError) as caught:
        normalize_phone("12345678", None)
    assert "+" in caught.value.message and "international" in caught.value.message


@pytest.mark.parametrize(
    ("e164", "region", "expected"),
    [
        ("+442079460958", "GB", "020 7946 0958"),
        ("+442079460958", "DK", "+44 20 7946 0958"),
        ("+442079460958", None, "+44 20 7946 0958"),
        ("+14155552671;ext=123", "US", "(415) 555-2671 ext. 123"),
        ("+14155552671;ext=123", "FR", "+1 415-555-2671 ext. 123"),
        ("+4512345678", "dk", "12345678"),
        ("", "DK", ""),
        ("not a number", "DK", "not a number"),
    ],
)
def test_format_phone(e164, region, expected):
    assert format_phone(e164, region) == expected


@pytest.mark.parametrize(
    ("value", "region"),
    [("020 7946 0958", "GB"), ("+1 415 555 2671 x123", "US"), ("+1 415 555 2671 x123", "DK"),
     ("12 34 56 78", "DK"), ("01 23 45 67 89", "FR")],
)
def test_format_phone_round_trip(value, region):
    stored = normalize_phone(value, region)
    assert normalize_phone(format_phone(stored, region), region) == stored


def test_phone_uri():
    assert phone_uri("+4512345678") == "tel:+4512345678"
    assert phone_uri("+14155552671;ext=123") == "tel:+14155552671;ext=123"
    assert phone_uri("") == ""


def test_digit_suffixes():
    result = digit_suffixes("+4512345678").split()
    assert result == ["4512345678", "512345678", "12345678", "2345678", "345678",
                      "45678", "5678", "678"]


def test_digit_suffixes_ignores_extension_and_dedupes():
    result = digit_suffixes("+4512345678;ext=999", "+4412345678", "").split()
    assert "999" not in result
    assert "5678" in result and "4412345678" in result
    assert len(result) == len(set(result))
    assert result.index("4512345678") < result.index("4412345678")
    assert digit_suffixes() == ""


# ---------------------------------------------------------------- countries and states


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None), ("", None), ("  ", None),
        ("dk", "DK"), ("DK", "DK"), ("DNK", "DK"), ("dnk", "DK"),
        ("Denmark", "DK"), ("denmark", "DK"), ("Danemark", "DK"),
        ("United States", "US"), ("united states of america", "US"), ("USA", "US"),
        ("États-Unis", "US"), ("etats unis", "US"), ("Allemagne", "DE"), ("Germany", "DE"),
        ("Côte d'Ivoire", "CI"), ("cote d ivoire", "CI"), ("UK", "GB"),
    ],
)
def test_normalize_country_good(value, expected):
    assert normalize_country(value) == expected


@pytest.mark.parametrize("value", ["Atlantis", "XX", "ZZZ", "Denmarkk", "123"])
def test_normalize_country_bad(value):
    with pytest.raises(FieldError) as caught:
        normalize_country(value)
    assert caught.value.message == f"Unknown country: {value}"


@pytest.mark.parametrize(
    ("code", "language", "expected"),
    [("DK", "en", "Denmark"), ("dk", "fr", "Danemark"), ("US", "fr_FR", "États-Unis"),
     ("DE", "fr", "Allemagne"), (None, "en", ""), ("", "fr", ""), ("XX", "en", "XX"),
     ("DK", "xx", "Denmark")],
)
def test_country_name(code, language, expected):
    assert country_name(code, language) == expected


@pytest.mark.parametrize(("country", "expected"),
                         [("US", True), ("CA", True), ("us", True), ("DK", False), (None, False)])
def test_requires_state(country, expected):
    assert requires_state(country) is expected


@pytest.mark.parametrize(
    ("country", "value", "expected"),
    [
        ("US", "california", "US-CA"), ("US", "CA", "US-CA"), ("US", "ca", "US-CA"),
        ("US", "US-CA", "US-CA"), ("US", "New York", "US-NY"), ("CA", "Québec", "CA-QC"),
        ("CA", "Quebec", "CA-QC"), ("CA", "qc", "CA-QC"), ("ca", "ON", "CA-ON"),
        ("DK", "  Hovedstaden  ", "Hovedstaden"), ("DK", None, ""), (None, "Somewhere", "Somewhere"),
    ],
)
def test_normalize_state_good(country, value, expected):
    assert normalize_state(country, value) == expected


@pytest.mark.parametrize(
    ("country", "value", "fragment"),
    [("CA", "", "Canada"), ("US", None, "United States"), ("US", "Narnia", "United States"),
     ("CA", "California", "Canada"), ("US", "QC", "United States")],
)
def test_normalize_state_bad(country, value, fragment):
    with pytest.raises(FieldError) as caught:
        normalize_state(country, value)
    assert fragment in caught.value.message


def test_normalize_state_other_country_limits_length():
    with pytest.raises(FieldError):
        normalize_state("DK", "x" * (LIMITS["region"] + 1))


# ---------------------------------------------------------------- currency and language


@pytest.mark.parametrize(("value", "expected"),
                         [("eur", "EUR"), ("EUR", "EUR"), (" usd ", "USD"), ("dkk", "DKK")])
def test_normalize_currency_good(value, expected):
    assert normalize_currency(value) == expected


@pytest.mark.parametrize("value", ["", None, "EURO", "XYZ", "€", "eu", "12"])
def test_normalize_currency_bad(value):
    with pytest.raises(FieldError):
        normalize_currency(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("FR", "fr"), ("fr", "fr"), ("fr_FR", "fr"), ("fr-FR", "fr"), ("en_GB", "en"),
     ("da", "da"), ("fra", "fr"), ("French", "fr")],
)
def test_normalize_language_good(value, expected):
    assert normalize_language(value) == expected


@pytest.mark.parametrize("value", ["", None, "xx", "zz_ZZ", "f", "Klingonese", "fr__"])
def test_normalize_language_bad(value):
    with pytest.raises(FieldError):
        normalize_language(value)


# ---------------------------------------------------------------- websites


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", ""), (None, ""),
        ("example.com", "https://example.com"),
        ("Example.COM/", "https://example.com"),
        ("http://Example.com/Path?q=1#top", "http://example.com/Path?q=1#top"),
        ("HTTPS://www.example.co.uk", "https://www.example.co.uk"),
        ("example.com:8080/x", "https://example.com:8080/x"),
        ("bücher.de", "https://bücher.de"),
        ("xn--bcher-kva.de", "https://xn--bcher-kva.de"),
    ],
)
def test_normalize_website_good(value, expected):
    assert normalize_website(value) == expected


@pytest.mark.parametrize(
    "value",
    ["ftp://example.com", "javascript:alert(1)", "mailto:jane@example.com", "example",
     "exa mple.com", "http://", "https://localhost", "http://user:pw@example.com",
     "example.com:99999", "-bad-.com", "example.123", "a..com", "https://[::1]/",
     "x" * 250 + ".com", "example_site.com"],
)
def test_normalize_website_bad(value):
    with pytest.raises(FieldError):
        normalize_website(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("https://www.Example.com/path", "example.com"), ("http://shop.example.com", "shop.example.com"),
     ("example.com", "example.com"), ("", ""), ("https://example.com:8080/", "example.com")],
)
def test_website_key(value, expected):
    assert website_key(value) == expected


# ---------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Acme Holding S.A.R.L.", "acme holding"),
        ("Société Générale SA", "societe generale"),
        ("societe generale", "societe generale"),
        ("ACME, Inc.", "acme"),
        ("Acme Corp. Ltd", "acme"),
        ("Smith & Sons", "smith and sons"),
        ("Smith and Sons GmbH", "smith and sons"),
        ("Foo & Co.", "foo"),
        ("Maersk A/S", "maersk"),
        ("Nokia Oyj", "nokia"),
        ("Müller GmbH & Co. KG", "muller"),
        ("Company", "company"),  # never strips the whole name
        ("  O'Brien's   Pub  ", "o brien s pub"),
        ("", ""),
    ],
)
def test_name_key(value, expected):
    assert name_key(value) == expected


def test_legal_suffixes_cover_the_usual_forms():
    for suffix in ("inc", "ltd", "llc", "gmbh", "sa", "sarl", "a/s", "aps", "bv", "ab", "oy"):
        assert suffix in LEGAL_SUFFIXES


# ---------------------------------------------------------------- Errors


def test_errors_collects_first_error_per_field():
    errors = Errors()
    assert not errors
    assert errors.check("name", clean_text, "  Acme ", limit=10) == "Acme"
    assert not errors
    assert errors.check("name", clean_text, "", limit=10, required=True) is None
    assert errors.check("name", clean_text, "x" * 11, limit=10) is None
    errors.add("email", "Bad e-mail.")
    errors.add("email", "Second problem.")
    assert errors
    with pytest.raises(ValidationError) as caught:
        errors.raise_if_any()
    assert caught.value.errors == {"name": "This field is required.", "email": "Bad e-mail."}


def test_errors_lets_other_exceptions_through():
    errors = Errors()
    with pytest.raises(ZeroDivisionError):
        errors.check("x", lambda: 1 / 0)


def test_errors_raise_if_any_is_silent_when_clean():
    Errors().raise_if_any()


# ---------------------------------------------------------------- properties

ANY_TEXT = st.one_of(
    st.text(),
    st.text(alphabet="+0123456789 ()-.x;ext=#tel:", max_size=50),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.-_@:/?#&%[]ÉéÜ\x1b ", max_size=60),
)


@PROPERTY
@given(ANY_TEXT)
def test_normalize_email_raises_only_field_error(text):
    try:
        result = normalize_email(text)
    except FieldError:
        return
    assert result == normalize_email(result)


@PROPERTY
@given(ANY_TEXT, st.sampled_from([None, "DK", "US", "GB", "FR", "AQ", "zz", ""]))
def test_normalize_phone_raises_only_field_error(text, region):
    try:
        result = normalize_phone(text, region)
    except FieldError:
        return
    if not result:
        return
    assert result.startswith("+")
    assert normalize_phone(result, None) == result
    assert normalize_phone(format_phone(result, region), region or "DK") == result


@PROPERTY
@given(ANY_TEXT)
def test_normalize_country_raises_only_field_error(text):
    try:
        result = normalize_country(text)
    except FieldError:
        return
    assert result is None or (len(result) == 2 and result.isupper())


@PROPERTY
@given(ANY_TEXT)
def test_normalize_website_raises_only_field_error(text):
    try:
        result = normalize_website(text)
    except FieldError:
        return
    if result:
        assert result.startswith(("http://", "https://"))
        assert normalize_website(result) == result
        assert website_key(result)


@PROPERTY
@given(ANY_TEXT, st.sampled_from(["US", "CA", "DK", None]))
def test_state_currency_language_raise_only_field_error(text, country):
    for fn, args in ((normalize_state, (country, text)), (normalize_currency, (text,)),
                     (normalize_language, (text,))):
        try:
            fn(*args)
        except FieldError:
            pass


@PROPERTY
@given(st.one_of(st.text(), st.sampled_from(LEGAL_SUFFIXES).map(lambda s: "Acme " + s + " " + s)))
def test_name_key_is_idempotent(text):
    key = name_key(text)
    assert name_key(key) == key
    assert key == key.strip() and "  " not in key


@PROPERTY
@given(st.text(), st.text())
def test_website_key_and_digit_suffixes_never_raise(a, b):
    website_key(a)
    assert all(len(part) >= 1 and part.isdigit() for part in digit_suffixes(a, b).split())


@pytest.mark.parametrize("code", [*range(0x20), 0x7F])
def test_every_ascii_control_is_refused_on_the_ascii_path_as_on_the_other(code):
    """Plain ASCII takes a faster path; it must refuse exactly what the general one does."""
    char = chr(code)
    for multiline in (False, True):
        allowed = char in "\n\t\r"  # whitespace in one line; a line break (\r too) in many
        for value in (f"ab{char}cd", f"é{char}cd"):  # the ASCII path, then the general one
            if allowed:
                clean_text(value, limit=50, multiline=multiline)
            else:
                with pytest.raises(FieldError):
                    clean_text(value, limit=50, multiline=multiline)


ADDRESS_LIKE = st.builds(
    lambda local, domain: f"{local}@{domain}",
    st.text(alphabet="abcXYZ019._-+!#'`~{|}\"() é", min_size=0, max_size=70),
    st.one_of(
        st.text(alphabet="abcXYZ019.-_ é", min_size=0, max_size=40),
        st.sampled_from(["example.com", "Firm.EXAMPLE", "x.test", "localhost", "1.2",
                         "bücher.de", "-a.com", "a-.com", "a..com", "[127.0.0.1]",
                         "a" * 64 + ".com", ("b" * 60 + ".") * 4 + "com"]),
    ),
)


def _library_verdict(text: str) -> tuple[str, str]:
    from tui.domain.validation import LIMITS, _validated_email

    try:
        return "ok", _validated_email(clean_text(text, limit=LIMITS["email"]))
    except FieldError as error:
        return "refused", error.message


def _our_verdict(text: str) -> tuple[str, str]:
    try:
        return "ok", normalize_email(text)
    except FieldError as error:
        return "refused", error.message


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ADDRESS_LIKE)
def test_the_per_domain_shortcut_answers_exactly_as_the_library(text):
    # normalize_email checks each domain once (bulk imports); the library in full is the truth.
    text = " ".join(text.split())
    assert _our_verdict(text) == _library_verdict(text)


@pytest.mark.parametrize("text", ["Lars.Jensen@Firm.Example", "a+tag@EXAMPLE.com",
                                  "x@x.test", "a..b@example.com", "é@example.com",
                                  "a@bücher.de", ("l" * 65) + "@example.com"])
def test_the_per_domain_shortcut_on_known_cases(text):
    assert _our_verdict(text) == _library_verdict(text)
