"""The translators' tool: pull every translatable string out of the code, and keep the
French and Danish catalogs in step with it.

    python -m tui.i18n_catalog update   # write tui/locale/clientbook.pot, merge it into each .po
    python -m tui.i18n_catalog check    # list what a catalog misses, has stale or gets wrong

`update` keeps existing translations, adds new strings untranslated and drops strings the
code no longer has; a translator then fills in the empty ``msgstr`` lines. The test suite
runs `check` and fails on any problem, so a new message cannot ship untranslated.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from tui.i18n import DOMAIN, LANGUAGES, LOCALE_DIR

PACKAGE = Path(__file__).parent
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2)}
TRANSLATED = tuple(language for language in LANGUAGES if language != "en")
PLACEHOLDER = re.compile(r"(?<!\{)\{([a-z_][a-z0-9_]*)[^{}]*\}(?!\})")


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def extract() -> Catalog:
    """Every string the code passes to _, N_ and ngettext, with where it is used."""
    template = Catalog(domain=DOMAIN, project="Clientbook", charset="utf-8")
    for filename, lineno, message, comments, context in extract_from_dir(
            PACKAGE, method_map=[("**.py", "python")], keywords=KEYWORDS,
            comment_tags=("Translators:",), strip_comment_tags=True):
        if not (message if isinstance(message, str) else message[0]):
            continue
        template.add(message, None, [(f"tui/{filename}", lineno)],
                     auto_comments=comments, context=context)
    return template


def read(language: str) -> Catalog:
    with po_path(language).open("rb") as stream:
        return read_po(stream, locale=language, domain=DOMAIN)


def write(catalog: Catalog, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as stream:
        write_po(stream, catalog, width=100, sort_output=False, ignore_obsolete=True,
                 include_previous=False)


def update() -> dict[str, int]:
    """Write the .pot and merge it into each language; return how many strings await a translator."""
    template = extract()
    write(template, LOCALE_DIR / f"{DOMAIN}.pot")
    waiting = {}
    for language in TRANSLATED:
        path = po_path(language)
        catalog = read(language) if path.is_file() else Catalog(locale=language, domain=DOMAIN)
        catalog.update(template, no_fuzzy_matching=True)
        write(catalog, path)
        waiting[language] = sum(1 for message in catalog if message.id and not _translated(message))
    return waiting


@dataclass
class Problems:
    missing: list[str] = field(default_factory=list)  # in the code, not translated
    stale: list[str] = field(default_factory=list)  # translated, no longer in the code
    broken: list[str] = field(default_factory=list)  # placeholders that do not match

    def __bool__(self) -> bool:
        return bool(self.missing or self.stale or self.broken)


def check(language: str, template: Catalog | None = None) -> Problems:
    template = template or extract()
    catalog = read(language)
    problems = Problems()
    wanted = {message.id if isinstance(message.id, str) else message.id[0]
              for message in template if message.id}
    for message in template:
        if not message.id:
            continue
        found = catalog.get(message.id, context=message.context)
        if found is None or not _translated(found):
            problems.missing.append(_key(message.id))
    for message in catalog:
        if not message.id:
            continue
        key = message.id if isinstance(message.id, str) else message.id[0]
        if key not in wanted:
            problems.stale.append(_key(message.id))
        elif _translated(message) and not _same_placeholders(message):
            problems.broken.append(_key(message.id))
    return problems


def _translated(message) -> bool:
    strings = message.string if isinstance(message.string, (list, tuple)) else [message.string]
    return not message.fuzzy and all(strings)


def _same_placeholders(message) -> bool:
    sources = message.id if isinstance(message.id, (list, tuple)) else [message.id]
    wanted = set().union(*(PLACEHOLDER.findall(text) for text in sources))
    strings = message.string if isinstance(message.string, (list, tuple)) else [message.string]
    return all(set(PLACEHOLDER.findall(text)) == wanted for text in strings)


def _key(message_id) -> str:
    return message_id if isinstance(message_id, str) else message_id[0]


def main(argv: list[str]) -> int:
    if argv[:1] == ["update"]:
        for language, count in update().items():
            print(f"{po_path(language)}: {count} to translate")
        return 0
    if argv[:1] == ["check"]:
        template, failed = extract(), False
        for language in TRANSLATED:
            problems = check(language, template)
            for kind in ("missing", "stale", "broken"):
                for text in getattr(problems, kind):
                    print(f"{language} {kind}: {text!r}")
            failed |= bool(problems)
        return 1 if failed else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
