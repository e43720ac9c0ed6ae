"""Identity: the OS login maps to a role; the first login administers; refusals are clear."""

from __future__ import annotations

import dataclasses

import pytest

from tui.domain.context import os_login
from tui.domain.errors import IdentityRefused, ValidationError
from tui.domain.models import AuditEvent, User
from tui.domain.services import users

pytestmark = pytest.mark.both_backends


def test_first_login_becomes_administrator_once(db, config):
    assert users.register_first_user(db, config, "founder") is True
    assert users.register_first_user(db, config, "latecomer") is False
    assert [(u.login, u.role) for u in User.select()] == [("founder", "administrator")]
    actor = users.resolve_actor(config, "founder")
    assert actor.role == "administrator" and actor.can("user.manage") and actor.registered
    assert AuditEvent.get(AuditEvent.entity == "user").login == "founder"


def test_unknown_login_gets_the_default_role(db, config):
    users.register_first_user(db, config, "founder")
    actor = users.resolve_actor(config, "visitor")
    assert (actor.role, actor.registered) == ("limited", False)
    assert actor.can("customer.view") and not actor.can("customer.create")


def test_unknown_login_is_refused_when_the_site_says_so(db, config):
    strict = dataclasses.replace(config, unknown_logins="refuse")
    users.register_first_user(db, strict, "founder")
    with pytest.raises(IdentityRefused, match="visitor is not a user"):
        users.resolve_actor(strict, "visitor")


def test_disabled_user_is_refused(admin, config):
    users.add_user(admin, "alice", "account_owner")
    users.disable_user(admin, "alice")
    with pytest.raises(IdentityRefused, match="disabled"):
        users.resolve_actor(config, "alice")
    users.enable_user(admin, "alice")
    assert users.resolve_actor(config, "alice").role == "account_owner"


def test_role_missing_from_the_configuration_is_refused(admin, config):
    users.add_user(admin, "alice", "estimator")
    roles = {k: v for k, v in config.roles.items() if k != "estimator"}
    with pytest.raises(IdentityRefused, match="estimator"):
        users.resolve_actor(dataclasses.replace(config, roles=roles), "alice")


@pytest.mark.parametrize("login,role,field", [
    ("", "limited", "login"), ("bad login", "limited", "login"), ("a" * 80, "limited", "login"),
    ("carol", "overlord", "role"), ("x\x1b[31m", "limited", "login"),
])
def test_add_user_validates(admin, login, role, field):
    with pytest.raises(ValidationError) as caught:
        users.add_user(admin, login, role)
    assert field in caught.value.errors


def test_duplicate_login_is_refused(admin):
    users.add_user(admin, "alice", "limited")
    with pytest.raises(ValidationError, match="already a user"):
        users.add_user(admin, "alice", "estimator")


def test_the_last_administrator_cannot_lock_everyone_out(db, config, as_role):
    users.register_first_user(db, config, "boss")
    ctx = as_role("administrator", "boss")
    for change in (lambda: users.set_role(ctx, "boss", "limited"),
                   lambda: users.disable_user(ctx, "boss")):
        with pytest.raises(ValidationError, match="last active user who can manage users"):
            change()
    users.add_user(ctx, "deputy", "administrator")
    users.set_role(ctx, "boss", "limited")
    assert User.get(User.login == "boss").role == "limited"


def test_os_login_is_the_process_owner_not_the_environment(monkeypatch):
    import pwd
    import os

    monkeypatch.setenv("USER", "impostor")
    monkeypatch.setenv("LOGNAME", "impostor")
    assert os_login() == pwd.getpwuid(os.geteuid()).pw_name != "impostor"
