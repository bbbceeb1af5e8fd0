"""``Monitor``: one training run streamed to the Gradient Monitor endpoint (or its local log)."""
from __future__ import annotations

import atexit
import contextlib
import logging
import math
import os
import re
import sys
import sysconfig
import time
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

from .callsite import distributed_rank, process_meta, user_call_site
from .discovery import Endpoint, resolve_endpoint
from .layers import DEFAULT_MAX_LAYERS, LayerSpec, NameFilter
from .logfile import DEFAULT_LOG_DIR, LocalLog, Message
from .notebook import notebook_file
from .tensorflow import not_for_autograph
from .transport import Transport, TransportOptions

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from ._torch import TorchGradients

logger = logging.getLogger("gradient_monitor")
Number = Union[int, float]


@dataclass
class _TorchWatch:
    gradients: "TorchGradients"
    scaler: Any
    accumulation_steps: int
    norm_type: float
    nonfinite: "NonfiniteWatch"
    micro_steps: int = 0


def _as_float(value: Any) -> Optional[float]:
    """A Python float from a number, numpy/jax scalar or one-element tensor (which may sync: the caller's choice)."""
    if value is None:
        return None
    return float(value.item() if hasattr(value, "item") else value)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-._") or "run"


class Monitor:
    """Streams gradient norms of one training run.

    ``url``/``token`` default to ``GRADIENT_MONITOR_URL``/``GRADIENT_MONITOR_TOKEN``, then to the
    discovery files of running endpoints; with no endpoint at all the run goes to the local log
    (``log_dir``, default ``./.gradient-monitor/runs``). Use it as a context manager or call
    ``close()``: the run ends ``completed``, ``failed`` (exception) or ``interrupted`` (Ctrl-C).

    ``layers``: how parameters are grouped into reported layers (see ``layers.group_layers``), or the
    layer names of ``log(..., layer_norms=[...])``. ``include`` keeps only matching parameter names in
    the per-layer norms; ``max_layers`` caps their number for huge models. In a distributed run only
    rank 0 sends unless ``all_ranks=True`` (each message then carries its ``rank``).
    """

    def __init__(
        self,
        run_name: Optional[str] = None,
        url: Optional[str] = None,
        token: Optional[str] = None,
        threshold: Optional[float] = None,
        layers: LayerSpec = "auto",
        *,
        run_id: Optional[str] = None,
        include: NameFilter = None,
        max_layers: int = DEFAULT_MAX_LAYERS,
        log_dir: Optional[str] = None,
        all_ranks: bool = False,
        meta: Optional[Mapping[str, Any]] = None,
        call_site: Optional[Tuple[str, int]] = None,
        queue_size: int = 10_000,
        flush_timeout: float = 10.0,
        transport_options: Optional[TransportOptions] = None,
    ) -> None:
        if threshold is not None and not threshold > 0:
            raise ValueError(f"threshold must be a positive number, got {threshold!r}")
        notebook = notebook_file()
        program = notebook or (sys.argv[0] if sys.argv and sys.argv[0] not in ("", "-c") else "")
        script = os.path.splitext(os.path.basename(program))[0]
        self.run_name = run_name or script or "run"
        self._explicit_run_id = run_id is not None
        self.run_id = run_id or f"{_slug(self.run_name)}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
        self._url, self._token = url, token
        self.threshold = threshold
        self.layers = layers
        self.include = include
        self.max_layers = max_layers
        self.log_dir = os.path.abspath(log_dir or DEFAULT_LOG_DIR)
        self.all_ranks = all_ranks
        self._meta = dict(meta or {})
        self._call_site = call_site
        self._options = transport_options or TransportOptions(queue_size=queue_size)
        self._flush_timeout = flush_timeout
        self._transport: Optional[Transport] = None
        self._torch: Optional[_TorchWatch] = None
        self._log_layers: Optional[List[str]] = list(layers) if isinstance(layers, (list, tuple)) else None
        self._rank: Optional[int] = None
        self._world_size = 1
        self._next_step = 0
        self._clip_used = False
        self._warned: set = set()
        self._nonfinite_seen = False
        self._closed = False
        self._framework = "other"
        self.failure: Optional[str] = None
        atexit.register(self._close_at_exit)

    # ---- run identity and lifecycle --------------------------------------------------------
    @property
    def rank(self) -> int:
        return self._ensure_rank()

    @property
    def sends(self) -> bool:
        """Whether this process streams: rank 0, or every rank with ``all_ranks=True``."""
        return self._ensure_rank() == 0 or self.all_ranks

    @property
    def log_path(self) -> str:
        """The local run log (written when the endpoint cannot be reached, or when there is none)."""
        return self._transport.local_log.path if self._transport else LocalLog(self.log_dir, self.run_id).path

    @property
    def dropped(self) -> int:
        """Reports dropped because the queue to the sender thread was full."""
        return self._transport.dropped if self._transport else 0

    @property
    def active(self) -> bool:
        """False once monitoring was turned off by a failure inside the client (see ``failure``) or closed."""
        return self.failure is None and not self._closed

    @property
    def connected(self) -> bool:
        return self._transport is not None and self._transport.connected

    def __enter__(self) -> "Monitor":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
        elif issubclass(exc_type, KeyboardInterrupt):
            self.close("interrupted", "KeyboardInterrupt")
        else:
            self.close("failed", f"{exc_type.__name__}: {exc}")

    def close(self, status: Optional[str] = None, message: Optional[str] = None) -> None:
        """Flushes (waiting up to ``flush_timeout`` s for the endpoint) and sends run_end."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self._close_at_exit)
        if self._transport is None:
            return  # nothing was reported: there is no run to end
        run_end: Message = {"type": "run_end", "run_id": self.run_id, "status": status or "completed"}
        if message:
            run_end["message"] = message
        self._transport.close(run_end, self._flush_timeout)

    def _close_at_exit(self) -> None:
        # An uncaught exception leaves sys.last_type behind before atexit handlers run.
        last = getattr(sys, "last_type", None)
        if last is None:
            self.close()
        elif issubclass(last, KeyboardInterrupt):
            self.close("interrupted", "KeyboardInterrupt")
        else:
            self.close("failed", f"{last.__name__}: {getattr(sys, 'last_value', '')}")

    def _ensure_rank(self) -> int:
        if self._rank is None:
            self._rank, self._world_size = distributed_rank()
        return self._rank

    def _start(self, framework: str, layer_names: Sequence[str]) -> Transport:
        if self._transport is not None:
            return self._transport
        if self._closed:
            raise RuntimeError("this Monitor is closed")
        rank = self._ensure_rank()
        if self.all_ranks and self._world_size > 1 and not self._explicit_run_id:
            self.run_id = _shared_run_id(self.run_id)
        call_site = self._call_site or user_call_site()
        meta = {**process_meta(call_site, rank, self._world_size), **self._meta}
        run_start: Message = {"type": "run_start", "run_id": self.run_id, "name": self.run_name, "framework": framework, "meta": meta}
        if layer_names:
            run_start["layers"] = list(layer_names)
        if self.threshold is not None:
            run_start["threshold"] = self.threshold
        self._transport = Transport(self._resolver(), LocalLog(self.log_dir, self.run_id), self._options)
        self._transport.start(run_start)
        return self._transport

    def _resolver(self) -> Optional[Callable[[], Optional[Endpoint]]]:
        endpoint = resolve_endpoint(self._url, self._token)
        if endpoint is None:
            logger.info("gradient_monitor: no endpoint found; recording to %s", LocalLog(self.log_dir, self.run_id).path)
            return None
        if endpoint.source != "discovery":
            return lambda: endpoint
        # A restarted VS Code window listens elsewhere: look again on each reconnect.
        return lambda: resolve_endpoint(self._url, self._token) or endpoint

    @staticmethod
    def _check_step(step: Optional[int]) -> None:
        if step is not None and (not isinstance(step, int) or isinstance(step, bool) or step < 0):
            raise ValueError(f"step must be an integer >= 0, got {step!r}")

    def _take_step(self, step: Optional[int]) -> int:
        self._check_step(step)
        step = self._next_step if step is None else step
        self._next_step = step + 1
        return step

    def _warn_once(self, key: str, text: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            warnings.warn(f"gradient_monitor: {text}", RuntimeWarning, stacklevel=4)

    def _fail(self, where: str, exc: BaseException) -> None:
        """A failure inside the client: monitoring stops for this run (one warning, a ``run_end`` saying
        why); the training it watches goes on."""
        if self.failure is not None:
            return
        self.failure = f"{where}: {type(exc).__name__}: {exc}"
        # Attributed to the training script's line (not this package's, the stdlib's or a framework's).
        libraries = {sysconfig.get_paths()[k] for k in ("stdlib", "purelib", "platlib")}
        filename, line = user_call_site(tuple(libraries)) or user_call_site() or ("gradient_monitor", 0)
        text = f"gradient_monitor: monitoring is off for this run, training goes on ({self.failure})"
        try:
            warnings.warn_explicit(text, RuntimeWarning, filename, line)
        except Exception:  # warnings turned into errors (-W error) must not stop the training either
            logger.warning("%s", text)
        logger.debug("gradient_monitor: monitoring failure", exc_info=exc)
        try:
            if self._transport is None and not self._closed and self.sends:
                self._start(self._framework, [])
            self.close("failed", f"monitoring stopped, training went on: {self.failure}")
        except Exception as e:  # the note is best effort: nothing here may reach the training loop
            self._closed = True
            logger.debug("gradient_monitor: could not record the failure: %s", e)

    @contextlib.contextmanager
    def _guard(self, where: str) -> Iterator[None]:
        """Runs client code (an integration's hook) so that an exception turns monitoring off instead of
        reaching the training loop."""
        try:
            yield
        except Exception as exc:
            self._fail(where, exc)

    def _step_message(self, step: int, when: float, total: float, layer_norms: Optional[List[float]], loss: Optional[float], lr: Optional[float], clipped: Optional[bool], skipped: Optional[bool]) -> Message:
        msg: Message = {"type": "step", "run_id": self.run_id, "step": step, "total_norm": total, "time": when}
        if layer_norms:
            msg["layer_norms"] = layer_norms
        for key, value in (("loss", loss), ("lr", lr), ("clipped", clipped), ("skipped", skipped)):
            if value is not None:
                msg[key] = value
        if self.all_ranks or (self._rank or 0) != 0:
            msg["rank"] = self._rank or 0
        if not skipped and not self._nonfinite_seen and not (math.isfinite(total) and all(math.isfinite(v) for v in layer_norms or ())):
            self._nonfinite_seen = True
            names = self._layer_names_for_warning(layer_norms)
            logger.warning("gradient_monitor: non-finite gradient norm at step %d%s", step, f" in {', '.join(names)}" if names else "")
        return msg

    def _layer_names_for_warning(self, layer_norms: Optional[List[float]]) -> List[str]:
        names = self._torch.gradients.layer_names if self._torch else (self._log_layers or [])
        return [n for n, v in zip(names, layer_norms or []) if not math.isfinite(v)]

    # ---- framework-neutral -----------------------------------------------------------------
    def log(
        self,
        step: Optional[int],
        total_norm: Number,
        layer_norms: Union[Sequence[Number], Mapping[str, Number], None] = None,
        *,
        loss: Optional[Number] = None,
        lr: Optional[Number] = None,
        clipped: Optional[bool] = None,
        skipped: Optional[bool] = None,
        framework: str = "other",
        nonfinite_origin: Optional[Mapping[str, Any]] = None,
    ) -> None:
        """Reports norms computed elsewhere. ``layer_norms`` is a list aligned with ``Monitor(layers=[...])``
        or a mapping name -> norm (its names, in order, become the run's layers on the first call).
        ``nonfinite_origin``: where a non-finite step's NaN came from (docs/protocol.md)."""
        if self.failure is not None:
            return
        step = self._take_step(step)
        self._framework = framework
        if not self.sends:
            return
        values = self._layer_values(layer_norms)
        total = float(total_norm)
        with self._guard("monitor.log"):
            transport = self._start(framework, self._log_layers or [])
            msg = self._step_message(step, time.time(), total, values, _as_float(loss), _as_float(lr), clipped, skipped)
            if nonfinite_origin:
                msg["nonfinite_origin"] = dict(nonfinite_origin)
            transport.put(msg)

    def _layer_values(self, layer_norms: Union[Sequence[Number], Mapping[str, Number], None]) -> Optional[List[float]]:
        if layer_norms is None:
            return None
        if isinstance(layer_norms, Mapping):
            if self._log_layers is None:
                self._log_layers = [str(k) for k in layer_norms]
            if set(layer_norms) != set(self._log_layers):
                raise ValueError(f"layer_norms names {sorted(layer_norms)} differ from the run's layers {self._log_layers}")
            return [float(layer_norms[name]) for name in self._log_layers]
        values = [float(v) for v in layer_norms]
        if self._log_layers is not None and len(values) != len(self._log_layers):
            raise ValueError(f"layer_norms has {len(values)} values but the run has {len(self._log_layers)} layers")
        return values

    @not_for_autograph
    def log_tf(self, grads: Sequence[Any], variables: Sequence[Any], step: Any = None, *, loss: Any = None, lr: Any = None) -> None:
        """TensorFlow: norms of ``grads`` (as from ``tape.gradient``) grouped by the variables' layers.
        Eager, or inside a ``tf.function`` (the norms leave the graph through one ``tf.py_function`` per
        step; not under ``jit_compile=True``, which cannot run Python)."""
        if self.failure is not None:
            return
        self._check_step(step if not hasattr(step, "dtype") else None)
        with self._guard("monitor.log_tf"):
            import tensorflow as tf

            from .tensorflow import first_nonfinite_variable, in_xla_function, norm_tensors

            names, values = norm_tensors(tf, grads, variables, self.layers, self.include, self.max_layers)
            if self._log_layers is None:
                self._log_layers = names
            if tf.executing_eagerly():
                self._log_host("tensorflow", names, values.numpy(), step, loss, lr, lambda: first_nonfinite_variable(grads, variables))
                return
            if in_xla_function():  # a py_function there would fail XLA's compilation, outside this guard
                raise RuntimeError("log_tf cannot report from a tf.function(jit_compile=True): XLA runs no Python; report outside it")
            self._call_site = self._call_site or user_call_site()  # the traced code's line, not the runtime's thread
            extras = [tf.cast(x, tf.float64) for x in (step, loss, lr) if x is not None]
            present = tuple(x is not None for x in (step, loss, lr))

            def from_graph(values: Any, *extras: Any) -> None:
                given = iter(float(x.numpy()) for x in extras)
                step_, loss_, lr_ = (next(given) if p else None for p in present)
                self._log_host("tensorflow", names, values.numpy(), None if step_ is None else int(step_), loss_, lr_)

            tf.py_function(from_graph, [values, *extras], Tout=[])

    def log_jax(self, grads: Any, step: Any = None, *, loss: Any = None, lr: Any = None) -> None:
        """JAX/numpy pytree of gradients (e.g. flax params grads): global norm like ``optax.global_norm``,
        per-layer norms by path. Also inside ``jax.jit``: the norms leave through ``jax.debug.callback``."""
        if self.failure is not None:
            return
        self._check_step(step if not hasattr(step, "dtype") else None)
        with self._guard("monitor.log_jax"):
            from .jax import first_nonfinite_leaf, is_traced, norm_values

            names, values = norm_values(grads, self.layers, self.include, self.max_layers)
            if self._log_layers is None:
                self._log_layers = names
            if not is_traced(values, step, loss, lr):
                self._log_host("jax", names, values, step, loss, lr, lambda: first_nonfinite_leaf(grads))
                return
            import jax

            self._call_site = self._call_site or user_call_site()  # the traced code's line, not the runtime's thread

            def from_jit(values: Any, step: Any, loss: Any, lr: Any) -> None:
                self._log_host("jax", names, values, None if step is None else int(step), loss, lr)

            jax.debug.callback(from_jit, values, step, loss, lr, ordered=True)

    def _log_host(self, framework: str, names: List[str], values: Any, step: Any, loss: Any, lr: Any, nonfinite_leaf: Optional[Callable[[], Optional[str]]] = None) -> None:
        """Reports ``[total, *layers]`` read back from a framework; failures stop monitoring, never training
        (this may run inside a framework's callback, where an exception would end the training step).
        ``nonfinite_leaf`` finds the first gradient holding a NaN/Inf (eager only: it reads them back)."""
        with self._guard(f"{framework} report"):
            host = [float(v) for v in values]
            leaf = nonfinite_leaf() if nonfinite_leaf is not None and not math.isfinite(host[0]) else None
            origin = {"phase": "gradient", "leaf": leaf} if leaf else None
            self.log(None if step is None else int(step), host[0], host[1:] if names else None, loss=loss, lr=lr, framework=framework, nonfinite_origin=origin)

    # ---- PyTorch ---------------------------------------------------------------------------
    def watch(
        self,
        model: Any,
        *,
        scaler: Any = None,
        accumulation_steps: int = 1,
        sharded: Optional[bool] = None,
        process_group: Any = None,
        norm_type: float = 2.0,
        trace_nonfinite: Union[bool, str] = "forward",
        optimizer: Any = None,
        skip_nonfinite: bool = False,
        max_skips: int = 10,
        snapshot_nonfinite: bool = False,
    ) -> "Monitor":
        """Prepares ``step()`` for a model (an ``nn.Module`` or (name, parameter) pairs).

        ``scaler``: an AMP GradScaler; gradients still scaled are divided by its scale, and skipped
        steps are reported as such. ``accumulation_steps``: call ``step()`` after every backward; only
        every N-th call (the optimizer step) reports. ``sharded``: each rank holds part of the
        gradients (FSDP, ZeRO, split parameters) and the global norm needs an all-reduce; detected for
        FSDP1, FSDP2 and DTensor parameters (whose local shards are reduced, with one all-reduce per
        step), and then every rank must call ``step()``/``clip_grad_norm_``.
        NaN/Inf (docs/python-client.md, "Where a NaN was born"): ``trace_nonfinite`` names the module
        (and source line) where a non-finite value first appeared, with no added host sync: "forward"
        (the default, about 1% of a step) traces forward, True also backward (about 5-10% on small
        models), False is off. ``skip_nonfinite`` (needs ``optimizer``)
        skips optimizer steps with non-finite gradients, keeping the weights, and raises after
        ``max_skips`` in a row. ``snapshot_nonfinite`` saves the first such step's inputs and RNG
        states to replay it.
        """
        from ._torch import TorchGradients, looks_sharded, named_parameters
        from .nonfinite import NonfiniteWatch

        if accumulation_steps < 1:
            raise ValueError(f"accumulation_steps must be at least 1, got {accumulation_steps}")
        gradients = TorchGradients(
            named_parameters(model),
            self.layers,
            self.include,
            self.max_layers,
            sharded=looks_sharded(model) if sharded is None else sharded,
            process_group=process_group,
        )
        if self._torch is not None:
            self._torch.nonfinite.remove()
        nonfinite = NonfiniteWatch(
            model, gradients.params, lambda: self.run_id, trace=trace_nonfinite, optimizer=optimizer, skip=skip_nonfinite,
            snapshot=snapshot_nonfinite, max_skips=max_skips, scaler=scaler, sends=self.sends,
        )
        self._torch = _TorchWatch(gradients, scaler, accumulation_steps, float(norm_type), nonfinite)
        return self

    def step(self, step: Optional[int] = None, loss: Any = None, lr: Any = None) -> None:
        """Reports the watched model's gradient norms; call after ``backward()`` (and after
        ``scaler.unscale_`` if you call it), before ``optimizer.step()``. ``loss`` may be a tensor:
        it travels with the norms, with no extra sync."""
        if self.failure is not None:
            return
        watch = self._torch
        if watch is None:
            raise RuntimeError("call monitor.watch(model) before monitor.step(), or report with monitor.clip_grad_norm_ / monitor.log")
        self._check_step(step)
        watch.micro_steps += 1
        if watch.micro_steps % watch.accumulation_steps:
            return  # a micro-batch: gradients are still accumulating
        if self._clip_used:
            self._warn_once("step-after-clip", "monitor.step() is ignored because monitor.clip_grad_norm_ already reports every optimizer step; pass loss=/lr= to clip_grad_norm_")
            return
        if not self.sends and not watch.gradients.sharded:
            self._take_step(step)
            return
        with self._guard("monitor.step"):
            import torch

            with torch.no_grad():
                values, _total, _grads = watch.gradients.norms(None, watch.norm_type)
            self._report_torch(step, values, loss, lr, None, watch.scaler)

    def clip_grad_norm_(
        self,
        parameters: Union["torch.Tensor", Iterable["torch.Tensor"]],
        max_norm: float,
        norm_type: float = 2.0,
        error_if_nonfinite: bool = False,
        foreach: Optional[bool] = None,
        *,
        step: Optional[int] = None,
        loss: Any = None,
        lr: Any = None,
        scaler: Any = None,
    ) -> "torch.Tensor":
        """Drop-in for ``torch.nn.utils.clip_grad_norm_``: clips, returns the total norm before clipping,
        and reports the norms it computed anyway (per layer too, after ``watch``). Under AMP call
        ``scaler.unscale_(optimizer)`` first, as for torch's own. ``foreach`` is accepted for
        compatibility; batched kernels are always used where the installed torch has them."""
        import torch

        from ._torch import TorchGradients, clip_, raise_if_nonfinite

        params = [parameters] if isinstance(parameters, torch.Tensor) else list(parameters)
        self._check_step(step)
        if self.failure is None:
            try:
                gradients = self._torch.gradients if self._torch is not None else TorchGradients()
                with torch.no_grad():
                    values, total, grads = gradients.norms(params, norm_type)
            except Exception as exc:
                self._fail("monitor.clip_grad_norm_", exc)
        if self.failure is not None:  # monitoring is off: the clipping itself must still happen
            extra = {} if foreach is None else {"foreach": foreach}
            return torch.nn.utils.clip_grad_norm_(params, max_norm, norm_type, error_if_nonfinite, **extra)
        if error_if_nonfinite:
            raise_if_nonfinite(total, norm_type)
        with torch.no_grad():
            clip_(grads, total, max_norm)
        self._clip_used = True
        with self._guard("monitor.clip_grad_norm_"):
            scaler = scaler if scaler is not None else (self._torch.scaler if self._torch else None)
            self._report_torch(step, values, loss, lr, float(max_norm), scaler, clipping=True)
        return total

    def _report_torch(self, step: Optional[int], values: "torch.Tensor", loss: Any, lr: Any, max_norm: Optional[float], scaler: Any, clipping: bool = False) -> None:
        from ._torch import host_values, pack, scaler_view, to_host

        step_no = self._take_step(step)
        self._framework = "pytorch"
        nonfinite = self._torch.nonfinite if self._torch else None
        if nonfinite is not None:
            nonfinite.expect(values[0])
        if not self.sends:
            return
        layer_names = self._torch.gradients.layer_names if self._torch else []
        transport = self._start("pytorch", layer_names)
        divide_by, found_inf = scaler_view(scaler)
        if clipping and divide_by is not None:
            self._warn_once("clip-scaled", "clip_grad_norm_ is clipping scaled gradients: call scaler.unscale_(optimizer) before it")
        traced, finish = nonfinite.collect(values, step_no) if nonfinite is not None else (None, None)
        host, event = to_host(pack(values, divide_by, loss, found_inf, traced))
        n_traced = 0 if traced is None else traced.numel()
        n_layers = len(layer_names)
        has_loss_tensor = hasattr(loss, "detach")
        loss_value = None if has_loss_tensor else _as_float(loss)
        lr_value = _as_float(lr)
        skip_rule = "found_inf" if found_inf else ("nonfinite" if divide_by is not None else None)
        when = time.time()

        def build() -> Message:
            vals = host_values(host, event)
            traced_vals = vals[len(vals) - n_traced :] if n_traced else None
            vals = vals[: len(vals) - n_traced]
            total = vals[0]
            tail = vals[1 + n_layers :]
            skipped = None
            if skip_rule == "found_inf":
                skipped = tail[-1] > 0
            elif skip_rule == "nonfinite":
                # The scaler skips exactly the steps whose scaled gradients hold inf/NaN.
                skipped = not math.isfinite(total)
            clipped = None if max_norm is None or not math.isfinite(total) else total + 1e-6 > max_norm
            loss_out = tail[0] if has_loss_tensor else loss_value
            msg = self._step_message(step_no, when, total, vals[1 : 1 + n_layers] or None, loss_out, lr_value, clipped, skipped)
            if finish is not None:
                finish(msg, traced_vals)
            return msg

        transport.put(build)


def _shared_run_id(local_id: str) -> str:
    """Rank 0's run id on every rank, so that all ranks' reports land in one run."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return local_id
    box = [local_id]
    dist.broadcast_object_list(box, src=0)
    return str(box[0])
