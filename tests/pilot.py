"""Helpers shared by the Pilot tests (tests/test_tui_*.py, tests/test_snapshots*.py).

`type_text` is the one that matters for time. Every ``pilot.press(key)`` costs 60-120 ms: Textual
waits for the app to go idle twice and restyles/lays out the screen after each key. A test that
types a hundred characters spent seconds doing that, and the Pilot tests made most of the suite's
time. A terminal delivers pasted text as one bracketed paste, so `type_text` does the same: the
first character is a real key press (key handling, bindings and focus moves are still exercised),
the rest arrives as ONE `textual.events.Paste`. Textual's Input inserts pasted text at the cursor
(or over the selection) and posts `Input.Changed`, so validation, suggestions and searches run as
they do for typed text; TextArea does the same with `TextArea.Changed`.

What stays key by key (call ``pilot.press(*text)`` there, with a comment saying why):
- a test that is about keys: a search that reacts to each key, a field that must refuse one typed
  character (Input's `restrict`/`max_length` refuse a whole paste, but only the offending key),
  cursor movement, a Select's type-to-find list (it does not take a paste);
- tests/test_e2e_tmux.py types every key through a real terminal, so per-key typing is still
  covered end to end.
"""

from __future__ import annotations

import time

from textual import events
from textual._wait import wait_for_idle
from textual.widgets import Input, TextArea


async def type_text(pilot, text: str) -> None:
    """Enter ``text`` in the focused widget: the first character as a key, the rest as one paste.

    Empty text does nothing. The rest must land in an Input or a TextArea (the only widgets that
    take a paste); anything else fails here instead of silently losing the text.
    """
    if not text:
        return
    first, rest = text[0], text[1:]
    await pilot.press("space" if first == " " else first)
    if not rest:
        return
    app = pilot.app
    focused = app.focused
    assert isinstance(focused, (Input, TextArea)), (
        f"type_text: {rest!r} would be pasted into {focused!r}, which does not take a paste")
    # Sent as Textual's own _press_keys sends a key (App._press_keys), and waited for the same way.
    event = events.Paste(rest)
    event.set_sender(app)
    app._driver.send_message(event)
    await wait_for_idle(0)
    await app._animator.wait_until_complete()
    await wait_for_idle(0)
    await pilot.pause()


async def settle(pilot) -> None:
    """Let thread workers finish and their results reach the screen."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def until(pilot, condition, what: str, seconds: float = 15.0) -> None:
    """Pause until ``condition()`` holds: under load a change may take a few frames."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.05)


def notices(app) -> list[str]:
    """The messages of the notifications (toasts) the app shows now."""
    return [notification.message for notification in app._notifications]
