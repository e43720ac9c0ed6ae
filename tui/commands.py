"""The command palette: main actions and "open customer" by name, searched in SQL."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.screen import ModalScreen

from tui.domain.services.search import search_customers
from tui.i18n import _


class ClientbookCommands(Provider):
    def _actions(self):
        """The main actions, those of the customer on screen first; only what the role may do.

        Asked with the palette open: ``app.check_action`` would see the palette (a modal
        screen) on top and refuse every screen-opening action, so this asks the role, and
        whether the palette was opened over a dialog, itself.
        """
        app = self.app
        can = app.ctx.actor.can
        actions = []
        if hasattr(self.screen, "palette_actions"):
            actions.extend(self.screen.palette_actions())
        if app.check_action("new_customer", ()):
            actions.append((_("New customer"), app.action_new_customer))
        if not isinstance(self.screen, ModalScreen):
            actions.extend(self._screen_actions(can))
        actions.append((_("Help: list the keys"), app.action_help))
        return actions

    def _screen_actions(self, can):
        app = self.app
        if app.may_open("open_register"):
            yield (_("Equipment register: every machine and who holds it"),
                   app.action_open_register)
        if app.may_open("open_outbox"):
            yield _("Outbox: e-mails pending, sent and failed"), app.action_open_outbox
        if app.may_open("open_estimates"):
            yield _("Estimates: search, open, new"), app.action_open_estimates
        if app.may_open("open_projects"):
            yield _("Projects: open and closed, with their contacts"), app.action_open_projects
        if app.may_open("open_report"):
            yield _("Report: customers, contacts, machines, estimates by group or segment"), \
                app.action_open_report
        if app.may_open("open_audit"):
            yield _("Audit trail: who changed what, restore a deleted customer"), \
                app.action_open_audit
        if can("data.import"):
            from tui.screens.import_data import import_refusal

            if import_refusal(app.ctx) is None:
                yield (_("Import customers/contacts/equipment from CSV…"),
                       app.action_open_import)
            if not app._import_running():  # its job must not be undone meanwhile
                yield _("Import jobs: past imports, undo one"), app.action_open_import_jobs
        if can("data.export"):
            yield (_("Export customers/contacts/equipment to CSV, JSON or vCard…"),
                   app.action_export_data)

    async def discover(self) -> Hits:
        for label, callback in self._actions():
            yield DiscoveryHit(label, callback)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for label, callback in self._actions():
            score = matcher.match(label)
            if score > 0:
                yield Hit(score, matcher.highlight(label), callback)
        if not query.strip() or not self.app.ctx.actor.can("customer.view"):
            return
        page = search_customers(self.app.ctx, query, limit=8)
        for row in page.rows:
            label = _("Open customer: {name}").format(name=row.name)
            yield Hit(0.5, label, partial(self.app.action_open_customer, row.id),
                      help=row.city or None)
