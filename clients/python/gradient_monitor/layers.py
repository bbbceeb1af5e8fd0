"""Grouping of parameter names into reported layers (framework-neutral).

A parameter named ``encoder.layers.3.attn.q.weight`` belongs to the module ``encoder.layers.3.attn.q``.
``"auto"`` reports one layer per owning module and, when that gives more than ``max_layers``,
coarser prefixes (``encoder.layers.3.attn``, then ``encoder.layers.3``...) until it fits; as a last
resort neighbouring groups are merged into ranges, so huge models stay bounded.
"""
from __future__ import annotations

import re
from typing import Callable, Dict, List, Optional, Pattern, Sequence, Tuple, Union

LayerSpec = Union[str, int, Sequence[str], Callable[[str], Optional[str]], None]
NameFilter = Union[str, Pattern[str], Callable[[str], bool], None]

# Prefixes added by wrappers (DDP, FSDP, activation checkpointing, torch.compile) that say nothing about the model.
_WRAPPER_PARTS = {"module", "_fsdp_wrapped_module", "_checkpoint_wrapped_module", "_orig_mod", "_forward_module"}
DEFAULT_MAX_LAYERS = 64


def clean_name(name: str, separator: str = ".") -> str:
    """Drops wrapper components so ``module._fsdp_wrapped_module.fc.weight`` reads ``fc.weight``."""
    parts = [p for p in name.split(separator) if p not in _WRAPPER_PARTS]
    return separator.join(parts) if parts else name


def _owner(name: str, separator: str) -> str:
    head, sep, _ = name.rpartition(separator)
    return head if sep else name


def _prefix(name: str, depth: int, separator: str) -> str:
    return separator.join(name.split(separator)[:depth])


def _matches(name_filter: NameFilter) -> Callable[[str], bool]:
    if name_filter is None:
        return lambda _name: True
    if callable(name_filter) and not isinstance(name_filter, (str, re.Pattern)):
        return name_filter
    pattern = re.compile(name_filter) if isinstance(name_filter, str) else name_filter
    return lambda name: pattern.search(name) is not None


def group_layers(
    names: Sequence[str],
    layers: LayerSpec = "auto",
    include: NameFilter = None,
    max_layers: int = DEFAULT_MAX_LAYERS,
    separator: str = ".",
) -> Tuple[List[str], List[int]]:
    """Returns the layer names, in first-seen order, and for each name its layer index (-1: not in any layer).

    ``layers``: ``"auto"`` (owning module, coarsened to fit ``max_layers``), ``"module"`` (owning module,
    no cap), ``"parameter"`` (one layer per parameter), an int (module path cut to that depth), a list of
    module prefixes (each parameter goes to the longest one it starts with), a callable name -> layer
    name or None, or None (no per-layer norms). ``include`` keeps only matching parameter names
    (regex or callable); excluded ones still count in the total norm.
    """
    if max_layers < 1:
        raise ValueError(f"max_layers must be at least 1, got {max_layers}")
    keep = _matches(include)
    clean = [clean_name(n, separator) for n in names]
    if layers is None:
        return [], [-1] * len(names)
    if layers == "auto":
        return _auto(clean, keep, max_layers, separator)
    if layers == "module":
        assign: Callable[[str], Optional[str]] = lambda n: _owner(n, separator)
    elif layers == "parameter":
        assign = lambda n: n
    elif isinstance(layers, int) and not isinstance(layers, bool):
        if layers < 1:
            raise ValueError(f"a layer depth must be at least 1, got {layers}")
        depth = layers
        assign = lambda n: _prefix(_owner(n, separator), depth, separator)
    elif callable(layers):
        assign = layers
    elif isinstance(layers, (list, tuple)):
        prefixes = sorted((str(p) for p in layers), key=len, reverse=True)

        def assign(n: str) -> Optional[str]:
            return next((p for p in prefixes if n == p or n.startswith(p + separator)), None)
    else:
        raise ValueError(f'layers must be "auto", "module", "parameter", an int depth, a list of module names, a callable or None; got {layers!r}')
    return _index([assign(n) if keep(n) else None for n in clean])


def _index(assigned: Sequence[Optional[str]]) -> Tuple[List[str], List[int]]:
    order: Dict[str, int] = {}
    index: List[int] = []
    for layer in assigned:
        if layer is None:
            index.append(-1)
            continue
        index.append(order.setdefault(layer, len(order)))
    return list(order), index


def _auto(names: Sequence[str], keep: Callable[[str], bool], max_layers: int, separator: str) -> Tuple[List[str], List[int]]:
    owners = [_owner(n, separator) if keep(n) else None for n in names]
    deepest = max((o.count(separator) + 1 for o in owners if o is not None), default=1)
    for depth in range(deepest, 0, -1):
        assigned = [None if o is None else _prefix(o, depth, separator) for o in owners]
        layer_names, index = _index(assigned)
        if len(layer_names) <= max_layers:
            return layer_names, index
    return _merge_ranges(layer_names, index, max_layers)


def _merge_ranges(layer_names: List[str], index: List[int], max_layers: int) -> Tuple[List[str], List[int]]:
    """Merges neighbouring groups into at most max_layers ranges named ``first…last``."""
    per = -(-len(layer_names) // max_layers)
    chunks = [layer_names[i : i + per] for i in range(0, len(layer_names), per)]
    merged = [c[0] if len(c) == 1 else f"{c[0]}…{c[-1]}" for c in chunks]
    return merged, [-1 if i < 0 else i // per for i in index]
