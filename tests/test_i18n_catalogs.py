"""Translation hygiene: every string is in the catalogs, and none reaches the user around gettext.

The catalogs are checked against the strings extracted from the code right now (the same
extraction `python -m tui.i18n_catalog update` writes), so adding a message without
translating it, or leaving a dead one behind, fails here with the text to fix.
"""

from __future__ import annotations

import ast
import builtins
import re
from pathlib import Path

import pytest

from tui import i18n_catalog

PACKAGE = Path(i18n_catalog.__file__).parent


@pytest.fixture(scope="module")
def template():
    return i18n_catalog.extract()


def test_extraction_finds_the_strings_of_every_layer(template):
    ids = {message.id if isinstance(message.id, str) else message.id[0] for message in template}
    # one message each from the domain, the CLI, a screen, a widget and a key description
    for expected in ("The quantity must be more than zero.", "how many demo customers",
                     "Fleet", "Delete customer", "Save"):
        assert expected in ids
    assert len(ids) > 1000


@pytest.mark.parametrize("language", i18n_catalog.TRANSLATED)
def test_catalog_has_every_string_and_nothing_stale(template, language):
    problems = i18n_catalog.check(language, template)
    assert not problems.missing, (
        f"{len(problems.missing)} strings not translated in {language} "
        f"(run python -m tui.i18n_catalog update, then translate): {problems.missing[:10]}")
    assert not problems.stale, f"{language} has strings the code no longer uses: {problems.stale[:10]}"
    assert not problems.broken, (
        f"{language} translations whose {{placeholders}} differ from the English: "
        f"{problems.broken[:10]}")


def test_check_reports_a_missing_a_stale_and_a_broken_string(tmp_path, monkeypatch, template):
    """The check above must be able to fail: a catalog with one of each problem."""
    from babel.messages.catalog import Catalog

    catalog = Catalog(locale="fr", domain="clientbook")
    for message in template:
        if message.id:
            catalog.add(message.id, message.id, context=message.context)  # as itself: fine
    first = next(m for m in template if m.id and isinstance(m.id, str))
    with_placeholder = next(m for m in template if isinstance(m.id, str) and "{" in m.id
                            and i18n_catalog.PLACEHOLDER.search(m.id))
    catalog.delete(first.id)
    catalog.add("A message nobody sends any more", "Un message")
    catalog[with_placeholder.id].string = "sans le nom"
    monkeypatch.setattr(i18n_catalog, "LOCALE_DIR", tmp_path)
    i18n_catalog.write(catalog, i18n_catalog.po_path("fr"))
    problems = i18n_catalog.check("fr", template)
    assert problems.missing == [first.id]
    assert problems.stale == ["A message nobody sends any more"]
    assert problems.broken == [with_placeholder.id]


# --- strings that bypass gettext -------------------------------------------------------------

GETTEXT = {"_", "N_", "ngettext", "pgettext"}
# Calls whose positional arguments are shown to the user.
SINKS = {"notify", "Label", "Static", "Button", "Checkbox", "RadioButton", "Switch", "Binding",
         "add_column", "add_columns", "ConfirmDialog", "update", "print", "error", "Option",
         "Collapsible", "TabPane", "Rule", "Header", "Tab", "FieldError", "Text", "Content",
         "Hit", "DiscoveryHit", "set_footer", "ProgressBar", "LoadingIndicator", "fail", "refuse",
         "warn", "echo"}
# Keywords that are shown to the user, whatever the call.
SHOWN_KEYWORDS = {"placeholder", "prompt", "title", "sub_title", "tooltip", "label", "description",
                  "help", "message", "text", "border_title", "border_subtitle", "help_text"}
SHOWN_ATTRIBUTES = {"border_title", "border_subtitle", "title", "sub_title", "tooltip",
                    "placeholder", "TITLE", "SUB_TITLE"}
# Text that is not prose: ids, CSS classes, keys, formats, markup, file names, codes.
NOT_PROSE = re.compile(r"^[\W\d_]*$|^[a-z0-9_.#:/*+-]+$|^[A-Z0-9_]+$|^\[/?[a-z @=$.()'\"_-]*\]$")
ALLOWED = {
    # (file relative to tui/, literal): why
    ("app.py", "Clientbook"): "the product's name",
}
ALLOWED_MODULES = {
    "i18n_catalog.py": "the translators' own tool, run from a checkout",
    "serve_sandbox.py": "system-call failures for the server log, never shown in the app",
}
LOGGERS = {"log", "logger", "logging"}  # the server's log is for its administrator, in English


