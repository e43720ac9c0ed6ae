"""Messy spreadsheet values turned into what the app's own validation accepts.

Each helper maps what can be mapped and leaves the rest as written, so the
service's validation (``validate_customer``, ``validate_contact``,
``validate_equipment``) is still what accepts or rejects a value, with its own
message. Only the date and boolean parsers reject on their own (``FieldError``),
because no service parses those from text.

- ``unescape_cell``: undoes the export's formula guard (a leading ``'`` before
  ``= + - @``, tab or carriage return), so an export imports back unchanged.
- ``country_text``: a few names pycountry lacks (England, Holland, U.S.A., ...);
  ISO codes and English/French names are ``normalize_country``'s job.
- ``phone_text``: "Tél. : 01 23 45 67 89 poste 12", "+44 (0)20 7946 0123",
  "0045 12 34 56 78" -> what ``normalize_phone`` reads (extension as ``ext.``).
- ``currency_text``: €, $, £, "euro" -> ISO codes; ``language_text``: "Français",
  "anglais", "Danish" -> ISO 639-1 codes.
- ``choice_key``/``choice_keys``: a segment or contact role given by its key or by
  its label in any configured language -> the key.
- ``split_list``: "a; b" or "a, b" (semicolons win when both appear, so a value
  may hold a comma when the list is separated by semicolons).
- ``join_name``/``split_name``: first and last name columns <-> one name.
- ``parse_date``: ISO (2026-03-31) or day/month/year (31/03/2026, 31.03.26, 31-3-2026).
- ``parse_bool``: yes/no, oui/non, true/false, 1/0, x, ja/nej.
"""

from __future__ import annotations

import gettext
import re
import unicodedata
from collections.abc import Mapping
from datetime import date, datetime
from functools import lru_cache

import pycountry

from tui.domain.validation import FieldError, quoted
from tui.i18n import _

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def fold(text: str) -> str:
    """Case-, accent- and punctuation-insensitive form for comparing names and headers."""
    text = unicodedata.normalize("NFKD", text or "").casefold()
    text = "".join(c if c.isalnum() else " " for c in text if not unicodedata.combining(c))
    return " ".join(text.split())


def unescape_cell(value: str) -> str:
    """``'=SUM(A1)`` -> ``=SUM(A1)``: what ``exporter.guard_cell`` added is taken off again."""
    if len(value) > 1 and value[0] == "'" and value[1] in FORMULA_STARTS:
        return value[1:]
    return value


# ---------------------------------------------------------------- countries and currencies

_COUNTRY_ALIASES = {
    "england": "GB", "scotland": "GB", "wales": "GB", "northern ireland": "GB",
    "angleterre": "GB", "ecosse": "GB", "pays de galles": "GB", "grande bretagne": "GB",
    "britain": "GB", "u k": "GB", "holland": "NL", "hollande": "NL", "u s a": "US", "u s": "US",
    "america": "US", "etats unis d amerique": "US", "usa": "US", "uae": "AE",
    "south korea": "KR", "coree du sud": "KR", "russia": "RU", "russie": "RU",
    "vietnam": "VN", "czech republic": "CZ", "republique tcheque": "CZ", "ivory coast": "CI",
    "cote d ivoire": "CI", "turkey": "TR", "turquie": "TR",
}


def country_text(value: str) -> str:
    """An alias pycountry does not know -> its ISO code; anything else unchanged."""
    return _COUNTRY_ALIASES.get(fold(value), value)


_CURRENCY_ALIASES = {"€": "EUR", "euro": "EUR", "euros": "EUR", "eur": "EUR", "£": "GBP",
                     "pound": "GBP", "pounds": "GBP", "livre sterling": "GBP", "us$": "USD",
                     "$": "USD", "dollar us": "USD", "us dollar": "USD", "kr": "DKK",
                     "dkr": "DKK", "couronne danoise": "DKK", "danish krone": "DKK",
                     "chf": "CHF", "franc suisse": "CHF", "swiss franc": "CHF", "c$": "CAD",
                     "ca$": "CAD", "dollar canadien": "CAD", "canadian dollar": "CAD"}


@lru_cache(maxsize=1)
def _language_names() -> dict[str, str]:
    """Folded English and French language names -> ISO 639-1 code."""
    french = gettext.translation("iso639-3", pycountry.LOCALES_DIR, languages=["fr"],
                                 fallback=True)
    names = {}
    for language in pycountry.languages:
        code = getattr(language, "alpha_2", None)
        if code:
            names.setdefault(fold(language.name), code)
            names.setdefault(fold(french.gettext(language.name)), code)
    names.update({"dansk": "da", "deutsch": "de", "espanol": "es", "english": "en",
                  "nederlands": "nl", "norsk": "no", "svenska": "sv", "italiano": "it"})
    return names


def language_text(value: str) -> str:
    """"Français", "French", "anglais" -> ISO 639-1 code; anything else unchanged."""
    return _language_names().get(fold(value), value)


def currency_text(value: str) -> str:
    text = value.strip()
    return _CURRENCY_ALIASES.get(text.casefold(), _CURRENCY_ALIASES.get(fold(text), text))


# ---------------------------------------------------------------- phones

