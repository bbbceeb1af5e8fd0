"""Keras 3 (and plain TensorFlow / JAX) scenarios for one backend, in a process of its own since
KERAS_BACKEND is fixed at import (test_keras.py starts one per backend). Each scenario trains a tiny
model with the monitor streaming to the endpoint and writes the run id and the framework's own norms
(computed by a reference loop with the backend's autodiff and global-norm function) to OUT as JSON.

    KERAS_BACKEND=jax python keras_worker.py URL TOKEN OUT
"""
from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import keras
import numpy as np

from gradient_monitor import Monitor
from gradient_monitor.integrations import _keras_capture
from gradient_monitor.integrations.keras import GradientMonitorCallback

BACKEND = keras.backend.backend()
LR = 0.1
BATCH = 8
LAYERS = ["net/hidden", "net/out"]
rng = np.random.default_rng(0)
X = rng.normal(size=(48, 5)).astype("float32")
Y = (X @ rng.normal(size=(5, 1)) + 3.0).astype("float32")


def build(model_class=keras.Sequential):
    keras.utils.set_random_seed(0)
    return model_class([keras.Input((5,)), keras.layers.Dense(8, activation="tanh", name="hidden"), keras.layers.Dense(1, name="out")], name="net")


def reference_norms(model):
    """Per SGD step over the same batches: [total, *layer norms] of the gradients, by the backend itself."""
    loss_fn = keras.losses.MeanSquaredError()
    variables = model.trainable_variables
    paths = [v.path for v in variables]
    out = []
    for start in range(0, len(X), BATCH):
        x, y = X[start : start + BATCH], Y[start : start + BATCH]
        if BACKEND == "tensorflow":
            import tensorflow as tf

            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(x, training=True))
            grads = tape.gradient(loss, variables)
            norm = lambda gs: float(tf.linalg.global_norm(gs))  # noqa: E731
        elif BACKEND == "jax":
            import jax
            import optax

            values = [v.value for v in variables]

            def loss_of(values):
                pred, _ = model.stateless_call(values, [v.value for v in model.non_trainable_variables], x, training=True)
                return loss_fn(y, pred)

            grads = jax.grad(loss_of)(values)
            norm = lambda gs: float(optax.global_norm(gs))  # noqa: E731
        else:
            import torch

            loss = loss_fn(y, model(x, training=True))
            grads = torch.autograd.grad(loss, [v.value for v in variables])
            norm = lambda gs: torch.nn.utils.get_total_norm(list(gs)).item()  # noqa: E731
        layers = [norm([g for g, p in zip(grads, paths) if p.startswith(layer + "/")]) for layer in LAYERS]
        out.append([norm(grads)] + layers)
        for v, g in zip(variables, grads):
            v.assign(v - LR * keras.ops.convert_to_numpy(g))
    return out


def scenario_fit(url, token):
    model, twin = build(), build()
    model.compile(optimizer=keras.optimizers.SGD(LR), loss="mse")
    callback = GradientMonitorCallback(run_name=f"keras-{BACKEND}", url=url, token=token)
    history = model.fit(X, Y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0, callbacks=[callback])
    expected = reference_norms(twin) + reference_norms(twin)  # the second epoch continues from the first
    return {"run_id": callback.monitor.run_id, "expected": expected, "epochs": len(history.history["loss"])}


def scenario_failure(url, token):
    def broken(self, grads, variables):
        raise KeyError("a changed Keras API")

    _keras_capture.OptimizerCapture.record = broken
    model = build()
    model.compile(optimizer=keras.optimizers.SGD(LR), loss="mse")
    before = model.get_weights()[0].copy()
    callback = GradientMonitorCallback(run_name=f"keras-{BACKEND}-broken", url=url, token=token)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(X, Y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0, callbacks=[callback])
    return {
        "run_id": callback.monitor.run_id,
        "warnings": [str(w.message) for w in caught if "gradient_monitor" in str(w.message)],
        "losses": history.history["loss"],
        "weights_changed": bool(np.any(model.get_weights()[0] != before)),
    }


