"""Framework integrations. Lightning, Transformers, Keras, TensorFlow and JAX are not installed here:
their callbacks' logic is driven with minimal stand-in objects (a fake base class module, trainer/args/
state namespaces, a numpy-backed `tf` namespace) that follow the frameworks' documented call order.
The gradients, the GradScaler state machine and the endpoint are real."""
from __future__ import annotations

import math
import sys
import types
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from conftest import TOKEN, read_log
from cpu_grad_scaler import CpuGradScaler
from gradient_monitor import Monitor
from gradient_monitor.integrations import huggingface, keras, lightning
from gradient_monitor.jax import gradient_norms as jax_norms
from gradient_monitor.tensorflow import norm_tensors
from models import LAYERS, loss_of, make, twin

torch.set_num_threads(1)


def fake_module(monkeypatch, name, **attrs):
    parts = name.split(".")
    for i in range(1, len(parts) + 1):
        monkeypatch.setitem(sys.modules, ".".join(parts[:i]), types.ModuleType(".".join(parts[:i])))
    for key, value in attrs.items():
        setattr(sys.modules[name], key, value)
    for module in (lightning, huggingface, keras):
        monkeypatch.setattr(module, "_classes", {})


def steps_in(path):
    return [m for m in read_log(path) if m["type"] == "step"]


@pytest.mark.parametrize("module, hint", [(lightning, "Lightning"), (huggingface, "Transformers"), (keras, "Keras")])
def test_callbacks_say_what_to_install_when_their_framework_is_missing(module, hint):
    with pytest.raises(ImportError, match=hint):
        module.GradientMonitorCallback  # noqa: B018


def test_lightning_callback_reports_unscaled_norms_per_optimizer_step(endpoint, monkeypatch):
    class Callback:  # lightning.pytorch.callbacks.Callback
        pass

    fake_module(monkeypatch, "lightning.pytorch.callbacks", Callback=Callback)
    model, opt = make()
    reference, ref_opt = twin(model)
    scaler = CpuGradScaler(init_scale=2.0**12)
    callback = lightning.GradientMonitorCallback(run_name="lightning", url=endpoint.url, token=TOKEN)
    assert isinstance(callback, Callback)
    trainer = SimpleNamespace(global_step=0, precision_plugin=SimpleNamespace(scaler=scaler), strategy=SimpleNamespace())
    callback.on_fit_start(trainer, model)
    expected = []
    for step in range(6):
        # Lightning's 16-mixed optimizer step: closure (backward), unscale_, on_before_optimizer_step, clip, scaler.step.
        scaler.scale(loss_of(model, step)).backward()
        if step == 3:
            model.head.weight.grad[0, 0] = math.inf  # an fp16 overflow: the scaler will skip this step
        scaler.unscale_(opt)
        callback.on_before_optimizer_step(trainer, model, opt)
        scaler.step(opt)
        scaler.update()
        opt.zero_grad()
        if step != 3:
            loss_of(reference, step).backward()
            expected.append(torch.nn.utils.clip_grad_norm_(reference.parameters(), math.inf).item())
            ref_opt.step()
            ref_opt.zero_grad()
        trainer.global_step += 1  # Lightning counts optimizer.step calls, skipped ones too
    callback.on_fit_end(trainer, model)
    log = read_log(endpoint.log_for(callback.monitor.run_id))
    assert log[0]["layers"] == LAYERS and log[0]["meta"]["line"] > 0 and log[0]["meta"]["script"] == __file__
    steps = [m for m in log if m["type"] == "step"]
    assert [m["skipped"] for m in steps] == [False, False, False, True, False, False]
    assert [m["step"] for m in steps] == list(range(6))
    recorded = [m for m in steps if not m["skipped"]]
    assert [m["total_norm"] for m in recorded] == pytest.approx(expected, rel=1e-5)
    assert steps[0]["lr"] == 0.05


