"""``clientbook serve``: the app in a browser, a private demo database per visitor.

The server is the installed ``clientbook`` command, run as a subprocess on a free
loopback port with HOME and TMPDIR in tmp_path (so its sessions folder,
``clientbook-serve-*``, is there to inspect) and $CLIENTBOOK_DB pointing at a real
database that holds "Realco Secret Holdings": no demo session may ever open it.

The browser is Debian's headless Chromium, driven over the Chrome DevTools protocol
(aiohttp's websocket client, already a dependency of textual-serve). What a person sees
is checked two ways:

- a screenshot (``Page.captureScreenshot``), decoded here (8-bit PNG) and required to be
  more than one flat colour;
- the text of the terminal. xterm.js, which textual-serve uses, draws the cells into a
  WebGL or 2D canvas: the page's DOM holds no text, and its accessibility tree is empty
  unless xterm's screenReaderMode is on (textual-serve leaves it off). So before the
  page's own scripts run, the test adds a script (``Page.addScriptToEvaluateOnNewDocument``)
  that keeps a reference to the xterm.js ``Terminal`` that textual.js creates (it does
  ``this.terminal = new Terminal(...)``: a setter on Object.prototype catches that
  assignment) and then reads the terminal's buffer line by line
  (``buffer.active.getLine(y).translateToString()``): the very characters xterm.js draws.

Two tabs are two visitors: each page names its own database in the header
("demo-XXXX.db", the session folder's name), the two differ, and each page shows
customers of its own database file (read directly with sqlite3). Then the ways a
session ends are checked to remove its folder and process: the tab closed, SIGHUP to
the session, the server stopped with SIGTERM, and the server killed outright.

Chromium: when /usr/bin/chromium is missing it is installed once (``apt-get install -y
chromium``, as root, under a file lock for the xdist workers); when that is impossible
the browser test fails saying why, it is never skipped.
"""

from __future__ import annotations

import asyncio
import base64
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import CustomerDraft, actor_for
from tests.test_cli import CLIENTBOOK, ME, SHIPPED_CONFIG, assert_usage, cli_env, clientbook
from tui.domain.config import load_config
from tui.domain.context import Context
from tui.domain.database import open_database
from tui.domain.services.customers import create_customer

pytestmark = pytest.mark.skipif(not CLIENTBOOK.is_file(),
                                reason="the clientbook console script is not installed")

CHROMIUM = Path("/usr/bin/chromium")
REAL_CUSTOMER = "Realco Secret Holdings"
DEMO_CUSTOMERS = 12  # per session: small, so a session starts in about a second


