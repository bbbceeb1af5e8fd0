"""One websocket connection to the endpoint, over websocket-client when it is installed, else over
the standard-library client (stdlib_websocket), behind the three calls the transport makes."""
from __future__ import annotations

import socket
from typing import Any, List, Optional


def websocket_implementation() -> str:
    """"websocket-client" when that package imports, else "stdlib"."""
    try:
        import websocket  # noqa: F401  (websocket-client)
    except ImportError:
        return "stdlib"
    return "websocket-client"


class Connection:
    def __init__(self, ws: Any, library: Any) -> None:
        self._ws = ws
        self._library = library  # the websocket module, or None for the stdlib client

    @classmethod
    def open(cls, url: str, token: Optional[str], connect_timeout: float, socket_timeout: float) -> "Connection":
        headers: List[str] = [f"Authorization: Bearer {token}"] if token else []
        if websocket_implementation() == "websocket-client":
            import websocket

            ws = websocket.create_connection(url, timeout=connect_timeout, header=headers, suppress_origin=True, enable_multithread=True)
            connection = cls(ws, websocket)
        else:
            from .stdlib_websocket import StdlibWebSocket

            connection = cls(StdlibWebSocket.connect(url, headers, connect_timeout), None)
        connection._ws.settimeout(socket_timeout)
        return connection

    def send(self, text: str) -> None:
        self._ws.send(text)

    def recv(self) -> Optional[str]:
        """The next message; None when nothing came within the socket timeout; "" once closed."""
        timeouts = (socket.timeout,) + ((self._library.WebSocketTimeoutException,) if self._library else ())
        try:
            return self._ws.recv()
        except timeouts:
            return None

    def close(self, graceful: bool) -> None:
        """Closes (with the closing handshake when ``graceful``); a thread blocked in ``recv`` returns."""
        try:
            if self._library is None:
                self._ws.close() if graceful else self._ws.abort()
                return
            if graceful:
                self._ws.send_close()
            self._ws.abort()
            self._ws.shutdown()
        except Exception:
            pass
