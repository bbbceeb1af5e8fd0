"""A notebook kernel as VS Code's Jupyter extension starts it: a real ipykernel (jupyter_client, in the
framework venv) with no GRADIENT_MONITOR_* variables finds the endpoint through the discovery files,
streams a real torch training run from a cell, and names that cell as the run's call site."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time

from conftest import TOKEN, build_wheel, framework_python, read_log

CELL_URI = "vscode-notebook-cell:/workspace/notebooks/train.ipynb#W2sZmlsZQ%3D%3D"
TRAINING_CELL = """\
import torch
from gradient_monitor import Monitor

torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
x, y = torch.randn(32, 4), torch.randn(32, 1)
reference = []
with Monitor(run_id="notebook-run") as monitor:
    monitor.watch(model)
    for step in range(8):
        torch.nn.functional.mse_loss(model(x), y).backward()
        reference.append(torch.nn.utils.get_total_norm([p.grad for p in model.parameters()]).item())
        monitor.step()
        opt.step()
        opt.zero_grad()
print(json.dumps({"reference": reference, "connected_log": os.path.exists(monitor.log_path)}))
"""


def test_a_kernel_with_no_endpoint_variables_streams_a_cell_through_discovery(isolated, endpoint):
    python = framework_python()
    workspace = isolated / "workspace"
    notebook = workspace / "notebooks" / "train.ipynb"
    notebook.parent.mkdir(parents=True)
    home = isolated / "kernel-home"
    (home / "endpoints").mkdir(parents=True)
    now = time.time() * 1000
    # This window's endpoint, and a newer one of another window (alive: this process) that must not be chosen.
    records = {
        "1.json": {"url": endpoint.url, "token": TOKEN, "pid": endpoint.proc.pid, "workspaceFolders": [str(workspace)], "startedAt": now, "logDir": str(endpoint.log_dir)},
        "2.json": {"url": "ws://127.0.0.1:9/v1/stream", "token": "x", "pid": os.getpid(), "workspaceFolders": [str(isolated / "other")], "startedAt": now + 1, "logDir": "/x"},
    }
    for name, record in records.items():
        (home / "endpoints" / name).write_text(json.dumps(record))
    site = isolated / "installed"  # the client as `Install Python Client` leaves it: pip-installed from the wheel
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", str(site), str(build_wheel(isolated))], check=True, timeout=120)

    env = {k: v for k, v in os.environ.items() if not k.startswith("GRADIENT_MONITOR_") and k != "PYTHONPATH"}
    env.update(GRADIENT_MONITOR_HOME=str(home), PYTHONPATH=str(site), OMP_NUM_THREADS="1")
    config = {
        "cwd": str(workspace),
        "env": env,
        "cells": [
            # What VS Code's Jupyter extension runs in every kernel it starts, before the user's cells.
            {"code": f"__vsc_ipynb_file__ = {str(notebook)!r}\nimport json, os"},
            {"code": TRAINING_CELL, "metadata": {"cellId": CELL_URI}},
        ],
    }
    (isolated / "kernel.json").write_text(json.dumps(config))
    driver = os.path.join(os.path.dirname(__file__), "kernel_driver.py")
    done = subprocess.run([python, driver, str(isolated / "kernel.json")], capture_output=True, text=True, timeout=300, cwd=isolated)
    assert done.returncode == 0, done.stderr[-3000:]
    setup, training = json.loads(done.stdout.strip().splitlines()[-1])
    assert setup["status"] == "ok", setup["output"]
    assert training["status"] == "ok", training["output"]
    result = json.loads(training["output"].strip().splitlines()[-1])
    assert result["connected_log"] is False, "streamed: nothing went to a local log"

    log = read_log(endpoint.log_for("notebook-run"))
    start = log[0]
    assert start["type"] == "run_start" and start["name"] == "train"  # named after the notebook
    assert start["meta"]["script"] == str(notebook)
    assert start["meta"]["cell"] == CELL_URI
    step_line = TRAINING_CELL.splitlines().index("        monitor.step()") + 1
    assert start["meta"]["line"] == step_line, "the call site is the line in the cell"
    assert start["meta"]["cwd"] == str(workspace)
    norms = [m["total_norm"] for m in log if m["type"] == "step"]
    assert len(norms) == 8 and all(math.isclose(a, b, rel_tol=1e-5) for a, b in zip(norms, result["reference"]))
    assert log[-1]["type"] == "run_end" and log[-1]["status"] == "completed"
