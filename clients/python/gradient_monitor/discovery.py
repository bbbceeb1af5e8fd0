"""Where to send: explicit arguments, then GRADIENT_MONITOR_URL/TOKEN, then the discovery files.

Discovery files (``~/.gradient-monitor/endpoints/*.json``, or ``$GRADIENT_MONITOR_HOME/endpoints``)
are written by every running endpoint: {url, token, pid, workspaceFolders, startedAt, logDir}. The
endpoint whose workspace folder contains the working directory wins (longest folder first), else the
newest one; files of processes that are gone are ignored.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, List, Optional

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


def choose_discovered(records: List[dict], cwd: str) -> Optional[dict]:
    best: Optional[dict] = None
    best_len = -1
    for r in records:
        folders = r.get("workspaceFolders") or []
        for folder in folders if isinstance(folders, list) else []:
            if isinstance(folder, str) and _inside(cwd, folder) and len(folder) > best_len:
                best, best_len = r, len(folder)
    if best is not None:
        return best
    newest = sorted(records, key=lambda r: r.get("startedAt") if isinstance(r.get("startedAt"), (int, float)) else 0, reverse=True)
    return newest[0] if newest else None


def resolve_endpoint(url: Optional[str] = None, token: Optional[str] = None, cwd: Optional[str] = None) -> Optional[Endpoint]:
    if url:
        return Endpoint(url, token or os.environ.get(TOKEN_ENV))
    env_url = os.environ.get(URL_ENV)
    if env_url:
        return Endpoint(env_url, token or os.environ.get(TOKEN_ENV), source=URL_ENV)
    chosen = choose_discovered(read_discovery(), cwd or os.getcwd())
    if chosen is None:
        return None
    log_dir = chosen.get("logDir")
    return Endpoint(chosen["url"], token or chosen["token"], log_dir if isinstance(log_dir, str) else None, source="discovery")
