"""Hugging Face Accelerate loops: ``monitor = watch_accelerator(accelerator, model)``.

``accelerator.clip_grad_norm_`` then reports each optimizer step's norms just before it unscales and
clips them (the pre-clip norms, the total it returns). Without clipping, call ``monitor.step()`` when
``accelerator.sync_gradients`` is true (after the ``backward`` of the last micro-batch). The fp16
GradScaler is taken from the accelerator; FSDP gradients are all-reduced into the global norm.
"""
from __future__ import annotations

from typing import Any, Optional

from ..callsite import user_call_site
from ..monitor import Monitor
from ._patch import call_before


def watch_accelerator(accelerator: Any, model: Any, monitor: Optional[Monitor] = None, **monitor_kwargs: Any) -> Monitor:
    """Watches ``model`` (as returned by ``accelerator.prepare``) and hooks ``accelerator.clip_grad_norm_``.
    Returns the Monitor (close it, or use it as a context manager, when training ends)."""
    if monitor is None:
        monitor = Monitor(**{"call_site": user_call_site(), **monitor_kwargs})
    with monitor._guard("watch_accelerator"):
        sharded = True if "FSDP" in str(getattr(accelerator, "distributed_type", "")) else None
        monitor.watch(model, scaler=getattr(accelerator, "scaler", None), sharded=sharded)

        def report() -> None:
            with monitor._guard("Accelerate report"):
                if accelerator.sync_gradients:
                    monitor.step()

        call_before(accelerator, "clip_grad_norm_", report)
    return monitor
