"""The Hugging Face Trainer (real transformers, a 1-layer GPT-2 built from its config, CPU): recorded
norms equal the ``grad_norm`` the Trainer itself writes to trainer_state.json, step for step."""
from __future__ import annotations

import json
import math

import pytest

from conftest import TOKEN, inspect_log, read_log, require, steps_in

transformers = require("transformers")
torch = require("torch")

from gradient_monitor.integrations import huggingface  # noqa: E402

STEPS = 6


class Tokens(torch.utils.data.Dataset):
    def __init__(self, size: int = 64) -> None:
        g = torch.Generator().manual_seed(0)
        self.ids = torch.randint(0, 64, (size, 12), generator=g)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int):
        return {"input_ids": self.ids[i], "labels": self.ids[i]}


def make_trainer(tmp_path, callbacks=(), **arguments):
    torch.manual_seed(0)
    config = transformers.GPT2Config(n_layer=1, n_embd=32, n_head=2, vocab_size=64, n_positions=16)
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "out"),
        per_device_train_batch_size=4,
        max_steps=STEPS,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        seed=0,
        learning_rate=5e-3,
        disable_tqdm=True,
        **arguments,
    )
    return transformers.Trainer(model=transformers.GPT2LMHeadModel(config), args=args, train_dataset=Tokens(), callbacks=list(callbacks))


def trainer_grad_norms(trainer, tmp_path):
    """{step: grad_norm} from the trainer_state.json the Trainer writes."""
    trainer.save_state()
    state = json.loads((tmp_path / "out" / "trainer_state.json").read_text())
    return {e["step"]: e["grad_norm"] for e in state["log_history"] if "grad_norm" in e}


def recorded(endpoint, monitor):
    return {m["step"]: m["total_norm"] for m in steps_in(endpoint.log_for(monitor.run_id))}


@pytest.mark.parametrize(
    "arguments",
    [{"max_grad_norm": 0.5, "gradient_accumulation_steps": 2}, {"max_grad_norm": 0.0}, {"max_grad_norm": 1.0, "bf16": True}],
    ids=["clipping+accumulation", "no-clipping", "bf16"],
)
def test_watch_trainer_records_the_grad_norm_of_trainer_state(endpoint, tmp_path, arguments):
    trainer = make_trainer(tmp_path, **arguments)
    callback = huggingface.watch_trainer(trainer, url=endpoint.url, token=TOKEN)
    trainer.train()
    want = trainer_grad_norms(trainer, tmp_path)
    got = recorded(endpoint, callback.monitor)
    assert sorted(got) == sorted(want) == list(range(1, STEPS + 1))
    assert [got[s] for s in sorted(got)] == pytest.approx([want[s] for s in sorted(want)], rel=1e-6)
    if arguments["max_grad_norm"]:
        assert max(want.values()) > arguments["max_grad_norm"]  # so norms read after clipping would differ
    log = read_log(endpoint.log_for(callback.monitor.run_id))
    assert "transformer.h.0.attn.c_attn" in log[0]["layers"] and log[0]["framework"] == "pytorch"
    assert log[-1]["status"] == "completed"


def test_the_callback_alone_is_exact_without_clipping_and_warns_with_it(endpoint, tmp_path):
    callback = huggingface.GradientMonitorCallback(url=endpoint.url, token=TOKEN)
    trainer = make_trainer(tmp_path, callbacks=[callback], max_grad_norm=0.0)
    trainer.train()
    want = trainer_grad_norms(trainer, tmp_path)
    got = recorded(endpoint, callback.monitor)
    assert [got[s] for s in sorted(got)] == pytest.approx([want[s] for s in sorted(want)], rel=1e-6)
    with pytest.warns(RuntimeWarning, match="watch_trainer"):
        make_trainer(tmp_path / "clipping", callbacks=[huggingface.GradientMonitorCallback(url=endpoint.url, token=TOKEN)]).train()


def test_a_nan_loss_gives_the_nonfinite_alert_at_its_step(endpoint, tmp_path):
    trainer = make_trainer(tmp_path, max_grad_norm=1.0)
    nan_step = 4  # the Trainer's step numbers (log_history "step") start at 1
    trainer.model.register_forward_hook(lambda module, inputs, out: out.__setitem__("loss", out["loss"] * math.nan) if trainer.state.global_step + 1 == nan_step else None)
    callback = huggingface.watch_trainer(trainer, url=endpoint.url, token=TOKEN)
    trainer.train()
    want = trainer_grad_norms(trainer, tmp_path)
    got = recorded(endpoint, callback.monitor)
    assert math.isnan(want[nan_step]) and math.isnan(got[nan_step])
    assert [got[s] for s in range(1, nan_step)] == pytest.approx([want[s] for s in range(1, nan_step)], rel=1e-6)
    summary = inspect_log(endpoint.log_for(callback.monitor.run_id))
    assert summary["first_nonfinite"]["step"] == nan_step


def test_a_failure_inside_the_client_leaves_the_training_running(endpoint, tmp_path, monkeypatch):
    from gradient_monitor import _torch

    def broken(self, *args, **kwargs):
        raise AttributeError("a changed framework API")

    monkeypatch.setattr(_torch.TorchGradients, "norms", broken)
    trainer = make_trainer(tmp_path)
    callback = huggingface.watch_trainer(trainer, url=endpoint.url, token=TOKEN)
    with pytest.warns(RuntimeWarning, match="monitoring is off.*a changed framework API"):
        trainer.train()
    assert trainer.state.global_step == STEPS and len(trainer_grad_norms(trainer, tmp_path)) == STEPS
    log = read_log(endpoint.log_for(callback.monitor.run_id))
    assert not [m for m in log if m["type"] == "step"]
    assert log[-1]["status"] == "failed" and "training went on" in log[-1]["message"]
