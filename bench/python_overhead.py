"""Per-step cost of the Python client's norm reporting, side by side in one run.

    /usr/bin/python3 bench/python_overhead.py [--device cpu|cuda] [--rounds 30] [--threads 1]

Model: a 12-layer transformer encoder (~9.9M parameters in ~150 tensors), batch of 2x16 tokens. Two measurements, each
variant interleaved round by round so drift hits all alike:
  1. the reporting call alone, on the gradients of one backward pass (repeated);
  2. a whole training step (forward, backward, the variant, optimizer step).
Variants: nothing; `monitor.step()`; the naive per-parameter `p.grad.norm().item()` loop; torch's
`clip_grad_norm_`; `monitor.clip_grad_norm_` (clips and reports). The monitor streams to a real
`gradient-monitor serve` endpoint started here (dist/cli.js; `--no-endpoint` records to a local log).
Prints medians with the 25th-75th percentile spread and ratios to the baseline of the same run.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "clients" / "python"))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from gradient_monitor import Monitor  # noqa: E402


class Transformer(nn.Module):
    """A 12-layer encoder (d=256, ffn 1024) with embedding and head: ~9.9M parameters in ~150 tensors."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(1000, 256)
        layer = nn.TransformerEncoderLayer(256, 4, 1024, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 12)
        self.head = nn.Linear(256, 1000)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(self.embed(tokens)))


def naive_norms(model: nn.Module) -> float:
    """What many loggers do: one .item() (a device sync) per parameter."""
    norms = {name: p.grad.norm().item() for name, p in model.named_parameters() if p.grad is not None}
    return math.sqrt(sum(v * v for v in norms.values()))


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def quantiles(xs: List[float]) -> Dict[str, float]:
    q = statistics.quantiles(xs, n=4)
    return {"median": statistics.median(xs), "p25": q[0], "p75": q[2]}


def start_endpoint(log_dir: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        ["node", str(ROOT / "bin" / "gradient-monitor"), "serve", "--port", "0", "--token", "bench", "--log-dir", log_dir],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    return proc


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--op-repeats", type=int, default=5, help="reporting calls timed per round in measurement 1")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (1: steadier on a shared machine)")
    ap.add_argument("--no-endpoint", action="store_true")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = args.device
    model = Transformer().to(device)
    params = sum(p.numel() for p in model.parameters())
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4)
    x = torch.randint(0, 1000, (2, 16), device=device)
    y = torch.randint(0, 1000, (2 * 16,), device=device)
    tmp = tempfile.mkdtemp(prefix="gm-bench-")
    server = None
    url = None
    if not args.no_endpoint:
        server = start_endpoint(os.path.join(tmp, "server"))
        url = server.stdout.readline().strip() if server.stdout else None
    # Two runs: once a monitor clips, its step() stands aside (one report per optimizer step).
    monitor = Monitor("bench-step", url=url, token="bench", log_dir=os.path.join(tmp, "local"), queue_size=100_000).watch(model)
    clipper = Monitor("bench-clip", url=url, token="bench", log_dir=os.path.join(tmp, "local"), queue_size=100_000).watch(model)

    variants: Dict[str, Callable[[], object]] = {
        "none": lambda: None,
        "monitor.step": lambda: monitor.step(),
        "naive .item() loop": lambda: naive_norms(model),
        "torch clip_grad_norm_": lambda: torch.nn.utils.clip_grad_norm_(model.parameters(), 1e9),
        "monitor.clip_grad_norm_": lambda: clipper.clip_grad_norm_(model.parameters(), 1e9),
    }
    op_times: Dict[str, List[float]] = {k: [] for k in variants}
    step_times: Dict[str, List[float]] = {k: [] for k in variants}

    def backward() -> None:
        optimizer.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(x).reshape(-1, 1000), y).backward()

    for name, fn in variants.items():  # warm-up: allocator, foreach kernels, the connection
        backward()
        for _ in range(3):
            fn()
    sync(device)
    for _round in range(args.rounds):
        backward()
        sync(device)
        for name, fn in variants.items():
            for _ in range(args.op_repeats):
                t0 = time.perf_counter()
                fn()
                sync(device)
                op_times[name].append(time.perf_counter() - t0)
        for name, fn in variants.items():
            sync(device)
            t0 = time.perf_counter()
            backward()
            fn()
            optimizer.step()
            sync(device)
            step_times[name].append(time.perf_counter() - t0)
    monitor.close()
    clipper.close()
    if server is not None:
        server.terminate()
        server.wait(10)

    op = {k: quantiles(v) for k, v in op_times.items()}
    step = {k: quantiles(v) for k, v in step_times.items()}
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, {args.threads} torch thread(s), device {device}"
    print(f"model: {params / 1e6:.1f}M parameters in {len(list(model.parameters()))} tensors, batch 2x16 tokens; {args.rounds} rounds; {machine}")
    print(f"endpoint: {'none (local log)' if url is None else url}; reports dropped: {monitor.dropped + clipper.dropped}")
    print()
    print("| variant | call alone: median ms (p25-p75) | x monitor.step | full step: median ms (p25-p75) | overhead vs none |")
    print("|---|---|---|---|---|")
    base_op = op["monitor.step"]["median"]
    base_step = step["none"]["median"]
    for name in variants:
        o, s = op[name], step[name]
        print(
            f"| {name} | {o['median'] * 1e3:.3f} ({o['p25'] * 1e3:.3f}-{o['p75'] * 1e3:.3f}) | {o['median'] / base_op:.2f} "
            f"| {s['median'] * 1e3:.2f} ({s['p25'] * 1e3:.2f}-{s['p75'] * 1e3:.2f}) | {100 * (s['median'] / base_step - 1):+.1f}% |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine, "params": params, "op_seconds": op, "step_seconds": step}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
