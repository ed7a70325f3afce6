"""The access gate: called by ``app.py`` before the navigation, so nothing of the app (pages, sidebar, data)
renders until it passes.

Local mode (the default, loopback only): everyone on this machine is let in as a private session. Shared mode
(see :mod:`core.access.settings`): Streamlit's OIDC log-in (``st.login``) when ``[auth]`` is configured, else a
name and password checked against ``[geocsp.users]`` (salted scrypt hashes, constant-time comparison, a lock-out
that doubles with each failure of a name). A shared app without a gate shows only how to configure one.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from typing import NoReturn

import streamlit as st

from core.access.passwords import verify_password
from core.access.settings import AccessConfigError, AccessSettings, read_settings
from core.access.throttle import LoginThrottle

USER_KEY = "geocsp_user"
OWNER_KEY = "geocsp_owner"
CURRENT_KEY = "geocsp_current_user"
SECRETS_DOC = "docs/sharing.md"
LOG_IN_TITLE = "Log in to GeoCSP"
CLOSED_TITLE = "GeoCSP is not open"
#: Checked for a name that is not a user, so an unknown name takes as long to refuse as a wrong password.
_DUMMY_HASH = "scrypt:16384:8:1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


@dataclass(frozen=True)
class User:
    """Who is using this session: ``name`` owns the runs it starts (a private session id in local mode)."""

    name: str
    admin: bool
    shared: bool

    @property
    def made_by(self) -> str:
        """The name recorded in the runs and datasets this user makes: theirs in a shared app, none locally."""
        return self.name if self.shared else ""


@st.cache_resource(show_spinner=False)
def login_throttle() -> LoginThrottle:
    """The server's one record of failed log-ins."""
    return LoginThrottle()


def access_settings() -> AccessSettings:
    """This server's access settings, from ``secrets.toml``, its address and ``GEOCSP_SHARED``."""
    try:
        secrets = st.secrets.to_dict()
    except FileNotFoundError:  # no secrets.toml: local mode unless the server listens beyond loopback
        secrets = {}
    return read_settings(secrets, st.get_option("server.address"), os.environ.get("GEOCSP_SHARED"),
                         st.get_option("server.maxUploadSize"))


def require_access() -> User:
    """The session's user once the gate passes; otherwise the gate (or why there is none) and the run stops."""
    try:
        settings = access_settings()
    except AccessConfigError as error:
        _refuse(f"The access settings in `.streamlit/secrets.toml` cannot be used: {error}")
    if settings.gate == "none":
        user = User(st.session_state.setdefault(OWNER_KEY, uuid.uuid4().hex), admin=True, shared=False)
        st.session_state[CURRENT_KEY] = user
        return user
    if not settings.has_gate:
        _refuse(
            "This GeoCSP app is shared (it listens beyond this machine, or `shared = true`), but no access gate is "
            "configured, so it will not open. Add named users with password hashes (`python -m core access "
            "hash-password`) under `[geocsp.users]` in `.streamlit/secrets.toml`, or an OIDC provider under `[auth]`; "
            f"see {SECRETS_DOC}. To use it alone, serve it on 127.0.0.1 (the default)."
        )
    name = _oidc_user(settings) if settings.gate == "oidc" else _password_user(settings)
    with st.sidebar:
        st.caption(f"Signed in as **{name}**" + (" (admin)" if settings.is_admin(name) else ""))
        st.button("Log out", key="access_logout", on_click=_log_out, args=(settings,))
    user = st.session_state[CURRENT_KEY] = User(name, admin=settings.is_admin(name), shared=True)
    return user


def current_user() -> User:
    """The user the gate let into this session (see :func:`require_access`, which ``app.py`` runs first)."""
    if (user := st.session_state.get(CURRENT_KEY)) is None:
        return require_access()
    return user


def _oidc_user(settings: AccessSettings) -> str:
    if not st.user.is_logged_in:
        st.title(LOG_IN_TITLE)
        st.caption("This GeoCSP app is shared: log in to use it.")
        provider = () if settings.oidc_provider is None else (settings.oidc_provider,)
        st.button("Log in", type="primary", key="access_login", on_click=st.login, args=provider)
        st.stop()
    return str(st.user.get("email") or st.user.get("name") or st.user.get("sub"))


def _password_user(settings: AccessSettings) -> str:
    name = st.session_state.get(USER_KEY)
    if name in settings.users:
        return name
    st.title(LOG_IN_TITLE)
    st.caption("This GeoCSP app is shared: log in to use it.")
    with st.form("access_form"):
        name = st.text_input("User name", key="access_name").strip()
        password = st.text_input("Password", type="password", key="access_password")
        submitted = st.form_submit_button("Log in", type="primary")
    if submitted:
        throttle = login_throttle()
        if (wait := throttle.wait_seconds(name)) > 0:
            st.error(f"Too many failed log-ins for this name: try again in {wait:.0f} s.")
        elif verify_password(password, settings.users.get(name, _DUMMY_HASH)) and name in settings.users:
            throttle.succeeded(name)
            st.session_state[USER_KEY] = name
            st.rerun()
        else:
            lock = throttle.failed(name)
            st.error(f"Wrong user name or password. The next try for this name waits {lock:.0f} s.")
    st.stop()


def _log_out(settings: AccessSettings) -> None:
    for key in (USER_KEY, CURRENT_KEY):
        st.session_state.pop(key, None)
    if settings.gate == "oidc":
        st.logout()


def _refuse(message: str) -> NoReturn:
    st.title(CLOSED_TITLE)
    st.error(message)
    st.stop()
