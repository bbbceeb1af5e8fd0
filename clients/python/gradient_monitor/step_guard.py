"""Skips optimizer steps whose gradients are not finite, as GradScaler does for inf steps: the weights,
momentum and weight decay stay as they were, the gradients are zeroed, and training goes on. After
``max_skips`` consecutive skips it raises rather than spin.

``optimizer.step`` is replaced on the instance (a step pre-hook cannot skip the step). The verdict
costs one host read of a 0-d "all finite" flag per optimizer step, as GradScaler's own check; the
norm it reads is the one the monitor computed for its report, so nothing is computed twice.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, List, Optional

import torch

Tensor = torch.Tensor


class NonfiniteStepsError(RuntimeError):
    """Too many optimizer steps in a row had non-finite gradients: skipping cannot save this run."""


class StepGuard:
    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        params: List[Tensor],
        *,
        max_skips: int = 10,
        scaler: Any = None,
        on_skip: Optional[Callable[[], None]] = None,
    ) -> None:
        if max_skips < 1:
            raise ValueError(f"max_skips must be at least 1, got {max_skips}")
        self.optimizer = optimizer
        self.params = params
        self.max_skips = max_skips
        self.scaler = scaler
        self.on_skip = on_skip
        self.consecutive = 0
        self.skipped = 0
        self._pending: Optional[Tensor] = None
        self._own = "step" in vars(optimizer)  # an instance-level step (an LR scheduler's wrapper) to restore
        self._original = optimizer.step

        @functools.wraps(self._original)
        def step(*args: Any, **kwargs: Any) -> Any:
            return self._step(*args, **kwargs)

        optimizer.step = step  # type: ignore[method-assign]

    @property
    def active(self) -> bool:
        """False while an enabled GradScaler guards the step: it already skips inf/NaN steps."""
        return not (self.scaler is not None and getattr(self.scaler, "is_enabled", lambda: False)())

    def expect(self, total: Tensor) -> None:
        """The total norm the monitor reported for the coming optimizer step (a device tensor)."""
        self._pending = total

    def remove(self) -> None:
        if self._own:
            self.optimizer.step = self._original  # type: ignore[method-assign]
        else:
            vars(self.optimizer).pop("step", None)

    def _step(self, *args: Any, **kwargs: Any) -> Any:
        pending, self._pending = self._pending, None
        closure = args[0] if args else kwargs.get("closure")
        if not self.active or closure is not None:
            # The scaler skips on its own (never twice); a closure computes the gradients inside step.
            return self._original(*args, **kwargs)
        if bool(torch.isfinite(pending if pending is not None else self._total())):  # the one host read
            self.consecutive = 0
            return self._original(*args, **kwargs)
        self.consecutive += 1
        self.skipped += 1
        self.optimizer.zero_grad()
        if self.on_skip is not None:
            self.on_skip()
        if self.consecutive >= self.max_skips:
            raise NonfiniteStepsError(
                f"gradient_monitor: {self.consecutive} optimizer steps in a row had NaN/Inf gradients and were skipped "
                f"(skip_nonfinite=True, max_skips={self.max_skips}); the weights are those of the last good step. "
                "The run's NaN alert names the module where the first NaN was born; lower the learning rate, "
                "fix that module, or restore a checkpoint."
            )
        return None

    def _total(self) -> Tensor:
        """The gradients' total norm when the monitor did not report this step (e.g. a rank that does not send)."""
        grads = [p.grad for p in self.params if p.grad is not None]
        if not grads:
            return torch.zeros(())
        return torch.stack([torch.linalg.vector_norm(g.detach(), dtype=torch.float32).to(grads[0].device) for g in grads]).sum()
