"""torch.distributed with two real CPU processes (gloo), all modes of dist_worker.py in one launch: the
reported norm is the global one, equal to the framework's own clip_grad_norm_ total."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import TOKEN, Endpoint, read_log, worker_env
from models import LAYERS

WORKER = Path(__file__).resolve().parent / "dist_worker.py"
TORCH_2 = int(torch.__version__.split(".")[0]) >= 2
MODES = ["ddp", "ddp-all-ranks", "chunks", "owners"] + (["fsdp1-orig", "fsdp1-flat", "fsdp2"] if TORCH_2 else [])


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    """Both ranks' results per mode, and each mode's run log as the endpoint recorded it."""
    tmp = tmp_path_factory.mktemp("distributed")
    endpoint = Endpoint(tmp / "logs")
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        procs = []
        for rank in range(2):
            env = worker_env(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE="2", GRADIENT_MONITOR_HOME=str(tmp / "home"))
            out = tmp / f"rank{rank}.json"
            cmd = [sys.executable, str(WORKER), ",".join(MODES), endpoint.url, TOKEN, str(out)]
            procs.append((subprocess.Popen(cmd, env=env, cwd=tmp, stderr=subprocess.PIPE, text=True), out))
        results = []
        for proc, out in procs:
            _, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, err[-3000:]
            results.append(json.loads(out.read_text()))
        assert len(list(endpoint.log_dir.glob("*.jsonl"))) == len(MODES)  # one run per mode, whatever the ranks
        yield {mode: ([r[mode] for r in results], read_log(endpoint.log_for(results[0][mode]["run_id"]))) for mode in MODES}
    finally:
        endpoint.stop()


def steps_of(log, rank=None):
    return [m for m in log if m["type"] == "step" and (rank is None or m.get("rank", 0) == rank)]


def test_ddp_reports_the_global_norm_from_rank_0_only(ranks):
    results, log = ranks["ddp"]
    assert results[0]["expected"] == pytest.approx(results[1]["expected"], rel=1e-6)  # DDP: same gradients everywhere
    steps = steps_of(log)
    assert all("rank" not in m for m in steps)
    assert [m["total_norm"] for m in steps] == pytest.approx(results[0]["expected"], rel=1e-6)
    start = log[0]
    assert start["layers"] == LAYERS and start["meta"]["world_size"] == 2 and start["meta"]["rank"] == 0


def test_all_ranks_send_into_one_run_with_their_rank(ranks):
    results, log = ranks["ddp-all-ranks"]
    for rank in (0, 1):
        steps = steps_of(log, rank)
        assert [m["rank"] for m in steps] == [rank] * 6
        assert [m["total_norm"] for m in steps] == pytest.approx(results[rank]["expected"], rel=1e-6)
    assert sorted(m["meta"]["rank"] for m in log if m["type"] == "run_start") == [0, 1]


@pytest.mark.parametrize("mode", ["chunks", "owners"])
def test_sharded_gradients_are_all_reduced_into_the_global_norm(ranks, mode):
    results, log = ranks[mode]
    for r in results:  # every rank clipped with the global norm, not its shard's
        assert r["got"] == pytest.approx(r["expected"], rel=1e-5)
    steps = steps_of(log)
    assert [m["total_norm"] for m in steps] == pytest.approx(results[0]["expected"], rel=1e-5)
    for m, layers in zip(steps, results[0]["expected_layers"]):
        assert m["layer_norms"] == pytest.approx(layers, rel=1e-5)


@pytest.mark.skipif(not TORCH_2, reason="FSDP on the CPU with gloo, and fully_shard, need torch 2.x")
@pytest.mark.parametrize("mode", ["fsdp1-orig", "fsdp1-flat", "fsdp2"])
def test_fsdp_reports_the_total_of_its_own_clip_grad_norm(ranks, mode):
    results, log = ranks[mode]
    assert results[0]["expected"] == pytest.approx(results[1]["expected"], rel=1e-6)
    steps = steps_of(log)
    assert len(steps) == 6 and all("rank" not in m for m in steps)  # rank 0 only
    assert [m["total_norm"] for m in steps] == pytest.approx(results[0]["expected"], rel=1e-5)
    assert sum(1 for m in log if m["type"] == "run_start") == 1
    for r in results:  # one collective per step, and no DTensor made whole per parameter
        assert r["counts"] == {"all_reduce": 6, "full_tensor": 0}
    if mode == "fsdp2":
        assert log[0]["layers"] == LAYERS
        for m, layers in zip(steps, results[0]["expected_layers"]):
            assert m["layer_norms"] == pytest.approx(layers, rel=1e-5)
