"""Add or edit a machine, and the retire / reinstate / edit flows the register and the
machine screen share.

``EquipmentFormDialog`` is given a ``submit(draft, version)`` callable (the caller's
service call). The service's ValidationError messages go under their fields and the
dialog stays open, so nothing typed is lost. A Conflict (someone saved the machine
meanwhile) opens the ConflictDialog: reload theirs into the form, overwrite with mine,
or keep editing. It dismisses with what ``submit`` returned, or None when cancelled.

``MachineEditing`` is a mixin for screens: ``edit_machine``, ``retire_or_reinstate``;
the screen implements ``machine_changed(equipment_id)`` to show the result.
"""

from __future__ import annotations

from collections.abc import Callable

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input, Static

from tui.domain.errors import ClientbookError, Conflict, ValidationError
from tui.domain.services.equipment import (
    EquipmentDraft,
    add_equipment,
    current_assignment,
    equipment_types,
    get_equipment,
    reinstate_equipment,
    retire_equipment,
    update_equipment,
)
from tui.i18n import N_, _
from tui.bindings import TranslatedBindings
from tui.lock_wait import waits_for_lock
from tui.widgets.address_fields import FieldRow, focus_first_error, show_field_errors
from tui.widgets.confirm import ConfirmDialog
from tui.widgets.conflict import OVERWRITE, RELOAD, ConflictDialog
from tui.widgets.footer import KeysFooter
from tui.widgets.permitted import permitted

FIELDS = ("serial", "name", "make", "model", "type", "year")


def field_labels() -> dict[str, str]:
    return {"serial": _("Serial number"), "name": _("Name"), "make": _("Make"),
            "model": _("Model"), "type": _("Type"), "year": _("Year")}


def draft_texts(draft: EquipmentDraft) -> dict[str, str]:
    return {name: "" if getattr(draft, name) is None else str(getattr(draft, name))
            for name in FIELDS}


class EquipmentFormDialog(TranslatedBindings, ModalScreen[object]):
    """Dismisses with the saved machine (what ``submit`` returned), or None."""

    CSS_PATH = "equipment_form.tcss"

    BINDINGS = [
        Binding("escape", "cancel", N_("Cancel"), id="equipment_form.cancel"),
        Binding("ctrl+s", "save", N_("Save"), id="equipment_form.save", priority=True),
    ]

    def __init__(self, title: str, submit: Callable[[EquipmentDraft, int | None], object], *,
                 draft: EquipmentDraft | None = None, version: int | None = None,
                 types: list[str] | None = None) -> None:
        super().__init__()
        self.heading = title
        self.submit = submit
        self.draft = draft or EquipmentDraft()
        self.version = version  # None when adding
        self.types = types or []

    def compose(self) -> ComposeResult:
        labels = field_labels()
        texts = draft_texts(self.draft)
        with Vertical(id="machine-box"):
            yield Static(self.heading, id="machine-form-title", markup=False)
            for name in FIELDS:
                extra = {}
                if name == "type" and self.types:
                    extra["suggester"] = SuggestFromList(self.types, case_sensitive=False)
                if name == "year":
                    extra["max_length"] = 4
                yield FieldRow(labels[name], Input(texts[name], id=f"machine-{name}",
                                                   compact=True, **extra),
                               field=name, required=(name == "serial"))
            yield Static(id="error-general", markup=False)
            with Horizontal(id="machine-buttons"):
                yield Button(_("Cancel"), id="machine-cancel")
                yield Button(_("Save"), id="machine-save", variant="primary")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one("#machine-serial", Input).focus()

    def current(self) -> EquipmentDraft:
        return EquipmentDraft(**{name: self.query_one(f"#machine-{name}", Input).value
                                 for name in FIELDS})

    def fill(self, draft: EquipmentDraft) -> None:
        for name, text in draft_texts(draft).items():
            self.query_one(f"#machine-{name}", Input).value = text

    def show_errors(self, errors: dict[str, str]) -> None:
        wrong = show_field_errors(self, errors)
        extra = " ".join(message for field, message in errors.items() if field not in FIELDS)
        self.query_one("#error-general", Static).update(extra)
        if wrong:
            focus_first_error(wrong)

    @waits_for_lock
    def action_save(self) -> None:
        draft = self.current()
        try:
            saved = self.submit(draft, self.version)
        except ValidationError as error:
            self.show_errors(error.errors)
            return
        except Conflict as conflict:
            self.show_errors({})
            self.resolve_conflict(conflict, draft)
            return
        except ClientbookError as error:  # e.g. the machine was deleted meanwhile
            self.show_errors({"general": str(error)})
            return
        self.dismiss(saved)

    def resolve_conflict(self, conflict: Conflict, mine: EquipmentDraft) -> None:
        stored = conflict.current
        theirs = EquipmentDraft(**{name: stored.get(name) for name in FIELDS})

        def chosen(choice: str | None) -> None:
            self.version = stored.get("version", self.version)
            if choice == RELOAD:
                self.fill(theirs)
                self.notify(_("Showing what is stored now; nothing of yours was saved."),
                            markup=False)
            elif choice == OVERWRITE:
                self.action_save()

        self.app.push_screen(ConflictDialog(draft_texts(theirs), draft_texts(mine),
                                            labels=field_labels()), chosen)

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted)
    def next_field(self, event: Input.Submitted) -> None:
        if event.input.id == "machine-year":
            self.action_save()
        else:
            self.focus_next()

    @on(Button.Pressed, "#machine-save")
    def save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#machine-cancel")
    def cancel_pressed(self) -> None:
        self.action_cancel()


