"""Hugging Face Transformers ``Trainer``.

``watch_trainer(trainer)`` is the accurate way: it adds the callback and reports each optimizer step's
norms right before the Trainer's ``accelerator.clip_grad_norm_`` (which it calls on every optimizer
step, with ``max_grad_norm`` or, when clipping is off, with ``inf`` to log ``grad_norm``), so the
recorded totals are the ``grad_norm`` of ``trainer_state.json``. The callback alone,
``Trainer(callbacks=[GradientMonitorCallback()])``, reports in ``on_pre_optimizer_step``: the real
norms when clipping is off (``max_grad_norm=0``), the clipped ones otherwise (it warns). Steps are
numbered like the Trainer's logs (``state.global_step`` after the update: 1, 2, ...). Gradients still
scaled by an fp16 GradScaler are divided by its scale. Transformers is imported when the callback is
first used.
"""
from __future__ import annotations

import warnings
from typing import Any, Dict, Optional

from ..callsite import user_call_site
from ..monitor import Monitor
from ._lazy import first_importable, lazy_class
from ._patch import call_before


class HuggingFaceHooks:
    """The callback's behaviour; ``GradientMonitorCallback`` mixes it into ``transformers.TrainerCallback``."""

    def __init__(self, monitor: Optional[Monitor] = None, **monitor_kwargs: Any) -> None:
        super().__init__()
        self.monitor = monitor
        self._monitor_kwargs = monitor_kwargs
        self._call_site = user_call_site()
        self._optimizer: Any = None
        self._reported_step = -1
        self.reports_before_clipping = False

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, optimizer: Any = None, **kwargs: Any) -> None:
        if self.monitor is None:
            self.monitor = Monitor(**{"run_name": getattr(args, "run_name", None), "call_site": self._call_site, **self._monitor_kwargs})
        with self.monitor._guard("Transformers on_train_begin"):
            self._optimizer = optimizer
            # accelerate's AcceleratedOptimizer carries the fp16 GradScaler (None for bf16/fp32).
            self.monitor.watch(model, scaler=getattr(optimizer, "scaler", None), sharded=True if getattr(args, "fsdp", None) else None)
        if getattr(args, "max_grad_norm", None) and not self.reports_before_clipping:
            warnings.warn(
                "gradient_monitor: the Trainer clips gradients (max_grad_norm) before callbacks see them, so the reported "
                "norms are clipped; use gradient_monitor.integrations.huggingface.watch_trainer(trainer) to report them before",
                RuntimeWarning,
                stacklevel=2,
            )

    def report(self, state: Any) -> None:
        """Reports the current gradients as the optimizer step about to happen (once per step)."""
        monitor = self.monitor
        if monitor is None or not monitor.active:
            return
        with monitor._guard("Transformers report"):
            if state.global_step == self._reported_step:
                return
            self._reported_step = state.global_step
            groups = getattr(self._optimizer, "param_groups", None) or [{}]
            monitor.step(step=state.global_step + 1, lr=groups[0].get("lr"))

    def on_pre_optimizer_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.report(state)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.monitor is not None:
            self.monitor.close()


def watch_trainer(trainer: Any, monitor: Optional[Monitor] = None, **monitor_kwargs: Any) -> Any:
    """Adds the callback to ``trainer`` and reports each step's norms just before the Trainer's own
    ``accelerator.clip_grad_norm_`` clips them. Returns the callback."""
    callback = __getattr__("GradientMonitorCallback")(monitor, **monitor_kwargs)
    callback._call_site = user_call_site()
    callback.reports_before_clipping = True
    trainer.add_callback(callback)
    call_before(trainer.accelerator, "clip_grad_norm_", lambda: callback.report(trainer.state))
    return callback


def _base() -> type:
    return first_importable([("transformers", "TrainerCallback")], "Hugging Face Transformers (pip install transformers)")


_classes: Dict[str, type] = {}


def __getattr__(name: str) -> Any:
    if name == "GradientMonitorCallback":
        return lazy_class(name, HuggingFaceHooks, _base, _classes)
    raise AttributeError(name)
