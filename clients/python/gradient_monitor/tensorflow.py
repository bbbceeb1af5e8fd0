"""TensorFlow: gradient norms from ``tape.gradient`` output, computed with TF ops (graph-safe) and
read back once. TensorFlow is imported only when these are called."""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, TypeVar

from .layers import DEFAULT_MAX_LAYERS, LayerSpec, NameFilter, group_layers

LOG_KEY = "grad_norm"
F = TypeVar("F", bound=Callable[..., Any])


def not_for_autograph(function: F) -> F:
    """Marks a function called inside ``tf.function`` as already graph-safe, so that AutoGraph calls it as
    is instead of trying to rewrite this package (which fails with warnings, then runs it as is anyway).
    AutoGraph leaves alone what carries ``autograph_info__``, the mark of its own ``do_not_convert``."""
    function.autograph_info__ = {}  # type: ignore[attr-defined]
    return function


def variable_name(variable: Any) -> str:
    """Keras 3 variables have ``path`` ("dense/kernel"); tf.Variable names end in ":0"."""
    name = getattr(variable, "path", None) or getattr(variable, "name", "") or "variable"
    return name[:-2] if name.endswith(":0") else name


def norm_tensors(tf: Any, grads: Sequence[Any], variables: Sequence[Any], layers: LayerSpec = "auto", include: NameFilter = None, max_layers: int = DEFAULT_MAX_LAYERS) -> Tuple[List[str], Any]:
    """Layer names and one float32 tensor [global norm, *layer norms]. ``None`` gradients are skipped and
    ``IndexedSlices`` count their values, as ``tf.clip_by_global_norm`` does."""
    pairs = [(g, v) for g, v in zip(grads, variables) if g is not None]
    if not pairs:
        return [], tf.zeros([1], tf.float32)
    names, index = group_layers([variable_name(v) for _, v in pairs], layers, include, max_layers, separator="/")
    squares = [tf.reduce_sum(tf.square(tf.cast(g.values if isinstance(g, tf.IndexedSlices) else g, tf.float32))) for g, _ in pairs]
    per_layer = [[s for s, i in zip(squares, index) if i == k] for k in range(len(names))]
    zero = tf.zeros([], tf.float32)
    summed = [tf.add_n(squares)] + [tf.add_n(group) if group else zero for group in per_layer]
    return names, tf.sqrt(tf.stack(summed))


def first_nonfinite_variable(grads: Sequence[Any], variables: Sequence[Any]) -> Optional[str]:
    """The variable whose gradient first holds a NaN/Inf (read back one by one: for a step already known bad)."""
    import numpy as np
    import tensorflow as tf

    for g, v in zip(grads, variables):
        if g is not None and not np.isfinite((g.values if isinstance(g, tf.IndexedSlices) else g).numpy()).all():
            return variable_name(v)
    return None


def in_xla_function() -> bool:
    """Whether code is being traced for XLA (``tf.function(jit_compile=True)``), where no Python can run."""
    try:
        import tensorflow as tf
        from tensorflow.python.ops import control_flow_util
    except ImportError:  # a TensorFlow without that (internal) helper: assume plain graph mode
        return False
    return bool(control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph()))


@not_for_autograph
def grad_norm_logs(grads: Sequence[Any], variables: Sequence[Any], layers: LayerSpec = "auto", include: NameFilter = None, max_layers: int = DEFAULT_MAX_LAYERS) -> Dict[str, Any]:
    """For a custom Keras ``train_step``: merge into the returned logs, e.g.
    ``return {"loss": loss, **grad_norm_logs(grads, self.trainable_variables)}``; the Keras callback
    (``gradient_monitor.integrations.keras``) reads them. Pure TF ops, so it works inside tf.function."""
    import tensorflow as tf

    names, values = norm_tensors(tf, grads, variables, layers, include, max_layers)
    logs = {LOG_KEY: values[0]}
    logs.update({f"{LOG_KEY}/{name}": values[i + 1] for i, name in enumerate(names)})
    return logs
