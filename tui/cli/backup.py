"""``clientbook backup FILE`` and ``clientbook restore FILE`` (see tui/domain/backup.py)."""

from __future__ import annotations

import json
import sys

from tui.cli.output import EXIT_ERROR, EXIT_OK, TerminalProgress, print_table
from tui.i18n import _, ngettext


def add_commands(commands) -> None:
    backup = commands.add_parser("backup", help=_("copy the database and its files to FILE"),
                                 description=_(
        "Copy the database to FILE with SQLite's online backup (safe while others are "
        "working) and its document files to the folder FILE.files/. The copy is checked with "
        "PRAGMA integrity_check before it replaces anything; FILE is itself a Clientbook "
        "database (clientbook --db FILE opens it). Needs the data.export permission."))
    backup.add_argument("file", metavar="FILE", help=_("the backup file to write"))
    backup.add_argument("--force", action="store_true",
                        help=_("replace FILE and FILE.files/ if they exist"))
    backup.add_argument("--json", action="store_true", help=_("print JSON for scripts"))
    restore = commands.add_parser("restore", help=_("replace the database with a backup"),
                                  description=_(
        "Replace everything in the database with the backup FILE (and the document files of "
        "FILE.files/). Administrators only. The current database is first copied to "
        "<db>.before-restore-<date>.bak beside it. A backup from an older Clientbook is "
        "upgraded; one from a newer Clientbook is refused. Other sessions see the restored "
        "data at once; a record they had open may then be refused as changed by someone "
        "else."))
    restore.add_argument("file", metavar="FILE", help=_("a file written by clientbook backup"))
    restore.add_argument("--yes", action="store_true",
                         help=_("do not ask for confirmation (needed when not at a terminal)"))
    restore.add_argument("--allow-missing-files", action="store_true",
                         help=_("restore even if some documents' files cannot be found"))


def run(ctx, args) -> int:
    if args.command == "backup":
        return command_backup(ctx, args)
    return command_restore(ctx, args)


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError(size)  # pragma: no cover


def count_labels() -> dict[str, str]:
    return {"customers": _("Customers"), "contacts": _("Contacts"), "machines": _("Machines"),
            "documents": _("Documents"), "estimates": _("Estimates"), "projects": _("Projects"),
            "users": _("Users"), "audit_events": _("Audit events")}


def command_backup(ctx, args) -> int:
    from tui.domain.backup import backup_database

    progress = TerminalProgress()

    def copied(count: int) -> None:
        progress.update(ngettext("{count} file copied", "{count} files copied", count).format(
            count=count))

    try:
        report = backup_database(ctx, args.file, force=args.force, progress=copied)
    finally:
        progress.clear()
    if args.json:
        print(json.dumps({"file": str(report.path), "files_dir": str(report.files_dir),
                          "size": report.size, "schema": report.schema, "counts": report.counts,
                          "files": report.files, "files_size": report.files_size,
                          "missing_files": list(report.missing_files)}, indent=2))
    else:
        print(_("Backed up {db} to {file}: {size}, schema {schema}, integrity check ok.").format(
            db=ctx.db.label, file=report.path, size=human_size(report.size),
            schema=report.schema))
        print(ngettext("{count} document file ({size}) in {folder}",
                       "{count} document files ({size}) in {folder}", report.files).format(
            count=report.files, size=human_size(report.files_size), folder=report.files_dir))
        labels = count_labels()
        print_table([_("Records"), _("Count")],
                    [[labels[key], str(value)] for key, value in report.counts.items()])
    if report.missing_files:
        print(ngettext("clientbook: warning: {count} document has no file in the store: {list}",
                       "clientbook: warning: {count} documents have no file in the store: {list}",
                       len(report.missing_files)).format(
            count=len(report.missing_files), list=", ".join(report.missing_files[:5])),
            file=sys.stderr)
    return EXIT_OK


def confirm(question: str) -> bool:
    try:
        answer = input(question)
    except EOFError:
        return False
    return answer.strip().lower() in {"y", "yes", _("y"), _("yes")}


def command_restore(ctx, args) -> int:
    from tui.domain.backup import MissingFiles, check_backup, live_counts, refuse_missing_files
    from tui.domain.backup import restore_database
    from tui.domain.errors import ClientbookError
    from tui.domain.locale_format import format_datetime, format_number

    info = check_backup(ctx, args.file)
    try:
        refuse_missing_files(info, args.allow_missing_files)
    except MissingFiles as error:
        raise ClientbookError(_("{problem} Restore anyway with --allow-missing-files: those "
                                "documents would have no file.").format(problem=error)) from None
    if not args.yes:
        if not sys.stdin.isatty():
            raise ClientbookError(_("restore replaces the whole database; not at a terminal, "
                                    "confirm with --yes. Nothing was restored."))
        now = live_counts(ctx)
        labels = count_labels()
        print(_("Restore {file} (saved {moment}, schema {schema}) into {db}?").format(
            file=info.path, moment=format_datetime(info.modified), schema=info.schema,
            db=ctx.db.label))
        print_table([_("Records"), _("Now"), _("After the restore")],
                    [[labels[key], format_number(now[key]), format_number(info.counts[key])]
                     for key in labels])
        print(_("Everything changed since the backup will be lost (a copy of the database as it "
                "is now is kept beside it). Other sessions will see the restored data; a record "
                "they have open may be refused as changed by someone else."))
        if not confirm(_("Restore? [y/N] ")):
            print(_("clientbook: nothing was restored."), file=sys.stderr)
            return EXIT_ERROR
    report = restore_database(ctx, info.path, allow_missing_files=args.allow_missing_files)
    print(_("Restored {file} into {db}.").format(file=report.source, db=ctx.db.label))
    if report.migrated_from is not None:
        print(_("The backup was upgraded from schema {old} to this Clientbook's.").format(
            old=report.migrated_from))
    print(_("The database as it was before is kept in {path}.").format(path=report.safety_copy))
    if report.files_added:
        print(ngettext("{count} document file added to the store.",
                       "{count} document files added to the store.", report.files_added).format(
            count=report.files_added))
    labels = count_labels()
    print_table([_("Records"), _("Before"), _("Now")],
                [[labels[key], str(report.before[key]), str(report.after[key])]
                 for key in labels])
    return EXIT_OK

