"""Never lose data, never hurt training: restarts, no endpoint, a stuck endpoint, run statuses."""
from __future__ import annotations

import json
import math
import signal
import socket
import time
import warnings

import pytest
import torch

from conftest import TOKEN, Endpoint, inspect_log, read_log
from gradient_monitor import Monitor
from gradient_monitor.transport import TransportOptions
from models import LAYERS, loss_of, make

torch.set_num_threads(1)
# Every delivery guarantee holds over websocket-client and over the stdlib fallback alike.
pytestmark = pytest.mark.usefixtures("websocket_library")


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def logged_steps(path):
    return [m["step"] for m in read_log(path) if m["type"] == "step"]


def test_endpoint_killed_and_restarted_mid_run_loses_no_step(endpoint):
    model, opt = make()
    options = TransportOptions(backoff_initial=0.1, backoff_max=0.3, journal_after=0.3)
    with Monitor("restart", url=endpoint.url, token=TOKEN, transport_options=options) as monitor:
        monitor.watch(model)
        server_log = endpoint.log_for(monitor.run_id)
        for step in range(60):
            loss_of(model, step).backward()
            monitor.step()
            opt.step()
            opt.zero_grad()
            if step == 20:
                assert wait_for(lambda: server_log.exists() and len(logged_steps(server_log)) >= 10)
                endpoint.proc.send_signal(signal.SIGSTOP)  # frozen: what is sent now is never recorded nor acked
            if step == 25:
                time.sleep(0.2)  # let the sender put steps 21..25 on the wire
                endpoint.kill()  # SIGKILL: what was in flight and not acknowledged must come again
            if step == 40:
                time.sleep(0.8)  # a real outage: the client writes the local log meanwhile
                endpoint.start()  # same port, same log folder
            time.sleep(0.01)
        assert wait_for(lambda: monitor.connected), "the client did not reconnect during training"
    log = read_log(server_log)
    steps = [m["step"] for m in log if m["type"] == "step"]
    assert sorted(steps) == list(range(60)), "every step exactly once"
    assert log[-1]["type"] == "run_end" and log[-1]["status"] == "completed"
    assert inspect_log(server_log)["steps"] == 60
    # The outage is also in the local log (a crash then would have lost nothing), led by its run_start.
    local = read_log(monitor.log_path)
    assert local[0]["type"] == "run_start" and local[0]["layers"] == LAYERS
    assert set(m["step"] for m in local if m["type"] == "step") & set(range(21, 41))


def test_no_endpoint_records_a_local_log_that_inspect_reads():
    model, opt = make()
    with Monitor("offline") as monitor:
        monitor.watch(model)
        for step in range(25):
            loss_of(model, step).backward()
            monitor.clip_grad_norm_(model.parameters(), 0.5)
            opt.step()
            opt.zero_grad()
    assert monitor.log_path.startswith(str(monitor.log_dir)) and ".gradient-monitor/runs/" in monitor.log_path
    summary = inspect_log(monitor.log_path)
    assert summary["run_id"] == monitor.run_id and summary["steps"] == 25 and summary["status"] == "completed"
    assert summary["layers"] == len(LAYERS) and summary["read"]["bad_lines"] == []


def test_unreachable_endpoint_falls_back_to_the_local_log(caplog):
    closed_port = socket.socket()
    closed_port.bind(("127.0.0.1", 0))
    port = closed_port.getsockname()[1]
    closed_port.close()
    with Monitor("unreachable", url=f"ws://127.0.0.1:{port}/v1/stream", token=TOKEN) as monitor:
        for step in range(10):
            monitor.log(step, 1.0 + step, {"a": 1.0, "b": float(step)})
    assert logged_steps(monitor.log_path) == list(range(10))
    assert "cannot reach the endpoint" in caplog.text


def test_nonfinite_values_are_strings_in_the_local_log():
    with Monitor("strings", layers=["a", "b", "c"]) as monitor:
        monitor.log(0, math.nan, [math.inf, -math.inf, 1.0])
    text = open(monitor.log_path, encoding="utf-8").read()
    step = json.loads(text.splitlines()[1])
    assert step["total_norm"] == "NaN" and step["layer_norms"] == ["Infinity", "-Infinity", 1.0]
    assert "NaN," not in text.replace('"NaN"', "")
    assert inspect_log(monitor.log_path)["first_nonfinite"] == {"step": 0, "layers": ["a", "b"]}


def test_full_queue_drops_the_oldest_reports_counts_them_and_never_blocks():
    # An endpoint that accepts the TCP connection but never answers the handshake holds the sender.
    stuck = socket.socket()
    stuck.bind(("127.0.0.1", 0))
    stuck.listen(1)
    url = f"ws://127.0.0.1:{stuck.getsockname()[1]}/v1/stream"
    try:
        options = TransportOptions(queue_size=10, connect_timeout=1.0)
        with Monitor("stuck", url=url, token=TOKEN, transport_options=options) as monitor:
            monitor.log(0, 1.0)
            time.sleep(0.2)  # the sender is now inside the connection attempt
            with pytest.warns(RuntimeWarning, match="queue is full") as caught:
                started = time.monotonic()
                for step in range(1, 51):
                    monitor.log(step, 1.0)
                elapsed = time.monotonic() - started
            assert len([w for w in caught if "queue is full" in str(w.message)]) == 1
            assert elapsed < 0.5
            assert monitor.dropped == 40
    finally:
        stuck.close()
    assert logged_steps(monitor.log_path) == [0] + list(range(41, 51))


@pytest.mark.parametrize(
    "raised, status",
    [(ValueError("loss went bad"), "failed"), (KeyboardInterrupt(), "interrupted")],
    ids=["exception", "ctrl-c"],
)
def test_leaving_through_an_exception_ends_the_run_with_its_status(raised, status):
    with pytest.raises(type(raised)):
        with Monitor("ending") as monitor:
            monitor.log(0, 1.0)
            raise raised
    end = read_log(monitor.log_path)[-1]
    assert end["type"] == "run_end" and end["status"] == status
    if status == "failed":
        assert end["message"] == "ValueError: loss went bad"


def test_a_monitor_that_never_reported_sends_nothing():
    monitor = Monitor("unused")
    monitor.close()
    import os

    assert not os.path.exists(monitor.log_path)


def test_discovery_file_of_a_running_endpoint_is_found(isolated):
    served = Endpoint(isolated / "served-logs", home=isolated / "home")  # same GRADIENT_MONITOR_HOME as this process
    try:
        assert wait_for(lambda: any((isolated / "home" / "endpoints").glob("*.json")))
        with Monitor("discovered") as monitor:
            monitor.log(0, 2.5)
        assert logged_steps(served.log_for(monitor.run_id)) == [0]
    finally:
        served.stop()


def test_wrong_token_is_refused_and_the_run_lands_in_the_local_log(endpoint, caplog):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a refused connection is logged, not raised into training
        with Monitor("bad-token", url=endpoint.url, token="wrong") as monitor:
            monitor.log(0, 1.0)
    assert logged_steps(monitor.log_path) == [0]
    assert not endpoint.log_for(monitor.run_id).exists()
    assert "401" in caplog.text or "cannot reach" in caplog.text
