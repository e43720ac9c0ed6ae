"""The ``clientbook`` command: scripting access to the same services the TUI uses.

Exit codes: 0 ok, 1 error (one line on stderr), 2 usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import traceback
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from tui.cli import (audit, backup, estimates, events, exports, imports, migrate, notify, reports,
                     serve)
from tui.cli.output import EXIT_ERROR, EXIT_OK, EXIT_USAGE, positive, print_table
from tui.i18n import N_, LanguageError, _, choose_locale, current_language, set_language

__all__ = ["EXIT_ERROR", "EXIT_OK", "EXIT_USAGE", "main", "open_context", "positive",
           "print_table"]


def default_data_dir() -> Path:
    from platformdirs import user_data_path

    return user_data_path("clientbook", appauthor=False)


def asked_language(argv: Sequence[str]) -> str | None:
    """--lang, read before argparse so that its own help and errors are in that language."""
    for index, word in enumerate(argv):
        if word == "--":
            break
        if word == "--lang" and index + 1 < len(argv):
            return argv[index + 1]
        if word.startswith("--lang="):
            return word.partition("=")[2]
    return None


# argparse writes these itself (usage, help headings, usage errors); it looks them up through
# its module's ``_``, which main() points at our catalogs.
ARGPARSE_WORDS = (
    N_("usage: "), N_("positional arguments"), N_("options"), N_("show this help message and exit"),
    N_("the following arguments are required: %s"), N_("unrecognized arguments: %s"),
    N_("invalid choice: %(value)r (choose from %(choices)s)"), N_("expected one argument"),
    N_("invalid %(type)s value: %(value)r"), N_("%(prog)s: error: %(message)s\n"),
    N_("argument %(argument_name)s: %(message)s"), N_("not allowed with argument %s"),
    N_("ambiguous option: %(option)s could match %(matches)s"),
    N_("one of the arguments %s is required"), N_("expected at most one argument"),
    N_("expected at least one argument"),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clientbook",
        description=_("Customers, contacts, equipment and admin documents, from the keyboard."),
    )
    parser.add_argument("--db", metavar="PATH|URL",
                        help=_("database file, or a postgresql:// URL (default: $CLIENTBOOK_DB, "
                               "else {path})").format(path=default_data_dir() / "clientbook.db"))
    parser.add_argument("--config", metavar="FILE",
                        help=_("configuration YAML (default: $CLIENTBOOK_CONFIG, else the shipped one)"))
    parser.add_argument("--lang", metavar="LANG", help=_("language of messages (en, fr, da)"))
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    commands.add_parser("init", help=_("create the database; you become its administrator"))
    demo = commands.add_parser("demo", help=_("create or reuse a demo database and open it"))
    demo.add_argument("--customers", type=int, default=300, help=_("how many demo customers"))

    users = commands.add_parser("users", help=_("manage who may use the database"))
    users_commands = users.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = users_commands.add_parser("add", help=_("register a login with a role"))
    add.add_argument("login")
    add.add_argument("--role", required=True)
    add.add_argument("--name", default="", help=_("display name"))
    users_list = users_commands.add_parser("list", help=_("list users"))
    users_list.add_argument("--json", action="store_true")
    set_role = users_commands.add_parser("set-role", help=_("change a user's role"))
    set_role.add_argument("login")
    set_role.add_argument("role")
    for name, text in (("disable", _("stop a login from using the database")),
                       ("enable", _("let a disabled login in again"))):
        users_commands.add_parser(name, help=text).add_argument("login")

    customers = commands.add_parser("customers", help=_("list, search and restore customers"))
    customers_commands = customers.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = customers_commands.add_parser("list", help=_("list customers, optionally searched"))
    listing.add_argument("--search", default="", metavar="TEXT",
                         help=_("words matched against every field"))
    listing.add_argument("--segment")
    listing.add_argument("--group")
    listing.add_argument("--limit", type=int, default=100)
    listing.add_argument("--offset", type=int, default=0)
    listing.add_argument("--json", action="store_true", help=_("print JSON for scripts"))
    audit.add_restore_command(customers_commands)
    events.add_commands(commands)
    notify.add_commands(commands)
    imports.add_commands(commands)
    exports.add_commands(commands)
    estimates.add_commands(commands)  # estimates and projects
    reports.add_commands(commands)
    audit.add_commands(commands)
    backup.add_commands(commands)  # backup and restore
    serve.add_commands(commands)  # the browser demo; dispatched before any database opens
    migrate.add_commands(commands)  # migrate-to; opens its source itself
    return parser


def database_path(args, environ) -> tuple[Path | str, bool]:
    """The database to use (a file's path, or a postgresql:// URL as a string), and whether it
    is the default one (whose folder we may create)."""
    chosen = explicit_database(args, environ)
    if chosen:
        return chosen, False
    return default_data_dir() / "clientbook.db", True


def explicit_database(args, environ) -> Path | str | None:
    """--db, else $CLIENTBOOK_DB; an empty --db is a mistake, never "the default one".
    A postgresql:// (or postgres://) URL stays a string."""
    from tui.domain.database import is_database_url
    from tui.domain.errors import DatabaseError

    if args.db is not None:
        if not args.db.strip():
            raise DatabaseError(_("--db was given an empty path."))
        chosen = args.db
    else:
        chosen = environ.get("CLIENTBOOK_DB", "").strip()
        if not chosen:
            return None
    if is_database_url(chosen):
        return chosen.strip()
    return Path(chosen).expanduser()


def main(argv: Sequence[str] | None = None) -> int:
    environ = os.environ
    argv = sys.argv[1:] if argv is None else list(argv)
    try:  # the configuration file may name a language too: chosen again once it is read
        set_language(choose_locale(asked_language(argv), environ))
    except LanguageError as error:
        print(f"clientbook: {error}", file=sys.stderr)
        return EXIT_USAGE
    argparse._ = _  # argparse's own words (ARGPARSE_WORDS) in the chosen language
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return run(args, environ)
    except KeyboardInterrupt:
        return EXIT_ERROR
    except BrokenPipeError:  # `clientbook ... | head`: the reader has seen enough
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the exit-time flush does not fail again
        return EXIT_ERROR
    except Exception as error:  # noqa: BLE001 - the last line of defence for users
        from tui.domain.errors import ClientbookError

        if isinstance(error, ClientbookError):
            message = str(error)
        else:
            log = Path(tempfile.gettempdir()) / "clientbook-error.log"
            log.write_text(traceback.format_exc(), encoding="utf-8")
            message = _("unexpected error: {error} (details in {log})").format(error=error, log=log)
        print(f"clientbook: {' '.join(message.split())}", file=sys.stderr)
        return EXIT_ERROR


def run(args, environ) -> int:
    from tui.domain.config import load_config, resolve_config_path

    config = load_config(resolve_config_path(args.config, environ))
    if config.interface_language:
        set_language(choose_locale(args.lang, environ, config.interface_language))
    if args.command == "serve":
        return serve.run(config, args, environ)
    if args.command == "migrate-to":
        return migrate.run(config, args, environ)
    path, is_default = database_path(args, environ)
    if args.command == "init":
        return command_init(config, path, is_default)
    if args.command == "demo":
        return command_demo(config, args, environ)
    ctx = open_context(config, path)
    if args.command is None:
        return open_app(ctx)
    if args.command == "users":
        return command_users(ctx, args)
    if args.command == "customers":
        if args.action == "restore":
            return audit.run_restore(ctx, args)
        return command_customers(ctx, args)
    if args.command == "audit":
        return audit.run(ctx, args)
    if args.command == "events":
        return events.run(ctx, args)
    if args.command == "notify":
        return notify.run(ctx, args, environ)
    if args.command == "import":
        return imports.run(ctx, args)
    if args.command == "export":
        return exports.run(ctx, args)
    if args.command in ("estimates", "projects"):
        return estimates.run(ctx, args)
    if args.command in ("backup", "restore"):
        return backup.run(ctx, args)
    if args.command == "report":
        return reports.run(ctx, args)
    raise AssertionError(args.command)


def open_context(config, path: Path, *, create: bool = False):
    from tui.domain.context import Context, os_login
    from tui.domain.database import open_database
    from tui.domain.services.users import register_first_user, resolve_actor

    db = open_database(path, create=create)
    login = os_login()
    if create:
        register_first_user(db, config, login)
    return Context(db, config, resolve_actor(config, login))


def open_app(ctx) -> int:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        print(_("clientbook: the app needs a terminal; for scripts use the commands "
                "(see `clientbook --help`)."), file=sys.stderr)
        return EXIT_ERROR
    from tui.app import ClientbookApp

    app = ClientbookApp(ctx)
    app.run()
    return EXIT_OK if not app.return_code else EXIT_ERROR


def command_init(config, path: Path | str, is_default: bool) -> int:
    from tui.domain.database import is_absent, is_database_url
    from tui.domain.errors import DatabaseError

    if is_database_url(path):
        from tui.domain.postgres import holds_tables, label_for

        if holds_tables(path):
            raise DatabaseError(_("{db} is not empty: a Clientbook database already exists "
                                  "there, or something else does.").format(db=label_for(path)))
        ctx = open_context(config, path, create=True)
        print(_("Created the Clientbook schema in {db}; {login} is its administrator.").format(
            db=ctx.db.label, login=ctx.actor.login))
        return EXIT_OK
    if path.exists() and not path.is_dir() and not is_absent(path):
        raise DatabaseError(_("A database already exists at {path}.").format(path=path))
    if is_default:
        path.parent.mkdir(parents=True, exist_ok=True)
    ctx = open_context(config, path, create=True)
    print(_("Created {path}; {login} is its administrator.").format(
        path=path, login=ctx.actor.login))
    return EXIT_OK


def command_demo(config, args, environ) -> int:
    """Create the demo database on first use, reuse it after, then open the app on it."""
    from tui.domain.demo import populate

    from tui.domain.database import is_absent

    from tui.domain.database import is_database_url
    from tui.domain.errors import DatabaseError

    chosen = explicit_database(args, environ)
    if is_database_url(chosen):
        raise DatabaseError(_("The demo makes its own SQLite file: give --db a file's path, not "
                              "a URL (or leave it out)."))
    path = chosen or default_data_dir() / "demo.db"
    if chosen is None:
        path.parent.mkdir(parents=True, exist_ok=True)
    fresh = is_absent(path)
    ctx = open_context(config, path, create=fresh)
    if fresh:
        counts = populate(ctx, customers=max(1, args.customers))
        print(_("Demo database created at {path}: {customers} customers, {contacts} contacts, "
                "{machines} machines, {documents} documents, {estimates} estimates, "
                "{projects} projects, {events} equipment events ({notifications} e-mails "
                "waiting in the outbox).").format(path=path, **counts))
    else:
        print(_("Reusing the demo database at {path}.").format(path=path))
    return open_app(ctx)


def command_users(ctx, args) -> int:
    from tui.domain.services import users

    if args.action == "add":
        user = users.add_user(ctx, args.login, args.role, args.name)
        print(_("Added {login} as {role}.").format(login=user.login, role=user.role))
    elif args.action == "list":
        rows = [{"login": u.login, "display_name": u.display_name, "role": u.role,
                 "active": u.active} for u in users.list_users(ctx)]
        if args.json:
            print(json.dumps(rows, ensure_ascii=False, indent=2))
        else:
            print_table([_("Login"), _("Name"), _("Role"), _("Active")],
                        [[r["login"], r["display_name"], r["role"],
                          _("yes") if r["active"] else _("no")] for r in rows])
    elif args.action == "set-role":
        user = users.set_role(ctx, args.login, args.role)
        print(_("{login} is now {role}.").format(login=user.login, role=user.role))
    elif args.action == "disable":
        users.disable_user(ctx, args.login)
        print(_("{login} is disabled.").format(login=args.login))
    elif args.action == "enable":
        users.enable_user(ctx, args.login)
        print(_("{login} is enabled.").format(login=args.login))
    return EXIT_OK


def command_customers(ctx, args) -> int:
    from tui.domain.locale_format import format_number
    from tui.domain.services.search import search_customers
    from tui.domain.validation import format_phone

    page = search_customers(ctx, args.search, segment=args.segment, group=args.group,
                            limit=args.limit, offset=args.offset)
    if args.json:
        print(json.dumps({"total": page.total, "offset": page.offset,
                          "customers": [asdict(row) for row in page.rows]},
                         ensure_ascii=False, indent=2))
        return EXIT_OK
    segments = ctx.config.segments
    print_table(
        ["#", _("Name"), _("Segment"), _("City"), _("Country"), _("Phone"), _("Contacts"),
         _("Machines")],
        [[str(r.id), r.name, segments[r.segment].label_for(current_language()) if r.segment in segments
         else r.segment,
          r.city, r.country or "", format_phone(r.phone, r.country), format_number(r.contacts),
          format_number(r.machines)] for r in page.rows],
    )
    print(_("{shown} of {total} customers").format(shown=format_number(len(page.rows)),
                                                   total=format_number(page.total)))
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
