"""One machine: what it is, who holds it, its assignment history (E4) and its events (E5).

Times are shown in UTC, as the event dialog takes them and the e-mails state them.
History rows are two lines (when, then who), as on the customer's history screen.
"""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static, TabbedContent, TabPane

from tui.domain.errors import ClientbookError
from tui.domain.locale_format import format_date, format_datetime
from tui.domain.services.equipment import (
    assignment_history,
    current_assignment,
    get_equipment,
)
from tui.domain.services.events import machine_events, record_event, why_nobody_notified
from tui.i18n import N_, _, current_language, ngettext
from tui.bindings import TranslatedBindings
from tui.widgets.equipment_form import MachineEditing
from tui.widgets.event_form import EventFormDialog
from tui.widgets.footer import KeysFooter
from tui.widgets.permitted import permitted


def utc(moment: datetime | None, *, date_only: bool = False) -> str:
    """Stored timestamps are naive UTC: shown as they are, in the operator's locale."""
    if moment is None:
        return ""
    return format_date(moment.date()) if date_only else format_datetime(moment)


def when_and_who(moment: datetime | None, login: str | None) -> Text:
    text = Text(utc(moment))
    if login:
        text.append("\n")
        text.append(_("by {login}").format(login=login), style="dim")
    return text


class MachineScreen(TranslatedBindings, MachineEditing, Screen):
    CSS_PATH = "machine.tcss"

    BINDINGS = [
        Binding("v", "record_event", N_("Record event"), id="machine.record_event"),
        Binding("c", "open_customer", N_("Customer"), id="machine.customer"),
        Binding("e", "edit", N_("Edit"), id="machine.edit"),
        Binding("r", "retire", N_("Retire"), id="machine.retire"),
        Binding("r", "reinstate", N_("Reinstate"), id="machine.reinstate"),
        Binding("escape", "back", N_("Back"), id="machine.back"),
        Binding("1", "show_tab('history')", N_("History"), id="machine.tab_history", show=False),
        Binding("2", "show_tab('events')", N_("Events"), id="machine.tab_events", show=False),
    ]

    def __init__(self, equipment_id: int) -> None:
        super().__init__()
        self.equipment_id = equipment_id
        self.machine = None  # Equipment as last read
        self.holding = None  # its open Assignment, if any

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="machine-info", markup=False)
        with TabbedContent(initial="history"):
            with TabPane(_("History"), id="history"):
                yield DataTable(id="machine-history", cursor_type="row", zebra_stripes=True)
            with TabPane(_("Events"), id="events"):
                yield DataTable(id="machine-events", cursor_type="row", zebra_stripes=True)
        yield Static(id="machine-status", markup=False)
        yield KeysFooter()

    def on_mount(self) -> None:
        # 80 columns: widths + 2 cells of padding each + the scrollbar.
        history = self.query_one("#machine-history", DataTable)
        history.add_column(_("Customer"), key="customer", width=30)
        history.add_column(_("Assigned (UTC)"), key="assigned", width=17)
        history.add_column(_("Unassigned (UTC)"), key="unassigned", width=17)
        events = self.query_one("#machine-events", DataTable)
        events.add_column(_("Time (UTC)"), key="time", width=16)
        events.add_column(_("Type"), key="type", width=13)
        events.add_column(_("Message"), key="message", width=20)
        events.add_column(_("Holder then"), key="customer", width=14)
        events.add_column(_("Mails"), key="mails", width=5)
        self.load()
        history.focus()

    # -- loading ---------------------------------------------------------------------------
    def load(self) -> None:
        ctx = self.app.ctx
        try:
            self.machine = get_equipment(ctx, self.equipment_id)
            self.holding = current_assignment(ctx, self.equipment_id)
            history = assignment_history(ctx, equipment_id=self.equipment_id)
            events = machine_events(ctx, self.equipment_id)
        except ClientbookError as error:
            self.query_one("#machine-info", Static).update(str(error))
            self.refresh_bindings()
            return
        self.title = _("Machine {serial}").format(serial=self.machine.serial)
        self.query_one("#machine-info", Static).update(self.info_text())
        self.show_history(history)
        self.show_events(events)
        self.query_one("#machine-status", Static).update(
            ngettext("{count} assignment", "{count} assignments", len(history)).format(
                count=len(history)) + " · " + ngettext(
                "{count} event", "{count} events", len(events)).format(count=len(events)))
        self.refresh_bindings()

    def info_text(self) -> Text:
        machine = self.machine
        text = Text(machine.serial, style="bold")
        if machine.name:
            text.append("  " + machine.name)
        details = [part for part in (" ".join(p for p in (machine.make, machine.model) if p),
                                     machine.type,
                                     "" if machine.year is None else str(machine.year)) if part]
        text.append("\n" + (" · ".join(details) or _("no make, model, type or year recorded")),
                    style="dim")
        text.append("\n")
        if machine.retired_at is not None:
            text.append(_("Retired on {date}").format(date=utc(machine.retired_at, date_only=True)),
                        style="italic")
        elif self.holding is not None:
            text.append(_("Held by {customer} since {date}").format(
                customer=self.holding.customer_name,
                date=utc(self.holding.assigned_at, date_only=True)), style="bold")
        else:
            text.append(_("Unassigned"))
        return text

    def show_history(self, rows) -> None:
        table = self.query_one("#machine-history", DataTable)
        table.clear()
        for row in rows:
            returned = (Text(_("held now"), style="bold") if row.unassigned_at is None
                        else when_and_who(row.unassigned_at, row.unassigned_by))
            table.add_row(Text(row.customer_name), when_and_who(row.assigned_at, row.assigned_by),
                          returned, key=str(row.id), height=2)

    def show_events(self, rows) -> None:
        types = self.app.ctx.config.event_types
        language = current_language()
        table = self.query_one("#machine-events", DataTable)
        table.clear()
        for row in rows:
            event = row.event
            label = types[event.type].label_for(language) if event.type in types else event.type
            table.add_row(Text(utc(event.occurred_at)), Text(label), Text(event.message),
                          Text(event.customer_name) if event.customer_name
                          else Text(_("nobody"), style="dim"),
                          Text(str(row.queued), justify="right"), key=str(event.id))

    # -- keys for this role and this machine -----------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        actor = self.app.ctx.actor
        if action == "record_event":
            if not actor.can("event.record"):
                return False
            return self.machine is not None or None
        if action in ("edit", "retire", "reinstate"):
            if not actor.can("equipment.edit"):
                return False
            if self.machine is None:
                return None
            retired = self.machine.retired_at is not None
            if action == "retire" and retired or action == "reinstate" and not retired:
                return False
        if action == "open_customer":
            if not actor.can("customer.view"):
                return False
            return self.holding is not None or None  # shown dimmed while nobody holds it
        return True

    def machine_changed(self, equipment_id: int | None) -> None:
        self.load()

    def on_screen_resume(self) -> None:
        if self.machine is not None:  # back from the customer or a dialog
            self.load()

    # -- actions ---------------------------------------------------------------------------
    def action_back(self) -> None:
        self.app.pop_screen()

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        self.query_one(f"#machine-{tab}", DataTable).focus()

    def action_open_customer(self) -> None:
        if self.holding is not None and permitted(self, "customer.view"):
            self.app.action_open_customer(self.holding.customer_id)

    def action_edit(self) -> None:
        self.edit_machine(self.equipment_id)

    def action_retire(self) -> None:
        self.retire_or_reinstate(self.equipment_id)

    action_reinstate = action_retire

    def action_record_event(self) -> None:
        if self.machine is None or not permitted(self, "event.record"):
            return
        ctx = self.app.ctx

        def submit(kind: str, occurred_at: datetime, message: str):
            return record_event(ctx, type=kind, message=message, equipment_id=self.equipment_id,
                                occurred_at=occurred_at, source="tui")

        self.app.push_screen(EventFormDialog(
            _("Record an event on {serial}").format(serial=self.machine.serial), submit),
            self.event_recorded)

    def event_recorded(self, recorded) -> None:
        if recorded is None:
            return
        if recorded.notifications:
            message = ngettext("Event recorded; {count} e-mail queued.",
                               "Event recorded; {count} e-mails queued.",
                               recorded.notifications).format(count=recorded.notifications)
        else:
            try:
                reason = why_nobody_notified(self.app.ctx, recorded.event)
            except ClientbookError as error:
                reason = str(error)
            message = _("Event recorded; nobody is notified: {reason}.").format(reason=reason)
        if recorded.without_email:
            message += " " + ngettext(
                "{count} contact with the notify role has no e-mail address.",
                "{count} contacts with the notify role have no e-mail address.",
                recorded.without_email).format(count=recorded.without_email)
        self.notify(message, markup=False)
        self.load()
        self.action_show_tab("events")

    def palette_actions(self) -> list[tuple[str, object]]:
        """(label, callback) for the command palette: what this role may do here."""
        offered = []
        for action, label in (("record_event", _("Record an event on this machine")),
                              ("edit", _("Edit this machine")),
                              ("retire", _("Retire this machine")),
                              ("reinstate", _("Reinstate this machine")),
                              ("open_customer", _("Open the customer holding this machine"))):
            if self.check_action(action, ()):
                offered.append((label, getattr(self, f"action_{action}")))
        return offered

    @on(TabbedContent.TabActivated)
    def tab_activated(self, event: TabbedContent.TabActivated) -> None:
        pane = event.pane.id
        if pane in ("history", "events"):
            self.query_one(f"#machine-{pane}", DataTable).focus()
