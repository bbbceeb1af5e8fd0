"""``python -m gradient_monitor demo``: a small real PyTorch training run (a synthetic run without torch)
streamed to the endpoint, with an injected gradient explosion so alerts and quick fixes have something to show."""
from __future__ import annotations

import argparse
import math
import random
import time
from typing import List, Optional

from .monitor import Monitor


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m gradient_monitor demo", description=__doc__)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--explode-at", type=int, default=200, help="step whose loss is scaled up 1e4 times (negative: never)")
    p.add_argument("--rate", type=float, default=20.0, help="steps per second (0: as fast as possible)")
    p.add_argument("--url")
    p.add_argument("--token")
    p.add_argument("--run-name", default="gradient-monitor demo")
    p.add_argument("--synthetic", action="store_true", help="no PyTorch, even if it is installed")
    return p


def _torch_run(monitor: Monitor, args: argparse.Namespace) -> None:
    import torch
    from torch import nn

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    target = nn.Linear(16, 1)
    monitor.watch(model)
    for step in range(args.steps):
        x = torch.randn(32, 16)
        with torch.no_grad():
            y = target(x)
        loss = nn.functional.mse_loss(model(x), y)
        scale = 1e4 if step == args.explode_at else 1.0  # the injected explosion
        (loss * scale).backward()
        monitor.step(loss=loss, lr=optimizer.param_groups[0]["lr"])
        optimizer.step()
        optimizer.zero_grad()
        _pace(args.rate)


def _synthetic_run(monitor: Monitor, args: argparse.Namespace) -> None:
    rng = random.Random(0)
    layers = ["embed", "block.0", "block.1", "head"]
    for step in range(args.steps):
        base = 2.0 * math.exp(-step / max(args.steps, 1)) + 0.3
        norms: List[float] = [base * rng.uniform(0.5, 1.5) for _ in layers]
        if step == args.explode_at:
            norms = [n * 1e3 for n in norms]
        monitor.log(step, math.sqrt(sum(n * n for n in norms)), dict(zip(layers, norms)), loss=base, lr=0.01)
        _pace(args.rate)


def _pace(rate: float) -> None:
    if rate > 0:
        time.sleep(1.0 / rate)


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(argv)
    try:
        import torch  # noqa: F401

        use_torch = not args.synthetic
    except ImportError:
        use_torch = False
    with Monitor(args.run_name, url=args.url, token=args.token, threshold=10.0) as monitor:
        (_torch_run if use_torch else _synthetic_run)(monitor, args)
    kind = "PyTorch" if use_torch else "synthetic"
    print(f"demo run {monitor.run_id}: {args.steps} {kind} steps streamed (kept in {monitor.log_path} when no endpoint was reachable)")
    return 0
