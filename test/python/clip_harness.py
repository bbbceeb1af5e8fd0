"""Runs training scripts with every torch optimizer's update instrumented.

Usage: clip_harness.py OUT.json SCRIPT...

Each real update (optimizer.step, or each closure evaluation of a closure step) records the total
gradient norm and the largest absolute gradient the optimizer is about to apply, so a test can
check that clipping inserted into the script takes effect. Scripts run in this one process (one
torch import) with run_name "__main__" and a fixed seed.
"""
import functools
import json
import runpy
import sys
import traceback
import warnings

import torch

records = []


def record(optimizer):
    grads = [p.grad.detach() for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
    if not grads:
        return
    norms = torch.stack([torch.linalg.vector_norm(g.float()) for g in grads])
    records.append({"total": torch.linalg.vector_norm(norms).item(), "largest": max(g.abs().max().item() for g in grads)})


def instrument(cls):
    original = cls.step

    @functools.wraps(original)
    def step(self, closure=None):
        if closure is None:
            record(self)
            return original(self)

        def recorded():
            loss = closure()
            record(self)
            return loss

        return original(self, recorded)

    cls.step = step


for name in dir(torch.optim):
    obj = getattr(torch.optim, name)
    if isinstance(obj, type) and issubclass(obj, torch.optim.Optimizer) and obj is not torch.optim.Optimizer:
        instrument(obj)

warnings.simplefilter("ignore")
out_path, scripts = sys.argv[1], sys.argv[2:]
results = {}
for script in scripts:
    records.clear()
    torch.manual_seed(0)
    sys.argv = [script]
    try:
        runpy.run_path(script, run_name="__main__")
        results[script] = {"updates": list(records)}
    except BaseException:  # a script must not stop the others
        results[script] = {"updates": list(records), "error": traceback.format_exc()}

with open(out_path, "w") as out:
    json.dump(results, out)
