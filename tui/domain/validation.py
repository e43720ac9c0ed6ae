"""Pure checks and normalisers shared by the services, the CSV importer and the UI.

Every function either returns the one canonical form the database stores or raises
``FieldError`` with a message fit for the user; none touches the database, the
network or the terminal, so the same rules hold wherever data comes in.
"""

from __future__ import annotations

import gettext
import re
import unicodedata
from functools import lru_cache
from urllib.parse import urlsplit

import phonenumbers
import pycountry
from email_validator import EmailNotValidError, validate_email

from tui.domain.errors import ValidationError
from tui.i18n import N_, _, current_language


class FieldError(Exception):
    """One field's problem; ``message`` is shown next to the field."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


LIMITS = {"name": 200, "street": 200, "postal_code": 20, "city": 100, "region": 100, "email": 254,
          "website": 255, "phone": 40, "job_title": 100, "notes": 10_000, "title": 200,
          "serial": 64, "make": 100, "model": 100, "type": 100, "login": 64, "display_name": 200,
          "group": 100}

# ---------------------------------------------------------------- free text

# Bidi embeddings/overrides/isolates can make a name display as something else.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


_ASCII_CONTROLS = re.compile(r"[\x00-\x1f\x7f]")  # category Cc within ASCII


def _forbidden(char: str, allowed: str) -> bool:
    if char in allowed:
        return False
    return char in _BIDI_CONTROLS or unicodedata.category(char) in ("Cc", "Cs")


PATH_SHOWN = 300  # ``quoted(path, PATH_SHOWN)``: a path in a message is shown whole up to this

_SHOWN_AS = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _shown(char: str) -> str:
    """One character as ``quoted`` writes it: itself, or a backslash escape as repr() does."""
    if char in _SHOWN_AS:
        return _SHOWN_AS[char]
    if char.isprintable() and char not in _BIDI_CONTROLS:
        return char
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def quoted(value: object, limit: int = 40, *, bare: bool = False) -> str:
    """What a person typed, as a message may show it: ``"19x9"``.

    Refusals name the value they refuse, and those messages reach terminals (the
    CLI's stderr, the TUI). So the value is put in double quotes, and every character
    a terminal would act on or that does not show (ESC and the other controls, lone
    surrogates, bidi overrides, zero-width and other invisible characters, line
    breaks) is written as its escape, ``\\x1b`` or ``\\u202e``, as repr() does; a
    backslash or a quote in the value is escaped too, so what is shown is unambiguous.
    Beyond ``limit`` shown characters the value is cut and ends with "…". Whatever the
    value (not text, a huge number, anything), this returns a short inert line.

    ``bare``: leave the quotes off when the value shows exactly as it is (every character
    printable, not cut): for names a message puts where an id could stand ("No estimate
    E-2026-0001."), or a list of a file's columns. Anything else is quoted as above.
    """
    if isinstance(value, str):
        text = value
    else:
        try:
            text = str(value)
        except Exception:  # e.g. an int past Python's digit limit
            text = "<{kind}>".format(kind=type(value).__name__)
    pieces: list[str] = []
    used = 0
    for char in text:
        piece = _shown(char)
        if used + len(piece) > limit:
            pieces.append("…")
            break
        pieces.append(piece)
        used += len(piece)
    shown = "".join(pieces)
    if bare and shown == text and text and text == text.strip():
        return shown
    return '"' + shown + '"'


def clean_text(value: object, *, limit: int, required: bool = False, multiline: bool = False) -> str:
    """Trim, NFC-normalise and bound a text field; refuse control characters.

    Control characters (ESC above all) must never be stored: names and notes are
    printed to terminals, where escape sequences would act instead of showing.
    Single-line fields treat tab and line breaks as ordinary whitespace and collapse them.
    """
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise FieldError(_("Expected text, not {type}.").format(type=type(value).__name__))
    ascii_only = value.isascii()  # most values: no normalising, one regex instead of a loop
    text = value if ascii_only else unicodedata.normalize("NFC", value)
    if multiline:
        text = re.sub(r"\r\n?|[\u2028\u2029]", "\n", text)
    allowed = "\n\t" if multiline else "\n\t\r"
    if ascii_only:
        bad = next((m.group() for m in _ASCII_CONTROLS.finditer(text) if m.group() not in allowed),
                   None)
    else:
        bad = next((c for c in text if _forbidden(c, allowed)), None)
    if bad is not None:
        raise FieldError(
            _("Control characters are not allowed (found U+{code:04X}).").format(code=ord(bad))
        )
    if multiline:
        text = "\n".join(line.rstrip() for line in text.strip().split("\n"))
    else:
        text = " ".join(text.split())
    if required and not text:
        raise FieldError(_("This field is required."))
    if len(text) > limit:
        raise FieldError(_("At most {limit} characters.").format(limit=limit))
    return text


# ---------------------------------------------------------------- e-mail


def normalize_email(value: object) -> str:
    """Check e-mail syntax (never DNS) and return the library's normalised form."""
    text = clean_text(value, limit=LIMITS["email"])
    if not text:
        return ""
    return _plain_email(text) or _validated_email(text)


def _validated_email(text: str) -> str:
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise FieldError(
            _("Not a valid e-mail address: {reason}").format(reason=email_reason(str(error)))
        ) from None


# email-validator explains in English: its usual reasons, by how they begin, in the operator's
# language. The characters it lists after ": " are kept.
_EMAIL_REASONS = (
    ("An email address must have an @-sign", N_("it needs an @")),
    ("There must be something before the @-sign", N_("something must come before the @")),
    ("There must be something after the @-sign", N_("something must come after the @")),
    ("The part after the @-sign is not valid. It should have a period",
     N_("the part after the @ needs a period, as in example.com")),
    ("An email address cannot have two periods in a row", N_("two periods in a row are not allowed")),
    ("An email address cannot", N_("a period or hyphen is not allowed there")),
    ("The email address contains invalid characters before the @-sign",
     N_("characters not allowed before the @")),
    ("The part after the @-sign contains invalid characters",
     N_("characters not allowed after the @")),
    ("The email address contains unsafe characters", N_("characters not allowed in an address")),
    ("Internationalized characters before the @-sign are not supported",
     N_("accented or non-Latin letters are not allowed before the @")),
    ("The email address is too long", N_("it is too long")),
    ("The part after the @-sign", N_("the part after the @ is not a valid domain")),
    ("There can't be anything after the email address", N_("nothing may follow the address")),
)


def email_reason(reason: str) -> str:
    """The library's reason in the operator's language (unknown ones: as the library says)."""
    for start, ours in _EMAIL_REASONS:
        if reason.startswith(start):
            listed = reason[len(start):].removeprefix(":").strip().rstrip(".")
            return _(ours) + (": " + listed if listed and reason[len(start)] == ":" else "")
    return reason


# The library's own dot-atom: a local part it keeps exactly as written.
_DOT_ATOM = re.compile(r"[a-zA-Z0-9_!#$%&'*+\-/=?^`{|}~]+(?:\.[a-zA-Z0-9_!#$%&'*+\-/=?^`{|}~]+)*")


def _plain_email(text: str) -> str | None:
    """The library's answer for the common case, with the domain checked once per domain.

    Checking the domain is most of the library's cost, and a customer's contacts share
    their company's domain: a bulk import checks each domain once. Only an ASCII address
    whose local part the library keeps as written takes this path, and only when the
    library accepts its domain; anything else (and every refusal, with its reason) goes
    through the library in full. tests/test_validation.py holds the two paths equal.
    """
    local, at, domain = text.rpartition("@")
    if (not at or len(text) > 254 or len(local) > 64 or not text.isascii()
            or not _DOT_ATOM.fullmatch(local)):
        return None
    normalized_domain = _email_domain(domain)
    return f"{local}@{normalized_domain}" if normalized_domain else None


@lru_cache(maxsize=4096)
def _email_domain(domain: str) -> str | None:
    try:
        return validate_email("a@" + domain, check_deliverability=False).domain
    except EmailNotValidError:
        return None


def email_key(email: str) -> str:
    """Duplicate-detection key: the whole address lower-cased."""
    return (email or "").strip().lower()


# ---------------------------------------------------------------- phone

# Refuse letters and stray symbols up front: phonenumbers would read "abc" as keypad digits.
_PHONE_SHAPE = re.compile(
    r"(?:tel:)?\s*\+?[\d\s().\-/]*\d[\d\s().\-/]*"
    r"(?:\s*(?:;\s*ext=|ext\.?|extension|x|#)\s*\d{1,10})?",
    re.IGNORECASE,
)


def normalize_phone(value: object, region: str | None) -> str:
    """Parse a phone number (national form read in ``region``) into E.164 plus ``;ext=``.

    Uses is_possible_number, not is_valid_number, so demo and newly allocated ranges
    are accepted while wrong lengths and garbage are not.
    """
    text = clean_text(value, limit=LIMITS["phone"])
    if not text:
        return ""
    if not _PHONE_SHAPE.fullmatch(text):
        raise FieldError(_("Not a phone number: {value}").format(value=text))
    region = (region or "").upper()
    region = region if region in phonenumbers.SUPPORTED_REGIONS else None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        if region is None and not text.lstrip("tel: ").startswith("+"):
            raise FieldError(
                _("Write the number in international form, starting with + and the country code "
                  "(no country is known to read it as a national number).")
            ) from None
        raise FieldError(_("Not a phone number: {value}").format(value=text)) from None
    if not phonenumbers.is_possible_number(number):
        raise FieldError(
            _("Not a possible phone number (wrong length?): {value}").format(value=text)
        )
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return f"{e164};ext={number.extension}" if number.extension else e164


def format_phone(e164: str, region: str | None) -> str:
    """Display form: national inside ``region``, international otherwise."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    local = region and phonenumbers.region_code_for_number(number) == region.upper()
    style = phonenumbers.PhoneNumberFormat.NATIONAL if local else \
        phonenumbers.PhoneNumberFormat.INTERNATIONAL
    return phonenumbers.format_number(number, style)


def phone_uri(e164: str) -> str:
    """RFC 3966 link so terminals and desktops can dial it."""
    return f"tel:{e164}" if e164 else ""


def digit_suffixes(*phones: str) -> str:
    """Every digit run a user might type (>= 3 digits, anchored at the end) for prefix search.

    Full-text search matches word prefixes only; indexing each suffix makes "5678"
    find "+4512345678".
    """
    seen: dict[str, None] = {}
    for phone in phones:
        digits = re.sub(r"[^0-9]", "", (phone or "").split(";")[0])
        if digits:
            seen.setdefault(digits)
        for start in range(1, len(digits) - 2):
            seen.setdefault(digits[start:])
    return " ".join(seen)


# ---------------------------------------------------------------- countries and states


def _fold(text: str) -> str:
    """Accent- and case-insensitive comparison form; punctuation becomes space."""
    text = unicodedata.normalize("NFKD", text).casefold()
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c if c.isalnum() else " " for c in text if not unicodedata.combining(c))
    return " ".join(text.split())


@lru_cache(maxsize=None)
def _catalog(domain: str, language: str) -> gettext.NullTranslations:
    try:
        return gettext.translation(domain, pycountry.LOCALES_DIR, languages=[language],
                                   fallback=True)
    except (OSError, ValueError):
        return gettext.NullTranslations()


_COUNTRY_ALIASES = {"uk": "GB", "great britain": "GB"}


@lru_cache(maxsize=1)
def _country_index() -> dict[str, str]:
    """Folded codes and English/French/Danish names -> alpha-2; codes win over names."""
    index: dict[str, str] = {}
    translations = [_catalog("iso3166-1", language) for language in ("fr", "da")]
    for country in pycountry.countries:
        index[_fold(country.alpha_2)] = country.alpha_2
        index[_fold(country.alpha_3)] = country.alpha_2
    for country in pycountry.countries:
        for attr in ("name", "official_name", "common_name"):
            name = getattr(country, attr, None)
            if name:
                index.setdefault(_fold(name), country.alpha_2)
                for translation in translations:
                    index.setdefault(_fold(translation.gettext(name)), country.alpha_2)
    for alias, code in _COUNTRY_ALIASES.items():
        index.setdefault(alias, code)
    return index


def normalize_country(value: object) -> str | None:
    """Alpha-2 code from a code (alpha-2/3) or an English, French or Danish name."""
    text = clean_text(value, limit=LIMITS["name"])
    if not text:
        return None
    code = _country_index().get(_fold(text))
    if code is None:
        raise FieldError(_("Unknown country: {value}").format(value=text))
    return code


def country_name(code: str | None, language: str | None = None) -> str:
    """Human name of a stored code in ``language`` (None: the operator's), as pycountry has it."""
    if not code:
        return ""
    country = pycountry.countries.get(alpha_2=code.upper())
    if country is None:
        return code
    name = getattr(country, "common_name", None) or country.name
    lang = (language or current_language()).replace("-", "_").split("_")[0].lower()
    if lang == "en":
        return name
    return _catalog("iso3166-1", lang).gettext(name)


def requires_state(country: str | None) -> bool:
    """US and Canadian addresses are not deliverable without a state or province."""
    return (country or "").upper() in ("US", "CA")


@lru_cache(maxsize=None)
def _state_index(country: str) -> dict[str, str]:
    index: dict[str, str] = {}
    french = _catalog("iso3166-2", "fr")
    for sub in pycountry.subdivisions.get(country_code=country) or ():
        index[_fold(sub.code)] = sub.code
        index[_fold(sub.code.split("-", 1)[1])] = sub.code
    for sub in pycountry.subdivisions.get(country_code=country) or ():
        index.setdefault(_fold(sub.name), sub.code)
        index.setdefault(_fold(french.gettext(sub.name)), sub.code)
    return index


def normalize_state(country: str | None, value: object) -> str:
    """ISO 3166-2 code ("US-CA") where a state is required, else free-text region."""
    if not requires_state(country):
        return clean_text(value, limit=LIMITS["region"])
    country = (country or "").upper()
    text = clean_text(value, limit=LIMITS["region"])
    if not text:
        if country == "US":
            raise FieldError(_("A state is required for addresses in the United States."))
        raise FieldError(_("A province or territory is required for addresses in Canada."))
    code = _state_index(country).get(_fold(text))
    if code is None:
        raise FieldError(_("Unknown state or province for {country}: {value}").format(
            country=country_name(country), value=text))
    return code


# ---------------------------------------------------------------- currency and language


def normalize_currency(value: object) -> str:
    """ISO 4217 code, upper-case."""
    text = clean_text(value, limit=LIMITS["name"])
    code = text.upper()
    if not re.fullmatch(r"[A-Z]{3}", code) or pycountry.currencies.get(alpha_3=code) is None:
        raise FieldError(_("Unknown currency code: {value} (use ISO codes such as EUR, USD).")
                         .format(value=text))
    return code


def normalize_language(value: object) -> str:
    """ISO 639-1 code, lower-case; a locale such as "fr_FR" gives its language."""
    text = clean_text(value, limit=LIMITS["name"])
    match = re.fullmatch(r"([A-Za-z]{2,3})(?:[_-][A-Za-z0-9]{1,8})*", text)
    language = None
    if match:
        code = match.group(1).lower()
        field = "alpha_2" if len(code) == 2 else "alpha_3"
        language = pycountry.languages.get(**{field: code})
    elif text:
        try:
            language = pycountry.languages.lookup(text)
        except LookupError:
            language = None
    alpha_2 = getattr(language, "alpha_2", None)
    if not alpha_2:
        raise FieldError(_("Unknown language: {value} (use two-letter codes such as en, fr).")
                         .format(value=text))
    return alpha_2


# ---------------------------------------------------------------- websites

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):(?!\d)")
_LABEL = re.compile(r"[^\W_](?:(?:[^\W_]|-){0,61}[^\W_])?")


def normalize_website(value: object) -> str:
    """An http(s) URL with a lower-case host; a bare "example.com" gets https://."""
    text = clean_text(value, limit=LIMITS["website"])
    if not text:
        return ""
    invalid = FieldError(_("Not a website address: {value}").format(value=text))
    if any(c.isspace() for c in text):
        raise invalid
    scheme = _SCHEME.match(text)
    if scheme and scheme.group(1).lower() not in ("http", "https"):
        raise FieldError(_("Only http:// and https:// addresses are allowed: {value}")
                         .format(value=text))
    if not scheme:
        text = "https://" + text
    try:
        parts = urlsplit(text)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        raise invalid from None
    if not text.lower().startswith(("http://", "https://")) or "@" in parts.netloc:
        raise invalid
    labels = host.split(".")
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        raise invalid
    if not (labels[-1].isalpha() or labels[-1].startswith("xn--")):
        raise invalid
    path = "" if parts.path == "/" else parts.path
    url = f"{parts.scheme.lower()}://{host}" + (f":{port}" if port else "") + path
    url += (f"?{parts.query}" if parts.query else "") + (f"#{parts.fragment}" if parts.fragment else "")
    if len(url) > LIMITS["website"]:
        raise FieldError(_("At most {limit} characters.").format(limit=LIMITS["website"]))
    return url


def website_key(website: str) -> str:
    """Duplicate-detection key: host without scheme or "www.", lower-case."""
    text = (website or "").strip()
    if not text:
        return ""
    if "://" not in text:
        text = "https://" + text
    try:
        host = urlsplit(text).hostname or ""
    except ValueError:
        host = ""
    host = host.lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host


# ---------------------------------------------------------------- names

LEGAL_SUFFIXES = (
    "inc", "incorporated", "ltd", "limited", "llc", "llp", "lp", "plc", "corp", "corporation",
    "co", "& co", "company", "gmbh", "mbh", "ag", "kg", "ohg", "gbr", "ug", "ev", "sa", "sas",
    "sasu", "sarl", "eurl", "sci", "snc", "bv", "nv", "vof", "aps", "a/s", "as", "asa", "ab",
    "oy", "oyj", "spa", "srl", "sl", "sro", "sp z o.o.", "kft", "zrt", "pty", "ltda", "kk",
)

# "S.A.R.L." and "S.A." are written with dots between single letters: join them first.
_ABBREVIATION = re.compile(r"(?<!\w)[^\W\d_](?:\.[^\W\d_])+(?!\w)\.?")


def _name_tokens(name: str) -> list[str]:
    text = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    text = _ABBREVIATION.sub(lambda m: m.group(0).replace(".", ""), text)
    return _fold(text.replace("&", " and ")).split()


_SUFFIX_TOKENS = sorted({tuple(_name_tokens(s)) for s in LEGAL_SUFFIXES}, key=len, reverse=True)


def name_key(name: str) -> str:
    """Duplicate-detection key: accents, case, punctuation and legal form ignored.

    Trailing legal-form words are stripped repeatedly, but never the whole name.
    """
    tokens = _name_tokens(name or "")
    stripped = True
    while stripped:
        stripped = False
        for suffix in _SUFFIX_TOKENS:
            if len(tokens) > len(suffix) and tuple(tokens[-len(suffix):]) == suffix:
                del tokens[-len(suffix):]
                stripped = True
                break
    return " ".join(tokens)


# ---------------------------------------------------------------- collecting errors


class Errors:
    """Collects per-field errors so a form reports every problem at once."""

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}

    def check(self, field: str, fn, *args, **kwargs):
        """Return ``fn(*args, **kwargs)``, or None after recording its FieldError."""
        try:
            return fn(*args, **kwargs)
        except FieldError as error:
            self.add(field, error.message)
            return None

    def add(self, field: str, message: str) -> None:
        """Record a problem; the first one per field wins (it is usually the cause)."""
        self.errors.setdefault(field, message)

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self) -> None:
        if self.errors:
            raise ValidationError(self.errors)
