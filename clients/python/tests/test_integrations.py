"""Pure logic of the integrations, with no framework needed (the real frameworks are exercised in
test_huggingface.py, test_lightning.py, test_accelerate.py, test_keras.py and test_distributed.py)."""
from __future__ import annotations

import math
import sys

import pytest

from conftest import read_log
from gradient_monitor import Monitor
from gradient_monitor.integrations import huggingface, keras, lightning
from gradient_monitor.jax import norm_values


@pytest.mark.parametrize(
    "module, hidden, hint",
    [(lightning, ["lightning", "pytorch_lightning"], "Lightning"), (huggingface, ["transformers"], "Transformers"), (keras, ["keras", "tensorflow"], "Keras")],
)
def test_callbacks_say_what_to_install_when_their_framework_is_missing(monkeypatch, module, hidden, hint):
    for name in hidden:
        for loaded in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
            monkeypatch.setitem(sys.modules, loaded, None)  # makes `import loaded` raise ImportError
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setattr(module, "_classes", {})
    with pytest.raises(ImportError, match=hint):
        module.GradientMonitorCallback  # noqa: B018


def test_pytree_norms_like_optax_global_norm_without_jax():
    np = pytest.importorskip("numpy")
    rng = np.random.default_rng(1)
    grads = {"params": {"Dense_0": {"kernel": rng.normal(size=(5, 4)), "bias": rng.normal(size=4)}, "Dense_1": {"kernel": rng.normal(size=(4, 1))}}}
    names, values = norm_values(grads)
    leaves = [grads["params"]["Dense_0"]["kernel"], grads["params"]["Dense_0"]["bias"], grads["params"]["Dense_1"]["kernel"]]
    assert names == ["params/Dense_0", "params/Dense_1"]
    total = math.sqrt(sum(np.sum(x**2) for x in leaves))
    assert list(values) == pytest.approx([total, math.sqrt(np.sum(leaves[0] ** 2) + np.sum(leaves[1] ** 2)), math.sqrt(np.sum(leaves[2] ** 2))], rel=1e-12)
    with Monitor("numpy-tree") as monitor:
        monitor.log_jax(grads, loss=0.25)
        monitor.log_jax(grads)
    log = read_log(monitor.log_path)
    assert log[0]["framework"] == "jax" and log[0]["layers"] == names
    assert [m["total_norm"] for m in log if m["type"] == "step"] == pytest.approx([total, total])
