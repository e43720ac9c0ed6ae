"""Gettext plumbing shared by the domain, the CLI and the TUI.

`_` looks the active catalog up at call time, so choosing the language after
import (``--lang``, environment, config) still translates every message; a
string needed at import time is marked with `N_` and translated where it is
shown. The catalogs are the ``.po`` files in ``tui/locale/<lang>/LC_MESSAGES``;
installing compiles them to ``.mo`` (setup.py), and a ``.po`` newer than its
``.mo`` (a translator at work in a checkout) is compiled in memory instead, so
what is shown is always what the ``.po`` says.
"""

from __future__ import annotations

import gettext as _gettext
import io
import threading
from collections.abc import Mapping
from pathlib import Path

DOMAIN = "clientbook"
LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = ("en", "fr", "da")
# The locale a bare language code formats dates and amounts in.
DEFAULT_LOCALES = {"en": "en_US", "fr": "fr_FR", "da": "da_DK"}
# Where the session's locale comes from, strongest first (POSIX: LC_ALL beats LC_MESSAGES beats LANG).
LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG")

_translation: _gettext.NullTranslations = _gettext.NullTranslations()
_language = "en"
_locale = "en_US"
_loaded: dict[str, _gettext.NullTranslations] = {}
_loading = threading.Lock()


class LanguageError(ValueError):
    """A language was asked for by name (--lang, CLIENTBOOK_LANG, the config) that we do not have."""


def parse_locale(value: str | None) -> tuple[str, str] | None:
    """"fr_FR.UTF-8" -> ("fr", "fr_FR"); "da" -> ("da", "da_DK"); "de_DE", "C", "" -> None."""
    if not value:
        return None
    code = value.strip().split(".")[0].split("@")[0].replace("-", "_")
    language, _sep, territory = code.partition("_")
    language = language.lower()
    if language not in LANGUAGES:
        return None
    if territory.isalpha() and len(territory) == 2:
        return language, f"{language}_{territory.upper()}"
    return language, DEFAULT_LOCALES[language]


def choose_locale(asked: str | None, environ: Mapping[str, str],
                  configured: str | None = None) -> str:
    """The operator's locale: --lang, then $CLIENTBOOK_LANG, then the config file, then the
    session's locale (LC_ALL / LC_MESSAGES / LANG), else US English.

    A language asked for by name that we do not have is an error (LanguageError); a session
    locale we do not have (LANG=de_DE.UTF-8) just means English.
    """
    for source, value in (("--lang", asked), ("CLIENTBOOK_LANG", environ.get("CLIENTBOOK_LANG")),
                          (_("the configuration file"), configured)):
        if value is None or not value.strip():
            continue
        parsed = parse_locale(value)
        if parsed is None:
            raise LanguageError(_('{source}: "{value}" is not a language Clientbook speaks '
                                  "(it speaks {known})").format(
                source=source, value=value.strip(), known=", ".join(LANGUAGES)))
        return parsed[1]
    for name in LOCALE_VARIABLES:
        value = environ.get(name)
        if value:  # the first one set decides, even when it is one we do not have
            parsed = parse_locale(value)
            return parsed[1] if parsed else DEFAULT_LOCALES["en"]
    return DEFAULT_LOCALES["en"]


def set_language(language: str | None) -> str:
    """Activate ``language`` ("fr", "da_DK", "fr_CA.UTF-8"; unknown or None: English) for
    messages and formats; return the two-letter language in use."""
    global _translation, _language, _locale
    parsed = parse_locale(language) or ("en", DEFAULT_LOCALES["en"])
    _language, _locale = parsed
    _translation = catalog(_language)
    return _language


def current_language() -> str:
    """"en", "fr" or "da": what messages are written in."""
    return _language


def current_locale() -> str:
    """"en_US", "fr_FR", "da_DK", "en_GB", ...: how dates, numbers and amounts are written."""
    return _locale


def catalog(language: str) -> _gettext.NullTranslations:
    """The translations of ``language`` (cached); English is the source text itself."""
    if language == "en" or language not in LANGUAGES:
        return _gettext.NullTranslations()
    with _loading:
        if language not in _loaded:
            _loaded[language] = _read_catalog(language)
        return _loaded[language]


def _read_catalog(language: str) -> _gettext.NullTranslations:
    folder = LOCALE_DIR / language / "LC_MESSAGES"
    po, mo = folder / f"{DOMAIN}.po", folder / f"{DOMAIN}.mo"
    try:
        if mo.is_file() and (not po.is_file() or mo.stat().st_mtime >= po.stat().st_mtime):
            with mo.open("rb") as stream:
                return _gettext.GNUTranslations(stream)
        if po.is_file():
            return _gettext.GNUTranslations(io.BytesIO(compile_po(po, language)))
    except (OSError, ValueError):  # an unreadable or broken catalog: English rather than a crash
        pass
    return _gettext.NullTranslations()


def compile_po(po: Path, language: str) -> bytes:
    """The .mo bytes of a .po file (fuzzy entries left out, as msgfmt does)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as stream:
        messages = read_po(stream, locale=language, domain=DOMAIN)
    out = io.BytesIO()
    write_mo(out, messages, use_fuzzy=False)
    return out.getvalue()


def _(message: str) -> str:
    return _translation.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _translation.ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """For a word that the other languages translate two ways (a project's "Open" state,
    the "Open" key): ``context`` tells them apart in the catalog."""
    return _translation.pgettext(context, message)


def N_(message: str) -> str:
    """Mark a string for extraction without translating it yet (module-level constants)."""
    return message