def _words(node) -> str:
    """The literal text of a str constant or the literal parts of an f-string."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(part.value for part in node.values
                       if isinstance(part, ast.Constant) and isinstance(part.value, str))
    return ""


def _is_prose(text: str) -> bool:
    stripped = text.strip()
    return bool(stripped) and bool(re.search(r"[A-Za-z]{2}", stripped)) and not NOT_PROSE.match(stripped)


def _call_name(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def bypassing_gettext(source: str) -> list[tuple[int, str]]:
    """(line, text) of prose literals handed to a user-visible sink without _()."""
    found = []

    def check(node):
        if isinstance(node, (ast.Constant, ast.JoinedStr)):
            text = _words(node)
            if _is_prose(text):
                found.append((node.lineno, text))
        elif isinstance(node, ast.BinOp):  # "a" + "b", "..." % x
            check(node.left)
            check(node.right)
        elif isinstance(node, ast.IfExp):
            check(node.body)
            check(node.orelse)

    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name) and node.func.value.id in LOGGERS):
            continue
        if isinstance(node, ast.Call) and _call_name(node) not in GETTEXT:
            name = _call_name(node)
            if name in SINKS:
                arguments = node.args[2:3] if name == "Binding" else node.args
                for argument in arguments:
                    check(argument)
            for keyword in node.keywords:
                if keyword.arg in SHOWN_KEYWORDS:
                    check(keyword.value)
        elif (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)
              and not hasattr(builtins, _call_name(node.exc))):  # KeyError(...): a bug, not a message
            for argument in node.exc.args:
                check(argument)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, (ast.Attribute, ast.Name)) and (
                        getattr(target, "attr", None) or getattr(target, "id", None)) in SHOWN_ATTRIBUTES:
                    check(node.value)
    return sorted(set(found))


def test_the_lint_finds_a_bare_string_and_passes_a_wrapped_one():
    source = (
        "def f(self, name):\n"
        "    self.notify('Saved.')\n"
        "    yield Button(_('Save'), id='save-button')\n"
        "    raise FieldError(f'Unknown {name}')\n"
        "    self.border_title = 'Contacts'\n"
        "    Binding('s', 'save', 'Save now')\n"
        "    Input(placeholder=_('Name'), id='name')\n")
    assert [line for line, _text in bypassing_gettext(source)] == [2, 4, 5, 6]


def test_every_user_visible_literal_goes_through_gettext():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.startswith("domain/migrations/") or relative in ALLOWED_MODULES:
            continue  # migrations speak to no one
        for line, text in bypassing_gettext(path.read_text(encoding="utf-8")):
            if (relative, text) not in ALLOWED:
                offenders.append(f"tui/{relative}:{line}: {text!r}")
    assert not offenders, "wrap these in _() (or allow-list them with a reason):\n" + "\n".join(offenders)


def test_nothing_is_translated_at_import_time():
    """A _() at module or class level would freeze the language of whoever imported first:
    such strings are marked with N_() and translated where they are shown."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        at_import = list(tree.body)
        while at_import:
            node = at_import.pop()
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                args = node.args
                at_import.extend(args.defaults + [d for d in args.kw_defaults if d])
                at_import.extend(getattr(node, "decorator_list", []))
                continue
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in ("_", "ngettext")):
                offenders.append(f"tui/{path.relative_to(PACKAGE).as_posix()}:{node.lineno}")
            at_import.extend(ast.iter_child_nodes(node))
    assert not offenders, "translated at import time: " + ", ".join(offenders)


def test_gettext_is_given_whole_literal_messages():
    """_(f"...") or _("..." + x) cannot be in a catalog: the text is only known at run time."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in GETTEXT and node.args
                    and isinstance(node.args[0], (ast.JoinedStr, ast.BinOp))):
                offenders.append(f"tui/{path.relative_to(PACKAGE).as_posix()}:{node.lineno}")
    assert not offenders, "build the message with _('... {x} ...').format(x=...): " + ", ".join(offenders)
