"""``clientbook import``: customers, contacts or equipment from a CSV file; past jobs; undo.

The domain (``tui.domain.imports``) does the work; this module shows the plan
before anything is written, the progress while it runs, and turns Ctrl-C into
"stop after the batch in hand" (twice: stop at once, that batch rolled back).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path

from tui.cli.output import EXIT_ERROR, EXIT_OK, TerminalProgress, positive, print_table
from tui.i18n import _, ngettext

# Spelled out rather than imported: importing tui.domain.imports costs ~0.3 s, which
# every command would pay just to build the parser.
KINDS = ("customers", "contacts", "equipment")
SHOWN_ERRORS = 10  # rejected rows echoed on stderr; all of them are in the error file


class ImportParser(argparse.ArgumentParser):
    """A parser whose help lists the fields ``--map`` takes, read from the domain only when
    help is asked for (``kind`` is set on the customers / contacts / equipment parsers)."""

    kind: str | None = None

    def format_help(self) -> str:
        text = super().format_help()
        if self.kind is None:
            return text
        from tui.domain.imports import fields_for

        fields = fields_for(self.kind)
        width = max(len(key) for key, _label in fields)
        lines = [_("Fields of {kind} (what --map takes after the =):").format(kind=self.kind)]
        lines += [f"  {key:<{width}}  {label}" for key, label in fields]
        return text + "\n" + "\n".join(lines) + "\n"


def add_commands(commands) -> None:
    imports = commands.add_parser(
        "import", help=_("import customers, contacts or equipment from CSV; list and undo imports"))
    actions = imports.add_subparsers(dest="action", metavar="ACTION", required=True,
                                     parser_class=ImportParser)
    helps = {"customers": _("import customers (and their contacts, on the same rows)"),
             "contacts": _("import contacts of existing customers"),
             "equipment": _("import machines (and who holds them)")}
    for kind in KINDS:
        parser = actions.add_parser(
            kind, help=helps[kind], formatter_class=argparse.RawDescriptionHelpFormatter,
            description=_(
                "Import {kind} from a CSV file (UTF-8 or Windows-1252; comma, semicolon or\n"
                "tab). Columns are recognised by their headers, in English or French;\n"
                "--map names the field of a column the command does not recognise. The file\n"
                "and which column feeds which field are printed before anything is imported;\n"
                "a mapping that cannot work stops there.\n"
                "\n"
                "Rows that cannot be imported are skipped and written, with their line, column\n"
                "and the reason, to an error file beside FILE (crm.csv -> crm.errors.csv;\n"
                "or --errors PATH): correct that file and import it again. A row matching an existing record\n"
                "(external id, serial number, or name with phone or e-mail) is left alone, or\n"
                "updated with --on-match update; importing a file twice creates nothing twice.\n"
                "\n"
                "The rows are written in batches, one transaction each. Ctrl-C stops after the\n"
                "batch in progress; a second Ctrl-C stops at once and that batch is rolled\n"
                "back. Stopped or killed, the database holds whole batches only: run the same\n"
                "command again to finish the job. Every import is a job that\n"
                "`clientbook import undo JOB` can undo.\n"
                "\n"
                "Exit status: 0 when no row was rejected, 1 when some rows were rejected (in a\n"
                "dry run too), the import was interrupted or could not run, 2 for a usage\n"
                "error.").format(kind=kind))
        parser.kind = kind
        parser.add_argument("file", metavar="FILE", help=_("the CSV file"))
        parser.add_argument("--map", action="append", default=[], metavar="COLUMN=FIELD",
                            help=_('read the column COLUMN as FIELD, e.g. --map "Société=name"; '
                                   '"COLUMN=" ignores the column (repeatable)'))
        parser.add_argument("--dry-run", action="store_true",
                            help=_("read, check and count everything, change nothing (the "
                                   "error file is still written)"))
        parser.add_argument("--on-match", choices=("skip", "update"), default="skip",
                            help=_("a row matching an existing record: leave the record alone "
                                   "(skip, the default) or update it with the row's cells"))
        parser.add_argument("--errors", metavar="PATH",
                            help=_("where to write the rejected rows (default: beside FILE, "
                                   "crm.csv -> crm.errors.csv)"))
        parser.add_argument("--batch-size", type=positive, default=1000, metavar="N",
                            help=_("rows per transaction (default: 1000)"))
    jobs = actions.add_parser("jobs", help=_("list past imports, newest first"))
    jobs.add_argument("--limit", type=positive, default=20, metavar="N")
    jobs.add_argument("--json", action="store_true", help=_("print JSON for scripts"))
    undo = actions.add_parser(
        "undo", help=_("undo an import: remove what it created, put back what it updated"),
        description=_("Undo an import job: remove what it created and put back what it "
                      "updated, all or nothing. Refused, changing nothing, when someone changed "
                      "one of those records since; the message names them."))
    undo.add_argument("job", type=positive, metavar="JOB",
                      help=_("the job number, as `clientbook import jobs` shows it"))


def run(ctx, args) -> int:
    if args.action == "jobs":
        return command_import_jobs(ctx, args)
    if args.action == "undo":
        return command_import_undo(ctx, args)
    return command_import_file(ctx, args)


# ---------------------------------------------------------------- import FILE


def encoding_label(codec: str) -> str:
    return {"utf-8-sig": _("UTF-8 with byte-order mark"), "utf-8": _("UTF-8"),
            "cp1252": _("Windows-1252"), "latin-1": _("Latin-1")}.get(codec, codec)


def delimiter_label(delimiter: str) -> str:
    return {",": _("comma-separated"), ";": _("semicolon-separated"),
            "\t": _("tab-separated")}.get(delimiter, repr(delimiter))


def print_plan(source, preview) -> None:
    """The file's shape and every column's fate, before anything is read into the database."""
    print(ngettext("File: {file} ({encoding}, {delimiter}, {lines} line)",
                   "File: {file} ({encoding}, {delimiter}, {lines} lines)",
                   source.total_lines).format(
        file=source.path, encoding=encoding_label(source.encoding),
        delimiter=delimiter_label(source.delimiter), lines=source.total_lines))
    print(_("Columns:"))
    # describe(): one line per column, then the problems (raised as one error line instead).
    for line in preview.describe()[:len(preview.columns)]:
        print(f"  {line}")
    ignored = preview.ignored
    if ignored:
        print(ngettext("{n} column ignored: {columns}", "{n} columns ignored: {columns}",
                       len(ignored)).format(n=len(ignored), columns=", ".join(
                           header or "?" for header in ignored)))


class StopOnInterrupt:
    """Ctrl-C during an import: the first asks to stop after the batch in hand (the progress
    callback raises ImportCancelled once it is committed); the second stops at once
    (KeyboardInterrupt: the batch in hand is rolled back). The old handler comes back after."""

    def __init__(self, progress: TerminalProgress):
        self.progress = progress
        self.requested = False
        self.previous = None

    def __enter__(self) -> StopOnInterrupt:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
            self.previous = None

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        text = _("Stopping after the batch in progress; Ctrl-C again stops at once "
                 "(that batch is then rolled back).")
        # os.write, not print: the handler may run while print is writing to stderr.
        prefix = "\r\x1b[K" if self.progress.shown else ""
        os.write(sys.stderr.fileno(), (prefix + text + "\n").encode(
            sys.stderr.encoding or "utf-8", "replace"))


def command_import_file(ctx, args) -> int:
    from tui.domain.errors import ClientbookError
    from tui.domain.imports import (
        ImportCancelled,
        ImportOptions,
        check_permissions,
        open_csv,
        parse_mapping,
        preview_mapping,
        run_import,
    )

    kind = args.action
    check_permissions(ctx, kind, on_match=args.on_match)  # before the file is even opened
    explicit = parse_mapping(args.map)
    source = open_csv(args.file)
    preview = preview_mapping(kind, source.headers, explicit)
    check_permissions(ctx, kind, preview, args.on_match)  # contact columns, holders
    errors_path = checked_errors_path(args.errors, source.path, ctx) if args.errors else None
    print_plan(source, preview)
    if preview.problems:
        sys.stdout.flush()  # the plan first, then the reason it stops
        raise ClientbookError(" ".join(preview.problems) + " " + _(
            'Name a column with --map "Header=field" (clientbook import {kind} --help lists '
            'the fields).').format(kind=kind))
    options = ImportOptions(on_match=args.on_match, dry_run=args.dry_run,
                            errors_path=errors_path, batch_size=args.batch_size)
    sys.stdout.flush()
    progress = TerminalProgress()
    stop = StopOnInterrupt(progress)

    def on_batch(step) -> None:
        report = step.report
        progress.update(_("line {line} of {total} ({percent}%): {created} created, "
                          "{updated} updated, {rejected} rejected").format(
            line=step.line, total=step.total_lines, percent=int(step.fraction * 100),
            created=report.created, updated=report.updated, rejected=report.rejected))
        if stop.requested:
            raise ImportCancelled

    try:
        with stop:
            report = run_import(ctx, source, preview, options, progress=on_batch)
    except KeyboardInterrupt:
        progress.clear()
        if args.dry_run:
            print(_("Stopped at once; a dry run changes nothing."), file=sys.stderr)
        else:
            print(_("Stopped at once: the batch in progress was rolled back. Run the same "
                    "command again to finish the job."), file=sys.stderr)
        return EXIT_ERROR
    finally:
        progress.clear()
    print_rejected(source.path, report)
    if report.resumed_after_line:
        print(_("Resumed job {job} after line {line}.").format(
            job=report.job_id, line=report.resumed_after_line))
    for line in report.summary():
        print(line)
    if report.job_id is not None:
        print(_("Job {job} — undo with: clientbook import undo {job}").format(job=report.job_id))
    return EXIT_ERROR if report.rejected or report.status != "done" else EXIT_OK


def checked_errors_path(text: str, source: Path, ctx) -> Path:
    """--errors PATH, refused (before the plan is shown) when writing it would destroy
    something; the domain's check_error_path says what."""
    from tui.domain.imports import check_error_path

    path = Path(text).expanduser()
    check_error_path(path, source, ctx.db.file)  # None for a PostgreSQL database
    return path


