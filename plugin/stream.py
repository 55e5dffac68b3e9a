"""Read a JSON array item by item from a stream of byte chunks.

The export is one JSON array of up to 100,000 events (tens of MB). Parsing it whole would hold the
body and every object in memory at once; this reader keeps one chunk plus the item being parsed.
Runs of items up to the buffer's last object followed by a comma are parsed by orjson in one
call (`_parse_run` says why that is exact, and sends what orjson would read differently back);
the last item of the buffer and anything odd take the careful path: the standard library's C
scanner (`raw_decode`), item by item, with every check.
A body that is not an array, is cut off, or has invalid JSON raises `DataError`; nothing is
yielded after the first error.
"""

from __future__ import annotations

import codecs
import contextlib
import gc
import json
import math
import re
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from .errors import DataError


def _parse_int(text: str) -> int | str:
    # Python refuses to convert integers of more than 4300 digits; keep such a literal as text
    # rather than failing the whole export.
    return int(text) if len(text) <= 4000 else text


def _parse_float(text: str) -> float | str:
    # 1e400 would become inf, which no JSON serializer can write back: keep the literal as text.
    value = float(text)
    return value if math.isfinite(value) else text


def _parse_constant(text: str) -> str:
    # NaN / Infinity are not JSON; the standard library accepts them, so keep them as text.
    return text


_DECODER = json.JSONDecoder(parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant)
_WHITESPACE = " \t\n\r"
_DELIMITERS = _WHITESPACE + ",]"
_SELF_DELIMITED = '"{['
_LARGE_ITEM = 1 << 20  # the fast path leaves an item this large to _parse_item and its size checks
_COMMA = re.compile(r"[ \t\n\r]*,[ \t\n\r]*")


class NotAnArray(DataError):
    """The body is valid-looking JSON (or text) that does not start with '['."""

    def __init__(self, snippet: str) -> None:
        super().__init__(f"the export is not a JSON array; it starts with: {snippet!r}")
        self.snippet = snippet


class TooDeep:
    """An array item nested too deeply for the parser: yielded in its place with its raw text, so
    the consumer can report it and go on, instead of one absurd item failing the whole array."""

    reason = "nested too deeply to parse"

    def __init__(self, text: str) -> None:
        self.text = text


# JSON strings (escapes included), a quote left open, and brackets: enough to find where a value
# ends without parsing it.
_STRUCTURE = re.compile(r'"(?:[^"\\]|\\.)*"|"|[\[\]{}]', re.DOTALL)


def _end_of_value(text: str, start: int) -> int | None:
    """Where the object or array at `start` ends, found by counting brackets outside strings; None
    when the text ends first."""
    depth = 0
    for token in _STRUCTURE.finditer(text, start):
        mark = token.group()
        if mark in ("[", "{"):
            depth += 1
        elif mark in ("]", "}"):
            depth -= 1
            if depth == 0:
                return token.end()
        elif mark == '"':
            return None  # a string still open at the end of the text
    return None


