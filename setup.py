"""Compiles the translation catalogs (tui/locale/*/LC_MESSAGES/clientbook.po -> .mo) when
Clientbook is built or installed; everything else is declared in pyproject.toml."""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

LOCALE = Path("tui") / "locale"


class build_py_with_catalogs(build_py):
    def run(self):
        super().run()
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        # An editable install runs the package from the checkout: compile beside the sources.
        target = Path(".") if getattr(self, "editable_mode", False) else Path(self.build_lib)
        for po in sorted(LOCALE.glob("*/LC_MESSAGES/clientbook.po")):
            language = po.parent.parent.name
            mo = target / po.with_suffix(".mo")
            mo.parent.mkdir(parents=True, exist_ok=True)
            with po.open("rb") as source:
                catalog = read_po(source, locale=language, domain="clientbook")
            with mo.open("wb") as out:
                write_mo(out, catalog, use_fuzzy=False)


setup(cmdclass={"build_py": build_py_with_catalogs})
