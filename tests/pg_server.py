"""A throwaway PostgreSQL server for the tests: its own folder, 127.0.0.1 only, a random port
and a random password (scram-sha-256), no Unix socket, durability off (fsync, synchronous
commit and full-page writes: the data is thrown away anyway).

    from tests import pg_server
    server = pg_server.start()      # Server(url, root, port)
    ...                             # server.url = postgresql://clientbook:<pw>@127.0.0.1:<port>/postgres
    pg_server.stop(server)

The test session starts one for the whole run through ``shared(folder, watch_pid=...)``: the
first process that needs it (an xdist worker, or the only process) starts it under a lock on
``folder``, the others read its address there; tests/conftest.py stops it at the end. Started
with ``watch_pid``, a small watcher process stops the server and deletes its folder as soon as
that process is gone, so a killed or crashed test run leaves nothing behind.

From a shell, to run many test sessions against one server::

    eval "$(python -m tests.pg_server start)"   # exports CLIENTBOOK_TEST_PG_URL and CLIENTBOOK_TEST_PG_ROOT
    trap 'python -m tests.pg_server stop "$CLIENTBOOK_TEST_PG_ROOT"' EXIT

initdb refuses to run as root, so as root the server runs as the ``postgres`` user
(``runuser -u postgres --``, which the Debian package creates). The binaries are looked for in
$CLIENTBOOK_PG_BIN, then /usr/lib/postgresql/<newest>/bin, then on PATH; .ci/run installs them
(Debian's ``postgresql`` package) when missing.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

USER = "clientbook"
URL_VARIABLE = "CLIENTBOOK_TEST_PG_URL"
ROOT_VARIABLE = "CLIENTBOOK_TEST_PG_ROOT"
INSTALL_HINT = ("install PostgreSQL's server (Debian/Ubuntu: apt-get install postgresql) or set "
                "CLIENTBOOK_PG_BIN to the folder holding initdb")


@dataclass(frozen=True)
class Server:
    url: str  # to the maintenance database "postgres", password included
    root: Path  # the folder holding data/, server.log and initdb.log
    port: int

    def url_for(self, database: str) -> str:
        return self.url.rsplit("/", 1)[0] + "/" + database


class ServerUnavailable(RuntimeError):
    """No PostgreSQL server binaries here, or they would not start."""


def bin_dir() -> Path:
    explicit = os.environ.get("CLIENTBOOK_PG_BIN")
    if explicit:
        if not (Path(explicit) / "initdb").is_file():
            raise ServerUnavailable(f"no initdb in CLIENTBOOK_PG_BIN={explicit}; {INSTALL_HINT}")
        return Path(explicit)
    installed = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                       key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if installed:
        return installed[-1].parent
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise ServerUnavailable(f"no PostgreSQL server binaries (initdb) found; {INSTALL_HINT}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_owner() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def start(*, max_connections: int = 200, watch_pid: int | None = None,
          also_delete: tuple[Path, ...] = ()) -> Server:
    """initdb + pg_ctl start in a new temporary folder; ~2 to 3 s. With ``watch_pid``, the server
    is stopped and its folder (and ``also_delete``) deleted when that process ends without
    calling ``stop``."""
    binaries = bin_dir()
    root = Path(tempfile.mkdtemp(prefix="clientbook-pg."))
    password = secrets.token_hex(16)
    as_owner = _as_owner()
    try:
        if watch_pid is not None:  # from here on: a kill, even during initdb, leaves nothing
            _watch(watch_pid, root, *also_delete)
        pwfile = root / "pw"
        pwfile.write_text(password + "\n")
        if as_owner:
            shutil.chown(root, "postgres")
            shutil.chown(pwfile, "postgres")
        pwfile.chmod(0o600)
        with open(root / "initdb.log", "wb") as log:
            done = subprocess.run(
                [*as_owner, str(binaries / "initdb"), "-D", str(root / "data"), "-U", USER,
                 "--auth=scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C.UTF-8",
                 "--no-sync", "-N"], stdout=log, stderr=subprocess.STDOUT)
        pwfile.unlink()
        if done.returncode:
            raise ServerUnavailable("initdb failed: " + (root / "initdb.log").read_text()[-2000:])
        log = root / "server.log"
        for attempt in range(3):  # another program may take the free port first
            port = _free_port()
            options = (f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories='' "
                       "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                       f"-c max_connections={max_connections}")
            done = subprocess.run(
                [*as_owner, str(binaries / "pg_ctl"), "-D", str(root / "data"), "-l", str(log),
                 "-w", "-t", "60", "-o", options, "start"],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            said = log.read_text(errors="replace") if log.exists() else ""
            if done.returncode == 0 or "already in use" not in said:
                break
        if done.returncode:
            raise ServerUnavailable("pg_ctl start failed: " + done.stderr[-1000:] + said[-2000:])
    except BaseException:
        _stop_root(root)
        raise
    return Server(f"postgresql://{USER}:{password}@127.0.0.1:{port}/postgres", root, port)


def _stop_root(root: Path) -> None:
    data = Path(root) / "data"
    if (data / "postmaster.pid").exists():
        subprocess.run([*_as_owner(), str(bin_dir() / "pg_ctl"), "-D", str(data), "-m",
                        "immediate", "-w", "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    shutil.rmtree(root, ignore_errors=True)


def stop(server: Server | str | os.PathLike) -> None:
    """Stop the server (immediately: nothing in it is kept) and delete its folder."""
    _stop_root(server.root if isinstance(server, Server) else Path(server))


def _watch(pid: int, root: Path, *also_delete: Path) -> None:
    """A detached watcher (this file run as a script): stops the server once ``pid`` is gone."""
    subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "watch", str(pid), str(root),
                      *map(str, also_delete)],
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def watch(pid: int, root: Path, *also_delete: Path, every: float = 0.5) -> None:
    while Path(root).exists():
        if not _alive(pid):
            _stop_root(root)
            for folder in also_delete:
                shutil.rmtree(folder, ignore_errors=True)
            return
        time.sleep(every)


@contextlib.contextmanager
def locked(folder: Path):
    """An exclusive lock on ``folder`` (made if missing) among the processes of a test run."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield folder
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def shared(folder: Path, *, watch_pid: int) -> Server:
    """The one server of a test run: started by the first process that asks (under the lock on
    ``folder``), read back by the others. A start that failed is not tried again."""
    with locked(folder):
        state, failed = Path(folder) / "server.json", Path(folder) / "unavailable"
        if state.exists():
            fields = json.loads(state.read_text())
            return Server(fields["url"], Path(fields["root"]), fields["port"])
        began = time.monotonic()
        if failed.exists():
            raise ServerUnavailable(failed.read_text())
        try:
            server = start(watch_pid=watch_pid, also_delete=(Path(folder),))
        except ServerUnavailable as error:
            failed.write_text(str(error))
            raise
        state.write_text(json.dumps({"url": server.url, "root": str(server.root),
                                     "port": server.port,
                                     "start_seconds": round(time.monotonic() - began, 2)}))
        state.chmod(0o600)  # the password
        return server


