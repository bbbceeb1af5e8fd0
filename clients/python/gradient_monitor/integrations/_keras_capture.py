"""Gradient norms of Keras 3 ``fit()`` without a custom ``train_step``.

Keras never passes gradients to callbacks, but every backend's ``train_step`` hands them to the
optimizer: ``apply_gradients`` -> ``apply`` (TensorFlow), ``apply`` (torch), ``stateless_apply`` ->
``apply`` (JAX, inside ``jax.jit``). ``OptimizerCapture`` wraps that instance's ``apply``: it computes
``[total, *layer norms]`` with ``keras.ops`` (so it is traced into TensorFlow graphs and JAX jit) and
gets the values out the way each backend allows: read directly when eager (torch, run_eagerly); a ring
buffer of TF variables read after each batch (works under XLA too); ``jax.debug.callback`` under jit.
"""
from __future__ import annotations

import collections
import threading
from typing import Any, Callable, Deque, List, Optional, Sequence, Tuple

from ..layers import DEFAULT_MAX_LAYERS, LayerSpec, NameFilter, group_layers
from ..tensorflow import not_for_autograph, variable_name

_ATTRIBUTE = "_gradient_monitor_capture"
_TF_RING = 64  # optimizer steps kept between two reads (steps_per_execution may batch several)

Record = List[float]


class OptimizerCapture:
    """Installed once per optimizer; a callback attaches itself as the ``sink`` for the length of a fit."""

    def __init__(self, optimizer: Any) -> None:
        self.optimizer = optimizer
        self.layers: LayerSpec = "auto"
        self.include: NameFilter = None
        self.max_layers = DEFAULT_MAX_LAYERS
        self.names: Optional[List[str]] = None
        self.on_failure: Optional[Callable[[str, BaseException], None]] = None
        self.active = False
        self._records: Deque[Record] = collections.deque()
        self._lock = threading.Lock()
        self._ring: Any = None  # TensorFlow: (values [ring, 1 + layers], count)
        self._ring_read = 0
        self.lost = 0

    @classmethod
    def install(cls, optimizer: Any) -> Tuple["OptimizerCapture", bool]:
        """The optimizer's capture (wrapping its ``apply``), and whether it was installed just now."""
        target = getattr(optimizer, "inner_optimizer", optimizer)  # LossScaleOptimizer: the unscaled gradients
        capture = getattr(target, _ATTRIBUTE, None)
        if capture is not None:
            return capture, False
        capture = cls(target)
        original = target.apply

        @not_for_autograph
        def apply(grads: Sequence[Any], trainable_variables: Any = None) -> Any:
            grads = list(grads)
            if capture.active:
                variables = list(trainable_variables) if trainable_variables is not None else list(target._trainable_variables)
                try:
                    capture.record(grads, variables)
                except Exception as exc:  # monitoring stops; the optimizer step below still happens
                    capture.fail("Keras optimizer capture", exc)
            return original(grads, trainable_variables)

        object.__setattr__(target, "apply", apply)
        object.__setattr__(target, _ATTRIBUTE, capture)
        return capture, True

    def fail(self, where: str, exc: BaseException) -> None:
        self.active = False
        if self.on_failure is not None:
            self.on_failure(where, exc)

    def record(self, grads: List[Any], variables: List[Any]) -> None:
        import keras
        from keras import ops

        pairs = [(g, v) for g, v in zip(grads, variables) if g is not None]
        if not pairs:
            return
        names, index = group_layers([variable_name(v) for _, v in pairs], self.layers, self.include, self.max_layers, separator="/")
        if self.names is None:
            self.names = names
        squares = [ops.sum(ops.square(ops.cast(_dense(g), "float32"))) for g, _ in pairs]
        zero = ops.zeros((), "float32")
        layer_sums = [sum((s for s, i in zip(squares, index) if i == k), zero) for k in range(len(names))]
        values = ops.sqrt(ops.stack([sum(squares, zero)] + layer_sums))
        backend = keras.backend.backend()
        if backend == "tensorflow":
            self._record_tensorflow(values)
        elif backend == "jax":
            self._record_jax(values)
        else:  # torch, numpy: eager
            self._push(ops.convert_to_numpy(values))

    def _push(self, values: Any) -> None:
        with self._lock:
            self._records.append([float(v) for v in values])

    def _record_tensorflow(self, values: Any) -> None:
        import tensorflow as tf

        if tf.executing_eagerly():  # run_eagerly=True
            self._push(values.numpy())
            return
        if self._ring is None or int(self._ring[0].shape[1]) != int(values.shape[0]):
            with tf.init_scope():  # created once, outside the traced step
                self._ring = (tf.Variable(tf.zeros([_TF_RING, values.shape[0]]), trainable=False), tf.Variable(0, dtype=tf.int64, trainable=False))
                self._ring_read = 0
        ring, count = self._ring
        ring.scatter_nd_update([[count % _TF_RING]], tf.expand_dims(values, 0))
        count.assign_add(1)

    def _record_jax(self, values: Any) -> None:
        import jax

        from ..jax import is_traced

        if not is_traced(values):
            self._push(jax.device_get(values))
            return

        def receive(host: Any) -> None:  # on JAX's callback thread: an exception here would fail the step
            try:
                if self.active:
                    self._push(host)
            except Exception as exc:
                self.fail("Keras JAX callback", exc)

        jax.debug.callback(receive, values, ordered=True)

    def take(self) -> List[Record]:
        """Records of the optimizer steps since the last call, oldest first."""
        if self._ring is not None:
            ring, count = self._ring
            total = int(count.numpy())
            if total > self._ring_read:
                rows = ring.numpy()
                first = max(self._ring_read, total - _TF_RING)
                self.lost += first - self._ring_read
                with self._lock:
                    self._records.extend([float(v) for v in rows[i % _TF_RING]] for i in range(first, total))
                self._ring_read = total
        with self._lock:
            out = list(self._records)
            self._records.clear()
        return out

    def finish(self) -> None:
        """Waits for JAX callbacks still in flight."""
        import keras

        if keras.backend.backend() == "jax":
            import jax

            jax.effects_barrier()


def _dense(gradient: Any) -> Any:
    """TensorFlow IndexedSlices (embedding gradients) count their values, as tf.clip_by_global_norm does."""
    return gradient.values if type(gradient).__name__ == "IndexedSlices" else gradient
