"""The command palette: main actions and "open customer" by name, searched in SQL."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from tui.domain.services.search import search_customers
from tui.i18n import _


class ClientbookCommands(Provider):
    def _actions(self):
        """The main actions, those of the customer on screen first; only what the role may do."""
        app = self.app
        actions = []
        if hasattr(self.screen, "palette_actions"):
            actions.extend(self.screen.palette_actions())
        if app.check_action("new_customer", ()):
            actions.append((_("New customer"), app.action_new_customer))
        if app.check_action("open_register", ()):
            actions.append((_("Equipment register: every machine and who holds it"),
                            app.action_open_register))
        if app.check_action("open_outbox", ()):
            actions.append((_("Outbox: e-mails pending, sent and failed"), app.action_open_outbox))
        actions.append((_("Help: list the keys"), app.action_help))
        return actions

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
