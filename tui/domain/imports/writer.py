"""What an import does with validated rows: match, decide, then write one batch at a time.

``Writer.batch(rows)`` first PLANS the batch: each row is matched against the
database and against what this run already did, and its actions (create /
update / nothing, for the customer and its contact, or the machine and its
assignment) are decided together, so a row is taken or rejected whole. Then,
unless it is a dry run, it APPLIES the plan with bulk inserts (``executemany``)
and records every record it created or updated as an ``ImportItem`` (what undo
needs). The caller holds the transaction; a dry run plans exactly as a real
run and writes nothing.

Matching, so that running a file again creates no duplicates:
- customers: by external id when the row has one; otherwise, or when no
  customer has that external id, by normalised name (``name_key``) plus the
  same phone or the same e-mail, among customers without an external id. A row
  with neither phone nor e-mail matches by name plus postal code and city. The
  external id ``clientbook-<id>`` (how exports name a customer that has none)
  also finds customer <id> of this database when it has no external id and
  the same name.
- contacts: within their customer, by e-mail; a row without an e-mail (or whose
  e-mail no contact has) by name, among contacts without another e-mail.
- machines: by serial number.
A matched record is left alone with ``on_match="skip"``. With ``"update"`` the
row's non-empty cells replace its values (an empty cell never erases anything),
validated again together with what the record already holds; a customer
matched by name gets the row's external id when it has none.

A customer's rows may be spread over the file (one per contact): the first
creates or matches it, the others only add their contacts.
"""

from __future__ import annotations

from tui.domain.imports.batches import ENTITIES, BaseWriter, BatchResult, EntityCounts, new_counts
from tui.domain.imports.customer_rows import CustomerRows
from tui.domain.imports.equipment_rows import EquipmentRows


class Writer(CustomerRows, EquipmentRows, BaseWriter):
    """Plans and writes the batches of one import run (see the module docstring)."""


__all__ = ["ENTITIES", "BatchResult", "EntityCounts", "Writer", "new_counts"]
