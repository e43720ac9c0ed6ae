"""E-mail templates and SMTP settings: what a message says and where it is handed over.

Templates are plain files (``<kind>.<language>.txt``) so a site can reword
them without touching code; they are checked when used, and a mistake names
the file and line. SMTP settings come from the configuration file and the
environment, the environment winning, so a password never has to be written
in a file that is shared or committed.
"""

from __future__ import annotations

import os
import smtplib
import ssl
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from pathlib import Path

import tui
from tui.domain.config import SMTP_SECURITY, Config
from tui.domain.errors import ConfigError
from tui.domain.locale_format import format_date, format_datetime, locale_for
from tui.i18n import _

FALLBACK_LANGUAGE = "en"
# kind -> the placeholders its templates may use
TEMPLATE_FIELDS: dict[str, tuple[str, ...]] = {
    "event": ("business_name", "customer_name", "contact_name", "event_type", "occurred_at",
              "message", "machine", "serial", "machine_name", "make", "model"),
    "welcome": ("business_name", "customer_name", "contact_name"),
}
ENV_SMTP = {  # environment variable -> SmtpSettings field
    "CLIENTBOOK_SMTP_HOST": "host",
    "CLIENTBOOK_SMTP_PORT": "port",
    "CLIENTBOOK_SMTP_SECURITY": "security",
    "CLIENTBOOK_SMTP_USERNAME": "username",
    "CLIENTBOOK_SMTP_PASSWORD": "password",
    "CLIENTBOOK_MAIL_FROM": "from_address",
    "CLIENTBOOK_SMTP_CA_FILE": "ca_file",
}
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}


# ------------------------------------------------------------------ templates

@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str
    language: str  # the language of the template used


def shipped_templates_dir() -> Path:
    package = Path(tui.__file__).parent
    for candidate in (package / "shipped" / "templates", package.parent / "data" / "templates"):
        if candidate.is_dir():
            return candidate
    raise ConfigError(_("The e-mail templates are missing from this installation "
                        "(looked in {package})").format(package=package))


def templates_dir(config: Config) -> Path:
    return config.email.templates or shipped_templates_dir()


def template_path(config: Config, kind: str, language: str | None) -> tuple[Path, str]:
    """The file for ``kind`` in ``language``, else the site's default language, else English."""
    folder = templates_dir(config)
    tried = []
    for candidate in (language, config.defaults.language, FALLBACK_LANGUAGE):
        if not candidate or candidate in tried:
            continue
        tried.append(candidate)
        path = folder / f"{kind}.{candidate}.txt"
        if path.is_file():
            return path, candidate
    raise ConfigError(_("{folder}: no template for {kind} e-mails (looked for {names})").format(
        folder=folder, kind=kind, names=", ".join(f"{kind}.{code}.txt" for code in tried)))


def _where(path: Path, line: int | None, problem: str) -> str:
    return (_("{file}, line {line}: {problem}").format(file=path, line=line, problem=problem)
            if line else f"{path}: {problem}")


