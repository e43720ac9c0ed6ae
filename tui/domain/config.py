"""The site's YAML configuration: roles, choice lists and defaults, checked once at start.

Sites edit this file by hand, so every mistake is reported as one ConfigError
line naming the file, the line and the key -- not later as a crash, and never
silently ignored (PyYAML alone would drop duplicate keys and accept typos).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, NoReturn

import pycountry
import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

import tui
from tui.domain import permissions
from tui.domain.errors import ConfigError
from tui.i18n import LANGUAGES, N_, _, parse_locale

ENV_VAR = "CLIENTBOOK_CONFIG"
FORMAT_VERSION = 1
UNKNOWN_LOGINS = ("default", "refuse")
NOTIFY_CONTACT_ROLE = "notify"
TOP_LEVEL_KEYS = ("version", "business_name", "defaults", "identity", "roles", "segments",
                  "default_segment", "contact_roles", "document_kinds", "event_types", "email",
                  "documents_dir", "interface_language")
REQUIRED_KEYS = ("identity", "roles", "segments", "default_segment", "contact_roles")
IDENTITY_KEYS = ("first_user_role", "unknown_logins", "default_role")
EMAIL_KEYS = ("from_address", "from_name", "templates", "max_attempts", "retry_delay_seconds",
              "smtp")
SMTP_KEYS = ("host", "port", "security", "username", "password", "timeout_seconds", "ca_file")
SMTP_SECURITY = ("starttls", "ssl", "none")
_KEY = re.compile(r"^[a-z][a-z0-9_]*$")  # stored in the database, so kept boring
_LANGUAGE_KEY = re.compile(r"^[a-z]{2}(_[A-Z]{2})?$")
_MAX_VALUES, _MAX_DEPTH = 100_000, 20
# defaults.<name>: (value when left out, pattern, pycountry database, its field, standard)
_ISO_DEFAULTS = {
    "country": (None, r"[A-Z]{2}", pycountry.countries, "alpha_2",
                N_("ISO 3166 two-letter country")),
    "currency": ("EUR", r"[A-Z]{3}", pycountry.currencies, "alpha_3", N_("ISO 4217 currency")),
    "language": ("en", r"[a-z]{2}", pycountry.languages, "alpha_2",
                 N_("ISO 639-1 two-letter language")),
}

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Choice:
    """One entry of a site-defined list: ``key`` is stored, a label is shown."""

    key: str
    label: str
    labels: Mapping[str, str] = field(hash=False)  # read-only; unhashable, so not in hash

    def label_for(self, language: str | None) -> str:
        """The label in ``language`` ("fr", "fr_CA" falls back to "fr"), else the default."""
        if language:
            code = language.replace("-", "_").split(".")[0]
            for candidate in (code, code.split("_")[0]):
                if candidate in self.labels:
                    return self.labels[candidate]
        return self.label


@dataclass(frozen=True)
class Role(Choice):
    """A labelled set of permissions; ``grants`` as written, ``permissions`` expanded."""

    grants: tuple[str, ...]
    permissions: frozenset[str]


@dataclass(frozen=True)
class Defaults:
    country: str | None
    currency: str
    language: str


@dataclass(frozen=True)
class SmtpConfig:
    """Where to hand e-mail over, as the file says; the environment may override it."""

    host: str | None = None
    port: int | None = None  # None: 465 for ssl, else 587 (25 for none)
    security: str = "starttls"
    username: str | None = None
    password: str | None = None
    timeout_seconds: float = 30.0
    ca_file: Path | None = None  # also trust the CA certificates (PEM) in this file


@dataclass(frozen=True)
class EmailConfig:
    from_address: str | None = None  # None: e-mail is not configured
    from_name: str | None = None  # None: the business name
    templates: Path | None = None  # a site's own template folder; None: the shipped ones
    max_attempts: int = 8
    retry_delay_seconds: int = 60  # doubled after each failed attempt
    smtp: SmtpConfig = field(default_factory=SmtpConfig)


@dataclass(frozen=True)
class Config:
    path: Path
    business_name: str
    defaults: Defaults
    first_user_role: str
    unknown_logins: str
    default_role: str | None
    roles: Mapping[str, Role] = field(hash=False)
    segments: Mapping[str, Choice] = field(hash=False)
    default_segment: str
    contact_roles: Mapping[str, Choice] = field(hash=False)
    document_kinds: Mapping[str, Choice] = field(hash=False)
    event_types: Mapping[str, Choice] = field(hash=False)
    email: EmailConfig = field(default_factory=EmailConfig)
    # Where a PostgreSQL database's documents are kept (relative to this file); an SQLite
    # database keeps them beside its file and ignores this. Else $CLIENTBOOK_FILES.
    documents_dir: Path | None = None
    # The language of screens and messages for everyone using this file ("fr", "da_DK", ...);
    # None: each operator's own (--lang, $CLIENTBOOK_LANG, else the session's locale).
    interface_language: str | None = None


def shipped_config_path() -> Path:
    """The default file: inside the wheel (tui/shipped), else data/ of a checkout."""
    package = Path(tui.__file__).parent
    for candidate in (package / "shipped" / "clientbook.yaml",
                      package.parent / "data" / "clientbook.yaml"):
        if candidate.is_file():
            return candidate
    raise ConfigError(_("The default configuration clientbook.yaml is missing from this "
                        "installation (looked in {package})").format(package=package))


def resolve_config_path(cli_value: str | None, environ: Mapping[str, str]) -> Path:
    """``--config`` wins over $CLIENTBOOK_CONFIG, which wins over the shipped file."""
    for value in (cli_value, environ.get(ENV_VAR)):
        if value:
            return Path(value).expanduser()
    return shipped_config_path()


def load_config(path: str | Path | None = None) -> Config:
    """Read, parse and check a configuration file; raise ConfigError on any problem."""
    path = shipped_config_path() if path is None else Path(path)
    text = _read(path)
    tree, lines, raw = _compose(path, text)
    return _Checker(path, lines, raw).config(tree)


def _where(path: Path, line: int | None, key: str, problem: str) -> str:
    """``file, line N: key: problem`` -- the parts that are known, on one line."""
    place = _("{file}, line {line}").format(file=path, line=line) if line else str(path)
    return ": ".join(part for part in (place, key, problem) if part)


def _read(path: Path) -> str:
    try:
        if path.is_dir():  # checked first: Windows reports a directory as PermissionError
            raise ConfigError(_where(path, None, "", _("is a directory, not a configuration file")))
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(_where(path, None, "", _("configuration file not found"))) from None
    except OSError as exc:  # PermissionError included: "cannot be read: Permission denied"
        raise ConfigError(_where(path, None, "", _("cannot be read: {reason}").format(
            reason=exc.strerror or exc))) from None
    try:
        return data.decode("utf-8-sig")  # tolerate the BOM some Windows editors write
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ConfigError(_where(path, line, "", _("is not UTF-8 text; save it as UTF-8"))) from None


def _compose(path: Path, text: str) -> tuple[Any, dict[KeyPath, int], dict[KeyPath, str]]:
    """Parse into plain values, remembering each key's line and plain scalars' raw text."""
    lines: dict[KeyPath, int] = {}
    raw: dict[KeyPath, str] = {}
    constructor = SafeConstructor()
    budget = [_MAX_VALUES]  # aliases are expanded per use: stop a "billion laughs" file

    def plain(node: Node, at: KeyPath) -> Any:
        budget[0] -= 1
        if budget[0] < 0 or len(at) > _MAX_DEPTH:  # also stops an alias inside itself
            raise ConfigError(_where(path, node.start_mark.line + 1, _dotted(at[:3]),
                                     _("too many or too deeply nested values")))
        if isinstance(node, MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                line = key_node.start_mark.line + 1
                if not isinstance(key_node, ScalarNode):
                    raise ConfigError(_where(path, line, _dotted(at), _("a key must be a plain name")))
                key = key_node.value  # keys are names: "no:" means "no", not false
                if key in out:
                    raise ConfigError(_where(path, line, _dotted(at + (key,)), _(
                        "duplicate key (first written on line {first})").format(
                        first=lines[at + (key,)])))
                lines[at + (key,)] = line
                out[key] = plain(value_node, at + (key,))
            return out
        if isinstance(node, SequenceNode):
            items = []
            for index, item in enumerate(node.value):
                lines[at + (index,)] = item.start_mark.line + 1
                items.append(plain(item, at + (index,)))
            return items
        value = constructor.construct_object(node)
        if node.style is None and not isinstance(value, str):
            raw[at] = node.value
        return value

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        return (None if root is None else plain(root, ())), lines, raw
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = "; ".join(part for part in (exc.context, exc.problem) if part) or str(exc)
        problem = " ".join(problem.split())  # one line, whatever yaml wrote
        message = _("{file}, line {line}, column {column}: {problem}").format(
            file=path, line=mark.line + 1, column=mark.column + 1, problem=problem)
        raise ConfigError(message) from None
    except yaml.reader.ReaderError as exc:
        line = text[:exc.position].count("\n") + 1
        raise ConfigError(_where(path, line, "", _("character #x{code:04x} is not allowed").format(
            code=exc.character))) from None


def _dotted(at: KeyPath) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in at).lstrip(".")


_KINDS = ((type(None), N_("nothing")), (bool, N_("true/false")), ((int, float), N_("a number")),
          (dict, N_("a mapping")), (list, N_("a list")), (str, N_("text")))


def _kind(value: Any) -> str:
    """What YAML made of a value, to say what was found instead of what was expected."""
    return next((_(name) for kind, name in _KINDS if isinstance(value, kind)),
                type(value).__name__)  # e.g. "date" for an unquoted 2024-01-31


class _Checker:
    """Turns the plain parsed values into a Config, failing on the first problem."""

    def __init__(self, path: Path, lines: dict[KeyPath, int], raw: dict[KeyPath, str]):
        self.path, self.lines, self.raw = path, lines, raw

    def fail(self, key: KeyPath, problem: str, at: KeyPath | None = None) -> NoReturn:
        """Raise for ``key``, citing the line of ``at`` (or the nearest written parent)."""
        at = key if at is None else at
        while at and at not in self.lines:
            at = at[:-1]
        raise ConfigError(_where(self.path, self.lines.get(at), _dotted(key), problem))

    def mapping(self, value: Any, key: KeyPath, allowed: tuple[str, ...] | None = None,
                required: tuple[str, ...] = ()) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(key, _("must be a mapping (key: value lines), not {kind}").format(
                kind=_kind(value)))
        for name in value if allowed is not None else ():
            if name not in allowed:
                close = difflib.get_close_matches(name, allowed, n=1)
                hint = (_('; did you mean "{key}"?').format(key=close[0]) if close else
                        _("; expected one of: {keys}").format(keys=", ".join(allowed)))
                self.fail(key + (name,), _("unknown key") + hint)
        for name in required:
            if name not in value:
                self.fail(key + (name,), _("required key is missing"))
        return value

    def text(self, value: Any, key: KeyPath, nullable: bool = False) -> str | None:
        if value is None and nullable:
            return None
        if not isinstance(value, str):
            hint = (_(' (write it in quotes: "{raw}")').format(raw=self.raw[key])
                    if key in self.raw and value is not None else "")
            self.fail(key, _("must be text, not {kind}").format(kind=_kind(value)) + hint)
        if not value.strip():
            self.fail(key, _("must not be empty"))
        return value

    def code(self, value: Any, key: KeyPath, pattern: str, database: Any, field_name: str,
             standard: str, nullable: bool) -> str | None:
        """An ISO code, checked against pycountry so "EUO" or "UK" are caught here."""
        value = self.text(value, key, nullable)
        if value is not None and (not re.fullmatch(pattern, value)
                                  or database.get(**{field_name: value}) is None):
            self.fail(key, _('"{value}" is not an {standard} code').format(
                value=value, standard=_(standard)))
        return value

    def name(self, value: str, key: KeyPath) -> str:
        if not _KEY.match(value):
            self.fail(key, _('"{name}" is not a valid key: use lower-case letters, digits and _, '
                             "starting with a letter").format(name=value))
        return value

    def labels(self, entry: dict[str, Any], key: KeyPath) -> tuple[str, Mapping[str, str]]:
        label = self.text(entry["label"], key + ("label",))
        translations = self.mapping(entry.get("labels", {}), key + ("labels",))
        for language, text in translations.items():
            if not _LANGUAGE_KEY.match(language):
                self.fail(key + ("labels", language),
                          _("a language must be a code such as fr, da or fr_CA"))
            self.text(text, key + ("labels", language))
        return label, MappingProxyType(dict(translations))

    def choices(self, value: Any, key: KeyPath) -> Mapping[str, Choice]:
        out: dict[str, Choice] = {}
        for name, entry in self.mapping(value, key).items():
            at = key + (name,)
            self.name(name, at)
            if isinstance(entry, str):  # shorthand: "key: Label"
                entry = {"label": entry}
            entry = self.mapping(entry, at, ("label", "labels"), required=("label",))
            out[name] = Choice(name, *self.labels(entry, at))
        return MappingProxyType(out)

    def roles(self, value: Any) -> Mapping[str, Role]:
        out: dict[str, Role] = {}
        key: KeyPath = ("roles",)
        for name, entry in self.mapping(value, key).items():
            at = key + (name,)
            self.name(name, at)
            entry = self.mapping(entry, at, ("label", "labels", "grants"), ("label", "grants"))
            grants = entry["grants"]
            if not isinstance(grants, list):
                self.fail(at + ("grants",), _("must be a list of permissions such as "
                                              "[customer.view, contact.*], not {kind}").format(
                    kind=_kind(grants)))
            for index, grant in enumerate(grants):
                self.text(grant, at + ("grants", index))
                if not permissions.is_known_pattern(grant):
                    self.fail(at + ("grants",), _('unknown permission "{grant}"').format(
                        grant=grant), at=at + ("grants", index))
            label, labels = self.labels(entry, at)
            out[name] = Role(name, label, labels, tuple(grants), permissions.expand(grants))
        if not out:
            self.fail(key, _("at least one role is needed"))
        return MappingProxyType(out)

    def number(self, value: Any, key: KeyPath, low: float, high: float, kind=int):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                kind is int and not isinstance(value, int)) or not low <= value <= high:
            self.fail(key, _("must be a number from {low} to {high}, not {value!r}").format(
                low=low, high=high, value=value))
        return kind(value)

    def email(self, value: Any) -> EmailConfig:
        key: KeyPath = ("email",)
        given = self.mapping(value if value is not None else {}, key, EMAIL_KEYS)
        from_address = self.text(given.get("from_address"), key + ("from_address",), True)
        if from_address is not None and "@" not in from_address:
            self.fail(key + ("from_address",), _('"{value}" is not an e-mail address').format(
                value=from_address))
        templates = self.text(given.get("templates"), key + ("templates",), True)
        smtp_key = key + ("smtp",)
        smtp = self.mapping(given.get("smtp") or {}, smtp_key, SMTP_KEYS)
        security = self.text(smtp.get("security", "starttls"), smtp_key + ("security",))
        if security not in SMTP_SECURITY:
            self.fail(smtp_key + ("security",), _("must be one of {choices}, not {value}").format(
                choices=", ".join(SMTP_SECURITY), value=security))
        port = smtp.get("port")
        ca_file = self.text(smtp.get("ca_file"), smtp_key + ("ca_file",), True)
        if ca_file is not None:
            ca_file = (self.path.parent / Path(ca_file).expanduser()).resolve()
            if not ca_file.is_file():
                self.fail(smtp_key + ("ca_file",), _("{path} is not a file").format(path=ca_file))
        return EmailConfig(
            from_address=from_address,
            from_name=self.text(given.get("from_name"), key + ("from_name",), True),
            templates=None if templates is None else (self.path.parent / templates).resolve(),
            max_attempts=self.number(given.get("max_attempts", 8), key + ("max_attempts",),
                                     1, 100),
            retry_delay_seconds=self.number(given.get("retry_delay_seconds", 60),
                                            key + ("retry_delay_seconds",), 1, 86_400),
            smtp=SmtpConfig(
                host=self.text(smtp.get("host"), smtp_key + ("host",), True),
                port=None if port is None else self.number(port, smtp_key + ("port",), 1, 65535),
                security=security,
                username=self.text(smtp.get("username"), smtp_key + ("username",), True),
                password=self.text(smtp.get("password"), smtp_key + ("password",), True),
                timeout_seconds=self.number(smtp.get("timeout_seconds", 30),
                                            smtp_key + ("timeout_seconds",), 1, 600, float),
                ca_file=ca_file,
            ),
        )

    def role_ref(self, value: Any, key: KeyPath, roles: Mapping[str, Role]) -> str:
        if value not in roles:
            self.fail(key, _('no role "{role}" is defined under roles ({known})').format(
                role=value, known=", ".join(roles)))
        return value

    def config(self, tree: Any) -> Config:
        if tree is None:
            self.fail((), _("the file is empty"))
        if not isinstance(tree, dict):
            self.fail((), _("the file must be a mapping of settings (key: value lines), "
                            "not {kind}").format(kind=_kind(tree)))
        top = self.mapping(tree, (), TOP_LEVEL_KEYS, REQUIRED_KEYS)
        version = top.get("version", FORMAT_VERSION)
        if isinstance(version, bool) or version != FORMAT_VERSION:
            self.fail(("version",), _("unsupported version {version}; this Clientbook reads "
                                      "version {supported}").format(
                version=version, supported=FORMAT_VERSION))
        business_name = self.text(top.get("business_name", "Clientbook"), ("business_name",))

        given = self.mapping(top.get("defaults", {}), ("defaults",), tuple(_ISO_DEFAULTS))
        defaults = Defaults(**{name: self.code(given.get(name, default), ("defaults", name), *spec,
                                               nullable=default is None)
                               for name, (default, *spec) in _ISO_DEFAULTS.items()})

        roles = self.roles(top["roles"])
        first_key, unknown_key, default_key = (("identity", name) for name in IDENTITY_KEYS)
        ident = self.mapping(top["identity"], ("identity",), IDENTITY_KEYS, IDENTITY_KEYS[:2])
        first = self.role_ref(self.text(ident["first_user_role"], first_key), first_key, roles)
        if "user.manage" not in roles[first].permissions:
            self.fail(first_key, _('role "{role}" does not grant user.manage, so nobody could '
                                   "add other users").format(role=first))
        unknown = self.text(ident["unknown_logins"], unknown_key)
        if unknown not in UNKNOWN_LOGINS:
            self.fail(unknown_key, _('must be "default" or "refuse", not "{value}"').format(
                value=unknown))
        default_role = self.text(ident.get("default_role"), default_key, nullable=True)
        if default_role is None and unknown == "default":
            self.fail(default_key, _("must name a role when unknown_logins is default "
                                     "(or set unknown_logins: refuse)"))
        if default_role is not None:
            self.role_ref(default_role, default_key, roles)

        segments = self.choices(top["segments"], ("segments",))
        if not segments:
            self.fail(("segments",), _("at least one segment is needed"))
        default_segment = self.text(top["default_segment"], ("default_segment",))
        if default_segment not in segments:
            self.fail(("default_segment",), _(
                'default segment "{segment}" is not one of the segments ({known})').format(
                segment=default_segment, known=", ".join(segments)))
        contact_roles = self.choices(top["contact_roles"], ("contact_roles",))
        if NOTIFY_CONTACT_ROLE not in contact_roles:
            self.fail(("contact_roles",), _(
                'must contain "{key}": contacts with that role are told about equipment events'
            ).format(key=NOTIFY_CONTACT_ROLE))

        return Config(
            path=self.path, business_name=business_name, defaults=defaults,
            first_user_role=first, unknown_logins=unknown, default_role=default_role,
            roles=roles, segments=segments, default_segment=default_segment,
            contact_roles=contact_roles,
            document_kinds=self.choices(top.get("document_kinds", {}), ("document_kinds",)),
            event_types=self.choices(top.get("event_types", {}), ("event_types",)),
            email=self.email(top.get("email")),
            documents_dir=self.folder(top.get("documents_dir"), ("documents_dir",)),
            interface_language=self.interface_language(top.get("interface_language")),
        )

    def interface_language(self, value: Any) -> str | None:
        key = ("interface_language",)
        text = self.text(value, key, True)
        if text is not None and parse_locale(text) is None:
            self.fail(key, _('"{value}" is not a language Clientbook speaks; write one of {known}, '
                             "or null for each operator's own").format(
                value=text, known=", ".join(LANGUAGES)))
        return text

    def folder(self, value: Any, key: tuple) -> Path | None:
        """An optional folder, relative to the configuration file; it need not exist yet."""
        text = self.text(value, key, True)
        if text is None:
            return None
        folder = (self.path.parent / Path(text).expanduser()).resolve()
        if folder.exists() and not folder.is_dir():
            self.fail(key, _("{path} is not a folder").format(path=folder))
        return folder