def scenario_train_step(url, token):
    """TensorFlow: a custom train_step that returns grad_norm_logs (and tf.linalg.global_norm to compare)."""
    import tensorflow as tf

    from gradient_monitor.tensorflow import grad_norm_logs

    class Custom(keras.Sequential):
        def train_step(self, data):
            x, y = data
            with tf.GradientTape() as tape:
                loss = self.compute_loss(x=x, y=y, y_pred=self(x, training=True))
            grads = tape.gradient(loss, self.trainable_variables)
            self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
            return {"loss": loss, "reference": tf.linalg.global_norm(grads), **grad_norm_logs(grads, self.trainable_variables)}

    model = build(Custom)
    model.compile(optimizer=keras.optimizers.SGD(LR), loss="mse")
    callback = GradientMonitorCallback(run_name="keras-train-step", url=url, token=token)
    seen = []
    log_reference = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(float(logs["reference"])))
    model.fit(X, Y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0, callbacks=[callback, log_reference])
    return {"run_id": callback.monitor.run_id, "expected": seen}


def scenario_embedding(url, token):
    """TensorFlow: an Embedding's gradient is IndexedSlices; fit's capture and log_tf count its values."""
    import tensorflow as tf

    def build_embedding():
        keras.utils.set_random_seed(0)
        return keras.Sequential([keras.Input((3,), dtype="int32"), keras.layers.Embedding(10, 4, name="embed"), keras.layers.Flatten(), keras.layers.Dense(1, name="out")], name="net")

    tokens = rng.integers(0, 10, size=(16, 3)).astype("int32")
    target = rng.normal(size=(16, 1)).astype("float32")
    model, twin = build_embedding(), build_embedding()
    model.compile(optimizer=keras.optimizers.SGD(LR), loss="mse")
    callback = GradientMonitorCallback(run_name="keras-embedding", url=url, token=token)
    model.fit(tokens, target, batch_size=BATCH, epochs=1, shuffle=False, verbose=0, callbacks=[callback])
    monitor = Monitor("tf-eager-embedding", url=url, token=token)
    expected, kinds = [], []
    for i in range(0, len(tokens), BATCH):
        with tf.GradientTape() as tape:
            loss = keras.losses.MeanSquaredError()(target[i : i + BATCH], twin(tokens[i : i + BATCH], training=True))
        grads = tape.gradient(loss, twin.trainable_variables)
        kinds.append(type(grads[0]).__name__)
        monitor.log_tf(grads, twin.trainable_variables)
        expected.append(float(tf.linalg.global_norm(grads)))
        for v, g in zip(twin.trainable_variables, grads):
            v.assign(v - LR * tf.convert_to_tensor(g))
    monitor.close()
    return {"run_id": callback.monitor.run_id, "eager_run_id": monitor.run_id, "expected": expected, "kinds": kinds}


