"""A throwaway PostgreSQL server for the tests: its own folder, 127.0.0.1 only, a random port
and a random password (scram-sha-256), no Unix socket, durability off (fsync, synchronous
commit and full-page writes: the data is thrown away anyway).

    from tests import pg_server
    server = pg_server.start()      # Server(url, root, port)
    ...                             # server.url = postgresql://clientbook:<pw>@127.0.0.1:<port>/postgres
    pg_server.stop(server)

From a shell (what .ci/run-postgresql does)::

    eval "$(python -m tests.pg_server start)"   # exports CLIENTBOOK_TEST_PG_URL and CLIENTBOOK_TEST_PG_ROOT
    trap 'python -m tests.pg_server stop "$CLIENTBOOK_TEST_PG_ROOT"' EXIT

initdb refuses to run as root, so as root the server runs as the ``postgres`` user
(``runuser -u postgres --``, which the Debian package creates). The binaries are looked for in
$CLIENTBOOK_PG_BIN, then /usr/lib/postgresql/<newest>/bin, then on PATH.
"""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

USER = "clientbook"
URL_VARIABLE = "CLIENTBOOK_TEST_PG_URL"
ROOT_VARIABLE = "CLIENTBOOK_TEST_PG_ROOT"


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
        return Path(explicit)
    installed = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                       key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if installed:
        return installed[-1].parent
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise ServerUnavailable("no PostgreSQL server binaries (initdb) found; install postgresql-15 "
                            "or set CLIENTBOOK_PG_BIN")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _as_owner() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def start(*, max_connections: int = 200) -> Server:
    """initdb + pg_ctl start in a new temporary folder; ~2 to 3 s."""
    binaries = bin_dir()
    root = Path(tempfile.mkdtemp(prefix="clientbook-pg."))
    password = secrets.token_hex(16)
    port = _free_port()
    as_owner = _as_owner()
    try:
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
        options = (f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories='' "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   f"-c max_connections={max_connections}")
        done = subprocess.run(
            [*as_owner, str(binaries / "pg_ctl"), "-D", str(root / "data"), "-l",
             str(root / "server.log"), "-w", "-t", "60", "-o", options, "start"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if done.returncode:
            log = root / "server.log"
            raise ServerUnavailable("pg_ctl start failed: " + done.stderr[-1000:]
                                    + (log.read_text()[-2000:] if log.exists() else ""))
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
    print("usage: python -m tests.pg_server start | stop [ROOT]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
