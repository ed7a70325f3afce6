"""The access gate in AppTest: a local app opens as before; a shared app with no gate shows only how to configure
one; with named users nothing but the log-in form renders (on every page) until the password is right, failures
lock the name out for a while, and a signed-in user's runs carry their name and are theirs to stop."""

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.access.passwords import hash_password
from core.workflows import jobs
from geovis import access_gate
from tests.app.apptest import APP, ok
from tests.workflows.test_jobs import tiny_data  # noqa: F401 — a fixture

PASSWORDS = {"alice": "alice's long password", "bob": "bob's long password!"}
HASHES = {name: hash_password(password, cost=(2**10, 8, 1)) for name, password in PASSWORDS.items()}


def shared_app(geocsp: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.secrets["geocsp"] = {"shared": True, "users": HASHES, "admins": ["alice"], **(geocsp or {})}
    return at


def log_in(at: AppTest, name: str, password: str) -> AppTest:
    at.text_input(key="access_name").input(name)
    at.text_input(key="access_password").input(password)
    return ok(at.button[0].click().run())


def only_the_gate(at: AppTest, title: str = access_gate.LOG_IN_TITLE) -> bool:
    return [t.value for t in at.title] == [title] and not at.header and not at.get("plotly_chart") and not at.dataframe


@pytest.fixture(autouse=True)
def fresh_throttle():
    access_gate.login_throttle.clear()


def test_a_local_app_opens_without_a_gate():
    at = ok(AppTest.from_file(APP, default_timeout=120).run())
    assert not any(w.key in ("access_name", "access_password") for w in at.text_input)
    assert at.title[0].value == "GeoCSP" and not at.error and at.header, "the Overview page, as before"


def test_a_shared_app_without_a_gate_will_not_open():
    at = AppTest.from_file(APP, default_timeout=120)
    at.secrets["geocsp"] = {"shared": True}
    ok(at.run())
    assert only_the_gate(at, access_gate.CLOSED_TITLE) and "no access gate is configured, so it will not open" in at.error[0].value
    assert not at.text_input, "no log-in form either: there is nobody to let in"


@pytest.mark.parametrize("page", sorted(f"app_pages/{path.name}" for path in (Path(APP).parent / "app_pages").glob("*.py")))
def test_nothing_of_any_page_renders_before_the_log_in(page):
    at = ok(shared_app().run())
    ok(at.switch_page(page).run())
    assert only_the_gate(at) and [w.label for w in at.text_input] == ["User name", "Password"]


def test_a_wrong_password_is_refused_and_locks_the_name_then_the_right_one_lets_the_user_in():
    at = ok(shared_app().run())
    log_in(at, "alice", "not alice's password")
    assert at.error[0].value.startswith("Wrong user name or password") and only_the_gate(at)
    log_in(at, "alice", PASSWORDS["alice"])
    assert at.error[0].value.startswith("Too many failed log-ins for this name"), "locked for 1 s after a failure"
    log_in(at, "mallory", PASSWORDS["alice"])
    assert at.error[0].value.startswith("Wrong user name or password"), "an unknown name is refused like a wrong password"
    access_gate.login_throttle().succeeded("alice")  # the lock-out has passed
    log_in(at, "alice", PASSWORDS["alice"])
    assert not at.error and at.header and "Signed in as **alice** (admin)" in [c.value for c in at.sidebar.caption]
    ok(at.switch_page("app_pages/pretrain.py").run())
    assert at.title[0].value == "Pre-train"


def test_a_users_runs_carry_their_name_are_limited_and_only_they_or_an_admin_may_stop_them(tmp_path, monkeypatch, tiny_data):  # noqa: F811
    monkeypatch.setenv("GEOCSP_RUNS", str(tmp_path / "runs"))
    manager = jobs.JobManager(data_provider=lambda data_config, progress: tiny_data)
    monkeypatch.setattr(jobs, "_MANAGER", manager)
    at = log_in(ok(shared_app({"max_queued_runs": 1}).run()), "bob", PASSWORDS["bob"])
    ok(at.switch_page("app_pages/pretrain.py").run())
    at.number_input(key="pt_epochs").set_value(50)
    ok(at.button(key="run_start").click().run())
    [job] = manager.jobs("bob")
    assert job.made_by == "bob"
    ok(at.button(key="run_start").click().run())
    assert "this app allows 1 per user" in at.error[0].value and len(manager.jobs("bob")) == 1
    with pytest.raises(PermissionError, match="started by someone else"):
        manager.stop(job.id, "carol")
    assert manager.stop(job.id, "alice", admin=True).stop_requested
    assert manager.join(job, timeout=120)
    st.cache_data.clear()
    ok(at.run())
    assert any(e.label.endswith(" · by bob") for e in at.expander), "the run list says who made the run"


def test_a_users_upload_limit_is_checked_on_the_server():
    at = log_in(ok(shared_app({"max_upload_mb": 1}).run()), "bob", PASSWORDS["bob"])
    ok(at.switch_page("app_pages/probe.py").run())
    rows = "lon,lat,target\n" + "10.0,20.0,1\n" * 120_000  # 1.4 MB: over bob's 1 MiB, under the server's 25
    at.file_uploader(key="probe_upload").set_value(("big.csv", rows.encode(), "text/csv"))
    ok(at.run())
    assert any("larger than the 1 MiB (1,048,576 bytes) this app takes per file" in e.value for e in at.error)
