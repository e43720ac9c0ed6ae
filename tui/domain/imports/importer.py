"""Running a bulk import: permissions, the job record, batches, progress, the error file.

The flow a CLI or a TUI follows::

    source = open_csv(path)                                   # reading.py
    preview = preview_mapping("customers", source.headers,    # mapping.py
                              parse_mapping(["Société=name"]))
    show(preview.describe()); stop if not preview.ok
    report = run_import(ctx, source, preview,
                        ImportOptions(on_match="skip", dry_run=False),
                        progress=on_progress)                  # this module
    show(report.summary())

``import_file(ctx, kind, path, mapping)`` does the three steps in one call and
raises ``MappingProblem`` (carrying the preview) when the mapping is not usable.

- Permissions: ``data.import`` and the kind's create permission
  (customers: ``customer.create``, plus ``contact.edit`` when the file has contact
  columns and ``customer.edit`` with ``on_match="update"``; contacts:
  ``contact.edit``; equipment: ``equipment.edit``, plus ``equipment.assign``
  when a customer column assigns machines). Checked before reading a row.
- Batches: ``options.batch_size`` rows per transaction. The database only ever
  holds whole batches: Ctrl-C or a kill in the middle of one rolls it back.
- Progress: ``progress(ImportProgress)`` is called after each committed batch
  (from the thread running the import: a TUI worker posts it to the screen).
  Raising ``ImportCancelled`` from it stops the import cleanly after that batch
  (the report comes back with status "interrupted"); raising anything else,
  KeyboardInterrupt included, stops it too and propagates.
- Jobs: every real run is an ``ImportJob`` (file, kind, mapping, counts, who,
  when, status), and each record it created or updated an ``ImportItem``. An
  interrupted or killed job is resumed when the same user imports the same file
  (same bytes, kind, mapping and on_match) again: rows up to its last committed
  line are not read again, and the job completes. ``undo_import`` (undo.py) reverts a job.
- Audit: one audit event per job (action "import", entity "import_job"), written
  with the first batch and updated with the counts by every later batch, never
  one per row.
- Errors: rejected rows go to ``<input stem>.errors.csv`` beside the input (or
  ``options.errors_path``): ``error_line``, ``error_field`` (the file's column),
  ``error_message``, then the row's original cells, so the file can be corrected
  and imported again (the error columns are ignored on the way back in). It is
  written in a dry run too; a run without errors removes an earlier one.
- Dry run: everything is read, validated, matched and counted exactly as in a
  real run, and nothing is written to the database (no job either).
- Workers: validation is the main cost (tens of microseconds per phone number or
  e-mail address), so a large file is validated in worker processes while the
  main process writes; ``options.workers`` (None: automatic) sets how many.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from time import perf_counter

from tui.domain.config import load_config
from tui.domain.context import Context
from tui.domain.errors import ClientbookError, NotFound, ValidationError
from tui.domain.imports import searchindex
from tui.domain.imports.mapping import MappingPreview, parse_mapping, preview_mapping
from tui.domain.imports.prepare import Prepared, prepare
from tui.domain.imports.reading import CsvFile, open_csv
from tui.domain.imports.report import (
    KEPT_ERRORS,
    ErrorFile,
    ImportProgress,
    ImportReport,
    default_errors_path,
)
from tui.domain.imports.writer import BatchResult, EntityCounts, Writer
from tui.domain.models import AuditEvent, ImportJob, utcnow
from tui.domain.permissions import require
from tui.domain.services._base import audit, write
from tui.domain.validation import quoted
from tui.i18n import _, current_language, set_language

ON_MATCH = ("skip", "update")
KIND_PERMISSION = {"customers": "customer.create", "contacts": "contact.edit",
                   "equipment": "equipment.edit"}
PARALLEL_FROM_LINES = 20_000


class ImportCancelled(Exception):
    """Raise from a progress callback to stop after the batch just committed."""


class MappingProblem(ClientbookError):
    """The mapping cannot be used as it is; ``preview.problems`` says why."""

    def __init__(self, preview: MappingPreview):
        self.preview = preview
        super().__init__(" ".join(preview.problems))


@dataclass(frozen=True)
class ImportOptions:
    on_match: str = "skip"  # skip / update
    dry_run: bool = False
    errors_path: Path | None = None  # None: <input stem>.errors.csv beside the input
    batch_size: int = 1000
    workers: int | None = None  # validating processes; None: automatic, 0 or 1: none
    resume: bool = True  # finish an interrupted job of the same file
    fast_index: bool = True  # rebuild the search index once per batch (searchindex.py)


# ---------------------------------------------------------------- permissions


def required_permissions(kind: str, preview: MappingPreview | None = None,
                         on_match: str = "skip") -> list[str]:
    needed = ["data.import", KIND_PERMISSION[kind]]
    fields = preview.fields if preview is not None else {}
    if kind == "customers":
        if any(f.startswith("contact_") for f in fields):
            needed.append("contact.edit")
        if on_match == "update":
            needed.append("customer.edit")
    if kind == "equipment" and fields.keys() & {"customer", "customer_external_id"}:
        needed.append("equipment.assign")
    return list(dict.fromkeys(needed))


def check_permissions(ctx: Context, kind: str, preview: MappingPreview | None = None,
                      on_match: str = "skip") -> None:
    """Raise PermissionDenied unless the actor may run this import (call it before asking
    for a file: a role that may not import should not be walked through the steps)."""
    if kind not in KIND_PERMISSION:
        raise ValidationError({"kind": _("Unknown kind {kind}; expected one of: {known}.")
                               .format(kind=quoted(kind), known=", ".join(KIND_PERMISSION))})
    for permission in required_permissions(kind, preview, on_match):
        require(ctx.actor, permission)


# ---------------------------------------------------------------- validation in workers

_WORKER_CONFIG = None


def _worker_start(config_path: str, language: str) -> None:
    global _WORKER_CONFIG
    # Ctrl-C reaches the whole process group: the main process stops the import (and these
    # workers); a worker that died of it first would only print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    set_language(language)
    _WORKER_CONFIG = load_config(config_path)


def _worker_prepare(kind, fields, rows, regions):
    prepared = prepare(kind, _WORKER_CONFIG, fields, rows, regions)
    for row in prepared:
        row.values = None  # the main process has them: half the bytes to send back
    return prepared


def _worker_count(options: ImportOptions, source: CsvFile) -> int:
    if options.workers is not None:
        return max(0, options.workers)
    if source.total_lines < PARALLEL_FROM_LINES:
        return 0
    return min(os.cpu_count() or 1, 4) if (os.cpu_count() or 1) > 1 else 0


def _start_pool(workers: int, config) -> ProcessPoolExecutor | None:
    """Validating processes, started now; None when this process cannot start them.

    Starting them launches multiprocessing's resource tracker, which is handed
    ``sys.stderr``'s file descriptor: a host that replaced stderr with an object
    answering -1 (Textual captures it) would make every start fail, so the tracker is
    launched with the real stderr. Anything else that stops the processes from starting
    means validating in this process instead: slower, never a failed import.
    """
    from concurrent.futures.process import BrokenProcessPool
    from multiprocessing import resource_tracker

    pool = None
    try:
        if not _usable_fd(sys.stderr):
            saved, sys.stderr = sys.stderr, sys.__stderr__
            try:
                resource_tracker.ensure_running()
            finally:
                sys.stderr = saved
        pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_start, initargs=(str(config.path), current_language()))
        pool.submit(os.getpid).result()
        return pool
    except (OSError, ValueError, BrokenProcessPool):
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        return None


def _usable_fd(stream) -> bool:
    try:
        return stream.fileno() >= 0
    except (AttributeError, OSError, ValueError):
        return False


def _batches(source: CsvFile, after_line: int, size: int) -> Iterator[list[tuple[int, list[str]]]]:
    batch = []
    for row in source.rows(after_line=after_line):
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# ---------------------------------------------------------------- the run


def plan_import(kind: str, path: str | Path, mapping=None) -> tuple[CsvFile, MappingPreview]:
    """Read the file's shape and preview the mapping (``mapping``: specs or a dict)."""
    source = open_csv(path)
    explicit = mapping if isinstance(mapping, dict) else parse_mapping(mapping)
    return source, preview_mapping(kind, source.headers, explicit)