class MachineEditing:
    """Add, edit, retire and reinstate from a screen; ``machine_changed`` shows the result."""

    def machine_changed(self, equipment_id: int | None) -> None:  # pragma: no cover - hook
        raise NotImplementedError

    def add_machine(self) -> None:
        if not permitted(self, "equipment.edit"):
            return
        ctx = self.app.ctx

        def saved(machine) -> None:
            if machine is not None:
                self.notify(_("Machine {serial} added.").format(serial=machine.serial),
                            markup=False)
                self.machine_changed(machine.id)

        self.app.push_screen(EquipmentFormDialog(
            _("New machine"), lambda draft, _version: add_equipment(ctx, draft),
            types=equipment_types(ctx)), saved)

    def edit_machine(self, equipment_id: int) -> None:
        if not permitted(self, "equipment.edit"):
            return
        ctx = self.app.ctx
        try:
            machine = get_equipment(ctx, equipment_id)  # afresh: its version is the base
        except ClientbookError as error:
            self.notify(str(error), severity="error", markup=False)
            self.machine_changed(None)
            return

        def saved(result) -> None:
            if result is not None:
                self.notify(_("Machine {serial} saved.").format(serial=result.serial),
                            markup=False)
                self.machine_changed(equipment_id)

        self.app.push_screen(EquipmentFormDialog(
            _("Edit machine {serial}").format(serial=machine.serial),
            lambda draft, version: update_equipment(ctx, equipment_id, version, draft),
            draft=EquipmentDraft.from_equipment(machine), version=machine.version,
            types=equipment_types(ctx)), saved)

    def retire_or_reinstate(self, equipment_id: int) -> None:
        """Retire (after a confirmation naming the holder whose assignment closes) or, for a
        retired machine, reinstate."""
        if not permitted(self, "equipment.edit"):
            return
        ctx = self.app.ctx
        try:
            machine = get_equipment(ctx, equipment_id)
            held = current_assignment(ctx, equipment_id)
        except ClientbookError as error:
            self.notify(str(error), severity="error", markup=False)
            self.machine_changed(None)
            return
        if machine.retired_at is not None:
            self._run(lambda: reinstate_equipment(ctx, equipment_id, machine.version),
                      _("Machine {serial} is back in service, unassigned.").format(
                          serial=machine.serial), equipment_id)
            return
        if held is not None:
            body = _("{serial} is held by {holder}: that assignment will be closed now (the "
                     "history keeps it). A retired machine cannot be assigned until it is "
                     "reinstated.").format(serial=machine.serial, holder=held.customer_name)
        else:
            body = _("{serial} is not held by anyone. A retired machine cannot be assigned "
                     "until it is reinstated.").format(serial=machine.serial)

        def answered(confirmed: bool | None) -> None:
            if confirmed:
                self._run(lambda: retire_equipment(ctx, equipment_id, machine.version), None,
                          equipment_id)

        self.app.push_screen(ConfirmDialog(
            _("Retire machine {serial}?").format(serial=machine.serial), body, _("Retire")),
            answered)

    @waits_for_lock
    def _run(self, call, done: str | None, equipment_id: int) -> None:
        try:
            result = call()
        except ClientbookError as error:  # Conflict included: the message says to look again
            self.notify(str(error), severity="error", markup=False)
            self.machine_changed(equipment_id)
            return
        if done is None:  # retired
            if result.released_from:
                done = _("Machine {serial} retired; its assignment to {holder} was closed.").format(
                    serial=result.machine.serial, holder=result.released_from)
            else:
                done = _("Machine {serial} retired.").format(serial=result.machine.serial)
        self.notify(done, markup=False)
        self.machine_changed(equipment_id)
