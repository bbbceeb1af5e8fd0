"""Gradient Monitor client: stream gradient norms from training to the Gradient Monitor VS Code extension.

    from gradient_monitor import Monitor

    with Monitor("my run") as monitor:
        monitor.watch(model)
        for batch in data:
            loss = model(batch).loss
            loss.backward()
            monitor.step(loss=loss)          # or: monitor.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step(); optimizer.zero_grad()
"""
from ._version import __version__
from .layers import group_layers
from .logfile import log_file_name
from .monitor import Monitor

__all__ = ["Monitor", "__version__", "group_layers", "log_file_name"]