def import_file(ctx: Context, kind: str, path: str | Path, mapping=None,
                options: ImportOptions = ImportOptions(),
                progress: Callable[[ImportProgress], None] | None = None) -> ImportReport:
    """``plan_import`` then ``run_import``; ``MappingProblem`` when the mapping is unusable."""
    check_permissions(ctx, kind, on_match=options.on_match)
    source, preview = plan_import(kind, path, mapping)
    return run_import(ctx, source, preview, options, progress)


def _resumable(ctx: Context, source: CsvFile, preview: MappingPreview,
               options: ImportOptions) -> ImportJob | None:
    """The latest unfinished job of this user for the same file, kind, mapping and on_match."""
    if not options.resume:
        return None
    query = (ImportJob.select()
             .where(ImportJob.kind == preview.kind, ImportJob.file_sha256 == source.sha256,
                    ImportJob.on_match == options.on_match,
                    ImportJob.started_by == ctx.actor.login,
                    ImportJob.status.in_(("running", "interrupted")))
             .order_by(ImportJob.id.desc()))
    mapping = preview.as_mapping()
    return next((job for job in query if job.mapping == mapping), None)


class _Run:
    def __init__(self, ctx: Context, source: CsvFile, preview: MappingPreview,
                 options: ImportOptions, progress):
        self.ctx, self.source, self.preview, self.options = ctx, source, preview, options
        self.progress = progress
        self.kind = preview.kind
        self.fields = preview.fields
        self.report = ImportReport(self.kind, source.path.name, options.dry_run,
                                   total_lines=source.total_lines)
        self.job: ImportJob | None = None
        self.audit_id: int | None = None
        self.pool: ProcessPoolExecutor | None = None

    # -- job

    def open_job(self) -> int:
        """Create the job, or take up the interrupted one; returns the line to resume after."""
        if self.options.dry_run:
            return 0
        mapping = self.preview.as_mapping()
        job = _resumable(self.ctx, self.source, self.preview, self.options)
        with write(self.ctx, "data.import"):
            if job is None:
                job = ImportJob.create(
                    kind=self.kind, file_name=str(self.source.path), file_sha256=self.source.sha256,
                    mapping=mapping, on_match=self.options.on_match,
                    error_file=str(self.errors_path()), started_by=self.ctx.actor.login)
            else:
                ImportJob.update(status="running").where(ImportJob.id == job.id).execute()
                self.report.resumed_after_line = job.last_line
                for entity, counts in (job.counts or {}).items():
                    if entity in self.report.counts:
                        self.report.counts[entity] = EntityCounts(**counts)
                self.report.rejected = job.rejected
                found = (AuditEvent.select(AuditEvent.id)
                         .where(AuditEvent.entity == "import_job", AuditEvent.entity_id == job.id,
                                AuditEvent.action == "import").first())
                self.audit_id = found.id if found else None
        self.job = job
        self.report.job_id = job.id
        return job.last_line

    def errors_path(self) -> Path:
        return Path(self.options.errors_path or default_errors_path(self.source.path))

    def record(self, status: str, report: ImportReport) -> None:
        """Write the job's counts and the import's one audit event (inside a transaction)."""
        finished = status != "running"
        ImportJob.update(
            status=status, created=report.created, updated=report.updated,
            skipped=report.skipped, rejected=report.rejected, counts=report.counts_dict(),
            last_line=report.last_line, finished_at=utcnow() if finished else None,
            error_file=str(report.error_file or "") if finished else str(self.errors_path()),
        ).where(ImportJob.id == self.job.id).execute()
        after = {"job": self.job.id, "kind": self.kind, "file": str(self.source.path),
                 "on_match": self.options.on_match, "status": status,
                 "rejected": report.rejected, "counts": report.counts_dict()}
        if self.audit_id is None:
            self.audit_id = audit(self.ctx, "import", "import_job", self.job.id, after=after).id
        else:
            AuditEvent.update(after=after).where(AuditEvent.id == self.audit_id).execute()

    # -- batches

    def prepared(self, writer: Writer, after_line: int) -> Iterator[list[Prepared]]:
        """Validated batches, in order; with workers, several are validated ahead."""
        workers = _worker_count(self.options, self.source)
        config = self.ctx.config
        if workers <= 1:
            for rows in _batches(self.source, after_line, self.options.batch_size):
                yield self._finish(rows, *self._prepare_args(writer, rows), None, config)
            return
        self.pool = _start_pool(workers, config)
        if self.pool is None:  # validate here, as for a small file
            for rows in _batches(self.source, after_line, self.options.batch_size):
                yield self._finish(rows, *self._prepare_args(writer, rows), None, config)
            return
        pending: deque[tuple[list, dict, dict, Future]] = deque()
        for rows in _batches(self.source, after_line, self.options.batch_size):
            regions, refused = self._prepare_args(writer, rows)
            todo = [r for r in rows if r[0] not in refused]
            future = self.pool.submit(_worker_prepare, self.kind, self.fields, todo, regions)
            pending.append((rows, regions, refused, future))
            while len(pending) > workers * 2:
                rows_, regions_, refused_, done = pending.popleft()
                yield self._finish(rows_, regions_, refused_, done.result(), config)
        while pending:
            rows_, regions_, refused_, done = pending.popleft()
            yield self._finish(rows_, regions_, refused_, done.result(), config)

    def _prepare_args(self, writer: Writer, rows) -> tuple[dict, dict]:
        if self.kind == "contacts":
            return writer.contact_rows(rows, self.fields)
        return {}, {}

    def _finish(self, rows, regions, refused, prepared, config) -> list[Prepared]:
        if prepared is None:
            todo = [r for r in rows if r[0] not in refused]
            prepared = prepare(self.kind, config, self.fields, todo, regions)
        elif prepared and prepared[0].values is None:  # from a worker
            cells = dict(rows)
            for row in prepared:
                row.values = cells[row.line]
        if refused:
            prepared += [Prepared(line, values, dict(refused[line]))
                         for line, values in rows if line in refused]
            prepared.sort(key=lambda p: p.line)
        return prepared

    def apply(self, writer: Writer, rows: list[Prepared]) -> BatchResult:
        """One batch in one transaction; the report takes its counts once it is committed."""
        if self.options.dry_run:
            result = writer.batch(rows)
            _merge(self.report, result)
            return result
        # every permission the import needs, not data.import alone: write() checks them
        # against the user's role as it is now, batch after batch
        with write(self.ctx, *required_permissions(self.kind, self.preview,
                                                   self.options.on_match)):
            triggers = searchindex.drop(self.ctx.db) if self.options.fast_index else None
            result = writer.batch(rows)
            if triggers is not None:
                searchindex.refresh(self.ctx.db, result.touched, new=result.created)
                searchindex.restore(self.ctx.db, triggers)
            after = _merged(self.report, result)
            self.record("running", after)
        self.report = after
        return result

    def run(self) -> ImportReport:
        started = perf_counter()
        errors = ErrorFile(self.errors_path(), self.source.headers, self.preview, append=False)
        errors.check(self.source.path, getattr(self.ctx.db, "path", None))
        resume_after = self.open_job()
        writer = Writer(self.ctx, self.kind, on_match=self.options.on_match,
                        job_id=self.job.id if self.job else None, dry_run=self.options.dry_run)
        if resume_after:
            writer.load_own()
        errors.append = bool(resume_after) and errors.path.exists()  # the job's earlier rows
        self.report.last_line = resume_after
        try:
            for rows in self.prepared(writer, resume_after):
                result = self.apply(writer, rows)
                for row, row_errors in result.rejected:
                    error = errors.write(row, row_errors)
                    if len(self.report.errors) < KEPT_ERRORS:
                        self.report.errors.append(error)
                errors.flush()
                if self.progress is not None:
                    self.progress(ImportProgress(self.report.last_line, self.source.total_lines,
                                                 self.report.rows, self.report))
        except BaseException as stop:
            self._stop(errors)
            self.report.seconds = perf_counter() - started
            if isinstance(stop, ImportCancelled):
                return self.report
            raise
        self._close_pool()
        errors.close(keep_empty_old=bool(resume_after))
        if errors.count or resume_after:
            self.report.error_file = errors.path if errors.path.exists() else None
        self.report.status = "done"
        if self.job is not None:
            with write(self.ctx, "data.import"):
                self.record("done", self.report)
        self.report.seconds = perf_counter() - started
        return self.report

    def _close_pool(self, cancel: bool = False) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=cancel)
            self.pool = None

    def _stop(self, errors: ErrorFile) -> None:
        self.report.status = "interrupted"
        self._close_pool(cancel=True)
        errors.close(keep_empty_old=True)
        if errors.count:
            self.report.error_file = errors.path
        if self.job is not None:
            try:
                with write(self.ctx, "data.import"):
                    self.record("interrupted", self.report)
            except Exception:  # noqa: BLE001 - the job stays "running", which is resumable too
                pass


