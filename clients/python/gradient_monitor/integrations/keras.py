"""Keras 3: ``model.fit(..., callbacks=[GradientMonitorCallback()])``, on the TensorFlow, JAX and torch
backends, with a plain ``compile()``: at ``on_train_begin`` the callback wraps the model optimizer's
``apply`` (see ``_keras_capture``) and streams one record per optimizer step, with per-layer norms.
Under ``mixed_float16`` the unscaled gradients are seen (steps the loss scaler skips are not reported).

A custom ``train_step`` may instead return the norms with its logs, which then take precedence::

    from gradient_monitor.tensorflow import grad_norm_logs

    def train_step(self, data):
        ...
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        return {"loss": loss, **grad_norm_logs(grads, self.trainable_variables)}

Keras (``keras`` 3, else ``tf.keras``) is imported when ``GradientMonitorCallback`` is first used.
"""
from __future__ import annotations

import warnings
from typing import Any, Dict, Mapping, Optional

from ..callsite import user_call_site
from ..monitor import Monitor
from ..tensorflow import LOG_KEY
from ._keras_capture import OptimizerCapture
from ._lazy import first_importable, lazy_class

_PREFIX = LOG_KEY + "/"


class KerasHooks:
    """The callback's behaviour; ``GradientMonitorCallback`` mixes it into ``keras.callbacks.Callback``."""

    def __init__(self, monitor: Optional[Monitor] = None, **monitor_kwargs: Any) -> None:
        super().__init__()
        self.monitor = monitor
        self._monitor_kwargs = monitor_kwargs
        self._call_site = user_call_site()
        self._capture: Optional[OptimizerCapture] = None
        self._reported = 0

    def on_train_begin(self, logs: Optional[Mapping[str, Any]] = None) -> None:
        if self.monitor is None:
            self.monitor = Monitor(call_site=self._call_site, **self._monitor_kwargs)
        monitor = self.monitor
        with monitor._guard("Keras on_train_begin"):
            capture, new = OptimizerCapture.install(self.model.optimizer)
            capture.layers, capture.include, capture.max_layers = monitor.layers, monitor.include, monitor.max_layers
            capture.on_failure = monitor._fail
            capture.active = True
            self._capture = capture
            if new and getattr(self.model, "train_function", None) is not None:
                self.model.make_train_function(force=True)  # a step traced before the capture would not record

    def on_train_batch_end(self, batch: int, logs: Optional[Mapping[str, Any]] = None) -> None:
        monitor = self.monitor
        if monitor is None or not monitor.active:
            return
        with monitor._guard("Keras on_train_batch_end"):
            logs = logs or {}
            records = self._capture.take() if self._capture is not None else []
            loss = logs.get("loss")
            if LOG_KEY in logs:  # a custom train_step returned its own norms
                layers = {k[len(_PREFIX) :]: float(v) for k, v in logs.items() if k.startswith(_PREFIX)}
                monitor.log(None, float(logs[LOG_KEY]), layers or None, loss=loss, framework=_framework())
                self._reported += 1
                return
            self._log(records, loss)

    def _log(self, records: Any, loss: Any = None) -> None:
        monitor = self.monitor
        names = self._capture.names if self._capture is not None else None
        if names is not None and monitor._log_layers is None:
            monitor._log_layers = names
        for i, values in enumerate(records):
            monitor.log(None, values[0], values[1:] if names else None, loss=loss if i == len(records) - 1 else None, framework=_framework())
        self._reported += len(records)

    def on_train_end(self, logs: Optional[Mapping[str, Any]] = None) -> None:
        monitor = self.monitor
        if monitor is None:
            return
        capture = self._capture
        if capture is not None and monitor.active:
            with monitor._guard("Keras on_train_end"):
                capture.finish()
                self._log(capture.take())
                if capture.lost:
                    warnings.warn(f"gradient_monitor: {capture.lost} optimizer steps were not read in time (steps_per_execution too large)", RuntimeWarning, stacklevel=2)
                if self._reported == 0:
                    warnings.warn("gradient_monitor: fit() applied no gradients through the model's optimizer; from a custom train_step, return grad_norm_logs(grads, variables)", RuntimeWarning, stacklevel=2)
        if capture is not None:
            capture.active = False
            capture.on_failure = None
        monitor.close()


def _framework() -> str:
    import keras

    backend = keras.backend.backend() if hasattr(keras, "backend") else "tensorflow"
    return {"torch": "pytorch", "jax": "jax"}.get(backend, "tensorflow")


def _base() -> type:
    return first_importable([("keras.callbacks", "Callback"), ("tensorflow.keras.callbacks", "Callback")], "Keras (pip install keras) or TensorFlow")


_classes: Dict[str, type] = {}


def __getattr__(name: str) -> Any:
    if name == "GradientMonitorCallback":
        return lazy_class(name, KerasHooks, _base, _classes)
    raise AttributeError(name)
