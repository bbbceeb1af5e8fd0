"""Real PyTorch training streamed to the real endpoint: the recorded norms are torch's own."""
from __future__ import annotations

import math
import sys
import time

import pytest
import torch

from conftest import TOKEN, inspect_log, read_log
from cpu_grad_scaler import cpu_grad_scaler
from gradient_monitor import Monitor
from models import LAYERS, batch, layer_norm, loss_of, make, torch_total, twin

torch.set_num_threads(1)


def steps_of(log):
    return [m for m in log if m["type"] == "step"]


def test_step_reports_torch_norms_per_layer_with_call_site(endpoint):
    model, opt = make()
    expected_total, expected_layers = [], []
    started = time.time()
    with Monitor("norms", url=endpoint.url, token=TOKEN, threshold=5.0) as monitor:
        monitor.watch(model)
        for step in range(20):
            loss = loss_of(model, step)
            loss.backward()
            monitor.step(loss=loss); step_line = sys._getframe().f_lineno  # noqa: E702
            expected_layers.append([layer_norm(model, name) for name in LAYERS])
            expected_total.append(torch_total(model))
            opt.step()
            opt.zero_grad()
    log = read_log(endpoint.log_for(monitor.run_id))
    start = log[0]
    assert start["type"] == "run_start" and start["layers"] == LAYERS and start["framework"] == "pytorch" and start["threshold"] == 5.0
    meta = start["meta"]
    assert meta["script"] == __file__ and meta["line"] == step_line
    assert meta["client"].startswith("gradient-monitor-python/") and meta["rank"] == 0 and meta["world_size"] == 1
    assert {"pid", "host", "argv", "cwd"} <= set(meta)
    steps = steps_of(log)
    assert [m["step"] for m in steps] == list(range(20))
    for m, total, layers in zip(steps, expected_total, expected_layers):
        assert m["total_norm"] == pytest.approx(total, rel=1e-6)
        assert m["layer_norms"] == pytest.approx(layers, rel=1e-5)
        assert "skipped" not in m and "clipped" not in m and "rank" not in m
        assert started <= m["time"] <= time.time()
    assert steps[3]["loss"] == pytest.approx(loss_of_at(3))
    assert log[-1] == {"type": "run_end", "run_id": monitor.run_id, "status": "completed"}


def loss_of_at(step):
    model, opt = make()
    for s in range(step):
        loss_of(model, s).backward()
        opt.step()
        opt.zero_grad()
    return loss_of(model, step).item()


def test_clip_grad_norm_clips_like_torch_and_reports_the_norm_it_computed(endpoint):
    reference, ref_opt = make()
    model, opt = twin(reference)
    totals, layers_before = [], []
    with Monitor("clip", url=endpoint.url, token=TOKEN) as monitor:
        monitor.watch(model)
        for step in range(15):
            loss_of(reference, step).backward()
            loss_of(model, step).backward()
            layers_before.append([layer_norm(reference, name) for name in LAYERS])
            expected = torch.nn.utils.clip_grad_norm_(reference.parameters(), 0.4)
            got = monitor.clip_grad_norm_(model.parameters(), 0.4)
            assert torch.equal(got, expected)
            for a, b in zip(reference.parameters(), model.parameters()):
                assert torch.equal(a.grad, b.grad)
            totals.append(expected.item())
            for o in (ref_opt, opt):
                o.step()
                o.zero_grad()
    for a, b in zip(reference.parameters(), model.parameters()):
        assert torch.equal(a, b)
    steps = steps_of(read_log(endpoint.log_for(monitor.run_id)))
    assert [m["total_norm"] for m in steps] == pytest.approx(totals, rel=1e-6)
    assert [m["clipped"] for m in steps] == [t > 0.4 for t in totals]
    assert any(t > 0.4 for t in totals) and any(t <= 0.4 for t in totals)
    for m, layers in zip(steps, layers_before):
        assert m["layer_norms"] == pytest.approx(layers, rel=1e-5)


def test_error_if_nonfinite_raises_like_torch():
    model, _ = make()
    loss_of(model, 0).backward()
    model.head.bias.grad[0] = math.inf
    with Monitor("err", url="ws://127.0.0.1:9/v1/stream") as monitor, pytest.raises(RuntimeError, match="non-finite"):
        monitor.clip_grad_norm_(model.parameters(), 1.0, error_if_nonfinite=True)


def test_nonfinite_gradient_is_attributed_to_its_layer_and_step(endpoint):
    model, opt = make()
    with Monitor("nan", url=endpoint.url, token=TOKEN) as monitor:
        monitor.watch(model)
        for step in range(12):
            loss_of(model, step).backward()
            if step == 7:
                model.encoder[2].weight.grad[3, 5] = math.nan
            monitor.step()
            opt.step()
            opt.zero_grad()
    log_file = endpoint.log_for(monitor.run_id)
    steps = steps_of(read_log(log_file))
    assert all(math.isfinite(m["total_norm"]) for m in steps[:7])
    nan_step = steps[7]
    assert math.isnan(nan_step["total_norm"])
    assert [math.isnan(v) for v in nan_step["layer_norms"]] == [False, True, False]
    summary = inspect_log(log_file)
    assert summary["first_nonfinite"] == {"step": 7, "layers": ["encoder.2"]}
    assert summary["steps"] == 12 and summary["status"] == "completed"


