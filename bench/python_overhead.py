"""Per-step cost of the Python client's norm reporting, side by side in one run.

    $(bash scripts/ensure-venv.sh) bench/python_overhead.py [--models 1M,10M,100M] [--device cpu|cuda] [--rounds N]
        [--threads 1] [--integrations hf,lightning] [--integration-steps N]

Runs with any torch >= 1.13 (the framework venv has torch 2.x; Debian's python3 has 1.13).

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

Integrations (when the library is installed): a Hugging Face Trainer training a GPT-2 built from its
config (2 layers, width 128), and a Lightning Trainer training the 1M encoder, each alternately with
and without the monitor (``watch_trainer``; the Lightning callback), one step timed per callback pair
(on_step_begin/end, on_train_batch_start/end). Reported: the median step with and without, and the
median ``Monitor.step`` call as a share of the monitored step (precise where the step-time difference
drowns in noise; it leaves out the NaN-origin trace's forward hooks, which only the difference sees).
"""
from __future__ import annotations

import argparse
import contextlib
import functools
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
from typing import Callable, Dict, Iterator, List, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "clients" / "python"))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from gradient_monitor import Monitor  # noqa: E402


VOCAB = 1000
# name: (model width, encoder layers); the feed-forward width is 4x the model width.
MODELS = {"1M": (128, 4), "10M": (256, 12), "100M": (768, 14)}
# Rounds per model when --rounds is not given: fewer for the models whose steps take seconds.
DEFAULT_ROUNDS = {"1M": 30, "10M": 25, "100M": 12}


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
        # Its discovery file stays in a temp home: other processes on the machine must not find it.
        env={**os.environ, "GRADIENT_MONITOR_HOME": os.path.join(log_dir, "home")},
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


class StepClock:
    """Per-step wall times, from a framework's step-begin/step-end callback pair; the first steps are warm-up."""

    def __init__(self, warmup: int = 2) -> None:
        self.warmup = warmup
        self.times: List[float] = []
        self._t0 = 0.0
        self._seen = 0

    def begin(self, *_args: object, **_kwargs: object) -> None:
        self._t0 = time.perf_counter()

    def end(self, *_args: object, **_kwargs: object) -> None:
        self._seen += 1
        if self._seen > self.warmup:
            self.times.append(time.perf_counter() - self._t0)


class ClientTimer:
    """Time of each Monitor.step call while active (patched for the monitored runs), without each run's
    first ``warmup`` calls (the first one starts the connection)."""

    def __init__(self, warmup: int = 2) -> None:
        self.warmup = warmup
        self.times: List[float] = []
        self._original = Monitor.step

    def __enter__(self) -> "ClientTimer":
        original = self._original
        seen = [0]

        def timed(monitor: Monitor, *args: object, **kwargs: object) -> None:
            t0 = time.perf_counter()
            try:
                original(monitor, *args, **kwargs)
            finally:
                seen[0] += 1
                if seen[0] > self.warmup:
                    self.times.append(time.perf_counter() - t0)

        Monitor.step = timed  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        Monitor.step = self._original  # type: ignore[method-assign]


def hf_trainer_run(steps: int, url: Optional[str], tmp: str, monitored: bool) -> StepClock:
    import transformers

    clock = StepClock()

    class Clock(transformers.TrainerCallback):
        def on_step_begin(self, *args: object, **kwargs: object) -> None:
            clock.begin()

        def on_step_end(self, *args: object, **kwargs: object) -> None:
            clock.end()

    torch.manual_seed(0)
    config = transformers.GPT2Config(n_layer=2, n_embd=128, n_head=4, vocab_size=VOCAB, n_positions=64)
    ids = torch.randint(0, VOCAB, (steps * 4, 64))
    data = [{"input_ids": row, "labels": row} for row in ids]
    args = transformers.TrainingArguments(
        output_dir=os.path.join(tmp, "hf"), per_device_train_batch_size=4, max_steps=steps, logging_steps=10**9,
        save_strategy="no", report_to=[], use_cpu=True, disable_tqdm=True, max_grad_norm=1.0,
    )
    trainer = transformers.Trainer(model=transformers.GPT2LMHeadModel(config), args=args, train_dataset=data, callbacks=[Clock()])
    if monitored:
        from gradient_monitor.integrations.huggingface import watch_trainer

        watch_trainer(trainer, run_name="bench-hf", url=url, token="bench", log_dir=os.path.join(tmp, "local"))
    trainer.train()
    return clock


def lightning_run(steps: int, url: Optional[str], tmp: str, monitored: bool) -> StepClock:
    import lightning as L

    clock = StepClock()
    d, layers = MODELS["1M"]

    class Module(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = Transformer(d, layers)

        def training_step(self, data: List[torch.Tensor], index: int) -> torch.Tensor:
            return nn.functional.cross_entropy(self.net(data[0]).reshape(-1, VOCAB), data[1].reshape(-1))

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters(), lr=1e-4)

        def on_train_batch_start(self, *args: object) -> None:
            clock.begin()

        def on_train_batch_end(self, *args: object) -> None:
            clock.end()

    torch.manual_seed(0)
    tokens = torch.randint(0, VOCAB, (steps * 2, 16))
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(tokens, tokens), batch_size=2)
    callbacks = []
    if monitored:
        from gradient_monitor.integrations.lightning import GradientMonitorCallback

        callbacks.append(GradientMonitorCallback(run_name="bench-lightning", url=url, token="bench", log_dir=os.path.join(tmp, "local")))
    trainer = L.Trainer(
        accelerator="cpu", devices=1, max_steps=steps, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, gradient_clip_val=1.0, callbacks=callbacks,
    )
    trainer.fit(Module(), train_dataloaders=loader)
    return clock


