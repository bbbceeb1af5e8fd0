"""`python -m gradient_monitor demo`: a real PyTorch run (and the synthetic one) with an explosion the endpoint flags."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import TOKEN, inspect_log, read_log

CLIENT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("extra", [[], ["--synthetic"]], ids=["pytorch", "synthetic"])
def test_demo_streams_a_run_with_an_explosion(endpoint, extra):
    done = subprocess.run(
        [sys.executable, "-m", "gradient_monitor", "demo", "--steps", "40", "--explode-at", "30", "--rate", "0", "--url", endpoint.url, "--token", TOKEN, *extra],
        cwd=CLIENT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    (log,) = endpoint.log_dir.glob("*.jsonl")
    summary = inspect_log(log)
    assert summary["steps"] == 40 and summary["status"] == "completed"
    assert summary["framework"] == ("other" if extra else "pytorch")
    assert summary["threshold_exceeded"]["first_step"] == 30 and summary["max_total_norm_step"] >= 30


def test_module_without_a_command_prints_usage():
    done = subprocess.run([sys.executable, "-m", "gradient_monitor"], cwd=CLIENT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "demo" in done.stderr


def test_demo_workspace_script_streams_a_spike_and_a_traced_nan(endpoint, tmp_path):
    """scripts/demo.sh runs demo/workspace/train.py: its spike and its NaN are what the demo shows."""
    script = CLIENT.parents[1] / "demo" / "workspace" / "train.py"
    env = {**os.environ, "GRADIENT_MONITOR_URL": endpoint.url, "GRADIENT_MONITOR_TOKEN": TOKEN, "PYTHONPATH": str(CLIENT)}
    done = subprocess.run(
        [sys.executable, str(script), "--steps", "120", "--wrong-units-at", "40", "--negative-area-at", "90"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    (log,) = endpoint.log_dir.glob("*.jsonl")
    summary = inspect_log(log)
    assert summary["steps"] == 120 and summary["status"] == "completed"
    assert summary["max_total_norm_step"] == 40 and 40 in summary["spikes"], summary
    assert summary["first_nonfinite"]["step"] == 90 and summary["nonfinite_steps"] == 1
    origin = summary["first_nonfinite"]["origin"]
    assert origin["module"] == "features" and origin["class"] == "LogFeatures", origin
    nan_step = next(m for m in read_log(log) if m["type"] == "step" and m["step"] == 90)
    assert nan_step.get("skipped") is True  # the guard kept the weights
