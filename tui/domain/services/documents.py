"""Admin documents of a customer: contracts, insurance papers, with optional reminders.

Files are stored content-addressed (by SHA-256) in a folder beside the
database, so the same file uploaded twice is stored once, and a deleted
document's file stays for the audit trail to restore.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from datetime import date
from pathlib import Path
from typing import BinaryIO

from tui.domain.context import Context
from tui.domain.database import file_mode_for, make_data_dir
from tui.domain.errors import NotFound
from tui.domain.models import AdminDocument, Customer
from tui.domain.permissions import require
from tui.domain.services._base import audit, changed_fields, snapshot, versioned_update, write
from tui.domain.validation import LIMITS, PATH_SHOWN, Errors, FieldError, clean_text, quoted
from tui.i18n import _

MAX_FILE_BYTES = 200 * 1024 * 1024


def _kind(ctx: Context, kind: str) -> str:
    if kind not in ctx.config.document_kinds:
        raise FieldError(_("Unknown document kind {kind}; choose from {known}.").format(
            kind=quoted(kind), known=", ".join(ctx.config.document_kinds)))
    return kind


def _reminder(value: date | str | None) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise FieldError(_("Not a date (YYYY-MM-DD): {value}").format(
            value=quoted(value))) from None


def _source(path: str | os.PathLike) -> Path:
    source = Path(path).expanduser()
    if not source.is_file():
        raise FieldError(_("No file at {path}.").format(path=quoted(source, PATH_SHOWN)))
    if source.stat().st_size > MAX_FILE_BYTES:
        raise FieldError(_("{path} is larger than {limit} MB.").format(
            path=quoted(source, PATH_SHOWN), limit=MAX_FILE_BYTES // (1024 * 1024)))
    return source


def store_dir(ctx: Context) -> Path:
    """The document store: beside an SQLite file (``<file>.files``); for a PostgreSQL
    database, the configuration's ``documents_dir``, else $CLIENTBOOK_FILES (one sentence
    when neither is set)."""
    if getattr(ctx.db, "file", None) is None and ctx.config.documents_dir is not None:
        return ctx.config.documents_dir
    return ctx.db.files_dir


def blob_path(ctx: Context, sha256: str) -> Path:
    return store_dir(ctx) / sha256[:2] / sha256


def copy_hashing(reader: BinaryIO, folder: Path) -> tuple[str, str]:
    """Copy ``reader`` into a new temporary file in ``folder``, flushed to disk; return its
    name and the SHA-256 of what was copied. On failure no temporary file is left."""
    digest = hashlib.sha256()
    with tempfile.NamedTemporaryFile(dir=folder, delete=False) as tmp:
        try:
            for chunk in iter(lambda: reader.read(1 << 20), b""):
                digest.update(chunk)
                tmp.write(chunk)
            tmp.flush()
            os.fsync(tmp.fileno())
        except BaseException:
            os.unlink(tmp.name)
            raise
    return tmp.name, digest.hexdigest()


def store_file(ctx: Context, source: Path) -> tuple[str, int]:
    """Copy ``source`` into the store under its SHA-256; return (digest, size).

    Needs ``document.edit``, as adding a document does: the store is written for
    documents only. The store's folders are made by ``make_data_dir`` and each file
    gets ``file_mode_for`` the store, whatever the umask: beside a database in a shared
    folder (set-group-ID, see database.py) the group's (2770 folders, 0660 files), so
    every operator can read and add documents; elsewhere the owner's alone (0700, 0600).
    """
    require(ctx.actor, "document.edit")
    store = make_data_dir(store_dir(ctx))
    try:
        reader = source.open("rb")
    except OSError as error:  # unreadable, or gone since it was checked
        raise FieldError(_("Cannot read {path}: {reason}.").format(
            path=quoted(source, PATH_SHOWN), reason=error.strerror or error)) from None
    with reader:
        temporary, digest = copy_hashing(reader, store)
    try:
        target = blob_path(ctx, digest)
        make_data_dir(target.parent)
        if target.exists():
            os.unlink(temporary)
        else:
            os.chmod(temporary, file_mode_for(store))
            os.replace(temporary, target)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return digest, target.stat().st_size


def add_document(ctx: Context, customer_id: int, title: str, kind: str,
                 file: str | os.PathLike | None = None,
                 reminder_on: date | str | None = None) -> AdminDocument:
    with write(ctx, "document.edit"):
        if not Customer.select().where(Customer.id == customer_id).exists():
            raise NotFound(_("customer"), customer_id)
        errors = Errors()
        values = {
            "title": errors.check("title", clean_text, title, limit=LIMITS["title"], required=True),
            "kind": errors.check("kind", _kind, ctx, kind),
            "reminder_on": errors.check("reminder_on", _reminder, reminder_on),
        }
        source = errors.check("file", _source, file) if file is not None else None
        errors.raise_if_any()
        if source is not None:
            values["file_sha256"], values["file_size"] = errors.check(
                "file", store_file, ctx, source) or (None, None)
            errors.raise_if_any()  # could not be read after all
            values["file_name"] = source.name
        document = AdminDocument.create(customer=customer_id, uploaded_by=ctx.actor.login,
                                        **values)
        audit(ctx, "create", "document", document.id, after=snapshot(document),
              customer_id=customer_id)
        return document


def _document(document_id: int) -> AdminDocument:
    document = AdminDocument.get_or_none(AdminDocument.id == document_id)
    if document is None:
        raise NotFound(_("document"), document_id)
    return document


def update_document(ctx: Context, document_id: int, expected_version: int, *, title: str,
                    kind: str, reminder_on: date | str | None) -> AdminDocument:
    with write(ctx, "document.edit"):
        document = _document(document_id)
        errors = Errors()
        values = {
            "title": errors.check("title", clean_text, title, limit=LIMITS["title"], required=True),
            "kind": errors.check("kind", _kind, ctx, kind),
            "reminder_on": errors.check("reminder_on", _reminder, reminder_on),
        }
        errors.raise_if_any()
        before = snapshot(document)
        versioned_update(ctx, AdminDocument, document_id, expected_version, values,
                         _("document"), before)
        document = _document(document_id)
        audit(ctx, "update", "document", document_id, before=before,
              after=changed_fields(before, snapshot(document)), customer_id=document.customer_id)
        return document


def delete_document(ctx: Context, document_id: int) -> None:
    with write(ctx, "document.edit"):
        document = _document(document_id)
        audit(ctx, "delete", "document", document_id, before=snapshot(document),
              customer_id=document.customer_id)
        document.delete_instance()


def list_documents(ctx: Context, customer_id: int) -> list[AdminDocument]:
    require(ctx.actor, "document.view")
    return list(AdminDocument.select().where(AdminDocument.customer == customer_id)
                .order_by(AdminDocument.title, AdminDocument.id))


def document_file(ctx: Context, document_id: int) -> Path | None:
    """Where the stored file of a document is, to open or copy it."""
    require(ctx.actor, "document.view")
    document = _document(document_id)
    return blob_path(ctx, document.file_sha256) if document.file_sha256 else None


def due_reminders(ctx: Context, today: date) -> list[AdminDocument]:
    """Documents whose reminder date has come (D2)."""
    require(ctx.actor, "document.view")
    return list(AdminDocument.select(AdminDocument, Customer).join(Customer)
                .where(AdminDocument.reminder_on <= today)
                .order_by(AdminDocument.reminder_on, AdminDocument.id))