class _Buffer:
    """Decoded text with a read position, refilled from the chunk iterator on demand."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        # Invalid UTF-8 becomes U+FFFD: one bad byte must not block every later poll forever.
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.text = ""
        self.pos = 0
        self.dropped = 0  # characters removed from the front, for error offsets
        self.eof = False
        self.careful_until = 0  # the fast path leaves the items before this offset to _parse_item

    def offset(self) -> int:
        return self.dropped + self.pos

    def fill(self, at_least: int = 1) -> bool:
        """Append at least `at_least` more characters unless the stream ends; False at EOF."""
        if self.eof:
            return False
        if self.pos:  # drop what was consumed: the buffer holds one chunk plus the pending item
            self.dropped += self.pos
            self.text = self.text[self.pos :]
            self.pos = 0
        pieces: list[str] = []
        added = 0
        for chunk in self._chunks:
            piece = self._decoder.decode(chunk)
            pieces.append(piece)
            added += len(piece)
            if added >= at_least:
                break
        else:
            # An incomplete sequence at the very end decodes now (to U+FFFD): it counts as text.
            tail = self._decoder.decode(b"", final=True)
            pieces.append(tail)
            added += len(tail)
            self.eof = True
        self.text = self.text + "".join(pieces) if pieces else self.text
        return added > 0 or not self.eof

    def skip_whitespace(self) -> str:
        """The next non-blank character (consumed: no), or '' at the end of the stream."""
        while True:
            text, pos = self.text, self.pos
            while pos < len(text) and text[pos] in _WHITESPACE:
                pos += 1
            self.pos = pos
            if pos < len(text):
                return text[pos]
            if not self.fill():
                return ""


def iter_json_array(chunks: Iterable[bytes], *, max_item_chars: int) -> Iterator[object]:
    """Yield each element of the top-level JSON array carried by `chunks`."""
    buf = _Buffer(chunks)
    first = buf.skip_whitespace()
    if first != "[":
        buf.fill(512)
        raise NotAnArray(buf.text[buf.pos : buf.pos + 200]) if first else DataError("the export body is empty")
    buf.pos += 1
    count = 0
    expect_item = False  # after a comma an item must follow; right after '[' a ']' may
    while True:
        char = buf.skip_whitespace()
        if not char:
            raise DataError(
                f"the export ended after {count} events without its closing ']' "
                f"(at character {buf.offset()}): the body was cut off"
            )
        if char == "]" and not expect_item:
            buf.pos += 1
            break
        taken = count
        for item in _objects_in_buffer(buf, max_item_chars):
            yield item
            count += 1
        if count > taken:  # each one was followed by a comma
            expect_item = True
            continue
        yield _parse_item(buf, max_item_chars, count)
        count += 1
        char = buf.skip_whitespace()
        if char == ",":
            buf.pos += 1
            expect_item = True
        elif char == "]":
            expect_item = False
        elif not char:
            continue  # reported as cut off at the top of the loop
        else:
            raise DataError(f"invalid JSON after event {count}: expected ',' or ']' at character {buf.offset()}")
    trailing = buf.skip_whitespace()
    if trailing:
        raise DataError(f"unexpected data after the export's closing ']' at character {buf.offset()}")


def _objects_in_buffer(buf: _Buffer, max_item_chars: int) -> Iterator[object]:
    """The fast path: the items up to the buffer's last object followed by a comma, parsed by
    orjson in one call (see `_parse_run`), refilling the buffer as it goes. It stops with
    `buf.pos` at the first item it did not take (the last one, one orjson would read differently,
    a huge one), which _parse_item then reads with all its checks."""
    while True:  # run after run
        text, pos = buf.text, buf.pos
        if buf.dropped + pos < buf.careful_until:
            return
        # A run is at most max_item_chars long, so each of its items is within the bound; an item
        # larger than that finds no boundary and reaches _parse_item's size check.
        end = _run_end(text, pos, pos + max_item_chars)
        if end > pos:
            values, failed_at = _parse_run(text, pos, end)
            if values is None:
                # Up to the item before the failing one, once; then the careful path up to the
                # failure, so that one odd item costs one more parse, not one per item.
                retry = _run_end(text, pos, min(failed_at, end - 1))
                values = _parse_run(text, pos, retry)[0] if retry > pos else None
                if values is None:
                    buf.careful_until = buf.dropped + end
                    return
                end = retry
            separator = _COMMA.match(text, end)
            assert separator is not None, "a run ends before a comma"
            buf.pos = separator.end()
            yield from values
            continue  # with the next run
        if len(text) - pos > _LARGE_ITEM:
            return  # one huge item: _parse_item reads it with its size checks
        if not buf.fill(1 << 16):
            return


def _run_end(text: str, start: int, limit: int) -> int:
    """Where a run of items starting at `start` may end: just past the last "}" before `limit`
    that a comma follows, preferring one whose next item starts as the one at `start` does (the
    items of an export are objects with the same first key), as a "}," inside a list of objects
    in an item would make the parse fail. -1 when there is none."""
    colon = text.find(":", start, start + 64)
    if text.startswith("{", start) and colon > 0:
        found = text.rfind("}," + text[start : colon + 1], start, limit + 1 + colon - start)
        if found >= 0:
            return found + 1
    found = text.rfind("},", start, limit + 1)
    return found + 1 if found >= 0 else -1


# A number's digits as "0", a minus as "-", what may come before a number as ":", the rest as "x":
# finds integer literals outside 64 bits (at least 20 digits, or a minus and 19), which orjson
# reads as floats, without stopping at long runs of digits inside strings (hashes, hex ids).
_NUMBER_CLASSES = bytes(
    48 if 48 <= byte <= 57 else 45 if byte == 45 else 58 if chr(byte) in ":,[ \t\n\r" else 120 for byte in range(256)
)
_LONG_NUMBERS = (b":" + b"0" * 20, b":-" + b"0" * 19)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """The garbage collector off while orjson builds a run's thousands of objects at once: its
    collections would find them all alive and promote them, and the later full collections would
    walk them again (a full poll of rich data cost 7% more CPU). The collector's state is restored."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _parse_run(text: str, start: int, end: int) -> tuple[list[Any] | None, int]:
    """The items of text[start:end], parsed by orjson in one call; or None when orjson cannot read
    them exactly as _parse_item would, with the index at which that showed (`end` if unknown).

    Exact: `start` is where an item starts and `end` is just past a "}" that a comma follows. If
    "[" + text[start:end] + "]" parses as an array, its elements are exactly the export's next
    items: JSON values are self-delimiting (an object, array or string ends itself, and a number
    before a comma is whole), so the first element is the true first item, the comma after it is
    the export's own, and so on; the last element ends with the "}" at `end - 1`. A "}," inside a
    string or a nested container leaves that string or container open, which the closing "]"
    cannot complete, so the parse fails.

    What orjson would read differently goes to the careful path: it rejects NaN, Infinity, numbers
    beyond a double (1e400), lone surrogates and nesting past 1,024 levels, as a parse error; it
    turns integers outside 64 bits into floats, so a number of 19 digits or more sends the run back;
    and the standard library's parser gives up (TooDeep) somewhat below 1,024 levels, so the
    items must pass orjson's serializer, which stops at 255. Duplicate keys: the last value wins,
    in the first key's place, as with the standard library; floats are correctly rounded by both.
    """
    wrapped = f"[{text[start:end]}]".encode()
    classes = wrapped.translate(_NUMBER_CLASSES)
    long_number = min((at for at in map(classes.find, _LONG_NUMBERS) if at >= 0), default=-1)
    if long_number >= 0:
        return None, start + long_number - 1  # a byte offset: at most the character offset
    try:
        with _collector_paused():
            values = orjson.loads(wrapped)
    except orjson.JSONDecodeError as exc:
        return None, start + exc.pos - 1
    try:
        orjson.dumps(values)
    except orjson.JSONEncodeError:
        return None, end
    return values, end


