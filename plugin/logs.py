"""stderr logging for the poller: logfmt or JSON lines, with every known secret masked.

Fluent Bit passes the command's stderr through to its own log, so whatever reaches stderr reaches
the log pipeline: the token must never be in it, even inside an exception's text.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

import orjson

from .hubtext import encodable

LOGGER_NAME = "hf_audit"
MASK = "***"
LogFormat = Literal["logfmt", "json"]


class Redactor(logging.Filter):
    """Masks each registered secret in log messages and structured fields."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()

    def add(self, secret: str) -> None:
        if len(secret) >= 4:  # shorter strings would mask ordinary words
            self._secrets.add(secret)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        fields = getattr(record, "fields", None)
        if fields:
            record.fields = {k: self.redact(v) if isinstance(v, str) else v for k, v in fields.items()}
        return True


# Matched with fullmatch: `$` would let a value ending in a newline through unquoted.
_LOGFMT_PLAIN = re.compile(r'[^\s"=\\\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]+')
_LOGFMT_ESCAPE = re.compile("[\x7f-\x9f\u2028\u2029]")


def _logfmt_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".")
    text = str(value)
    if _LOGFMT_PLAIN.fullmatch(text):
        return text
    # Quoted, with every control character escaped (C1 and the Unicode line separators too, which
    # some readers split lines on): a value (an organization name from the environment, a Hub
    # error text) can never forge a line or send terminal escapes.
    return _LOGFMT_ESCAPE.sub(_escaped, json.dumps(text, ensure_ascii=False))


def _escaped(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


class StructuredFormatter(logging.Formatter):
    """One line per record: ts, level, org, msg, then the record's `fields` (the poll summary).
    The finished line is masked again: the org field and anything added here bypass the filter."""

    def __init__(self, fmt: LogFormat, org: str, redactor: Redactor) -> None:
        super().__init__()
        self.fmt = fmt
        self.org = org
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        entry: dict[str, Any] = {
            "ts": stamp.replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": "hf-audit-poll",
            "org": self.org,
            "msg": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        if record.exc_text:
            entry["traceback"] = record.exc_text
        if self.fmt == "json":
            try:
                line = orjson.dumps(entry, default=str).decode()
            except (orjson.JSONEncodeError, TypeError):
                # A lone surrogate (invalid UTF-8 in HF_ORG, say) or an integer beyond 64 bits.
                line = json.dumps(entry, default=str)
            # JSON leaves these raw inside strings, where they are the only place they can be;
            # escaped, no reader that splits lines on them can split this one.
            line = _LOGFMT_ESCAPE.sub(_escaped, line)
        else:
            line = " ".join(f"{key}={_logfmt_value(value)}" for key, value in entry.items())
        return encodable(self.redactor.redact(line))


def setup_logging(
    level: str, redactor: Redactor, org: str = "", fmt: LogFormat = "logfmt", stream: TextIO | None = None
) -> logging.Logger:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(StructuredFormatter(fmt, org, redactor))
    handler.addFilter(redactor)
    logger = logging.getLogger(LOGGER_NAME)
    logger.handlers.clear()
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    # urllib3 reports retries at WARNING; without a handler Python's last-resort one would print
    # them unfiltered, so they go through the same redacting handler.
    transport = logging.getLogger("urllib3")
    transport.handlers.clear()
    transport.propagate = False
    transport.addHandler(handler)
    transport.setLevel(logging.DEBUG if level.upper() == "DEBUG" else logging.WARNING)
    return logger
