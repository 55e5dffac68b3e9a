"""The Hub's audit event as it arrives: the edge model, and what makes an event malformed.

Only what the poller cannot do without is required: `_id` (to dedupe), `createdAt` (to order and
checkpoint) and `type` (the event name). Everything else is optional and read leniently, so a Hub
that adds fields or drops one does not lose events.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

_CANONICAL_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
_LENIENT = ConfigDict(extra="ignore", coerce_numbers_to_str=True, populate_by_name=True)


class Author(BaseModel):
    model_config = _LENIENT
    id: str = Field(default="", alias="_id")
    user: str = ""
    avatarUrl: str = ""
    type: str = ""
    deleted: bool | None = None


class Location(BaseModel):
    model_config = _LENIENT
    formatted: str = ""
    country: str = ""
    city: str = ""


class Token(BaseModel):
    model_config = _LENIENT
    type: str = ""
    id: str = ""
    role: str = ""
    last4: str = ""
    deleted: bool = False


class OAuth(BaseModel):
    model_config = _LENIENT
    clientId: str = ""
    name: str = ""


class HubEvent(BaseModel):
    model_config = _LENIENT

    id: str = Field(alias="_id", min_length=1, max_length=256)
    # Kept as text in the one form every sink parses: RFC 3339, UTC, milliseconds, Z. Text in that
    # form sorts in time order, so the checkpoint compares strings, not datetimes.
    createdAt: str
    type: str = Field(min_length=1, max_length=1024)
    message: str = ""
    author: Author | None = None
    ip: str = ""
    location: Location | None = None
    userAgent: str = ""
    token: Token | None = None
    oauth: OAuth | None = None
    data: Any = None

    @field_validator("createdAt", mode="before")
    @classmethod
    def _canonical_time(cls, value: Any) -> str:
        if isinstance(value, str) and _CANONICAL_TIME.match(value):
            return value  # the Hub's usual form: nothing to convert
        if not isinstance(value, (str, datetime)):
            raise ValueError("createdAt must be an RFC 3339 string")
        try:
            moment = value if isinstance(value, datetime) else parse_time(value)
        except ValueError:
            raise ValueError(f"createdAt is not an RFC 3339 time: {value[:40]!r}") from None
        if not 1 <= moment.year <= 9999:
            raise ValueError("createdAt is out of range")
        return format_time(moment)


class MalformedEvent(Exception):
    """An export item that cannot be emitted; the poll reports it and goes on."""

    def __init__(self, reason: str, event_id: str | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.event_id = event_id


def parse_event(item: object) -> HubEvent:
    if not isinstance(item, dict):
        raise MalformedEvent(f"export item is a JSON {type(item).__name__}, not an object", None)
    try:
        return HubEvent.model_validate(item)
    except ValidationError as exc:
        raw_id = item.get("_id")
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors(include_url=False)
        )
        raise MalformedEvent(problems, raw_id if isinstance(raw_id, str) else None) from None


def format_time(value: datetime) -> str:
    """RFC 3339 UTC with milliseconds and a Z, the form every sink parses."""
    return value.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text: str) -> datetime:
    """An RFC 3339 time; one without an offset is taken as UTC."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
