"""A GradScaler that runs on the CPU: torch's own ``torch.amp.GradScaler("cpu")`` where it exists
(torch >= 2.3), else (torch 1.13, the oldest supported) the real torch.cuda.amp.GradScaler below.

torch 1.13 has CUDA kernels only for two of the scaler's operations (the fused non-finite check +
unscale, and the scale update), and `scale()` asserts a CUDA tensor. This subclass keeps the real
class's state machine (unscale_/step/update bookkeeping, found_inf per optimizer, skipping
optimizer.step on inf/NaN) and replaces exactly those three pieces with the same math in plain torch.
"""
from __future__ import annotations

import warnings
from collections import defaultdict

import torch
from torch.cuda.amp import GradScaler

try:
    from torch.cuda.amp.grad_scaler import _refresh_per_optimizer_state
except ImportError:  # torch 2.x moved it
    from torch.amp.grad_scaler import _refresh_per_optimizer_state


class CpuGradScaler(GradScaler):
    def __init__(self, init_scale: float = 2.0**16, growth_interval: int = 2000) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "CUDA is not available. Disabling." -- enabled again below
            super().__init__(init_scale=init_scale, growth_interval=growth_interval, enabled=True)
        self._enabled = True
        self._init_scale = init_scale
        self._scale = None
        self._growth_factor = 2.0
        self._backoff_factor = 0.5
        self._growth_interval = growth_interval
        self._init_growth_tracker = 0
        self._growth_tracker = None
        self._per_optimizer_states = defaultdict(_refresh_per_optimizer_state)

    def scale(self, outputs: torch.Tensor) -> torch.Tensor:
        if self._scale is None:
            self._lazy_init_scale_growth_tracker(outputs.device)
        return outputs * self._scale

    def _unscale_grads_(self, optimizer, inv_scale, found_inf, allow_fp16):  # type: ignore[override]
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    found_inf.add_((~torch.isfinite(p.grad)).any().float()).clamp_(max=1.0)
                    p.grad.mul_(inv_scale)
        return {found_inf.device: found_inf}

    def update(self, new_scale=None) -> None:  # type: ignore[override]
        found = sum(f for s in self._per_optimizer_states.values() for f in s["found_inf_per_device"].values())
        if found.item() > 0:
            self._scale.mul_(self._backoff_factor)
            self._growth_tracker.zero_()
        else:
            self._growth_tracker.add_(1)
            if self._growth_tracker.item() == self._growth_interval:
                self._scale.mul_(self._growth_factor)
                self._growth_tracker.zero_()
        self._per_optimizer_states = defaultdict(_refresh_per_optimizer_state)


def cpu_grad_scaler(init_scale: float = 2.0**16) -> GradScaler:
    amp = getattr(torch, "amp", None)
    if amp is not None and hasattr(amp, "GradScaler"):
        try:
            return amp.GradScaler("cpu", init_scale=init_scale)
        except (TypeError, RuntimeError):  # a torch.amp.GradScaler without CPU support
            pass
    return CpuGradScaler(init_scale=init_scale)