INTEGRATIONS = {"hf": ("Hugging Face Trainer, GPT-2 from config (2 layers, width 128), batch 4x64", "transformers", hf_trainer_run),
                "lightning": ("Lightning Trainer, the 1M encoder, batch 2x16, gradient_clip_val", "lightning", lightning_run)}


# The arms of an integration's measurement: no monitor, the monitor as users get it, and the monitor
# with the NaN-origin trace off (its forward hooks run outside Monitor.step: only the step time sees them).
ARMS = {"without": None, "monitor": {}, "monitor, trace_nonfinite=False": {"trace_nonfinite": False}}


@contextlib.contextmanager
def watch_defaults(**kwargs: object) -> Iterator[None]:
    """Monitor.watch with other defaults, for integrations that call it themselves."""
    original = Monitor.watch
    Monitor.watch = functools.partialmethod(original, **kwargs)  # type: ignore[method-assign]
    try:
        yield
    finally:
        Monitor.watch = original  # type: ignore[method-assign]


def measure_integration(name: str, args: argparse.Namespace, url: Optional[str], tmp: str) -> Optional[Dict[str, object]]:
    """The arms alternated round by round; None when the library is not installed."""
    title, module, run = INTEGRATIONS[name]
    try:
        __import__(module)
    except ImportError:
        print(f"\n### {title}: skipped ({module} is not installed)")
        return None
    steps: Dict[str, List[float]] = {arm: [] for arm in ARMS}
    timers = {arm: ClientTimer() for arm in ARMS}
    for _round in range(args.integration_rounds):
        for arm, watch_kwargs in ARMS.items():
            if watch_kwargs is None:
                steps[arm] += run(args.integration_steps, url, tmp, False).times
                continue
            with timers[arm], watch_defaults(**watch_kwargs):
                steps[arm] += run(args.integration_steps, url, tmp, True).times
    arms = {arm: {"step": quantiles(steps[arm]), "client": quantiles(timers[arm].times) if timers[arm].times else None} for arm in ARMS}
    return {"title": title, "arms": arms}


def report_integration(r: Dict[str, object]) -> None:
    arms: Dict[str, Dict[str, Optional[Dict[str, float]]]] = r["arms"]  # type: ignore[assignment]
    base = arms["without"]["step"]
    assert base is not None
    print(f"\n### {r['title']}\n")
    print("| arm | median step ms (p25-p75) | vs without | Monitor.step call: median ms (p25-p75) | its share of the median step |")
    print("|---|---|---|---|---|")
    for arm, measured in arms.items():
        step, client = measured["step"], measured["client"]
        assert step is not None
        call = "-" if client is None else f"{client['median'] * 1e3:.3f} ({client['p25'] * 1e3:.3f}-{client['p75'] * 1e3:.3f})"
        share = "-" if client is None else f"{100 * client['median'] / step['median']:.2f}%"
        print(f"| {arm} | {step['median'] * 1e3:.1f} ({step['p25'] * 1e3:.1f}-{step['p75'] * 1e3:.1f}) | {100 * (step['median'] / base['median'] - 1):+.1f}% | {call} | {share} |")


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
    ap.add_argument("--integrations", default=",".join(INTEGRATIONS), help="comma-separated subset of " + ", ".join(INTEGRATIONS) + ", or none")
    ap.add_argument("--integration-steps", type=int, default=30, help="training steps per integration run (2 of them warm-up)")
    ap.add_argument("--integration-rounds", type=int, default=4, help="alternating unmonitored/monitored runs per integration")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    tmp = tempfile.mkdtemp(prefix="gm-bench-")
    server = None
    url = None
    if not args.no_endpoint:
        server = start_endpoint(os.path.join(tmp, "server"))
        url = server.stdout.readline().strip() if server.stdout else None
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, torch {torch.__version__}, {args.threads} torch thread(s), device {args.device}"
    print(f"{machine}; batch 2x16 tokens; endpoint: {'none (local log)' if url is None else url}")
    results: Dict[str, object] = {}
    integrations: Dict[str, object] = {}
    load = {"start": os.getloadavg()}
    try:
        for name in args.models.split(","):
            results[name] = measure(name, args, url, tmp)
            report(name, results[name])  # type: ignore[arg-type]
        for name in [n for n in args.integrations.split(",") if n and n != "none"]:
            measured = measure_integration(name, args, url, tmp)
            if measured is not None:
                integrations[name] = measured
                report_integration(measured)
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
    load["end"] = os.getloadavg()
    print(f"\nload average (1, 5, 15 min): {load['start']} at the start, {load['end']} at the end, on {os.cpu_count()} cores")
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine, "load": load, "models": results, "integrations": integrations}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
