"""The Textual application: holds the acting user's context and routes between screens."""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from textual.app import App, SystemCommand
from textual.command import CommandPalette
from textual.binding import Binding
from textual.screen import ModalScreen

from tui.domain.context import Context
from tui.domain.database import short_label
from tui.domain.services.reports import REQUIRED as REPORT_PERMISSIONS
from tui.bindings import TranslatedBindings
from tui.i18n import N_, _, current_language


# Textual's own words in the command palette, so that they are in the catalogs too.
TEXTUAL_WORDS = (
    N_("Theme"), N_("Change the current theme"), N_("Quit"),
    N_("Quit the application as soon as possible"), N_("Keys"),
    N_("Hide the keys and widget help panel"),
    N_("Show help for the focused widget and a summary of available keys"), N_("Minimize"),
    N_("Minimize the widget and restore to normal size"), N_("Maximize"),
    N_("Maximize the focused widget"), N_("Screenshot"),
    N_("Save an SVG 'screenshot' of the current screen"), N_("Bell"), N_("Ring the bell"),
    N_("palette"),
)


class ClientbookApp(TranslatedBindings, App[None]):
    """Clientbook in the terminal. Receives a ready Context so tests can pass a temporary one."""

    CSS_PATH = "app.tcss"
    TITLE = "Clientbook"
    ENABLE_COMMAND_PALETTE = True

    BINDINGS = [
        Binding("ctrl+n", "new_customer", N_("New customer"), id="new_customer", priority=True),
        Binding("ctrl+n", "explain_new_customer", N_("New customer"), id="explain_new_customer",
                show=False, priority=True),
        Binding("f1", "help", N_("Help"), id="help"),
        # Everywhere, but shown in the footer by the customer list only (80 columns are few).
        Binding("f3", "open_register", N_("Equipment"), id="open_register", show=False),
        Binding("f2", "open_audit", N_("Audit trail"), id="open_audit", show=False),
        Binding("f4", "open_outbox", N_("Outbox"), id="open_outbox", show=False),
        Binding("f5", "open_import", N_("Import"), id="open_import", show=False),
        Binding("f6", "export_data", N_("Export"), id="export_data", show=False),
        Binding("f7", "open_estimates", N_("Estimates"), id="open_estimates", show=False),
        Binding("question_mark", "help", N_("Help"), id="help_question", show=False),
        Binding("ctrl+q", "quit", N_("Quit"), id="quit", priority=True),
    ]

    def __init__(self, ctx: Context) -> None:
        super().__init__()
        self.ctx = ctx
        # Searches and other reads that may take a moment run here, off the UI
        # thread, on one connection that stays open (and warm) for the session.
        self.query_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="queries")
        # Saves waiting for another program's lock (tui/lock_wait.py): (node id, method) ->
        # the moment they give up.
        self.lock_waits: dict[tuple[int, str], float] = {}
        from tui.commands import ClientbookCommands

        self.COMMANDS = App.COMMANDS | {ClientbookCommands}

    def get_system_commands(self, screen) -> Iterable[SystemCommand]:
        """Textual's commands (theme, quit, keys...), named in the operator's language."""
        for command in super().get_system_commands(screen):
            yield SystemCommand(_(command.title), _(command.help), command.callback,
                                command.discover)

    def action_command_palette(self) -> None:
        if self.use_command_palette and not CommandPalette.is_open(self):
            self.push_screen(CommandPalette(id="--command-palette",
                                            placeholder=_("Search for commands…")))

    @property
    def role_label(self) -> str:
        role = self.ctx.config.roles.get(self.ctx.actor.role)
        return role.label_for(current_language()) if role else self.ctx.actor.role

    def on_unmount(self) -> None:
        self.query_executor.submit(self.ctx.db.close)  # that thread's own connection
        self.query_executor.shutdown(wait=True)

    def on_mount(self) -> None:
        from tui.screens.customer_list import CustomerListScreen

        self.sub_title = _("{db} · {login} ({role})").format(
            db=short_label(self.ctx.db), login=self.ctx.actor.login, role=self.role_label)
        self.push_screen(CustomerListScreen())

    def _wizard_open(self) -> bool:
        """A dialog may sit on top of the wizard: look through the whole stack."""
        from tui.screens.new_customer import NewCustomerScreen

        return any(isinstance(screen, NewCustomerScreen) for screen in self.screen_stack)

    # screen-opening action -> (permissions it needs, module, screen class)
    SCREEN_ACTIONS = {
        "open_register": (("equipment.view",), "tui.screens.equipment_register",
                          "EquipmentRegisterScreen"),
        "open_outbox": (("notify.send",), "tui.screens.outbox", "OutboxScreen"),
        "open_estimates": (("estimate.view",), "tui.screens.estimates", "EstimatesScreen"),
        "open_projects": (("project.view",), "tui.screens.projects", "ProjectsScreen"),
        "open_report": (REPORT_PERMISSIONS, "tui.screens.report", "ReportScreen"),
        "open_audit": (("audit.view",), "tui.screens.audit", "AuditScreen"),
    }

    def may_open(self, action: str) -> bool:
        """Whether the role may see the screen ``action`` opens (the palette asks too)."""
        return all(self.ctx.actor.can(p) for p in self.SCREEN_ACTIONS[action][0])

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "new_customer":
            if self._wizard_open():
                return False
            actor = self.ctx.actor
            return actor.can("customer.create")
        if action == "explain_new_customer":
            # An estimator makes customers only from inside an estimate: the key, hidden,
            # says where instead of doing nothing.
            actor = self.ctx.actor
            return (not actor.can("customer.create")
                    and actor.can("customer.create_in_estimate"))
        if action in self.SCREEN_ACTIONS:
            return self.may_open(action) and not self._dialog_on_top()
        if action in ("open_import", "export_data"):  # a refused role is told why (the action)
            return not self._dialog_on_top()
        if action == "open_import_jobs":
            return (self.ctx.actor.can("data.import") and not self._dialog_on_top()
                    and not self._import_running())
        return True

    def _dialog_on_top(self) -> bool:
        """A dialog is open: screens do not open over it. Help does not count: it lists the
        keys of the screen under it, F3 and the like included (Textual does not pass them
        to the app while a modal screen is up, so they cannot act from the help itself)."""
        from tui.screens.help import HelpScreen

        return isinstance(self.screen, ModalScreen) and not isinstance(self.screen, HelpScreen)

    def _import_running(self) -> bool:
        """An import is writing: its job must not be undone from the jobs list meanwhile."""
        from tui.screens.import_data import ImportScreen

        return any(isinstance(screen, ImportScreen) and screen.running
                   for screen in self.screen_stack)

    def _open(self, action: str, *args) -> None:
        """Push the screen, unless it is the one on top already (F3 twice is harmless)."""
        import importlib

        _permission, module, name = self.SCREEN_ACTIONS[action]
        screen_type = getattr(importlib.import_module(module), name)
        if not isinstance(self.screen, screen_type):
            self.push_screen(screen_type(*args))

    def action_open_register(self) -> None:
        self._open("open_register")

    def action_open_outbox(self) -> None:
        self._open("open_outbox")

    def action_open_estimates(self) -> None:
        self._open("open_estimates")

    def action_open_projects(self) -> None:
        self._open("open_projects")

    def action_open_report(self) -> None:
        self._open("open_report")

    def action_open_audit(self) -> None:
        self._open("open_audit")

    def action_open_import(self) -> None:
        """The import screen, unless the role may import nothing (then the service says why)."""
        from tui.screens.import_data import ImportScreen, import_refusal

        refusal = import_refusal(self.ctx)
        if refusal:
            self.notify(refusal, title=_("Import"), severity="error", markup=False)
        elif not isinstance(self.screen, ImportScreen):
            self.push_screen(ImportScreen())

    def action_open_import_jobs(self) -> None:
        from tui.domain.errors import PermissionDenied
        from tui.domain.permissions import require
        from tui.screens.import_jobs import ImportJobsScreen

        try:
            require(self.ctx.actor, "data.import")
        except PermissionDenied as error:
            self.notify(str(error), title=_("Import jobs"), severity="error", markup=False)
            return
        if not isinstance(self.screen, ImportJobsScreen) and not self._import_running():
            self.push_screen(ImportJobsScreen())

    def action_export_data(self) -> None:
        from tui.domain.errors import PermissionDenied
        from tui.domain.permissions import require
        from tui.widgets.export_dialog import ExportDialog

        try:
            require(self.ctx.actor, "data.export")
        except PermissionDenied as error:
            self.notify(str(error), title=_("Export"), severity="error", markup=False)
            return
        self.push_screen(ExportDialog())

    def action_open_machine(self, equipment_id: int) -> None:
        from tui.screens.machine import MachineScreen

        self.push_screen(MachineScreen(equipment_id))

    def action_explain_new_customer(self) -> None:
        self.notify(_("Your role makes new customers from an estimate only: F7 opens the "
                      "estimates, then F8 in an estimate."), markup=False)

    def action_new_customer(self) -> None:
        from tui.screens.new_customer import NewCustomerScreen

        if not self._wizard_open():
            self.push_screen(NewCustomerScreen())

    def action_open_customer(self, customer_id: int) -> None:
        from tui.screens.customer import CustomerScreen

        self.push_screen(CustomerScreen(customer_id))

    def action_help(self) -> None:
        from tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())
