"""Gettext plumbing shared by the domain, the CLI and the TUI.

`_` looks the active catalog up at call time, so choosing the language after
import (``--lang``, environment, config) still translates every message.
Catalogs live in ``tui/locale/<lang>/LC_MESSAGES/clientbook.mo``; with none
installed, English source strings are shown.
"""

from __future__ import annotations

import gettext as _gettext
from pathlib import Path

DOMAIN = "clientbook"
LOCALE_DIR = Path(__file__).parent / "locale"

_translation: _gettext.NullTranslations = _gettext.NullTranslations()
_language = "en"


def set_language(language: str | None) -> str:
    """Activate the catalog for ``language`` (e.g. "fr", "da_DK"); return the code in use."""
    global _translation, _language
    code = (language or "en").split(".")[0]
    _translation = _gettext.translation(
        DOMAIN, localedir=LOCALE_DIR, languages=[code, code.split("_")[0]], fallback=True
    )
    _language = code.split("_")[0] or "en"
    return _language


def current_language() -> str:
    return _language


def _(message: str) -> str:
    return _translation.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _translation.ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark a string for extraction without translating it yet (module-level constants)."""
    return message
