"""JAX and TensorFlow: the first non-finite gradient leaf is named (the alert adds the framework's own NaN switch: test/unit/nonfiniteOrigin.test.ts)."""
from __future__ import annotations

import pytest

from conftest import TOKEN, inspect_log, read_log
from gradient_monitor import Monitor


def test_jax_names_the_pytree_leaf_and_the_alert_points_to_jax_debug_nans(endpoint):
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    params = {"Dense_0": {"kernel": jnp.ones((3, 2)), "bias": jnp.zeros(2)}, "Dense_1": {"kernel": jnp.ones((2, 1))}}

    def loss(p, x):
        # log of a negative is NaN in forward; only the next kernel, which multiplies it, gets a NaN gradient
        h = jnp.log(x @ p["Dense_0"]["kernel"] + p["Dense_0"]["bias"])
        return (h @ p["Dense_1"]["kernel"]).sum()

    with Monitor("jax-nan", url=endpoint.url, token=TOKEN, run_id="jax-nan") as monitor:
        monitor.log_jax(jax.grad(loss)(params, jnp.ones((4, 3))), loss=1.0)
        monitor.log_jax(jax.grad(loss)(params, -jnp.ones((4, 3))))
    bad = [m for m in read_log(endpoint.log_for("jax-nan")) if m["type"] == "step"][1]
    assert bad["nonfinite_origin"] == {"phase": "gradient", "leaf": "Dense_1/kernel"}
    summary = inspect_log(endpoint.log_for("jax-nan"))
    assert summary["first_nonfinite"]["origin"]["leaf"] == "Dense_1/kernel"


def test_tensorflow_names_the_variable(endpoint):
    tf = pytest.importorskip("tensorflow")
    w = tf.Variable([[1.0], [2.0]], name="dense/kernel")
    b = tf.Variable([-10.0], name="dense/bias")
    with tf.GradientTape() as tape:
        y = tf.math.sqrt(tf.matmul(tf.ones((1, 2)), w) + b)  # sqrt of -7: NaN
    grads = tape.gradient(y, [w, b])
    with Monitor("tf-nan", url=endpoint.url, token=TOKEN, run_id="tf-nan") as monitor:
        monitor.log_tf(grads, [w, b])
    step = [m for m in read_log(endpoint.log_for("tf-nan")) if m["type"] == "step"][0]
    assert step["nonfinite_origin"] == {"phase": "gradient", "leaf": "dense/kernel"}
