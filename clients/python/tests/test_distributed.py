"""torch.distributed with two real CPU processes (gloo): the reported norm is the global one."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import TOKEN, read_log
from models import LAYERS

WORKER = Path(__file__).resolve().parent / "dist_worker.py"


def run_ranks(mode, endpoint, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = []
    for rank in range(2):
        env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": str(rank), "WORLD_SIZE": "2", "OMP_NUM_THREADS": "1"}
        out = tmp_path / f"rank{rank}.json"
        procs.append((subprocess.Popen([sys.executable, str(WORKER), mode, endpoint.url, TOKEN, str(out)], env=env, stderr=subprocess.PIPE, text=True), out))
    results = []
    for proc, out in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-3000:]
        results.append(json.loads(out.read_text()))
    logs = list(endpoint.log_dir.glob("*.jsonl"))
    assert len(logs) == 1, f"expected one run, got {logs}"
    return results, read_log(logs[0])


def steps_of(log, rank=None):
    return [m for m in log if m["type"] == "step" and (rank is None or m.get("rank", 0) == rank)]


def test_ddp_reports_the_global_norm_from_rank_0_only(endpoint, tmp_path):
    results, log = run_ranks("ddp", endpoint, tmp_path)
    assert results[0]["expected"] == pytest.approx(results[1]["expected"], rel=1e-6)  # DDP: same gradients everywhere
    steps = steps_of(log)
    assert all("rank" not in m for m in steps)
    assert [m["total_norm"] for m in steps] == pytest.approx(results[0]["expected"], rel=1e-6)
    start = log[0]
    assert start["layers"] == LAYERS and start["meta"]["world_size"] == 2 and start["meta"]["rank"] == 0


def test_all_ranks_send_into_one_run_with_their_rank(endpoint, tmp_path):
    results, log = run_ranks("ddp-all-ranks", endpoint, tmp_path)
    for rank in (0, 1):
        steps = steps_of(log, rank)
        assert [m["rank"] for m in steps] == [rank] * 6
        assert [m["total_norm"] for m in steps] == pytest.approx(results[rank]["expected"], rel=1e-6)
    assert sorted(m["meta"]["rank"] for m in log if m["type"] == "run_start") == [0, 1]


@pytest.mark.parametrize("mode", ["chunks", "owners"])
def test_sharded_gradients_are_all_reduced_into_the_global_norm(endpoint, tmp_path, mode):
    results, log = run_ranks(mode, endpoint, tmp_path)
    for r in results:  # every rank clipped with the global norm, not its shard's
        assert r["got"] == pytest.approx(r["expected"], rel=1e-5)
    steps = steps_of(log)
    assert [m["total_norm"] for m in steps] == pytest.approx(results[0]["expected"], rel=1e-5)
    for m, layers in zip(steps, results[0]["expected_layers"]):
        assert m["layer_norms"] == pytest.approx(layers, rel=1e-5)
