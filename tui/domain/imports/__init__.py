"""Bulk import (CSV) and export (CSV, JSON, vCard): the API the CLI and the TUI call.

Import, step by step (each step is what a screen or a command shows):

1. ``check_permissions(ctx, kind)`` -- refuse early a role that may not import.
2. ``source = open_csv(path)`` -- encoding, delimiter, headers, line count
   (``ImportFileError`` when the file cannot be read).
3. ``preview = preview_mapping(kind, source.headers, parse_mapping(["Société=name"]))``
   -- which column feeds which field, which are ignored, and ``preview.problems``
   (``MappingError`` for an unreadable ``--map``). Show ``preview.describe()``;
   ``fields_for(kind)`` lists (field, label) pairs for a mapping step to offer.
4. ``report = run_import(ctx, source, preview, ImportOptions(on_match="skip",
   dry_run=False), progress=callback)`` -- batches, job, error file; a progress
   callback may raise ``ImportCancelled`` to stop after the current batch.
   Show ``report.summary()``; ``report.job_id`` is what ``undo_import`` takes.
   ``import_file(ctx, kind, path, mapping, options, progress)`` does 2-4 at once.
5. ``undo_import(ctx, job_id)`` -- ``UndoRefused`` names the records changed since.
   ``list_jobs(ctx)`` / ``get_job(ctx, id)`` show past jobs.

Export: ``export(ctx, "customers" | "contacts" | "equipment", "csv" | "json" |
"vcard", stream, search=None)`` or ``export_to_path(...)``; ``FORMATS`` lists
what each can be written as, ``default_file_name(what, fmt)`` a file name.

Modules: reading (the file), mapping (headers -> fields), values (messy cells),
prepare (validation with the services' own rules), writer (matching, batches),
importer (the run), undo, exporter, searchindex (the search index during a batch).
"""

from tui.domain.imports.exporter import (
    FORMATS,
    default_file_name,
    export,
    export_to_path,
    guard_cell,
)
from tui.domain.imports.importer import (
    ImportCancelled,
    ImportOptions,
    ImportProgress,
    ImportReport,
    MappingProblem,
    check_permissions,
    get_job,
    import_file,
    list_jobs,
    plan_import,
    required_permissions,
    run_import,
)
from tui.domain.imports.mapping import (
    FIELDS,
    KINDS,
    MappingError,
    MappingPreview,
    field_label,
    fields_for,
    parse_mapping,
    preview_mapping,
)
from tui.domain.imports.reading import CsvFile, ImportFileError, open_csv
from tui.domain.imports.report import RowError, check_error_path
from tui.domain.imports.undo import UndoRefused, UndoReport, undo_import

__all__ = [
    "FIELDS", "FORMATS", "KINDS", "CsvFile", "ImportCancelled", "ImportFileError",
    "ImportOptions", "ImportProgress", "ImportReport", "MappingError", "MappingPreview",
    "MappingProblem", "RowError", "UndoRefused", "check_error_path", "UndoReport", "check_permissions",
    "default_file_name", "export", "export_to_path", "field_label", "fields_for", "get_job", "guard_cell", "import_file",
    "list_jobs", "open_csv", "parse_mapping", "plan_import", "preview_mapping",
    "required_permissions", "run_import", "undo_import",
]
