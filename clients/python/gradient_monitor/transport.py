"""Delivery of a run's messages on a background thread; the training thread only appends to a queue.

- The queue between the training thread and the sender is bounded: when it is full the oldest step
  reports are dropped and counted (said once), so training never waits.
- Every message gets a ``seq``; the endpoint acknowledges ``{"type":"ack","seq":N}`` once everything
  up to N is recorded. Unacknowledged messages are kept and sent again after a reconnect (with
  backoff); the endpoint recognises steps it already has, so nothing is lost and nothing doubles.
- While the endpoint is unreachable for longer than a moment, messages are also appended to the local
  run log (same format as the extension's), so a crash during an outage loses nothing. With no endpoint
  at all, the local log is the record.
"""
from __future__ import annotations

import json
import logging
import threading
import time
import warnings
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Deque, List, Optional, Union

from .connection import Connection
from .discovery import Endpoint
from .logfile import LocalLog, Message

logger = logging.getLogger("gradient_monitor")

# A queued report: a finished message, or a callable that builds it on the sender thread (where
# waiting for a device copy costs the training thread nothing).
Report = Union[Message, Callable[[], Optional[Message]]]


@dataclass
class _Entry:
    seq: int
    message: Message
    wire: str
    journaled: bool = False


@dataclass
class TransportOptions:
    queue_size: int = 10_000
    # Unacknowledged messages kept in memory for resending; older ones stay only in the local log.
    max_buffered: int = 100_000
    flush_interval: float = 0.05
    frame_bytes: int = 256 * 1024
    connect_timeout: float = 3.0
    backoff_initial: float = 0.25
    backoff_max: float = 4.0
    # An outage shorter than this is bridged from memory alone (no local log lines for a blip).
    journal_after: float = 1.0
    socket_timeout: float = 10.0


@dataclass
class _Shared:
    """State the training and reader threads touch; always under Transport._lock."""

    queue: Deque[Report] = field(default_factory=deque)
    dropped: int = 0
    run_start: Optional[Message] = None
    run_start_taken: bool = False
    run_end: Optional[Message] = None
    finishing: bool = False
    acked: int = 0
    connection_lost: bool = False