def _parse_item(buf: _Buffer, max_item_chars: int, index: int) -> object:
    while True:
        start = buf.pos
        try:
            value, end = _DECODER.raw_decode(buf.text, start)
        except json.JSONDecodeError as exc:
            error: json.JSONDecodeError | None = exc
        except RecursionError:
            deep_end = _end_of_value(buf.text, start)
            if deep_end is not None:
                buf.pos = deep_end
                return TooDeep(buf.text[start:deep_end])
            error = None  # the rest of the item is still to come
        else:
            error = None
            if end - start > max_item_chars:
                raise DataError(f"event {index} at character {buf.offset()} is larger than {max_item_chars} characters")
            # A number is complete only once a delimiter follows it: "12" may go on as "123". So is
            # a number kept as text (5,000 digits, 1e400) or a bare constant: only a string, an
            # object and an array end themselves.
            if buf.eof or buf.text[start] in _SELF_DELIMITED or (end < len(buf.text) and buf.text[end] in _DELIMITERS):
                buf.pos = end
                return value
        pending = len(buf.text) - start
        if pending > max_item_chars:
            raise DataError(
                f"event {index} at character {buf.offset()} is larger than {max_item_chars} characters "
                "or is invalid JSON"
            )
        # Ask for as much again as is pending, so a huge item is re-scanned only log(n) times.
        if not buf.fill(max(pending, 1 << 16)):
            detail = f"{error.msg} at character {buf.dropped + error.pos}" if error else "truncated value"
            raise DataError(
                f"the export ended inside event {index}: the body was cut off, or its JSON is invalid ({detail})"
            )
