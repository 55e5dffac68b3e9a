"""The Hub's audit event as it arrives: the edge model, and what makes an event malformed.

Only what the poller cannot do without is required: `_id` (to dedupe), `createdAt` (to order and
checkpoint) and `type` (the event name). Everything else is optional and read leniently, so a Hub
that adds fields or drops one does not lose events.

`HubEvent` is the definition of a valid event. A backfill parses 100,000 of them, and building a
model for each costs about a sixth of the poll; so `parse_event` first checks, in plain Python,
whether the item already has exactly the types the model declares (what the Hub sends), and then
uses the item as it is. Anything else, whether it needs a coercion or is malformed, goes through
the model. tests/test_events.py checks that both ways give the same event.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, TypedDict

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from .stream import TooDeep
from .timefmt import CANONICAL_TIME, format_time, parse_time

_LENIENT = ConfigDict(extra="ignore", coerce_numbers_to_str=True, populate_by_name=True)

# An optional field sent as null is read as absent: a Hub that writes null where it usually leaves
# a field out must not get the event skipped as malformed.
Text = Annotated[str, BeforeValidator(lambda value: "" if value is None else value)]
Flag = Annotated[bool, BeforeValidator(lambda value: False if value is None else value)]


class Author(BaseModel):
    model_config = _LENIENT
    id: Text = Field(default="", alias="_id")
    user: Text = ""
    avatarUrl: Text = ""
    type: Text = ""
    deleted: bool | None = None


class Location(BaseModel):
    model_config = _LENIENT
    formatted: Text = ""
    country: Text = ""
    city: Text = ""


class Token(BaseModel):
    model_config = _LENIENT
    type: Text = ""
    id: Text = ""
    role: Text = ""
    last4: Text = ""
    deleted: Flag = False


class OAuth(BaseModel):
    model_config = _LENIENT
    clientId: Text = ""
    name: Text = ""


class HubEvent(BaseModel):
    model_config = _LENIENT

    id: str = Field(alias="_id", min_length=1, max_length=256)
    # Kept as text in the one form every sink parses: RFC 3339, UTC, milliseconds, Z. Text in that
    # form sorts in time order, so the checkpoint compares strings, not datetimes.
    createdAt: str
    type: str = Field(min_length=1, max_length=1024)
    message: Text = ""
    author: Author | None = None
    ip: Text = ""
    location: Location | None = None
    userAgent: Text = ""
    token: Token | None = None
    oauth: OAuth | None = None
    data: Any = None

    @field_validator("createdAt", mode="before")
    @classmethod
    def _canonical_time(cls, value: Any) -> str:
        if isinstance(value, str) and CANONICAL_TIME.fullmatch(value):
            # The Hub's usual form: nothing to convert. The shape alone would let a month 13 or an
            # hour 99 through to every sink's time parser; the C fromisoformat checks the calendar.
            try:
                datetime.fromisoformat(value[:-1])
            except ValueError:
                raise ValueError(f"createdAt is not an RFC 3339 time: {value!r}") from None
            return value
        if not isinstance(value, (str, datetime)):
            raise ValueError("createdAt must be an RFC 3339 string")
        try:
            moment = value if isinstance(value, datetime) else parse_time(value)
        except (ValueError, OverflowError):
            # OverflowError: an offset that moves year 1 or 9999 out of range when made UTC.
            raise ValueError(f"createdAt is not an RFC 3339 time: {str(value)[:40]!r}") from None
        if not 1 <= moment.year <= 9999:
            raise ValueError("createdAt is out of range")
        return format_time(moment)


class MalformedEvent(Exception):
    """An export item that cannot be emitted; the poll reports it and goes on."""

    def __init__(self, reason: str, event_id: str | None, text: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.event_id = event_id
        self.text = text  # the item's JSON text, when it never became a value (too deep to parse)


# The export's own shape, with the types HubEvent declares; absent keys take the model's defaults.
class ExportEvent(TypedDict, total=False):
    _id: str
    createdAt: str
    type: str
    message: str
    author: dict[str, Any] | None
    ip: str
    location: dict[str, Any] | None
    userAgent: str
    token: dict[str, Any] | None
    oauth: dict[str, Any] | None
    data: Any

_TEXT_FIELDS = ("message", "ip", "userAgent")
# nested object -> (its text fields, its flag field or "", whether that flag may be null)
_NESTED_FIELDS: dict[str, tuple[tuple[str, ...], str, bool]] = {
    "author": (("_id", "user", "avatarUrl", "type"), "deleted", True),
    "location": (("formatted", "country", "city"), "", False),
    "token": (("type", "id", "role", "last4"), "deleted", False),
    "oauth": (("clientId", "name"), "", False),
}


def parse_event(item: object, *, compiled: bool = True) -> ExportEvent:
    """The item as an ExportEvent, or MalformedEvent saying why it cannot be one. `compiled`: check
    its types with the compiled extension when it is built (the same verdict, sooner)."""
    if isinstance(item, TooDeep):
        raise MalformedEvent(item.reason, too_deep_event_id(item.text), item.text)
    if not isinstance(item, dict):
        raise MalformedEvent(f"export item is a JSON {type(item).__name__}, not an object", None)
    if (_compiled_has_model_types if compiled else _has_model_types)(item):
        return item  # type: ignore[return-value]
    return _validated(item)


# The `_id` an item too deep to parse starts with, read from its text: the Hub writes `_id` first.
_LEADING_ID = re.compile(r'\{\s*"_id"\s*:\s*"([0-9A-Za-z_-]{1,256})"')


def too_deep_event_id(text: str) -> str | None:
    """The event id at the start of an item's JSON text, so that an item too deep to parse is
    reported once by its id; None when the text does not start with one."""
    found = _LEADING_ID.match(text)
    return found.group(1) if found else None


def _has_model_types(item: dict[str, Any]) -> bool:
    """True when HubEvent would take every field of `item` unchanged. Stricter than the model
    (exact types, ASCII id and type), so whatever it turns away the model decides."""
    event_id, event_type, created = item.get("_id"), item.get("type"), item.get("createdAt")
    if not (type(event_id) is str and 0 < len(event_id) <= 256 and event_id.isascii()):
        return False
    if not (type(event_type) is str and 0 < len(event_type) <= 1024 and event_type.isascii()):
        return False
    if not (type(created) is str and CANONICAL_TIME.fullmatch(created)):
        return False
    try:
        datetime.fromisoformat(created[:-1])
    except ValueError:
        return False
    for name in _TEXT_FIELDS:
        if type(item.get(name, "")) is not str:
            return False
    for name, (texts, flag, flag_may_be_null) in _NESTED_FIELDS.items():
        nested = item.get(name)
        if nested is None:
            continue
        if type(nested) is not dict or (name == "author" and "id" in nested):  # "id" is the model's name for "_id"
            return False
        for text in texts:
            if type(nested.get(text, "")) is not str:
                return False
        if flag and flag in nested:
            value = nested[flag]
            if type(value) is not bool and not (value is None and flag_may_be_null):
                return False
    return True


def _compiled_check() -> Callable[[dict[str, Any]], bool]:
    """The same check compiled (plugin/native), when the optional extension was built."""
    try:
        from ._native import has_model_types
    except ImportError:
        return _has_model_types
    return has_model_types


_compiled_has_model_types = _compiled_check()


def _validated(item: dict[str, Any]) -> ExportEvent:
    try:
        event = HubEvent.model_validate(item)
    except ValidationError as exc:
        raw_id = item.get("_id")
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors(include_url=False)
        )
        raise MalformedEvent(problems, raw_id if _is_utf8_text(raw_id) else None) from None
    fields = event.model_dump(by_alias=True, exclude={"data"})
    return {**fields, "data": event.data}  # type: ignore[typeddict-item]


def _is_utf8_text(value: object) -> bool:
    """A string UTF-8 can carry: an id with a lone surrogate (a `\\ud800` escape) would not
    survive the checkpoint's round trip, and the event would be reported again on every poll."""
    if not isinstance(value, str):
        return False
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True
