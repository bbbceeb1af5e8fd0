"""A small RFC 6455 websocket client on the standard library alone.

The client prefers websocket-client; this one is its fallback so that the copy bundled with the VS
Code extension works in an interpreter with nothing installed. It does what the transport needs and
no more: the opening handshake (with the accept key checked), masked text frames out, text frames in
(fragmented or not), ping answered by pong, and the closing handshake.
"""
from __future__ import annotations

import base64
import hashlib
import os
import socket
import ssl
import struct
import threading
from typing import List, Optional, Tuple
from urllib.parse import urlsplit

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
# Replies of the endpoint are small acknowledgements; anything far larger is not a reply of ours.
MAX_MESSAGE_BYTES = 16 << 20


class HandshakeError(OSError):
    """The server did not switch protocols (wrong token, wrong path, not a websocket endpoint)."""


class ProtocolError(OSError):
    """The server broke RFC 6455 framing."""


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + _GUID).digest()).decode("ascii")


def mask(payload: bytes, key: bytes) -> bytes:
    """XOR with the repeated 4-byte key, as one big integer operation (fast for large frames)."""
    n = len(payload)
    if n == 0:
        return payload
    repeated = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(n, "big")


def encode_frame(opcode: int, payload: bytes, key: Optional[bytes] = None) -> bytes:
    """One final frame, masked as a client must (RFC 6455 5.3)."""
    key = key if key is not None else os.urandom(4)
    n = len(payload)
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 1 << 16:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    return head + key + mask(payload, key)


def _address(url: str) -> Tuple[str, int, str, bool]:
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss"):
        raise ValueError(f"not a websocket URL: {url!r}")
    secure = parts.scheme == "wss"
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.hostname or "127.0.0.1", parts.port or (443 if secure else 80), path, secure


class StdlibWebSocket:
    """One client connection. ``send`` may be called from one thread while another ``recv``s."""

    def __init__(self, sock: socket.socket, buffered: bytes) -> None:
        self._sock = sock
        self._buffer = bytearray(buffered)
        self._send_lock = threading.Lock()
        self._fragments: List[bytes] = []
        self._close_sent = False

    @classmethod
    def connect(cls, url: str, headers: List[str], timeout: float) -> "StdlibWebSocket":
        host, port, path, secure = _address(url)
        sock = socket.create_connection((host, port), timeout=timeout)
        try:
            if secure:
                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
            key = base64.b64encode(os.urandom(16)).decode("ascii")
            host_header = host if port in (80, 443) else f"{host}:{port}"
            request = [
                f"GET {path} HTTP/1.1",
                f"Host: {host_header}",
                "Upgrade: websocket",
                "Connection: Upgrade",
                f"Sec-WebSocket-Key: {key}",
                "Sec-WebSocket-Version: 13",
                *headers,
            ]
            sock.sendall(("\r\n".join(request) + "\r\n\r\n").encode("latin-1"))
            head, rest = _read_response_head(sock)
            _check_response(head, key)
            return cls(sock, rest)
        except BaseException:
            sock.close()
            raise

    def settimeout(self, seconds: Optional[float]) -> None:
        self._sock.settimeout(seconds)

    def send(self, text: str) -> None:
        self._send_frame(OP_TEXT, text.encode("utf-8"))

    def recv(self) -> str:
        """The next text (or binary, decoded) message; "" once the server closed. Raises
        ``socket.timeout`` when nothing complete arrived in time (what arrived stays buffered)."""
        while True:
            frame = self._take_frame()
            if frame is None:
                chunk = self._sock.recv(65536)
                if not chunk:
                    return ""
                self._buffer += chunk
                continue
            fin, opcode, payload = frame
            if opcode == OP_PING:
                self._send_frame(OP_PONG, payload)
            elif opcode == OP_PONG:
                continue
            elif opcode == OP_CLOSE:
                self._reply_close(payload[:2])
                return ""
            elif opcode in (OP_TEXT, OP_BINARY, OP_CONTINUATION):
                if opcode != OP_CONTINUATION and self._fragments:
                    raise ProtocolError("a new message began before the fragmented one ended")
                self._fragments.append(payload)
                if sum(len(f) for f in self._fragments) > MAX_MESSAGE_BYTES:
                    raise ProtocolError(f"a message longer than {MAX_MESSAGE_BYTES} bytes")
                if fin:
                    message, self._fragments = b"".join(self._fragments), []
                    return message.decode("utf-8", errors="replace")
            else:
                raise ProtocolError(f"unknown opcode {opcode:#x}")

    def close(self) -> None:
        """Starts the closing handshake (best effort) and closes the socket."""
        try:
            self._reply_close(struct.pack("!H", 1000))
        except OSError:
            pass
        self.abort()

    def abort(self) -> None:
        """Closes at once; a thread blocked in ``recv`` returns."""
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()

    def _reply_close(self, code: bytes) -> None:
        if not self._close_sent:
            self._close_sent = True
            self._send_frame(OP_CLOSE, code)

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        frame = encode_frame(opcode, payload)
        with self._send_lock:
            self._sock.sendall(frame)

    def _take_frame(self) -> Optional[Tuple[bool, int, bytes]]:
        """The first complete frame in the buffer, removed from it, or None."""
        b = self._buffer
        if len(b) < 2:
            return None
        fin, opcode = bool(b[0] & 0x80), b[0] & 0x0F
        if b[0] & 0x70:
            raise ProtocolError("reserved bits set: no extension was negotiated")
        masked, length = bool(b[1] & 0x80), b[1] & 0x7F
        at = 2
        if length == 126:
            if len(b) < 4:
                return None
            length, at = struct.unpack_from("!H", b, 2)[0], 4
        elif length == 127:
            if len(b) < 10:
                return None
            length, at = struct.unpack_from("!Q", b, 2)[0], 10
        if length > MAX_MESSAGE_BYTES:
            raise ProtocolError(f"a frame of {length} bytes")
        key = b""
        if masked:
            if len(b) < at + 4:
                return None
            key, at = bytes(b[at : at + 4]), at + 4
        if len(b) < at + length:
            return None
        payload = bytes(b[at : at + length])
        del b[: at + length]
        return fin, opcode, mask(payload, key) if masked else payload


def _read_response_head(sock: socket.socket) -> Tuple[bytes, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise HandshakeError("the server closed the connection during the handshake")
        data += chunk
        if len(data) > 64 * 1024:
            raise HandshakeError("the handshake response is too long")
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def _check_response(head: bytes, key: str) -> None:
    lines = head.decode("latin-1").split("\r\n")
    status = lines[0].split(" ", 2)
    if len(status) < 2 or status[1] != "101":
        raise HandshakeError(f"Handshake status {' '.join(status[1:]) or lines[0]}")
    fields = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    if fields.get("upgrade", "").lower() != "websocket":
        raise HandshakeError("the server did not upgrade to websocket")
    if fields.get("sec-websocket-accept") != accept_key(key):
        raise HandshakeError("the server's Sec-WebSocket-Accept does not match the key")
