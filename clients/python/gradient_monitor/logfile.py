"""The local run log: the same NDJSON format and file names as the extension's logs (src/logs/paths.ts).

One protocol message per line without ``seq``; non-finite numbers are written as the strings
"NaN", "Infinity" and "-Infinity" (bare tokens are not JSON, and the log must stay readable by any
JSON reader).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
from typing import Any, Dict, Iterable, Optional, TextIO

LOG_EXTENSION = ".jsonl"
DEFAULT_LOG_DIR = os.path.join(".gradient-monitor", "runs")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_LEADING = re.compile(r"^[._-]+")
_RESERVED = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)$", re.IGNORECASE)

Message = Dict[str, Any]


def log_file_name(run_id: str) -> str:
    """Safe slug plus a hash of the full id: different ids never share a file, no id escapes the folder."""
    digest = hashlib.sha256(run_id.encode("utf-8")).hexdigest()[:10]
    slug = _LEADING.sub("", _UNSAFE.sub("_", run_id))[:80]
    if _RESERVED.match(slug.split(".")[0]):
        slug = f"_{slug}"
    return f"{slug or 'run'}-{digest}{LOG_EXTENSION}"


def _finite_or_name(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: _finite_or_name(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_name(v) for v in value]
    return value


def log_line(message: Message) -> str:
    """One log line: the message without its connection-local seq, non-finite numbers as strings."""
    body = {k: v for k, v in message.items() if k != "seq"}
    try:
        return json.dumps(body, allow_nan=False, separators=(",", ":"), default=str)
    except ValueError:  # only non-finite floats make allow_nan=False fail; rewrite them then
        return json.dumps(_finite_or_name(body), allow_nan=False, separators=(",", ":"), default=str)


class LocalLog:
    """Append-only writer of one run's log, opened on first write and flushed after each batch."""

    def __init__(self, directory: str, run_id: str) -> None:
        self.path = os.path.join(os.path.abspath(directory), log_file_name(run_id))
        self._file: Optional[TextIO] = None

    def write(self, messages: Iterable[Message]) -> None:
        if self._file is None:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8")
        self._file.write("".join(log_line(m) + "\n" for m in messages))
        self._file.flush()

    @property
    def opened(self) -> bool:
        return self._file is not None

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
