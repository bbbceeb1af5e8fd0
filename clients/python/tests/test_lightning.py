"""PyTorch Lightning's Trainer and Lightning Fabric (real lightning, CPU): recorded norms equal
``lightning.pytorch.utilities.grad_norm`` taken by the module itself before clipping, and the total that
``fabric.clip_gradients`` returns."""
from __future__ import annotations

import pytest

from conftest import TOKEN, read_log, require, steps_in

L = require("lightning")
torch = require("torch")

from lightning.pytorch.utilities import grad_norm  # noqa: E402

from gradient_monitor.integrations import lightning as gm_lightning  # noqa: E402
from models import LAYERS, Net, batch  # noqa: E402

TOTAL = "grad_2.0_norm_total"


def loader(n: int = 12):
    """n batches of 8, in order."""
    parts = [batch(i, size=8) for i in range(n)]
    data = torch.utils.data.TensorDataset(torch.cat([x for x, _ in parts]), torch.cat([y for _, y in parts]))
    return torch.utils.data.DataLoader(data, batch_size=8, shuffle=False)


class Module(L.LightningModule):
    """``Net`` trained with SGD; records Lightning's own grad_norm just before anything can clip."""

    def __init__(self, manual: bool = False, clip: float = 0.0) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = Net()
        self.automatic_optimization = not manual
        self.clip = clip
        self.norms = []

    def training_step(self, data, index):
        x, y = data
        loss = torch.nn.functional.cross_entropy(self.net(x), y)
        if self.automatic_optimization:
            return loss
        opt = self.optimizers()
        self.manual_backward(loss)
        self.norms.append(grad_norm(self, 2)[TOTAL].item())
        self.clip_gradients(opt, gradient_clip_val=self.clip, gradient_clip_algorithm="norm")
        opt.step()
        opt.zero_grad()
        return loss

    def on_before_optimizer_step(self, optimizer):
        if self.automatic_optimization:
            self.norms.append(grad_norm(self, 2)[TOTAL].item())

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.5)


def fit(module, **trainer_args):
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        **trainer_args,
    )
    trainer.fit(module, train_dataloaders=loader())
    return trainer


@pytest.mark.parametrize(
    "manual, trainer_args",
    [
        (False, {"accumulate_grad_batches": 2, "gradient_clip_val": 0.3}),
        (False, {"precision": "bf16-mixed", "gradient_clip_val": 0.3}),
        (True, {}),
    ],
    ids=["accumulate+clip", "bf16-mixed", "manual-clip_gradients"],
)
def test_the_callback_records_lightnings_own_grad_norm_before_clipping(endpoint, manual, trainer_args):
    module = Module(manual=manual, clip=0.3)
    callback = gm_lightning.GradientMonitorCallback(url=endpoint.url, token=TOKEN)
    trainer = fit(module, callbacks=[callback], **trainer_args)
    log = read_log(endpoint.log_for(callback.monitor.run_id))
    steps = [m for m in log if m["type"] == "step"]
    assert [m["step"] for m in steps] == list(range(trainer.global_step)) == list(range(len(module.norms)))
    assert [m["total_norm"] for m in steps] == pytest.approx(module.norms, rel=1e-6)
    assert max(module.norms) > 0.3  # clipped norms would differ
    assert log[0]["layers"] == ["net." + name for name in LAYERS] and log[-1]["status"] == "completed"


def test_fabric_clip_gradients_reports_the_total_it_returns(endpoint):
    fabric = L.Fabric(accelerator="cpu", devices=1)
    torch.manual_seed(0)
    model = fabric.setup_module(Net())
    opt = fabric.setup_optimizers(torch.optim.SGD(model.parameters(), lr=0.5))
    monitor = gm_lightning.watch_fabric(fabric, model, url=endpoint.url, token=TOKEN)
    totals = []
    with monitor:
        for x, y in loader(6):
            fabric.backward(torch.nn.functional.cross_entropy(model(x), y))
            totals.append(fabric.clip_gradients(model, opt, max_norm=0.3).item())
            opt.step()
            opt.zero_grad()
    steps = steps_in(endpoint.log_for(monitor.run_id))
    assert [m["total_norm"] for m in steps] == pytest.approx(totals, rel=1e-6)
    assert max(totals) > 0.3


def test_a_failure_inside_the_client_leaves_lightning_training(endpoint, monkeypatch):
    from gradient_monitor import _torch

    def broken(self, *args, **kwargs):
        raise RuntimeError("aten.index_add_.default got mixed torch.Tensor and DTensor")

    monkeypatch.setattr(_torch.TorchGradients, "norms", broken)
    module = Module()
    callback = gm_lightning.GradientMonitorCallback(url=endpoint.url, token=TOKEN)
    with pytest.warns(RuntimeWarning, match="monitoring is off.*mixed torch.Tensor"):
        trainer = fit(module, callbacks=[callback], gradient_clip_val=0.3)
    assert trainer.global_step == 12 == len(module.norms)
    assert read_log(endpoint.log_for(callback.monitor.run_id))[-1]["status"] == "failed"

    fabric = L.Fabric(accelerator="cpu", devices=1)
    model = fabric.setup_module(Net())
    opt = fabric.setup_optimizers(torch.optim.SGD(model.parameters(), lr=0.5))
    monitor = gm_lightning.watch_fabric(fabric, model, url=endpoint.url, token=TOKEN)
    for x, y in loader(3):
        fabric.backward(torch.nn.functional.cross_entropy(model(x), y))
        assert fabric.clip_gradients(model, opt, max_norm=0.3) is not None
        opt.step()
        opt.zero_grad()
    monitor.close()
    assert not monitor.active and monitor.failure is not None
