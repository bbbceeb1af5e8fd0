"""Where a NaN/Inf was born: the module whose inputs were finite and whose output was not.

Forward hooks on every module record, per call, the min and max of the call's floating inputs and
outputs into a preallocated device buffer (one ``aminmax`` per tensor, one row write): no flag is
computed and nothing is read back while the model runs. Tensor hooks on the outputs and inputs of
each call record the gradients' min and max in backward the same way. Once per reported step
``summary()`` reduces the buffers on the device to a few numbers (the first call whose inputs were
finite and output not; the first input-gradient that went non-finite while the call's output
gradient was finite; a non-finite batch; a non-finite gradient reaching the model's output), which
travel in the step's single device-to-host copy with the norms. Only the sender thread, holding
those numbers, maps call numbers to module names, classes and source lines.

Min and max carry the verdict for free: NaN propagates through both, ±Inf shows in one of them,
and they are the "input range" the origin reports.
"""
from __future__ import annotations

import inspect
import itertools
import logging
import math
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch

Tensor = torch.Tensor
logger = logging.getLogger("gradient_monitor")

# Calls (and gradient events) one report can hold; a step beyond it is traced up to there.
_MAX_ROWS = 1 << 16
_FIRST_ROWS = 256
# Layout of summary(): [first forward call, its input min/max, output min/max,
#  first non-finite batch (root call index), first backward event, its gradient min/max, its call,
#  that call's forward input min/max, whether a non-finite gradient reached the model's output].
SUMMARY_SIZE = 13


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


def _minmax(t: Tensor) -> Tensor:
    t = t.detach()
    if not _CPU_HALF_AMINMAX and t.device.type == "cpu" and t.dtype in (torch.float16, torch.bfloat16):
        t = t.float()
    return torch.stack(t.aminmax()).float()


def _range(tensors: Sequence[Tensor]) -> Tensor:
    """[min, max] over the tensors, in float32 (NaN if any value is NaN)."""
    if len(tensors) == 1:
        return _minmax(tensors[0])
    ranges = torch.stack([_minmax(t) for t in tensors])
    return torch.stack([ranges[:, 0].amin(), ranges[:, 1].amax()])


