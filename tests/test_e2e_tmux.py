"""End to end through a real terminal: the installed ``clientbook`` app driven by keys in tmux.

One journey a new user makes on day one: create a customer with the wizard (company,
segment, two contacts), land on it, assign it the one machine of the fleet from the
Equipment tab, quit; then read the database file itself to see that all of it was stored.

Only keys reach the app (``tmux send-keys``) and only the screen text comes back
(``tmux capture-pane``). Every step waits for what it expects to see, up to a deadline,
never for a fixed time, so the test holds on a busy machine; a failure shows the last screen.

Where the screen text alone does not tell which field has the focus, the terminal cursor
does: Textual keeps it on the focused Input (hidden, but tmux reports where it is). A key
sent before the focus has moved would land in the field that had it (keys are forwarded
to the focused widget before a previous Tab has been handled), hence: one key at a time,
then wait for the focus to arrive.

The run is isolated like tests/test_cli.py: HOME, XDG_DATA_HOME and TMPDIR in tmp_path,
no inherited CLIENTBOOK_* variable, messages in English, its own tmux server (a unique
``-L`` socket, no ~/.tmux.conf), killed whatever happens.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

CLIENTBOOK = Path(sys.executable).with_name("clientbook")
TMUX = shutil.which("tmux")
WIDTH, HEIGHT = 80, 24
DEADLINE = 15.0  # seconds for any one expectation
START_DEADLINE = 30.0  # the first paint imports Textual and opens the database

pytestmark = [
    pytest.mark.skipif(TMUX is None, reason="tmux is not installed: the end-to-end test "
                                            "drives the app in a tmux pane"),
    pytest.mark.skipif(not CLIENTBOOK.is_file(),
                       reason=f"the clientbook console script is not installed next to "
                              f"{sys.executable} (install the project with `pip install -e .`)"),
]

COMPANY = "Fjord Hoist ApS"
COMPANY_PHONE = "33445566"  # national Danish numbers: the billing country reads them
CONTACTS = [("Ingrid Holm", "ingrid@fjordhoist.dk", "20304050"),
            ("Mads Lund", "mads@fjordhoist.dk", "40506070")]
SERIAL = "E2E-SN-77421"
SERIAL_PART = "77421"


def my_login() -> str:
    """The OS login the app acts as (same rule as tui.domain.context.os_login)."""
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return f"uid{os.geteuid()}"


ME = my_login()


def app_env(home: Path) -> dict[str, str]:
    """Nothing inherited that could pick a database, a config, a language, a tmux server
    or Textual's devtools."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CLIENTBOOK_", "TMUX", "TEXTUAL"))
           and k not in ("LC_ALL", "LC_MESSAGES", "LANG")}
    env.update(HOME=str(home), XDG_DATA_HOME=str(home / "data"), TMPDIR=str(home),
               CLIENTBOOK_LANG="en")
    return env


# -- the terminal ---------------------------------------------------------------------------


