"""Which language an operator gets, and where the translations come from."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tui import i18n
from tui.domain.config import load_config
from tui.domain.errors import ConfigError
from tui.i18n import LanguageError, choose_locale, parse_locale

CLIENTBOOK = Path(sys.executable).parent / "clientbook"
SHIPPED = Path(__file__).parent.parent / "data" / "clientbook.yaml"


@pytest.fixture(autouse=True)
def english_afterwards():
    yield
    i18n.set_language("en")


@pytest.mark.parametrize("value, expected", [
    ("fr_FR.UTF-8", ("fr", "fr_FR")), ("da", ("da", "da_DK")), ("en", ("en", "en_US")),
    ("en_GB.UTF-8", ("en", "en_GB")), ("fr-CA", ("fr", "fr_CA")), ("da_DK.utf8@euro", ("da", "da_DK")),
    ("de_DE.UTF-8", None), ("C", None), ("POSIX", None), ("C.UTF-8", None), ("", None), (None, None),
])
def test_parse_locale(value, expected):
    assert parse_locale(value) == expected


def test_each_source_wins_over_the_ones_after_it():
    environ = {"CLIENTBOOK_LANG": "da", "LC_ALL": "en_GB.UTF-8", "LC_MESSAGES": "fr_FR.UTF-8",
               "LANG": "fr_CA.UTF-8"}
    assert choose_locale("fr", environ, "en") == "fr_FR"  # --lang first
    assert choose_locale(None, environ, "fr") == "da_DK"  # then CLIENTBOOK_LANG
    del environ["CLIENTBOOK_LANG"]
    assert choose_locale(None, environ, "fr") == "fr_FR"  # then the configuration file
    assert choose_locale(None, environ, None) == "en_GB"  # then LC_ALL
    del environ["LC_ALL"]
    assert choose_locale(None, environ, None) == "fr_FR"  # then LC_MESSAGES
    del environ["LC_MESSAGES"]
    assert choose_locale(None, environ, None) == "fr_CA"  # then LANG
    assert choose_locale(None, {}, None) == "en_US"  # else US English


def test_a_session_locale_we_do_not_speak_means_english_not_the_next_variable():
    assert choose_locale(None, {"LC_ALL": "de_DE.UTF-8", "LANG": "fr_FR.UTF-8"}) == "en_US"
    assert choose_locale(None, {"LANG": "C.UTF-8"}) == "en_US"
    assert choose_locale(None, {"LANG": "", "LC_MESSAGES": "da_DK.UTF-8"}) == "da_DK"


@pytest.mark.parametrize("asked, environ, configured, named", [
    ("de", {}, None, "--lang"), (None, {"CLIENTBOOK_LANG": "klingon"}, None, "CLIENTBOOK_LANG"),
    (None, {}, "xx", "the configuration file")])
def test_asking_by_name_for_a_language_we_lack_is_an_error(asked, environ, configured, named):
    with pytest.raises(LanguageError) as caught:
        choose_locale(asked, environ, configured)
    assert named in str(caught.value) and "en, fr, da" in str(caught.value)


def test_set_language_switches_messages_and_back():
    french = i18n.catalog("fr").gettext("Help")
    assert i18n.set_language("fr_FR.UTF-8") == "fr"
    assert (i18n.current_language(), i18n.current_locale()) == ("fr", "fr_FR")
    assert i18n._("Help") == french
    assert i18n.set_language("de") == "en"  # unknown: English, never a crash
    assert i18n._("Help") == "Help"


def test_a_po_newer_than_its_mo_is_what_is_shown(tmp_path, monkeypatch):
    """A translator editing the .po sees the change without reinstalling."""
    folder = tmp_path / "fr" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "clientbook.po").write_text(
        'msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        'msgid "Help"\nmsgstr "Au secours"\n\n'
        'msgid "{count} contact"\nmsgid_plural "{count} contacts"\n'
        'msgstr[0] "{count} contact"\nmsgstr[1] "{count} contacts !"\n', encoding="utf-8")
    (folder / "clientbook.mo").write_bytes(b"stale")  # older, and broken: must not be read
    os.utime(folder / "clientbook.mo", (1, 1))
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    monkeypatch.setattr(i18n, "_loaded", {})
    i18n.set_language("fr")
    assert i18n._("Help") == "Au secours"
    assert i18n.ngettext("{count} contact", "{count} contacts", 2) == "{count} contacts !"
    assert i18n._("Not in this catalog") == "Not in this catalog"


def test_a_broken_catalog_falls_back_to_english(tmp_path, monkeypatch):
    folder = tmp_path / "da" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "clientbook.mo").write_bytes(b"not a catalog")
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    monkeypatch.setattr(i18n, "_loaded", {})
    i18n.set_language("da")
    assert i18n._("Help") == "Help"


def test_install_compiled_the_catalogs():
    """setup.py compiles each .po when the package is installed (here: editable, beside it)."""
    for language in ("fr", "da"):
        folder = Path(i18n.LOCALE_DIR) / language / "LC_MESSAGES"
        assert (folder / "clientbook.po").is_file()
        assert (folder / "clientbook.mo").is_file(), f"{language}: pip install did not compile"


def test_config_interface_language(tmp_path):
    text = SHIPPED.read_text(encoding="utf-8")
    assert "interface_language: null" in text
    good = tmp_path / "good.yaml"
    good.write_text(text.replace("interface_language: null", "interface_language: da"), encoding="utf-8")
    assert load_config(good).interface_language == "da"
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("interface_language: null", "interface_language: swahili"),
                   encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(bad)
    line = text.splitlines().index("interface_language: null") + 1
    assert f"{bad}, line {line}" in str(caught.value) and "swahili" in str(caught.value)


def run_cli(*args, **environ) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items()
           if key not in ("CLIENTBOOK_LANG", "LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE")}
    env.update(environ)
    return subprocess.run([str(CLIENTBOOK), *args], capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=60)


def test_the_command_speaks_the_sessions_language():
    french = i18n.catalog("fr").gettext("how many demo customers")
    danish = i18n.catalog("da").gettext("how many demo customers")
    assert len({french, danish, "how many demo customers"}) == 3
    assert french in " ".join(run_cli("demo", "--help", LANG="fr_FR.UTF-8").stdout.split())
    assert danish in " ".join(run_cli("--lang", "da", "demo", "--help", LANG="fr_FR.UTF-8").stdout.split())
    assert "how many demo customers" in " ".join(
        run_cli("demo", "--help", LANG="de_DE.UTF-8").stdout.split())


def test_the_configuration_file_beats_the_session_but_not_clientbook_lang(tmp_path):
    config = tmp_path / "clientbook.yaml"
    config.write_text(SHIPPED.read_text(encoding="utf-8").replace(
        "interface_language: null", "interface_language: da"), encoding="utf-8")
    message = "{path} is a directory, not a database file."
    expected = {language: "clientbook: " + i18n.catalog(language).gettext(message).format(path=tmp_path)
                for language in ("en", "da")}
    assert expected["en"] != expected["da"]
    # an error once the configuration is read: in its language, not the session's French
    result = run_cli("--config", str(config), "--db", str(tmp_path), "users", "list",
                     LANG="fr_FR.UTF-8")
    assert (result.returncode, result.stderr.strip()) == (1, expected["da"])
    result = run_cli("--config", str(config), "--db", str(tmp_path), "users", "list",
                     CLIENTBOOK_LANG="en", LANG="fr_FR.UTF-8")
    assert (result.returncode, result.stderr.strip()) == (1, expected["en"])


def test_an_unknown_lang_is_a_usage_error():
    result = run_cli("--lang", "de", "users", "list")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        'clientbook: --lang: "de" is not a language Clientbook speaks (it speaks en, fr, da)')


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="gettext's msgfmt is not installed")
@pytest.mark.parametrize("language", ["fr", "da"])
def test_catalogs_are_valid_for_gnu_msgfmt(language, tmp_path):
    """The .po files are plain GNU gettext: translators can use their usual tools."""
    po = Path(i18n.LOCALE_DIR) / language / "LC_MESSAGES" / "clientbook.po"
    result = subprocess.run(["msgfmt", "--check-format", "-o", str(tmp_path / "x.mo"), str(po)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_argparse_own_words_are_translated_too():
    """Usage lines, help headings and usage errors come from argparse, in the same language."""
    french = i18n.catalog("fr").gettext
    result = run_cli("users", LANG="fr_FR.UTF-8")
    assert result.returncode == 2
    assert result.stderr.startswith(french("usage: ") + "clientbook users")
    error = french("the following arguments are required: %s") % "ACTION"
    assert french("%(prog)s: error: %(message)s\n") % {
        "prog": "clientbook users", "message": error} in result.stderr
    assert "usage:" not in result.stderr and "error:" not in result.stderr