class NonfiniteTrace:
    """Hooks a model's modules; see the module docstring. ``backward=False`` traces forward only."""

    def __init__(self, model: torch.nn.Module, backward: bool = True) -> None:
        self.model = model
        self.backward = backward
        self.modules: List[Tuple[str, torch.nn.Module]] = list(model.named_modules())
        self.enabled = True
        self._calls: List[int] = []  # module index of each forward call since the last summary
        self._root_calls: List[int] = []  # call numbers of the model's own forwards
        self._events = itertools.count()  # backward gradient events (hooks may run on autograd threads)
        self._fw: Optional[Tensor] = None  # rows x 6: input min/max, output min/max, output-grad min/max
        self._bw: Optional[Tensor] = None  # rows x 3: input-grad min/max, call number
        self._roots: Optional[Tensor] = None  # rows x 4: batch min/max, output-grad min/max
        self._handles = [m.register_forward_hook(self._hook(i)) for i, (_, m) in enumerate(self.modules)]
        self._sources: Dict[type, Tuple[Optional[str], Optional[int]]] = {}

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
        if not outs:
            return
        k = len(self._calls)
        if k >= _MAX_ROWS:
            return
        ins = _floats(inputs, [])
        fw = self._rows("_fw", k, 6, outs[0].device)
        out_range = _range(outs)
        fw[k, :4] = torch.cat([_range(ins), out_range]) if ins else torch.cat([out_range.new_zeros(2), out_range])
        self._calls.append(index)
        root = index == 0
        if root:
            r = len(self._root_calls)
            roots = self._rows("_roots", r, 4, fw.device)
            roots[r, :2] = fw[k, :2]
            self._root_calls.append(k)
        if not self.backward:
            return
        for t in outs:
            if t.requires_grad:
                t.register_hook(self._output_grad_hook(k, r if root else -1))
        for t in ins:
            # Leaves (parameters, a batch that requires grad) live on: hooks on them would pile up.
            if t.requires_grad and t.grad_fn is not None:
                t.register_hook(self._input_grad_hook(k))

    def _output_grad_hook(self, k: int, root_index: int) -> Any:
        def hook(grad: Tensor) -> None:
            try:
                if self._fw is not None and k < self._fw.shape[0]:
                    g = _range([grad])
                    self._fw[k, 4:6] = g
                    if root_index >= 0 and self._roots is not None:
                        self._roots[root_index, 2:4] = g
            except Exception as e:
                self._disable(e)

        return hook

    def _input_grad_hook(self, k: int) -> Any:
        def hook(grad: Tensor) -> None:
            try:
                e = next(self._events)
                if e >= _MAX_ROWS or self._fw is None:
                    return
                bw = self._rows("_bw", e, 3, self._fw.device)
                bw[e, :2] = _range([grad])
                bw[e, 2] = k
            except Exception as err:
                self._disable(err)

        return hook

    def _rows(self, attr: str, needed: int, width: int, device: torch.device) -> Tensor:
        """The buffer ``attr`` with at least ``needed + 1`` rows (grown by doubling, on the device)."""
        buf: Optional[Tensor] = getattr(self, attr)
        if buf is None or buf.device != device:
            buf = torch.zeros(max(_FIRST_ROWS, needed + 1), width, device=device)
        elif needed >= buf.shape[0]:
            grown = torch.zeros(min(_MAX_ROWS, 2 * buf.shape[0]), width, device=device)
            grown[: buf.shape[0]] = buf
            buf = grown
        setattr(self, attr, buf)
        return buf

    def _disable(self, error: Exception) -> None:
        if self.enabled:
            self.enabled = False
            logger.warning("gradient_monitor: the non-finite trace is off for this run after an error in its hooks: %s", error)

    # ---- once per reported step ---------------------------------------------------------------
    def summary(self, like: Tensor) -> Tuple[Tensor, "TraceCalls"]:
        """The step's verdict as SUMMARY_SIZE numbers on ``like``'s device and dtype, computed there
        without a host read, and the host-side call list to decode them; starts the next step."""
        m = min(next(self._events), _MAX_ROWS)
        calls = TraceCalls(self._calls, self._root_calls, m, self.modules)
        n, r = len(self._calls), len(self._root_calls)
        self._calls, self._root_calls, self._events = [], [], itertools.count()
        fw = self._fw
        if n == 0 or fw is None:
            return torch.full((SUMMARY_SIZE,), -1.0, device=like.device, dtype=like.dtype), calls
        fw_n = fw[:n]
        finite = torch.isfinite(fw_n)
        in_ok, out_ok, grad_out_ok = finite[:, 0:2].all(1), finite[:, 2:4].all(1), finite[:, 4:6].all(1)
        order = torch.arange(n, device=fw.device)
        first_fw = order.masked_fill(~(in_ok & ~out_ok), n).min().reshape(1)
        fw_row = fw_n.index_select(0, first_fw.clamp(max=n - 1))[0, :4]
        parts = [first_fw.float(), fw_row]
        if r and self._roots is not None:
            roots = self._roots[:r]
            root_ok = torch.isfinite(roots)
            first_batch = torch.arange(r, device=fw.device).masked_fill(root_ok[:, 0:2].all(1), r).min().reshape(1)
            loss_bad = (~root_ok[:, 2:4].all(1)).any().reshape(1)
        else:
            first_batch = torch.full((1,), r, device=fw.device)
            loss_bad = torch.zeros(1, device=fw.device, dtype=torch.bool)
        parts.append(first_batch.float())
        if m and self._bw is not None:
            bw = self._bw[:m]
            call_of = bw[:, 2].long().clamp(0, n - 1)
            flagged = ~torch.isfinite(bw[:, :2]).all(1) & grad_out_ok.index_select(0, call_of)
            first_bw = torch.arange(m, device=fw.device).masked_fill(~flagged, m).min().reshape(1)
            bw_row = bw.index_select(0, first_bw.clamp(max=m - 1))[0]
            bw_inputs = fw_n.index_select(0, bw_row[2:3].long().clamp(0, n - 1))[0, :2]
            parts += [first_bw.float(), bw_row, bw_inputs]
        else:
            parts.append(torch.zeros(6, device=fw.device))  # event 0 of 0: none
        parts.append(loss_bad.float())
        fw.zero_()  # output-gradient columns must read finite for calls whose gradient never comes
        return torch.cat(parts).to(like.device, like.dtype), calls

    def source_of(self, cls: type) -> Tuple[Optional[str], Optional[int]]:
        """(file relative to the working directory when inside it, 1-based line) of ``cls.forward``."""
        if cls not in self._sources:
            self._sources[cls] = _source(cls)
        return self._sources[cls]


class TraceCalls:
    """What the host knows of one step's forward calls, to decode its summary."""

    def __init__(self, calls: List[int], root_calls: List[int], events: int, modules: List[Tuple[str, torch.nn.Module]]) -> None:
        self.calls = calls
        self.root_calls = root_calls
        self.events = events  # backward gradient events recorded
        self.modules = modules

    def origin(self, values: Sequence[float], trace: NonfiniteTrace) -> Optional[Dict[str, Any]]:
        """The origin message object for a non-finite step, or None when the trace saw nothing."""
        n = len(self.calls)
        if n == 0 or values[0] < 0:
            return None
        first_fw, first_batch = int(values[0]), int(values[5])
        if first_batch < len(self.root_calls):
            bad_root = self.root_calls[first_batch]
            containing = next((c for c in self.root_calls if c >= first_fw), None) if first_fw < n else None
            if containing is None or bad_root <= containing:
                return self._describe(0, "input", trace, None)
        if first_fw < n:
            return self._describe(self.calls[first_fw], "forward", trace, values[1:5])
        if int(values[6]) < self.events:
            call = int(values[9])
            return self._describe(self.calls[call], "backward", trace, (values[10], values[11], values[7], values[8]))
        if values[12] > 0:
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
