"""`python -m gradient_monitor demo`: a real PyTorch run (and the synthetic one) with an explosion the endpoint flags."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import TOKEN, inspect_log

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
