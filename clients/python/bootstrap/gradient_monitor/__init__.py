"""Stands in for ``gradient_monitor`` on the PYTHONPATH of VS Code's integrated terminals.

PYTHONPATH comes before site-packages, so the extension cannot put its bundled client there without
hiding a copy the user installed. It puts this folder there instead: on import, this module looks for
``gradient_monitor`` on the rest of ``sys.path``, and loads the user's copy when there is one (warning
once when its version differs from the bundled one), else the copy bundled beside this folder. Either
way it replaces itself in ``sys.modules``, so ``import gradient_monitor`` yields the real package.
"""
import importlib.machinery
import importlib.util
import os
import re
import sys
import warnings

_HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_BUNDLED_ROOT = os.path.dirname(_HERE)  # holds the bundled gradient_monitor package


def _same_dir(entry, folder):
    return os.path.normcase(os.path.abspath(entry or os.curdir)) == os.path.normcase(folder)


def _bundled_version():
    try:
        with open(os.path.join(_BUNDLED_ROOT, __name__, "_version.py"), encoding="utf-8") as f:
            found = re.search(r"__version__\s*=\s*[\"']([^\"']+)", f.read())
    except OSError:
        return None
    return found.group(1) if found else None


def _load():
    elsewhere = [p for p in sys.path if isinstance(p, str) and not _same_dir(p, _HERE)]
    spec = importlib.machinery.PathFinder.find_spec(__name__, elsewhere)
    installed = spec is not None
    if spec is None:
        spec = importlib.machinery.PathFinder.find_spec(__name__, [_BUNDLED_ROOT])
    if spec is None or spec.loader is None:
        raise ImportError(f"the Gradient Monitor client bundled at {_BUNDLED_ROOT} is missing", name=__name__)
    module = importlib.util.module_from_spec(spec)
    sys.modules[__name__] = module  # its own relative imports need it there while it runs
    spec.loader.exec_module(module)
    bundled = _bundled_version()
    theirs = getattr(module, "__version__", None)
    if installed and theirs != bundled:
        warnings.warn(
            f"gradient_monitor {theirs} installed at {os.path.dirname(module.__file__ or '')} is used; the Gradient Monitor "
            f"extension bundles {bundled}. Run 'Gradient Monitor: Install Python Client' to update it, or uninstall it.",
            RuntimeWarning,
            stacklevel=2,
        )


_load()
