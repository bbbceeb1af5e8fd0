"""Runs training scripts (or notebooks) with a probe on every real update.

Usage: clip_harness.py --probe torch|keras|optax [--ranks N] OUT.json SCRIPT...

The probe records, at each update, the total gradient norm and the largest absolute gradient the
optimizer is about to apply, so a test can check that clipping inserted into the script takes
effect:
- torch: every torch.optim optimizer's step (each closure evaluation of a closure step). Under
  GradScaler the step runs after unscaling, so the probe sees unscaled gradients; Accelerate,
  Fabric, Lightning and the Hugging Face Trainer all end in these steps. DTensor gradients (FSDP2)
  are gathered with full_tensor(); the shards of FSDP1's sharded flat parameters are summed over
  the ranks (an all-reduce of their squares), so each rank records the GLOBAL norm. Every call of
  torch.nn.utils.clip_grad_norm_ is recorded too ("clipped", its returned total before the step),
  which shows a clip that saw one rank's shard: that total differs per rank.
- keras: the gradients Keras optimizers apply, after their own clipping (global_clipnorm...) and
  after any tf.clip_by_global_norm of a GradientTape loop; functions run eagerly so values are real.
- optax: the updates each optax optimizer receives, i.e. after the transformations chained before
  it (optax.clip_by_global_norm); jit is disabled so values are real.

Scripts run one after the other in this process (one framework import) with run_name "__main__",
a fixed seed and their own folder as working directory. A notebook runs as its code cells in
order, IPython magics left out (as the quick-fix analysis reads it).

With --ranks N (torch only) the scripts run in N processes started with torch.multiprocessing, one
rank each, with the torch.distributed environment set (a free MASTER_PORT per script) as
torch.distributed.run would set it, so FSDP really shards over gloo on the CPU. Every update record
names its rank. A collective that waits for a failed rank gives up after a minute.
"""
import argparse
import datetime
import functools
import json
import os
import re
import runpy
import socket
import sys
import tempfile
import traceback
import warnings

records = []


def add_record(norms_squared, largest, **extra):
    records.append({"total": norms_squared ** 0.5, "largest": largest, **extra})


def install_torch():
    import torch
    import torch.distributed as dist

    last_clip = {}

    def is_sharded_flat_param(p):
        # FSDP1 sets the padded unsharded size only under a sharded strategy; this rank holds a slice.
        full = getattr(p, "_padded_unsharded_size", None)
        return full is not None and full.numel() > p.numel()

    def record(optimizer):
        grads, shards = [], []
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad.detach()
                if hasattr(g, "full_tensor"):
                    g = g.full_tensor()
                (shards if is_sharded_flat_param(p) else grads).append(g.double())
        if not grads and not shards:
            return
        squares = sum(float((g * g).sum()) for g in grads)
        largest = max((float(g.abs().max()) for g in grads if g.numel()), default=0.0)
        if shards:
            shard_squares = torch.tensor([sum(float((g * g).sum()) for g in shards)], dtype=torch.float64)
            shard_largest = torch.tensor([max((float(g.abs().max()) for g in shards if g.numel()), default=0.0)])
            dist.all_reduce(shard_squares)
            dist.all_reduce(shard_largest, op=dist.ReduceOp.MAX)
            squares += float(shard_squares)
            largest = max(largest, float(shard_largest))
        add_record(squares, largest, clipped=last_clip.pop("total", None))

    clip_grad_norm = torch.nn.utils.clip_grad_norm_

    @functools.wraps(clip_grad_norm)
    def recorded_clip_grad_norm(*args, **kwargs):
        total = clip_grad_norm(*args, **kwargs)
        last_clip["total"] = float(total.full_tensor() if hasattr(total, "full_tensor") else total)
        return total

    torch.nn.utils.clip_grad_norm_ = recorded_clip_grad_norm

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
        # Only classes with their own step: AdamW inherits Adam's, which would otherwise record twice.
        optimizer_class = isinstance(obj, type) and issubclass(obj, torch.optim.Optimizer)
        if optimizer_class and obj is not torch.optim.Optimizer and "step" in obj.__dict__:
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


def run_scripts(probe, scripts, before_each=lambda index: None):
    """Runs each script, returning {script: {"updates": [...], "error"?: traceback}}."""
    warnings.simplefilter("ignore")
    seed = PROBES[probe]()
    results = {}
    start_dir = os.getcwd()
    for index, script in enumerate(scripts):
        records.clear()
        before_each(index)
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
    return results


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def run_rank(rank, ranks, probe, scripts, ports, out):
    import torch.distributed as dist
    import torch.distributed.distributed_c10d as c10d

    c10d.default_pg_timeout = datetime.timedelta(seconds=60)

    def rendezvous(index):
        if dist.is_initialized():  # left by a script that failed
            dist.destroy_process_group()
        os.environ.update(
            MASTER_ADDR="127.0.0.1",
            MASTER_PORT=str(ports[index]),
            RANK=str(rank),
            LOCAL_RANK=str(rank),
            WORLD_SIZE=str(ranks),
            LOCAL_WORLD_SIZE=str(ranks),
        )

    results = run_scripts(probe, scripts, rendezvous)
    for result in results.values():
        for update in result["updates"]:
            update["rank"] = rank
    with open(f"{out}.rank{rank}", "w") as f:
        json.dump(results, f)


def run_ranks(ranks, probe, scripts, out):
    """Runs the scripts on `ranks` processes and merges their results: every rank's updates, every rank's error."""
    import torch.multiprocessing as mp

    try:
        mp.spawn(run_rank, args=(ranks, probe, scripts, free_ports(len(scripts)), out), nprocs=ranks)
        failure = None
    except Exception:  # a rank died: keep what the others wrote
        failure = traceback.format_exc()
    results = {script: {"updates": []} for script in scripts}
    for rank in range(ranks):
        try:
            with open(f"{out}.rank{rank}") as f:
                per_rank = json.load(f)
            os.unlink(f"{out}.rank{rank}")
        except OSError:
            per_rank = {script: {"updates": [], "error": failure or "no result"} for script in scripts}
        for script, result in per_rank.items():
            results[script]["updates"] += result["updates"]
            if "error" in result:
                results[script]["error"] = results[script].get("error", "") + f"rank {rank}: {result['error']}"
    return results


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--probe", choices=sorted(PROBES), required=True)
    parser.add_argument("--ranks", type=int, default=1)
    parser.add_argument("out")
    parser.add_argument("scripts", nargs="+")
    options = parser.parse_args()
    if options.ranks > 1 and options.probe != "torch":
        parser.error("--ranks needs --probe torch (torch.distributed)")
    if options.ranks > 1:
        results = run_ranks(options.ranks, options.probe, options.scripts, options.out)
    else:
        results = run_scripts(options.probe, options.scripts)
    with open(options.out, "w") as out:
        json.dump(results, out)


if __name__ == "__main__":
    main()
