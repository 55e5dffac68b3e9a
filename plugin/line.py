"""Turn a record into one bounded JSON line, and the JSON fallbacks that keep any value printable.

A record that fits the line bound costs one orjson dump. What orjson refuses (integers beyond 64
bits, lone surrogates, nesting past 254 levels) goes through the standard library, and a record
over the bound is cut (`_fit`) so that every line reaches the sink whole. This module knows the
record's shape only as far as cutting needs: which values are strings, and which tags say what
was cut.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

# A map value (tags, actor) is indexed as a single term, and flattened/flat_object fields have a
# term size limit: no tag value, truncatedFields included, is longer than this.
MAX_TAG_VALUE_CHARS = 1024
MAX_RAW_DEPTH = 128  # rawLog keeps this many levels of an absurdly nested event
CLIPPED_MARK = "[nested too deeply]"
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # a valid pair is one character in Python


def _sanitize(value: Any) -> Any:
    """Replace lone surrogates (from `\\ud800`-style escapes) that UTF-8 output cannot carry."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_sanitize(k): _sanitize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_sanitize(v) for v in value]
    return value


def _clipped(value: Any, depth: int = 0) -> Any:
    """`value` with containers below MAX_RAW_DEPTH levels replaced by a marker string."""
    if isinstance(value, (dict, list)) and depth >= MAX_RAW_DEPTH:
        return CLIPPED_MARK
    if isinstance(value, dict):
        return {k: _clipped(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_clipped(v, depth + 1) for v in value]
    return value


def compact_json_clipped(value: Any) -> tuple[str, bool]:
    """Compact JSON of `value`, and whether levels nested too deeply to serialize were clipped."""
    try:
        return orjson.dumps(value).decode(), False
    except (orjson.JSONEncodeError, TypeError):
        pass
    try:
        # orjson refuses integers beyond 64 bits, lone surrogates and nesting past 254 levels; the
        # stdlib keeps big integers exact, and _sanitize makes every string encodable.
        return json.dumps(_sanitize(value), separators=(",", ":"), ensure_ascii=False), False
    except RecursionError:
        # The stream parser accepts items nested ~1,000 levels deep, more than the recursive
        # helpers here can walk: keep the first levels, so the event is emitted (flagged) instead
        # of failing this poll and every later one.
        return json.dumps(_sanitize(_clipped(value)), separators=(",", ":"), ensure_ascii=False), True


def compact_json(value: Any) -> str:
    return compact_json_clipped(value)[0]


def _dump_line(record: dict[str, Any]) -> bytes:
    """The record as JSON with its newline."""
    try:
        return orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(_sanitize(record), separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


_BOOKKEEPING_TAGS = ("truncated", "truncatedFields")
_KEPT_TAGS = frozenset({"scope", "action", "org", *_BOOKKEEPING_TAGS})
# Never cut: the sinks' dedupe key and the two times (an empty time fails a ClickHouse insert).
# They are short and fixed in size, so they are never what makes a line too long.
_UNCUT_COLUMNS = frozenset({"id", "eventTime", "receivedAt"})


def _cuttable_fields(record: dict[str, Any]) -> list[tuple[Any, Any, str]]:
    """Every string value in the record as (container, key, label), so the longest can be cut."""
    places: list[tuple[Any, Any, str]] = [
        (record, column, column)
        for column, value in record.items()  # the columns, in order
        if isinstance(value, str) and column not in _UNCUT_COLUMNS
    ]
    places += [(record["tags"], k, f"tags.{k}") for k in record["tags"] if k not in _BOOKKEEPING_TAGS]
    places += [(record["actor"], k, f"actor.{k}") for k in record["actor"]]
    places += [(record["resources"], i, f"resources.{i}") for i in range(len(record["resources"]))]
    return places


def to_line(record: dict[str, Any], max_line_bytes: int) -> bytes:
    """The record as one JSON line (newline included) of at most `max_line_bytes` bytes.

    A record that fits is written as is: the common case costs one dump. Others go to `_fit`.
    """
    line = _dump_line(record)
    if len(line) <= max_line_bytes:
        return line
    try:
        return _fit(record, max_line_bytes)
    except (orjson.JSONEncodeError, TypeError):  # a lone surrogate: replaced first, then cut
        return _fit(_sanitize(record), max_line_bytes)


SHORTENED_MARK = "…[truncated]"  # ends each value of rawLog's event that was shortened to fit
MORE_KEYS = "…"  # the key under which a shortened object of rawLog says how many keys it left out
_CONTAINER_ITEM_BYTES = 16  # a shortened object or array keeps one item per this many bytes of level
_MAX_FIT_ROUNDS = 64


def _encoded_size(text: str) -> int:
    """The bytes `text` takes inside a JSON line, escapes included, quotes not."""
    return len(orjson.dumps(text)) - 2


def _prefix_within(text: str, budget: int) -> str:
    """The longest start of `text` whose encoded size is at most `budget` bytes."""
    if len(text) <= budget and _encoded_size(text) <= budget:  # each character takes at least a byte
        return text
    low, high = 0, max(0, min(len(text), budget))  # every character takes at least one byte
    while low < high:
        middle = (low + high + 1) // 2
        if _encoded_size(text[:middle]) <= budget:
            low = middle
        else:
            high = middle - 1
    return text[:low]


def _water_level(sizes: list[int], available: int) -> int:
    """The largest cap such that the sizes, each cut to the cap, add up to at most `available`:
    fields under it stay whole, and every longer field keeps the same, largest possible share."""
    remaining, count = max(0, available), len(sizes)
    for index, size in enumerate(sorted(sizes)):
        share = remaining // (count - index)
        if size > share:
            return share
        remaining -= size
    return max(sizes, default=0)


def _shortened(value: Any, level: int) -> Any:
    """`value` (rawLog's event) with each string longer than `level` bytes cut and marked, and each
    object or array cut to level/16 items with a marker saying how many were left out."""
    if isinstance(value, str):
        if len(value) <= level and _encoded_size(value) <= level:
            return value
        return _prefix_within(value, level) + SHORTENED_MARK
    keep = level // _CONTAINER_ITEM_BYTES
    if isinstance(value, list):
        items = [_shortened(item, level) for item in value[:keep]]
        if len(value) > keep:
            items.append(f"{SHORTENED_MARK} {len(value) - keep} more items")
        return items
    if isinstance(value, dict):
        shortened = {_shortened(key, level): _shortened(item, level) for key, item in list(value.items())[:keep]}
        if len(value) > keep:
            shortened[MORE_KEYS] = f"{SHORTENED_MARK} {len(value) - keep} more keys"
        return shortened
    return value


def _shrunk_raw_log(raw_log: str, budget: int) -> str:
    """rawLog within `budget` encoded bytes and still the JSON of the event: the largest
    shortening level (see `_shortened`) that fits, found by bisection."""
    try:
        event = json.loads(raw_log)
    except (ValueError, RecursionError):  # not JSON: not from `normalize`, cut it as text
        return _prefix_within(raw_log, budget)
    best = "{}" if budget >= 2 else ""
    low, high = 0, budget
    while low <= high:
        level = (low + high) // 2
        text = compact_json(_shortened(event, level))
        if _encoded_size(text) <= budget:
            best, low = text, level + 1
        else:
            high = level - 1
    return best


def _fit(record: dict[str, Any], max_line_bytes: int) -> bytes:
    """Cut an oversize record to the line bound (orjson raises if a string holds a lone surrogate).

    Sizes are encoded bytes, escapes included (a control character takes six). The bytes left once
    the keys and the uncut columns are counted are shared among the string values so that each
    keeps as much as it can: values under the common cap stay whole, longer ones are cut to it.
    rawLog is not cut as text but rebuilt as the JSON of the event with its largest values
    shortened and marked. The record says what was cut in tags: `truncated` and `truncatedFields`.
    When the keys alone do not fit (64 data keys of 128 characters, up to 6 bytes each once
    escaped, do not fit 4096 bytes), the tags with the longest keys are dropped; as a last resort
    truncatedFields is shortened. The 51 keys alone fit the 4096-byte floor.
    """
    tags = record["tags"]
    tags["truncated"] = "true"
    cut: list[str] = [label for label in tags.get("truncatedFields", "").split(",") if label]
    fields_chars = MAX_TAG_VALUE_CHARS
    # Each round cuts values or drops one tag, so a record with many tags needs a round for each.
    for _ in range(_MAX_FIT_ROUNDS + len(tags)):
        tags["truncatedFields"] = ",".join(cut)[:fields_chars]
        line = orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)
        if len(line) <= max_line_bytes:
            return line
        places = _cuttable_fields(record)
        sizes = [_encoded_size(container[key]) for container, key, _ in places]
        available = max_line_bytes - (len(line) - sum(sizes))
        if available < 0:  # the keys and fixed columns alone are too long
            longest_key = max((k for k in tags if k not in _KEPT_TAGS), key=_encoded_size, default="")
            if longest_key:
                del tags[longest_key]
                cut += [] if "tags" in cut else ["tags"]
            elif fields_chars > 0:
                fields_chars //= 2
            else:
                raise ValueError("record cannot fit the line bound")  # unreachable above the 4096 floor
            continue
        level = _water_level(sizes, available)
        labels = [label for (_, _, label), size in zip(places, sizes, strict=True) if size > level]
        if any(label not in cut for label in labels):
            cut += [label for label in labels if label not in cut]
            continue  # the longer truncatedFields leaves less room: measure again
        for (container, key, label), size in zip(places, sizes, strict=True):
            if size > level:
                value = container[key]
                container[key] = _shrunk_raw_log(value, level) if label == "rawLog" else _prefix_within(value, level)
    raise ValueError("record cannot fit the line bound")  # each round cuts or drops: not reached
