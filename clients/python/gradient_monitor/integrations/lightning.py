"""PyTorch Lightning: ``Trainer(callbacks=[GradientMonitorCallback()])``.

Reports in ``on_before_optimizer_step``: once per real optimizer step (accumulation already done),
after Lightning's AMP plugin has unscaled the gradients and before it clips them, so the norms are the
real pre-clip norms; a step the GradScaler then skips is reported as skipped. Under an FSDP strategy
the norm is all-reduced across ranks. Lightning (``lightning`` or ``pytorch_lightning``) is imported
when ``GradientMonitorCallback`` is first used.
"""
from __future__ import annotations

from typing import Any, Dict, Optional

from ..callsite import user_call_site
from ..monitor import Monitor
from ._lazy import first_importable, lazy_class


class LightningHooks:
    """The callback's behaviour; ``GradientMonitorCallback`` mixes it into Lightning's ``Callback``.
    Pass a ``Monitor`` or the keyword arguments to create one at ``fit`` start."""

    def __init__(self, monitor: Optional[Monitor] = None, **monitor_kwargs: Any) -> None:
        super().__init__()
        self.monitor = monitor
        self._monitor_kwargs = monitor_kwargs
        # Diagnostics go where the callback is created (next to the Trainer and its gradient_clip_val).
        self._call_site = user_call_site()

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        if self.monitor is None:
            self.monitor = Monitor(call_site=self._call_site, **self._monitor_kwargs)
        scaler = getattr(getattr(trainer, "precision_plugin", None), "scaler", None)
        strategy = type(getattr(trainer, "strategy", None)).__name__
        self.monitor.watch(pl_module, scaler=scaler, sharded=True if "FSDP" in strategy else None)

    def on_before_optimizer_step(self, trainer: Any, pl_module: Any, optimizer: Any) -> None:
        if self.monitor is None:
            return
        groups = getattr(optimizer, "param_groups", None) or [{}]
        self.monitor.step(step=trainer.global_step, lr=groups[0].get("lr"))

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        if self.monitor is not None:
            self.monitor.close()

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        if self.monitor is not None:
            interrupted = isinstance(exception, KeyboardInterrupt)
            self.monitor.close("interrupted" if interrupted else "failed", f"{type(exception).__name__}: {exception}")


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
