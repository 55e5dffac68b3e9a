"""Text that comes from the Hub (error bodies, headers, redirect targets) made safe for a log line.

Hub text is not ours: it may hold lone surrogates (a `\\ud800` escape in a JSON error body), control
characters or megabytes. Every message that quotes it goes through `hub_text` first, so writing a
log line, the health file or the summary can never fail or be forged because of what the Hub said.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029]")
DEFAULT_LIMIT = 300


def hub_text(text: str, limit: int = DEFAULT_LIMIT) -> str:
    """`text` cut to `limit` characters, with control characters and lone surrogates replaced by U+FFFD."""
    cut = text[:limit]
    cleaned = _UNSAFE.sub("\ufffd", cut)
    return cleaned + "…" if len(text) > limit else cleaned


def encodable(text: str) -> str:
    """`text` with lone surrogates (from the Hub, or an environment variable holding invalid UTF-8)
    written as `\\udcff`-style escapes, so any UTF-8 writer takes it."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
