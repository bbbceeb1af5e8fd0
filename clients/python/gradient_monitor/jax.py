"""JAX (or plain numpy) gradient pytrees: the global norm the way ``optax.global_norm`` computes it,
sqrt of the sum of every leaf's sum of squares, plus per-layer norms grouped by pytree path
("params/Dense_0/kernel" belongs to "params/Dense_0"). JAX arrays stay on the device until one
final read; JAX is imported only when a leaf is a JAX array."""
from __future__ import annotations

import sys
from typing import Any, List, Mapping, Optional, Tuple

from .layers import DEFAULT_MAX_LAYERS, LayerSpec, NameFilter, group_layers


def flatten_with_paths(tree: Any, prefix: str = "") -> List[Tuple[str, Any]]:
    """Leaves of nested mappings, lists and tuples with "/"-joined paths; other pytree nodes go through
    jax.tree_util when JAX is loaded."""
    if isinstance(tree, Mapping):
        return [pair for k in tree for pair in flatten_with_paths(tree[k], f"{prefix}/{k}" if prefix else str(k))]
    if isinstance(tree, (list, tuple)):
        return [pair for i, v in enumerate(tree) for pair in flatten_with_paths(v, f"{prefix}/{i}" if prefix else str(i))]
    if tree is None:
        return []
    jax = sys.modules.get("jax")
    if jax is not None and not _is_array(tree, jax):
        value = getattr(tree, "value", None)  # a flax nnx Variable: its array, named by the Variable's path
        if value is not None and _is_array(value, jax):
            return [(prefix or "value", value)]
        leaves, _ = jax.tree_util.tree_flatten_with_path(tree, is_leaf=lambda node: node is not tree and _is_array(getattr(node, "value", None), jax))
        return [pair for path, leaf in leaves for pair in flatten_with_paths(leaf, "/".join([prefix] * bool(prefix) + [_key_name(k) for k in path]) or "value")]
    return [(prefix or "value", tree)]


def _is_array(value: Any, jax: Any) -> bool:
    import numpy as np

    return isinstance(value, (jax.Array, np.ndarray, np.generic, int, float))


def _key_name(key: Any) -> str:
    for attr in ("key", "idx", "name"):  # DictKey, SequenceKey, GetAttrKey
        if hasattr(key, attr):
            return str(getattr(key, attr))
    return str(key)


def first_nonfinite_leaf(tree: Any) -> Optional[str]:
    """The path of the first leaf holding a NaN/Inf (read back leaf by leaf: for a step already known bad)."""
    import numpy as np

    for path, leaf in flatten_with_paths(tree):
        if not np.isfinite(np.asarray(leaf, dtype=np.float64)).all():
            return path
    return None


def norm_values(tree: Any, layers: LayerSpec = "auto", include: NameFilter = None, max_layers: int = DEFAULT_MAX_LAYERS) -> Tuple[List[str], Any]:
    """Layer names and one array ``[global norm, *layer norms]``: a JAX array (traced inside ``jit``) when
    the leaves are JAX arrays, else numpy float64."""
    import numpy as np

    leaves = flatten_with_paths(tree)
    names, index = group_layers([p for p, _ in leaves], layers, include, max_layers, separator="/")
    on_jax = any(type(leaf).__module__.startswith(("jax", "jaxlib")) for _, leaf in leaves)
    if on_jax:
        import jax.numpy as xp
    else:
        xp = np  # type: ignore[assignment]
    dtype = xp.float32 if on_jax else np.float64
    squares = [xp.sum(xp.square(xp.asarray(leaf, dtype=dtype))) for _, leaf in leaves]
    zero = xp.zeros((), dtype)
    per_layer = [sum((s for s, i in zip(squares, index) if i == k), zero) for k in range(len(names))]
    return names, xp.sqrt(xp.stack([sum(squares, zero)] + per_layer))


def is_traced(*values: Any) -> bool:
    """Whether any value is a JAX tracer (we are inside ``jit``/``grad``), so it cannot be read now."""
    jax = sys.modules.get("jax")
    return jax is not None and any(isinstance(v, jax.core.Tracer) for v in values)
