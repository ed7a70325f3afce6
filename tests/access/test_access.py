"""Shared-mode access: password hashes (salted, constant-time checked, malformed ones refused), the settings read
from secrets.toml (shared when asked or when listening beyond loopback) and the lock-out after failed log-ins."""

import subprocess
import sys

import pytest

from core.access.passwords import PasswordHashError, hash_password, parse_hash, verify_password
from core.access.settings import AccessConfigError, is_loopback, read_settings
from core.access.throttle import MAX_LOCK_S, LoginThrottle

PASSWORD = "correct horse battery"
FAST = (2**10, 8, 1)


def test_a_hash_is_salted_verifies_its_password_only_and_keeps_no_plain_text():
    first, second = hash_password(PASSWORD, cost=FAST), hash_password(PASSWORD, cost=FAST)
    assert first != second, "each hash has its own salt"
    assert PASSWORD not in first and first.startswith("scrypt:1024:8:1$")
    assert verify_password(PASSWORD, first) and verify_password(PASSWORD, second)
    assert not verify_password(PASSWORD + " ", first) and not verify_password("", first)


@pytest.mark.parametrize(
    ("stored", "message"),
    [("hunter2", "not a password hash"), ("bcrypt:1024:8:1$AAAAAAAAAAA=$AAAA", "unsupported"),
     ("scrypt:1000:8:1$AAAAAAAAAAA=$AAAA", "unsupported"), ("scrypt:1024:8:1$not base64!$AAAA", "not a password hash")],
)
def test_a_malformed_or_foreign_hash_is_refused_with_a_reason(stored, message):
    with pytest.raises(PasswordHashError, match=message):
        parse_hash(stored)


def test_short_passwords_are_not_hashed():
    with pytest.raises(PasswordHashError, match="at least 10"):
        hash_password("short")


def test_the_command_prints_a_secrets_line_that_verifies():
    result = subprocess.run([sys.executable, "-m", "core", "access", "hash-password", "--user", "alice"],
                            input=PASSWORD + "\n", capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    name, _, stored = result.stdout.strip().partition(" = ")
    assert name == '"alice"' and verify_password(PASSWORD, stored.strip('"'))


@pytest.mark.parametrize(("address", "loopback"), [("127.0.0.1", True), ("localhost", True), ("::1", True), ("127.0.1.1", True),
                                                   ("0.0.0.0", False), ("", False), (None, False), ("192.168.1.4", False)])
def test_loopback_addresses(address, loopback):
    assert is_loopback(address) is loopback


def test_the_app_is_local_on_loopback_and_shared_when_asked_or_listening_beyond_it():
    assert read_settings({}, "127.0.0.1").gate == "none"
    assert read_settings({}, "127.0.0.1").max_queued_runs is None
    for settings in (read_settings({"geocsp": {"shared": True}}, "127.0.0.1"), read_settings({}, "0.0.0.0"),
                     read_settings({}, "127.0.0.1", shared_env="1")):
        assert settings.shared and settings.gate == "password" and not settings.has_gate, "shared with no gate: it will not open"
    users = {"alice": hash_password(PASSWORD, cost=FAST)}
    settings = read_settings({"geocsp": {"users": users, "admins": ["alice"], "max_upload_mb": 99}}, "", server_upload_mb=25)
    assert settings.has_gate and settings.is_admin("alice") and not settings.is_admin("bob")
    assert (settings.max_queued_runs, settings.max_upload_mb) == (2, 25), "a user's upload limit never exceeds the server's"
    oidc = read_settings({"auth": {"redirect_uri": "https://geo.lab/oauth2callback", "cookie_secret": "x" * 32}}, "0.0.0.0")
    assert oidc.gate == "oidc" and oidc.has_gate


@pytest.mark.parametrize(
    ("secrets", "message"),
    [({"geocsp": {"shared": "yes"}}, "geocsp.shared must be true or false"),
     ({"geocsp": {"users": {"bob": "hunter2"}}}, "geocsp.users.bob: not a password hash"),
     ({"geocsp": {"admins": "alice"}}, "geocsp.admins must be a list"),
     ({"geocsp": {"shared": True, "max_queued_runs": 0}}, "geocsp.max_queued_runs must be a whole number"),
     ({"geocsp": {"oidc_provider": "google"}}, r"no \[auth.google\] section")],
)
def test_bad_settings_are_named(secrets, message):
    with pytest.raises(AccessConfigError, match=message):
        read_settings(secrets, "127.0.0.1")


def test_each_failure_of_a_name_doubles_its_lock_out_until_a_success_clears_it():
    now = [100.0]
    throttle = LoginThrottle(clock=lambda: now[0], max_names=3)
    assert throttle.wait_seconds("alice") == 0
    assert [throttle.failed("Alice ") for _ in range(4)] == [1, 2, 4, 8], "names are compared trimmed and case-folded"
    assert throttle.wait_seconds("alice") == 8 and throttle.wait_seconds("bob") == 0
    now[0] += 8
    assert throttle.wait_seconds("alice") == 0
    for _ in range(20):
        throttle.failed("alice")
    assert throttle.wait_seconds("alice") == MAX_LOCK_S
    throttle.succeeded("alice")
    assert throttle.wait_seconds("alice") == 0
    for name in ("a", "b", "c", "d"):
        throttle.failed(name)
    assert throttle.wait_seconds("a") == 0 and throttle.wait_seconds("d") == 1, "the oldest names are forgotten first"
