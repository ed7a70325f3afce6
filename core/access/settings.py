"""Shared-mode settings, from the ``[geocsp]`` and ``[auth]`` sections of ``.streamlit/secrets.toml``.

The app is **local** (one person, no gate) while it listens on a loopback address only, which is the default
(``.streamlit/config.toml``). It is **shared** when ``[geocsp] shared = true``, when ``GEOCSP_SHARED=1``, or
whenever the server listens beyond loopback (``--server.address 0.0.0.0``): a shared app requires an access
gate — Streamlit's OIDC log-in when ``[auth]`` is configured, otherwise named users with password hashes —
and will not show anything without one::

    [geocsp]
    shared = true
    admins = ["alice"]          # may stop anyone's run
    max_queued_runs = 2         # per user: queued or running at once
    max_upload_mb = 10          # per user, per file (at most the server's maxUploadSize)

    [geocsp.users]              # name = hash from `python -m core access hash-password`
    alice = "scrypt:16384:8:1$…$…"
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from core.access.passwords import PasswordHashError, parse_hash

DEFAULT_MAX_QUEUED_RUNS = 2
Gate = Literal["none", "oidc", "password"]
LOCAL_ADDRESSES = ("localhost",)


class AccessConfigError(ValueError):
    """A shared-mode setting that cannot be used, named with its section and key."""


@dataclass(frozen=True)
class AccessSettings:
    """Who may use the app and how much. ``users`` maps names to password hashes; ``admins`` are user names (or
    OIDC e-mail addresses); limits are None in local mode."""

    shared: bool = False
    users: Mapping[str, str] = field(default_factory=dict)
    admins: frozenset[str] = frozenset()
    oidc: bool = False
    oidc_provider: str | None = None
    max_queued_runs: int | None = None
    max_upload_mb: int | None = None

    @property
    def gate(self) -> Gate:
        """The access gate in use: none (local mode), Streamlit's OIDC log-in, or named users' passwords."""
        if not self.shared:
            return "none"
        return "oidc" if self.oidc else "password"

    @property
    def has_gate(self) -> bool:
        """Whether a shared app has a way to let anyone in (OIDC or at least one user)."""
        return self.oidc or bool(self.users)

    def is_admin(self, user: str) -> bool:
        """Whether ``user`` may stop anyone's run (everyone is, in local mode)."""
        return not self.shared or user in self.admins


def is_loopback(address: str | None) -> bool:
    """Whether a server address listens on this machine only (an empty address means every interface)."""
    if not address:
        return False
    if address in LOCAL_ADDRESSES:
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def read_settings(secrets: Mapping[str, Any], server_address: str | None, shared_env: str | None = None,
                  server_upload_mb: int | None = None) -> AccessSettings:
    """:class:`AccessSettings` from the secrets' sections, the server's address and ``GEOCSP_SHARED``;
    :class:`AccessConfigError` names a bad value."""
    section = secrets.get("geocsp", {}) or {}
    if not isinstance(section, Mapping):
        raise AccessConfigError("[geocsp] in secrets.toml must be a table")
    shared = _flag(section.get("shared", False), "geocsp.shared") or (shared_env or "").strip().lower() in ("1", "true", "yes")
    shared = shared or not is_loopback(server_address)
    users = section.get("users", {}) or {}
    if not isinstance(users, Mapping):
        raise AccessConfigError("[geocsp.users] must be a table of name = \"password hash\"")
    for name, stored in users.items():
        try:
            parse_hash(stored)
        except PasswordHashError as error:
            raise AccessConfigError(f"geocsp.users.{name}: {error}") from None
    admins = section.get("admins", [])
    if not isinstance(admins, list) or not all(isinstance(admin, str) for admin in admins):
        raise AccessConfigError("geocsp.admins must be a list of user names, e.g. [\"alice\"]")
    auth = secrets.get("auth", {}) or {}
    provider = section.get("oidc_provider")
    if provider is not None and not (isinstance(auth, Mapping) and isinstance(auth.get(provider), Mapping)):
        raise AccessConfigError(f"geocsp.oidc_provider = {provider!r} but secrets.toml has no [auth.{provider}] section")
    return AccessSettings(
        shared=shared,
        users=dict(users),
        admins=frozenset(admins),
        oidc=isinstance(auth, Mapping) and bool(auth.get("redirect_uri")) and bool(auth.get("cookie_secret")),
        oidc_provider=provider,
        max_queued_runs=_positive(section.get("max_queued_runs", DEFAULT_MAX_QUEUED_RUNS), "geocsp.max_queued_runs") if shared else None,
        max_upload_mb=_upload_mb(section.get("max_upload_mb", server_upload_mb), server_upload_mb) if shared else None,
    )


def _flag(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise AccessConfigError(f"{key} must be true or false, not {value!r}")
    return value


def _positive(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise AccessConfigError(f"{key} must be a whole number ≥ 1, not {value!r}")
    return value


def _upload_mb(value: Any, server_upload_mb: int | None) -> int | None:
    if value is None:
        return None
    value = _positive(value, "geocsp.max_upload_mb")
    return min(value, server_upload_mb) if server_upload_mb else value
