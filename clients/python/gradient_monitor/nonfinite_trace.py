"""Where a NaN/Inf was born: the module whose inputs were finite and whose output was not.

A forward hook on every module takes, for each distinct floating tensor a call reads or returns
(outputs are the next calls' inputs: each is measured once), its min and max with one ``aminmax``
on the device, and remembers which tensors each call read and returned. A tensor hook on each such
tensor takes its gradient's min and max in backward, in the order gradients arrive. Nothing is
read back while the model runs. Once per reported step ``summary()`` stacks these and reduces
them on the device to a dozen numbers (the first call whose inputs were finite and output not;
the first call whose output gradient was finite and input gradient not; a non-finite batch; a
non-finite gradient reaching the model's output), which travel in the step's single
device-to-host copy with the norms. Only the sender thread, holding those numbers, maps call
numbers to module names, classes and source lines.

Min and max carry the verdict for free: NaN propagates through both, ±Inf shows in one of them,
and they are the "input range" the origin reports.
"""
from __future__ import annotations

import inspect
import logging
import math
import os
import weakref
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch

Tensor = torch.Tensor
logger = logging.getLogger("gradient_monitor")

# Tensors one report measures; beyond it a step is traced up to there (bounded memory when the
# monitor never reports, e.g. forwards without step()).
_MAX_TENSORS = 1 << 16
# Layout of summary(): [first forward call, its input min/max, its output min/max, first non-finite
#  batch (root call index), first backward call, its input min/max, its input-gradient min/max,
#  whether a non-finite gradient reached the model's output].
SUMMARY_SIZE = 12


# Modules that cannot turn finite values into NaN/Inf, forward or backward: not hooked (their
# outputs are measured where the next module reads them), which saves their hooks' cost.
_CANNOT_MAKE_NAN = (
    torch.nn.Dropout, torch.nn.Dropout1d, torch.nn.Dropout2d, torch.nn.Dropout3d, torch.nn.AlphaDropout, torch.nn.Identity,
    torch.nn.ReLU, torch.nn.ReLU6, torch.nn.LeakyReLU, torch.nn.Tanh, torch.nn.Sigmoid, torch.nn.GELU, torch.nn.SiLU, torch.nn.Hardtanh,
)


def _floats(value: Any, out: List[Tensor], depth: int = 0) -> List[Tensor]:
    """Floating tensors in a module's inputs or output (tuples, lists, dicts, a few levels deep)."""
    if isinstance(value, Tensor):
        if value.is_floating_point() and value.numel() > 0:
            out.append(value)
    elif depth < 3 and isinstance(value, (tuple, list)):
        for v in value:
            _floats(v, out, depth + 1)
    elif depth < 3 and isinstance(value, dict):
        for v in value.values():
            _floats(v, out, depth + 1)
    return out


def _cpu_half_aminmax() -> bool:
    try:
        torch.zeros(1, dtype=torch.float16).aminmax()
        return True
    except RuntimeError:  # torch < 2.0
        return False


_CPU_HALF_AMINMAX = _cpu_half_aminmax()


def _minmax(t: Tensor) -> Any:
    t = t.detach()
    if not _CPU_HALF_AMINMAX and t.device.type == "cpu" and t.dtype in (torch.float16, torch.bfloat16):
        t = t.float()
    return t.aminmax()


