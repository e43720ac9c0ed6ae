"""``clientbook migrate-to URL [--db SOURCE]``: copy an SQLite database into an empty
PostgreSQL database (see tui/domain/migrate_to.py)."""

from __future__ import annotations

import json

from tui.cli.output import EXIT_OK, TerminalProgress, print_table
from tui.i18n import _, ngettext


def add_commands(commands) -> None:
    migrate = commands.add_parser(
        "migrate-to", help=_("copy the SQLite database into an empty PostgreSQL database"),
        description=_(
            "Copy everything in the SQLite database (--db, else $CLIENTBOOK_DB, else the "
            "default file) into the empty PostgreSQL database at URL, ids kept, in one "
            "transaction: either all of it is copied and checked, or nothing is written. The "
            "documents' files go to the PostgreSQL database's documents folder "
            "(documents_dir in the configuration, else $CLIENTBOOK_FILES). Put the password "
            "in ~/.pgpass or $PGPASSWORD, not in the URL. Administrators only."))
    migrate.add_argument("url", metavar="URL", help=_("postgresql://user@host/database"))
    migrate.add_argument("--db", dest="source", metavar="SOURCE",
                         help=_("the SQLite file to copy (default: the global --db, else "
                                "$CLIENTBOOK_DB, else the default file)"))
    migrate.add_argument("--json", action="store_true", help=_("print JSON for scripts"))


def run(config, args, environ) -> int:
    from pathlib import Path

    from tui.cli import database_path, open_context
    from tui.domain.database import is_database_url
    from tui.domain.errors import ClientbookError
    from tui.domain.migrate_to import migrate_to

    if args.source is not None:
        if not args.source.strip():
            raise ClientbookError(_("--db was given an empty path."))
        source = args.source.strip()
        source = source if is_database_url(source) else Path(source).expanduser()
    else:
        source, _default = database_path(args, environ)
    if is_database_url(source):
        raise ClientbookError(_("The source must be an SQLite file, not a URL: give --db the "
                                "file to copy."))
    if not is_database_url(args.url):
        raise ClientbookError(_("{url} is not a postgresql:// URL.").format(url=args.url))
    ctx = open_context(config, source)
    progress = TerminalProgress()

    def step(table: str, done: int, total: int) -> None:
        progress.update(_("{table}: {done} of {total} rows").format(
            table=table, done=done, total=total))

    try:
        report = migrate_to(ctx, args.url, progress=step)
    finally:
        progress.clear()
        ctx.db.close()
    if args.json:
        print(json.dumps({"source": report.source, "target": report.target,
                          "counts": report.counts, "sequences": report.sequences,
                          "files": report.files,
                          "missing_files": list(report.missing_files)}, indent=2))
        return EXIT_OK
    print_table([_("Table"), _("Rows")],
                [[table, str(count)] for table, count in report.counts.items()], wrap_column=0)
    print(_("Copied {source} into {target}: {rows} rows, {files}.").format(
        source=report.source, target=report.target, rows=sum(report.counts.values()),
        files=ngettext("{count} document file", "{count} document files", report.files).format(
            count=report.files)))
    if report.missing_files:
        print(ngettext("Warning: {count} document's file was not in the source's store.",
                       "Warning: {count} documents' files were not in the source's store.",
                       len(report.missing_files)).format(count=len(report.missing_files)))
    return EXIT_OK
