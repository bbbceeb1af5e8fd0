"""skip_nonfinite and snapshot_nonfinite on real models and optimizers, streamed to the real endpoint."""
from __future__ import annotations

import copy
import itertools
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest
import torch
from torch import nn

import nonfinite_models as nm
from conftest import TOKEN, inspect_log, read_log
from gradient_monitor import Monitor
from gradient_monitor.snapshot import restore
from gradient_monitor.step_guard import NonfiniteStepsError

torch.set_num_threads(1)
RUNS = itertools.count()
BAD_STEP = 2


def cpu_scaler() -> Any:
    """torch.amp's GradScaler runs on the CPU (torch >= 2.3); older torch gets the test stand-in's three kernels."""
    try:
        return torch.amp.GradScaler("cpu", init_scale=2.0**16)
    except (AttributeError, TypeError):
        from cpu_grad_scaler import CpuGradScaler

        return CpuGradScaler(init_scale=2.0**16)


def data(steps: int) -> List[Any]:
    g = torch.Generator().manual_seed(0)
    out = [(torch.randn(16, 8, generator=g), torch.randint(0, 3, (16,), generator=g)) for _ in range(steps)]
    out[BAD_STEP][0][5, 1] = float("nan")  # one bad sample in one batch
    return out


def state(model: nn.Module, opt: torch.optim.Optimizer) -> Dict[str, Any]:
    return {"params": copy.deepcopy(model.state_dict()), "opt": copy.deepcopy(opt.state_dict()["state"])}


def assert_same(a: Any, b: Any) -> None:
    """Bit for bit, through nested dicts of tensors."""
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b)
    else:
        assert a == b


def steps_of(endpoint, run_id: str) -> List[Dict[str, Any]]:
    return [m for m in read_log(endpoint.log_for(run_id)) if m["type"] == "step"]


def test_a_nonfinite_step_is_skipped_with_the_weights_and_momentum_kept_and_training_goes_on(endpoint):
    torch.manual_seed(0)
    model = nm.GatedNet(bad_block=-1)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
    before_bad = None
    with Monitor("guard", url=endpoint.url, token=TOKEN, run_id=f"guard-{next(RUNS)}") as monitor:
        monitor.watch(model, optimizer=opt, skip_nonfinite=True)
        for step, (x, y) in enumerate(data(6)):
            if step == BAD_STEP:
                before_bad = state(model, opt)
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            monitor.step(loss=loss)
            opt.step()
            if step == BAD_STEP:
                assert_same(state(model, opt), before_bad)  # no update, no weight decay, no Adam moments
                assert all(p.grad is None or not p.grad.any() for p in model.parameters())
            opt.zero_grad()
    assert all(torch.isfinite(p).all() for p in model.parameters())
    steps = steps_of(endpoint, monitor.run_id)
    assert [m["step"] for m in steps] == list(range(6))
    bad = steps[BAD_STEP]
    assert bad["skipped"] is True and bad["skip_reason"] == "nonfinite"
    assert bad["nonfinite_origin"]["phase"] == "input"
    assert all("skipped" not in m for i, m in enumerate(steps) if i != BAD_STEP)
    summary = inspect_log(endpoint.log_for(monitor.run_id))
    assert summary["skipped_steps"] == 1 and summary["nonfinite_steps"] == 1  # still an alarm
    assert summary["status"] == "completed"


def test_ten_nonfinite_steps_in_a_row_raise_a_clear_error(endpoint):
    torch.manual_seed(0)
    model = nm.GatedNet()  # its log gate makes every step NaN
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    initial = copy.deepcopy(model.state_dict())
    steps_run = 0
    with pytest.raises(NonfiniteStepsError, match=r"10 optimizer steps in a row had NaN/Inf gradients"):
        with Monitor("guard-k", url=endpoint.url, token=TOKEN, run_id=f"guard-{next(RUNS)}") as monitor:
            monitor.watch(model, optimizer=opt, skip_nonfinite=True)
            for x, y in data(20):
                nn.functional.cross_entropy(model(x), y).backward()
                monitor.step()
                steps_run += 1
                opt.step()
    assert steps_run == 10
    assert_same(model.state_dict(), initial)
    log = read_log(endpoint.log_for(monitor.run_id))
    assert log[-1]["status"] == "failed" and "10 optimizer steps in a row" in log[-1]["message"]


