"""One rank of a two-process gloo run (launched by test_distributed.py with RANK/WORLD_SIZE/MASTER_*).

Modes: `ddp` (DDP: full, all-reduced gradients; rank 0 sends), `ddp-all-ranks` (every rank sends with
its rank), `chunks` (every parameter split in two flat shards, one per rank, like FSDP/ZeRO), `owners`
(parameters split between ranks, the others' gradients absent). The worker records torch's own norm
of the full gradient next to what the monitor returned, for the test to compare with the endpoint's log.
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


def main(mode: str, url: str, token: str, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    result = {"expected": [], "expected_layers": [], "got": []}
    model, opt = make()
    with Monitor(mode, url=url, token=token, all_ranks=mode == "ddp-all-ranks") as monitor:
        if mode.startswith("ddp"):
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
        else:
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
    Path(out).write_text(json.dumps(result))
    dist.destroy_process_group()


if __name__ == "__main__":
    main(*sys.argv[1:5])
