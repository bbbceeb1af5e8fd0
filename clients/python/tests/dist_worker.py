"""One rank of a two-process gloo run (launched by test_distributed.py with RANK/WORLD_SIZE/MASTER_*).

Runs the given modes one after the other, each as its own monitored run:
- `ddp`: DDP (full, all-reduced gradients); rank 0 sends. `ddp-all-ranks`: every rank sends with its rank.
- `chunks`: every parameter split in two flat shards, one per rank (like ZeRO); `owners`: parameters
  split between ranks, the others' gradients absent. Both `sharded=True` by hand, clipped by the monitor.
- `fsdp1-orig` / `fsdp1-flat`: FSDP1 with use_orig_params True / False; `fsdp2`: `fully_shard` (DTensor
  parameters and gradients). The reference is the framework's own `clip_grad_norm_` total.
The worker writes, per mode, the run id and the reference norms, for the test to compare with the log.
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
from torch import nn  # noqa: E402

from gradient_monitor import Monitor  # noqa: E402
from models import LAYERS, batch, layer_norm, loss_of, make  # noqa: E402

STEPS = 6
MAX_NORM = 0.3


def run_ddp(monitor, result, rank):
    model, opt = make()
    ddp = nn.parallel.DistributedDataParallel(model)
    monitor.watch(ddp)
    for step in range(STEPS):
        x, y = batch(2 * step + rank)
        nn.functional.cross_entropy(ddp(x), y).backward()
        monitor.step()
        result["expected_layers"].append([layer_norm(model, name) for name in LAYERS])
        result["expected"].append(torch.nn.utils.clip_grad_norm_(model.parameters(), math.inf).item())
        opt.step()
        opt.zero_grad()


def run_split(monitor, result, rank, mode):
    model, _ = make()
    full = list(model.named_parameters())
    if mode == "chunks":
        shards = [(name, nn.Parameter(p.detach().reshape(-1).chunk(2)[rank].clone())) for name, p in full]
    else:
        shards = full
    monitor.watch(shards, sharded=True)
    for step in range(STEPS):
        model.zero_grad()
        loss_of(model, step).backward()  # the same full gradient on both ranks ...
        result["expected_layers"].append([layer_norm(model, name) for name in LAYERS])
        expected = torch.nn.utils.clip_grad_norm_(model.parameters(), math.inf)
        result["expected"].append(expected.item())
        coef = min(1.0, MAX_NORM / (expected.item() + 1e-6))
        full_clipped = [p.grad * coef for _, p in full]
        # ... of which each rank keeps only its part.
        for i, ((_, shard), (_, p)) in enumerate(zip(shards, full)):
            if mode == "chunks":
                shard.grad = p.grad.reshape(-1).chunk(2)[rank].clone()
            elif i % 2 != rank:
                p.grad = None
        got = monitor.clip_grad_norm_([s for _, s in shards], MAX_NORM)
        result["got"].append(got.item())
        for i, ((_, shard), clipped) in enumerate(zip(shards, full_clipped)):
            if shard.grad is None:
                continue
            want = clipped.reshape(-1).chunk(2)[rank] if mode == "chunks" else clipped
            assert torch.allclose(shard.grad.reshape(-1), want.reshape(-1), rtol=1e-5, atol=1e-8), f"shard {i} clipped wrongly"


def run_fsdp(monitor, result, rank, mode):
    model, _ = make()
    if mode == "fsdp2":
        from torch.distributed.fsdp import fully_shard

        for layer in (model.encoder[0], model.encoder[2], model.head):
            fully_shard(layer)
        fully_shard(model)
        clip = lambda: torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_NORM).full_tensor()  # noqa: E731
    else:
        from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

        model = FSDP(model, device_id=torch.device("cpu"), use_orig_params=mode == "fsdp1-orig")
        clip = lambda: model.clip_grad_norm_(MAX_NORM)  # noqa: E731
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    monitor.watch(model)
    counts = {"all_reduce": 0, "full_tensor": 0}
    for step in range(STEPS):
        x, y = batch(2 * step + rank)
        nn.functional.cross_entropy(model(x), y).backward()
        with counting(counts):
            monitor.step()
        if mode == "fsdp2":  # the library's own per-layer norms (its DTensor totals, made whole)
            groups = [[p.grad for n, p in model.named_parameters() if n.startswith(name + ".")] for name in LAYERS]
            result["expected_layers"].append([torch.nn.utils.get_total_norm(g).full_tensor().item() for g in groups])
        result["expected"].append(clip().item())
        opt.step()
        opt.zero_grad()
    result["counts"] = counts


class counting:
    """Counts all_reduce and DTensor.full_tensor calls made inside the block."""

    def __init__(self, counts):
        self.counts = counts

    def __enter__(self):
        self.saved = dist.all_reduce
        counts = self.counts

        def all_reduce(*args, **kwargs):
            counts["all_reduce"] += 1
            return self.saved(*args, **kwargs)

        dist.all_reduce = all_reduce
        try:
            from torch.distributed.tensor import DTensor
        except ImportError:
            DTensor = None
        self.dtensor = DTensor
        if DTensor is not None:
            self.full_tensor = DTensor.full_tensor

            def full_tensor(t, *args, **kwargs):
                counts["full_tensor"] += 1
                return self.full_tensor(t, *args, **kwargs)

            DTensor.full_tensor = full_tensor

    def __exit__(self, *exc):
        dist.all_reduce = self.saved
        if self.dtensor is not None:
            self.dtensor.full_tensor = self.full_tensor


def main(modes: str, url: str, token: str, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    results = {}
    for mode in modes.split(","):
        result = results[mode] = {"expected": [], "expected_layers": [], "got": []}
        with Monitor(mode, url=url, token=token, all_ranks=mode == "ddp-all-ranks") as monitor:
            if mode.startswith("ddp"):
                run_ddp(monitor, result, rank)
            elif mode.startswith("fsdp"):
                run_fsdp(monitor, result, rank, mode)
            else:
                run_split(monitor, result, rank, mode)
        result["run_id"] = monitor.run_id
        dist.barrier()
    Path(out).write_text(json.dumps(results))
    dist.destroy_process_group()


if __name__ == "__main__":
    main(*sys.argv[1:5])
