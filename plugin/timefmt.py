"""The one time format every checkpoint, record and sink uses: RFC 3339, UTC, milliseconds, Z.

Text in this form sorts in time order, so the checkpoint's rules compare strings, not datetimes.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

# ASCII digits only (\d alone takes any script's digits), matched whole with fullmatch: `$` would
# let a trailing newline through into eventTime.
CANONICAL_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", re.ASCII)
# Event times a poll accepts: the Hub's audit log cannot predate 2000, and a date a century ahead
# of this machine's clock is no clock skew. Anything outside is a malformed event (poll.py).
EARLIEST_EVENT_TIME = "2000-01-01T00:00:00.000Z"
LATEST_EVENT_AHEAD = timedelta(days=36525)  # 100 years


def sane_time_window(now: datetime) -> tuple[str, str]:
    """The earliest and latest event time a poll at `now` accepts, in the canonical form."""
    return EARLIEST_EVENT_TIME, format_time(now + LATEST_EVENT_AHEAD)


def is_canonical_time(value: str) -> bool:
    """RFC 3339 UTC with milliseconds and a Z, and a real calendar time: the form kept in the checkpoint."""
    if not CANONICAL_TIME.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value[:-1])
    except ValueError:
        return False
    return True


def format_time(value: datetime) -> str:
    """RFC 3339 UTC with milliseconds and a Z, the form every sink parses."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """An RFC 3339 time; one without an offset is taken as UTC."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
