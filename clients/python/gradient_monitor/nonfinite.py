"""The NaN/Inf tools of ``Monitor.watch`` together: the origin trace, the step guard and the snapshot.

Per reported step: ``collect`` (training thread) hands the guard its norm, adds the trace's summary
to the step's one device-to-host copy and returns ``finish``, which the sender thread calls with the
copied numbers to put ``nonfinite_origin`` and the guard's skip into the step message.
"""
from __future__ import annotations

import logging
import math
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch

from .nonfinite_trace import NonfiniteTrace
from .snapshot import Forward, Snapshotter, snapshot_path
from .step_guard import StepGuard

logger = logging.getLogger("gradient_monitor")
Finish = Callable[[Dict[str, Any], Optional[Sequence[float]]], None]


class NonfiniteWatch:
    def __init__(
        self,
        model: Any,
        params: List[torch.Tensor],
        run_id: Callable[[], str],
        *,
        trace: Any,
        optimizer: Any,
        skip: bool,
        snapshot: bool,
        max_skips: int,
        scaler: Any,
        sends: bool,
    ) -> None:
        if skip and optimizer is None:
            raise ValueError("skip_nonfinite=True needs the optimizer: monitor.watch(model, optimizer=opt, skip_nonfinite=True)")
        is_module = isinstance(model, torch.nn.Module)
        # Tracing and snapshots serve the report, which only sending ranks build.
        self.trace = NonfiniteTrace(model, backward=trace != "forward") if trace and is_module and sends else None
        self.snapshot = Snapshotter(model) if snapshot and is_module and sends else None
        self.guard = StepGuard(optimizer, params, max_skips=max_skips, scaler=scaler, on_skip=self._on_skip) if skip else None
        self._model = model if is_module else None
        self._run_id = run_id
        self._step = -1
        self._forwards: List[Forward] = []

    def remove(self) -> None:
        for part in (self.trace, self.snapshot, self.guard):
            if part is not None:
                part.remove()

    def expect(self, total: torch.Tensor) -> None:
        """Every rank: the total norm of the coming optimizer step, for the guard."""
        if self.guard is not None:
            self.guard.expect(total)

    def collect(self, values: torch.Tensor, step: int) -> Tuple[Optional[torch.Tensor], Finish]:
        """The device numbers to copy with the norms (or None) and the sender thread's finishing touch."""
        self._step = step
        self._forwards = self.snapshot.take() if self.snapshot is not None else []
        device_part, calls = self.trace.summary(values) if self.trace is not None else (None, None)
        forwards = self._forwards
        guarded = self.guard is not None and self.guard.active

        def finish(msg: Dict[str, Any], traced: Optional[Sequence[float]]) -> None:
            if msg.get("skipped") or _finite(msg):
                return  # healthy, or an AMP step the scaler skipped: its own business
            origin: Dict[str, Any] = {}
            if calls is not None and traced is not None:
                origin = calls.origin(traced, self.trace) or {}  # type: ignore[arg-type]
            if guarded:
                msg["skipped"] = True
                msg["skip_reason"] = "nonfinite"
            if self.snapshot is not None:
                path = self._snapshot_for(step, forwards, guarded)
                if path:
                    origin["snapshot"] = path
            if origin:
                origin.setdefault("phase", "unknown")
                msg["nonfinite_origin"] = origin
                logger.warning("gradient_monitor: %s at step %d", describe(origin), step)

        return device_part, finish

    def _snapshot_for(self, step: int, forwards: List[Forward], guarded: bool) -> Optional[str]:
        """The snapshot of this step if it is (or, with the guard, will be) the one saved."""
        assert self.snapshot is not None
        if not guarded:
            return self.snapshot.save(self._run_id(), step, forwards)
        # With the guard the weights are saved too, on the training thread as it skips this step.
        planned = snapshot_path(self._run_id(), step, self.snapshot.directory)
        return planned if self.snapshot.saved in (None, planned) else None

    def _on_skip(self) -> None:
        if self.snapshot is None or self.snapshot.saved is not None:
            return
        state = {k: v.detach().clone() for k, v in self._model.state_dict().items()} if self._model is not None else None
        self.snapshot.save(self._run_id(), self._step, self._forwards, state)


def _finite(msg: Dict[str, Any]) -> bool:
    return math.isfinite(msg["total_norm"]) and all(math.isfinite(v) for v in msg.get("layer_norms") or ())


def describe(origin: Dict[str, Any]) -> str:
    """"NaN born in blocks.2.gate, LogGate.forward, model.py:10" (the dashboard's wording)."""
    value = {"Infinity": "Inf", "-Infinity": "-Inf"}.get(origin.get("value", "NaN"), "NaN")
    phase = origin.get("phase")
    where = f"{origin.get('class')}.forward" if origin.get("class") else ""
    place = f"{origin['file']}:{origin['line']}" if "file" in origin and "line" in origin else origin.get("file", "")
    tail = ", ".join(p for p in (where, place) if p)
    if phase == "input":
        return f"NaN/Inf in the input batch of {tail}"
    if phase == "loss":
        return "NaN/Inf gradient reached the model's output (from the loss)"
    if phase in ("forward", "backward"):
        born = "born in backward in" if phase == "backward" else "born in"
        return f"{value} {born} {origin.get('module') or '(model)'}" + (f", {tail}" if tail else "")
    return "non-finite gradients"
