"""Runs training scripts (or notebooks) with a probe on every real update.

Usage: clip_harness.py --probe torch|keras|optax OUT.json SCRIPT...

The probe records, at each update, the total gradient norm and the largest absolute gradient the
optimizer is about to apply, so a test can check that clipping inserted into the script takes
effect:
- torch: every torch.optim optimizer's step (each closure evaluation of a closure step). Under
  GradScaler the step runs after unscaling, so the probe sees unscaled gradients; Accelerate,
  Fabric, Lightning and the Hugging Face Trainer all end in these steps. DTensor gradients (FSDP2)
  are gathered with full_tensor().
- keras: the gradients Keras optimizers apply, after their own clipping (global_clipnorm...) and
  after any tf.clip_by_global_norm of a GradientTape loop; functions run eagerly so values are real.
- optax: the updates each optax optimizer receives, i.e. after the transformations chained before
  it (optax.clip_by_global_norm); jit is disabled so values are real.

Scripts run one after the other in this process (one framework import) with run_name "__main__",
a fixed seed and their own folder as working directory. A notebook runs as its code cells in
order, IPython magics left out (as the quick-fix analysis reads it).
"""
import argparse
import functools
import json
import os
import re
import runpy
import sys
import tempfile
import traceback
import warnings

records = []


def add_record(norms_squared, largest):
    records.append({"total": norms_squared ** 0.5, "largest": largest})


def install_torch():
    import torch

    def record(optimizer):
        grads = []
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad.detach()
                if hasattr(g, "full_tensor"):
                    g = g.full_tensor()
                grads.append(g.double())
        if grads:
            add_record(sum(float((g * g).sum()) for g in grads), max(float(g.abs().max()) for g in grads))

    def instrument(cls):
        original = cls.step

        @functools.wraps(original)
        def step(self, closure=None, *args, **kwargs):
            if closure is None:
                record(self)
                return original(self, *args, **kwargs)

            def recorded():
                loss = closure()
                record(self)
                return loss

            return original(self, recorded, *args, **kwargs)

        cls.step = step

    for name in dir(torch.optim):
        obj = getattr(torch.optim, name)
        if isinstance(obj, type) and issubclass(obj, torch.optim.Optimizer) and obj is not torch.optim.Optimizer:
            instrument(obj)
    return lambda: torch.manual_seed(0)


def install_keras():
    import keras
    import numpy as np

    try:
        import tensorflow as tf

        tf.config.run_functions_eagerly(True)  # fit()'s train function and @tf.function loops
    except ImportError:
        pass
    base = keras.optimizers.Optimizer
    original = base._clip_gradients

    @functools.wraps(original)
    def clip_gradients(self, grads):
        out = original(self, grads)
        values = [np.asarray(keras.ops.convert_to_numpy(g), dtype=np.float64) for g in out if g is not None]
        if values:
            add_record(sum(float((v * v).sum()) for v in values), max(float(np.abs(v).max()) for v in values))
        return out

    base._clip_gradients = clip_gradients
    return lambda: keras.utils.set_random_seed(0)


OPTAX_OPTIMIZERS = ["adam", "adamw", "sgd", "rmsprop", "adagrad", "lion", "lamb", "nadam", "radam", "adafactor"]


def install_optax():
    import jax
    import numpy as np
    import optax

    jax.config.update("jax_disable_jit", True)

    def wrap(make):
        @functools.wraps(make)
        def made(*args, **kwargs):
            tx = make(*args, **kwargs)

            def update(updates, state, params=None, **extra):
                leaves = [np.asarray(x, dtype=np.float64) for x in jax.tree_util.tree_leaves(updates)]
                if leaves:
                    add_record(sum(float((v * v).sum()) for v in leaves), max(float(np.abs(v).max()) for v in leaves))
                return tx.update(updates, state, params, **extra)

            return optax.GradientTransformation(tx.init, update)

        return made

    for name in OPTAX_OPTIMIZERS:
        if hasattr(optax, name):
            setattr(optax, name, wrap(getattr(optax, name)))
    return lambda: None


PROBES = {"torch": install_torch, "keras": install_keras, "optax": install_optax}
# Cell magics whose body is still Python; any other (%%bash) skips its cell.
PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun", "debug"}


def notebook_source(path):
    with open(path, encoding="utf-8") as f:
        nb = json.load(f)
    cells = []
    for cell in nb["cells"]:
        if cell.get("cell_type") != "code":
            continue
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        first = re.match(r"\s*%%(\w+)", source)
        if first and first.group(1) not in PYTHON_CELL_MAGICS:
            continue
        lines = [re.sub(r"^(\s*)((?:[\w.,\s]+=\s*)?[!%].*)$", r"\1pass", line) for line in source.split("\n")]
        cells.append("\n".join(lines))
    return "\n".join(cells)


def run(script):
    if not script.endswith(".ipynb"):
        runpy.run_path(script, run_name="__main__")
        return
    with tempfile.NamedTemporaryFile("w", suffix=".py", dir=os.path.dirname(script), delete=False) as f:
        f.write(notebook_source(script))
    try:
        runpy.run_path(f.name, run_name="__main__")
    finally:
        os.unlink(f.name)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--probe", choices=sorted(PROBES), required=True)
    parser.add_argument("out")
    parser.add_argument("scripts", nargs="+")
    options = parser.parse_args()
    warnings.simplefilter("ignore")
    seed = PROBES[options.probe]()
    results = {}
    start_dir = os.getcwd()
    for script in options.scripts:
        records.clear()
        seed()
        sys.argv = [script]
        path = os.path.abspath(script)
        os.chdir(os.path.dirname(path))
        try:
            run(path)
            results[script] = {"updates": list(records)}
        except BaseException:  # a script must not stop the others
            results[script] = {"updates": list(records), "error": traceback.format_exc()}
        finally:
            os.chdir(start_dir)
    with open(options.out, "w") as out:
        json.dump(results, out)


if __name__ == "__main__":
    main()
