"""The multi-user benchmark's bookkeeping, without a browser (percentiles, sessions that die or report), and
`make app` serving the app in the environment the benchmarks measure."""

import multiprocessing
import sys
from pathlib import Path

import pytest

from benchmarks import multi_user
from geovis.local_server import SERVER_ENV


def test_percentiles_are_nearest_rank_and_nan_without_values():
    values = [float(v) for v in range(1, 21)]
    assert multi_user.percentile(values, 0.5) == 10.0
    assert multi_user.percentile(values, 0.95) == 19.0
    assert multi_user.percentile(values, 1.0) == 20.0
    assert multi_user.percentile([3.0], 0.95) == 3.0
    assert multi_user.percentile([], 0.5) != multi_user.percentile([], 0.5)  # NaN


def test_a_session_that_dies_without_a_report_is_failed_at_once_and_a_reported_result_is_kept():
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    dead = context.Process(target=sys.exit, args=(3,))
    dead.start()
    dead.join()
    finished = {}
    results.put((1, multi_user.SessionResult(open_s=1.5, clicks_s=[0.2], lost_clicks=1)))
    multi_user.wait_for_phase(results, [dead, dead], finished, "open")
    assert finished[0].errors == ["session 0 ended without a report in the open phase (exit code 3)"]
    assert finished[1].open_s == 1.5 and finished[1].lost_clicks == 1


@pytest.mark.parametrize(("command", "served"), [
    (["python", "-m", "streamlit", "run", "app.py", "--server.port", "8501"], True),
    (["python", "-m", "streamlit", "run", "app.py", "--server.port", "8501", "--secrets.files", "s.toml"], True),
    (["python", "-m", "streamlit", "run", "app.py", "--server.port", "8502"], False),
    (["python", "-m", "streamlit", "run", "app.py", "--server.port"], False),
])
def test_the_server_is_found_by_its_port(command, served):
    assert multi_user.serves_port(command, "8501") is served


def test_make_app_serves_the_app_with_the_environment_the_benchmarks_measure():
    makefile = (Path(__file__).resolve().parents[1] / "Makefile").read_text()
    [serve] = [line.strip() for line in makefile.splitlines() if "streamlit run app.py" in line]
    assert serve.startswith(" ".join(f"{name}={value}" for name, value in SERVER_ENV.items()))