def print_rejected(path: Path, report) -> None:
    """The first rejected rows as FILE:LINE: problem on stderr; the error file has them all."""
    shown = report.errors[:SHOWN_ERRORS]
    for error in shown:
        print(f"{path}:{error.line}: {' '.join(error.message.split())}", file=sys.stderr)
    more = report.rejected - len(shown)
    if shown and more > 0 and report.error_file:
        print(ngettext("... and {n} more rejected row in {file}",
                       "... and {n} more rejected rows in {file}", more).format(
            n=more, file=report.error_file), file=sys.stderr)


# ---------------------------------------------------------------- jobs and undo


def status_label(status: str) -> str:
    # A killed import stays "running" until the same file is imported again.
    return {"running": _("unfinished"), "done": _("done"), "interrupted": _("interrupted"),
            "undone": _("undone")}.get(status, status)


def command_import_jobs(ctx, args) -> int:
    from tui.domain.imports import list_jobs
    from tui.domain.locale_format import format_number
    from tui.domain.mail import format_time

    jobs = list_jobs(ctx, limit=args.limit)
    if args.json:  # for machines: ISO dates and plain numbers, whatever the locale
        def moment(value):
            return value.isoformat() + "Z" if value else None

        print(json.dumps([{
            "id": job.id, "kind": job.kind, "file": job.file_name, "status": job.status,
            "on_match": job.on_match, "started_at": moment(job.started_at),
            "started_by": job.started_by, "finished_at": moment(job.finished_at),
            "created": job.created, "updated": job.updated, "skipped": job.skipped,
            "rejected": job.rejected, "counts": job.counts, "last_line": job.last_line,
            "mapping": job.mapping, "error_file": job.error_file or None,
            "undone_at": moment(job.undone_at), "undone_by": job.undone_by,
        } for job in jobs], ensure_ascii=False, indent=2))
        return EXIT_OK
    print_table(["#", _("When"), _("Who"), _("Kind"), _("File"), _("Status"), _("Created"),
                 _("Updated"), _("Skipped"), _("Rejected")],
                [[str(job.id), format_time(job.started_at), job.started_by, job.kind,
                  Path(job.file_name).name, status_label(job.status), format_number(job.created),
                  format_number(job.updated), format_number(job.skipped),
                  format_number(job.rejected)] for job in jobs],
                wrap_column=4)
    return EXIT_OK


def counted(counts: dict[str, int]) -> str:
    """{"customer": 2, "group": 1} -> "2 customers, 1 group"."""
    words = {
        "customer": lambda n: ngettext("{n} customer", "{n} customers", n),
        "contact": lambda n: ngettext("{n} contact", "{n} contacts", n),
        "equipment": lambda n: ngettext("{n} machine", "{n} machines", n),
        "assignment": lambda n: ngettext("{n} assignment", "{n} assignments", n),
        "group": lambda n: ngettext("{n} group", "{n} groups", n),
    }
    return ", ".join(words[entity](n).format(n=n) if entity in words else f"{n} {entity}"
                     for entity, n in counts.items() if n)


def command_import_undo(ctx, args) -> int:
    from tui.domain.imports import undo_import

    report = undo_import(ctx, args.job)
    print(_("Import job {job} is undone.").format(job=report.job_id))
    if report.removed:
        print(_("Removed: {records}.").format(records=counted(report.removed)))
    if report.restored:
        print(_("Put back as they were before the import: {records}.").format(
            records=counted(report.restored)))
    if not report.removed and not report.restored:
        print(_("The import had created and changed nothing that is still there."))
    return EXIT_OK