def test_with_a_grad_scaler_the_scaler_skips_and_the_guard_stands_aside(endpoint):
    torch.manual_seed(0)
    model = nm.GatedNet(bad_block=-1)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    taken: List[int] = []
    real_step = opt.step

    def counted(*args: Any, **kwargs: Any) -> Any:
        taken.append(step)
        return real_step(*args, **kwargs)

    opt.step = counted  # type: ignore[method-assign]
    scaler = cpu_scaler()
    with Monitor("guard-amp", url=endpoint.url, token=TOKEN, run_id=f"guard-{next(RUNS)}") as monitor:
        monitor.watch(model, scaler=scaler, optimizer=opt, skip_nonfinite=True)
        for step, (x, y) in enumerate(data(5)):
            scaler.scale(nn.functional.cross_entropy(model(x), y)).backward()
            scaler.unscale_(opt)
            monitor.step()
            scaler.step(opt)
            scaler.update()
            opt.zero_grad()
    assert taken == [0, 1, 3, 4]  # the scaler skipped the bad step once; the guard did not skip again
    bad = steps_of(endpoint, monitor.run_id)[BAD_STEP]
    assert bad["skipped"] is True and "skip_reason" not in bad


def train_with_snapshot(endpoint, guard: bool) -> Any:
    """The monitor, and the weights the bad step's forward used."""
    torch.manual_seed(0)
    model = nm.GatedNet(bad_block=-1)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    with Monitor("snap", url=endpoint.url, token=TOKEN, run_id=f"snap-{next(RUNS)}") as monitor:
        monitor.watch(model, optimizer=opt if guard else None, skip_nonfinite=guard, snapshot_nonfinite=True)
        for step, (x, y) in enumerate(data(4)):
            if step == BAD_STEP:
                weights = copy.deepcopy(model.state_dict())
            loss = nn.functional.cross_entropy(nn.functional.dropout(model(x), 0.1), y)
            loss.backward()
            monitor.step()
            opt.step()
            opt.zero_grad()
    return monitor, weights


@pytest.mark.parametrize("guard", [True, False])
def test_the_first_nonfinite_step_is_saved_and_replays(endpoint, isolated: Path, guard: bool):
    monitor, weights = train_with_snapshot(endpoint, guard)
    path = isolated / ".gradient-monitor" / "snapshots" / monitor.run_id / f"step-{BAD_STEP}.pt"
    origin = steps_of(endpoint, monitor.run_id)[BAD_STEP]["nonfinite_origin"]
    assert origin["snapshot"] == str(path)
    snap = torch.load(path, weights_only=False)
    assert snap["step"] == BAD_STEP and len(snap["forwards"]) == 1
    x = data(4)[BAD_STEP][0]
    replica = nm.GatedNet(bad_block=-1)
    args, kwargs = restore(snap, replica if guard else None)
    assert torch.equal(args[0].nan_to_num(), x.nan_to_num()) and kwargs == {}
    if guard:  # the guard kept the weights the bad forward used, so the snapshot holds them
        assert_same(replica.state_dict(), weights)
        assert not torch.isfinite(replica(*args)).all()
    else:
        assert "model_state" not in snap
    # The RNG state is the one before that forward: the next draw is the one dropout made then.
    assert torch.equal(torch.get_rng_state(), snap["forwards"][0]["rng"]["torch"])
    lines = subprocess.run([sys.executable, "-m", "gradient_monitor", "replay", str(path)], capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[1]).stdout
    assert f"torch.load({json.dumps(str(path))}, weights_only=False)" in lines and "restore(snapshot, model)" in lines
    assert "with torch.autograd.detect_anomaly():" in lines and f"# Step {BAD_STEP} of run {json.dumps(monitor.run_id)}" in lines
    assert sum(1 for p in path.parent.iterdir()) == 1  # only the first non-finite step


def test_skip_nonfinite_needs_the_optimizer():
    with pytest.raises(ValueError, match="optimizer"):
        Monitor("x").watch(nm.GatedNet(), skip_nonfinite=True)
