"""Packaging: an installed wheel finds its shipped YAML and migrations, not only a checkout.

pyproject.toml lists the packages by hand (tui.shipped lives in data/, which
``find`` cannot see), so these tests build the real wheel and check that every
module of the checkout is in it, then install it into a bare folder and import
from there. The wheel is built once per module from a copy of the checkout, so
the build never writes build/ or *.egg-info into the working tree. Each step
takes a few seconds.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tui"
SHIPPED = ROOT / "data" / "clientbook.yaml"
TIMEOUT = 300


def _why_no_wheel_build() -> str | None:
    """Why this interpreter cannot build the wheel without build isolation, or None."""
    if importlib.util.find_spec("setuptools") is None:
        return ("setuptools is not importable: install the test extra "
                "(pip install -e '.[test]') to build the wheel")
    import setuptools

    parts = []
    for piece in setuptools.__version__.split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    has_bdist_wheel = tuple(parts) >= (70, 1)  # setuptools >= 70.1 ships bdist_wheel itself
    if not has_bdist_wheel and importlib.util.find_spec("wheel") is None:
        return (f"setuptools {setuptools.__version__} needs the `wheel` package to build a "
                "wheel and it is not installed: install the test extra "
                "(pip install -e '.[test]', which lists setuptools>=68 and wheel)")
    return None


needs_wheel_build = pytest.mark.skipif(_why_no_wheel_build() is not None,
                                       reason=str(_why_no_wheel_build()))


def _run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=TIMEOUT)
    if result.returncode != 0:
        pytest.fail(f"{' '.join(map(str, argv))} failed ({result.returncode}):\n"
                    f"{result.stdout}\n{result.stderr}")
    return result.stdout


def _plain_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CLIENTBOOK_", "PYTHON", "PIP_"))}
    env.update(extra)
    return env


def _checkout_files(suffix: str | None) -> list[str]:
    """Paths (as in the wheel) of the checkout's files under tui/, of one suffix or not .py."""
    found = []
    for path in sorted(PACKAGE.rglob("*")):
        relative = path.relative_to(ROOT)
        if not path.is_file() or "__pycache__" in relative.parts or path.suffix == ".pyc":
            continue
        if any(part.startswith(".") for part in relative.parts):  # editor / OS leftovers
            continue
        if (path.suffix == suffix) if suffix else (path.suffix != ".py"):
            found.append(relative.as_posix())
    return found


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The project's wheel, built once from a copy of the checkout."""
    reason = _why_no_wheel_build()
    if reason:
        pytest.skip(reason)
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "venv", "build", "dist", "*.egg-info", "__pycache__", "*.pyc",
        ".pytest_cache", ".hypothesis", "tests", "*.db", "*.db-*",
        "*.mo"))  # the build compiles the catalogs itself (setup.py)
    out = work / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
          "--disable-pip-version-check", "-q", "-w", str(out), str(source)],
         cwd=work, env=_plain_env())
    wheels = list(out.glob("clientbook-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def wheel_names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory) -> Path:
    """The wheel installed, without dependencies, into a bare folder."""
    target = tmp_path_factory.mktemp("target")
    _run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index",
          "--disable-pip-version-check", "-q", "--target", str(target), str(wheel)],
         cwd=target.parent, env=_plain_env())
    return target


@needs_wheel_build
def test_wheel_ships_the_default_configuration(wheel, wheel_names):
    assert "tui/shipped/clientbook.yaml" in wheel_names
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read("tui/shipped/clientbook.yaml") == SHIPPED.read_bytes()


@needs_wheel_build
def test_wheel_ships_every_email_template(wheel_names):
    templates = sorted(p.name for p in (SHIPPED.parent / "templates").glob("*.txt"))
    assert "event.en.txt" in templates and "welcome.fr.txt" in templates
    missing = [name for name in templates if f"tui/shipped/templates/{name}" not in wheel_names]
    assert missing == []


@needs_wheel_build
def test_wheel_ships_every_migration(wheel_names):
    migrations = sorted(p.name for p in (PACKAGE / "domain" / "migrations").glob("0*.py"))
    assert migrations, "no migration found in the checkout"
    missing = [name for name in migrations if f"tui/domain/migrations/{name}" not in wheel_names]
    assert missing == []


@needs_wheel_build
def test_wheel_ships_every_python_module_of_the_checkout(wheel_names):
    """A new subpackage must be added to pyproject's explicit package list."""
    modules = _checkout_files(".py")
    assert "tui/cli/__init__.py" in modules and "tui/domain/config.py" in modules
    missing = [name for name in modules if name not in wheel_names]
    assert missing == [], "add their packages to [tool.setuptools] packages in pyproject.toml"