def scenario_tape(url, token):
    """TensorFlow: a GradientTape loop inside tf.function, reporting with monitor.log_tf."""
    import tensorflow as tf

    model = build()
    optimizer = keras.optimizers.SGD(LR)
    loss_fn = keras.losses.MeanSquaredError()
    monitor = Monitor("tf-function", url=url, token=token)

    @tf.function
    def train_step(x, y, step):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        monitor.log_tf(grads, model.trainable_variables, step, loss=loss)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return tf.linalg.global_norm(grads)

    expected = [float(train_step(X[i : i + BATCH], Y[i : i + BATCH], tf.constant(10 + i // BATCH))) for i in range(0, len(X), BATCH)]
    monitor.close()
    return {"run_id": monitor.run_id, "expected": expected, "traces": train_step.experimental_get_tracing_count()}


def scenario_optax(url, token):
    """JAX: an optax loop under jax.jit, reporting with monitor.log_jax inside the jitted step."""
    import jax
    import jax.numpy as jnp
    import optax

    params = {"hidden": {"w": jnp.asarray(rng.normal(size=(5, 8)), jnp.float32), "b": jnp.zeros(8)}, "out": {"w": jnp.asarray(rng.normal(size=(8, 1)), jnp.float32)}}
    optimizer = optax.chain(optax.clip_by_global_norm(1.0), optax.sgd(LR))
    state = optimizer.init(params)
    monitor = Monitor("optax-jit", url=url, token=token)

    def loss_of(params, x, y):
        return jnp.mean((jnp.tanh(x @ params["hidden"]["w"] + params["hidden"]["b"]) @ params["out"]["w"] - y) ** 2)

    @jax.jit
    def step(params, state, x, y):
        loss, grads = jax.value_and_grad(loss_of)(params, x, y)
        monitor.log_jax(grads, loss=loss)
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state, optax.global_norm(grads), jnp.stack([optax.global_norm(grads["hidden"]), optax.global_norm(grads["out"])])

    expected = []
    for i in range(0, len(X), BATCH):
        params, state, total, layers = step(params, state, X[i : i + BATCH], Y[i : i + BATCH])
        expected.append([float(total)] + [float(v) for v in layers])
    jax.effects_barrier()
    monitor.close()
    return {"run_id": monitor.run_id, "expected": expected}


def scenario_nnx(url, token):
    """flax nnx: nnx.jit train step, monitor.log_jax(grads) of the nnx.State gradients."""
    import jax
    import optax
    from flax import nnx

    class Net(nnx.Module):
        def __init__(self, rngs):
            self.hidden = nnx.Linear(5, 8, rngs=rngs)
            self.out = nnx.Linear(8, 1, rngs=rngs)

        def __call__(self, x):
            return self.out(jax.numpy.tanh(self.hidden(x)))

    model = Net(nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.sgd(LR), wrt=nnx.Param)
    monitor = Monitor("flax-nnx", url=url, token=token)

    @nnx.jit
    def step(model, optimizer, x, y):
        loss, grads = nnx.value_and_grad(lambda m: ((m(x) - y) ** 2).mean())(model)
        monitor.log_jax(grads, loss=loss)
        optimizer.update(model, grads)
        return optax.global_norm(grads)

    expected = [float(step(model, optimizer, X[i : i + BATCH], Y[i : i + BATCH])) for i in range(0, len(X), BATCH)]
    jax.effects_barrier()
    monitor.close()
    return {"run_id": monitor.run_id, "expected": expected}


def scenario_host_failure(url, token, xla=False):
    """A failure where the norms come back from the traced step (tf.py_function / jax.debug.callback), where
    an exception would fail the training step: monitoring stops, the loop finishes. With ``xla``
    (TensorFlow's jit_compile=True, where no Python runs) log_tf itself declines."""

    def broken(self, *args, **kwargs):
        raise OSError("disk full")

    if not xla:
        Monitor.log = broken
    monitor = Monitor(f"{BACKEND}-host-broken{'-xla' if xla else ''}", url=url, token=token)
    if BACKEND == "tensorflow":
        import tensorflow as tf

        variable = tf.Variable([1.0, 2.0], name="w")

        @tf.function(jit_compile=xla)
        def step(x):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(variable * x)
            grads = tape.gradient(loss, [variable])
            monitor.log_tf(grads, [variable], loss=loss)
            variable.assign_sub(0.1 * grads[0])
            return loss

    else:
        import jax
        import jax.numpy as jnp

        @jax.jit
        def step(x):
            loss, grads = jax.value_and_grad(lambda w: jnp.sum(w * x))(jnp.ones(2))
            monitor.log_jax({"w": grads}, loss=loss)
            return loss

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        losses = [float(step(np.full(2, float(i), np.float32))) for i in range(4)]
        if BACKEND == "jax":
            import jax

            jax.effects_barrier()
    monitor.close()
    return {"run_id": monitor.run_id, "losses": losses, "warnings": [str(w.message) for w in caught if "gradient_monitor" in str(w.message)], "active": monitor.active}


def scenario_xla(url, token):
    return scenario_host_failure(url, token, xla=True)


SCENARIOS = {
    "tensorflow": [scenario_fit, scenario_train_step, scenario_embedding, scenario_tape, scenario_xla, scenario_failure, scenario_host_failure],
    "jax": [scenario_fit, scenario_optax, scenario_nnx, scenario_failure, scenario_host_failure],
    "torch": [scenario_fit, scenario_failure],
}


def main(url, token, out):
    results = {}
    for scenario in SCENARIOS[BACKEND]:  # the failure scenarios last: they break the client for good
        try:
            results[scenario.__name__[len("scenario_") :]] = scenario(url, token)
        except Exception as exc:  # reported per scenario, so one failure does not hide the others
            import traceback

            results[scenario.__name__[len("scenario_") :]] = {"error": "".join(traceback.format_exception(exc))}
    Path(out).write_text(json.dumps(results))


if __name__ == "__main__":
    main(*sys.argv[1:4])