# ----------------------------------------------------------------------------- helpers
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(predicate, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


async def async_wait_for(predicate, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(interval)


def fingerprint(path: Path) -> tuple[int, str]:
    """mtime and content of a database and its -wal/-shm files, if any."""
    digest = hashlib.sha256()
    newest = 0
    for part in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if part.exists():
            newest = max(newest, part.stat().st_mtime_ns)
            digest.update(part.name.encode() + part.read_bytes())
    return newest, digest.hexdigest()


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def session_processes(server_pid: int) -> dict[Path, int]:
    """Session folder -> pid of the app process serving it."""
    found = {}
    for pid in children(server_pid):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"tui.serve_session" in argv and b"--dir" in argv:
            found[Path(argv[argv.index(b"--dir") + 1].decode())] = pid
    return found


def environment_of(pid: int) -> dict[str, str]:
    pairs = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(p.decode(errors="replace").split("=", 1) for p in pairs if b"=" in p)


def open_files(pid: int) -> set[str]:
    names = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            names.add(os.readlink(fd))
        except OSError:
            pass
    return names


def customer_names(database: Path) -> set[str]:
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        return {name for (name,) in connection.execute("SELECT name FROM customer")}
    finally:
        connection.close()


def png_summary(data: bytes) -> tuple[int, int, int, float]:
    """(width, height, distinct colours, share of the commonest colour) of an 8-bit PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width = height = colour_type = None
    idat = b""
    position = 8
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour_type, _c, _f, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and interlace == 0 and colour_type in (2, 6), (depth, colour_type)
        elif kind == b"IDAT":
            idat += body
        position += 12 + length
    channels = 3 if colour_type == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    previous = bytearray(stride)
    counts: dict[bytes, int] = {}
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for x in range(stride):
            a = line[x - channels] if x >= channels else 0
            b = previous[x]
            c = previous[x - channels] if x >= channels else 0
            if kind == 1:
                line[x] = (line[x] + a) & 255
            elif kind == 2:
                line[x] = (line[x] + b) & 255
            elif kind == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        for x in range(0, stride, channels * 4):  # every 4th pixel is plenty
            pixel = bytes(line[x:x + 3])
            counts[pixel] = counts.get(pixel, 0) + 1
        previous = line
    total = sum(counts.values())
    return width, height, len(counts), max(counts.values()) / total


# ----------------------------------------------------------------------------- chromium
def ensure_chromium() -> Path:
    """/usr/bin/chromium, installed from Debian's packages if missing (once, under a lock)."""
    with open(Path("/tmp") / "clientbook-test-chromium.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if CHROMIUM.exists():
            return CHROMIUM
        if os.geteuid() != 0:
            pytest.fail(f"{CHROMIUM} is missing and this test is not root, so it cannot "
                        "`apt-get install chromium`: install Debian's chromium package")
        attempts = []
        for argv in (["apt-get", "install", "-y", "-q", "chromium"],
                     ["apt-get", "update", "-q"],
                     ["apt-get", "install", "-y", "-q", "chromium"]):
            result = subprocess.run(argv, capture_output=True, text=True, timeout=900,
                                    env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
            attempts.append(f"$ {' '.join(argv)} -> {result.returncode}\n{result.stderr[-800:]}")
            if argv[1] == "install" and result.returncode == 0 and CHROMIUM.exists():
                return CHROMIUM
        pytest.fail("could not install Debian's chromium for the browser test:\n"
                    + "\n".join(attempts))


@pytest.fixture(scope="session")
def chromium_binary() -> Path:
    return ensure_chromium()


# The page's scripts create the xterm.js Terminal as `this.terminal = new Terminal(...)`:
# this setter keeps every such terminal in window.__terminals (see the module docstring).
KEEP_TERMINAL = """
Object.defineProperty(Object.prototype, 'terminal', {
  configurable: true,
  get() { return undefined; },
  set(value) {
    Object.defineProperty(this, 'terminal',
      {value: value, writable: true, configurable: true, enumerable: true});
    if (value && value.buffer) { (window.__terminals = window.__terminals || []).push(value); }
  }
});
"""
TERMINAL_TEXT = """(() => {
  const terminal = (window.__terminals || [])[0];
  if (!terminal) { return ''; }
  const buffer = terminal.buffer.active, lines = [];
  for (let y = 0; y < terminal.rows; y++) {
    const line = buffer.getLine(buffer.viewportY + y);
    lines.push(line ? line.translateToString(true) : '');
  }
  return lines.join('\\n');
})()"""


class Tab:
    def __init__(self, browser: "Browser", target_id: str, websocket) -> None:
        self.browser, self.target_id, self.websocket = browser, target_id, websocket
        self.next_id = 0

    async def call(self, method: str, **params):
        self.next_id += 1
        await self.websocket.send_json({"id": self.next_id, "method": method, "params": params})
        while True:
            message = await asyncio.wait_for(self.websocket.receive(), 30)
            if message.type != aiohttp.WSMsgType.TEXT:
                raise AssertionError(f"DevTools connection ended: {message!r}")
            reply = json.loads(message.data)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise AssertionError(f"{method}: {reply['error']}")
                return reply["result"]

    async def evaluate(self, expression: str):
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    async def text(self) -> str:
        return await self.evaluate(TERMINAL_TEXT) or ""

    async def screenshot(self, scale: float = 0.5) -> bytes:
        """The visible page as PNG, scaled down (decoding it here is plain Python)."""
        viewport = (await self.call("Page.getLayoutMetrics"))["cssLayoutViewport"]
        clip = {"x": 0, "y": 0, "width": viewport["clientWidth"],
                "height": viewport["clientHeight"], "scale": scale}
        shot = await self.call("Page.captureScreenshot", format="png", clip=clip)
        return base64.b64decode(shot["data"])

    async def close(self) -> None:
        await self.websocket.close()
        async with self.browser.http.get(
                f"{self.browser.endpoint}/json/close/{self.target_id}") as response:
            assert response.status == 200, await response.text()


class Browser:
    """Headless Chromium, its own profile in tmp, no network but loopback."""

    def __init__(self, binary: Path, home: Path) -> None:
        self.binary, self.home = binary, home
        self.process: subprocess.Popen | None = None
        self.http: aiohttp.ClientSession | None = None
        self.endpoint = ""

    async def __aenter__(self) -> "Browser":
        profile = self.home / "chromium-profile"
        profile.mkdir()
        log = open(self.home / "chromium.log", "w")
        self.process = subprocess.Popen(
            [str(self.binary), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--no-default-browser-check", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--disable-extensions",
             "--disable-crash-reporter", "--disable-breakpad", "--mute-audio",
             # Nothing but this machine: the page's Google Fonts link fails at once.
             "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
             "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
             f"--user-data-dir={profile}", "--window-size=1100,700", "about:blank"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, "HOME": str(self.home)}, start_new_session=True)
        port_file = profile / "DevToolsActivePort"
        wait_for(lambda: port_file.exists() and len(port_file.read_text().split()) >= 2,
                 30, "Chromium's DevTools port")
        self.endpoint = f"http://127.0.0.1:{port_file.read_text().split()[0]}"
        self.http = aiohttp.ClientSession()
        return self

    async def open(self, url: str) -> Tab:
        async with self.http.put(f"{self.endpoint}/json/new?about:blank") as response:
            target = await response.json()
        websocket = await self.http.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0)
        tab = Tab(self, target["id"], websocket)
        await tab.call("Page.enable")
        await tab.call("Page.addScriptToEvaluateOnNewDocument", source=KEEP_TERMINAL)
        await tab.call("Page.navigate", url=url)
        return tab

    async def __aexit__(self, *exc) -> None:
        if self.http is not None:
            await self.http.close()
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


# ----------------------------------------------------------------------------- the server
@pytest.fixture
def real_database(tmp_path) -> Path:
    """A real database, made by `clientbook init`, holding REAL_CUSTOMER."""
    home = tmp_path / "home"
    home.mkdir()
    path = tmp_path / "real" / "clientbook.db"
    path.parent.mkdir()
    result = clientbook("init", db=path, home=home)
    assert result.returncode == 0, result.stderr
    config = load_config()
    db = open_database(path)
    try:
        create_customer(Context(db, config, actor_for(config, "administrator", ME)),
                        CustomerDraft(name=REAL_CUSTOMER, billing_country="GB"))
    finally:
        db.close()
    return path


class Server:
    """`clientbook serve ...` on a free loopback port; output in files under home."""

    def __init__(self, home: Path, *args: str, **env: str) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.out, self.err = home / "server.out", home / "server.err"
        self.process = subprocess.Popen(
            [str(CLIENTBOOK), "serve", *args, "--port", str(self.port)],
            env=cli_env(home, **env), cwd=home, stdin=subprocess.DEVNULL,
            stdout=self.out.open("w"), stderr=self.err.open("w"), start_new_session=True)
        wait_for(lambda: "Serving Clientbook on" in self.out.read_text() or
                 self.process.poll() is not None, 20, "the server to listen")
        assert self.process.poll() is None, self.log()
        assert f"Serving Clientbook on {self.url}" in self.out.read_text()

    def log(self) -> str:
        return f"stdout:\n{self.out.read_text()}\nstderr:\n{self.err.read_text()}"

    def sessions_root(self) -> Path:
        [root] = self.home.glob("clientbook-serve-*")
        return root

    def sessions(self) -> dict[Path, int]:
        return session_processes(self.process.pid)

    def stop(self, signum=signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            return self.process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
            pytest.fail(f"the server did not stop on {signum!r}\n{self.log()}")

    def kill_leftovers(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(10)


@pytest.fixture
def demo_server(tmp_path, real_database):
    home = tmp_path / "serve"
    home.mkdir()
    server = Server(home, "--demo", "--customers", str(DEMO_CUSTOMERS),
                    CLIENTBOOK_DB=str(real_database))
    yield server
    server.stop()
    server.kill_leftovers()


def header_database(text: str) -> str | None:
    found = re.search(r"(demo-[a-z0-9_]+)\.db", text)
    return found.group(1) if found else None


# ----------------------------------------------------------------------------- browser
async def test_two_browser_sessions_get_two_private_demo_databases(
        chromium_binary, demo_server, real_database, tmp_path):
    real_before = fingerprint(real_database)
    root = demo_server.sessions_root()
    assert list(root.iterdir()) == []  # no session before a visitor comes
    async with Browser(chromium_binary, tmp_path) as browser:
        pages = {}
        for name in ("a", "b"):
            tab = await browser.open(demo_server.url + "/")

            async def list_shown(tab=tab):
                text = await tab.text()
                shown = f" of {DEMO_CUSTOMERS} " in text and header_database(text)
                return text if shown else None

            text = await async_wait_for(list_shown, 30, f"the customer list in tab {name}")
            pages[name] = (tab, text, root / header_database(text))
            # The pixels: a screenshot of a drawn terminal, not a blank page. (Taken while
            # the tab is in front: headless Chromium may not paint a tab behind another.)
            await tab.call("Page.bringToFront")
            width, height, colours, commonest = png_summary(await tab.screenshot())
            assert width >= 400 and height >= 200  # half of the 1100 x 700 window
            assert colours >= 8 and commonest < 0.9, (name, colours, commonest)

        (tab_a, text_a, folder_a), (tab_b, text_b, folder_b) = pages["a"], pages["b"]
        # Two visitors, two folders, two database files.
        assert folder_a != folder_b
        assert folder_a.is_dir() and folder_b.is_dir()
        database_a = folder_a / f"{folder_a.name}.db"
        database_b = folder_b / f"{folder_b.name}.db"
        assert database_a.is_file() and database_b.is_file()
        assert not os.path.samefile(database_a, database_b)
        # Each page shows customers of its own database, never the real one's.
        for text, database in ((text_a, database_a), (text_b, database_b)):
            names = customer_names(database)
            assert len(names) == DEMO_CUSTOMERS and REAL_CUSTOMER not in names
            assert any(name[:20] in text for name in names), text
            assert REAL_CUSTOMER[:10] not in text

        # The sessions never had the real database: not in their environment, not open.
        sessions = demo_server.sessions()
        assert set(sessions) == {folder_a, folder_b}, sessions
        for pid in sessions.values():
            # Confined (tui.serve_sandbox sets no_new_privs just before Landlock; what
            # Landlock itself refuses is test_sandbox_keeps_a_session_in_its_folder's part).
            assert "NoNewPrivs:\t1" in Path(f"/proc/{pid}/status").read_text()
            assert not [k for k in environment_of(pid) if k.startswith("CLIENTBOOK_")]
            assert not [f for f in open_files(pid) if f.startswith(str(real_database))]
        assert fingerprint(real_database) == real_before

        # Closing the tab ends its session: process gone, folder removed; the other stays.
        pid_a, pid_b = sessions[folder_a], sessions[folder_b]
        await tab_a.close()
        wait_for(lambda: not folder_a.exists() and not alive(pid_a), 15,
                 "the closed tab's session to end")
        assert folder_b.is_dir() and alive(pid_b)
        assert f" of {DEMO_CUSTOMERS} " in await tab_b.text()  # still working

        # Stopping the server ends the remaining session and removes every folder.
        assert demo_server.stop(signal.SIGTERM) == 0, demo_server.log()
        assert not alive(pid_b)
        assert not root.exists()
    assert fingerprint(real_database) == real_before
    assert "Traceback" not in demo_server.log()


# ----------------------------------------------------------------------------- no browser
async def open_session(server: Server, http: aiohttp.ClientSession):
    """A visitor without a browser: textual-serve's websocket, read until the app draws."""
    websocket = await http.ws_connect(f"{server.url.replace('http', 'ws')}/ws?width=100"
                                      "&height=30", max_msg_size=0)
    received = bytearray()

    async def drawn():
        try:
            message = await asyncio.wait_for(websocket.receive(), 1)
        except asyncio.TimeoutError:
            return False
        if message.type == aiohttp.WSMsgType.BINARY:
            received.extend(message.data)
        return f"of {DEMO_CUSTOMERS}".encode() in received or (
            message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED))

    await async_wait_for(drawn, 30, "the app to draw its customer list", interval=0)
    [(folder, pid)] = server.sessions().items()
    return websocket, folder, pid, received


async def test_sighup_to_a_session_removes_its_folder_and_a_full_demo_says_so(tmp_path):
    home = tmp_path / "serve-one"
    home.mkdir()
    server = Server(home, "--demo", "--customers", str(DEMO_CUSTOMERS), "--max-sessions", "1")
    try:
        async with aiohttp.ClientSession() as http:
            websocket, folder, pid, _received = await open_session(server, http)
            assert folder.is_dir() and (folder / f"{folder.name}.db").is_file()
            # A second visitor while the one allowed session runs: told, and let go.
            second = await http.ws_connect(f"ws://127.0.0.1:{server.port}/ws",
                                           max_msg_size=0)
            told = await asyncio.wait_for(second.receive(), 10)
            assert told.type == aiohttp.WSMsgType.BINARY and b"demo is full" in told.data
            closed = await asyncio.wait_for(second.receive(), 10)
            assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
            assert list(server.sessions()) == [folder]

            os.kill(pid, signal.SIGHUP)
            wait_for(lambda: not folder.exists() and not alive(pid), 15,
                     "the folder of the session that got SIGHUP to go")
            # screen updates sent before the signal may still be on their way: then closed
            deadline = time.monotonic() + 10
            message = await asyncio.wait_for(websocket.receive(), 10)
            while message.type == aiohttp.WSMsgType.BINARY and time.monotonic() < deadline:
                message = await asyncio.wait_for(websocket.receive(), 10)
            assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert server.sessions_root().is_dir()  # the server goes on
        assert server.process.poll() is None
    finally:
        server.stop()
        server.kill_leftovers()


async def test_killed_server_takes_its_sessions_and_their_data_with_it(demo_server):
    """SIGKILL leaves the server no time: the kernel sends each session SIGHUP
    (PR_SET_PDEATHSIG) and the session deletes its database. The confined session may
    not remove its (then empty) folder itself: that is the server's job when it can."""
    async with aiohttp.ClientSession() as http:
        _websocket, folder, pid, _received = await open_session(demo_server, http)
        demo_server.process.kill()
        demo_server.process.wait(10)
        wait_for(lambda: not alive(pid), 15, "the orphaned session to end")
        assert not folder.exists() or list(folder.iterdir()) == []


async def test_real_database_mode_warns_binds_loopback_and_serves_it(tmp_path, real_database):
    home = tmp_path / "serve-real"
    home.mkdir()
    server = Server(home, "--real-database", CLIENTBOOK_DB=str(real_database))
    try:
        warning = server.err.read_text()
        assert "Warning" in warning and str(real_database) in warning, warning
        assert f"http://127.0.0.1:{server.port}" in warning and "no password" in warning
        assert listening_addresses(server.port) == {"127.0.0.1"}
        assert not list(home.glob("clientbook-serve-*"))  # no demo folders in this mode
        async with aiohttp.ClientSession() as http:
            # The page sends the browser back to the address it asked for (for --host
            # 0.0.0.0 behind a name), unless --public-url says otherwise.
            for host in (f"127.0.0.1:{server.port}", "clientbook.example:8443"):
                async with http.get(server.url + "/", headers={"Host": host}) as response:
                    assert response.status == 200
                    assert f'data-session-websocket-url="ws://{host}/ws"' in await response.text()
            websocket = await http.ws_connect(f"ws://127.0.0.1:{server.port}/ws?width=100"
                                              "&height=30", max_msg_size=0)
            received = bytearray()

            async def shows_real_customer():
                message = await asyncio.wait_for(websocket.receive(), 20)
                if message.type == aiohttp.WSMsgType.BINARY:
                    received.extend(message.data)
                return REAL_CUSTOMER[:15].encode() in received

            await async_wait_for(shows_real_customer, 30, "the real customer", interval=0)
            await websocket.close()
    finally:
        server.stop()
        server.kill_leftovers()


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a TCP socket listening on ``port`` (from /proc/net/tcp{,6})."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, _remote, state = line.split()[1:4]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                if len(address) == 8:
                    found.add(socket.inet_ntop(socket.AF_INET, bytes.fromhex(address)[::-1]))
                else:
                    words = bytes.fromhex(address)
                    found.add(socket.inet_ntop(socket.AF_INET6, b"".join(
                        words[i:i + 4][::-1] for i in range(0, 16, 4))))
    return found


# ----------------------------------------------------------------------------- the sandbox
SANDBOX_PROBE = r"""
import json, os, socket, sys
from pathlib import Path
from tui.serve_sandbox import confine, default_readable
folder, outside, secret, port = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
os.chdir(folder)
abi = confine(folder, default_readable())
results = {"abi": abi}
def attempt(name, action):
    try:
        action()
        results[name] = "allowed"
    except PermissionError:
        results[name] = "denied"
    except OSError as error:
        results[name] = f"error {error.errno}"
mine = folder / "mine.txt"
attempt("read_inside", lambda: mine.write_text("x") and mine.read_text())
attempt("read_outside", lambda: Path(secret).read_bytes())
attempt("write_outside", lambda: (outside / "planted.txt").write_text("x"))
attempt("overwrite_outside", lambda: open(secret, "r+b").close())
attempt("list_outside", lambda: os.listdir(outside))
attempt("import_stdlib", lambda: __import__("xml.dom.minidom"))
attempt("import_app", lambda: __import__("tui.screens.customer_list"))
def connect():
    with socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
attempt("tcp_connect", connect)
print(json.dumps(results))
"""


def test_sandbox_keeps_a_session_in_its_folder(tmp_path, real_database):
    """What ``tui.serve_sandbox.confine`` lets a demo session do: its folder, reading the
    Python installation and the app; not the real database, no other file, no TCP."""
    from tui.serve_sandbox import abi_version

    assert abi_version() >= 1, ("this kernel has no Landlock: `clientbook serve --demo` "
                                "refuses to run here without --unconfined")
    folder = tmp_path / "session"
    folder.mkdir()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        result = subprocess.run(
            [sys.executable, "-P", "-c", SANDBOX_PROBE, str(folder), str(tmp_path),
             str(real_database), str(listener.getsockname()[1])],
            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    results = json.loads(result.stdout)
    assert results["read_inside"] == "allowed"
    assert results["import_stdlib"] == results["import_app"] == "allowed"
    assert results["read_outside"] == results["overwrite_outside"] == "denied"
    assert results["write_outside"] == results["list_outside"] == "denied"
    assert not (tmp_path / "planted.txt").exists()
    if results["abi"] >= 4:
        assert results["tcp_connect"] == "denied"


def test_demo_is_refused_where_sessions_cannot_be_confined(monkeypatch, capsys):
    from types import SimpleNamespace

    import tui.serve_sandbox
    from tui.cli.serve import demo_command_maker
    from tui.domain.errors import ClientbookError

    monkeypatch.setattr(tui.serve_sandbox, "available", lambda: False)
    args = SimpleNamespace(unconfined=False, customers=5)
    with pytest.raises(ClientbookError, match="--unconfined"):
        demo_command_maker(SHIPPED_CONFIG, args, "en")
    make = demo_command_maker(SHIPPED_CONFIG, SimpleNamespace(unconfined=True, customers=5),
                              "en")
    assert "not confined" in capsys.readouterr().err
    assert make(Path("/tmp/x")).endswith("--unconfined")


# ----------------------------------------------------------------------------- the command
@pytest.mark.parametrize("args, message", [
    ((), "one of the arguments --demo --real-database is required"),
    (("--demo", "--real-database"), "not allowed with"),
    (("--demo", "--port", "0"), "0 is not a port number (1 to 65535)"),
    (("--demo", "--port", "65536"), "65536 is not a port number"),
    (("--demo", "--port", "eighty"), "eighty is not a port number"),
    (("--demo", "--host", "bad host"), "'bad host' is not a host name or an IP address"),
    (("--demo", "--host", ""), "is not a host name"),
    (("--demo", "--customers", "0"), "0 is not a whole number"),
])
def test_serve_usage_errors(tmp_path, args, message):
    result = clientbook("serve", *args, db=None, home=tmp_path)
    assert_usage(result)
    assert message in result.stderr, result.stderr


def test_serve_refusals_are_one_line(tmp_path, real_database):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        port = busy.getsockname()[1]
        cases = [
            (("serve", "--demo", "--host", "no-such-host.invalid"),
             "cannot serve on no-such-host.invalid"),
            (("serve", "--demo", "--port", str(port)), f"cannot serve on 127.0.0.1 port {port}"),
            (("--db", str(real_database), "serve", "--demo"), "--db has no effect with serve"),
            (("--db", str(tmp_path / "none.db"), "serve", "--real-database"), "No database at"),
        ]
        for args, message in cases:
            result = clientbook(*args, db=None, home=tmp_path)
            assert result.returncode == 1, (args, result.stdout, result.stderr)
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("clientbook: "), result.stderr
            assert message in lines[0], lines[0]
    finally:
        busy.close()
