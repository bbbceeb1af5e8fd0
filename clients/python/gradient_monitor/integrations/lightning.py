"""PyTorch Lightning: ``Trainer(callbacks=[GradientMonitorCallback()])``; Lightning Fabric: ``watch_fabric``.

The callback reports once per real optimizer step (accumulation done) with the pre-clip norms:
automatic optimization reports in ``on_before_optimizer_step``, after the AMP plugin unscaled the
gradients and before ``gradient_clip_val`` clips them; manual optimization reports when
``self.clip_gradients`` is called (before it clips), else in ``on_before_optimizer_step``. A step
the GradScaler then skips is reported as skipped. Under an FSDP strategy the norm is all-reduced
across ranks. Lightning (``lightning`` or ``pytorch_lightning``) is imported when
``GradientMonitorCallback`` is first used.
"""
from __future__ import annotations

from typing import Any, Dict, Optional

from ..callsite import user_call_site
from ..monitor import Monitor
from ._lazy import first_importable, lazy_class
from ._patch import call_before


class LightningHooks:
    """The callback's behaviour; ``GradientMonitorCallback`` mixes it into Lightning's ``Callback``.
    Pass a ``Monitor`` or the keyword arguments to create one at ``fit`` start."""

    def __init__(self, monitor: Optional[Monitor] = None, **monitor_kwargs: Any) -> None:
        super().__init__()
        self.monitor = monitor
        self._monitor_kwargs = monitor_kwargs
        # Diagnostics go where the callback is created (next to the Trainer and its gradient_clip_val).
        self._call_site = user_call_site()
        self._reported_step = -1

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        if self.monitor is None:
            self.monitor = Monitor(call_site=self._call_site, **self._monitor_kwargs)
        with self.monitor._guard("Lightning on_fit_start"):
            plugin = trainer.precision_plugin
            strategy = type(trainer.strategy).__name__
            self.monitor.watch(pl_module, scaler=getattr(plugin, "scaler", None), sharded=True if "FSDP" in strategy else None)
            self._reported_step = -1
            # Manual optimization clips (self.clip_gradients) before optimizer.step() calls the hook.
            call_before(plugin, "clip_gradients", lambda: self.report(trainer, None))

    def report(self, trainer: Any, optimizer: Any) -> None:
        """Reports the current gradients as optimizer step ``trainer.global_step`` (once per step)."""
        monitor = self.monitor
        if monitor is None or not monitor.active:
            return
        with monitor._guard("Lightning report"):
            if trainer.global_step == self._reported_step:
                return
            self._reported_step = trainer.global_step
            optimizer = optimizer if optimizer is not None else (trainer.optimizers or [None])[0]
            groups = getattr(optimizer, "param_groups", None) or [{}]
            monitor.step(step=trainer.global_step, lr=groups[0].get("lr"))

    def on_before_optimizer_step(self, trainer: Any, pl_module: Any, optimizer: Any) -> None:
        self.report(trainer, optimizer)

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        if self.monitor is not None:
            self.monitor.close()

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        if self.monitor is not None:
            interrupted = isinstance(exception, KeyboardInterrupt)
            self.monitor.close("interrupted" if interrupted else "failed", f"{type(exception).__name__}: {exception}")


def watch_fabric(fabric: Any, model: Any, monitor: Optional[Monitor] = None, **monitor_kwargs: Any) -> Monitor:
    """Lightning Fabric: watches ``model`` (as returned by ``fabric.setup``) with Fabric's GradScaler, and
    makes ``fabric.clip_gradients`` report the norms just before it clips them. Without clipping, call
    ``monitor.step()`` after ``fabric.backward(loss)`` on each optimizer step. Returns the Monitor."""
    if monitor is None:
        monitor = Monitor(**{"call_site": user_call_site(), **monitor_kwargs})
    with monitor._guard("watch_fabric"):
        strategy = type(fabric.strategy).__name__
        monitor.watch(model, scaler=getattr(fabric.strategy.precision, "scaler", None), sharded=True if "FSDP" in strategy else None)
        call_before(fabric, "clip_gradients", monitor.step)
    return monitor


def _base() -> type:
    return first_importable(
        [("lightning.pytorch.callbacks", "Callback"), ("pytorch_lightning.callbacks", "Callback")],
        "PyTorch Lightning (pip install lightning)",
    )


_classes: Dict[str, type] = {}


def __getattr__(name: str) -> Any:
    if name == "GradientMonitorCallback":
        return lazy_class(name, LightningHooks, _base, _classes)
    raise AttributeError(name)