class NonfiniteTrace:
    """Hooks a model's modules; see the module docstring. ``backward=False`` traces forward only."""

    def __init__(self, model: torch.nn.Module, backward: bool = True) -> None:
        self.model = model
        self.backward = backward
        self.modules: List[Tuple[str, torch.nn.Module]] = list(model.named_modules())
        self.enabled = True
        self._reset()
        self._handles = [
            m.register_forward_hook(self._hook(i)) for i, (_, m) in enumerate(self.modules) if i == 0 or not isinstance(m, _CANNOT_MAKE_NAN)
        ]
        self._sources: Dict[type, Tuple[Optional[str], Optional[int]]] = {}

    def _reset(self) -> None:
        self._calls: List[int] = []  # module index of each forward call since the last summary
        self._root_calls: List[int] = []  # call numbers of the model's own forwards
        self._rows: Dict[int, Tuple[int, Any]] = {}  # id(tensor) -> (row, weak reference)
        self._mins: List[Tensor] = []  # per row, on the device
        self._maxs: List[Tensor] = []
        self._reads: List[Tuple[int, int]] = []  # (call, row) for each input
        self._writes: List[Tuple[int, int]] = []  # (call, row) for each output
        self._grads: List[Tuple[int, Tensor, Tensor]] = []  # (row, grad min, grad max), in arrival order

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    # ---- while the model runs: device work only ---------------------------------------------
    def _hook(self, index: int) -> Any:
        def on_forward(module: torch.nn.Module, inputs: Any, output: Any) -> None:
            if not self.enabled or not torch.is_grad_enabled():
                return  # evaluation forwards are not part of the step
            try:
                self._record(index, inputs, output)
            except Exception as e:  # never break the training it watches
                self._disable(e)

        return on_forward

    def _record(self, index: int, inputs: Any, output: Any) -> None:
        outs = _floats(output, [])
        if not outs or len(self._mins) >= _MAX_TENSORS:
            return
        k = len(self._calls)
        self._calls.append(index)
        if index == 0:
            self._root_calls.append(k)
        for t in _floats(inputs, []):
            self._reads.append((k, self._row(t)))
        for t in outs:
            self._writes.append((k, self._row(t)))

    def _row(self, t: Tensor) -> int:
        """The row of a tensor, measured (and its gradient hooked) the first time it is seen."""
        seen = self._rows.get(id(t))
        if seen is not None and seen[1]() is t:
            return seen[0]
        r = len(self._mins)
        low, high = _minmax(t)
        self._mins.append(low)
        self._maxs.append(high)
        # A weak reference: the trace must not keep activations alive (activation checkpointing).
        self._rows[id(t)] = (r, weakref.ref(t))
        # Leaves (parameters, a batch that requires grad) live on: hooks on them would pile up.
        if self.backward and t.requires_grad and t.grad_fn is not None:
            t.register_hook(self._grad_hook(r))
        return r

    def _grad_hook(self, r: int) -> Any:
        def hook(grad: Tensor) -> None:
            try:
                low, high = _minmax(grad)
                self._grads.append((r, low, high))  # one append: atomic across autograd threads
            except Exception as e:
                self._disable(e)

        return hook

    def _disable(self, error: Exception) -> None:
        if self.enabled:
            self.enabled = False
            logger.warning("gradient_monitor: the non-finite trace is off for this run after an error in its hooks: %s", error)

    # ---- once per reported step ---------------------------------------------------------------
    def summary(self, like: Tensor) -> Tuple[Tensor, "TraceCalls"]:
        """The step's verdict as SUMMARY_SIZE numbers on ``like``'s device and dtype, computed there
        without a host read, and the host-side call list to decode them; starts the next step."""
        calls, roots, mins, maxs, reads, writes, grads = (
            self._calls, self._root_calls, self._mins, self._maxs, self._reads, self._writes, list(self._grads))
        self._reset()
        decoded = TraceCalls(calls, roots, self.modules)
        n = len(calls)
        if n == 0 or not reads and not writes:
            return torch.full((SUMMARY_SIZE,), -1.0, device=like.device, dtype=like.dtype), decoded
        device = mins[0].device
        on = lambda xs: torch.stack([x.to(device) if x.device != device else x for x in xs]).float()  # noqa: E731
        index = lambda xs: torch.tensor(xs, dtype=torch.long).to(device, non_blocking=True)  # noqa: E731
        low, high = on(mins), on(maxs)
        rows = low.shape[0]
        row_bad = ~(torch.isfinite(low) & torch.isfinite(high))
        order = torch.arange(n, device=device)
        in_call, in_row = (index([c for c, _ in reads]), index([r for _, r in reads])) if reads else (None, None)
        out_call, out_row = index([c for c, _ in writes]), index([r for _, r in writes])

        def any_per_call(call: Optional[Tensor], row: Optional[Tensor], flag: Tensor) -> Tensor:
            if call is None or row is None:
                return torch.zeros(n, dtype=torch.bool, device=device)
            return torch.zeros(n, device=device).index_add_(0, call, flag.index_select(0, row).float()) > 0

        def reduce_per_call(call: Optional[Tensor], row: Optional[Tensor], values: Tensor, how: str) -> Tensor:
            out = torch.zeros(n, device=device)
            if call is None or row is None:
                return out
            return out.scatter_reduce_(0, call, values.index_select(0, row), how, include_self=False)

        in_bad = any_per_call(in_call, in_row, row_bad)
        out_bad = any_per_call(out_call, out_row, row_bad)
        in_min, in_max = reduce_per_call(in_call, in_row, low, "amin"), reduce_per_call(in_call, in_row, high, "amax")
        out_min, out_max = reduce_per_call(out_call, out_row, low, "amin"), reduce_per_call(out_call, out_row, high, "amax")
        first_fw = order.masked_fill(~(out_bad & ~in_bad), n).min().reshape(1)
        at_fw = first_fw.clamp(max=n - 1)
        parts = [first_fw.float()] + [v.index_select(0, at_fw) for v in (in_min, in_max, out_min, out_max)]
        r = len(roots)
        root_index = index(roots) if roots else None
        if root_index is not None:
            root_in_bad = in_bad.index_select(0, root_index)
            parts.append(torch.arange(r, device=device).masked_fill(~root_in_bad, r).min().reshape(1).float())
        else:
            parts.append(torch.zeros(1, device=device))
        if grads:
            m = len(grads)
            g_row = index([g[0] for g in grads])
            g_low, g_high = on([g[1] for g in grads]), on([g[2] for g in grads])
            g_bad = ~(torch.isfinite(g_low) & torch.isfinite(g_high))
            events = torch.arange(m, device=device)
            row_gbad = torch.zeros(rows, device=device).index_add_(0, g_row, g_bad.float()) > 0
            # The first bad gradient of each row, in arrival order (m: none).
            row_event = torch.full((rows,), m, device=device, dtype=torch.long).scatter_reduce_(
                0, g_row, events.masked_fill(~g_bad, m), "amin")
            gin_bad = any_per_call(in_call, in_row, row_gbad)
            gout_bad = any_per_call(out_call, out_row, row_gbad)
            flagged = gin_bad & ~gout_bad
            arrival = torch.full((n,), m, device=device, dtype=torch.long)
            if in_call is not None and in_row is not None:
                arrival = arrival.scatter_reduce_(0, in_call, row_event.index_select(0, in_row), "amin")
            arrival = arrival.masked_fill(~flagged, m)
            first_event = arrival.min()
            # Parent and child read the same tensor: the child, which finished first, made the NaN.
            first_bw = order.masked_fill(~(flagged & (arrival == first_event)), n).min().reshape(1)
            at_bw = first_bw.clamp(max=n - 1)
            at_event = first_event.clamp(max=m - 1).reshape(1)
            parts += [first_bw.float(), in_min.index_select(0, at_bw), in_max.index_select(0, at_bw),
                      g_low.index_select(0, at_event), g_high.index_select(0, at_event)]
            loss_bad = gout_bad.index_select(0, root_index).any().reshape(1) if root_index is not None else torch.zeros(1, device=device, dtype=torch.bool)
        else:
            parts += [torch.full((1,), float(n), device=device), torch.zeros(4, device=device)]
            loss_bad = torch.zeros(1, device=device, dtype=torch.bool)
        parts.append(loss_bad.float())
        return torch.cat(parts).to(like.device, like.dtype), decoded

    def source_of(self, cls: type) -> Tuple[Optional[str], Optional[int]]:
        """(file relative to the working directory when inside it, 1-based line) of ``cls.forward``."""
        if cls not in self._sources:
            self._sources[cls] = _source(cls)
        return self._sources[cls]


