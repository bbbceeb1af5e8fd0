"""PyTorch gradient norms with batched ops: one foreach norm per (device, dtype), one stack, one
segment sum into layers, one host transfer per reported step, no per-parameter ``.item()``.

The total is computed exactly like ``torch.nn.utils.clip_grad_norm_`` (norm of the stacked
per-tensor norms), so ``Monitor.clip_grad_norm_`` clips and reports with no extra pass. Sharded
gradients (FSDP, ZeRO-like setups) are summed as ``norm**p`` across ranks with one all-reduce: the
global norm is ``(sum over ranks of local norm**p) ** (1/p)``, not a local norm or an average.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import torch

from .layers import DEFAULT_MAX_LAYERS, LayerSpec, NameFilter, group_layers

Tensor = torch.Tensor
_INF = float("inf")


def _version_at_least(major: int, minor: int) -> bool:
    parts = torch.__version__.split("+")[0].split(".")
    try:
        return (int(parts[0]), int(parts[1])) >= (major, minor)
    except (ValueError, IndexError):
        return False


# torch >= 2.1 multiplies a tensor list by a 0-d tensor in one fused call; older versions would turn
# the tensor into a Python scalar (a device sync), so they get one mul_ per gradient like 1.13's own clip.
_FOREACH_MUL_BY_TENSOR = _version_at_least(2, 1)
_HAS_FOREACH_NORM = hasattr(torch, "_foreach_norm")


class TorchGradients:
    """Norms of the gradients of a parameter set, grouped into named layers."""

    def __init__(
        self,
        named_parameters: Sequence[Tuple[str, Tensor]] = (),
        layers: LayerSpec = "auto",
        include: NameFilter = None,
        max_layers: int = DEFAULT_MAX_LAYERS,
        sharded: bool = False,
        process_group: Any = None,
    ) -> None:
        self.layer_names, index = group_layers([n for n, _ in named_parameters], layers, include, max_layers)
        self.params: List[Tensor] = [p for _, p in named_parameters]
        n = len(self.layer_names)
        # Parameters outside every layer (filtered out, or not watched) land in an extra slot n that is cut off.
        self._slot: Dict[int, int] = {id(p): (i if i >= 0 else n) for p, i in zip(self.params, index)}
        self.sharded = sharded
        self.process_group = process_group
        self._index_cache: Dict[Tuple[Any, Tuple[int, ...]], Tensor] = {}

    @property
    def layer_count(self) -> int:
        return len(self.layer_names)

    def norms(self, params: Optional[Iterable[Tensor]] = None, norm_type: float = 2.0) -> Tuple[Tensor, Tensor, List[Tensor]]:
        """Returns ``values`` = [total, *layer norms], the total as a 0-d tensor, and the gradients seen.

        Must be called under ``torch.no_grad()``. Nothing here waits for the device.
        """
        p = float(norm_type)
        n = self.layer_count
        params = self.params if params is None else params
        grads: List[Tensor] = []
        slots: List[int] = []
        first: Optional[Tensor] = None
        for param in params:
            first = param if first is None else first
            g = param.grad
            if g is not None:
                grads.append(g)
                slots.append(self._slot.get(id(param), n))
        weights: Optional[List[float]] = None
        group = self.process_group
        if any(type(g) is not Tensor and _is_dtensor(g) for g in grads):
            # FSDP2 / DTensor gradients: each rank's local shard, as plain tensors (plain tensors and
            # DTensors never mix in one op), then one all-reduce of the sums, never a full_tensor() each.
            grads, weights, mesh_group = _local_shards(grads, group)
            group = group if group is not None else mesh_group
        sharded = self.sharded or weights is not None
        if not grads:
            device = first.device if first is not None else torch.device("cpu")
            values = torch.zeros(1 + n, device=device)
            if sharded:  # other ranks may hold gradients: the collective must still happen
                values = self._reduce(values, p, group)
            return values, values[0], grads
        per_tensor, slots, weights = _per_tensor_norms(grads, slots, weights, p)
        index = self._index(per_tensor.device, slots)
        if p == _INF:
            local_total = per_tensor.max()
            layer = torch.zeros(n + 1, device=per_tensor.device, dtype=per_tensor.dtype).scatter_reduce_(0, index, per_tensor, "amax")
        else:
            powered = per_tensor * per_tensor if p == 2.0 else per_tensor.pow(p)
            if weights is not None:
                powered = powered * torch.tensor(weights, dtype=powered.dtype).to(powered.device)
            layer = torch.zeros(n + 1, device=per_tensor.device, dtype=per_tensor.dtype).index_add_(0, index, powered)
        if sharded:
            local = torch.cat([(local_total if p == _INF else powered.sum()).reshape(1), layer[:n]])
            values = self._reduce(local, p, group)
            return values, values[0], grads
        total = torch.linalg.vector_norm(per_tensor, p)  # what clip_grad_norm_ computes, to the bit
        layers = layer[:n] if p == _INF else (layer[:n].sqrt() if p == 2.0 else layer[:n].pow(1.0 / p))
        return torch.cat([total.reshape(1), layers]), total, grads

    def _reduce(self, local: Tensor, p: float, group: Any) -> Tensor:
        import torch.distributed as dist

        op = dist.ReduceOp.MAX if p == _INF else dist.ReduceOp.SUM
        dist.all_reduce(local, op=op, group=group)
        if p == _INF:
            return local
        return local.sqrt() if p == 2.0 else local.pow(1.0 / p)

    def _index(self, device: torch.device, slots: List[int]) -> Tensor:
        key = (device, tuple(slots))
        index = self._index_cache.get(key)
        if index is None:
            if len(self._index_cache) >= 8:
                self._index_cache.clear()
            index = torch.tensor(slots, dtype=torch.long).to(device)
            self._index_cache[key] = index
        return index


def _per_tensor_norms(grads: List[Tensor], slots: List[int], weights: Optional[List[float]], p: float) -> Tuple[Tensor, List[int], Optional[List[float]]]:
    """Per-gradient norms as one 1-d tensor, and the slots (and weights) reordered to match."""
    first = grads[0]
    if all(g.device == first.device and g.dtype == first.dtype for g in grads):
        return _group_norms(grads, p), slots, weights
    groups: Dict[Tuple[torch.device, torch.dtype], List[int]] = {}
    for i, g in enumerate(grads):
        groups.setdefault((g.device, g.dtype), []).append(i)
    parts = []
    order: List[int] = []
    for members in groups.values():
        parts.append(_group_norms([grads[i] for i in members], p).to(first.device, torch.float32, non_blocking=True))
        order.extend(members)
    return torch.cat(parts), [slots[i] for i in order], None if weights is None else [weights[i] for i in order]


def _is_dtensor(t: Any) -> bool:
    return hasattr(t, "to_local") and hasattr(t, "placements") and hasattr(t, "device_mesh")


def _local_shards(grads: List[Tensor], group: Any) -> Tuple[List[Tensor], List[float], Any]:
    """Local tensors of DTensor gradients, and the weight of each one's ``norm**p`` in the all-reduced sum:
    1 for a shard, 1/replicas for a copy held by several ranks (a Replicate placement, or a plain tensor
    next to DTensors: unsharded, so every rank has it). Also the process group of a 1-d mesh shared by all."""
    import torch.distributed as dist

    locals_: List[Tensor] = []
    weights: List[float] = []
    meshes = set()
    for g in grads:
        if not _is_dtensor(g):
            locals_.append(g)
            weights.append(1.0 / dist.get_world_size(group))
            continue
        replicas = 1
        for dim, placement in enumerate(g.placements):
            if placement.is_replicate():
                replicas *= g.device_mesh.size(dim)
        locals_.append(g.to_local())
        weights.append(1.0 / replicas)
        meshes.add(g.device_mesh)
    mesh = next(iter(meshes)) if len(meshes) == 1 else None
    return locals_, weights, mesh.get_group() if mesh is not None and mesh.ndim == 1 else None


def _group_norms(grads: List[Tensor], p: float) -> Tensor:
    if grads[0].dtype in (torch.float32, torch.float64) and _HAS_FOREACH_NORM:
        return torch.stack(torch._foreach_norm(grads, p))
    # Half-precision norms would overflow above 65504: accumulate and return them in float32.
    return torch.stack([torch.linalg.vector_norm(g, p, dtype=torch.float32) for g in grads])


def clip_(grads: List[Tensor], total: Tensor, max_norm: float) -> None:
    """Scales gradients by ``min(1, max_norm / (total + 1e-6))`` on the device, like clip_grad_norm_."""
    if not grads:
        return
    coef = torch.clamp(float(max_norm) / (total + 1e-6), max=1.0)
    by_device: Dict[torch.device, List[Tensor]] = {}
    for g in grads:
        by_device.setdefault(g.device, []).append(g)
    for device, group in by_device.items():
        c = coef.to(device)
        if _FOREACH_MUL_BY_TENSOR:
            torch._foreach_mul_(group, c)
        else:
            for g in group:
                g.mul_(c.to(g.dtype))


def raise_if_nonfinite(total: Tensor, norm_type: float) -> None:
    """``error_if_nonfinite=True``: the same error as clip_grad_norm_ (this one check syncs, as there)."""
    if torch.logical_or(total.isnan(), total.isinf()):
        raise RuntimeError(
            f"The total norm of order {float(norm_type)} for gradients from `parameters` is non-finite, so it cannot be "
            "clipped. To disable this error and scale the gradients by the non-finite norm anyway, set "
            "`error_if_nonfinite=False`"
        )


def scaler_view(scaler: Any) -> Tuple[Optional[Tensor], Optional[List[Tensor]]]:
    """For a GradScaler (torch.amp or torch.cuda.amp): (scale to divide by while the gradients are still
    scaled, found-inf flags once ``unscale_`` has run). Reads the scaler's tensors, never syncs."""
    if scaler is None or not getattr(scaler, "is_enabled", lambda: False)():
        return None, None
    scale = getattr(scaler, "_scale", None)
    if scale is None:  # scale() was never called: nothing is scaled
        return None, None
    states = getattr(scaler, "_per_optimizer_states", {})
    unscaled = [s for s in states.values() if getattr(s.get("stage"), "name", "") == "UNSCALED"]
    if unscaled:
        return None, [f for s in unscaled for f in s.get("found_inf_per_device", {}).values()]
    return scale, None


