"""What a replay of the first non-finite step needs: the model's forward inputs of that step (kept by
reference, for the current step only, by a forward pre-hook on the model), the RNG states just
before each forward (torch, CUDA, Python, numpy), the step, and the weights when the step guard
kept them unchanged. Saved once, to ``.gradient-monitor/snapshots/<run>/step-N.pt``;
``python -m gradient_monitor replay FILE`` prints the lines that rerun it under ``detect_anomaly``.
"""
from __future__ import annotations

import json
import logging
import os
import random
import re
import sys
from typing import Any, Dict, List, Optional, Tuple

import torch

logger = logging.getLogger("gradient_monitor")
DEFAULT_SNAPSHOT_DIR = os.path.join(".gradient-monitor", "snapshots")
Forward = Dict[str, Any]


def rng_states() -> Dict[str, Any]:
    states: Dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        states["numpy"] = numpy.random.get_state()
    return states


def set_rng_states(states: Dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    random.setstate(states["python"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
    if "numpy" in states:
        import numpy

        numpy.random.set_state(states["numpy"])


def snapshot_path(run_id: str, step: int, directory: str = DEFAULT_SNAPSHOT_DIR) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", run_id).strip("-.") or "run"
    return os.path.abspath(os.path.join(directory, safe, f"step-{step}.pt"))


class Snapshotter:
    """Captures each training forward's inputs and RNG states until the step is reported; saves the first non-finite one."""

    def __init__(self, model: torch.nn.Module, directory: str = DEFAULT_SNAPSHOT_DIR) -> None:
        self.directory = directory
        self.saved: Optional[str] = None
        self._forwards: List[Forward] = []
        try:
            self._handle = model.register_forward_pre_hook(self._capture, with_kwargs=True)
        except TypeError:  # torch < 2.0: positional inputs only
            self._handle = model.register_forward_pre_hook(lambda m, args: self._capture(m, args, {}))

    def remove(self) -> None:
        self._handle.remove()

    def _capture(self, module: Any, args: Any, kwargs: Any) -> None:
        if self.saved is not None or not torch.is_grad_enabled():
            return
        try:
            self._forwards.append({"args": args, "kwargs": dict(kwargs or {}), "rng": rng_states()})
        except Exception as e:  # never break the training it watches
            logger.warning("gradient_monitor: cannot capture the forward inputs for a snapshot: %s", e)

    def take(self) -> List[Forward]:
        """The forwards since the last report (by reference); the next step starts empty."""
        forwards, self._forwards = self._forwards, []
        return forwards

    def save(self, run_id: str, step: int, forwards: List[Forward], model_state: Optional[Dict[str, Any]] = None) -> Optional[str]:
        """Writes the snapshot once; returns its path (None when it cannot be written)."""
        if self.saved is not None:
            return None
        path = snapshot_path(run_id, step, self.directory)
        self.saved = path
        data: Dict[str, Any] = {"step": step, "run_id": run_id, "forwards": forwards, "torch": torch.__version__}
        if model_state is not None:
            data["model_state"] = model_state
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            torch.save(data, path)
        except Exception as e:
            logger.warning("gradient_monitor: cannot save the non-finite snapshot to %s: %s", path, e)
            return None
        logger.warning("gradient_monitor: saved the first non-finite step to %s (replay: python -m gradient_monitor replay %s)", path, path)
        return path


def restore(snapshot: Dict[str, Any], model: Optional[torch.nn.Module] = None, forward: int = 0) -> Tuple[tuple, dict]:
    """Puts a model (when the snapshot holds its weights) and the RNGs back as they were before the
    step's ``forward``-th forward; returns that forward's (args, kwargs)."""
    if model is not None and "model_state" in snapshot:
        model.load_state_dict(snapshot["model_state"])
    recorded = snapshot["forwards"][forward]
    set_rng_states(recorded["rng"])
    return tuple(recorded["args"]), dict(recorded["kwargs"])


# The replay's lines, one template for this CLI and the dashboard's Reproduce action (src/runs/replay.ts).
REPLAY_TEMPLATE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "replay_template.txt")


def replay_lines(path: str) -> str:
    """The few lines that reload a snapshot and rerun its forward and backward under detect_anomaly."""
    snap = torch.load(path, map_location="cpu", weights_only=False)
    return fill_replay_template(os.path.abspath(path), snap["step"], snap["run_id"])


def fill_replay_template(path: str, step: int, run_id: str) -> str:
    """The template with its fields as Python literals (JSON strings are valid Python strings)."""
    with open(REPLAY_TEMPLATE, encoding="utf-8") as f:
        template = f.read()
    values = {"path": json.dumps(path, ensure_ascii=False), "step": str(int(step)), "run_id": json.dumps(run_id, ensure_ascii=False)}
    return re.sub(r"\{(path|step|run_id)\}", lambda m: values[m.group(1)], template)
