"""A frozen clock for snapshot tests: every date and time on screen comes from here.

Import ``clock`` (and ``NOW``) into a test module and it applies to every test there.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import date, datetime, timezone

import pytest

from tui.domain import models

NOW = datetime(2026, 11, 23, 9, 30)  # naive UTC, as the database stores it


class FrozenClock:
    """What the app takes for "now" (naive UTC) and "today"; ``set`` moves it (for history)."""

    def __init__(self) -> None:
        self.now = NOW

    def set(self, moment: datetime) -> None:
        self.now = moment

    def utcnow(self) -> datetime:
        return self.now


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    """Freeze "now" and "today" wherever the app reads them, and show local times in UTC.

    ``utcnow`` reads ``datetime`` from the models module at each call, so patching that
    name also covers peewee's ``default=utcnow`` (which holds the original function) and
    every ``from tui.domain.models import utcnow`` copy; those copies are replaced too,
    in case ``utcnow`` stops reading the clock that way.
    """
    frozen = FrozenClock()

    class FrozenDatetime(datetime):
        @classmethod
        def now(cls, tz=None):
            moment = frozen.now.replace(tzinfo=timezone.utc)
            return moment.astimezone(tz) if tz is not None else frozen.now

    monkeypatch.setattr(models, "datetime", FrozenDatetime)
    original = models.utcnow
    for name, module in list(sys.modules.items()):
        if name.startswith("tui.") and getattr(module, "utcnow", None) is original:
            monkeypatch.setattr(module, "utcnow", frozen.utcnow)
    assert original() == NOW

    class FrozenDate(date):
        @classmethod
        def today(cls) -> date:
            return frozen.now.date()

    # only where "today" is asked: the services still need the real date class
    monkeypatch.setattr("tui.screens.customer_panes.documents.date", FrozenDate)
    # stored times are UTC; the Equipment tab and the history show local time
    saved_tz = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    try:
        yield frozen
    finally:
        if saved_tz is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = saved_tz
        time.tzset()