def _merge(report: ImportReport, result: BatchResult) -> None:
    report.rows += result.rows
    report.rejected += len(result.rejected)
    report.last_line = max(report.last_line, result.last_line)
    for entity, counts in result.counts.items():
        report.counts[entity].add(counts)


def _merged(report: ImportReport, result: BatchResult) -> ImportReport:
    """A copy of ``report`` with the batch added (the original stays as committed)."""
    copy = replace(report, counts={e: replace(c) for e, c in report.counts.items()},
                   errors=report.errors)
    _merge(copy, result)
    return copy


def run_import(ctx: Context, source: CsvFile, preview: MappingPreview,
               options: ImportOptions = ImportOptions(),
               progress: Callable[[ImportProgress], None] | None = None) -> ImportReport:
    """Import ``source`` as ``preview`` maps it; see the module docstring."""
    if options.on_match not in ON_MATCH:
        raise ValidationError({"on_match": _("on_match must be one of: {known}.").format(
            known=", ".join(ON_MATCH))})
    if options.batch_size < 1:
        raise ValidationError({"batch_size": _("The batch size must be at least 1.")})
    check_permissions(ctx, preview.kind, preview, options.on_match)
    if not preview.ok:
        raise MappingProblem(preview)
    return _Run(ctx, source, preview, options, progress).run()


def get_job(ctx: Context, job_id: int) -> ImportJob:
    require(ctx.actor, "data.import")
    job = ImportJob.get_or_none(ImportJob.id == job_id)
    if job is None:
        raise NotFound(_("import job"), job_id)
    return job


def list_jobs(ctx: Context, limit: int = 50) -> list[ImportJob]:
    """The latest import jobs, newest first."""
    require(ctx.actor, "data.import")
    return list(ImportJob.select().order_by(ImportJob.id.desc()).limit(limit))