def test_lightning_exception_ends_the_run_failed(monkeypatch):
    fake_module(monkeypatch, "lightning.pytorch.callbacks", Callback=object)
    model, _ = make()
    callback = lightning.GradientMonitorCallback(run_name="boom")
    trainer = SimpleNamespace(global_step=0, strategy=None)
    callback.on_fit_start(trainer, model)
    loss_of(model, 0).backward()
    callback.on_before_optimizer_step(trainer, model, SimpleNamespace(param_groups=[{"lr": 0.1}]))
    callback.on_exception(trainer, model, RuntimeError("CUDA out of memory"))
    assert read_log(callback.monitor.log_path)[-1]["status"] == "failed"


class FakeAccelerator:
    """accelerate's clip_grad_norm_: unscale the fp16 gradients, then torch's clip; returns the pre-clip norm."""

    def __init__(self, scaler, optimizer):
        self.scaler, self.optimizer = scaler, optimizer

    def clip_grad_norm_(self, parameters, max_norm, norm_type=2):
        self.scaler.unscale_(self.optimizer)
        return torch.nn.utils.clip_grad_norm_(parameters, max_norm, norm_type=norm_type)


def test_huggingface_watch_trainer_reports_norms_before_the_trainer_clips(endpoint, monkeypatch):
    fake_module(monkeypatch, "transformers", TrainerCallback=object)
    model, opt = make()
    reference, ref_opt = twin(model)
    scaler = CpuGradScaler(init_scale=2.0**10)
    opt.scaler = scaler  # accelerate's AcceleratedOptimizer carries the scaler
    state = SimpleNamespace(global_step=0)
    callbacks = []
    trainer = SimpleNamespace(accelerator=FakeAccelerator(scaler, opt), state=state, add_callback=callbacks.append)
    callback = huggingface.watch_trainer(trainer, url=endpoint.url, token=TOKEN)
    assert callbacks == [callback]
    args = SimpleNamespace(run_name="hf", max_grad_norm=0.2, fsdp="")
    callback.on_train_begin(args, state, None, model=model, optimizer=opt)
    expected = []
    for step in range(5):
        # Trainer's sync step: backward, clip (accelerator), on_pre_optimizer_step, optimizer.step.
        scaler.scale(loss_of(model, step)).backward()
        trainer.accelerator.clip_grad_norm_(model.parameters(), args.max_grad_norm)
        callback.on_pre_optimizer_step(args, state, None)
        scaler.step(opt)
        scaler.update()
        opt.zero_grad()
        loss_of(reference, step).backward()
        expected.append(torch.nn.utils.clip_grad_norm_(reference.parameters(), args.max_grad_norm).item())
        ref_opt.step()
        ref_opt.zero_grad()
        state.global_step += 1
    callback.on_train_end(args, state, None)
    steps = steps_in(endpoint.log_for(callback.monitor.run_id))
    assert [m["step"] for m in steps] == list(range(5))
    assert [m["total_norm"] for m in steps] == pytest.approx(expected, rel=1e-5)
    assert max(expected) > args.max_grad_norm  # so a post-clip reading would have been wrong
    assert all(m["skipped"] is False for m in steps)


def test_huggingface_callback_alone_warns_that_clipped_norms_are_reported(monkeypatch):
    fake_module(monkeypatch, "transformers", TrainerCallback=object)
    model, opt = make()
    callback = huggingface.GradientMonitorCallback(run_name="hf-alone")
    with pytest.warns(RuntimeWarning, match="watch_trainer"):
        callback.on_train_begin(SimpleNamespace(run_name="x", max_grad_norm=1.0), SimpleNamespace(global_step=0), None, model=model, optimizer=opt)
    callback.monitor.close()


