"""Structured JSON logs carrying the request id of the request being served."""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

request_id_var: ContextVar[str | None] = ContextVar("satu_request_id", default=None)

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}
_SECRET_WORDS = ("password", "secret", "token", "authorization", "cookie", "otp", "assertion")


def _is_secret(key: str) -> bool:
    return any(word in key.lower() for word in _SECRET_WORDS)


def _redact(key: str, value: Any, depth: int = 0) -> Any:
    """The value, or a marker if its key names a secret; dicts and header pairs recursively."""
    if _is_secret(key):
        return "[redacted]"
    if depth >= 5:
        return value
    if isinstance(value, dict):
        return {k: _redact(str(k), v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [
            (item[0], _redact(item[0], item[1], depth + 1))
            if isinstance(item, list | tuple) and len(item) == 2 and isinstance(item[0], str)
            else _redact("", item, depth + 1)
            for item in value
        ]
    return value


class JsonFormatter(logging.Formatter):
    """One JSON object per line; keys named like secrets are redacted, also in nested dicts."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = _redact(key, value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(level: str = "INFO", json_logs: bool = True) -> None:
    """Send logs to stderr, as JSON lines unless told otherwise."""
    handler = logging.StreamHandler(sys.stderr)
    if json_logs:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access",):
        logging.getLogger(noisy).setLevel(logging.WARNING)