class TraceCalls:
    """What the host knows of one step's forward calls, to decode its summary."""

    def __init__(self, calls: List[int], root_calls: List[int], modules: List[Tuple[str, torch.nn.Module]]) -> None:
        self.calls = calls
        self.root_calls = root_calls
        self.modules = modules

    def origin(self, values: Sequence[float], trace: NonfiniteTrace) -> Optional[Dict[str, Any]]:
        """The origin message object for a non-finite step, or None when the trace saw nothing."""
        n = len(self.calls)
        if n == 0 or values[0] < 0:
            return None
        first_fw, first_batch, first_bw = int(values[0]), int(values[5]), int(values[6])
        if first_batch < len(self.root_calls):
            bad_root = self.root_calls[first_batch]
            containing = next((c for c in self.root_calls if c >= first_fw), None) if first_fw < n else None
            if containing is None or bad_root <= containing:
                return self._describe(0, "input", trace, None)
        if first_fw < n:
            return self._describe(self.calls[first_fw], "forward", trace, values[1:5])
        if first_bw < n:
            return self._describe(self.calls[first_bw], "backward", trace, values[7:11])
        if values[11] > 0:
            return self._describe(0, "loss", trace, None)
        return None

    def _describe(self, index: int, phase: str, trace: NonfiniteTrace, ranges: Optional[Sequence[float]]) -> Dict[str, Any]:
        name, module = self.modules[index]
        cls = type(module)
        out: Dict[str, Any] = {"phase": phase, "module": name, "class": cls.__name__}
        file, line = trace.source_of(cls)
        if file is not None:
            out["file"] = file
            if line is not None:
                out["line"] = line
        if ranges is not None:
            out["input_min"], out["input_max"] = float(ranges[0]), float(ranges[1])
            out["value"] = _produced(ranges[2], ranges[3])
        return out


def _produced(low: float, high: float) -> str:
    if math.isnan(low) or math.isnan(high):
        return "NaN"
    return "-Infinity" if low == -math.inf else "Infinity"


def _source(cls: type) -> Tuple[Optional[str], Optional[int]]:
    forward = getattr(cls, "forward", None)
    try:
        file = inspect.getsourcefile(forward or cls)
        line = inspect.getsourcelines(forward)[1] if forward is not None else None
    except (TypeError, OSError):
        return None, None
    if file is None:
        return None, None
    file = os.path.abspath(file)
    cwd = os.getcwd()
    if file.startswith(cwd + os.sep):
        file = os.path.relpath(file, cwd)
    return file, line
