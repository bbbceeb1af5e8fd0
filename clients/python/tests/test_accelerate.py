"""A Hugging Face Accelerate loop (real accelerate, CPU) with ``accumulate()`` and
``accelerator.clip_grad_norm_``: the recorded norms are the totals that clip_grad_norm_ returns."""
from __future__ import annotations

import pytest

from conftest import TOKEN, read_log, require, steps_in

accelerate = require("accelerate")
torch = require("torch")

from gradient_monitor.integrations.accelerate import watch_accelerator  # noqa: E402
from models import LAYERS, Net, batch  # noqa: E402

ACCUMULATE = 3


def train(endpoint, micro_batches: int = 12):
    accelerator = accelerate.Accelerator(cpu=True, gradient_accumulation_steps=ACCUMULATE)
    torch.manual_seed(0)
    net = Net()
    model, opt = accelerator.prepare(net, torch.optim.SGD(net.parameters(), lr=0.5))
    monitor = watch_accelerator(accelerator, model, url=endpoint.url, token=TOKEN)
    totals = []
    with monitor:
        for i in range(micro_batches):
            x, y = batch(i, size=8)
            with accelerator.accumulate(model):
                accelerator.backward(torch.nn.functional.cross_entropy(model(x), y))
                if accelerator.sync_gradients:
                    totals.append(accelerator.clip_grad_norm_(model.parameters(), 0.2).item())
                opt.step()
                opt.zero_grad()
    return monitor, totals


def test_clip_grad_norm_under_accumulate_reports_the_total_it_returns(endpoint):
    monitor, totals = train(endpoint)
    assert len(totals) == 12 // ACCUMULATE
    log = read_log(endpoint.log_for(monitor.run_id))
    steps = [m for m in log if m["type"] == "step"]
    assert [m["step"] for m in steps] == list(range(len(totals)))
    assert [m["total_norm"] for m in steps] == pytest.approx(totals, rel=1e-6)
    assert max(totals) > 0.2 and log[0]["layers"] == LAYERS


def test_a_failure_inside_the_client_leaves_the_loop_running(endpoint, monkeypatch):
    from gradient_monitor import _torch

    def broken(*args):
        raise MemoryError("pinned memory")

    monkeypatch.setattr(_torch, "pack", broken)
    with pytest.warns(RuntimeWarning, match="monitoring is off.*pinned memory"):
        monitor, totals = train(endpoint)
    assert len(totals) == 12 // ACCUMULATE
    assert steps_in(endpoint.log_for(monitor.run_id)) == []
