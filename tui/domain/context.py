"""Who is acting, on which database, under which configuration.

Every service takes a ``Context`` first: the permission check, the audit
trail and the stored files all need to know all three.
"""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tui.domain.config import Config
from tui.domain.database import ClientbookDatabase

if TYPE_CHECKING:
    from tui.domain.postgres import ClientbookPostgres


@dataclass(frozen=True)
class Actor:
    login: str
    role: str
    permissions: frozenset[str]
    display_name: str = ""
    registered: bool = True  # False: an unknown login acting under the default role

    def can(self, permission: str) -> bool:
        return permission in self.permissions


@dataclass(frozen=True)
class Context:
    db: ClientbookDatabase | ClientbookPostgres  # .label names it; .file is the SQLite file or None
    config: Config
    actor: Actor


def os_login() -> str:
    """The account the process runs as: over SSH, the staff member who logged in.

    Read from the process's user id, not $USER, which anyone can set.
    """
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:  # a uid with no passwd entry (some containers)
        return f"uid{os.geteuid()}"
