"""One customer: tabs Details, Contacts, Equipment, Admin Documents and Estimates.

Each tab is a pane widget in ``customer_panes/`` with its own bindings, so the
footer shows the keys of the tab you are in.
"""

from __future__ import annotations

from functools import partial

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Header, TabbedContent, TabPane

from tui.domain.errors import NotFound
from tui.domain.services.customers import get_customer
from tui.i18n import N_, _
from tui.bindings import TranslatedBindings
from tui.messages import CustomersChanged
from tui.screens.customer_panes.contacts import ContactsPane
from tui.screens.customer_panes.details import DetailsPane
from tui.screens.customer_panes.documents import DocumentsPane
from tui.screens.customer_panes.equipment import EquipmentPane
from tui.screens.customer_panes.estimates import EstimatesPane
from tui.widgets.footer import KeysFooter


class CustomerScreen(TranslatedBindings, Screen):
    CSS_PATH = [
        "customer.tcss",
        "customer_panes/details.tcss",
        "customer_panes/contacts.tcss",
        "customer_panes/equipment.tcss",
        "customer_panes/documents.tcss",
        "customer_panes/estimates.tcss",
    ]

    BINDINGS = [
        Binding("escape", "back", N_("Back"), id="customer.back"),
        Binding("1", "show_tab('details')", N_("Details"), id="customer.tab_details", show=False),
        Binding("2", "show_tab('contacts')", N_("Contacts"), id="customer.tab_contacts",
                show=False),
        Binding("3", "show_tab('equipment')", N_("Equipment"), id="customer.tab_equipment",
                show=False),
        Binding("4", "show_tab('documents')", N_("Documents"), id="customer.tab_documents",
                show=False),
        Binding("5", "show_tab('estimates')", N_("Estimates"), id="customer.tab_estimates",
                show=False),
    ]

    def __init__(self, customer_id: int) -> None:
        super().__init__()
        self.customer_id = customer_id

    def compose(self) -> ComposeResult:
        yield Header()
        with TabbedContent(initial="details"):
            with TabPane(_("Details"), id="details"):
                yield DetailsPane(self.customer_id)
            with TabPane(_("Contacts"), id="contacts"):
                yield ContactsPane(self.customer_id)
            with TabPane(_("Equipment"), id="equipment"):
                yield EquipmentPane(self.customer_id)
            with TabPane(_("Admin Documents"), id="documents"):
                yield DocumentsPane(self.customer_id)
            with TabPane(_("Estimates"), id="estimates"):
                yield EstimatesPane(self.customer_id)
        yield KeysFooter()

    def on_mount(self) -> None:
        self.refresh_title()

    def refresh_title(self) -> None:
        try:
            customer = get_customer(self.app.ctx, self.customer_id)
        except NotFound:
            return
        self.title = customer.name  # the Header shows it; names are plain text there

    def on_customers_changed(self, message: CustomersChanged) -> None:
        self.refresh_title()
        # the list screen below refreshes when it is shown again

    def on_screen_resume(self) -> None:
        estimates = self.query_one(EstimatesPane)
        if estimates.page is not None:  # back from an estimate: list what was saved there
            estimates.reload()

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    # tab -> (pane class, its actions the command palette offers, with their labels)
    PALETTE_ACTIONS = {
        "details": ("DetailsPane", [("edit", N_("Edit customer")),
                                    ("delete", N_("Delete customer"))]),
        "contacts": ("ContactsPane", [("add", N_("Add contact"))]),
        "equipment": ("EquipmentPane", [("assign", N_("Assign equipment")),
                                        ("history", N_("Assignment history"))]),
        "documents": ("DocumentsPane", [("add", N_("Add admin document"))]),
        "estimates": ("EstimatesPane", [("new", N_("New estimate for this customer"))]),
    }

    def palette_actions(self) -> list[tuple[str, object]]:
        """(label, callback) for the command palette: the tab's own actions this role may do."""
        offered = []
        for tab, (pane_class, actions) in self.PALETTE_ACTIONS.items():
            pane = self.query_one(pane_class)
            for action, label in actions:
                if pane.check_action(action, ()) is not False:
                    offered.append((_(label), partial(self.run_in_tab, tab, pane, action)))
        return offered

    def run_in_tab(self, tab: str, pane, action: str) -> None:
        self.action_show_tab(tab)
        self.call_after_refresh(pane.run_action, action)
