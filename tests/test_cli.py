"""The ``clientbook`` command end to end: the installed console script, run as a subprocess.

Every run gets its own database file under tmp_path (``--db`` or $CLIENTBOOK_DB), and
HOME / XDG_DATA_HOME / TMPDIR point into tmp_path, so nothing touches the real user's
data folder. The acting user is the OS login of this test process: there is
deliberately no way to impersonate another login, so the tests work with "me".

Exit codes under test: 0 ok, 1 error with ONE line on stderr starting "clientbook: ",
2 usage.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_CONFIG = ROOT / "data" / "clientbook.yaml"
CLIENTBOOK = Path(sys.executable).with_name("clientbook")
DEMO_CUSTOMERS = 30

pytestmark = pytest.mark.skipif(
    not CLIENTBOOK.is_file(),
    reason=f"the clientbook console script is not installed next to {sys.executable} "
           "(install the project with `pip install -e .`)",
)


def my_login() -> str:
    """The OS login the CLI acts as (same rule as tui.domain.context.os_login)."""
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return f"uid{os.geteuid()}"


ME = my_login()


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a run: nothing inherited that could pick a database or config."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CLIENTBOOK_") and k not in ("LC_ALL", "LC_MESSAGES", "LANG")}
    env.update(HOME=str(home), XDG_DATA_HOME=str(home / "data"), TMPDIR=str(home),
               CLIENTBOOK_LANG="en", COLUMNS="200")
    env.update(extra)
    return env


def clientbook(*args: str, db: Path | None, home: Path, cwd: Path | None = None,
               **env: str) -> subprocess.CompletedProcess:
    """Run the real command; ``db=None`` leaves the database to the environment."""
    argv = [str(CLIENTBOOK), *(["--db", str(db)] if db is not None else []), *args]
    result = subprocess.run(argv, env=cli_env(home, **env), cwd=cwd or home,
                            stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            timeout=60)
    # An "unexpected error" is a crash dressed up as a message: always a bug.
    assert "unexpected error" not in result.stderr, (result.stderr,
                                                    _error_log(home))
    return result


def clientbook_each(*arg_lists: tuple[str, ...], db: Path | None, home: Path,
                    **env: str) -> list[subprocess.CompletedProcess]:
    """Independent runs at once (each process mostly imports): the file stays fast."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda args: clientbook(*args, db=db, home=home, **env), arg_lists))


def _error_log(home: Path) -> str:
    log = home / "clientbook-error.log"
    return log.read_text(encoding="utf-8") if log.exists() else ""


def assert_ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, (result.args, result.stdout, result.stderr)
    assert result.stderr == "", result.stderr
    return result


