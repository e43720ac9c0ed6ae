"""The YAML configuration: the shipped file, path resolution, and one test per mistake."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import pytest

import tui
from tui.domain.config import (
    Choice, Config, load_config, resolve_config_path, shipped_config_path,
)
from tui.domain.errors import ConfigError
from tui.domain.permissions import PERMISSIONS

SEED_ROLES = ("administrator", "fleet_administrator", "account_owner", "estimator", "limited")

# A small valid file; the bad cases below edit one line of it, so the line
# numbers in the expectations refer to this text.
MINIMAL = """\
version: 1
business_name: Test shop
defaults:
  country: DK
  currency: DKK
  language: da
identity:
  first_user_role: boss
  unknown_logins: default
  default_role: clerk
roles:
  boss: {label: Boss, grants: ["*"]}
  clerk:
    label: Clerk
    labels: {da: Ekspedient}
    grants: [customer.view, contact.*]
segments:
  dealer: {label: Dealer, labels: {fr: Revendeur}}
  other: Other
default_segment: other
contact_roles:
  notify: {label: Notify}
document_kinds: {}
event_types: {}
"""


def write(tmp_path: Path, text: str | bytes, name: str = "site.yaml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def edited(old: str, new: str) -> str:
    assert MINIMAL.count(old) == 1, old  # the edit must hit exactly one place
    return MINIMAL.replace(old, new)


def config_error(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "\n" not in message, message
    assert str(path) in message, message
    return message


def assert_line(message: str, line: int | str | None) -> None:
    if line == "any":
        return
    if line is None:
        assert not re.search(r"\bline \d", message), message
    else:
        found = re.search(r"\bline (\d+)\b", message)
        assert found and int(found.group(1)) == line, message


# --- the shipped file ----------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped() -> Config:
    return load_config()


def test_shipped_file_is_the_checkout_data_file(shipped):
    assert shipped_config_path() == Path(tui.__file__).parent.parent / "data" / "clientbook.yaml"
    assert shipped.path == shipped_config_path()
    assert load_config(shipped_config_path()) == shipped


def test_shipped_file_has_the_seed_roles_in_order(shipped):
    assert tuple(shipped.roles) == SEED_ROLES
    assert shipped.first_user_role == "administrator"
    assert shipped.unknown_logins == "default"
    assert shipped.default_role == "limited"


def test_administrator_has_every_permission(shipped):
    assert shipped.roles["administrator"].permissions == frozenset(PERMISSIONS)
    assert shipped.roles["administrator"].grants == ("*",)


def test_limited_role_cannot_change_anything(shipped):
    limited = shipped.roles["limited"].permissions
    assert limited, "limited must still see something"
    changing = {p for p in limited if p.split(".")[1].split("_")[0] in {"edit", "create", "delete"}}
    assert changing == set()
    assert limited <= {p for p in PERMISSIONS if p.endswith(".view")}


def test_other_seed_roles_grant_what_their_job_needs(shipped):
    estimator = shipped.roles["estimator"].permissions
    assert "customer.create_in_estimate" in estimator and "estimate.edit" in estimator
    assert "customer.create" not in estimator and "user.manage" not in estimator
    fleet = shipped.roles["fleet_administrator"].permissions
    assert {"equipment.assign", "event.record", "notify.send"} <= fleet
    assert "user.manage" not in fleet and "estimate.edit" not in fleet
    owner = shipped.roles["account_owner"].permissions
    assert {"estimate.edit", "project.edit", "customer.delete"} <= owner
    assert "equipment.edit" not in owner


def test_shipped_choice_lists(shipped):
    assert {"dealer", "service_provider", "other"} <= set(shipped.segments)
    assert list(shipped.segments)[0] == "dealer"  # file order is display order
    assert shipped.default_segment == "other"
    assert "notify" in shipped.contact_roles
    assert set(shipped.document_kinds) == {"contract", "insurance", "certificate", "other"}
    assert set(shipped.event_types) == {"service_due", "breakdown", "alarm", "geofence_exit",
                                        "custom"}
    assert shipped.defaults.country is None
    assert shipped.defaults.currency == "EUR" and shipped.defaults.language == "en"
    assert shipped.business_name == "Clientbook demo business"


def test_every_shipped_entry_has_french_and_danish_labels(shipped):
    lists = [shipped.roles, shipped.segments, shipped.contact_roles, shipped.document_kinds,
             shipped.event_types]
    for entries in lists:
        for entry in entries.values():
            assert set(entry.labels) == {"fr", "da"}, entry.key


def test_label_for_translates_and_falls_back(shipped):
    dealer = shipped.segments["dealer"]
    assert dealer.label_for("fr") == "Revendeur"
    assert dealer.label_for("fr_CA") == "Revendeur"  # region falls back to the language
    assert dealer.label_for("da") == "Forhandler"
    assert dealer.label_for("de") == "Dealer"
    assert dealer.label_for(None) == "Dealer"
    assert shipped.roles["estimator"].label_for("fr") == "Estimateur"
    assert shipped.roles["estimator"].label_for("sv") == "Estimator"


def test_config_is_immutable(shipped):
    with pytest.raises(dataclasses.FrozenInstanceError):
        shipped.default_segment = "dealer"  # type: ignore[misc]
    with pytest.raises(TypeError):
        shipped.segments["new"] = Choice("new", "New", {})  # type: ignore[index]
    with pytest.raises(TypeError):
        shipped.segments["dealer"].labels["fr"] = "x"  # type: ignore[index]
    assert hash(shipped.roles["limited"]) == hash(load_config().roles["limited"])


# --- a site's own file ---------------------------------------------------------------


def test_minimal_file_loads(tmp_path):
    config = load_config(write(tmp_path, MINIMAL))
    assert config.defaults.country == "DK" and config.defaults.currency == "DKK"
    assert config.roles["clerk"].permissions == {"customer.view", "contact.view", "contact.edit"}
    assert config.roles["clerk"].label_for("da") == "Ekspedient"
    assert config.segments["other"] == Choice("other", "Other", {})  # bare-string shorthand
    assert config.document_kinds == {} and config.event_types == {}


def test_refusing_unknown_logins_needs_no_default_role(tmp_path):
    text = edited("unknown_logins: default", "unknown_logins: refuse").replace(
        "default_role: clerk", "default_role: null")
    config = load_config(write(tmp_path, text))
    assert config.unknown_logins == "refuse" and config.default_role is None


def test_role_with_empty_grants_is_fine_and_quoted_norway_is_a_country(tmp_path):
    text = edited("grants: [customer.view, contact.*]", "grants: []").replace(
        "country: DK", 'country: "NO"')
    config = load_config(write(tmp_path, text))
    assert config.roles["clerk"].permissions == frozenset()
    assert config.defaults.country == "NO"


def test_keys_are_names_even_when_yaml_would_read_a_boolean(tmp_path):
    text = edited("  other: Other\n", "  other: Other\n  on: On site\n")
    assert list(load_config(write(tmp_path, text)).segments) == ["dealer", "other", "on"]


def test_optional_sections_may_be_left_out(tmp_path):
    text = MINIMAL.split("defaults:")[0] + "identity:" + MINIMAL.split("identity:")[1]
    text = text.replace("document_kinds: {}\nevent_types: {}\n", "")
    config = load_config(write(tmp_path, text))
    assert (config.defaults.country, config.defaults.currency, config.defaults.language) == (
        None, "EUR", "en")
    assert config.document_kinds == {}


# (old, new, expected line or None, words the message must contain)
BAD_EDITS = {
    "yaml syntax": ("business_name: Test shop", "business_name: Test: shop", 2,
                    ["column 20", "mapping values are not allowed"]),
    "yaml unsafe tag": ("country: DK", "country: !!python/name:os.system DK", 4,
                        ["python/name"]),
    "duplicate key": ("  other: Other\n", "  other: Other\n  dealer: Again\n", 20,
                      ["segments.dealer", "duplicate key", "line 18"]),
    "unknown top-level key": ("\nroles:", "\nrolez:", 11, ["rolez", "unknown key", '"roles"']),
    "unknown role key": ("label: Clerk", "lable: Clerk", 14,
                         ["roles.clerk.lable", "unknown key", '"label"']),
    "missing default_segment": ("default_segment: other\n", "", None,
                                ["default_segment", "missing"]),
    "missing grants": ('boss: {label: Boss, grants: ["*"]}', "boss: {label: Boss}", 12,
                       ["roles.boss.grants", "missing"]),
    "grants not a list": ('grants: ["*"]', 'grants: "*"', 12,
                          ["roles.boss.grants", "must be a list"]),
    "unknown permission": ("[customer.view, contact.*]", "[customer.view,\n  customer.destroy]",
                           17, ["roles.clerk.grants", 'unknown permission "customer.destroy"']),
    "wildcard matching nothing": ("contact.*]", "contract.*]", 16,
                                  ['unknown permission "contract.*"']),
    "label not text": ("  other: Other", "  other: {label: 12}", 19,
                       ["segments.other.label", "must be text", "a number"]),
    "translation not text": ("{da: Ekspedient}", "{da: [Ekspedient]}", 15,
                             ["roles.clerk.labels.da", "must be text", "a list"]),
    "bad language code": ("{da: Ekspedient}", "{danish: Ekspedient}", 15,
                          ["roles.clerk.labels.danish", "language"]),
    "segment entry a list": ("  other: Other", "  other: [Other]", 19,
                             ["segments.other", "must be a mapping"]),
    "key not lower case": ("  dealer: {", "  Dealer: {", 18,
                           ["segments.Dealer", "not a valid key"]),
    "key with a dash": ("  boss: {", "  big-boss: {", 12, ['"big-boss" is not a valid key']),
    "missing default segment": ("default_segment: other", "default_segment: reseller", 20,
                                ['default segment "reseller"', "dealer, other"]),
    "default_role names nothing": ("default_role: clerk", "default_role: cashier", 10,
                                   ["identity.default_role", 'no role "cashier"']),
    "first_user_role names nothing": ("first_user_role: boss", "first_user_role: owner", 8,
                                      ["identity.first_user_role", 'no role "owner"']),
    "first user cannot manage users": ("first_user_role: boss", "first_user_role: clerk", 8,
                                       ["user.manage"]),
    "unknown_logins bad value": ("unknown_logins: default", "unknown_logins: maybe", 9,
                                 ["identity.unknown_logins", '"refuse"', '"maybe"']),
    "default_role null with default": ("default_role: clerk", "default_role: null", 10,
                                       ["identity.default_role", "must name a role"]),
    "default_role missing with default": ("  default_role: clerk\n", "", 7,
                                          ["identity.default_role", "must name a role"]),
    "unquoted norway": ("country: DK", "country: NO", 4,
                        ["defaults.country", "true/false", 'quotes: "NO"']),
    "unknown country": ("country: DK", "country: UK", 4, ['"UK"', "ISO 3166"]),
    "lower-case country": ("country: DK", "country: dk", 4, ['"dk"', "ISO 3166"]),
    "unknown currency": ("currency: DKK", "currency: XYZ", 5, ['"XYZ"', "ISO 4217"]),
    "lower-case currency": ("currency: DKK", "currency: dkk", 5, ['"dkk"', "ISO 4217"]),
    "three-letter language": ("language: da", "language: dan", 6, ['"dan"', "language"]),
    "no notify contact role": ("  notify: {label: Notify}", "  billing: Billing", 21,
                               ["contact_roles", '"notify"']),
    "empty segments": ("segments:\n  dealer: {label: Dealer, labels: {fr: Revendeur}}\n"
                       "  other: Other\n", "segments: {}\n", 17,
                       ["segments", "at least one segment"]),
    "unsupported version": ("version: 1", "version: 2", 1, ["version", "unsupported"]),
    "business name empty": ("business_name: Test shop", 'business_name: ""', 2,
                            ["business_name", "empty"]),
    "missing identity": ("identity:\n  first_user_role: boss\n  unknown_logins: default\n"
                         "  default_role: clerk\n", "", None, ["identity", "missing"]),
}


@pytest.mark.parametrize("case", list(BAD_EDITS), ids=list(BAD_EDITS))
def test_bad_file_is_reported_with_line_and_problem(tmp_path, case):
    old, new, line, words = BAD_EDITS[case]
    message = config_error(write(tmp_path, edited(old, new)))
    assert_line(message, line)
    for word in words:
        assert word in message, (word, message)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("", None, ["empty"]),
        ("# only a comment\n", None, ["empty"]),
        ("- roles\n- segments\n", None, ["must be a mapping", "a list"]),
        ("just text\n", None, ["must be a mapping", "text"]),
        (MINIMAL + "---\nversion: 1\n", 25, ["single document"]),
        ("version: 1\n\tbusiness_name: x\n", 2, ["column 1", "tab"]),
        ("version: 1\nbusiness_name: caf\u00e9\x07\n", 2, ["#x0007", "not allowed"]),
        (b"version: 1\nbusiness_name: caf\xe9\n", 2, ["UTF-8"]),
        ("version: 1\nroles: &r {boss: *r}\n", 2, ["too many or too deeply nested"]),
        ("a: &a [x, x, x, x, x, x, x, x, x, x]\n"
         + "".join(f"{n}: &{n} [{', '.join([f'*{p}'] * 10)}]\n" for p, n in zip("abcde", "bcdef")),
         "any", ["too many or too deeply nested"]),
    ],
    ids=["empty", "comment only", "list", "scalar", "two documents", "tab", "control char",
         "latin-1", "alias inside itself", "billion laughs"],
)
def test_bad_whole_file(tmp_path, text, line, words):
    message = config_error(write(tmp_path, text))
    assert_line(message, line)
    for word in words:
        assert word in message, (word, message)


def test_utf8_byte_order_mark_is_accepted(tmp_path):
    assert load_config(write(tmp_path, b"\xef\xbb\xbf" + MINIMAL.encode())).business_name == (
        "Test shop")


def test_missing_file(tmp_path):
    message = config_error(tmp_path / "nowhere.yaml")
    assert "not found" in message


def test_directory_instead_of_file(tmp_path):
    message = config_error(tmp_path)
    assert "directory" in message


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads anything")
def test_unreadable_file(tmp_path):
    path = write(tmp_path, MINIMAL)
    path.chmod(0)
    try:
        assert "Permission denied" in config_error(path)
    finally:
        path.chmod(0o644)


# --- where the file comes from -------------------------------------------------------


def test_resolve_config_path_precedence(tmp_path):
    env = {"CLIENTBOOK_CONFIG": str(tmp_path / "env.yaml")}
    assert resolve_config_path(str(tmp_path / "cli.yaml"), env) == tmp_path / "cli.yaml"
    assert resolve_config_path(None, env) == tmp_path / "env.yaml"
    assert resolve_config_path("", env) == tmp_path / "env.yaml"
    assert resolve_config_path(None, {}) == shipped_config_path()
    assert resolve_config_path(None, {"CLIENTBOOK_CONFIG": ""}) == shipped_config_path()


def test_resolve_config_path_expands_home(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_config_path("~/site.yaml", {}) == tmp_path / "site.yaml"


def test_shipped_path_prefers_the_wheel_layout(monkeypatch, tmp_path):
    package = tmp_path / "tui"
    (package / "shipped").mkdir(parents=True)
    (tmp_path / "data").mkdir()
    monkeypatch.setattr(tui, "__file__", str(package / "__init__.py"))
    with pytest.raises(ConfigError, match="clientbook.yaml"):
        shipped_config_path()
    write(tmp_path / "data", MINIMAL, "clientbook.yaml")
    assert shipped_config_path() == tmp_path / "data" / "clientbook.yaml"
    write(package / "shipped", MINIMAL, "clientbook.yaml")
    assert shipped_config_path() == package / "shipped" / "clientbook.yaml"
    assert load_config().path == package / "shipped" / "clientbook.yaml"


def test_config_module_does_not_import_textual():
    source = (Path(tui.__file__).parent / "domain" / "config.py").read_text(encoding="utf-8")
    assert not re.search(r"^\s*(import|from)\s+textual", source, re.MULTILINE)