class Terminal:
    """One tmux server with one 80x24 pane running a command; keys in, screen text out."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.socket = f"clientbook-e2e-{os.getpid()}-{secrets.token_hex(4)}"
        self.status_file: Path | None = None
        self.last_screen = ""

    def tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run([TMUX, "-L", self.socket, "-f", os.devnull, *args],
                              env=self.env, stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=30, check=check)

    def start(self, argv: list[str], cwd: Path) -> None:
        """Run ``argv`` in the pane; its exit status goes to ``cwd/exit-status``.

        tmux 3.3a's ``#{pane_dead_status}`` stays empty in about one exit in three (the
        pane is marked dead on end of output before the child is reaped), so a shell
        writes the status. remain-on-exit keeps the last screen (a traceback) readable.
        """
        self.status_file = cwd / "exit-status"
        self.tmux("start-server", ";", "set-option", "-g", "remain-on-exit", "on", ";",
                  "new-session", "-d", "-x", str(WIDTH), "-y", str(HEIGHT), "-c", str(cwd),
                  "/bin/sh", "-c", '"$@"; echo "$?" > "$0"', str(self.status_file), *argv)

    def exit_status(self) -> int | None:
        """The command's exit status once it has ended, else None."""
        if self.status_file is None:
            return None
        try:
            text = self.status_file.read_text()
        except FileNotFoundError:
            return None
        return int(text) if re.fullmatch(r"\d+\n", text) else None

    def kill(self) -> None:
        """Stop this test's server (and the app in it); tmux leaves its socket file behind."""
        socket = self.tmux("display-message", "-p", "#{socket_path}", check=False).stdout.strip()
        self.tmux("kill-server", check=False)
        if socket.endswith(self.socket):
            Path(socket).unlink(missing_ok=True)

    def show(self, fmt: str) -> str:
        return self.tmux("display-message", "-p", fmt).stdout.rstrip("\n")

    def screen(self, *, styled: bool = False) -> str:
        """The pane's text now; ``styled`` keeps the colour and attribute escape codes."""
        text = self.tmux("capture-pane", "-p", *(["-e"] if styled else [])).stdout
        self.last_screen = ESCAPE.sub("", text) if styled else text
        return text

    def cursor_line(self) -> str:
        """The screen line holding the terminal cursor: the focused Input's row."""
        row = int(self.show("#{cursor_y}"))
        lines = self.screen().splitlines()
        return lines[row] if row < len(lines) else ""

    def key(self, name: str) -> None:
        """One key (tmux name: Tab, F9, C-n, Space, Down, Enter...), alone in its write."""
        self.tmux("send-keys", name)

    def type(self, text: str) -> None:
        """Plain characters, literally, into whatever has the focus."""
        self.tmux("send-keys", "-l", "--", text)

    def wait(self, condition: Callable[[], object], what: str,
             seconds: float = DEADLINE) -> None:
        deadline = time.monotonic() + seconds
        while True:
            try:
                if condition():
                    return
            except subprocess.CalledProcessError:
                pass  # e.g. the pane went away; reported below with the last screen
            if time.monotonic() > deadline:
                ended = self.exit_status()
                raise AssertionError(
                    f"timed out after {seconds:.0f} s waiting for {what}"
                    + ("" if ended is None else f" (the app exited with status {ended})")
                    + f"; last screen:\n{self.last_screen}")
            time.sleep(0.05)

    def wait_text(self, *texts: str, seconds: float = DEADLINE) -> str:
        """Wait until every text is on the screen; returns that screen."""
        self.wait(lambda: all(t in self.screen() for t in texts),
                  " and ".join(repr(t) for t in texts), seconds)
        return self.last_screen

    def wait_lines(self, *patterns: str) -> str:
        """Wait until each regular expression matches a line of the screen; returns it."""
        self.wait(lambda: all(re.search(p, self.screen(), re.M) for p in patterns),
                  "lines matching " + ", ".join(repr(p) for p in patterns))
        return self.last_screen

    def wait_gone(self, text: str) -> None:
        self.wait(lambda: text not in self.screen(), f"{text!r} to go away")

    def wait_focus(self, pattern: str, what: str) -> None:
        """Wait until the cursor (the focused Input) is on a line matching ``pattern``."""
        self.wait(lambda: re.search(pattern, self.cursor_line()), f"the focus on {what}")

    def wait_highlighted(self, label: str) -> None:
        """Wait until ``label`` is drawn bold: the cursor of a focused RadioSet is on it."""
        self.wait(lambda: drawn_bold(self.screen(styled=True), label),
                  f"{label!r} to be highlighted")


SGR = re.compile(r"\x1b\[([0-9;]*)m")
ESCAPE = re.compile(r"\x1b(?:\[[0-9;:?]*[A-Za-z]|\][^\x07\x1b]*(?:\x07|\x1b\\))")


def drawn_bold(styled_screen: str, label: str) -> bool:
    """Whether ``label`` appears somewhere right after escape codes that leave it bold."""
    for match in re.finditer(r"((?:\x1b\[[0-9;]*m)+) ?" + re.escape(label), styled_screen):
        bold = False
        for codes in SGR.findall(match.group(1)):
            params = codes.split(";") if codes else ["0"]
            index = 0
            while index < len(params):
                param = params[index]
                if param in ("38", "48", "58"):  # a colour: skip its arguments
                    index += 3 if params[index + 1:index + 2] == ["5"] else 5
                    continue
                if param in ("0", ""):
                    bold = False
                elif param == "1":
                    bold = True
                elif param == "22":
                    bold = False
                index += 1
        if bold:
            return True
    return False


# -- the data -------------------------------------------------------------------------------


