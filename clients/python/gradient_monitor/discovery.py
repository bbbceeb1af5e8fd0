"""Where to send: explicit arguments, then GRADIENT_MONITOR_URL/TOKEN, then the discovery files.

Discovery files (``~/.gradient-monitor/endpoints/*.json``, or ``$GRADIENT_MONITOR_HOME/endpoints``)
are written by every running endpoint: {url, token, pid, workspaceFolders, startedAt, logDir}. The
endpoint whose workspace folder contains the notebook's folder (in a kernel started by VS Code) or the
working directory wins (longest folder first), else the newest one; files of processes that are gone
are ignored.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, List, Optional, Sequence, Tuple

from .notebook import notebook_file

URL_ENV = "GRADIENT_MONITOR_URL"
TOKEN_ENV = "GRADIENT_MONITOR_TOKEN"
HOME_ENV = "GRADIENT_MONITOR_HOME"


@dataclass(frozen=True)
class Endpoint:
    url: str
    token: Optional[str]
    # Where that endpoint records runs, when known (from its discovery file).
    log_dir: Optional[str] = None
    source: str = "argument"
    # Why this endpoint, in words (python -m gradient_monitor doctor prints it).
    reason: str = "passed to Monitor(url=...)"


def discovery_dir() -> str:
    home = os.environ.get(HOME_ENV) or os.path.join(os.path.expanduser("~"), ".gradient-monitor")
    return os.path.join(home, "endpoints")


def pid_alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    except OSError:
        return False
    return True


def _inside(path: str, folder: str) -> bool:
    folder = os.path.normcase(os.path.abspath(folder))
    path = os.path.normcase(os.path.abspath(path))
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def read_discovery(directory: Optional[str] = None) -> List[dict]:
    """Readable records of live endpoints; torn or foreign files are skipped."""
    directory = directory or discovery_dir()
    try:
        names = [n for n in os.listdir(directory) if n.endswith(".json")]
    except OSError:
        return []
    records = []
    for name in names:
        try:
            with open(os.path.join(directory, name), encoding="utf-8") as f:
                record = json.load(f)
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and isinstance(record.get("url"), str) and isinstance(record.get("token"), str) and pid_alive(record.get("pid")):
            records.append(record)
    return records


def choose_discovered(records: List[dict], places: Sequence[str]) -> Tuple[Optional[dict], str]:
    """The record whose workspace folder contains the first of ``places`` that any contains (the
    longest such folder), else the newest record; with the reason."""
    for place in places:
        best: Optional[dict] = None
        best_folder = ""
        for r in records:
            folders = r.get("workspaceFolders") or []
            for folder in folders if isinstance(folders, list) else []:
                if isinstance(folder, str) and _inside(place, folder) and len(folder) > len(best_folder):
                    best, best_folder = r, folder
        if best is not None:
            return best, f"its workspace folder {best_folder} contains {place}"
    newest = sorted(records, key=lambda r: r.get("startedAt") if isinstance(r.get("startedAt"), (int, float)) else 0, reverse=True)
    if not newest:
        return None, "no live endpoint has a discovery file"
    return newest[0], f"the newest of {len(newest)} live endpoint(s): no workspace folder contains {' or '.join(places)}"


def discovery_places(cwd: Optional[str] = None) -> List[str]:
    """Where this process works: the notebook's folder (in a VS Code kernel), then the working directory."""
    notebook = notebook_file()
    places = [os.path.dirname(notebook)] if notebook else []
    if cwd is None:
        try:
            cwd = os.getcwd()
        except OSError:  # the working directory was deleted under a running job
            return places
    return places + [p for p in [os.path.abspath(cwd)] if p not in places]


def resolve_endpoint(url: Optional[str] = None, token: Optional[str] = None, cwd: Optional[str] = None) -> Optional[Endpoint]:
    if url:
        return Endpoint(url, token or os.environ.get(TOKEN_ENV))
    env_url = os.environ.get(URL_ENV)
    if env_url:
        reason = f"{URL_ENV} is set (VS Code's integrated terminals set it)"
        return Endpoint(env_url, token or os.environ.get(TOKEN_ENV), source=URL_ENV, reason=reason)
    chosen, reason = choose_discovered(read_discovery(), discovery_places(cwd))
    if chosen is None:
        return None
    log_dir = chosen.get("logDir")
    reason = f"discovery file of process {chosen.get('pid')} in {discovery_dir()}: {reason}"
    return Endpoint(chosen["url"], token or chosen["token"], log_dir if isinstance(log_dir, str) else None, "discovery", reason)