@needs_wheel_build
def test_the_build_compiles_each_catalog_and_the_installed_app_speaks_it(wheel_names, installed):
    for language in ("fr", "da"):
        for suffix in ("po", "mo"):
            assert f"tui/locale/{language}/LC_MESSAGES/clientbook.{suffix}" in wheel_names
    speak = ("from tui import i18n; i18n.set_language('{0}'); "
             "print(i18n._('Help'), i18n.catalog('{0}').__class__.__name__)")
    for language, help_text in (("fr", "Aide"), ("da", "Hjælp")):
        result = subprocess.run([sys.executable, "-c", speak.format(language)], cwd=installed,
                                env=_plain_env(PYTHONPATH=str(installed)), capture_output=True,
                                text=True, timeout=60)
        assert result.stdout.split() == [help_text, "GNUTranslations"], result.stderr


@needs_wheel_build
def test_wheel_ships_every_resource_of_the_checkout(wheel_names):
    """Stylesheets, catalogs and other data files under tui/ need package-data."""
    resources = _checkout_files(None)
    missing = [name for name in resources if name not in wheel_names]
    assert missing == [], "add them to [tool.setuptools.package-data] in pyproject.toml"


INSTALLED_CHECK = r"""
import json, sys
from pathlib import Path

target = Path(sys.argv[1]).resolve()
import tui
import tui.domain.config as config
import tui.domain.database as database

def inside(path):
    return Path(path).resolve().is_relative_to(target)

assert inside(tui.__file__), f"tui imported from {tui.__file__}, not from {target}"
shipped = config.shipped_config_path()
loaded = config.load_config()
import tui.domain.mail as mail
assert inside(mail.template_path(loaded, "event", "fr")[0])
db = database.open_database(Path(sys.argv[2]), create=True)
print(json.dumps({
    "tui": tui.__file__, "shipped": str(shipped), "loaded": str(loaded.path),
    "migrations_dir": str(database.MIGRATIONS_DIR),
    "known": database.known_migrations(),
    "schema": database.current_schema_version(db),
    "roles": sorted(loaded.roles),
}))
"""


@needs_wheel_build
def test_installed_wheel_finds_its_shipped_configuration(installed, tmp_path):
    """The editable install keeps the checkout importable; PYTHONPATH must win over it."""
    work = tmp_path / "elsewhere"  # not the checkout: no data/ next to anything
    work.mkdir()
    out = _run([sys.executable, "-c", INSTALLED_CHECK, str(installed), str(work / "w.db")],
               cwd=work, env=_plain_env(PYTHONPATH=str(installed), HOME=str(work)))
    found = json.loads(out.strip().splitlines()[-1])
    target = installed.resolve()
    assert Path(found["tui"]).resolve().is_relative_to(target)
    shipped = Path(found["shipped"]).resolve()
    assert shipped == target / "tui" / "shipped" / "clientbook.yaml"
    assert Path(found["loaded"]).resolve() == shipped
    assert not shipped.is_relative_to(ROOT)
    assert Path(found["migrations_dir"]).resolve().is_relative_to(target)
    checkout_migrations = sorted(p.stem for p in (PACKAGE / "domain" / "migrations").glob("0*.py"))
    assert found["known"] == checkout_migrations
    assert found["schema"] == int(checkout_migrations[-1].split("_")[0])
    assert "administrator" in found["roles"]


DOMAIN_IMPORTS = r"""
import importlib, json, pkgutil, sys
import tui.domain

names = ["tui.domain"]
for module in pkgutil.walk_packages(tui.domain.__path__, "tui.domain."):
    importlib.import_module(module.name)
    names.append(module.name)
import tui.cli
from tui.cli import main

codes = [main(["--db", sys.argv[1], "init"]),
         main(["--db", sys.argv[1], "customers", "list", "--json"]),
         main(["--db", sys.argv[1], "users", "list"])]
print(json.dumps({"imported": names, "codes": codes,
                  "textual": sorted(m for m in sys.modules
                                    if m == "textual" or m.startswith("textual."))}))
"""


def test_domain_and_cli_do_not_import_textual(tmp_path):
    out = _run([sys.executable, "-c", DOMAIN_IMPORTS, str(tmp_path / "t.db")], cwd=tmp_path,
               env=_plain_env(HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path),
                              CLIENTBOOK_LANG="en"))
    found = json.loads(out.strip().splitlines()[-1])
    expected = {f"tui.domain.{p.stem}" for p in (PACKAGE / "domain").glob("*.py")
                if p.stem != "__init__"}
    expected |= {f"tui.domain.services.{p.stem}" for p in
                 (PACKAGE / "domain" / "services").glob("*.py") if p.stem != "__init__"}
    assert expected <= set(found["imported"]), expected - set(found["imported"])
    assert found["codes"] == [0, 0, 0]
    assert found["textual"] == []