def cpu_seconds(root: Path) -> float | None:
    """CPU time the server has used so far (the postmaster and its ended backends), or None."""
    try:
        pid = int((Path(root) / "data" / "postmaster.pid").read_text().split()[0])
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, ValueError, IndexError):
        return None
    # utime, stime, cutime, cstime: fields 14 to 17 of stat(5), counted from the state (3)
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def shared_state(folder: Path) -> dict | None:
    state = Path(folder) / "server.json"
    return json.loads(state.read_text()) if state.exists() else None


def stop_shared(folder: Path) -> None:
    """Stop the run's server if one was started (nothing happens otherwise)."""
    state = Path(folder) / "server.json"
    if state.exists():
        stop(json.loads(state.read_text())["root"])


def main(argv: list[str]) -> int:
    if argv[:1] == ["start"] and len(argv) == 1:
        try:
            server = start()
        except ServerUnavailable as error:
            print(f"tests.pg_server: {error}", file=sys.stderr)
            return 1
        print(f"export {URL_VARIABLE}={shlex.quote(server.url)}")
        print(f"export {ROOT_VARIABLE}={shlex.quote(str(server.root))}")
        return 0
    if argv[:1] == ["stop"] and len(argv) <= 2:
        root = argv[1] if len(argv) == 2 else os.environ.get(ROOT_VARIABLE)
        if not root:
            print(f"tests.pg_server: stop needs the root folder (or ${ROOT_VARIABLE})",
                  file=sys.stderr)
            return 2
        stop(root)
        return 0
    if argv[:1] == ["watch"] and len(argv) >= 3:
        watch(int(argv[1]), *map(Path, argv[2:]))
        return 0
    print("usage: python -m tests.pg_server start | stop [ROOT]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
