"""Runs a report right before a framework's own clipping call, which is where the pre-clip norms are."""
from __future__ import annotations

import functools
from typing import Any, Callable

_MARK = "__gradient_monitor_before__"


def call_before(owner: Any, name: str, before: Callable[[], None]) -> None:
    """Replaces ``owner.name`` (a bound method, on this instance only) by one that calls ``before()`` first.
    ``before`` must not raise (the integrations pass guarded reports). Patching twice replaces the first
    patch instead of stacking."""
    original = getattr(owner, name)
    original = getattr(original, _MARK, original)

    @functools.wraps(original)
    def patched(*args: Any, **kwargs: Any) -> Any:
        before()
        return original(*args, **kwargs)

    setattr(patched, _MARK, original)
    setattr(owner, name, patched)
