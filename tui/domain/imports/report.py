"""What an import reports: counts per kind of record, rejected rows, progress, the error file.

``ImportReport.summary()`` gives the lines a CLI prints and a TUI shows at the
end; ``ImportProgress`` is what a progress callback receives after each batch.
The error file (``ErrorFile``) holds every rejected row: ``error_line``,
``error_field`` (the file's column), ``error_message``, then the row's own
cells, so it can be corrected and imported again.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

from tui.domain.imports.batches import ENTITIES, EntityCounts, new_counts
from tui.domain.imports.mapping import MappingPreview, field_label
from tui.domain.imports.prepare import Prepared
from tui.domain.imports.reading import ImportFileError
from tui.i18n import _, ngettext

KEPT_ERRORS = 200  # rejected rows kept in the report; all of them go to the error file


@dataclass(frozen=True)
class RowError:
    line: int
    field: str  # the file's column(s) at fault, or the field's name when no column holds it
    message: str


@dataclass
class ImportReport:
    kind: str
    file_name: str
    dry_run: bool
    job_id: int | None = None
    status: str = "running"  # done / interrupted
    rows: int = 0  # data rows read by this run
    rejected: int = 0
    counts: dict[str, EntityCounts] = field(default_factory=new_counts)
    errors: list[RowError] = field(default_factory=list)  # the first KEPT_ERRORS
    error_file: Path | None = None
    resumed_after_line: int = 0  # > 0: a resumed job; rows up to this line were done before
    last_line: int = 0
    total_lines: int = 0
    seconds: float = 0.0

    def total(self, what: str) -> int:
        return sum(getattr(c, what) for c in self.counts.values())

    @property
    def created(self) -> int:
        return self.total("created")

    @property
    def updated(self) -> int:
        return self.total("updated")

    @property
    def skipped(self) -> int:
        """Matched and left alone: on_match "skip", nothing new, or a repeated row."""
        return self.total("skipped") + self.total("unchanged")

    def counts_dict(self) -> dict:
        return {entity: c.as_dict() for entity, c in self.counts.items() if c}

    def summary(self) -> list[str]:
        """Lines for a person: what happened to each kind of record, and to the bad rows."""
        lines = []
        if self.dry_run:
            lines.append(_("Dry run: nothing was changed. The import would do this:"))
        for entity in ENTITIES:
            counts = self.counts[entity]
            if not counts:
                continue
            lines.append(_("{entity}: {created} created, {updated} updated, {skipped} skipped "
                           "({unchanged} unchanged)").format(
                entity=ENTITY_LABELS[entity](), created=counts.created, updated=counts.updated,
                skipped=counts.skipped + counts.unchanged, unchanged=counts.unchanged))
        lines.append(ngettext("{n} row rejected", "{n} rows rejected", self.rejected)
                     .format(n=self.rejected)
                     + (_(" (see {file})").format(file=self.error_file)
                        if self.rejected and self.error_file else ""))
        if self.status == "interrupted" and self.dry_run:
            lines.append(_("Interrupted after line {line}: the rows after it were not "
                           "checked.").format(line=self.last_line))
        elif self.status == "interrupted":
            lines.append(_("Interrupted after line {line}: import the same file again to "
                           "finish the job.").format(line=self.last_line))
        return lines


ENTITY_LABELS = {"customer": lambda: _("Customers"), "contact": lambda: _("Contacts"),
                 "group": lambda: _("Groups"), "equipment": lambda: _("Machines"),
                 "assignment": lambda: _("Assignments")}


@dataclass(frozen=True)
class ImportProgress:
    line: int  # the file line reached (last row of the committed batch)
    total_lines: int
    rows: int  # rows read so far by this run
    report: ImportReport

    @property
    def fraction(self) -> float:
        return min(1.0, self.line / self.total_lines) if self.total_lines else 1.0


def default_errors_path(source: Path) -> Path:
    return source.with_name(source.stem + ".errors.csv")


class ErrorFile:
    """Rejected rows, written as they are found (after their batch), created on the first."""

    def __init__(self, path: Path, headers: tuple[str, ...], preview: MappingPreview,
                 append: bool):
        self.path, self.headers, self.preview = path, headers, preview
        self.append = append and path.exists()
        self.handle = None
        self.writer = None
        self.count = 0

    def column(self, field_name: str) -> str:
        return self.preview.header_of(field_name) or field_label(field_name) or field_name

    def write(self, row: Prepared, errors: dict[str, str]) -> RowError:
        columns = [self.column(f) for f in errors]
        message = " | ".join(f"{c}: {m}" for c, m in zip(columns, errors.values()))
        if self.writer is None:
            try:
                self.handle = self.path.open("a" if self.append else "w", encoding="utf-8",
                                             newline="")
            except OSError as error:
                raise ImportFileError(_("Cannot write the error file {path}: {reason}").format(
                    path=self.path, reason=error.strerror or error)) from None
            self.writer = csv.writer(self.handle)
            if not self.append:
                self.writer.writerow(["error_line", "error_field", "error_message",
                                      *self.headers])
        self.writer.writerow([row.line, " | ".join(columns), message, *row.values])
        self.count += 1
        return RowError(row.line, " | ".join(columns), message)

    def check(self, source: Path, database: Path | None) -> None:
        """Refuse, before the first row, an error file that could not or must not be written."""
        check_error_path(self.path, source, database)
        target = self.path if self.path.exists() else self.path.parent
        if self.path.is_dir() or not os.access(target, os.W_OK):
            raise ImportFileError(_("Cannot write the error file {path}: give another path "
                                    "for it, or make its folder writable.").format(
                path=self.path))

    def flush(self) -> None:
        if self.handle is not None:
            self.handle.flush()

    def close(self, *, keep_empty_old: bool) -> None:
        if self.handle is not None:
            self.handle.close()
        elif not keep_empty_old and self.path.exists() and _is_error_file(self.path):
            self.path.unlink()  # this run had no errors: an older error file would mislead


def check_error_path(path: Path, source: Path, database: Path | None) -> None:
    """Refuse an error file whose writing would destroy something: the file being imported,
    the database, or an existing file that is not an import's error file. Call it before
    showing a plan; ``run_import`` calls it again before reading a row."""
    if not path.exists():
        return
    for other, message in (
            (source, _("The error file {path} is the file being imported; give another path "
                       "for the rejected rows.")),
            (database, _("The error file {path} is the database; give another path for the "
                         "rejected rows."))):
        if other is not None and other.exists() and os.path.samefile(path, other):
            raise ImportFileError(message.format(path=path))
    if path.is_file() and not _is_error_file(path):
        raise ImportFileError(_("The error file {path} exists and is not an error file of an "
                                "import; give another path (or remove it).").format(path=path))


def _is_error_file(path: Path) -> bool:
    try:
        with path.open("r", encoding="utf-8", newline="") as handle:
            return handle.readline().startswith("error_line,")
    except (OSError, UnicodeDecodeError):
        return False
