"""What an import must never do: overwrite what it reads, or undo a job still being written."""

from __future__ import annotations

import pytest

from tests.test_import import company_rows, count, write_csv
from tui.domain.imports import (
    ImportCancelled,
    ImportFileError,
    ImportOptions,
    UndoRefused,
    import_file,
    undo_import,
)
from tui.domain.models import ImportJob

pytestmark = pytest.mark.both_backends

BAD_SECOND_ROW = [["Company", "Phone"], ["Alpha", "+45 20 00 00 01"], ["Beta", "not a phone"],
                  ["Gamma", "+45 20 00 00 03"]]


# "database": the SQLite file (a PostgreSQL database has no file an error file could replace).
@pytest.mark.parametrize("target", ["input", pytest.param("database", marks=pytest.mark.sqlite_only),
                                    "other"])
def test_the_error_file_never_replaces_the_input_the_database_or_another_file(
        admin, db, db_target, tmp_path, target):
    source = write_csv(tmp_path / "crm.csv", BAD_SECOND_ROW)
    other = tmp_path / "accounts.csv"
    other.write_text("my,own\n", encoding="utf-8")
    path = {"input": source, "database": db_target, "other": other}[target]
    kept = path.read_bytes()
    expected = {"input": "is the file being imported", "database": "is the database",
                "other": "is not an error file of an import"}[target]
    with pytest.raises(ImportFileError, match=expected):
        import_file(admin, "customers", source,
                    options=ImportOptions(errors_path=path, batch_size=1))
    assert path.read_bytes() == kept and count(db, "customer") == 0


def test_an_earlier_error_file_may_be_replaced(admin, db, tmp_path):
    source = write_csv(tmp_path / "crm.csv", BAD_SECOND_ROW)
    errors = tmp_path / "rejected.csv"
    for _ in range(2):
        report = import_file(admin, "customers", source,
                             options=ImportOptions(errors_path=errors, on_match="skip"))
        assert report.rejected == 1 and errors.read_text(encoding="utf-8").count("Beta") == 1


def test_an_interrupted_dry_run_does_not_promise_a_job_to_finish(admin, tmp_path):
    def stop(progress):
        raise ImportCancelled

    report = import_file(admin, "customers", write_csv(tmp_path / "a.csv", company_rows(4)),
                         options=ImportOptions(dry_run=True, batch_size=2), progress=stop)
    assert report.status == "interrupted"
    assert "were not checked" in report.summary()[-1]
    assert "finish the job" not in " ".join(report.summary())


def test_a_job_that_has_not_finished_is_not_undone(admin, db, tmp_path):
    # A job left "running": killed, or still importing in another session.
    report = import_file(admin, "customers", write_csv(tmp_path / "a.csv", company_rows(2)))
    ImportJob.update(status="running").where(ImportJob.id == report.job_id).execute()
    with pytest.raises(UndoRefused, match="has not finished .* import the same file again"):
        undo_import(admin, report.job_id)
    assert count(db, "customer") == 2


POOL_UNDER_CAPTURE = """
import sys
from tui.domain.config import load_config, resolve_config_path
from tui.domain.imports.importer import _start_pool

class Captured:  # what Textual puts in sys.stderr while the app runs
    def write(self, text): return len(text)
    def flush(self): pass
    def fileno(self): return -1

if __name__ == "__main__":
    sys.stderr = Captured()
    pool = _start_pool(1, load_config(resolve_config_path(None, {})))
    print(pool.submit(abs, -7).result() if pool else "no pool")
"""


def test_validating_processes_start_under_a_captured_stderr(tmp_path):
    # Without launching the resource tracker with the real stderr, every start fails
    # with "bad value(s) in fds_to_keep" (a file of 20,000+ lines imported from the TUI).
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = tmp_path / "pool.py"
    script.write_text(POOL_UNDER_CAPTURE, encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120, cwd=str(tmp_path),
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    assert done.stdout.strip() == "7", done.stderr


def test_when_processes_cannot_start_the_rows_are_validated_here(admin, db, tmp_path,
                                                                 monkeypatch):
    from tui.domain.imports import importer

    def refuse(*args, **kwargs):
        raise OSError("no processes here")

    monkeypatch.setattr(importer, "ProcessPoolExecutor", refuse)
    report = import_file(admin, "customers", write_csv(tmp_path / "a.csv", company_rows(3)),
                         options=ImportOptions(workers=2))
    assert report.counts["customer"].created == 3 and count(db, "contact") == 6