_PHONE_LABEL = re.compile(
    r"^\s*(?:t[eé]l[eé]?(?:phone)?|tel|phone|ph|mobile|mob|portable|port|gsm|cell|fixe|"
    r"office|bureau|direct)\b\.?\s*[:.]?\s*", re.IGNORECASE)
_EXTENSION = re.compile(r"\s*(?:\bposte\b|\bp\.|\bext\b\.?|\bextn\b\.?|\bextension\b|\bx\b|#)"
                        r"\s*[:.]?\s*(\d{1,10})\s*$", re.IGNORECASE)
_TRUNK_ZERO = re.compile(r"^(\+\d{1,3})\s*\(0\)\s*")


def phone_text(value: str) -> str:
    """Messy phone text -> a form ``normalize_phone`` reads; the digits are never changed."""
    text = unicodedata.normalize("NFKC", value or "").strip()
    if not text:
        return ""
    text = _PHONE_LABEL.sub("", text)
    extension = ""
    match = _EXTENSION.search(text)
    if match:
        extension, text = match.group(1), text[:match.start()]
    text = _TRUNK_ZERO.sub(r"\1 ", text.strip())
    if text.startswith("00") and len(re.sub(r"\D", "", text)) > 8:
        text = "+" + text[2:]
    return f"{text} ext. {extension}" if extension else text


# ---------------------------------------------------------------- choices and lists


def split_list(value: str) -> tuple[str, ...]:
    """Semicolon-separated when there is a semicolon, else comma-separated; blanks dropped."""
    separator = ";" if ";" in value else ","
    return tuple(part.strip() for part in value.split(separator) if part.strip())


def choice_key(choices: Mapping, value: str) -> str:
    """The key of the choice whose key or any label matches ``value``; else ``value`` itself."""
    text = value.strip()
    if text in choices:
        return text
    return _choice_index(choices).get(fold(text), text)


_CHOICE_INDEXES: dict[int, tuple[Mapping, dict[str, str]]] = {}


def _choice_index(choices: Mapping) -> dict[str, str]:
    """Folded keys and labels (every language) -> key; built once per list of choices."""
    found = _CHOICE_INDEXES.get(id(choices))
    if found is None or found[0] is not choices:
        index: dict[str, str] = {}
        for key, choice in choices.items():
            for label in (key, choice.label, *choice.labels.values()):
                index.setdefault(fold(label), key)
        found = _CHOICE_INDEXES[id(choices)] = (choices, index)
    return found[1]


def choice_keys(choices: Mapping, value: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(choice_key(choices, part) for part in split_list(value)))


# ---------------------------------------------------------------- names


def join_name(first: str, last: str) -> str:
    return " ".join(part.strip() for part in (first, last) if part and part.strip())


def split_name(full: str) -> tuple[str, str]:
    """(given names, family name): the last word is taken as the family name."""
    words = (full or "").split()
    if len(words) < 2:
        return "", " ".join(words)
    return " ".join(words[:-1]), words[-1]


# ---------------------------------------------------------------- dates, years, booleans

_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ].*)?$")
_YMD = re.compile(r"^(\d{4})[/.](\d{1,2})[/.](\d{1,2})$")
_DMY = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})$")


def _full_year(text: str) -> int:
    year = int(text)
    if len(text) == 2:  # 26 -> 2026, 85 -> 1985: the nearest century that is not far future
        pivot = (datetime.now().year % 100) + 10
        year += 2000 if year <= pivot else 1900
    return year


def parse_date(value: str) -> date | None:
    """ISO 2026-03-31 or day/month/year (31/03/2026, 31.3.26, 31-03-2026); None when blank."""
    text = (value or "").strip()
    if not text:
        return None
    for pattern, order in ((_ISO_DATE, "ymd"), (_YMD, "ymd"), (_DMY, "dmy")):
        match = pattern.match(text)
        if match is None:
            continue
        parts = dict(zip(order, match.groups()))
        try:
            return date(_full_year(parts["y"]), int(parts["m"]), int(parts["d"]))
        except ValueError:
            raise FieldError(_("Not a date: {value} (no such day).").format(
                value=quoted(text))) from None
    raise FieldError(_("Not a date: {value} (write day/month/year, e.g. 31/12/2026, or "
                       "2026-12-31).").format(value=quoted(text)))


def year_text(value: str) -> str:
    """"2019.0" (a spreadsheet's number) or a date -> "2019"; anything else unchanged."""
    text = (value or "").strip()
    if re.fullmatch(r"\d{4}\.0+", text):
        return text.split(".")[0]
    if not re.fullmatch(r"\d+", text):
        try:
            day = parse_date(text)
        except FieldError:
            return text
        return str(day.year) if day else text
    return text


_TRUE = {"yes", "y", "true", "t", "1", "x", "oui", "o", "vrai", "ja", "j", "on"}
_FALSE = {"no", "n", "false", "f", "0", "non", "faux", "nej", "nein", "off", "-"}


def parse_bool(value: str) -> bool | None:
    """yes/no in English, French or Danish, true/false, 1/0, x; None when blank."""
    text = fold(value) if value and value.strip() != "-" else (value or "").strip()
    if not text:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise FieldError(_("Not yes or no: {value}").format(value=quoted(value.strip())))
