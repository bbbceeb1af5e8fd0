"""Builds a framework callback class on first access, so importing the module needs no framework."""
from __future__ import annotations

import importlib
from typing import Any, Callable, Dict, Sequence, Tuple


def first_importable(candidates: Sequence[Tuple[str, str]], install_hint: str) -> Any:
    """The first ``module.attribute`` that imports, else an ImportError naming what to install."""
    for module, attribute in candidates:
        try:
            return getattr(importlib.import_module(module), attribute)
        except ImportError:
            continue
    raise ImportError(f"gradient_monitor: this callback needs {install_hint}")


def lazy_class(name: str, hooks: type, base: Callable[[], type], cache: Dict[str, type]) -> type:
    """``class name(hooks, base())``, created once."""
    if name not in cache:
        cache[name] = type(name, (hooks, base()), {"__module__": hooks.__module__, "__doc__": hooks.__doc__})
    return cache[name]
