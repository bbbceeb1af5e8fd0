"""Real models whose NaN/Inf is born in a known module: the step message streamed to the real endpoint
names that module, its class, the phase and the line of its forward; the trace adds no host read."""
from __future__ import annotations

import itertools
import math
import threading
from typing import Any, Callable, Dict, List

import pytest
import torch
from torch import nn

import nonfinite_models as nm
from conftest import TOKEN, inspect_log, read_log
from gradient_monitor import Monitor

torch.set_num_threads(1)
RUNS = itertools.count()


def first_nonfinite(endpoint, run_id: str) -> Dict[str, Any]:
    steps = [m for m in read_log(endpoint.log_for(run_id)) if m["type"] == "step"]
    bad = [m for m in steps if not (math.isfinite(m["total_norm"]) and all(math.isfinite(v) for v in m.get("layer_norms", [])))]
    assert bad, "no non-finite step was recorded"
    return bad[0]


def train(endpoint, model: nn.Module, batches: List[Any], loss_of: Callable[[Any, Any], torch.Tensor], **watch: Any) -> Monitor:
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    with Monitor("nonfinite", url=endpoint.url, token=TOKEN, run_id=f"nonfinite-{next(RUNS)}") as monitor:
        monitor.watch(model, **watch)
        for x, y in batches:
            loss = loss_of(model(x), y)
            loss.backward()
            monitor.step(loss=loss)
            opt.step()
            opt.zero_grad()
    return monitor


def cross_entropy(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return nn.functional.cross_entropy(out.float().reshape(-1, out.shape[-1]), y.reshape(-1))


def batches(n: int, shape=(16, 8), classes: int = 3, seed: int = 0) -> List[Any]:
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(*shape, generator=g), torch.randint(0, classes, shape[:1], generator=g)) for _ in range(n)]


def assert_origin(origin: Dict[str, Any], phase: str, module: str, cls: type) -> None:
    assert origin["phase"] == phase, origin
    assert origin["module"] == module, origin
    assert origin["class"] == cls.__name__
    assert origin["file"] == nm.__file__  # the tests run in a temporary directory: an absolute path
    assert origin["line"] == nm.forward_line(cls)


def test_log_of_a_negative_names_the_gate_and_its_line(endpoint):
    torch.manual_seed(0)
    monitor = train(endpoint, nm.GatedNet(), batches(2), cross_entropy)
    msg = first_nonfinite(endpoint, monitor.run_id)
    assert msg["step"] == 0
    origin = msg["nonfinite_origin"]
    assert_origin(origin, "forward", "blocks.2.gate", nm.LogGate)
    assert origin["value"] == "NaN"
    assert origin["input_min"] < 0 < origin["input_max"]  # the negative input it took the log of
    # The extension's own reading of the log names it too.
    first = inspect_log(endpoint.log_for(monitor.run_id))["first_nonfinite"]
    assert first["step"] == 0 and first["origin"]["module"] == "blocks.2.gate"


def test_half_precision_attention_logits_overflow_in_the_attention_module(endpoint):
    try:
        nn.LayerNorm(4).half()(torch.zeros(1, 4, dtype=torch.float16))
    except RuntimeError:
        pytest.skip(f"torch {torch.__version__} has no float16 LayerNorm on the CPU")
    torch.manual_seed(0)
    model = nm.TinyTransformer().half()
    with torch.no_grad():
        model.blocks[1].attn.qkv.weight.mul_(200)  # block 1's attention logits pass 65504 in float16
    g = torch.Generator().manual_seed(1)
    tokens = torch.randint(0, 50, (2, 12), generator=g)
    monitor = train(endpoint, model, [(tokens[:, :-1], tokens[:, 1:])], cross_entropy)
    origin = first_nonfinite(endpoint, monitor.run_id)["nonfinite_origin"]
    assert_origin(origin, "forward", "blocks.1.attn", nm.SelfAttention)
    assert math.isfinite(origin["input_min"]) and math.isfinite(origin["input_max"])


