"""Staff identities: the OS login at the keyboard, mapped to a role from the YAML."""

from __future__ import annotations

import re

from tui.domain.config import Config
from tui.domain.context import Actor, Context
from tui.domain.database import ClientbookDatabase
from tui.domain.dialect import same_text
from tui.domain.errors import IdentityRefused, NotFound, ValidationError
from tui.domain.permissions import require
from tui.domain.models import AuditEvent, User
from tui.domain.services._base import audit, changed_fields, snapshot, write
from tui.domain.validation import LIMITS, Errors, clean_text, quoted
from tui.i18n import _

LOGIN_PATTERN = re.compile(r"^[a-z_][a-z0-9_.-]*\$?$", re.IGNORECASE)  # POSIX-ish user names


def resolve_actor(config: Config, login: str) -> Actor:
    """Map a login to the actor it acts as in the open database, or refuse it with the reason."""
    user = User.get_or_none(same_text(User.login, login))
    if user is None:
        if config.unknown_logins == "refuse" or config.default_role is None:
            raise IdentityRefused(
                _("{login} is not a user of this database; ask an administrator to run "
                  "`clientbook users add {login} --role ROLE`.").format(login=login)
            )
        role = config.roles[config.default_role]
        return Actor(login, role.key, role.permissions, login, registered=False)
    if not user.active:
        raise IdentityRefused(_("The account {login} is disabled.").format(login=login))
    role = config.roles.get(user.role)
    if role is None:
        raise IdentityRefused(
            _("{login} has the role {role}, which {config} does not define; ask an "
              "administrator to fix the configuration or the user.").format(
                login=login, role=user.role, config=config.path.name
            )
        )
    return Actor(login, role.key, role.permissions, user.display_name or login)


def register_first_user(db: ClientbookDatabase, config: Config, login: str) -> bool:
    """Make ``login`` administrator of a database that has no user yet; True if it did."""
    with db.atomic():
        if User.select().exists():
            return False
        user = User.create(login=login, display_name=login, role=config.first_user_role)
        AuditEvent.create(
            login=login, action="create", entity="user", entity_id=user.id, after=snapshot(user)
        )
        return True


def _check_role(ctx: Context, role: str, errors: Errors) -> None:
    if role not in ctx.config.roles:
        errors.add(
            "role",
            _("Unknown role {role}; roles are: {roles}.").format(
                role=quoted(role), roles=", ".join(ctx.config.roles)
            ),
        )


def add_user(ctx: Context, login: str, role: str, display_name: str = "") -> User:
    with write(ctx, "user.manage"):
        errors = Errors()
        login = errors.check("login", clean_text, login, limit=LIMITS["login"], required=True)
        if login and not LOGIN_PATTERN.match(login):
            errors.add("login", _("Not a valid login name: {login}").format(login=login))
        display_name = errors.check(
            "display_name", clean_text, display_name, limit=LIMITS["display_name"]
        )
        _check_role(ctx, role, errors)
        if login and User.select().where(User.login == login).exists():
            errors.add("login", _("{login} is already a user.").format(login=login))
        errors.raise_if_any()
        user = User.create(login=login, role=role, display_name=display_name or login)
        audit(ctx, "create", "user", user.id, after=snapshot(user))
        return user


def list_users(ctx: Context) -> list[User]:
    require(ctx.actor, "user.manage")
    return list(User.select().order_by(User.login))


def _get(login: str) -> User:
    user = User.get_or_none(same_text(User.login, login))
    if user is None:
        raise NotFound(_("user"), quoted(login, LIMITS["login"], bare=True))
    return user


def _keeps_an_administrator(ctx: Context, user: User, new_role: str, active: bool) -> None:
    """Refuse the change that would leave nobody able to manage users."""
    managers = [
        key for key, role in ctx.config.roles.items() if "user.manage" in role.permissions
    ]
    if user.role not in managers or (new_role in managers and active):
        return
    others = (
        User.select()
        .where(User.role.in_(managers), User.active == True, User.id != user.id)  # noqa: E712
        .exists()
    )
    if not others:
        raise ValidationError(
            {"role": _("{login} is the last active user who can manage users.").format(
                login=user.login)}
        )


def _change(ctx: Context, login: str, *, role: str | None = None, active: bool | None = None) -> User:
    with write(ctx, "user.manage"):
        user = _get(login)
        errors = Errors()
        if role is not None:
            _check_role(ctx, role, errors)
        errors.raise_if_any()
        new_role = user.role if role is None else role
        new_active = user.active if active is None else active
        _keeps_an_administrator(ctx, user, new_role, new_active)
        before = snapshot(user)
        user.role, user.active = new_role, new_active
        user.save()
        after = snapshot(user)
        audit(ctx, "update", "user", user.id, before=before, after=changed_fields(before, after))
        return user


def set_role(ctx: Context, login: str, role: str) -> User:
    return _change(ctx, login, role=role)


def disable_user(ctx: Context, login: str) -> User:
    return _change(ctx, login, active=False)


def enable_user(ctx: Context, login: str) -> User:
    return _change(ctx, login, active=True)