def pack(values: Tensor, divide_by: Optional[Tensor], loss: Any, found_inf: Optional[List[Tensor]], traced: Optional[Tensor] = None) -> Tensor:
    """One tensor with everything the report needs, [total, layers..., loss?, found_inf?, traced...], for one transfer."""
    parts = [values / divide_by.to(values.device) if divide_by is not None else values]
    if isinstance(loss, torch.Tensor):
        parts.append(loss.detach().reshape(-1)[:1].to(values.device, values.dtype))
    if found_inf:
        parts.append(torch.stack([f.to(values.device, values.dtype).reshape(()) for f in found_inf]).sum().reshape(1))
    if traced is not None:
        parts.append(traced.to(values.device, values.dtype))
    return torch.cat(parts) if len(parts) > 1 else parts[0]


def to_host(t: Tensor) -> Tuple[Tensor, Any]:
    """Starts the device-to-host copy; returns the host tensor and an event to wait on (None on CPU)."""
    if t.device.type != "cuda":
        return t, None
    host = torch.empty(t.shape, dtype=t.dtype, device="cpu", pin_memory=True)
    host.copy_(t, non_blocking=True)
    event = torch.cuda.Event()
    event.record()
    return host, event


def host_values(host: Tensor, event: Any) -> List[float]:
    """On the sender thread: waits for the copy (if any) and reads the values."""
    if event is not None:
        event.synchronize()
    return [float(v) for v in host.tolist()]


def named_parameters(model: Any) -> List[Tuple[str, Tensor]]:
    """Trainable named parameters of a module (or of an iterable of (name, param) pairs)."""
    pairs = model.named_parameters() if hasattr(model, "named_parameters") else model
    return [(name, p) for name, p in pairs if p.requires_grad]


def looks_sharded(model: Any) -> bool:
    """FSDP (any wrapped submodule) and DTensor parameters (FSDP2, tensor parallel) keep gradient shards per
    rank; DDP keeps full, all-reduced gradients."""
    modules = model.modules() if hasattr(model, "modules") else []
    for m in modules:
        if type(m).__name__ in ("FullyShardedDataParallel", "FSDPModule") or type(m).__name__.startswith("FSDP"):
            return True
    return any(_is_dtensor(p) for _, p in named_parameters(model))
