"""Cost of ``trace_nonfinite`` (where a NaN was born) on a whole training step, side by side in one run.

    python bench/nonfinite_overhead.py [--models 10M,100M] [--device cpu|cuda] [--rounds N] [--threads 1] [--json FILE]

The transformer encoders of bench/python_overhead.py (10M: d=256 x 12 layers, 100M: d=768 x 14), batch
2x16 tokens. Each round times one full step (zero_grad, forward, backward, ``monitor.step()``,
optimizer step) per variant, interleaved so drift hits all alike: the monitor with the trace off, on
(forward and backward hooks), forward only, and with the step guard on top (which reads one flag
per step by design). Host reads on the training thread during the step are counted (Tensor.item/tolist/__bool__/__float__/__int__/cpu/numpy,
and on CUDA the sync debug mode's warnings): the trace must add none. Reports go to a local log
(the endpoint's cost is python_overhead.py's subject). Prints medians with the 25th-75th
percentile spread and the ratio to the trace-off variant of the same run.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Dict, List

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "clients" / "python"))
sys.path.insert(0, str(ROOT / "bench"))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from gradient_monitor import Monitor  # noqa: E402
from python_overhead import MODELS, VOCAB, Transformer, quantiles, sync  # noqa: E402

DEFAULT_ROUNDS = {"1M": 20, "10M": 15, "100M": 5}
VARIANTS: Dict[str, Dict[str, Any]] = {
    "trace off": {"trace_nonfinite": False},
    "trace on": {"trace_nonfinite": True},
    "trace forward only": {"trace_nonfinite": "forward"},
    "trace on + skip_nonfinite": {"trace_nonfinite": True, "skip_nonfinite": True},
}
HOST_READS = ("item", "tolist", "numpy", "cpu", "__bool__", "__float__", "__int__")


class HostReads:
    """Counts tensor reads to the host on the training thread while active."""

    def __init__(self) -> None:
        self.count = 0
        self.active = False
        self._thread = threading.get_ident()
        for name in HOST_READS:
            original = getattr(torch.Tensor, name)
            setattr(torch.Tensor, name, self._counted(original))

    def _counted(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def counted(tensor: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
            if self.active and threading.get_ident() == self._thread:
                self.count += 1
            return original(tensor, *args, **kwargs)

        return counted


def measure(name: str, args: argparse.Namespace, tmp: str, reads: HostReads) -> Dict[str, Any]:
    device = args.device
    d, layers = MODELS[name]
    x = torch.randint(0, VOCAB, (2, 16), device=device)
    y = torch.randint(0, VOCAB, (2 * 16,), device=device)
    # One model per variant (same weights): hooks belong to a model, so variants must not share one.
    runs = {}
    for variant, options in VARIANTS.items():
        torch.manual_seed(0)
        model = Transformer(d, layers).to(device)
        optimizer = torch.optim.SGD(model.parameters(), lr=1e-4)
        monitor = Monitor(f"bench-nonfinite-{name}", log_dir=os.path.join(tmp, "local"), queue_size=100_000)
        monitor.watch(model, optimizer=optimizer if options.get("skip_nonfinite") else None, **options)
        runs[variant] = (model, optimizer, monitor)
    params = sum(p.numel() for p in runs["trace off"][0].parameters())
    modules = len(list(runs["trace off"][0].modules()))

    def step(variant: str) -> int:
        """One training step; returns the host reads it made."""
        model, optimizer, monitor = runs[variant]
        before = reads.count
        reads.active = True
        optimizer.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(x).reshape(-1, VOCAB), y).backward()
        monitor.step()
        optimizer.step()
        reads.active = False
        return reads.count - before

    for variant in VARIANTS:  # warm-up
        for _ in range(2):
            step(variant)
    times: Dict[str, List[float]] = {v: [] for v in VARIANTS}
    host_reads: Dict[str, int] = {v: 0 for v in VARIANTS}
    rounds = args.rounds or DEFAULT_ROUNDS[name]
    clock = time.thread_time if args.clock == "thread" else time.perf_counter
    for _round in range(rounds):
        for variant in VARIANTS:
            sync(device)
            t0 = clock()
            host_reads[variant] += step(variant)
            sync(device)
            times[variant].append(clock() - t0)
    for _, _, monitor in runs.values():
        monitor.close()
    return {
        "params": params,
        "modules": modules,
        "rounds": rounds,
        "step_seconds": {v: quantiles(t) for v, t in times.items()},
        "host_reads_per_step": {v: n / rounds for v, n in host_reads.items()},
    }


def report(name: str, r: Dict[str, Any]) -> None:
    steps = r["step_seconds"]
    base = steps["trace off"]["median"]
    print(f"\n### {name}: {r['params'] / 1e6:.1f}M parameters, {r['modules']} modules; {r['rounds']} rounds\n")
    print("| variant | full step: median ms (p25-p75) | vs trace off | host reads per step (training thread) |")
    print("|---|---|---|---|")
    for variant, s in steps.items():
        print(
            f"| {variant} | {s['median'] * 1e3:.1f} ({s['p25'] * 1e3:.1f}-{s['p75'] * 1e3:.1f}) "
            f"| {100 * (s['median'] / base - 1):+.1f}% | {r['host_reads_per_step'][variant]:g} |"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="10M,100M", help="comma-separated subset of " + ", ".join(MODELS))
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--rounds", type=int, default=0, help="rounds per model (default: per model, see DEFAULT_ROUNDS)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (1: steadier on a shared machine)")
    ap.add_argument("--clock", choices=["thread", "wall"], default="", help="thread: CPU time of the training thread (the CPU default: steady on a busy machine, and with one torch thread forward and backward run there); wall: elapsed time (the CUDA default)")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    args.clock = args.clock or ("wall" if args.device == "cuda" else "thread")
    torch.set_num_threads(args.threads)
    reads = HostReads()
    if args.device == "cuda":
        torch.cuda.set_sync_debug_mode("warn")  # synchronizing calls warn; counted below
    tmp = tempfile.mkdtemp(prefix="gm-bench-nonfinite-")
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, {args.threads} torch thread(s), device {args.device}"
    print(f"{machine}; batch 2x16 tokens; reports to a local log; clock: {args.clock}")
    results: Dict[str, Any] = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for name in args.models.split(","):
            results[name] = measure(name, args, tmp, reads)
            report(name, results[name])
    syncs = [w for w in caught if "synchroniz" in str(w.message)]
    if args.device == "cuda":
        print(f"\nCUDA sync debug mode: {len(syncs)} synchronizing calls warned during the run")
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine, "models": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