def load_template(path: Path, kind: str) -> tuple[string.Template, string.Template]:
    """Subject and body templates of one file, checked against the kind's placeholders."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError(_where(path, None, _("is not UTF-8 text; save it as UTF-8"))) from None
    except OSError as exc:
        raise ConfigError(_where(path, None, _("cannot be read: {reason}").format(
            reason=exc.strerror or exc))) from None
    first, _sep, rest = text.partition("\n")
    if not first.lower().startswith("subject:"):
        raise ConfigError(_where(path, 1, _('the first line must be "Subject: ..."')))
    if rest and rest.split("\n", 1)[0].strip():
        raise ConfigError(_where(path, 2, _("leave an empty line between the subject and "
                                            "the body")))
    subject = string.Template(first.split(":", 1)[1].strip())
    body = string.Template(rest.split("\n", 1)[1] if "\n" in rest else "")
    allowed = TEMPLATE_FIELDS[kind]
    for line_number, line in enumerate(text.split("\n"), start=1):
        piece = string.Template(line)
        if not piece.is_valid():
            raise ConfigError(_where(path, line_number, _(
                "a $ must be followed by a name, or written $$")))
        for name in piece.get_identifiers():
            if name not in allowed:
                raise ConfigError(_where(path, line_number, _(
                    'unknown placeholder "${{{name}}}"; {kind} e-mails know: {known}').format(
                    name=name, kind=kind, known=", ".join(allowed))))
    return subject, body


def template_locale(language: str) -> str:
    """The locale dates and amounts of an e-mail written in ``language`` are in: that
    language's default one (fr_FR for a French template), never the operator's."""
    return locale_for(language)


def render(config: Config, kind: str, language: str | None,
           values: Mapping[str, object]) -> Rendered:
    """The message of ``kind`` in ``language`` (the customer's: C6), else the site's default
    language, else English. A datetime among ``values`` (naive UTC, as stored) is written
    in the locale of the template's language (``template_locale``)."""
    path, used = template_path(config, kind, language)
    subject, body = load_template(path, kind)
    where = template_locale(used)

    def shown(value: object) -> str:
        if isinstance(value, datetime):
            return format_time(value, where)
        if isinstance(value, date):
            return format_date(value, where)
        return str(value or "")

    values = {name: shown(values.get(name, "")) for name in TEMPLATE_FIELDS[kind]}
    # A header is one line: a value holding a line break must not start a new one.
    one_line = {name: " ".join(value.split()) for name, value in values.items()}
    text = body.substitute(values).strip("\n") + "\n"
    return Rendered(subject.substitute(one_line).strip(), text, used)


def format_time(moment: datetime, locale: str | None = None) -> str:
    """A stored (UTC) moment, said to be UTC since readers are in any time zone:
    "11/23/2026 14:05 UTC" in US English, "23/11/2026 14:05 UTC" in French.
    ``locale`` None: the operator's (messages, the CLI); an e-mail's is its template's."""
    return _("{moment} UTC").format(moment=format_datetime(moment, locale))


# ------------------------------------------------------------------ SMTP settings

@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str  # starttls / ssl / none
    username: str | None
    password: str | None
    timeout_seconds: float
    from_address: str
    from_name: str
    ca_file: Path | None = None  # CA certificates (PEM) trusted besides the system's

    @property
    def sender(self) -> str:
        return formataddr((self.from_name, self.from_address))


def smtp_settings(config: Config, environ: Mapping[str, str]) -> SmtpSettings | None:
    """The settings in force, or None when no sender address or host is set anywhere."""
    smtp = config.email.smtp
    values = {"host": smtp.host, "port": smtp.port, "security": smtp.security,
              "username": smtp.username, "password": smtp.password,
              "from_address": config.email.from_address, "ca_file": smtp.ca_file}
    for variable, name in ENV_SMTP.items():
        if environ.get(variable):
            values[name] = environ[variable].strip()
    if isinstance(values["port"], str):
        try:
            values["port"] = int(values["port"])
            if not 0 < values["port"] < 65536:
                raise ValueError
        except ValueError:
            raise ConfigError(_("CLIENTBOOK_SMTP_PORT: {value} is not a port number").format(
                value=environ["CLIENTBOOK_SMTP_PORT"])) from None
    if values["security"] not in SMTP_SECURITY:
        raise ConfigError(_("CLIENTBOOK_SMTP_SECURITY: must be one of {choices}, not {value}")
                          .format(choices=", ".join(SMTP_SECURITY), value=values["security"]))
    if values["from_address"] and "@" not in values["from_address"]:
        raise ConfigError(_("CLIENTBOOK_MAIL_FROM: {value} is not an e-mail address").format(
            value=values["from_address"]))
    if isinstance(values["ca_file"], str):
        values["ca_file"] = Path(values["ca_file"]).expanduser()
        if not values["ca_file"].is_file():
            raise ConfigError(_("CLIENTBOOK_SMTP_CA_FILE: {path} is not a file").format(
                path=values["ca_file"]))
    if not values["host"] or not values["from_address"]:
        return None
    return SmtpSettings(
        host=values["host"],
        port=values["port"] or DEFAULT_PORTS[values["security"]],
        security=values["security"],
        username=values["username"] or None,
        password=values["password"] or None,
        timeout_seconds=smtp.timeout_seconds,
        from_address=values["from_address"],
        from_name=config.email.from_name or config.business_name,
        ca_file=values["ca_file"],
    )


def not_configured_reason() -> str:
    return _("E-mail is not configured: set email.from_address and email.smtp.host in the "
             "configuration file, or CLIENTBOOK_MAIL_FROM and CLIENTBOOK_SMTP_HOST.")


def tls_context(settings: SmtpSettings) -> ssl.SSLContext:
    """Certificates are always checked; ``ca_file`` adds a site's own CA to the system's."""
    context = ssl.create_default_context()
    if settings.ca_file is not None:
        try:
            context.load_verify_locations(cafile=str(settings.ca_file))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(_("{path}: not a file of PEM certificates ({reason})").format(
                path=settings.ca_file, reason=getattr(exc, "strerror", None) or exc)) from None
    return context


def open_smtp(settings: SmtpSettings, context: ssl.SSLContext | None = None) -> smtplib.SMTP:
    """A connection ready to send: connected, encrypted as configured, logged in.

    Raises what smtplib, ssl and socket raise; the sender decides what is temporary.
    """
    context = context or tls_context(settings)
    if settings.security == "ssl":
        connection: smtplib.SMTP = smtplib.SMTP_SSL(settings.host, settings.port,
                                                    timeout=settings.timeout_seconds,
                                                    context=context)
    else:
        connection = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds)
    try:
        connection.ehlo()
        if settings.security == "starttls":
            connection.starttls(context=context)  # raises SMTPNotSupportedError if not offered
            connection.ehlo()
        if settings.username:
            connection.login(settings.username, settings.password or "")
    except BaseException:
        close_smtp(connection)
        raise
    return connection


def close_smtp(connection: smtplib.SMTP) -> None:
    """QUIT politely, or just drop the socket if the server is gone."""
    try:
        connection.quit()
    except (smtplib.SMTPException, OSError):
        connection.close()


def new_message_id(config: Config) -> str:
    """Fixed when a message is queued, so a resend could be recognised by the receiver."""
    address = config.email.from_address or os.environ.get("CLIENTBOOK_MAIL_FROM", "")
    domain = address.rpartition("@")[2] or "clientbook.invalid"
    return make_msgid(domain=domain)


def build_message(settings: SmtpSettings, *, recipient_name: str, recipient_email: str,
                  subject: str, body: str, message_id: str, language: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = formataddr((recipient_name, recipient_email))
    message["Subject"] = subject
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"  # no out-of-office replies, please
    message.set_content(body)
    message["Content-Language"] = language  # after set_content, which drops Content-* headers
    return message
