"""Projects of every customer (construction seed), open ones by default.

``s`` cycles the state filter (open, closed, all); typing in the search box filters by
project or customer name, in SQL on the app's query thread, a page at a time. Those who
may change projects add (``n``: pick the customer, then the form), edit (``e``), close
(``c``), reopen (``r``) and delete (``d``) them; everybody else only sees them (the
service refuses anyway). A closed project takes no change until it is reopened: the
refusal is told at once rather than after typing in a form.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from functools import partial

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, Static

from tui.domain.errors import ClientbookError
from tui.domain.services.customers import get_customer
from tui.domain.locale_format import format_date, format_number
from tui.domain.services.estimates import format_amount, minor_to_field
from tui.domain.services.projects import (CONTACT_PLACES, ProjectClosed, ProjectDraft,
                                          ProjectPage, ProjectRow, close_project,
                                          contacts_for_project, create_project, delete_project,
                                          get_project, list_projects, place_label,
                                          reopen_project, state_label, update_project)
from tui.i18n import N_, _, current_language
from tui.bindings import TranslatedBindings
from tui.lock_wait import waits_for_lock
from tui.widgets.confirm import ConfirmDialog
from tui.widgets.footer import KeysFooter
from tui.widgets.paged_table import PagedTable
from tui.widgets.permitted import permitted
from tui.widgets.pick_customer import PickCustomerDialog
from tui.widgets.project_form import ProjectFormDialog

PAGE_SIZE = 100
STATE_FILTERS: tuple[str | None, ...] = ("open", "closed", None)  # None: both
CHANGING = ("new", "edit", "close", "reopen", "delete")


def filter_label(state: str | None) -> str:
    return {"open": _("Open projects"), "closed": _("Closed projects")}.get(
        state or "", _("All projects"))


def day(value) -> str:
    """A date in the operator's locale ("" for none)."""
    return "" if value is None else format_date(value)


class ProjectTable(PagedTable):
    """A page of projects."""


