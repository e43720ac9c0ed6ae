"""Dates, numbers and amounts as people of a locale write them (Babel), and read back.

Every function takes ``locale``: None means the operator's (``tui.i18n.current_locale()``);
a bare language ("fr") means its default locale (fr_FR); "fr_CA", "da-DK.UTF-8" and any
locale Babel knows ("de_AT") are taken as given; anything else is US English.

Writing (what screens, the CLI's tables, reports, the proposal and e-mails show):

- ``format_date``: the locale's short numeric date with the year in four digits —
  23/11/2026 (fr_FR), 23.11.2026 (da_DK), 11/23/2026 (en_US), 2026-11-23 (fr_CA).
- ``format_datetime``: that date and the time as HH:MM (24 hours).
- ``format_decimal`` / ``format_number``: grouped digits, the locale's decimal mark.
- ``format_amount``: whole minor units of a currency as 1 234,50 € (fr_FR),
  1.234,50 kr. (da_DK, DKK), $1,234.50 (en_US): Babel's currency pattern and symbol,
  with the decimals of the currency (ISO 4217: 0 for JPY, 3 for KWD). Babel writes the
  spaces as no-break spaces (U+00A0, and U+202F between the thousands in French).

Reading (what entry fields accept): ``parse_date``, ``parse_datetime``, ``parse_decimal``
and ``parse_amount`` accept what the ``format_*`` twin writes in that locale, and the
ISO / plain forms (2026-11-23, 1234.50) where that is unambiguous; a number the locale
cannot read is tried in the other common conventions (1,234.50 / 1.234,50 / 1234.50)
and taken only when they all agree (so "1.250" is refused in French, where it could be
1250 or 1.25, and read as 1250 in Danish, whose own form it is). A bad entry raises
``FieldError`` naming what was typed and the expected form with an example in the
locale: "Not a date: "31/02/2026". Write the date as 23/11/2026."

Machine formats — JSON and CSV output, import and export files, the database — stay
ISO and plain (``minor_to_text``, ``date.isoformat()``) whatever the locale.
"""

from __future__ import annotations

import copy
import re
from datetime import date, datetime, time, timezone
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.dates import format_date as _babel_date
from babel.numbers import NumberPattern, get_currency_symbol, parse_pattern

from tui.domain.validation import FieldError, quoted
from tui.i18n import DEFAULT_LOCALES, _, current_locale, parse_locale

FALLBACK_LOCALE = DEFAULT_LOCALES["en"]
EXAMPLE_DAY = date(2026, 11, 23)  # a day past the 12th: its order cannot be misread
EXAMPLE_NUMBER = Decimal("1234.5")
EXAMPLE_AMOUNT = Decimal("1234.50")
MAX_TEXT = 60  # a number or date longer than this is no number or date