def test_division_by_zero_in_a_custom_normalisation(endpoint):
    torch.manual_seed(0)
    model = nm.NormNet()
    with torch.no_grad():
        model.fc.bias[:] = -100.0  # every ReLU output 0: each row sums to 0, and 0/0 is NaN
    monitor = train(endpoint, model, batches(1), cross_entropy)
    origin = first_nonfinite(endpoint, monitor.run_id)["nonfinite_origin"]
    assert_origin(origin, "forward", "norm", nm.RowNorm)
    assert origin["input_min"] == 0.0 and origin["input_max"] == 0.0


def test_a_nan_in_the_batch_is_named_as_the_input(endpoint):
    torch.manual_seed(0)
    data = batches(3)
    data[1][0][4, 2] = float("nan")
    monitor = train(endpoint, nm.GatedNet(bad_block=-1), data, cross_entropy)
    msg = first_nonfinite(endpoint, monitor.run_id)
    assert msg["step"] == 1
    origin = msg["nonfinite_origin"]
    assert origin["phase"] == "input" and origin["module"] == "" and origin["class"] == "GatedNet"
    assert origin["line"] == nm.forward_line(nm.GatedNet)


def test_a_nan_born_only_in_backward_names_the_sqrt_module(endpoint):
    torch.manual_seed(0)
    x, y = batches(1)[0]
    x[3] = 0.0  # fc has no bias: row 3 reaches Distance as zeros, sqrt(0) is fine, its gradient is not
    monitor = train(endpoint, nm.DistanceNet(), [(x, y)], cross_entropy, trace_nonfinite=True)
    msg = first_nonfinite(endpoint, monitor.run_id)
    assert_origin(msg["nonfinite_origin"], "backward", "dist", nm.Distance)
    # The default traces forward only (docs/python-client.md: its cost is within 3% of a step).
    monitor = train(endpoint, nm.DistanceNet(), [(x, y)], cross_entropy)
    assert "nonfinite_origin" not in first_nonfinite(endpoint, monitor.run_id)


def test_healthy_steps_carry_no_origin_and_the_full_trace_still_names_forward_nans(endpoint):
    torch.manual_seed(0)
    monitor = train(endpoint, nm.GatedNet(bad_block=-1), batches(3), cross_entropy, trace_nonfinite=True)
    assert all("nonfinite_origin" not in m for m in read_log(endpoint.log_for(monitor.run_id)))
    monitor = train(endpoint, nm.GatedNet(), batches(1), cross_entropy, trace_nonfinite=True)
    assert first_nonfinite(endpoint, monitor.run_id)["nonfinite_origin"]["module"] == "blocks.2.gate"


def test_trace_off_sends_no_origin(endpoint):
    torch.manual_seed(0)
    monitor = train(endpoint, nm.GatedNet(), batches(1), cross_entropy, trace_nonfinite=False)
    assert "nonfinite_origin" not in first_nonfinite(endpoint, monitor.run_id)


HOST_READS = ("item", "tolist", "numpy", "cpu", "__bool__", "__float__", "__int__", "__index__")


@pytest.mark.parametrize("trace", ["forward", True])
def test_the_trace_reads_nothing_back_to_the_host_during_the_step(endpoint, monkeypatch, trace):
    """Every way a tensor's value reaches Python fails on the training thread during forward,
    backward and monitor.step() (the sender thread reads the step's one copy, as designed)."""
    torch.manual_seed(0)
    model = nm.GatedNet()
    training = threading.get_ident()
    reads: List[str] = []

    def forbid(name: str) -> None:
        original = getattr(torch.Tensor, name)

        def guarded(self, *args, **kwargs):
            if threading.get_ident() == training:
                reads.append(name)
                raise AssertionError(f"host read: Tensor.{name}")
            return original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, guarded)

    x, y = batches(1)[0]
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    with Monitor("no-sync", url=endpoint.url, token=TOKEN, run_id=f"no-sync-{next(RUNS)}") as monitor:
        monitor.watch(model, trace_nonfinite=trace)
        for _ in range(3):
            for name in HOST_READS:
                forbid(name)
            with pytest.raises(AssertionError):  # the net holds
                bool(torch.ones(()))
            reads.clear()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            monitor.step(loss=loss)
            monkeypatch.undo()
            opt.step()
            opt.zero_grad()
    assert reads == []
    assert first_nonfinite(endpoint, monitor.run_id)["nonfinite_origin"]["module"] == "blocks.2.gate"
