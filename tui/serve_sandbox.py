"""Confine a demo session to its own folder with Linux Landlock (no root, no extra package).

A visitor of ``clientbook serve --demo`` acts as the administrator of a throw-away
database, and the app has dialogs that take file paths (import, export, documents,
proposals, restore). Without confinement those would read and write files as the
serving user, the real database included. ``confine(folder, readable)`` makes the
kernel refuse, for this process and every process it starts:

- any write, create, rename or delete outside ``folder``;
- any read outside ``folder`` and the ``readable`` paths (the Python installation,
  the app's own package, system libraries under /usr);
- TCP connections and listening (kernels with Landlock ABI 4 or newer): no e-mail
  leaves a demo, whatever the environment says about SMTP;
- signals and abstract UNIX sockets to processes outside the sandbox (ABI 6 or newer).

Files already open (the session's standard input and output) keep working. The rules
cannot be lifted again by the process. ``available()`` tells whether this kernel has
Landlock at all (Linux 5.13 or newer, with Landlock enabled).
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Iterable
from pathlib import Path

# Syscall numbers are the same on every architecture Linux added them to (5.13+).
_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

# File-system rights, by the ABI version that introduced them.
EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_ABI_FS = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 5: (1 << 16) - 1}
_FILE_ONLY = EXECUTE | WRITE_FILE | READ_FILE | (1 << 14) | (1 << 15)  # rights a file may get
_NET_BIND_TCP, _NET_CONNECT_TCP = 1 << 0, 1 << 1
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1 << 0, 1 << 1

READ_ONLY = EXECUTE | READ_FILE | READ_DIR


class SandboxError(OSError):
    """Landlock is missing or refused the rules."""


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def abi_version() -> int:
    """Landlock ABI of the running kernel; 0 when there is none (or not Linux)."""
    if not sys.platform.startswith("linux"):
        return 0
    try:
        version = _libc().syscall(_CREATE_RULESET, None, ctypes.c_size_t(0),
                                  ctypes.c_uint32(_CREATE_RULESET_VERSION))
    except (OSError, AttributeError):
        return 0
    return max(0, int(version))


def available() -> bool:
    return abi_version() >= 1


def fs_rights(abi: int) -> int:
    return _ABI_FS[max(v for v in _ABI_FS if v <= abi)]


def default_readable(extra: Iterable[Path] = ()) -> list[Path]:
    """What a Clientbook session must still read: Python, its packages, the app, /usr."""
    import tui

    paths = [Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix),
             Path(sys.executable).resolve().parent, Path(tui.__file__).resolve().parent,
             Path("/usr"), Path("/dev/urandom")]
    shipped = _shipped_dir()
    if shipped:
        paths.append(shipped)
    paths.extend(Path(p) for p in sys.path if p and Path(p).is_dir()
                 and Path(p).resolve() != Path.cwd().resolve())
    paths.extend(extra)
    return paths


def _shipped_dir() -> Path | None:
    """The shipped YAML and templates (``tui.shipped``, or ``data/`` in an editable install)."""
    try:
        import importlib.util

        spec = importlib.util.find_spec("tui.shipped")
    except (ImportError, ValueError):
        return None
    if spec and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations))).resolve()
    return None


def confine(folder: Path, readable: Iterable[Path] = ()) -> int:
    """Allow everything in ``folder``, reading in ``readable``, nothing else. Returns the ABI.

    Raises SandboxError when the kernel has no Landlock or refuses a rule.
    """
    abi = abi_version()
    if abi < 1:
        raise SandboxError("Landlock is not available on this system")
    libc = _libc()
    handled = fs_rights(abi)
    attr = _RulesetAttr(handled_access_fs=handled)
    size = 8
    if abi >= 4:
        attr.handled_access_net = _NET_BIND_TCP | _NET_CONNECT_TCP
        size = 16
    if abi >= 6:
        attr.scoped = _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL
        size = 24
    ruleset = libc.syscall(_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size),
                           ctypes.c_uint32(0))
    if ruleset < 0:
        raise SandboxError(ctypes.get_errno(), "landlock_create_ruleset failed")
    try:
        _allow(libc, ruleset, Path(folder), handled)
        _allow(libc, ruleset, Path("/dev/null"), (READ_FILE | WRITE_FILE) & handled)
        seen: set[Path] = set()
        for path in readable:
            resolved = Path(path).resolve()
            if resolved in seen or not resolved.exists():
                continue
            seen.add(resolved)
            _allow(libc, ruleset, resolved, READ_ONLY & handled)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise SandboxError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        if libc.syscall(_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0)) != 0:
            raise SandboxError(ctypes.get_errno(), "landlock_restrict_self failed")
    finally:
        os.close(ruleset)
    return abi


def _allow(libc, ruleset: int, path: Path, rights: int) -> None:
    if not path.is_dir():
        rights &= _FILE_ONLY
    fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    try:
        rule = _PathBeneathAttr(allowed_access=rights, parent_fd=fd)
        if libc.syscall(_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(_RULE_PATH_BENEATH),
                        ctypes.byref(rule), ctypes.c_uint32(0)) != 0:
            raise SandboxError(ctypes.get_errno(), f"landlock_add_rule failed for {path}")
    finally:
        os.close(fd)