# ISO 4217 minor units where they are not 2 (Babel's own table differs for a few).
MINOR_UNITS: dict[str, int] = {
    **dict.fromkeys(("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF",
                     "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    "CLF": 4, "UYW": 4,
}

# What people type between groups of digits, besides the locale's own separator.
_SPACES = "\u0020\u00a0\u202f\u2009\u2007'\u2019_"
_SPACE_RUN = re.compile("[" + re.escape(_SPACES) + "]+")
_SIGNS = {"-": -1, "\u2212": -1, "+": 1}
_DATE = re.compile(r"([0-9]{1,4}) *([./-]) *([0-9]{1,2}) *[./-] *([0-9]{1,4})\.?")
_TIME = re.compile(r"(?: *[T,] *| +)([0-9]{1,2})[:.]([0-9]{2})(?::([0-9]{2}))?")
_ZONE = re.compile(r"\s*(Z|UTC|GMT)\Z", re.IGNORECASE)


# ------------------------------------------------------------------ locales

def locale_for(value: str | None = None) -> str:
    """The locale ``value`` names (see the module's docstring), as "fr_FR"."""
    if value is None:
        return current_locale()
    return _locale_name(value)


@lru_cache(maxsize=64)
def _locale_name(value: str) -> str:
    parsed = parse_locale(value)
    if parsed is not None:
        return parsed[1]
    code = (value or "").strip().split(".")[0].split("@")[0].replace("-", "_")
    try:
        return str(Locale.parse(code)) if code else FALLBACK_LOCALE
    except (UnknownLocaleError, ValueError, TypeError):
        return FALLBACK_LOCALE


@lru_cache(maxsize=64)
def _locale(name: str) -> Locale:
    return Locale.parse(name)


def _symbols(name: str) -> tuple[str, str]:
    """(group separator, decimal mark) of a locale, in Latin digits."""
    symbols = _locale(name).number_symbols.get("latn") or _locale(name).number_symbols
    return symbols.get("group", ","), symbols.get("decimal", ".")


# ------------------------------------------------------------------ dates

def date_pattern(locale: str | None = None) -> str:
    """The locale's short date pattern with a four-digit year: "dd/MM/yyyy", "M/d/yyyy".

    Babel's (CLDR's) "short" date format, the one numeric form every locale has: fr_FR's
    dd/MM/y and da_DK's dd.MM.y already write four digits; en_US's M/d/yy would write 26,
    so its year is widened (M/d/yyyy: 11/23/2026)."""
    return _date_pattern(locale_for(locale))


@lru_cache(maxsize=64)
def _date_pattern(name: str) -> str:
    return re.sub(r"y+", "yyyy", _locale(name).date_formats["short"].pattern)


def _day_month_order(name: str) -> tuple[str, str]:
    """("d", "M") when the locale writes the day first, else ("M", "d")."""
    pattern = date_pattern(name)
    return ("d", "M") if pattern.find("d") < pattern.find("M") else ("M", "d")


def format_date(day: date, locale: str | None = None) -> str:
    """23/11/2026 (fr_FR), 23.11.2026 (da_DK), 11/23/2026 (en_US)."""
    name = locale_for(locale)
    return _babel_date(day, date_pattern(name), locale=_locale(name))


def format_datetime(moment: datetime, locale: str | None = None) -> str:
    """The date as ``format_date`` writes it and the time as HH:MM: "23/11/2026 14:05".

    No time-zone conversion happens here: the wall-clock time the moment carries is
    written. The models store naive UTC, so a stored moment comes out in UTC — what
    the lists (audit, outbox, import jobs, machine events) have always shown; a screen
    that shows local time (the customer's equipment) converts before calling.
    """
    return f"{format_date(moment.date(), locale)} {moment:%H:%M}"


def date_example(locale: str | None = None) -> str:
    """The example date every message and placeholder shows: 23/11/2026 in French."""
    return format_date(EXAMPLE_DAY, locale)


def format_moment(value: object, locale: str | None = None) -> str:
    """``format_datetime`` of a datetime or of the ISO text a snapshot holds (an audit
    record, a conflict's "their version"); "" for None, other text as it is."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    return format_datetime(value, locale) if isinstance(value, datetime) else ""


def datetime_example(locale: str | None = None) -> str:
    """The example date and time messages and placeholders show: 23/11/2026 14:30."""
    return format_datetime(datetime.combine(EXAMPLE_DAY, time(14, 30)), locale)


def _date_problem(text: str, name: str) -> FieldError:
    return FieldError(_("Not a date: {value}. Write the date as {example}.").format(
        value=quoted(text), example=date_example(name)))


def _read_date(text: str, name: str) -> date | None:
    """The date in ``text`` (the locale's order or ISO), None when it is no date form."""
    match = _DATE.fullmatch(text)
    if match is None:
        return None
    first, separator, middle, last = match.groups()
    if len(first) == 4 and len(last) <= 2:  # 2026-11-23 (2026/11/23, 2026.11.23)
        year, month, day = int(first), int(middle), int(last)
    elif len(last) == 4 and len(first) <= 2:
        order = _day_month_order(name)
        parts = {order[0]: int(first), order[1]: int(middle)}
        year, month, day = int(last), parts["M"], parts["d"]
    else:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def parse_date(text: object, locale: str | None = None) -> date:
    """A date typed in the locale's form (23/11/2026 in French, 11/23/2026 in US English;
    one-digit day and month too) or in ISO form (2026-11-23). Years have four digits."""
    if isinstance(text, datetime):
        return text.date()
    if isinstance(text, date):
        return text
    name = locale_for(locale)
    raw = "" if text is None else str(text)
    stripped = raw.strip()
    if not stripped:
        raise FieldError(_("This field is required."))
    day = _read_date(stripped, name) if len(stripped) <= MAX_TEXT else None
    if day is None:
        raise _date_problem(raw, name)
    return day


def parse_datetime(text: object, locale: str | None = None) -> datetime:
    """A date and time: the locale's date then HH:MM (23/11/2026 14:05), or ISO 8601
    (2026-11-23T14:05, with seconds, Z or an offset). A time written with an offset is
    converted to UTC; the result is naive, as the models store it. Without a time:
    midnight."""
    if isinstance(text, datetime):
        return text
    name = locale_for(locale)
    raw = "" if text is None else str(text)
    stripped = raw.strip()
    if not stripped:
        raise FieldError(_("This field is required."))
    if len(stripped) <= MAX_TEXT:
        moment = _read_datetime(stripped, name)
        if moment is not None:
            return moment
    raise FieldError(_("Not a date and time: {value}. Write it as {example}.").format(
        value=quoted(raw), example=datetime_example(name)))


def _read_datetime(text: str, name: str) -> datetime | None:
    zone = _ZONE.search(text)
    body = text[:zone.start()] if zone else text
    for split in range(len(body), 0, -1):  # the longest date at the start, then the time
        day = _read_date(body[:split], name) if not body[split - 1].isspace() else None
        if day is None:
            continue
        rest = body[split:]
        if not rest.strip():
            return datetime.combine(day, time())
        clock = _TIME.fullmatch(rest)
        if clock is None:
            break
        hour, minute, second = (int(part or 0) for part in clock.groups())
        try:
            return datetime(day.year, day.month, day.day, hour, minute, second)
        except ValueError:
            return None
    iso = text[:-1] + "+00:00" if text[-1:] in "Zz" else text
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return None
    if moment.tzinfo is not None:
        try:
            moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
        except OverflowError:
            return None
    return moment


# ------------------------------------------------------------------ numbers

@lru_cache(maxsize=256)
def _pattern(name: str, kind: str, places: int) -> NumberPattern:
    """The locale's decimal or currency pattern with exactly ``places`` decimals."""
    formats = _locale(name).decimal_formats if kind == "decimal" else _locale(name).currency_formats
    pattern = copy.copy(parse_pattern(formats[None if kind == "decimal" else "standard"]))
    pattern.frac_prec = (places, places)
    return pattern


def _places_of(number: Decimal) -> int:
    exponent = number.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def format_decimal(number: Decimal | int | str, locale: str | None = None, *,
                   places: int | None = None, grouping: bool = True) -> str:
    """Decimal("1234.5") -> "1 234,5" (fr_FR), "1.234,5" (da_DK), "1,234.5" (en_US).

    ``places``: exactly that many decimals; None: as many as the number has, without
    trailing zeros (Decimal("2.500") -> "2.5").
    """
    name = locale_for(locale)
    value = Decimal(number)
    shown = _places_of(value) if places is None else places
    return _pattern(name, "decimal", shown).apply(value, _locale(name),
                                                  group_separator=grouping)


def format_number(count: int, locale: str | None = None) -> str:
    """A whole number with the locale's grouping: 12345 -> "12 345" in French."""
    return format_decimal(int(count), locale, places=0)


def minor_units(currency: str) -> int:
    """Digits after the decimal point in ``currency`` (2 for EUR, 0 for JPY, 3 for KWD)."""
    return MINOR_UNITS.get((currency or "").upper(), 2)


def _spaced(text: str) -> str:
    """CLDR's currency spacing, which Babel leaves out: "DKK1,234.50" -> "DKK 1,234.50"."""
    text = re.sub(r"(?<=[^\W\d_])(?=\d)", "\u00a0", text)
    return re.sub(r"(?<=\d)(?=[^\W\d_])", "\u00a0", text)


def format_amount(minor: int, currency: str, locale: str | None = None) -> str:
    """Whole minor units as the locale writes an amount in ``currency``:
    123450 EUR -> "1 234,50 €" (fr_FR), 123450 DKK -> "1.234,50 kr." (da_DK),
    123450 USD -> "$1,234.50" (en_US), -150 JPY -> "-¥150" (en_US)."""
    name = locale_for(locale)
    code = (currency or "").upper()
    places = minor_units(code)
    value = Decimal(int(minor)).scaleb(-places)
    text = _pattern(name, "currency", places).apply(value, _locale(name), currency=code,
                                                    currency_digits=False)
    return _spaced(text)


def number_example(locale: str | None = None, places: int | None = None) -> str:
    """1234.5 as the locale writes it (with ``places`` decimals if given)."""
    value = EXAMPLE_NUMBER if places is None else EXAMPLE_AMOUNT.quantize(
        Decimal(1).scaleb(-places))
    return format_decimal(value, locale, places=places)


def _read_number(body: str, group: str, decimal_mark: str) -> Decimal | None:
    """``body`` (no sign; every space-like character made " ") in one convention."""
    if body.count(decimal_mark) > 1:
        return None
    whole, _mark, fraction = body.partition(decimal_mark)
    if _mark and not re.fullmatch(r"[0-9]*", fraction):
        return None
    if not whole and not fraction:
        return None
    separators = " " + ("" if group.isspace() else group)
    if any(char in separators for char in whole):
        groups = "[" + re.escape(separators) + "]"
        if not re.fullmatch(r"[0-9]{1,3}(?:" + groups + r"[0-9]{3})+", whole):
            return None
        whole = re.sub(groups, "", whole)
    elif whole and not re.fullmatch(r"[0-9]+", whole):
        return None
    try:
        return Decimal((whole or "0") + ("." + fraction if fraction else ""))
    except InvalidOperation:
        return None


def _split_sign(text: str) -> tuple[int, str]:
    if text[:1] in _SIGNS:
        return _SIGNS[text[0]], text[1:].strip()
    return 1, text


def _read_decimal(text: str, name: str) -> Decimal | None:
    sign, rest = _split_sign(text)
    body = _SPACE_RUN.sub(" ", rest)
    if not body or body != body.strip():
        return None
    group, decimal_mark = _symbols(name)
    group = " " if group.isspace() or group in _SPACES else group
    own = _read_number(body, group, decimal_mark)
    if own is not None:
        return sign * own
    readings = {value for value in (_read_number(body, "", "."), _read_number(body, ",", "."),
                                    _read_number(body, ".", ","))
                if value is not None}
    if len(readings) != 1:  # none, or conventions that disagree ("1.250" in French)
        return None
    return sign * readings.pop()


def _number_problem(text: str, name: str) -> FieldError:
    return FieldError(_("Not a number: {value}. Write the number as {example}.").format(
        value=quoted(text), example=number_example(name)))


def parse_decimal(text: object, locale: str | None = None) -> Decimal:
    """An exact number as typed: "1 234,5" in French, "1.234,5" in Danish, "1,234.5" in US
    English, or plain 1234.5 — see the module's docstring for what else is read."""
    if isinstance(text, Decimal) and text.is_finite():
        return text
    if isinstance(text, int) and not isinstance(text, bool):
        return Decimal(text)
    name = locale_for(locale)
    raw = "" if text is None else str(text)
    stripped = raw.strip()
    if not stripped:
        raise FieldError(_("This field is required."))
    number = _read_decimal(stripped, name) if len(stripped) <= MAX_TEXT else None
    if number is None:
        raise _number_problem(raw, name)
    return number


# ------------------------------------------------------------------ amounts

def places_message(currency: str, places: int) -> str:
    if places == 0:
        return _("{currency} amounts have no decimals.").format(currency=currency)
    return _("{currency} amounts have at most {places} decimals.").format(currency=currency,
                                                                         places=places)


@lru_cache(maxsize=256)
def _currency_marks(currency: str, name: str) -> tuple[str, ...]:
    """What may stand for ``currency`` around a typed amount, longest first."""
    marks = {currency}
    for where in {name, *DEFAULT_LOCALES.values()}:
        try:
            symbol = get_currency_symbol(currency, locale=where)
        except (UnknownLocaleError, ValueError):
            continue
        marks.add(_SPACE_RUN.sub(" ", symbol))
        marks.add(symbol.rstrip("."))
    return tuple(sorted((mark for mark in marks if mark), key=len, reverse=True))


def _without_currency(text: str, currency: str, name: str) -> str:
    """``text`` less one currency mark before or after the number (and the spaces around)."""
    body = _SPACE_RUN.sub(" ", text).strip()
    for mark in _currency_marks(currency, name):
        if body[:len(mark)].casefold() == mark.casefold():
            return body[len(mark):].strip()
        if body[-len(mark):].casefold() == mark.casefold():
            return body[:-len(mark)].strip()
    return body


def amount_number(text: object, currency: str, locale: str | None = None) -> Decimal:
    """The number of an amount as typed, its currency mark allowed ("1 234,50 €",
    "$1,234.50", "-1.234,50 kr.", "1234.50"); not yet checked against the currency's
    decimals (see ``parse_amount``)."""
    if isinstance(text, Decimal) and text.is_finite():
        return text
    if isinstance(text, int) and not isinstance(text, bool):
        return Decimal(text)
    name = locale_for(locale)
    code = (currency or "").upper()
    raw = "" if text is None else str(text)
    stripped = raw.strip()
    if not stripped:
        raise FieldError(_("This field is required."))
    number = None
    if len(stripped) <= MAX_TEXT:
        sign, rest = _split_sign(stripped)
        rest = _without_currency(rest, code, name)
        if sign == 1 and rest[:1] in _SIGNS:  # "$-5", "€ -5"
            sign, rest = _split_sign(rest)
        number = _read_decimal(rest, name) if rest else None
        if number is not None:
            number = sign * number
    if number is None:
        raise FieldError(_("Not an amount: {value}. Write the amount as {example}.").format(
            value=quoted(raw), example=number_example(name, minor_units(code))))
    return number


def parse_amount(text: object, currency: str, locale: str | None = None) -> int:
    """An amount as typed (``amount_number``) in whole minor units of ``currency``:
    "1 234,50 €" in French -> 123450. More decimals than the currency has is an error."""
    code = (currency or "").upper()
    number = amount_number(text, code, locale)
    places = minor_units(code)
    minor = number.scaleb(places)
    if minor != minor.to_integral_value():
        raise FieldError(places_message(code, places))
    return int(minor)
