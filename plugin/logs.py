"""stderr logging for the poller, with every known secret masked before a line is written.

Fluent Bit passes the command's stderr through to its own log, so whatever reaches stderr reaches
the log pipeline: the token must never be in it, even inside an exception's text.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

LOGGER_NAME = "hf_audit"
MASK = "***"


class Redactor(logging.Filter):
    """Masks each registered secret in log messages (and in any text given to `redact`)."""

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
            formatted = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
            record.exc_text = self.redact(formatted)
        return True


def setup_logging(level: str, redactor: Redactor, org: str = "", stream: TextIO | None = None) -> logging.Logger:
    logger = logging.getLogger(LOGGER_NAME)
    logger.handlers.clear()
    logger.propagate = False
    handler = logging.StreamHandler(stream or sys.stderr)
    prefix = f"hf-audit-poll[{org}]" if org else "hf-audit-poll"
    handler.setFormatter(logging.Formatter(f"{prefix}: %(levelname)s: %(message)s"))
    handler.addFilter(redactor)
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
