"""Per-step cost of the Python client's norm reporting, side by side in one run.

    /usr/bin/python3 bench/python_overhead.py [--models 1M,10M,100M] [--device cpu|cuda] [--rounds N] [--threads 1]

Models: transformer encoders of about 1M, 10M and 100M parameters (see MODELS), batch of 2x16 tokens.
Two measurements per model, each variant interleaved round by round so drift hits all alike:
  1. the reporting call alone, on the gradients of one backward pass (repeated);
  2. a whole training step (forward, backward, the variant, optimizer step).
Variants: nothing; `monitor.step()`; `monitor.clip_grad_norm_` (clips and reports); torch's
`clip_grad_norm_`; the norm computation inside torch's `clip_grad_norm_` alone (its own code, without
the scaling pass: what reporting a norm must at least cost); the naive per-parameter
`p.grad.norm().item()` loop. The monitor streams to a real `gradient-monitor serve` endpoint started
here (dist/cli.js; `--no-endpoint` records to a local log). Prints medians with the 25th-75th
percentile spread and ratios to the baselines of the same run.
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
from typing import Callable, Dict, List, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "clients" / "python"))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from gradient_monitor import Monitor  # noqa: E402


VOCAB = 1000
# name: (model width, encoder layers); the feed-forward width is 4x the model width.
MODELS = {"1M": (128, 4), "10M": (256, 12), "100M": (768, 14)}
# Rounds per model when --rounds is not given: fewer for the models whose steps take seconds.
DEFAULT_ROUNDS = {"1M": 30, "10M": 25, "100M": 8}


class Transformer(nn.Module):
    """An encoder (d, 4d feed-forward) with embedding and head: 12 tensors per layer plus 3."""

    def __init__(self, d: int, layers: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(VOCAB, d)
        layer = nn.TransformerEncoderLayer(d, 4, 4 * d, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers)
        self.head = nn.Linear(d, VOCAB)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(self.embed(tokens)))


def clip_norm_only(model: nn.Module) -> torch.Tensor:
    """The total norm exactly as torch's clip_grad_norm_ computes it, without scaling the gradients."""
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    if hasattr(torch.nn.utils, "get_total_norm"):  # torch >= 2.6 factors it out
        return torch.nn.utils.get_total_norm(grads, 2.0)
    device = grads[0].device  # torch 1.13 - 2.5: the code of clip_grad_norm_ up to its scaling loop
    return torch.norm(torch.stack([torch.norm(g.detach(), 2.0).to(device) for g in grads]), 2.0)


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


def measure(name: str, args: argparse.Namespace, url: Optional[str], tmp: str) -> Dict[str, object]:
    """Both measurements for one model; returns medians and quartiles in seconds."""
    torch.manual_seed(0)
    device = args.device
    d, layers = MODELS[name]
    model = Transformer(d, layers).to(device)
    params = sum(p.numel() for p in model.parameters())
    tensors = len(list(model.parameters()))
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4)
    x = torch.randint(0, VOCAB, (2, 16), device=device)
    y = torch.randint(0, VOCAB, (2 * 16,), device=device)
    # Two runs: once a monitor clips, its step() stands aside (one report per optimizer step). The NaN
    # trace hooks the model itself (every variant would pay for it): bench/nonfinite_overhead.py measures it.
    monitor = Monitor(f"bench-step-{name}", url=url, token="bench", log_dir=os.path.join(tmp, "local"), queue_size=100_000).watch(model, trace_nonfinite=False)
    clipper = Monitor(f"bench-clip-{name}", url=url, token="bench", log_dir=os.path.join(tmp, "local"), queue_size=100_000).watch(model, trace_nonfinite=False)

    variants: Dict[str, Callable[[], object]] = {
        "none": lambda: None,
        "monitor.step": lambda: monitor.step(),
        "monitor.clip_grad_norm_": lambda: clipper.clip_grad_norm_(model.parameters(), 1e9),
        "torch clip_grad_norm_": lambda: torch.nn.utils.clip_grad_norm_(model.parameters(), 1e9),
        "clip_grad_norm_'s norm alone": lambda: clip_norm_only(model),
        "naive .item() loop": lambda: naive_norms(model),
    }
    op_times: Dict[str, List[float]] = {k: [] for k in variants}
    step_times: Dict[str, List[float]] = {k: [] for k in variants}

    def backward() -> None:
        optimizer.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(x).reshape(-1, VOCAB), y).backward()

    for fn in variants.values():  # warm-up: allocator, foreach kernels, the connection
        backward()
        for _ in range(3):
            fn()
    sync(device)
    rounds = args.rounds or DEFAULT_ROUNDS[name]
    for _round in range(rounds):
        backward()
        sync(device)
        for fn_name, fn in variants.items():
            for _ in range(args.op_repeats):
                t0 = time.perf_counter()
                fn()
                sync(device)
                op_times[fn_name].append(time.perf_counter() - t0)
        for fn_name, fn in variants.items():
            sync(device)
            t0 = time.perf_counter()
            backward()
            fn()
            optimizer.step()
            sync(device)
            step_times[fn_name].append(time.perf_counter() - t0)
    monitor.close()
    clipper.close()
    return {
        "params": params,
        "tensors": tensors,
        "rounds": rounds,
        "dropped": monitor.dropped + clipper.dropped,
        "op_seconds": {k: quantiles(v) for k, v in op_times.items()},
        "step_seconds": {k: quantiles(v) for k, v in step_times.items()},
    }


