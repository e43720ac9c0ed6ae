"""Saves that wait for another operator's lock without freezing the screen.

A write waits for the database's lock (up to its lock timeout, 30 s by default) on the
thread that calls it. On the screen's thread that would freeze the whole app while
another program holds the lock. ``waits_for_lock`` runs a save with a brief wait only;
if the lock is still taken, it says so, waits for the lock in a worker thread, and runs
the same save again (same arguments, the form as it is then) once the lock is free. The
operator's input stays on screen meanwhile: nothing is lost, and past the lock timeout
they get the usual "held by another program … nothing was saved" sentence.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, TypeVar

from textual.dom import DOMNode, NoScreen

from tui.domain.database import DatabaseLocked, LockBusy, short_label
from tui.i18n import _

BRIEF_WAIT_SECONDS = 0.25  # longer than any ordinary save of another operator (~10 ms)

Method = TypeVar("Method", bound=Callable[..., Any])
T = TypeVar("T")


def waits_for_lock(method: Method) -> Method:
    """Decorate a screen's or widget's method that calls a writing service."""

    @functools.wraps(method)
    def attempt(node: DOMNode, *args, **kwargs):
        return run_when_free(node, method.__name__, lambda: method(node, *args, **kwargs))

    return attempt  # type: ignore[return-value]


def run_when_free(node: DOMNode, name: str, call: Callable[[], T]) -> T | None:
    """``call()`` (which writes) with a brief lock wait; if the lock stays taken, None now
    and ``call()`` again once it is free. ``name`` tells this save from the node's others:
    while one waits, starting it again only says it is still waiting."""
    return _attempt(node.app, node, name, call, retrying=False)


def _attempt(app, node: DOMNode, name: str, call: Callable[[], T], *, retrying: bool):
    # ``app`` is passed along: a dismissed dialog no longer knows its app.
    waiting, database = app.lock_waits, app.ctx.db
    key = (id(node), name)
    if key in waiting and not retrying:
        app.notify(_("Still waiting for the database: your change will be saved as soon as "
                     "it is free."), markup=False)
        return None
    if retrying and not _still_shown(app, node):  # its screen was closed meanwhile
        waiting.pop(key, None)
        app.notify(_("That change was not saved: its screen was closed while it waited for "
                     "the database."), severity="warning", markup=False)
        return None
    try:
        with database.brief_lock_wait(BRIEF_WAIT_SECONDS):
            result = call()
    except LockBusy:
        if key not in waiting:
            app.notify(_("Another operator is saving to {path}: yours follows as soon as the "
                         "database is free. Keep working meanwhile.").format(
                path=short_label(database)), title=_("Waiting for the database"), markup=False)
        deadline = waiting.get(key) or time.monotonic() + database.lock_timeout
        waiting[key] = deadline
        _wait_then_retry(app, key, deadline,
                         lambda: _attempt(app, node, name, call, retrying=True))
        return None
    waiting.pop(key, None)
    return result


def _still_shown(app, node: DOMNode) -> bool:
    """On a screen of the app's stack (a dismissed dialog stays attached to the app)."""
    try:
        return node.is_attached and node.screen in app.screen_stack
    except NoScreen:
        return False


def _wait_then_retry(app, key, deadline: float, retry: Callable[[], None]) -> None:
    """Wait for the write lock in a thread (its own connection), then retry on the UI."""
    database, waiting = app.ctx.db, app.lock_waits

    def wait_for_the_lock() -> None:
        started = time.monotonic()
        try:
            with database.connection_context(), database.brief_lock_wait(
                    max(0.0, deadline - started)):
                with database.atomic():  # BEGIN IMMEDIATE (or the advisory lock): free now
                    pass
        except LockBusy:
            app.call_from_thread(gave_up)
            return
        app.call_from_thread(retry)

    def gave_up() -> None:
        waiting.pop(key, None)
        app.notify(str(DatabaseLocked(database.label, database.lock_timeout)),
                   severity="error", markup=False)

    # The app's worker, not the node's: closing the node's screen must not end the wait
    # silently (the retry then says the change was not saved).
    app.run_worker(wait_for_the_lock, thread=True, group="lock-wait", exit_on_error=False,
                   description=_("Waiting for the database"))
