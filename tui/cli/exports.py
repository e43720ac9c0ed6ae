"""``clientbook export``: customers, contacts or equipment as CSV or JSON; contacts as vCard.

To stdout, or with ``-o FILE`` to a file written beside it under a temporary
name and renamed into place, so a failed export never leaves half a file.
"""

from __future__ import annotations

import argparse
import os
import stat
import sys
import tempfile
from pathlib import Path

from tui.cli.output import EXIT_OK
from tui.i18n import _, ngettext

WHAT = ("customers", "contacts", "equipment")
FORMAT_CHOICES = ("csv", "json", "vcard")  # which fits which is the domain's rule (FORMATS)


def add_commands(commands) -> None:
    export = commands.add_parser(
        "export", help=_("write customers, contacts or equipment as CSV or JSON (contacts "
                         "also as vCard)"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=_(
            "Write every customer, contact or machine (or those --search finds) to stdout,\n"
            "or to FILE with -o. CSV files import back with `clientbook import`: export\n"
            "customers, contacts and equipment, then import them in that order. vCard is\n"
            "for contacts only.\n"
            "\n"
            "With -o, an existing FILE is replaced only with --force; the export is written\n"
            "under a temporary name beside FILE and renamed when complete, so a failed\n"
            "export leaves no half-written file. CSV files start with a byte-order mark so\n"
            "spreadsheets read accents.\n"
            "\n"
            "Exit status: 0 when exported, 1 when refused or failed, 2 for a usage error."))
    export.add_argument("what", choices=WHAT, metavar="WHAT",
                        help=_("customers, contacts or equipment"))
    export.add_argument("--format", required=True, choices=FORMAT_CHOICES, dest="fmt",
                        help=_("csv, json, or vcard (contacts only)"))
    export.add_argument("--search", default="", metavar="TEXT",
                        help=_("only what the search finds (for contacts: the contacts of the "
                               "customers it finds)"))
    export.add_argument("-o", "--output", metavar="FILE",
                        help=_("write to FILE instead of stdout"))
    export.add_argument("--force", action="store_true",
                        help=_("replace FILE if it exists"))


def run(ctx, args) -> int:
    from tui.domain.errors import ClientbookError, ValidationError
    from tui.domain.imports import FORMATS
    from tui.domain.imports.exporter import check_export

    try:
        check_export(ctx, args.what, args.fmt)  # refused before any file is touched
    except ValidationError:
        if args.fmt == "vcard":
            raise ClientbookError(_("--format vcard is for contacts only; {what} can be "
                                    "exported as {known}.").format(
                what=args.what, known=" or ".join(FORMATS[args.what]))) from None
        raise
    search = args.search.strip() or None
    if args.output in (None, "-"):
        return export_to_stdout(ctx, args.what, args.fmt, search)
    target = Path(args.output).expanduser()
    count = export_to_file(ctx, args.what, args.fmt, target, search, force=args.force)
    print(exported_message(args.what, count).format(n=count, file=target), file=sys.stderr)
    return EXIT_OK


def exported_message(what: str, count: int) -> str:
    if what == "customers":
        return ngettext("Exported {n} customer to {file}", "Exported {n} customers to {file}",
                        count)
    if what == "contacts":
        return ngettext("Exported {n} contact to {file}", "Exported {n} contacts to {file}",
                        count)
    return ngettext("Exported {n} machine to {file}", "Exported {n} machines to {file}", count)


def export_to_stdout(ctx, what: str, fmt: str, search: str | None) -> int:
    from tui.domain.imports import export

    # Files are UTF-8 whatever the terminal's locale; CSV and vCard keep their own CRLF.
    sys.stdout.reconfigure(encoding="utf-8", newline="")
    export(ctx, what, fmt, sys.stdout, search=search)
    sys.stdout.flush()
    return EXIT_OK


def export_to_file(ctx, what: str, fmt: str, target: Path, search: str | None, *,
                   force: bool) -> int:
    from tui.domain.errors import ClientbookError
    from tui.domain.imports import export_to_path

    if target.is_dir():
        raise ClientbookError(_("{file} is a folder; -o takes a file name.").format(file=target))
    if target.exists() and not force:
        raise ClientbookError(_("{file} exists already; add --force to replace it.").format(
            file=target))
    folder = target.parent
    if not folder.is_dir():
        raise ClientbookError(_("Cannot write {file}: the folder {folder} does not exist.")
                              .format(file=target, folder=folder))
    try:
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.",
                                             suffix=".part")
    except OSError as error:
        raise ClientbookError(_("Cannot write {file}: {reason}").format(
            file=target, reason=error.strerror or error)) from None
    os.close(handle)
    try:
        count = export_to_path(ctx, what, fmt, temporary, search=search)
        os.chmod(temporary, file_mode(target))
        os.replace(temporary, target)
    except OSError as error:
        _remove(temporary)
        raise ClientbookError(_("Cannot write {file}: {reason}").format(
            file=target, reason=error.strerror or error)) from None
    except BaseException:
        _remove(temporary)
        raise
    return count


def file_mode(target: Path) -> int:
    """The replaced file's permissions, or those a new file gets (mkstemp's are 0600)."""
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
