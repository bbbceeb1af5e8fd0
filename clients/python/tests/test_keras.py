"""Keras 3 ``fit()`` with only the callback on the TensorFlow, JAX and torch backends, a custom
``train_step``, a TensorFlow GradientTape loop inside ``tf.function``, optax under ``jax.jit`` and flax
nnx under ``nnx.jit``: recorded norms equal each backend's own global norm (keras_worker.py computes
them with the backend's autodiff in a reference loop). One worker process per backend, run side by side."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import TOKEN, Endpoint, read_log, require, worker_env

WORKER = Path(__file__).resolve().parent / "keras_worker.py"
BACKENDS = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}  # backend: the module it needs
LAYERS = ["net/hidden", "net/out"]


@pytest.fixture(scope="module")
def worlds(tmp_path_factory):
    require("keras")
    for module in BACKENDS.values():
        require(module)
    tmp = tmp_path_factory.mktemp("keras")
    endpoint = Endpoint(tmp / "logs")
    try:
        procs = {}
        for backend in BACKENDS:
            out = tmp / f"{backend}.json"
            env = worker_env(KERAS_BACKEND=backend, GRADIENT_MONITOR_HOME=str(tmp / "home"))
            cmd = [sys.executable, str(WORKER), endpoint.url, TOKEN, str(out)]
            procs[backend] = (subprocess.Popen(cmd, env=env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True), out)
        results = {}
        for backend, (proc, out) in procs.items():
            _, err = proc.communicate(timeout=400)
            assert proc.returncode == 0, err[-3000:]
            results[backend] = json.loads(out.read_text())
        yield endpoint, results
    finally:
        endpoint.stop()


def scenario(worlds, backend, name):
    endpoint, results = worlds
    result = results[backend][name]
    assert "error" not in result, result.get("error")
    return result, read_log(endpoint.log_for(result["run_id"]))


def steps_of(log):
    return [m for m in log if m["type"] == "step"]


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_fit_with_only_the_callback_records_every_optimizer_step_per_layer(worlds, backend):
    result, log = scenario(worlds, backend, "fit")
    assert log[0]["layers"] == LAYERS and log[0]["framework"] == {"torch": "pytorch"}.get(backend, backend)
    steps = steps_of(log)
    assert [m["step"] for m in steps] == list(range(12))  # 48 samples / batch 8, two epochs
    assert [m["total_norm"] for m in steps] == pytest.approx([e[0] for e in result["expected"]], rel=1e-5)
    for m, expected in zip(steps, result["expected"]):
        assert m["layer_norms"] == pytest.approx(expected[1:], rel=1e-5)
    assert log[-1]["status"] == "completed"


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_a_failure_inside_the_client_leaves_fit_running(worlds, backend):
    result, log = scenario(worlds, backend, "failure")
    assert len(result["losses"]) == 1 and result["weights_changed"]
    assert len(result["warnings"]) == 1 and "a changed Keras API" in result["warnings"][0]
    assert steps_of(log) == [] and log[-1]["status"] == "failed" and "training went on" in log[-1]["message"]


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_a_failure_inside_the_host_callback_of_a_traced_step_leaves_the_loop_running(worlds, backend):
    result, log = scenario(worlds, backend, "host_failure")
    assert len(result["losses"]) == 4 and not result["active"]
    assert len(result["warnings"]) == 1 and "disk full" in result["warnings"][0]
    assert log[-1]["status"] == "failed" and "OSError: disk full" in log[-1]["message"]


def test_log_tf_under_xla_turns_monitoring_off_instead_of_failing_the_compilation(worlds):
    result, log = scenario(worlds, "tensorflow", "xla")
    assert len(result["losses"]) == 4 and not result["active"]
    assert len(result["warnings"]) == 1 and "jit_compile=True" in result["warnings"][0]
    assert log[-1]["status"] == "failed"


def test_a_custom_train_step_returning_grad_norm_logs(worlds):
    result, log = scenario(worlds, "tensorflow", "train_step")
    assert [m["total_norm"] for m in steps_of(log)] == pytest.approx(result["expected"], rel=1e-5)
    assert log[0]["layers"] == LAYERS


def test_embedding_gradients_count_their_indexed_slices(worlds):
    result, log = scenario(worlds, "tensorflow", "embedding")
    assert set(result["kinds"]) == {"IndexedSlices"}
    assert log[0]["layers"] == ["net/embed", "net/out"]
    assert [m["total_norm"] for m in steps_of(log)] == pytest.approx(result["expected"], rel=1e-5)
    eager = read_log(worlds[0].log_for(result["eager_run_id"]))
    assert [m["total_norm"] for m in steps_of(eager)] == pytest.approx(result["expected"], rel=1e-5)


def test_tensorflow_gradient_tape_inside_tf_function(worlds):
    result, log = scenario(worlds, "tensorflow", "tape")
    assert result["traces"] == 1  # reporting adds no retracing
    steps = steps_of(log)
    assert [m["step"] for m in steps] == list(range(10, 16))  # the step tensors passed in
    assert [m["total_norm"] for m in steps] == pytest.approx(result["expected"], rel=1e-5)
    assert log[0]["layers"] == LAYERS and log[0]["meta"]["script"] == str(WORKER)


@pytest.mark.parametrize("name, layers", [("optax", ["hidden", "out"]), ("nnx", ["hidden", "out"])])
def test_jax_under_jit(worlds, name, layers):
    result, log = scenario(worlds, "jax", name)
    assert log[0]["layers"] == layers and log[0]["meta"]["script"] == str(WORKER)
    steps = steps_of(log)
    assert [m["step"] for m in steps] == list(range(6))
    totals = [e[0] if isinstance(e, list) else e for e in result["expected"]]
    assert [m["total_norm"] for m in steps] == pytest.approx(totals, rel=1e-5)
    if name == "optax":
        for m, expected in zip(steps, result["expected"]):
            assert m["layer_norms"] == pytest.approx(expected[1:], rel=1e-5)