def assert_error(result: subprocess.CompletedProcess, *fragments: str) -> str:
    """Exit 1 with exactly one line on stderr, starting "clientbook: "; returns that line."""
    assert result.returncode == 1, (result.args, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("clientbook: "), line
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    return line


def assert_usage(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 2, (result.args, result.stdout, result.stderr)
    assert "usage: clientbook" in result.stderr
    assert result.stdout == ""


def as_json(result: subprocess.CompletedProcess):
    assert_ok(result)
    return json.loads(result.stdout)


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def db(home: Path) -> Path:
    """A database file that does not exist yet."""
    return home / "x.db"


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """One database made by ``clientbook init``, copied for each test that changes it."""
    home = tmp_path_factory.mktemp("template-home")
    db = home / "template.db"
    assert_ok(clientbook("init", db=db, home=home))
    assert [p.name for p in home.glob("template.db*")] == ["template.db"]  # WAL checkpointed
    return db


@pytest.fixture
def initialized(template: Path, db: Path) -> Path:
    """A fresh database as ``init`` made it: I am its only user, administrator."""
    shutil.copyfile(template, db)
    return db


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, Path]:
    """(database, home) of one demo database shared by the read-only tests."""
    home = tmp_path_factory.mktemp("demo-home")
    db = home / "demo.db"
    result = clientbook("demo", "--customers", str(DEMO_CUSTOMERS), db=db, home=home)
    # The data is created, then the app cannot open (no terminal here): exit 1, one line.
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert f"Demo database created at {db}: {DEMO_CUSTOMERS} customers" in result.stdout
    assert len(result.stderr.splitlines()) == 1 and "clientbook --help" in result.stderr
    assert db.is_file()
    return db, home


@pytest.fixture(scope="module")
def demo_listing(demo) -> list[dict]:
    db, home = demo
    page = as_json(clientbook("customers", "list", "--json", "--limit", "1000", db=db, home=home))
    assert page["total"] == DEMO_CUSTOMERS == len(page["customers"])
    return page["customers"]


def execute(db: Path | str, sql: str, *params) -> list[tuple]:
    """``sql`` (``?`` placeholders) on a connection of its own to the database (a file or a
    PostgreSQL URL: tests/test_cli_import.py runs on both), committed; its rows."""
    if str(db).startswith(("postgresql:", "postgres:")):
        import psycopg2

        connection = psycopg2.connect(str(db))
        try:
            with connection, connection.cursor() as cursor:
                cursor.execute(sql.replace("?", "%s"), params)
                return cursor.fetchall() if cursor.description else []
        finally:
            connection.close()
    connection = sqlite3.connect(db, timeout=10)
    try:
        with connection:
            return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def init_in_process(target: Path | str) -> Path | str:
    """An empty database at the latest schema as ``clientbook init`` leaves it: I am its
    only user, administrator (for PostgreSQL databases the test session made)."""
    from tui.domain.config import load_config
    from tui.domain.database import open_database
    from tui.domain.services.users import register_first_user

    database = open_database(target)
    try:
        assert register_first_user(database, load_config(), ME)
    finally:
        database.close()
    return target


def users_by_login(db: Path, home: Path) -> dict[str, dict]:
    return {u["login"]: u for u in as_json(clientbook("users", "list", "--json", db=db, home=home))}


def stored_users(db: Path) -> dict[str, tuple[str, bool]]:
    """login -> (role, active), read straight from the file (cheaper than a CLI run)."""
    with sqlite3.connect(db) as connection:
        rows = connection.execute("SELECT login, role, active FROM app_user").fetchall()
    connection.close()
    return {login: (role, bool(active)) for login, role, active in rows}


# -- init and where the database lives ------------------------------------------------------


def test_init_creates_the_database_and_makes_me_administrator(db, home):
    result = assert_ok(clientbook("init", db=db, home=home))
    assert db.is_file()
    assert result.stdout.strip() == f"Created {db}; {ME} is its administrator."
    users = as_json(clientbook("users", "list", "--json", db=db, home=home))
    assert users == [{"login": ME, "display_name": ME, "role": "administrator", "active": True}]


def test_init_twice_is_refused_and_leaves_the_database_alone(initialized, home):
    before = initialized.read_bytes()
    result = clientbook("init", db=initialized, home=home)
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "already exists" in result.stderr and str(initialized) in result.stderr
    assert result.stdout == ""
    assert initialized.read_bytes() == before


def test_init_twice_error_line_has_the_clientbook_prefix(initialized, home):
    assert_error(clientbook("init", db=initialized, home=home), "already exists")


def test_init_in_the_default_data_folder_stays_under_home(home):
    """No --db, no $CLIENTBOOK_DB: the data folder comes from HOME/XDG_DATA_HOME (here tmp)."""
    result = assert_ok(clientbook("init", db=None, home=home))
    created = list(home.rglob("clientbook.db"))
    assert len(created) == 1, created
    assert str(created[0]) in result.stdout
    assert_ok(clientbook("customers", "list", db=None, home=home))


def test_database_from_the_environment(home):
    db = home / "from-env.db"
    assert_ok(clientbook("init", db=None, home=home, CLIENTBOOK_DB=str(db)))
    assert db.is_file()
    users = as_json(clientbook("users", "list", "--json", db=None, home=home,
                               CLIENTBOOK_DB=str(db)))
    assert [u["login"] for u in users] == [ME]
    assert [p.name for p in home.rglob("*.db")] == ["from-env.db"]


def test_db_option_wins_over_the_environment(initialized, home):
    other = home / "other.db"
    assert_ok(clientbook("users", "list", db=initialized, home=home, CLIENTBOOK_DB=str(other)))
    assert not other.exists()


# -- bad database paths ---------------------------------------------------------------------


def test_command_on_a_missing_database_says_to_run_init(db, home):
    line = assert_error(clientbook("customers", "list", db=db, home=home), "clientbook init")
    assert str(db) in line
    assert not db.exists()


def test_bare_command_on_a_missing_database_says_to_run_init(db, home):
    assert_error(clientbook(db=db, home=home), "clientbook init")
    assert not db.exists()


def test_db_pointing_at_a_directory(home):
    folder = home / "a-folder"
    folder.mkdir()
    assert_error(clientbook("customers", "list", db=folder, home=home), "is a directory")
    assert_error(clientbook("users", "list", db=folder, home=home), "is a directory")
    assert list(folder.iterdir()) == []


def test_init_on_a_directory_says_it_is_a_directory(home):
    folder = home / "a-folder"
    folder.mkdir()
    assert_error(clientbook("init", db=folder, home=home), "is a directory")


def test_db_in_a_folder_that_does_not_exist(home):
    db = home / "no" / "such" / "folder" / "x.db"
    assert_error(clientbook("customers", "list", db=db, home=home), "clientbook init")
    assert_error(clientbook("init", db=db, home=home), "does not exist", str(db.parent))
    assert not (home / "no").exists()


@pytest.mark.parametrize("content,commands", [
    (b"hello, I am not a database\n" * 40,
     [("customers", "list"), ("users", "list"), ("demo",), (), ("init",)]),
    (bytes(range(256)) * 8, [("customers", "list")]),
], ids=["text", "binary"])
def test_db_pointing_at_a_file_that_is_not_sqlite(home, content, commands):
    db = home / "notes.db"
    db.write_bytes(content)
    for result in clientbook_each(*commands, db=db, home=home):
        if result.args[-1] == "init":  # init refuses any existing file (message checked above)
            assert result.returncode == 1 and "already exists" in result.stderr
        else:
            assert_error(result, str(db), "not a Clientbook database")
    assert db.read_bytes() == content
    assert [p.name for p in home.iterdir() if p.name.startswith("notes")] == ["notes.db"]


def _foreign_sqlite_database(home: Path) -> Path:
    db = home / "other-app.db"
    with sqlite3.connect(db) as connection:
        connection.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        connection.execute("INSERT INTO invoices (total) VALUES (12.5)")
    connection.close()
    return db


def test_db_pointing_at_another_sqlite_database_is_refused(home):
    db = _foreign_sqlite_database(home)
    assert_error(clientbook("customers", "list", db=db, home=home), str(db),
                 "an SQLite file but not a Clientbook database")
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT total FROM invoices").fetchall() == [(12.5,)]
        tables = {name for (name,) in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
    connection.close()
    assert tables == {"invoices"}


def test_db_pointing_at_another_sqlite_database_is_left_unchanged(home):
    db = _foreign_sqlite_database(home)
    before = db.read_bytes()
    assert_error(clientbook("customers", "list", db=db, home=home), "not a Clientbook database")
    assert db.read_bytes() == before


def test_empty_file_is_not_silently_turned_into_an_ownerless_database(home):
    db = home / "touched.db"
    db.touch()
    assert_error(clientbook("customers", "list", db=db, home=home), "clientbook init")
    assert db.stat().st_size == 0


# -- users ----------------------------------------------------------------------------------


def test_users_add_list_set_role_disable_enable(initialized, home):
    db = initialized
    added, added_dave = clientbook_each(
        ("users", "add", "alice", "--role", "estimator", "--name", "Alice"),
        ("users", "add", "dave", "--role", "account_owner"), db=db, home=home)
    assert assert_ok(added).stdout.strip() == "Added alice as estimator."
    assert assert_ok(added_dave).stdout.strip() == "Added dave as account_owner."

    table, listing = clientbook_each(("users", "list"), ("users", "list", "--json"),
                                     db=db, home=home)
    header, *rows = assert_ok(table).stdout.splitlines()
    assert header.split() == ["Login", "Name", "Role", "Active"]
    rows = [row.split() for row in rows]
    assert ["alice", "Alice", "estimator", "yes"] in rows
    assert ["dave", "dave", "account_owner", "yes"] in rows  # no --name: the login
    assert [ME, ME, "administrator", "yes"] in rows and len(rows) == 3
    assert {u["login"]: u for u in as_json(listing)}["alice"] == {
        "login": "alice", "display_name": "Alice", "role": "estimator", "active": True}

    result = assert_ok(clientbook("users", "set-role", "alice", "limited", db=db, home=home))
    assert result.stdout.strip() == "alice is now limited."
    assert stored_users(db)["alice"] == ("limited", True)

    result = assert_ok(clientbook("users", "disable", "alice", db=db, home=home))
    assert result.stdout.strip() == "alice is disabled."
    table = assert_ok(clientbook("users", "list", db=db, home=home)).stdout
    assert ["alice", "Alice", "limited", "no"] in [row.split() for row in table.splitlines()]

    result = assert_ok(clientbook("users", "enable", "alice", db=db, home=home))
    assert result.stdout.strip() == "alice is enabled."
    assert users_by_login(db, home)["alice"] == {
        "login": "alice", "display_name": "Alice", "role": "limited", "active": True}


def test_users_refusals_name_what_is_wrong(initialized, home):
    db = initialized
    assert_ok(clientbook("users", "add", "alice", "--role", "estimator", db=db, home=home))
    unknown_role, bad_login, duplicate, me_again, set_ghost, disable_ghost, enable_ghost, \
        set_unknown_role = clientbook_each(
            ("users", "add", "carol", "--role", "overlord"),
            ("users", "add", "bad login", "--role", "limited"),
            ("users", "add", "alice", "--role", "limited"),
            ("users", "add", ME, "--role", "limited"),
            ("users", "set-role", "ghost", "limited"),
            ("users", "disable", "ghost"),
            ("users", "enable", "ghost"),
            ("users", "set-role", "alice", "overlord"),
            db=db, home=home)
    assert_error(unknown_role, "overlord")
    assert_error(bad_login, "bad login")
    assert_error(duplicate, "alice", "already")
    assert_error(me_again, ME, "already")
    for result in (set_ghost, disable_ghost, enable_ghost):
        assert_error(result, "ghost")
    assert_error(set_unknown_role, "overlord")
    assert stored_users(db) == {ME: ("administrator", True), "alice": ("estimator", True)}


def test_last_administrator_cannot_demote_or_disable_themselves(initialized, home):
    db = initialized
    for result in clientbook_each(("users", "set-role", ME, "limited"), ("users", "disable", ME),
                                  db=db, home=home):
        assert_error(result, ME, "last active user who can manage users")
    assert stored_users(db) == {ME: ("administrator", True)}


def test_permissions_are_enforced_for_the_real_login(initialized, home):
    db = initialized
    assert_ok(clientbook("users", "add", "bob", "--role", "administrator", db=db, home=home))
    result = assert_ok(clientbook("users", "set-role", ME, "limited", db=db, home=home))
    assert result.stdout.strip() == f"{ME} is now limited."

    # Now I am "limited": user management is refused, reading customers is not.
    add_carol, listing, promote_me, customers = clientbook_each(
        ("users", "add", "carol", "--role", "limited"), ("users", "list"),
        ("users", "set-role", ME, "administrator"), ("customers", "list"), db=db, home=home)
    assert_error(add_carol, ME, "not allowed")
    assert_error(listing, ME, "not allowed")
    assert_error(promote_me, ME, "not allowed")
    assert "0 of 0" in assert_ok(customers).stdout

    assert stored_users(db) == {ME: ("limited", True), "bob": ("administrator", True)}


def test_a_disabled_login_is_refused(initialized, home):
    db = initialized
    assert_ok(clientbook("users", "add", "bob", "--role", "administrator", db=db, home=home))
    assert_ok(clientbook("users", "disable", ME, db=db, home=home))
    for result in clientbook_each(("customers", "list"), ("users", "enable", ME), (),
                                  db=db, home=home):
        assert_error(result, ME, "disabled")


def test_unknown_login_acts_with_the_default_role_or_is_refused(initialized, home):
    """Rename my user in the file: I become a login the database does not know."""
    db = initialized
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE app_user SET login = 'someone_else'")
    connection.close()
    strict = home / "strict.yaml"  # a site that refuses unknown logins
    text = SHIPPED_CONFIG.read_text(encoding="utf-8")
    assert "unknown_logins: default" in text
    strict.write_text(text.replace("unknown_logins: default", "unknown_logins: refuse"),
                      encoding="utf-8")
    customers, listing, refused = clientbook_each(
        ("customers", "list"), ("users", "list"), ("--config", str(strict), "customers", "list"),
        db=db, home=home)
    # Shipped config: unknown logins act as the read-only default role.
    assert "0 of 0" in assert_ok(customers).stdout
    assert_error(listing, ME, "not allowed")
    assert_error(refused, ME, "is not a user of this database", "clientbook users add")


# -- customers and the demo -----------------------------------------------------------------


def test_customers_list_on_an_empty_database(initialized, home):
    result = assert_ok(clientbook("customers", "list", db=initialized, home=home))
    assert result.stdout.splitlines()[-1] == "0 of 0 customers"
    page = as_json(clientbook("customers", "list", "--json", db=initialized, home=home))
    assert page == {"total": 0, "offset": 0, "customers": []}


def test_demo_created_the_data(demo, demo_listing):
    db, home = demo
    assert len({c["id"] for c in demo_listing}) == DEMO_CUSTOMERS
    assert all(c["name"] and c["phone"] for c in demo_listing)
    assert sum(c["contacts"] for c in demo_listing) > 0
    assert users_by_login(db, home)[ME]["role"] == "administrator"


def test_demo_again_reuses_the_database(demo):
    db, home = demo
    before = as_json(clientbook("customers", "list", "--json", db=db, home=home))
    result = clientbook("demo", "--customers", "5", db=db, home=home)
    assert result.returncode == 1  # the app needs a terminal; stdin/stdout are not one here
    assert "Reusing" in result.stdout and str(db) in result.stdout
    assert len(result.stderr.splitlines()) == 1 and "clientbook --help" in result.stderr
    assert as_json(clientbook("customers", "list", "--json", db=db, home=home)) == before


def test_customers_list_table_and_paging(demo, demo_listing):
    db, home = demo
    result = assert_ok(clientbook("customers", "list", db=db, home=home))
    lines = result.stdout.splitlines()
    assert lines[0].split()[:2] == ["#", "Name"]
    assert lines[-1] == f"{DEMO_CUSTOMERS} of {DEMO_CUSTOMERS} customers"
    first = demo_listing[0]
    assert lines[1].split()[0] == str(first["id"]) and first["name"] in lines[1]

    result = assert_ok(clientbook("customers", "list", "--limit", "5", db=db, home=home))
    assert result.stdout.splitlines()[-1] == f"5 of {DEMO_CUSTOMERS} customers"
    page = as_json(clientbook("customers", "list", "--json", "--limit", "5", "--offset", "5",
                              db=db, home=home))
    assert page["total"] == DEMO_CUSTOMERS and page["offset"] == 5
    assert [c["id"] for c in page["customers"]] == [c["id"] for c in demo_listing[5:10]]


def _search(demo, *texts: str) -> list[dict]:
    """One JSON page per search text, all found with one big page."""
    db, home = demo
    results = clientbook_each(*(("customers", "list", "--json", "--limit", "1000",
                                 f"--search={text}") for text in texts), db=db, home=home)
    pages = [as_json(result) for result in results]
    for page in pages:
        assert page["total"] == len(page["customers"]) and page["offset"] == 0
    return pages


def _ids(page: dict) -> set[int]:
    return {c["id"] for c in page["customers"]}


def test_search_finds_a_customer_by_name_email_and_phone(demo, demo_listing):
    db, _home = demo
    customer = demo_listing[0]
    word = max((w for w in customer["name"].split() if w.isalpha()), key=len)
    digits = "".join(ch for ch in customer["phone"] if ch.isdigit())
    with sqlite3.connect(db) as connection:
        contact_customer, email = connection.execute(
            "SELECT customer_id, email FROM contact WHERE email != '' ORDER BY id LIMIT 1"
        ).fetchone()
    connection.close()

    by_word, by_lower_word, by_name, by_email, by_phone, nothing = _search(
        demo, word, word.lower(), customer["name"], email, digits[-4:], "zzqxnothingmatches")
    for page in (by_word, by_name, by_phone):
        assert customer["id"] in _ids(page), (page, customer)
        assert page["total"] < DEMO_CUSTOMERS
    assert _ids(by_lower_word) == _ids(by_word)
    assert contact_customer in _ids(by_email) and by_email["total"] < DEMO_CUSTOMERS
    assert nothing == {"total": 0, "offset": 0, "customers": []}


HOSTILE = ['"', "AND", "@", "*", "(", "NEAR(", 'a"b', "a OR b", "^x", "name:x",
           "'; DROP TABLE customer; --", "\\ \u00a0 \U0001f642"]


def test_hostile_search_text_is_plain_text(demo):
    for text, page in zip(HOSTILE, _search(demo, *HOSTILE), strict=True):
        assert 0 <= page["total"] <= DEMO_CUSTOMERS, text
    assert _search(demo, "")[0]["total"] == DEMO_CUSTOMERS  # nothing was dropped


def test_bare_command_without_a_terminal_is_a_clear_error(initialized, home):
    """No command opens the app; with no terminal (stdin is /dev/null) it must not hang."""
    result = clientbook(db=initialized, home=home)
    assert_error(result, "clientbook --help")
    assert result.stdout == ""


# -- configuration --------------------------------------------------------------------------


def _broken_yaml(home: Path) -> Path:
    config = home / "broken.yaml"
    config.write_text("version: 1\nroles:\n\tadministrator: x\n", encoding="utf-8")  # tab: line 3
    return config


def test_broken_config_option_names_file_and_line(initialized, home):
    config = _broken_yaml(home)
    assert_error(clientbook("--config", str(config), "customers", "list",
                            db=initialized, home=home), str(config), "line 3")
    # Also before anything else happens: no database is created for a broken config.
    db = home / "never.db"
    assert_error(clientbook("--config", str(config), "init", db=db, home=home), "line 3")
    assert not db.exists()


def test_broken_config_from_the_environment_names_file_and_line(initialized, home):
    config = _broken_yaml(home)
    assert_error(clientbook("users", "list", db=initialized, home=home,
                            CLIENTBOOK_CONFIG=str(config)), str(config), "line 3")


def test_config_option_wins_over_the_environment(initialized, home):
    config = _broken_yaml(home)
    assert_ok(clientbook("--config", str(SHIPPED_CONFIG), "users", "list",
                         db=initialized, home=home, CLIENTBOOK_CONFIG=str(config)))


def test_config_mistake_names_file_line_and_key(initialized, home):
    text = SHIPPED_CONFIG.read_text(encoding="utf-8")
    lines = text.splitlines()
    number = next(i for i, line in enumerate(lines, 1) if "first_user_role:" in line)
    config = home / "edited.yaml"
    config.write_text(text.replace("first_user_role: administrator", "first_user_role: boss"),
                      encoding="utf-8")
    assert_error(clientbook("--config", str(config), "users", "list", db=initialized, home=home),
                 str(config), f"line {number}", "first_user_role", "boss")


def test_missing_config_file(initialized, home):
    missing = home / "nowhere.yaml"
    assert_error(clientbook("--config", str(missing), "users", "list", db=initialized, home=home),
                 str(missing), "not found")


# -- usage ----------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [
    ("users",), ("customers",), ("nosuchcommand",), ("customers", "list", "--limit", "x"),
    ("users", "add", "alice"), ("users", "set-role", "alice"), ("demo", "--customers", "many"),
    ("--nosuchoption",),
], ids=" ".join)
def test_usage_errors_exit_2(home, args):
    db = home / "x.db"
    assert_usage(clientbook(*args, db=db, home=home))
    assert not db.exists()


def test_help_exits_0(home):
    result = assert_ok(clientbook("--help", db=None, home=home))
    for command in ("init", "demo", "users", "customers"):
        assert command in result.stdout


def test_an_empty_db_option_is_refused_not_taken_as_the_default(initialized, home):
    result = clientbook("--db", "", "customers", "list", db=None, home=home)
    assert_error(result, "empty path")
    assert not (home / "data" / "clientbook").exists()


def test_piped_tables_never_wrap_names(demo):
    db, home = demo
    result = assert_ok(clientbook("customers", "list", "--limit", "30", db=db, home=home,
                                  COLUMNS="40"))
    names = [row["name"] for row in as_json(clientbook("customers", "list", "--limit", "30",
                                                       "--json", db=db, home=home))["customers"]]
    for name in names:
        assert name in result.stdout