class NumpyTF:
    """The few `tf` functions norm_tensors uses, on numpy (TensorFlow is not installed here)."""

    float32 = np.float32

    class IndexedSlices:
        def __init__(self, values, indices):
            self.values, self.indices = values, indices

    reduce_sum = staticmethod(np.sum)
    square = staticmethod(np.square)
    sqrt = staticmethod(np.sqrt)
    stack = staticmethod(np.stack)

    @staticmethod
    def cast(x, dtype):
        return np.asarray(x, dtype=dtype)

    @staticmethod
    def add_n(xs):
        return sum(xs[1:], xs[0])

    @staticmethod
    def zeros(shape, dtype):
        return np.zeros(shape, dtype)


def keras_variables():
    rng = np.random.default_rng(0)
    names = ["dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias", "embedding/embeddings"]
    grads = [rng.normal(size=(4, 3)), rng.normal(size=3), rng.normal(size=(3, 2)), None, NumpyTF.IndexedSlices(rng.normal(size=(2, 5)), [1, 7])]
    return [SimpleNamespace(path=n) for n in names], grads


def test_tensorflow_norms_group_variables_by_layer_and_follow_clip_by_global_norm():
    variables, grads = keras_variables()
    names, values = norm_tensors(NumpyTF, grads, variables)
    assert names == ["dense", "dense_1", "embedding"]
    dense = math.sqrt(np.sum(grads[0] ** 2) + np.sum(grads[1] ** 2))
    dense_1 = math.sqrt(np.sum(grads[2] ** 2))
    embedding = math.sqrt(np.sum(grads[4].values ** 2))
    assert list(values) == pytest.approx([math.sqrt(dense**2 + dense_1**2 + embedding**2), dense, dense_1, embedding], rel=1e-6)


def test_keras_callback_streams_the_norms_train_step_returns(monkeypatch):
    fake_module(monkeypatch, "keras.callbacks", Callback=object)
    variables, grads = keras_variables()
    names, values = norm_tensors(NumpyTF, grads, variables)
    logs = {"loss": np.float32(0.5), "grad_norm": values[0], **{f"grad_norm/{n}": values[i + 1] for i, n in enumerate(names)}}
    callback = keras.GradientMonitorCallback(run_name="keras")
    callback.on_train_begin()
    for batch in range(3):
        callback.on_train_batch_end(batch, logs)
    with pytest.warns(RuntimeWarning, match="grad_norm_logs"):
        callback.on_train_batch_end(3, {"loss": 1.0})
    callback.on_train_end()
    log = read_log(callback.monitor.log_path)
    assert log[0]["framework"] == "tensorflow" and log[0]["layers"] == names
    steps = [m for m in log if m["type"] == "step"]
    assert [m["step"] for m in steps] == [0, 1, 2]
    assert steps[0]["layer_norms"] == pytest.approx([float(v) for v in values[1:]]) and steps[0]["loss"] == 0.5


def test_jax_pytree_norms_like_optax_global_norm():
    rng = np.random.default_rng(1)
    grads = {"params": {"Dense_0": {"kernel": rng.normal(size=(5, 4)), "bias": rng.normal(size=4)}, "Dense_1": {"kernel": rng.normal(size=(4, 1))}}}
    names, total, layers = jax_norms(grads)
    leaves = [grads["params"]["Dense_0"]["kernel"], grads["params"]["Dense_0"]["bias"], grads["params"]["Dense_1"]["kernel"]]
    assert names == ["params/Dense_0", "params/Dense_1"]
    assert total == pytest.approx(math.sqrt(sum(np.sum(x**2) for x in leaves)), rel=1e-12)
    assert layers == pytest.approx([math.sqrt(np.sum(leaves[0] ** 2) + np.sum(leaves[1] ** 2)), math.sqrt(np.sum(leaves[2] ** 2))], rel=1e-12)
    with Monitor("jax") as monitor:
        monitor.log_jax(grads, loss=0.25)
        monitor.log_jax(grads)
    log = read_log(monitor.log_path)
    assert log[0]["framework"] == "jax" and log[0]["layers"] == names
    assert [m["total_norm"] for m in log if m["type"] == "step"] == pytest.approx([total, total])
