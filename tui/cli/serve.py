"""``clientbook serve``: the app in a web browser (textual-serve), one process per visitor.

``--demo``: every browser session gets a private demo database, made fresh in a folder of
its own and deleted when the session ends; the real database is never opened, its path
never handed to a session, and (with Landlock) the kernel keeps each session inside its
folder. ``--real-database``: the database chosen as for every command (--db,
$CLIENTBOOK_DB, the default), served as the login running the server; a warning says
that anyone who can reach the port acts as that login. Both bind 127.0.0.1 unless
``--host`` says otherwise. One of the two flags is required (usage error otherwise).
"""

from __future__ import annotations

import argparse
import ipaddress
import socket
import sys
from pathlib import Path

from tui.cli.output import EXIT_OK, positive
from tui.i18n import _

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEMO_CUSTOMERS = 60
MAX_SESSIONS = 20


def port_number(text: str) -> int:
    """argparse type: a TCP port, 1 to 65535."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(
            _("{value} is not a port number (1 to 65535)").format(value=text))
    return value


def host_name(text: str) -> str:
    """argparse type: an IP address or a host name, nothing that could not be one."""
    value = text.strip()
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
    labels = value.rstrip(".").split(".")
    if not value or len(value) > 253 or not all(
            label and len(label) <= 63 and label.replace("-", "").isalnum()
            and label.isascii() and not label.startswith("-") and not label.endswith("-")
            for label in labels):
        raise argparse.ArgumentTypeError(
            _("{value!r} is not a host name or an IP address").format(value=text))
    return value


def add_commands(commands) -> None:
    serve = commands.add_parser(
        "serve", help=_("serve the app in a web browser (the demo, or the real database)"),
        description=_("Serve Clientbook in a web browser. --demo gives every visitor a "
                      "private demo database, deleted when the browser session ends; the "
                      "real database is never reachable from it. --real-database serves "
                      "the database itself: anyone who can reach the port acts as you."))
    mode = serve.add_mutually_exclusive_group(required=True)
    mode.add_argument("--demo", action="store_true",
                      help=_("a fresh, private demo database per visitor"))
    mode.add_argument("--real-database", action="store_true",
                      help=_("serve the real database (--db, $CLIENTBOOK_DB or the default) "
                             "as the login running the server"))
    serve.add_argument("--host", type=host_name, default=DEFAULT_HOST,
                       help=_("address to listen on (default: {host}, this machine only)")
                       .format(host=DEFAULT_HOST))
    serve.add_argument("--port", type=port_number, default=DEFAULT_PORT,
                       help=_("port to listen on (default: {port})").format(port=DEFAULT_PORT))
    serve.add_argument("--public-url", metavar="URL",
                       help=_("the address browsers reach the server at, e.g. https://... "
                              "behind a TLS reverse proxy (default: the address each "
                              "browser asked for)"))
    serve.add_argument("--customers", type=positive, default=DEMO_CUSTOMERS, metavar="N",
                       help=_("demo customers per visitor (default: {n})").format(
                           n=DEMO_CUSTOMERS))
    serve.add_argument("--max-sessions", type=positive, default=MAX_SESSIONS, metavar="N",
                       help=_("browser sessions at once (default: {n})").format(
                           n=MAX_SESSIONS))
    serve.add_argument("--unconfined", action="store_true",
                       help=_("serve the demo even where the kernel cannot confine a session "
                              "to its folder (no Landlock): visitors could then read and "
                              "write your files through the app's file dialogs"))


def run(config, args, environ) -> int:
    """Check everything that can be wrong before listening, then serve until Ctrl+C."""
    from tui.domain.config import resolve_config_path
    from tui.domain.errors import ClientbookError
    from tui.i18n import current_locale

    check_can_listen(args.host, args.port)
    config_path = resolve_config_path(args.config, environ).resolve()
    language = current_locale()
    if args.demo:
        if args.db is not None:
            raise ClientbookError(_("--db has no effect with serve --demo: a demo never "
                                    "opens a database of yours (use --real-database)."))
        make_command = demo_command_maker(config_path, args, language)
        title = _("Clientbook demo")
    else:
        database, label = checked_database(config, args, environ)
        make_command = real_command_maker(database, config_path, language)
        title = _("Clientbook")
        warn_real_database(label, args.host, args.port)
    from tui.serve import ClientbookServer

    server = ClientbookServer(make_command, host=args.host, port=args.port, title=title,
                              demo=args.demo, max_sessions=args.max_sessions,
                              public_url=args.public_url,
                              announce=lambda text: print(text, flush=True))
    try:
        server.serve()
    except OSError as error:
        raise ClientbookError(_("cannot serve on {host} port {port}: {reason}").format(
            host=args.host, port=args.port, reason=error.strerror or error)) from error
    return EXIT_OK


def demo_command_maker(config_path: Path, args, language: str):
    from tui.domain.errors import ClientbookError
    from tui.serve import demo_command
    from tui.serve_sandbox import available

    if not available() and not args.unconfined:
        raise ClientbookError(_(
            "this system cannot confine demo sessions (Linux Landlock is missing): a visitor "
            "could read and write your files through the app's file dialogs. Serve the demo "
            "on Linux 5.13 or newer, or accept the risk with --unconfined."))
    if args.unconfined:
        print(_("Warning: demo sessions are not confined; visitors can read and write files "
                "as {login} through the app's file dialogs.").format(login=_login()),
              file=sys.stderr)

    def make(folder: Path | None) -> str:
        assert folder is not None
        return demo_command(folder, config_path, customers=args.customers, lang=language,
                            unconfined=args.unconfined)

    return make


def real_command_maker(database: Path, config_path: Path, language: str):
    from tui.serve import real_command

    def make(_folder: Path | None) -> str:
        return real_command(database, config_path, lang=language)

    return make


def checked_database(config, args, environ) -> tuple[Path | str, str]:
    """The real database (a file's full path, or a postgresql:// URL) and how to name it
    (never with a password), opened once now so a wrong path or login fails before serving."""
    from tui.cli import database_path, open_context

    target, _is_default = database_path(args, environ)
    ctx = open_context(config, target)
    label = ctx.db.label
    ctx.db.close()
    return (target.resolve() if isinstance(target, Path) else target), label


def warn_real_database(database: str, host: str, port: int) -> None:
    from tui.serve import http_url

    print(_("Warning: serving the real database {path}. Anyone who can reach {url} uses it "
            "as {login}, with no password. Keep the default host 127.0.0.1 and reach it "
            "through an SSH tunnel, or put an authenticating proxy in front.").format(
                path=database, url=http_url(host, port), login=_login()),
          file=sys.stderr, flush=True)


def _login() -> str:
    from tui.domain.context import os_login

    return os_login()


def check_can_listen(host: str, port: int) -> None:
    """A host that does not resolve, or a port in use, as one clear sentence."""
    from tui.domain.errors import ClientbookError

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise ClientbookError(_("cannot serve on {host}: {reason}").format(
            host=host, reason=error.strerror)) from error
    family, kind, proto, _name, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            raise ClientbookError(_("cannot serve on {host} port {port}: {reason}").format(
                host=host, port=port, reason=error.strerror or error)) from error
