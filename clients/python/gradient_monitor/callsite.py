"""Facts about the training process sent in run_start.meta: the call site the extension annotates, and who is running."""
from __future__ import annotations

import os
import socket
import sys
from typing import Any, Dict, Optional, Tuple

from ._version import CLIENT
from .notebook import Cell, current_cell

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def user_call_site(skip_dirs: Tuple[str, ...] = ()) -> Optional[Tuple[str, int]]:
    """(absolute file, 1-based line) of the innermost frame outside this package (and ``skip_dirs``).
    In a VS Code notebook kernel: (the notebook, line in the running cell) of that cell's frame."""
    cell = current_cell()
    if cell is not None:
        return _cell_call_site(cell)
    skip = (_PACKAGE_DIR,) + _framework_dirs() + tuple(os.path.abspath(d) for d in skip_dirs)
    frame = sys._getframe(1)
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        # Code traced by tf.function runs as AutoGraph's rewrite, from a temporary file: the line named is
        # then the one that called the tf.function.
        generated = os.path.basename(filename).startswith("__autograph_generated_file")
        if not generated and not any(filename == d or filename.startswith(d + os.sep) for d in skip):
            return (filename, frame.f_lineno) if os.path.isfile(filename) else None
        frame = frame.f_back  # type: ignore[assignment]
    return None


def _cell_call_site(cell: Cell) -> Optional[Tuple[str, int]]:
    # Functions defined in earlier cells sit in between; the running cell's own frame is further out.
    frame = sys._getframe(2)
    while frame is not None:
        if cell.code_name is not None and frame.f_code.co_filename == cell.code_name:
            return cell.notebook, frame.f_lineno
        frame = frame.f_back  # type: ignore[assignment]
    return None


def _framework_dirs() -> Tuple[str, ...]:
    """TensorFlow's package, when loaded: its frames (AutoGraph's call machinery) are never the user's."""
    tf = sys.modules.get("tensorflow")
    tf_file = getattr(tf, "__file__", None) if tf is not None else None
    return (os.path.dirname(os.path.abspath(tf_file)),) if tf_file else ()


def process_meta(call_site: Optional[Tuple[str, int]], rank: int, world_size: int) -> Dict[str, Any]:
    meta: Dict[str, Any] = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "argv": list(sys.argv),
        "cwd": os.getcwd(),
        "rank": rank,
        "world_size": world_size,
        "client": CLIENT,
    }
    cell = current_cell()
    if call_site is not None:
        meta["script"], meta["line"] = call_site
    elif cell is not None:
        meta["script"] = cell.notebook  # the cell's frame was not found: the notebook, without a line
    elif sys.argv and sys.argv[0] and os.path.isfile(sys.argv[0]):
        meta["script"] = os.path.abspath(sys.argv[0])  # no usable frame: the script, without a line
    if cell is not None and cell.uri is not None and meta.get("script") == cell.notebook:
        meta["cell"] = cell.uri  # the extension puts the run's diagnostics on this cell
    return meta


def distributed_rank() -> Tuple[int, int]:
    """(rank, world size) from torch.distributed when initialised, else from the launcher's environment."""
    torch = sys.modules.get("torch")
    dist = getattr(torch, "distributed", None) if torch is not None else None
    if dist is not None and dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    try:
        return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return 0, 1