class Transport:
    def __init__(self, resolve: Optional[Callable[[], Optional[Endpoint]]], local_log: LocalLog, options: Optional[TransportOptions] = None) -> None:
        self.local_log = local_log
        self._resolve = resolve
        self._opts = options or TransportOptions()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._shared = _Shared()
        self._outbox: Deque[_Entry] = deque()
        self._next_seq = 0
        self._sent_upto = 0
        self._ws: Optional[Connection] = None
        self._generation = 0
        self._endpoint: Optional[Endpoint] = None
        self._next_attempt = 0.0
        self._backoff = self._opts.backoff_initial
        self._down_since: Optional[float] = None
        self._outage_reported = False
        self._final_attempt_made = False
        self._forgotten = 0
        self._warned: set = set()
        self.delivered = 0
        self._deadline = float("inf")
        self._thread = threading.Thread(target=self._run, name="gradient-monitor-sender", daemon=True)
        self._thread.start()

    # ---- training thread -------------------------------------------------------------------
    def start(self, run_start: Message) -> None:
        with self._lock:
            self._shared.run_start = run_start
        self._wake.set()

    def put(self, report: Report) -> None:
        """Queues one step report; never blocks. When the queue is full the oldest report is dropped."""
        first_drop = False
        with self._lock:
            q = self._shared.queue
            if len(q) >= self._opts.queue_size:
                q.popleft()
                self._shared.dropped += 1
                first_drop = self._shared.dropped == 1
            q.append(report)
            wake = len(q) >= 256
        if wake:
            self._wake.set()
        if first_drop:
            warnings.warn(
                f"gradient_monitor: the report queue is full ({self._opts.queue_size} reports); the oldest are dropped "
                "so training never waits (count in Monitor.dropped)",
                RuntimeWarning,
                stacklevel=3,
            )

    @property
    def dropped(self) -> int:
        with self._lock:
            return self._shared.dropped

    @property
    def connected(self) -> bool:
        return self._ws is not None

    def close(self, run_end: Optional[Message], timeout: float) -> None:
        """Sends what is left and run_end, waiting up to ``timeout`` s for acknowledgements; the rest goes to the local log."""
        with self._lock:
            self._shared.run_end = run_end
            self._shared.finishing = True
        self._deadline = time.monotonic() + timeout
        self._wake.set()
        self._thread.join(timeout + self._opts.connect_timeout + 2.0)

    # ---- sender thread ---------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            self._wake.wait(self._opts.flush_interval)
            self._wake.clear()
            try:
                finishing = self._take_reports()
                self._apply_acks()
                if self._resolve is None:
                    self._journal(list(self._outbox))
                    self._outbox.clear()
                else:
                    self._deliver(finishing)
                if finishing and self._done():
                    break
            except Exception as e:  # the sender must never die silently and leave data behind
                logger.exception("gradient_monitor: sender error: %s", e)
                time.sleep(self._opts.flush_interval)
        self._finish()

    def _done(self) -> bool:
        if not self._outbox or time.monotonic() >= self._deadline:
            return True
        return self._ws is None and self._final_attempt_made

    def _take_reports(self) -> bool:
        with self._lock:
            s = self._shared
            run_start = None
            if s.run_start is not None and not s.run_start_taken:
                run_start, s.run_start_taken = s.run_start, True
            reports = list(s.queue)
            s.queue.clear()
            finishing = s.finishing
            run_end = s.run_end if finishing else None
            s.run_end = None
        if run_start is not None:
            self._add(run_start)
        for report in reports:
            try:
                message = report() if callable(report) else report
            except Exception as e:  # a bad report must not take the others with it
                self._warn_once("report", f"gradient_monitor: a step report failed and was skipped: {e!r}")
                continue
            if message is not None:
                self._add(message)
        if run_end is not None:
            self._add(run_end)
        return finishing

    def _add(self, message: Message) -> None:
        self._next_seq += 1
        message = {**message, "seq": self._next_seq}
        self._outbox.append(_Entry(self._next_seq, message, json.dumps(message, allow_nan=True, separators=(",", ":"), default=str)))

    def _apply_acks(self) -> None:
        with self._lock:
            acked = self._shared.acked
            lost = self._shared.connection_lost
            self._shared.connection_lost = False
        while self._outbox and self._outbox[0].seq <= acked:
            self._outbox.popleft()
            self.delivered += 1
        if lost and self._ws is not None:
            self._disconnect("the endpoint closed the connection")

    def _deliver(self, finishing: bool) -> None:
        if self._ws is None:
            now = time.monotonic()
            # When finishing, one more immediate try: the endpoint may be back.
            if now >= self._next_attempt or (finishing and not self._final_attempt_made):
                self._final_attempt_made = finishing
                self._connect()
        if self._ws is None:
            if finishing or (self._down_since is not None and time.monotonic() - self._down_since >= self._opts.journal_after):
                self._journal([e for e in self._outbox if not e.journaled])
            self._bound_outbox()
            return
        self._send_pending()

    def _connect(self) -> None:
        endpoint = self._resolve() if self._resolve else None
        if endpoint is None:
            self._connection_failed("no endpoint found")
            return
        try:
            ws = Connection.open(endpoint.url, endpoint.token, self._opts.connect_timeout, self._opts.socket_timeout)
        except Exception as e:
            self._connection_failed(f"{endpoint.url}: {e}")
            return
        self._ws = ws
        self._endpoint = endpoint
        self._generation += 1
        with self._lock:
            self._shared.connection_lost = False
        threading.Thread(target=self._read, args=(ws, self._generation), name="gradient-monitor-reader", daemon=True).start()
        self._backoff = self._opts.backoff_initial
        resent = len(self._outbox)
        if self._down_since is not None and self._outage_reported:
            logger.warning("gradient_monitor: reconnected to %s; sending %d unacknowledged messages again", endpoint.url, resent)
        self._down_since = None
        self._outage_reported = False
        self._sent_upto = 0
        run_start = self._shared.run_start
        first = self._outbox[0].message if self._outbox else None
        if run_start is not None and self._shared.run_start_taken and (first is None or first.get("type") != "run_start"):
            # A fresh endpoint may not know this run: describe it again (no seq: it needs no ack).
            self._send_text(json.dumps(run_start, allow_nan=True, separators=(",", ":"), default=str))

    def _connection_failed(self, reason: str) -> None:
        now = time.monotonic()
        if self._down_since is None:
            self._down_since = now
        self._next_attempt = now + self._backoff
        self._backoff = min(self._backoff * 2, self._opts.backoff_max)
        if not self._outage_reported:
            self._outage_reported = True
            logger.warning(
                "gradient_monitor: cannot reach the endpoint (%s); training goes on, reports are kept, written to %s and sent again on reconnect",
                reason,
                self.local_log.path,
            )

    def _disconnect(self, reason: str) -> None:
        ws, self._ws = self._ws, None
        self._generation += 1
        if ws is not None:
            ws.close(graceful=False)
        self._connection_failed(reason)

    def _send_pending(self) -> None:
        # Messages go one per line: the endpoint finds them with a line-feed search and records each
        # line as it is (faster than a JSON array, whose elements it must scan for).
        batch: List[str] = []
        size = 0
        last = self._sent_upto
        for entry in self._outbox:
            if entry.seq <= self._sent_upto:
                continue
            if batch and size + len(entry.wire) > self._opts.frame_bytes:
                if not self._send_text("\n".join(batch)):
                    return
                self._sent_upto = last
                batch, size = [], 0
            batch.append(entry.wire)
            size += len(entry.wire) + 1
            last = entry.seq
        if batch and self._send_text("\n".join(batch)):
            self._sent_upto = last

    def _send_text(self, text: str) -> bool:
        try:
            self._ws.send(text)  # type: ignore[union-attr]  (only called while connected)
            return True
        except Exception as e:
            self._disconnect(f"send failed: {e}")
            return False

    def _read(self, ws: Connection, generation: int) -> None:
        while True:
            try:
                text = ws.recv()
            except Exception:
                break
            if text is None:
                continue  # nothing within the socket timeout
            if not text:
                break
            self._on_reply(text)
        with self._lock:
            if generation == self._generation:
                self._shared.connection_lost = True
        self._wake.set()

    def _on_reply(self, text: Union[str, bytes]) -> None:
        try:
            replies = json.loads(text)
        except ValueError:
            return
        highest = 0
        for r in replies if isinstance(replies, list) else [replies]:
            if not isinstance(r, dict):
                continue
            seq = r.get("seq")
            if r.get("type") == "error":
                self._warn_once(f"error:{r.get('code')}", f"gradient_monitor: the endpoint refused a message ({r.get('code')}): {r.get('message')}")
                if r.get("code") == "rate_limited":
                    with self._lock:
                        self._shared.connection_lost = True  # reconnect and send the unacknowledged again
            # The endpoint replies after a whole frame is handled, so a seq in an error also means
            # every earlier message is processed.
            if isinstance(seq, int) and r.get("type") in ("ack", "error"):
                highest = max(highest, seq)
        if highest:
            with self._lock:
                self._shared.acked = max(self._shared.acked, highest)
            self._wake.set()

    def _journal(self, entries: List[_Entry]) -> None:
        if not entries:
            return
        messages = [e.message for e in entries]
        run_start = self._shared.run_start
        if not self.local_log.opened and run_start is not None and messages[0].get("type") != "run_start":
            messages.insert(0, run_start)  # every log starts by describing its run
        try:
            self.local_log.write(messages)
        except OSError as e:
            self._warn_once("journal", f"gradient_monitor: cannot write the local log {self.local_log.path}: {e}")
            return
        for e in entries:
            e.journaled = True

    def _bound_outbox(self) -> None:
        while len(self._outbox) > self._opts.max_buffered and self._outbox[0].journaled:
            self._outbox.popleft()
            self._forgotten += 1
            if self._forgotten == 1:
                logger.warning(
                    "gradient_monitor: the endpoint has been unreachable for %d messages; older ones are kept only in %s",
                    self._opts.max_buffered,
                    self.local_log.path,
                )

    def _finish(self) -> None:
        self._apply_acks()
        left = [e for e in self._outbox if not e.journaled]
        self._journal(left)
        if self._outbox and self._resolve is not None:
            logger.warning("gradient_monitor: %d messages were not acknowledged by the endpoint; they are in %s", len(self._outbox), self.local_log.path)
        ws, self._ws = self._ws, None
        self._generation += 1
        if ws is not None:
            ws.close(graceful=True)
        self.local_log.close()

    def _warn_once(self, key: str, text: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            logger.warning(text)
