"""``python -m gradient_monitor doctor``: which endpoint a run started here would stream to, and why."""
from __future__ import annotations

import os
import sys
from typing import List, Optional, TextIO

from ._version import __version__
from .connection import Connection, websocket_implementation
from .discovery import HOME_ENV, TOKEN_ENV, URL_ENV, choose_discovered, discovery_dir, discovery_places, read_discovery, resolve_endpoint
from .logfile import DEFAULT_LOG_DIR
from .notebook import notebook_file


def main(argv: Optional[List[str]] = None, out: TextIO = sys.stdout) -> int:
    """Prints the report; exits 0 whether or not an endpoint is found (a local log is a valid outcome)."""
    args = list(argv or [])
    connect = "--no-connect" not in args
    say = lambda text="": print(text, file=out)  # noqa: E731
    package = os.path.dirname(os.path.abspath(__file__))
    say(f"gradient_monitor {__version__} from {package}")
    say(f"python {sys.version.split()[0]} at {sys.executable}")
    say(f"websocket: {websocket_implementation()}" + ("" if websocket_implementation() == "websocket-client" else " (websocket-client is not installed: the built-in client is used)"))
    notebook = notebook_file()
    if notebook:
        say(f"notebook: {notebook}")
    say()
    for name in (URL_ENV, TOKEN_ENV, HOME_ENV):
        value = os.environ.get(name)
        shown = "(not set)" if value is None else ("(set)" if name == TOKEN_ENV and value else value or "(empty)")
        say(f"{name}: {shown}")
    records = read_discovery()
    say(f"discovery files: {len(records)} live endpoint(s) in {discovery_dir()}")
    for r in records:
        folders = ", ".join(f for f in r.get("workspaceFolders") or [] if isinstance(f, str)) or "no workspace folder"
        say(f"  {r.get('url')}  pid {r.get('pid')}  {folders}")
    if not os.environ.get(URL_ENV):
        say(f"looking for a workspace containing: {', '.join(discovery_places())}")
    say()
    endpoint = resolve_endpoint()
    if endpoint is None:
        _, why = choose_discovered(records, discovery_places())
        say(f"endpoint: none ({why}; {URL_ENV} is not set)")
        say(f"runs are recorded to {os.path.abspath(DEFAULT_LOG_DIR)}; a VS Code window whose workspace holds that folder follows them live")
        return 0
    say(f"endpoint: {endpoint.url}")
    say(f"because: {endpoint.reason}")
    if connect:
        try:
            Connection.open(endpoint.url, endpoint.token, 3.0, 3.0).close(graceful=True)
            say("reachable: yes (the endpoint accepted the token)")
        except Exception as e:
            say(f"reachable: no ({e}); runs fall back to {os.path.abspath(DEFAULT_LOG_DIR)} until it is")
    return 0
