"""What a notebook kernel started by VS Code knows about the notebook it runs.

VS Code's Jupyter extension sets ``__vsc_ipynb_file__`` (the notebook's path) in the kernel's globals
and sends each execute request with ``metadata.cellId``: the URI of the cell's document
(``vscode-notebook-cell:/path/nb.ipynb#...``), which the extension maps straight back to the cell.
ipykernel compiles a cell under a temporary file name derived from its source; that name tells the
cell's own frames apart from the frames of functions defined in earlier cells.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any, Optional


@dataclass(frozen=True)
class Cell:
    notebook: str
    # The cell document's URI, when the front end sent it (VS Code does).
    uri: Optional[str]
    # The file name ipykernel compiled the running cell under, when known.
    code_name: Optional[str]


def _shell() -> Any:
    ipython = sys.modules.get("IPython")  # never imported here: only a kernel has it loaded already
    try:
        return ipython.get_ipython() if ipython is not None else None
    except Exception:
        return None


def notebook_file() -> Optional[str]:
    """The notebook's absolute path, in a kernel started by VS Code; else None."""
    shell = _shell()
    path = getattr(shell, "user_ns", {}).get("__vsc_ipynb_file__") if shell is not None else None
    return os.path.abspath(path) if isinstance(path, str) and path else None


def current_cell() -> Optional[Cell]:
    """The cell being executed, in a kernel started by VS Code; else None. Never raises."""
    try:
        notebook = notebook_file()
        if notebook is None:
            return None
        shell = _shell()
        parent = getattr(shell, "parent_header", None) or {}
        uri = (parent.get("metadata") or {}).get("cellId")
        code = (parent.get("content") or {}).get("code")
        get_code_name = getattr(getattr(shell, "compile", None), "get_code_name", None)
        code_name = get_code_name(code, code, None) if isinstance(code, str) and callable(get_code_name) else None
        return Cell(notebook, uri if isinstance(uri, str) else None, code_name if isinstance(code_name, str) else None)
    except Exception:
        return None
