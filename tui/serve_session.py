"""One browser session of ``clientbook serve``: textual-serve starts this once per visitor.

    python -P -m tui.serve_session demo --dir DIR --config FILE [--customers N] [--lang L]
                                        [--unconfined] [--server-pid PID]
    python -P -m tui.serve_session real --db PATH --config FILE [--lang L] [--server-pid PID]

``demo``: the server made DIR (empty, 0700) for this visitor alone. The session builds a
fresh demo database in it (``DIR/<DIR name>.db``, with its documents beside it), makes the
visitor ("visitor") its administrator, confines itself to DIR (``tui.serve_sandbox``,
unless ``--unconfined``), runs the app and removes DIR when it ends: when the browser goes
away (textual-serve asks the app to quit), on SIGTERM or SIGHUP, or when the server dies
(the kernel sends SIGHUP, ``PR_SET_PDEATHSIG``). It never reads $CLIENTBOOK_DB, --db or
any other CLIENTBOOK_* variable: it deletes them from its environment before anything
else, so neither it nor anything it starts can find the real database that way; and the
confinement makes the kernel refuse any file outside DIR, the real database included.

``real``: the served database itself, acting as the login running the server (the
``--real-database`` mode of ``clientbook serve``, which warns about it).

Nothing may be printed on standard output before the app starts: textual-serve reads
it for the app's hand-shake. Errors go to standard error, exit status 1.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from tui.i18n import _

VISITOR = "visitor"  # the login a demo visitor acts as, administrator of their sandbox
EXIT_OK, EXIT_ERROR = 0, 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tui.serve_session")
    modes = parser.add_subparsers(dest="mode", required=True)
    demo = modes.add_parser("demo")
    demo.add_argument("--dir", required=True, type=Path)
    demo.add_argument("--customers", type=int, default=60)
    demo.add_argument("--unconfined", action="store_true")
    real = modes.add_parser("real")
    real.add_argument("--db", required=True)  # a path, or a postgresql:// URL
    for mode in (demo, real):
        mode.add_argument("--config", required=True, type=Path)
        mode.add_argument("--lang", default="en")
        mode.add_argument("--server-pid", type=int, default=0)
    return parser


def forget_clientbook_environment(environ=os.environ) -> None:
    """Drop every CLIENTBOOK_* variable: the database, SMTP, config and lock settings."""
    for name in [name for name in environ if name.startswith("CLIENTBOOK_")]:
        del environ[name]


def die_with_server(server_pid: int, signum: int) -> None:
    """Have the kernel send ``signum`` when the server dies; exit now if it already has."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signum, 0, 0, 0)  # PR_SET_PDEATHSIG
    if server_pid and os.getppid() != server_pid:
        raise SystemExit(EXIT_ERROR)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.mode == "demo":
        forget_clientbook_environment()
    from tui.i18n import set_language

    set_language(args.lang)
    try:
        if args.mode == "demo":
            return run_demo(args)
        return run_real(args)
    except Exception as error:  # noqa: BLE001 - shown in the server's log, one line
        from tui.domain.errors import ClientbookError

        text = str(error) if isinstance(error, ClientbookError) else repr(error)
        print(_("clientbook serve session: {message}").format(message=" ".join(text.split())),
              file=sys.stderr)
        return EXIT_ERROR


def run_demo(args) -> int:
    folder = args.dir.resolve()
    if not folder.is_dir():
        raise SystemExit(_("clientbook serve session: no folder {folder}").format(folder=folder))

    def vanish(signum, _frame) -> None:
        shutil.rmtree(folder, ignore_errors=True)
        os._exit(128 + signum)

    # Until the app runs (it turns SIGTERM into a clean exit of its own, after which the
    # `finally` below removes the folder), any of these removes the folder and exits.
    for signum in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, vanish)
    try:
        die_with_server(args.server_pid, signal.SIGHUP)
        os.chdir(folder)
        os.environ.update(HOME=str(folder), TMPDIR=str(folder), SQLITE_TMPDIR=str(folder))
        tempfile.tempdir = str(folder)
        ctx = build_demo(folder, args.config, args.customers)
        if not args.unconfined:
            from tui.domain.mail import templates_dir
            from tui.serve_sandbox import confine, default_readable

            confine(folder, default_readable([templates_dir(ctx.config)]))
        return run_app(ctx)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def build_demo(folder: Path, config_path: Path, customers: int):
    """A fresh database in ``folder``, filled with the demo data; the visitor its admin."""
    from tui.domain.config import load_config
    from tui.domain.context import Context
    from tui.domain.database import open_database
    from tui.domain.demo import populate
    from tui.domain.services.users import register_first_user, resolve_actor

    config = load_config(config_path)
    db = open_database(folder / f"{folder.name}.db", create=True)
    register_first_user(db, config, VISITOR)
    ctx = Context(db, config, resolve_actor(config, VISITOR))
    populate(ctx, customers=max(1, customers))
    return ctx


def run_real(args) -> int:
    from tui.cli import open_context
    from tui.domain.config import load_config

    die_with_server(args.server_pid, signal.SIGTERM)
    return run_app(open_context(load_config(args.config), args.db))


def run_app(ctx) -> int:
    from tui.app import ClientbookApp

    app = ClientbookApp(ctx)
    try:
        app.run()
    finally:
        ctx.db.close()
    return EXIT_OK if not app.return_code else EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover - run by textual-serve
    sys.exit(main())
