"""The web server of ``clientbook serve``: textual-serve, one app process per browser session.

textual-serve's ``Server`` runs one shell command per websocket and talks to it over
its standard input and output. ``ClientbookServer`` adds what a shared server needs:

- each session gets its own command: in demo mode a fresh folder under the server's
  sessions folder (``clientbook-serve-*`` in the temporary folder), passed to
  ``tui.serve_session demo --dir``;
- the session's environment carries no CLIENTBOOK_* variable in demo mode, so the real
  database's path is not even handed to it;
- a session that does not quit within ``QUIT_GRACE`` seconds of its browser leaving is
  terminated, then killed; its folder is removed whatever way it ended;
- on shutdown (Ctrl+C, SIGTERM) every session still running is stopped the same way
  and the sessions folder removed;
- at most ``max_sessions`` at once: a visitor beyond that is told so and disconnected.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shlex
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server

from tui.i18n import _

log = logging.getLogger("textual-serve")

QUIT_GRACE = 5.0  # seconds a session has to quit before it is terminated
TERM_GRACE = 3.0  # then after SIGTERM before SIGKILL


def http_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def demo_command(folder: Path, config: Path, *, customers: int, lang: str,
                 unconfined: bool) -> str:
    """The shell command textual-serve runs for one demo session (``exec``: no shell left)."""
    argv = [sys.executable, "-P", "-m", "tui.serve_session", "demo", "--dir", str(folder),
            "--config", str(config), "--customers", str(customers), "--lang", lang,
            "--server-pid", str(os.getpid())]
    if unconfined:
        argv.append("--unconfined")
    return "exec " + shlex.join(argv)


def real_command(database: Path, config: Path, *, lang: str) -> str:
    argv = [sys.executable, "-P", "-m", "tui.serve_session", "real", "--db", str(database),
            "--config", str(config), "--lang", lang, "--server-pid", str(os.getpid())]
    return "exec " + shlex.join(argv)


class SessionService(AppService):
    """One app process; stopped for sure, its folder (if any) removed after it."""

    def __init__(self, command: str, *, folder: Path | None, private_environment: bool,
                 **kwargs) -> None:
        super().__init__(command, **kwargs)
        self.folder = folder
        self.private_environment = private_environment

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        environment = super()._build_environment(width=width, height=height)
        if self.private_environment:
            for name in [n for n in environment if n.startswith("CLIENTBOOK_")]:
                del environment[name]
        return environment

    async def run(self) -> None:
        await super().run()
        # The app's output has ended (it quit, crashed or was killed): end the browser's
        # session too, so the handler stops the process and removes the folder now rather
        # than when the visitor closes the tab.
        await self.remote_close()

    async def stop(self) -> None:
        if self._task is not None:
            await self._download_manager.cancel_app_downloads(app_service_id=self.app_service_id)
            await self.send_meta({"type": "quit"})
            await self.end_process(QUIT_GRACE)
            await self._task
            self._task = None
        self.remove_folder()

    async def end_process(self, grace: float) -> None:
        """Wait ``grace`` seconds for the process to end, then SIGTERM, then SIGKILL."""
        process = self._process
        if process is None:
            return
        for next_signal, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, TERM_GRACE),
                                  (None, TERM_GRACE)):
            try:
                await asyncio.wait_for(process.wait(), wait)
                return
            except asyncio.TimeoutError:
                if next_signal is None:
                    log.error("session %s did not end", process.pid)
                    return
                log.warning("session %s did not quit; sending %s", process.pid,
                            signal.Signals(next_signal).name)
                try:
                    process.send_signal(next_signal)
                except ProcessLookupError:
                    return

    def remove_folder(self) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


class ClientbookServer(Server):
    """textual-serve's Server, with a command per session and sessions that always end."""

    def __init__(self, make_command: Callable[[Path | None], str], *, host: str, port: int,
                 title: str, demo: bool, max_sessions: int, public_url: str | None = None,
                 announce: Callable[[str], None] = print) -> None:
        super().__init__("clientbook", host=host, port=port, title=title,
                         public_url=public_url)
        self.make_command = make_command
        self.demo = demo
        self.max_sessions = max_sessions
        self.announce = announce
        self.sessions: set[SessionService] = set()
        self.sessions_root: Path | None = None
        # Without --public-url the page tells the browser to connect back to the address
        # it used itself (Host header), so --host 0.0.0.0 works from other machines.
        self.follow_request_host = public_url is None

    # -- lifecycle ---------------------------------------------------------------------
    async def on_startup(self, app: web.Application) -> None:
        if self.demo:
            self.sessions_root = Path(tempfile.mkdtemp(prefix="clientbook-serve-"))

    def announce_listening(self, *_ignored) -> None:
        """Called by aiohttp once the socket listens (on_startup runs before it does)."""
        self.announce(_("Serving Clientbook on {url} (Ctrl+C to stop).").format(
            url=http_url(self.host, self.port)))

    async def on_shutdown(self, app: web.Application) -> None:
        services = list(self.sessions)
        for service in services:
            if service.pid is not None:
                try:
                    os.kill(service.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        await asyncio.gather(*(service.end_process(TERM_GRACE) for service in services),
                             return_exceptions=True)
        for service in services:
            service.remove_folder()
        if self.sessions_root is not None:
            shutil.rmtree(self.sessions_root, ignore_errors=True)

    def serve(self, debug: bool = False) -> None:
        """Run until SIGINT or SIGTERM; binding errors are raised as OSError."""
        self.debug = debug
        self.initialize_logging()
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.request_exit)
        try:
            web.run_app(self._make_app(), host=self.host, port=self.port,
                        handle_signals=False, loop=loop, print=self.announce_listening)
        finally:
            if not loop.is_closed():
                loop.close()

    async def handle_index(self, request: web.Request):
        if self.follow_request_host:
            # No await between this and its use in the page: no other request interleaves.
            self.public_url = f"{request.scheme}://{request.host}"
        return await super().handle_index(request)

    # -- sessions ----------------------------------------------------------------------
    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """textual-serve's handler, with a SessionService of its own per visitor."""
        websocket = web.WebSocketResponse(heartbeat=15)
        width = _to_int(request.query.get("width", "80"), 80)
        height = _to_int(request.query.get("height", "24"), 24)
        service: SessionService | None = None
        try:
            await websocket.prepare(request)
            if len(self.sessions) >= self.max_sessions:
                log.warning("refused a session: %d already running", len(self.sessions))
                await websocket.send_bytes(_("\r\nThe demo is full ({count} visitors); "
                                             "try again in a few minutes.\r\n").format(
                    count=self.max_sessions).encode("utf-8"))
                await websocket.close()
                return websocket
            folder = self.new_session_folder()
            service = SessionService(
                self.make_command(folder), folder=folder, private_environment=self.demo,
                write_bytes=websocket.send_bytes, write_str=websocket.send_str,
                close=websocket.close, download_manager=self.download_manager,
                debug=self.debug)
            self.sessions.add(service)
            await service.start(width, height)
            log.info("session %s started (%d running)", service.pid, len(self.sessions))
            try:
                await self._process_messages(websocket, service)
            finally:
                await service.stop()
        except asyncio.CancelledError:
            await websocket.close()
        except Exception as error:  # noqa: BLE001 - one visitor's failure is logged
            log.exception(error)
        finally:
            if service is not None:
                await service.stop()
                self.sessions.discard(service)
                log.info("session %s ended (%d running)", service.pid, len(self.sessions))
        return websocket

    def new_session_folder(self) -> Path | None:
        if self.sessions_root is None:
            return None
        folder = Path(tempfile.mkdtemp(prefix="demo-", dir=self.sessions_root))
        return folder


def _to_int(value: str, default: int) -> int:
    try:
        return int(value)
    except ValueError:
        return default
