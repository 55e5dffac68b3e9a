"""Read a JSON array item by item from a stream of byte chunks.

The export is one JSON array of up to 100,000 events (tens of MB). Parsing it whole would hold the
body and every object in memory at once; this reader keeps one chunk plus the item being parsed.
Each item is parsed by the standard library's C scanner (`raw_decode`), so no hand-written
tokenizer runs per character. Objects followed by a comma take a fast path with no per-item
checks beyond that; the last item of the buffer, scalars and anything odd take the careful one.
A body that is not an array, is cut off, or has invalid JSON raises `DataError`; nothing is
yielded after the first error.
"""

from __future__ import annotations

import codecs
import json
import math
import re
from collections.abc import Iterable, Iterator

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
    """The fast path: objects followed by a comma, refilling the buffer as it goes; stops with
    `buf.pos` at the first item it did not take (the last one, a scalar, an error, a huge one),
    which _parse_item then reads with all its checks.

    It decodes only up to the buffer's last "},{": an item running past the buffer's end would be
    scanned to the end and fail, and each failure costs a scan of the whole buffer (the decode
    error counts its lines). A "},{" inside an item only makes that rare failure happen."""
    while True:
        text, pos = buf.text, buf.pos
        start, boundary = pos, text.rfind("},{", pos)
        if boundary < 0:  # not compact JSON: take the last closing brace instead
            boundary = text.rfind("}", pos)
        try:
            while pos < boundary:
                value, end = _DECODER.raw_decode(text, pos)
                if type(value) is not dict or end - pos > max_item_chars:
                    return
                separator = _COMMA.match(text, end)
                if separator is None:
                    return
                pos = buf.pos = separator.end()
                yield value
        except (json.JSONDecodeError, RecursionError):
            return
        if (pos == start and len(text) - pos > _LARGE_ITEM) or not buf.fill(1 << 16):
            return


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