def report(name: str, r: Dict[str, object]) -> None:
    op: Dict[str, Dict[str, float]] = r["op_seconds"]  # type: ignore[assignment]
    step: Dict[str, Dict[str, float]] = r["step_seconds"]  # type: ignore[assignment]
    print(f"\n### {name}: {r['params'] / 1e6:.1f}M parameters in {r['tensors']} tensors; {r['rounds']} rounds; reports dropped: {r['dropped']}\n")
    print("| variant | call alone: median ms (p25-p75) | x clip's norm alone | full step: median ms (p25-p75) | vs no monitoring |")
    print("|---|---|---|---|---|")
    norm_only = op["clip_grad_norm_'s norm alone"]["median"]
    base_step = step["none"]["median"]
    for variant in op:
        o, s = op[variant], step[variant]
        print(
            f"| {variant} | {o['median'] * 1e3:.3f} ({o['p25'] * 1e3:.3f}-{o['p75'] * 1e3:.3f}) | {o['median'] / norm_only:.2f} "
            f"| {s['median'] * 1e3:.1f} ({s['p25'] * 1e3:.1f}-{s['p75'] * 1e3:.1f}) | {100 * (s['median'] / base_step - 1):+.1f}% |"
        )
    clip_ratio = op["monitor.clip_grad_norm_"]["median"] / op["torch clip_grad_norm_"]["median"]
    print(f"\nmonitor.step / clip's norm alone: {op['monitor.step']['median'] / norm_only:.2f} (target <= 1.2); monitor.clip_grad_norm_ / torch clip_grad_norm_: {clip_ratio:.3f} (target < 1.02)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated subset of " + ", ".join(MODELS))
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--rounds", type=int, default=0, help="rounds per model (default: per model, see DEFAULT_ROUNDS)")
    ap.add_argument("--op-repeats", type=int, default=5, help="reporting calls timed per round in measurement 1")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (1: steadier on a shared machine)")
    ap.add_argument("--no-endpoint", action="store_true")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    tmp = tempfile.mkdtemp(prefix="gm-bench-")
    server = None
    url = None
    if not args.no_endpoint:
        server = start_endpoint(os.path.join(tmp, "server"))
        url = server.stdout.readline().strip() if server.stdout else None
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, {args.threads} torch thread(s), device {args.device}"
    print(f"{machine}; batch 2x16 tokens; endpoint: {'none (local log)' if url is None else url}")
    results: Dict[str, object] = {}
    try:
        for name in args.models.split(","):
            results[name] = measure(name, args, url, tmp)
            report(name, results[name])  # type: ignore[arg-type]
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine, "models": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