class ProjectsScreen(TranslatedBindings, Screen):
    CSS_PATH = "projects.tcss"
    AUTO_FOCUS = "#projects"

    BINDINGS = [
        Binding("slash", "focus_search", N_("Search"), id="projects.search", show=False),
        Binding("n", "new", N_("New"), id="projects.new"),
        Binding("e", "edit", N_("Edit"), id="projects.edit"),
        # one key per state change; check_action offers the one that fits the row
        Binding("c", "close", N_("Close"), id="projects.close"),
        Binding("r", "reopen", N_("Reopen"), id="projects.reopen"),
        Binding("d,delete", "delete", N_("Delete"), id="projects.delete"),
        Binding("s", "cycle_state", N_("State"), id="projects.state"),
        Binding("escape", "back", N_("Back"), id="projects.back"),
        Binding("ctrl+pagedown", "page(1)", N_("Next page"), id="projects.next_page",
                show=False),
        Binding("ctrl+pageup", "page(-1)", N_("Previous page"), id="projects.previous_page",
                show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.state: str | None = "open"
        self.page_start = 0
        self.page: ProjectPage | None = None
        self._cursor_after_load: int | str = 0
        self._request = 0  # the newest search asked for; older ones are skipped

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder=_("Search project or customer name… (/)"), id="projects-search")
        yield ProjectTable(id="projects", cursor_type="row", zebra_stripes=True)
        yield Static(id="projects-detail", markup=False)
        yield Static(id="projects-status", markup=False)
        yield KeysFooter()

    def on_mount(self) -> None:
        self.title = _("Projects")
        table = self.query_one(ProjectTable)
        # 80 columns: widths + 2 cells of padding each + the scrollbar.
        table.add_column(_("Project"), key="name", width=17)
        table.add_column(_("Customer"), key="customer", width=17)
        table.add_column(_("Deadline"), key="deadline", width=10)
        table.add_column(_("Budget"), key="budget", width=17)
        table.add_column(_("State"), key="state", width=6)
        self.reload()

    # -- loading ---------------------------------------------------------------------------
    def reload(self, *, keep_cursor: bool = False) -> None:
        table = self.query_one(ProjectTable)
        if keep_cursor and table.row_count:
            self._cursor_after_load = table.cursor_row
        self.load_page(self.query_one("#projects-search", Input).value, self.state,
                       self.page_start)

    @work(exclusive=True, group="projects-search")
    async def load_page(self, text: str, state: str | None, start: int) -> None:
        self._request += 1
        request = self._request
        search = partial(list_projects, self.app.ctx, state, search=text, limit=PAGE_SIZE,
                         offset=start)

        def run_if_still_wanted() -> ProjectPage | None:
            return search() if request == self._request else None

        try:
            page = await asyncio.get_running_loop().run_in_executor(self.app.query_executor,
                                                                    run_if_still_wanted)
        except ClientbookError as error:
            self.query_one("#projects-status", Static).update(str(error))
            return
        if page is not None and request == self._request and self.is_attached:
            self.show_page(page)

    def show_page(self, page: ProjectPage) -> None:
        self.page = page
        table = self.query_one(ProjectTable)
        table.clear()
        for row in page.rows:
            budget = ("" if row.budget_minor is None
                      else format_amount(row.budget_minor, row.currency))
            table.add_row(Text(row.name), Text(row.customer_name),
                          Text(day(row.submission_deadline)), Text(budget, justify="right"),
                          Text(state_label(row.state), style="dim" if row.closed else ""),
                          key=str(row.id))
        if page.rows:
            wanted, last = self._cursor_after_load, len(page.rows) - 1
            table.move_cursor(row=last if wanted == "last" else min(int(wanted), last),
                              animate=False)
        self._cursor_after_load = 0
        self.show_status()

    def show_status(self) -> None:
        page = self.page
        if page is None:
            return
        if not page.total:
            text = (_("No project matches.") if self.query_one("#projects-search", Input).value
                    else _("No projects here."))
            if self.state is not None:
                text += " " + _("s shows other states.")
        else:
            text = _("{first}–{last} of {total} · {state} (s)").format(
                first=format_number(page.offset + 1),
                last=format_number(page.offset + len(page.rows)),
                total=format_number(page.total), state=filter_label(self.state))
        self.query_one("#projects-status", Static).update(text)
        self.query_one("#projects-detail", Static).update(self.detail_text(self.cursor_row()))
        self.refresh_bindings()

    def detail_text(self, row: ProjectRow | None) -> Text:
        if row is None:
            return Text("")
        text = Text(_("Starts {start} · ends {end}").format(start=day(row.starts_on) or "—",
                                                           end=day(row.ends_on) or "—"))
        if row.closed:
            text.append("  " + _("closed: reopen it to change it"), style="italic")
        roles, language = self.app.ctx.config.contact_roles, current_language()
        names = (row.submission_contact, row.billing_contact, row.execution_contact)
        shown = []
        for place, name in zip(CONTACT_PLACES, names):
            role = roles.get(CONTACT_PLACES[place])
            label = role.label_for(language) if role else place_label(place)
            shown.append(_("{role}: {name}").format(role=label, name=name or "—"))
        text.append("\n" + " · ".join(shown), style="dim")
        return text

    def cursor_row(self) -> ProjectRow | None:
        if self.page is None:
            return None
        table = self.query_one(ProjectTable)
        if not table.row_count:
            return None
        row_key, _column = table.coordinate_to_cell_key(table.cursor_coordinate)
        wanted = int(row_key.value)
        return next((row for row in self.page.rows if row.id == wanted), None)

    # -- keys for this role and this row -----------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in CHANGING and not self.app.ctx.actor.can("project.edit"):
            return False  # limited users see projects; they do not change them
        if action in ("edit", "close", "reopen", "delete"):
            row = self.cursor_row()
            if row is None:
                return None if action != "reopen" else False
            if action == "close" and row.closed:
                return False
            if action == "reopen":
                return row.closed
        return True

    @on(DataTable.RowHighlighted, "#projects")
    def row_highlighted(self) -> None:
        self.show_status()

    # -- events ----------------------------------------------------------------------------
    @on(Input.Changed, "#projects-search")
    def search_changed(self) -> None:
        self.page_start = 0
        self.reload()

    @on(Input.Submitted, "#projects-search")
    def search_submitted(self) -> None:
        self.query_one(ProjectTable).focus()

    @on(DataTable.RowSelected, "#projects")
    def row_selected(self) -> None:
        if self.check_action("edit", ()):
            self.action_edit()

    @on(ProjectTable.PageRequested)
    def page_requested(self, event: ProjectTable.PageRequested) -> None:
        self._cursor_after_load = 0 if event.step > 0 else "last"
        self.action_page(event.step)

    def on_screen_resume(self) -> None:
        if self.page is not None:
            self.reload(keep_cursor=True)

    # -- actions ---------------------------------------------------------------------------
    def action_focus_search(self) -> None:
        self.query_one("#projects-search", Input).focus()

    def action_back(self) -> None:
        if self.focused is self.query_one("#projects-search", Input):
            self.query_one(ProjectTable).focus()  # Escape leaves the search box first
        else:
            self.app.pop_screen()

    def action_cycle_state(self) -> None:
        self.state = STATE_FILTERS[(STATE_FILTERS.index(self.state) + 1) % len(STATE_FILTERS)]
        self.page_start = 0
        self.reload()

    def action_page(self, step: int) -> None:
        if self.page is None:
            return
        start = self.page_start + step * PAGE_SIZE
        if start < 0 or start >= max(self.page.total, 1) or (step > 0 and not self.page.rows):
            return
        self.page_start = start
        self.reload()

    def changed(self, message: str) -> None:
        self.notify(message, markup=False)
        self.reload(keep_cursor=True)

    def refuse_if_closed(self, row: ProjectRow) -> bool:
        """Say at once that a closed project takes no change (the service says the same)."""
        if row.closed:
            self.notify(str(ProjectClosed(row.name)), severity="error", markup=False)
        return row.closed

    def open_form(self, title: str, customer_id: int, currency: str, submit,
                  draft: ProjectDraft | None = None) -> None:
        ctx = self.app.ctx
        try:
            customer = get_customer(ctx, customer_id)
            choices = {place: contacts_for_project(ctx, customer_id, place)
                       for place in CONTACT_PLACES}
        except ClientbookError as error:
            self.notify(str(error), severity="error", markup=False)
            return

        def saved(project) -> None:
            if project is not None:
                self.changed(_("Project {name} saved.").format(name=project.name))
            else:
                self.reload(keep_cursor=True)

        self.app.push_screen(ProjectFormDialog(title, customer.name, currency or customer.currency,
                                               choices, submit, draft=draft), saved)

    def action_new(self) -> None:
        if not permitted(self, "project.edit"):
            return

        def chosen(customer_id: int | str | None) -> None:
            if not isinstance(customer_id, int):
                return
            self.open_form(_("New project"), customer_id, "",
                           partial(create_project, self.app.ctx, customer_id))

        self.app.push_screen(PickCustomerDialog(_("Customer of the new project")), chosen)

    def action_edit(self) -> None:
        row = self.cursor_row()
        if row is None or not permitted(self, "project.edit") or self.refuse_if_closed(row):
            return
        try:
            project = get_project(self.app.ctx, row.id)
        except ClientbookError as error:
            self.notify(str(error), severity="error", markup=False)
            return
        self.open_form(_("Project {name}").format(name=project.name), project.customer_id,
                       project.currency,
                       partial(update_project, self.app.ctx, project.id, project.version),
                       self.draft_of(project))

    @staticmethod
    def draft_of(project) -> ProjectDraft:
        """The project as the form shows it: the budget in the operator's locale."""
        draft = ProjectDraft.from_project(project)
        if project.budget_minor is None:
            return draft
        return replace(draft, budget=minor_to_field(project.budget_minor, project.currency))

    def action_close(self) -> None:
        self._set_state(close_project, _("Project {name} closed."))

    def action_reopen(self) -> None:
        self._set_state(reopen_project, _("Project {name} reopened."))

    def _set_state(self, change, done: str) -> None:
        row = self.cursor_row()
        if row is None or not permitted(self, "project.edit"):
            return
        try:
            project = change(self.app.ctx, row.id, row.version)
        except ClientbookError as error:
            self.notify(str(error), severity="error", markup=False)
            self.reload(keep_cursor=True)
            return
        self.changed(done.format(name=project.name))

    def action_delete(self) -> None:
        row = self.cursor_row()
        if row is None or not permitted(self, "project.edit") or self.refuse_if_closed(row):
            return

        @waits_for_lock
        def answered(self, confirmed: bool | None) -> None:
            if not confirmed:
                return
            try:
                delete_project(self.app.ctx, row.id, row.version)
            except ClientbookError as error:
                self.notify(str(error), severity="error", markup=False)
                self.reload(keep_cursor=True)
                return
            self.changed(_("Project {name} deleted.").format(name=row.name))

        self.app.push_screen(ConfirmDialog(
            _("Delete project {name}?").format(name=row.name),
            _("The project of {customer} is removed (the audit trail keeps a copy).").format(
                customer=row.customer_name), _("Delete")), partial(answered, self))

    def palette_actions(self) -> list[tuple[str, object]]:
        """(label, callback) for the command palette: what this role may do here."""
        offered = []
        if self.check_action("new", ()) is not False:
            offered.append((_("New project"), self.action_new))
        offered.append((_("Cycle the projects' state filter"), self.action_cycle_state))
        return offered