def create_database(db: Path, home: Path) -> None:
    """``clientbook init`` (the real command), then one machine through the domain service."""
    result = subprocess.run([str(CLIENTBOOK), "--db", str(db), "init"], env=app_env(home),
                            cwd=home, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, (result.stdout, result.stderr)

    # No CLI command adds equipment yet: the service does, as the administrator init made.
    from tui.domain.config import load_config
    from tui.domain.context import Actor, Context
    from tui.domain.database import open_database
    from tui.domain.services.equipment import EquipmentDraft, add_equipment

    config = load_config()
    role = config.roles["administrator"]
    database = open_database(db)
    try:
        ctx = Context(database, config, Actor(ME, role.key, role.permissions, ME))
        add_equipment(ctx, EquipmentDraft(serial=SERIAL, name="Scissor lift", make="Genie",
                                          model="GS-1932", type="lift"))
    finally:
        database.close()


def rows(db: Path, sql: str, *params) -> list[tuple]:
    connection = sqlite3.connect(db)
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


# -- the journey ----------------------------------------------------------------------------


def fill_company(term: Terminal) -> None:
    term.key("C-n")
    term.wait_text("Step 1 of 4: Company")
    term.wait_focus(r"^ Company name \*", "the company name")
    term.type(COMPANY)
    term.wait_focus(re.escape(COMPANY), "the typed company name")
    term.key("Tab")
    term.wait_focus(r"^ Phone(?=\s|$)", "the company phone")
    term.type(COMPANY_PHONE)
    term.wait_focus(COMPANY_PHONE, "the typed phone")
    for label in ("E-mail", "Website", "Street", "Postal code", "City", "Country"):
        term.key("Tab")
        term.wait_focus(rf"^ {label}(?=\s|$)", label)
    term.type("DK")
    term.wait_focus(r"^ Country +DK +Denmark", "the country read as Denmark")


def choose_segment(term: Terminal) -> None:
    term.key("F9")
    term.wait_text("Step 2 of 4: Relationship")
    term.wait_highlighted("Dealer")  # the segment radio set has the focus, on its first
    for segment in ("Service provider", "Rental company"):
        term.key("Down")
        term.wait_highlighted(segment)
    term.key("Enter")  # chosen: the review step shows it (and the database has it)


def add_contact(term: Terminal, name: str, email: str, phone: str) -> None:
    term.key("a")
    term.wait_text("Add contact", "Job title")
    for label, value in (("Name \\*", name), ("E-mail", email), ("Phone", phone)):
        if label != "Name \\*":
            term.key("Tab")
        term.wait_focus(rf"█ {label}(?=\s|$)", f"the contact's {label}")
        term.type(value)
        term.wait_focus(re.escape(value), f"the typed {value!r}")
    term.key("C-s")
    term.wait_gone("Job title")  # the dialog closed...
    term.wait_text(name, email)  # ...and the contact is a row of the wizard's table


def assign_machine(term: Terminal) -> None:
    term.key("3")
    term.wait_text("No equipment assigned", "a Assign equipment")  # the tab, with the focus
    term.key("a")
    # The dialog focuses its search box when it mounts, before its first search is shown.
    # (The terminal cursor is not moved there until something is typed, so it cannot tell.)
    term.wait_text(f"Assign equipment to {COMPANY}", "1–1 of 1 unassigned", SERIAL)
    term.type(SERIAL_PART)
    term.wait_focus(rf"▊  {SERIAL_PART} ", "the typed search")
    term.wait_text(SERIAL, "1–1 of 1 unassigned")
    term.key("Down")
    term.wait_text("space Mark")  # offered only while the list has the focus
    term.key("Space")
    term.wait_text("1 selected")
    term.key("Enter")
    term.wait_gone("Space marks, Enter assigns")


def test_new_customer_with_two_contacts_gets_a_machine_by_keys_only(tmp_path):
    home = tmp_path
    db = home / "e2e.db"
    create_database(db, home)
    term = Terminal(app_env(home))
    try:
        term.start([str(CLIENTBOOK), "--db", str(db)], cwd=home)
        assert term.show("#{window_width}x#{window_height}") == f"{WIDTH}x{HEIGHT}"
        term.wait_text("No customers yet", f"{db.name} · {ME}", seconds=START_DEADLINE)

        fill_company(term)
        choose_segment(term)
        term.key("F9")
        term.wait_text("Step 3 of 4: Contacts", "Add contact (a)")
        for contact in CONTACTS:
            add_contact(term, *contact)
        term.key("F9")
        term.wait_text("Step 4 of 4: Review")
        term.wait_lines(rf"^ Company name +{COMPANY}$", r"^ Phone +33 44 55 66$",
                        r"^ Relationship +Rental company$", r"^ Contacts +2$",
                        rf"^ Contact 1 +{CONTACTS[0][0]}$", rf"^ +{CONTACTS[0][1]} · 20 30 40 50$",
                        rf"^ Contact 2 +{CONTACTS[1][0]}$", rf"^ +{CONTACTS[1][1]} · 40 50 60 70$",
                        r"\^s Save")
        term.key("C-s")
        # Saved: the app opens the new customer (its name in the header, the tabs below).
        term.wait_text(f"{COMPANY} — {db.name}", "Details  Contacts  Equipment")
        term.wait_text("e Edit")  # the Details tab took the focus: keys reach the screen

        assign_machine(term)
        term.wait_lines(rf"{COMPANY} — {db.name}", r"^ ✓ +Serial +Name +Make / model +Since$",
                        rf"^ +{SERIAL} +Scissor lift +Genie GS-1932 +\d{{1,2}}/\d{{1,2}}/\d{{4}}$",
                        r"^ 1 machine\b")

        term.key("C-q")
        term.wait(lambda: term.exit_status() is not None, "the app to exit")
        log = home / "clientbook-error.log"
        assert term.exit_status() == 0, (term.exit_status(), term.screen(),
                                         log.read_text() if log.exists() else "")
    finally:
        term.kill()

    # What the keys did, read from the file itself.
    (customer_id, name, segment, phone, created_by), = rows(
        db, "SELECT id, name, segment, phone, created_by FROM customer")
    assert (name, segment, phone, created_by) == (COMPANY, "rental_company", "+4533445566", ME)
    contacts = rows(db, "SELECT name, email, phone FROM contact WHERE customer_id = ? "
                        "ORDER BY name", customer_id)
    assert contacts == [(name, email, "+45" + phone) for name, email, phone in CONTACTS]
    assignments = rows(db, "SELECT e.serial, a.customer_name, a.assigned_by FROM assignment a "
                           "JOIN equipment e ON e.id = a.equipment_id "
                           "WHERE a.customer_id = ? AND a.unassigned_at IS NULL", customer_id)
    assert assignments == [(SERIAL, COMPANY, ME)]
    assert rows(db, "SELECT count(*) FROM assignment") == [(1,)]


def test_a_french_session_gets_the_app_in_french(tmp_path):
    """LANG=fr_FR.UTF-8 and nothing else: the list, the wizard and the customer's tabs are in
    French (texts taken from the French catalog), and the customer is stored all the same."""
    from tui import i18n

    french = i18n.catalog("fr").gettext
    home = tmp_path
    db = home / "fr.db"
    create_database(db, home)
    env = {k: v for k, v in app_env(home).items() if k != "CLIENTBOOK_LANG"}
    env["LANG"] = "fr_FR.UTF-8"
    empty = french("No customers yet: press Ctrl+N to add one.")
    step = french("Step {number} of {total}: {title}")
    tabs = "  ".join(french(tab) for tab in ("Details", "Contacts", "Equipment"))
    assert empty != "No customers yet: press Ctrl+N to add one." and tabs.startswith("Détails")
    term = Terminal(env)
    try:
        term.start([str(CLIENTBOOK), "--db", str(db)], cwd=home)
        term.wait_text(empty, f"{db.name} · {ME}", seconds=START_DEADLINE)
        term.wait_text(f"f1 {french('Help')}")
        term.key("C-n")
        term.wait_text(step.format(number=1, total=4, title=french("Company")))
        term.wait_focus(rf"^ {re.escape(french('Company name'))} \*", "the company name")
        term.type("Chantiers du Nord")
        term.wait_focus("Chantiers du Nord", "the typed company name")
        term.key("F9")
        term.wait_text(step.format(number=2, total=4, title=french("Relationship")))
        term.key("F9")
        term.wait_text(step.format(number=3, total=4, title=french("Contacts")))
        term.key("F9")
        term.wait_text(step.format(number=4, total=4, title=french("Review")))
        term.key("C-s")
        term.wait_text(f"Chantiers du Nord — {db.name}", tabs)
        term.key("C-q")
        term.wait(lambda: term.exit_status() is not None, "the app to exit")
        assert term.exit_status() == 0, term.screen()
    finally:
        term.kill()
    assert rows(db, "SELECT name FROM customer") == [("Chantiers du Nord",)]