def test_accumulation_reports_once_per_optimizer_step(endpoint):
    model, opt = make()
    accumulate = 4
    expected = []
    with Monitor("accumulate", url=endpoint.url, token=TOKEN) as monitor:
        monitor.watch(model, accumulation_steps=accumulate)
        for micro in range(12):
            (loss_of(model, micro) / accumulate).backward()
            monitor.step()
            if (micro + 1) % accumulate == 0:
                expected.append(torch_total(model))
                opt.step()
                opt.zero_grad()
    steps = steps_of(read_log(endpoint.log_for(monitor.run_id)))
    assert [m["step"] for m in steps] == [0, 1, 2]
    assert [m["total_norm"] for m in steps] == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("unscale_first", [False, True], ids=["divides-by-scale", "after-unscale_"])
def test_amp_reports_unscaled_norms_and_marks_skipped_steps(endpoint, unscale_first):
    """GradScaler semantics on CPU. An fp16 overflow in backward leaves inf in the scaled gradients:
    injected here on two steps, which the scaler then skips (backing off its scale). Every other step
    must report the real, unscaled norm; skipped steps must be marked and raise no NaN alert."""
    reference, ref_opt = make()
    model, opt = twin(reference)
    scaler = cpu_grad_scaler(init_scale=2.0**16)
    overflow_steps = {2, 5}
    expected = []
    with Monitor("amp", url=endpoint.url, token=TOKEN) as monitor:
        monitor.watch(model, scaler=scaler)
        for step in range(8):
            scaler.scale(loss_of(model, step)).backward()
            if step in overflow_steps:
                model.encoder[0].weight.grad[0, 0] = math.inf
            if unscale_first:
                scaler.unscale_(opt)
                monitor.clip_grad_norm_(model.parameters(), 100.0)
            else:
                monitor.step()
            scale_before = scaler.get_scale()
            scaler.step(opt)
            scaler.update()
            assert (scaler.get_scale() < scale_before) == (step in overflow_steps)
            opt.zero_grad()
            if step in overflow_steps:
                expected.append(None)
                continue
            loss_of(reference, step).backward()  # the reference takes exactly the steps the scaler took
            expected.append(torch_total(reference))
            ref_opt.step()
            ref_opt.zero_grad()
    log_file = endpoint.log_for(monitor.run_id)
    steps = steps_of(read_log(log_file))
    assert [m["skipped"] for m in steps] == [s in overflow_steps for s in range(8)]
    for m, want in zip(steps, expected):
        if want is None:
            assert not math.isfinite(m["total_norm"])
        else:
            assert m["total_norm"] == pytest.approx(want, rel=1e-5)
    summary = inspect_log(log_file)
    assert summary["skipped_steps"] == len(overflow_steps)
    assert summary["nonfinite_steps"] == 0 and summary["first_nonfinite"] is None


@pytest.mark.skipif(not hasattr(torch, "compile"), reason="torch.compile needs torch >= 2.0")
def test_a_compiled_model_reports_the_norms_of_its_parameters(endpoint):
    """torch.compile with the default (inductor) backend, which builds C++ kernels with the machine's compiler."""
    model, opt = make()
    compiled = torch.compile(model)
    with Monitor("compiled", url=endpoint.url, token=TOKEN) as monitor:
        monitor.watch(compiled)
        expected = []
        for step in range(3):
            x, y = batch(step)
            torch.nn.functional.cross_entropy(compiled(x), y).backward()
            monitor.step()
            expected.append(torch_total(model))
            opt.step()
            opt.zero_grad()
    log = read_log(endpoint.log_for(monitor.run_id))
    assert log[0]["layers"] == LAYERS  # the "_orig_mod." prefix of the compiled module is not a layer
    assert [m["total_norm"] for m in steps_of(log)] == pytest.approx(expected, rel=1e-6)


def test_a_failure_inside_the_client_turns_monitoring_off_and_training_goes_on(endpoint, monkeypatch):
    from gradient_monitor import _torch

    reference, ref_opt = make()
    model, opt = twin(reference)
    calls = {"n": 0}
    norms = _torch.TorchGradients.norms

    def breaks_at_step_3(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:  # the 4th optimizer step
            raise TypeError("unknown tensor type")
        return norms(self, *args, **kwargs)

    monkeypatch.setattr(_torch.TorchGradients, "norms", breaks_at_step_3)
    with pytest.warns(RuntimeWarning, match=r"monitoring is off for this run.*TypeError: unknown tensor type") as caught:
        with Monitor("broken", url=endpoint.url, token=TOKEN) as monitor:
            monitor.watch(model)
            for step in range(8):
                for m, o in ((reference, ref_opt), (model, opt)):
                    loss_of(m, step).backward()
                expected = torch.nn.utils.clip_grad_norm_(reference.parameters(), 0.3)
                got = monitor.clip_grad_norm_(model.parameters(), 0.3)
                assert torch.equal(got, expected)  # clipping goes on after monitoring stopped
                for o in (ref_opt, opt):
                    o.step()
                    o.zero_grad()
    assert len([w for w in caught if "monitoring is off" in str(w.message)]) == 1
    for a, b in zip(reference.parameters(), model.parameters()):
        assert torch.equal(a, b)
    log = read_log(endpoint.log_for(monitor.run_id))
    assert [m["step"] for m in steps_of(log)] == [0, 1, 2]
    assert log[-1]["type"] == "run_end" and log[-1]["status"] == "failed"
    assert "training went on" in log[-1]["message"] and "unknown tensor type" in log[-1]["message"]
    assert not monitor.active
