"""Structured logging: JSON lines in production, readable text locally.

Call sites log an event name as the message and put the details in
``extra={"fields": {...}}``; both formatters render those fields.
"""

import json
import logging
import sys
from typing import Any

from services.kernel import correlation

_RESERVED = "fields"


def fields(**values: Any) -> dict[str, Any]:
    """``log.info("login", extra=fields(device="hd3001"))``."""
    return {_RESERVED: values}


def _details(record: logging.LogRecord) -> dict[str, Any]:
    """The record's fields, and the call's or request's correlation id."""
    details: dict[str, Any] = dict(getattr(record, _RESERVED, {}))
    cid = correlation.current.get()
    if cid:
        details.setdefault("correlation_id", cid)
    return details


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        entry.update(_details(record))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, separators=(",", ":"))


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-5s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = _details(record)
        if extra:
            line += " " + " ".join(f"{k}={v}" for k, v in extra.items())
        return line


def configure_logging(log_format: str = "text", level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
