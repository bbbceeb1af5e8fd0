"""Keras, for models with a custom ``train_step``: gradients never leave ``train_step``, so it returns
their norms with its logs and the callback streams them::

    from gradient_monitor.tensorflow import grad_norm_logs

    def train_step(self, data):
        ...
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        return {"loss": loss, **grad_norm_logs(grads, self.trainable_variables)}

    model.fit(..., callbacks=[GradientMonitorCallback()])

Keras (``keras`` 3, else ``tf.keras``) is imported when ``GradientMonitorCallback`` is first used.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

from ..callsite import user_call_site
from ..monitor import Monitor
from ..tensorflow import LOG_KEY
from ._lazy import first_importable, lazy_class

_PREFIX = LOG_KEY + "/"


class KerasHooks:
    """The callback's behaviour; ``GradientMonitorCallback`` mixes it into ``keras.callbacks.Callback``."""

    def __init__(self, monitor: Optional[Monitor] = None, **monitor_kwargs: Any) -> None:
        super().__init__()
        self.monitor = monitor
        self._monitor_kwargs = monitor_kwargs
        self._call_site = user_call_site()
        self._missing_warned = False

    def on_train_begin(self, logs: Optional[Mapping[str, Any]] = None) -> None:
        if self.monitor is None:
            self.monitor = Monitor(call_site=self._call_site, **self._monitor_kwargs)

    def on_train_batch_end(self, batch: int, logs: Optional[Mapping[str, Any]] = None) -> None:
        logs = logs or {}
        if self.monitor is None:
            return
        if LOG_KEY not in logs:
            if not self._missing_warned:
                self._missing_warned = True
                import warnings

                warnings.warn(
                    "gradient_monitor: no grad_norm in the batch logs; return grad_norm_logs(grads, variables) from train_step",
                    RuntimeWarning,
                    stacklevel=2,
                )
            return
        layers = {k[len(_PREFIX):]: float(v) for k, v in logs.items() if k.startswith(_PREFIX)}
        self.monitor.log(None, float(logs[LOG_KEY]), layers or None, loss=logs.get("loss"), framework="tensorflow")

    def on_train_end(self, logs: Optional[Mapping[str, Any]] = None) -> None:
        if self.monitor is not None:
            self.monitor.close()


def _base() -> type:
    return first_importable([("keras.callbacks", "Callback"), ("tensorflow.keras.callbacks", "Callback")], "Keras (pip install keras) or TensorFlow")


_classes: Dict[str, type] = {}


def __getattr__(name: str) -> Any:
    if name == "GradientMonitorCallback":
        return lazy_class(name, KerasHooks, _base, _classes)
    raise AttributeError(name)
