"""Fuzzing: the stream parser, the normalizer and the whole poller on malformed and adversarial input.

The contract under test:
- `iter_json_array` yields items or raises `DataError`, whatever the bytes and however they are
  chunked: never another exception, never a hang.
- `parse_event` raises `MalformedEvent` or gives an event that `normalize` + `to_line` turn into
  one valid UTF-8 JSON line within the bound, with the 51 columns typed as the spec says.
- `hf-audit-poll` fed any body prints only such lines, exits 0 or 6 (data error: nothing printed),
  never with a traceback, and prints every well-formed event of a complete export exactly once.

Example counts are kept small so this file runs in well under a minute; for a soak run, multiply
them with HF_AUDIT_FUZZ_SCALE, e.g. `HF_AUDIT_FUZZ_SCALE=50 .venv/bin/pytest tests/test_fuzz.py`.

Atheris was considered and left out: it has no wheel for this Python on this platform (it builds
against a matching clang/libFuzzer), and the code under test is pure Python over the C `json`
scanner, where coverage-guided mutation finds little that these structure-aware strategies miss.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, reject, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from conftest import assert_no_secret, poller_env, spec_file, spec_python_types
from hf_audit.errors import DataError, ExitCode
from hf_audit.events import MalformedEvent, parse_event
from hf_audit.line import to_line
from hf_audit.normalize import COLUMNS, RecordContext, normalize, record_id
from hf_audit.simhub.events import generate_events
from hf_audit.stream import TooDeep, iter_json_array
from strategies import hub_events

SCALE = max(1, int(os.environ.get("HF_AUDIT_FUZZ_SCALE", "1")))
CANONICAL_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", re.ASCII)
MAX_ITEM_CHARS = 1 << 20
NOW = datetime.now(UTC)
SAMPLE_EVENTS = generate_events(120, seed=11, end=NOW - timedelta(minutes=5), span=timedelta(days=2))
VALID_EXPORT = json.dumps(SAMPLE_EVENTS[:6]).encode()


def examples(count: int) -> int:
    return count * SCALE


def chunked(body: bytes, sizes: list[int]) -> Iterator[bytes]:
    """`body` cut into pieces of the given sizes, cycling through them."""
    position, index = 0, 0
    while position < len(body):
        size = sizes[index % len(sizes)]
        yield body[position : position + size]
        position += size
        index += 1


def read_or_data_error(body: bytes, sizes: list[int], max_item_chars: int = MAX_ITEM_CHARS) -> list[Any] | None:
    """The items of `body`, or None when the reader refused it with a DataError."""
    try:
        return list(iter_json_array(chunked(body, sizes), max_item_chars=max_item_chars))
    except DataError:
        return None


chunk_sizes = st.lists(st.integers(min_value=1, max_value=4096), min_size=1, max_size=6)


class TooDeepForTheReference(Exception):
    pass


def reference_items(body: bytes) -> list[Any] | None:
    """What the export means by the standard library's whole-body parser, the oracle for the
    streaming reader: the array's items, or None when the body is not one JSON array. It applies
    the reader's documented choices: invalid UTF-8 reads as U+FFFD, and number literals no
    float or int can hold (1e400, 5,000 digits) and the non-JSON NaN/Infinity stay text."""

    def parse_int(text: str) -> int | str:
        return int(text) if len(text) <= 4000 else text

    def parse_float(text: str) -> float | str:
        value = float(text)
        return text if value in (float("inf"), float("-inf")) else value

    try:
        value = json.loads(body.decode("utf-8", "replace"), parse_int=parse_int, parse_float=parse_float, parse_constant=str)
    except RecursionError:
        raise TooDeepForTheReference from None
    except ValueError:
        return None
    return value if isinstance(value, list) else None


def assert_read_as_the_reference_reads(body: bytes, sizes: list[int]) -> None:
    """The oracle: a valid export comes back whole, item for item; a broken one is refused."""
    try:
        expected = reference_items(body)
    except TooDeepForTheReference:
        reject()
    assert read_or_data_error(body, sizes) == expected


# --- the stream parser -------------------------------------------------------------------------


@settings(max_examples=examples(300), deadline=None)
@given(body=st.binary(max_size=3000), sizes=chunk_sizes)
def test_stream_on_random_bytes_reads_what_a_whole_body_parser_reads(body, sizes):
    assert_read_as_the_reference_reads(body, sizes)


@settings(max_examples=examples(200), deadline=None)
@given(body=st.binary(max_size=2000).map(lambda tail: b"[" + tail), sizes=chunk_sizes)
def test_stream_on_random_bytes_after_an_opening_bracket_reads_what_a_whole_body_parser_reads(body, sizes):
    assert_read_as_the_reference_reads(body, sizes)


def _flip_bits(body: bytes, positions: list[int], bits: list[int]) -> bytes:
    if not body:
        return body
    mutated = bytearray(body)
    # `bits` is a pool of eight, `positions` one to eight long: the extra bits go unused.
    for position, bit in zip(positions, bits, strict=False):
        mutated[position % len(mutated)] ^= 1 << bit
    return bytes(mutated)


mutations = st.one_of(
    st.builds(
        lambda positions, bits: lambda body: _flip_bits(body, positions, bits),
        st.lists(st.integers(min_value=0), min_size=1, max_size=8),
        st.lists(st.integers(min_value=0, max_value=7), min_size=8, max_size=8),
    ),
    st.builds(lambda at, data: lambda body: body[: at % (len(body) + 1)] + data + body[at % (len(body) + 1) :],
              st.integers(min_value=0), st.binary(min_size=1, max_size=40)),
    st.builds(lambda at, length: lambda body: body[: at % (len(body) + 1)] + body[at % (len(body) + 1) + length :],
              st.integers(min_value=0), st.integers(min_value=1, max_value=200)),
)  # fmt: skip


@settings(max_examples=examples(300), deadline=None)
@given(mutate=st.lists(mutations, min_size=1, max_size=4), sizes=chunk_sizes)
def test_stream_on_a_mutated_export_reads_what_a_whole_body_parser_reads(mutate, sizes):
    body = VALID_EXPORT
    for mutation in mutate:
        body = mutation(body)
    assert_read_as_the_reference_reads(body, sizes)


@settings(max_examples=examples(50), deadline=None)
@given(sizes=chunk_sizes, indent=st.sampled_from([None, 1]), count=st.integers(min_value=0, max_value=len(SAMPLE_EVENTS)))
def test_stream_reads_a_valid_export_whole_whatever_the_chunking(sizes, indent, count):
    body = json.dumps(SAMPLE_EVENTS[:count], indent=indent).encode()
    assert read_or_data_error(body, sizes) == SAMPLE_EVENTS[:count]


@settings(max_examples=examples(100), deadline=None)
@given(cut=st.integers(min_value=0, max_value=len(VALID_EXPORT) - 1), sizes=chunk_sizes)
def test_stream_never_takes_a_truncated_export_for_a_complete_one(cut, sizes):
    assert read_or_data_error(VALID_EXPORT[:cut], sizes) is None


# Pieces that sit on the parser's edges: escapes, numbers beyond float and int, non-JSON constants,
# broken UTF-8, and structure characters in odd places.
FRAGMENTS = [
    b"[", b"]", b"{", b"}", b",", b":", b'"', b'"a"', b'"_id"', b"\\", b" ", b"\n", b"\t",
    b'"\\ud800"', b'"\\udc00\\ud800"', b'"\\ud83e\\udd17"', b'"\\u0000"', b'"\\x"', b'"\\u12"',
    b"1e400", b"-1e400", b"1e-400", b"-0", b"0.1e", b"01", b"1" * 5000, b"-" + b"9" * 4400,
    b"9" * 4301 + b".5", b"NaN", b"Infinity", b"-Infinity", b"true", b"null", b"tru",
    b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf0\x9f\xa4", "🤗".encode(), b"\x00",
]  # fmt: skip


@settings(max_examples=examples(400), deadline=None)
@given(pieces=st.lists(st.sampled_from(FRAGMENTS), max_size=40), sizes=chunk_sizes)
def test_stream_on_json_fragment_soup_reads_what_a_whole_body_parser_reads(pieces, sizes):
    assert_read_as_the_reference_reads(b"[" + b"".join(pieces), sizes)


@settings(max_examples=examples(40), deadline=None)
@given(depth=st.integers(min_value=1, max_value=50_000), opener=st.sampled_from([b"[", b'{"a":']), closed=st.booleans())
def test_stream_on_deep_nesting_yields_the_item_or_its_text_or_refuses_a_cut_body(depth, opener, closed):
    closer = b"]" if opener == b"[" else b"}"
    item = opener * depth + b"1" + closer * depth
    body = b"[" + (item + b"]" if closed else item[: len(item) - depth])
    items = read_or_data_error(body, [65536])
    if not closed:
        assert items is None
        return
    assert items is not None and len(items) == 1
    if isinstance(items[0], TooDeep):  # too deep for the parser: passed on as its text, to be reported
        assert items[0].text == item.decode()
    else:
        assert items == reference_items(body)


@pytest.mark.parametrize("limit", [1_000, 20_000_000])
def test_stream_on_a_huge_string_yields_it_or_raises_data_error(limit):
    body = b'[{"_id":"a","message":"' + b"x" * 10_000_000 + b'"}]'
    items = read_or_data_error(body, [256 * 1024], max_item_chars=limit)
    assert items is None if limit < 10_000_000 else len(items[0]["message"]) == 10_000_000


@pytest.mark.parametrize(
    "literal",
    [b"1e400", b"-1e400", b"1e-400", b"1" * 5000, b"-" + b"1" * 4300, b"1" * 4001, b"2.5e308", b"NaN", b"-Infinity"],
)
def test_numbers_out_of_range_are_read_and_normalized_into_a_valid_line(literal):
    body = b'[{"_id":"n1","createdAt":"2026-11-25T17:03:34.123Z","type":"repo.create","data":{"n":' + literal + b"}}]"
    [item] = read_or_data_error(body, [7])
    assert_valid_line(to_line(normalize(parse_event(item), item, context()), 65535), 65535)


def test_lone_surrogate_escapes_are_read_and_normalized_into_a_valid_line():
    body = rb'[{"_id":"s1","createdAt":"2026-11-25T17:03:34.123Z","type":"repo.create","message":"\ud83e","author":{"user":"\udc00"},"data":{"\udfff":"\ud800x"}}]'
    [item] = read_or_data_error(body, [3])
    record = assert_valid_line(to_line(normalize(parse_event(item), item, context()), 4096), 4096)
    assert record["message"] == "\ufffd" and record["tags"]["data.\ufffd"] == "\ufffdx"


def test_a_lone_surrogate_in_the_id_makes_the_event_malformed():
    # The id goes into the checkpoint, which must stay valid UTF-8 JSON.
    with pytest.raises(MalformedEvent):
        parse_event({**SAMPLE_EVENTS[0], "_id": "\ud800"})


# --- the normalizer ------------------------------------------------------------------------------


def context() -> RecordContext:
    return RecordContext(org="acme", workspace_id="ws", source_id="src", source_ttl_days=365, received_at=NOW)


SPEC_TYPES = spec_python_types()  # a missing spec raises SpecMissing: no column goes unchecked


def assert_valid_line(line: bytes, bound: int) -> dict[str, Any]:
    """One line as Fluent Bit and every sink need it; returns the record."""
    assert len(line) <= bound and line.endswith(b"\n") and line.count(b"\n") == 1
    record = json.loads(line.decode("utf-8"))  # strict UTF-8: a lone surrogate would fail here
    assert list(record) == list(COLUMNS)
    assert None not in record.values()
    for name, kind in SPEC_TYPES.items():
        assert isinstance(record[name], kind), (name, record[name])
    for name in ("eventTime", "receivedAt"):
        assert CANONICAL_TIME.fullmatch(record[name]), (name, record[name])
        datetime.fromisoformat(record[name][:-1])  # a real calendar time, not only its shape
    assert str(uuid.UUID(record["id"])) == record["id"]
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in {**record["actor"], **record["tags"]}.items())
    assert all(isinstance(r, str) for r in record["resources"])
    assert record["enrichments"] == [] and record["dstIP"] == ""
    if "rawLog" not in record["tags"].get("truncatedFields", "").split(","):
        json.loads(record["rawLog"])  # the original event, whole
    return record


surrogates = st.text(st.characters(categories=["Cs"]), min_size=1, max_size=3)
nasty_text = st.one_of(
    st.text(max_size=60),
    st.text(st.characters(max_codepoint=0x1F), max_size=40),  # control characters: 6 bytes escaped
    st.builds(lambda a, s, b: a + s + b, st.text(max_size=10), surrogates, st.text(max_size=10)),
    st.integers(min_value=1, max_value=200_000).map(lambda n: "é" * n),
    st.sampled_from(["", " ", "2026-11-25T17:03:34.123Z", "2026-13-45T99:99:99.000Z", "0000-01-01T00:00:00.000Z",
                     "9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00", "2026-11-25T17:03:34.123Z\n",
                     "٢٠٢٦-١١-٢٥T17:03:34.123Z", "2026-11-25", "yesterday", "NaN", "1e400"]),
)  # fmt: skip
nasty_scalars = st.one_of(
    st.none(), st.booleans(), nasty_text,
    st.integers(), st.integers(min_value=2**64, max_value=10**4000), st.floats(),
)  # fmt: skip
nasty_values = st.recursive(
    nasty_scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(nasty_text, children, max_size=6),
    max_leaves=40,
)
HUB_KEYS = ["_id", "createdAt", "type", "message", "author", "ip", "location", "userAgent", "token", "oauth", "data"]
hub_like_dicts = st.builds(
    lambda base, replaced, extra: {**base, **replaced, **extra},
    st.sampled_from(SAMPLE_EVENTS),
    st.dictionaries(st.sampled_from(HUB_KEYS), nasty_values, max_size=5),
    st.dictionaries(nasty_text, nasty_values, max_size=3),
)
wide_data = st.dictionaries(nasty_text, nasty_scalars, min_size=50, max_size=200).map(
    lambda data: {**SAMPLE_EVENTS[0], "data": data}
)


EVENT_SCHEMA = Draft202012Validator(json.loads(spec_file("hf-audit-log-export.openapi.json").read_text())["response_schema"]["items"])


def possible_id(item: Any) -> str | None:
    """The id an accepted item gets: its `_id` text, or a number's text (the model's documented
    coercion); None when nothing can be an id."""
    if not isinstance(item, dict):
        return None
    value = item.get("_id")
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def must_be_accepted(item: Any) -> bool:
    """The oracle for "not malformed": the item is an event as the spec's export schema declares
    it. One exception, stated: the schema's time pattern allows the year 0000, which no clock sets
    and Python's datetime cannot hold; such an event is reported malformed (with its text)."""
    return EVENT_SCHEMA.is_valid(item) and not item["createdAt"].startswith("0000")


def normalize_or_malformed(item: Any, bound: int) -> dict[str, Any] | None:
    try:
        event = parse_event(item)
    except MalformedEvent:
        return None
    return assert_valid_line(to_line(normalize(event, item, context()), bound), bound)


@settings(max_examples=examples(400), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(item=hub_like_dicts | nasty_values, bound=st.sampled_from([4096, 8192, 65535]))
def test_normalizer_gives_a_valid_line_or_malformed_event_for_adversarial_items(item, bound):
    record = normalize_or_malformed(item, bound)
    if must_be_accepted(item):
        assert record is not None, "a schema-valid event was reported malformed"
    if record is not None:
        assert record["eventID"] == possible_id(item) and record["id"] == record_id("acme", record["eventID"])
    if possible_id(item) is None:
        assert record is None  # no event id: nothing to print and no way to dedupe it


@settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event=hub_events, bound=st.sampled_from([4096, 65535]))
def test_normalizer_never_reports_a_schema_valid_event_malformed(event, bound):
    assume(must_be_accepted(event))
    record = normalize_or_malformed(event, bound)
    assert record is not None and record["eventID"] == event["_id"]


@settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(item=wide_data, bound=st.sampled_from([4096, 8192]))
def test_normalizer_fits_events_with_many_long_data_keys_into_the_smallest_bound(item, bound):
    record = normalize_or_malformed(item, bound)
    assert record is not None and record["tags"]["truncated"] == "true"


def nested(levels: int) -> Any:
    value: Any = "leaf"
    for level in range(levels):
        value = [value] if level % 2 else {"k": value}
    return value


# 120 levels: orjson writes rawLog; 400: past orjson's limit, the stdlib does; 950: near Python's
# recursion limit, which the stream parser can reach, rawLog keeps the first levels.
@pytest.mark.parametrize("levels", [120, 400, 950])
def test_normalizer_emits_a_deeply_nested_event(levels):
    item = {**SAMPLE_EVENTS[0], "data": nested(levels)}
    record = normalize_or_malformed(item, 65535)
    assert record is not None and record["eventID"] == item["_id"]


def test_normalizer_flags_a_raw_log_clipped_for_depth():
    record = normalize_or_malformed({**SAMPLE_EVENTS[0], "data": nested(950)}, 65535)
    assert record["tags"]["truncated"] == "true" and "rawLog" in record["tags"]["truncatedFields"]


def test_an_impossible_calendar_time_in_the_hubs_own_format_is_malformed():
    with pytest.raises(MalformedEvent, match="createdAt"):
        parse_event({**SAMPLE_EVENTS[0], "createdAt": "2026-13-45T99:99:99.000Z"})


def test_a_time_pushed_out_of_range_by_its_offset_is_malformed_not_a_crash():
    with pytest.raises(MalformedEvent, match="createdAt"):
        parse_event({**SAMPLE_EVENTS[0], "createdAt": "9999-12-31T23:59:59-05:00"})


# --- end to end: adversarial exports through the real hf-audit-poll -------------------------------


class RawExportServer:
    """A loopback HTTP server answering every GET with one fixed 200 body, byte for byte."""

    def __init__(self) -> None:
        self.body = b"[]"
        self.gzip = False
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802
                body = gzip.compress(owner.body, 1) if owner.gzip else owner.body
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                if owner.gzip:
                    self.send_header("Content-Encoding", "gzip")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def raw_server() -> Iterator[RawExportServer]:
    server = RawExportServer()
    yield server
    server.close()


def _encode_items(items: list[Any], ascii_only: bool) -> bytes:
    """Items as an export body. Not ASCII-only, a lone surrogate becomes raw bytes that are not
    valid UTF-8; ASCII-only, a `\\ud800` escape. NaN and infinities are written as JavaScript does."""
    return json.dumps(items, ensure_ascii=ascii_only, allow_nan=True).encode("utf-8", "surrogatepass")


@st.composite
def adversarial_exports(draw: st.DrawFn) -> bytes:
    items = draw(st.lists(hub_like_dicts | st.sampled_from(SAMPLE_EVENTS) | nasty_values, min_size=1, max_size=12))
    body = _encode_items(items, draw(st.booleans()))
    if draw(st.booleans()):
        for mutation in draw(st.lists(mutations, min_size=1, max_size=2)):
            body = mutation(body)
    return body


def stdout_lines(stdout: bytes) -> list[bytes]:
    """stdout cut at each "\n" as Fluent Bit's exec input reads it, newlines kept; a last line
    without its newline is kept too, so assert_valid_line rejects it."""
    pieces = stdout.split(b"\n")
    return [piece + b"\n" for piece in pieces[:-1]] + ([pieces[-1]] if pieces[-1] else [])


def accepted_and_possible_ids(body: bytes) -> tuple[set[str], set[str]] | None:
    """From the body alone, with the standard library's parser and the spec's schema (never the
    reader or the checker under test): the ids that must be printed (schema-valid events) and
    the ids that may be (any object with a string _id); None when the body must be refused."""
    try:
        items = reference_items(body)
    except TooDeepForTheReference:
        reject()
    if items is None:
        return None
    must = {item["_id"] for item in items if must_be_accepted(item)}
    may = {event_id for item in items if (event_id := possible_id(item)) is not None}
    return must, may


@settings(max_examples=examples(30), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(body=adversarial_exports(), gzipped=st.booleans())
def test_poller_prints_only_valid_lines_and_a_documented_exit_code_for_any_export(raw_server, body, gzipped):
    raw_server.body, raw_server.gzip = body, gzipped
    with tempfile.TemporaryDirectory(prefix="hf-audit-fuzz-") as scratch:
        env = poller_env(raw_server.url, Path(scratch) / "state", Path(scratch), HF_AUDIT_MAX_RETRIES="0")
        proc = subprocess.run(["hf-audit-poll"], env=env, capture_output=True, timeout=60)
    stderr = proc.stderr.decode("utf-8", "replace")
    assert_no_secret(proc.stdout, stderr)
    assert "Traceback" not in stderr
    # Lines as Fluent Bit and log shippers split them: at "\n" only (str.splitlines would also
    # split at U+0085 or U+2028, which an event's text may carry and which are not line ends).
    assert all(line.startswith("ts=") for line in stderr.split("\n") if line), stderr
    assert proc.returncode in (ExitCode.OK, ExitCode.DATA), stderr
    records = [assert_valid_line(line, 65535) for line in stdout_lines(proc.stdout)]
    expected = accepted_and_possible_ids(body)
    if expected is None:  # a broken export is refused whole
        assert proc.returncode == ExitCode.DATA and proc.stdout == b"", stderr
        return
    must, may = expected
    printed = [record["eventID"] for record in records]
    assert proc.returncode == ExitCode.OK, stderr
    assert len(printed) == len(set(printed))  # each event once
    assert must <= set(printed) <= may, stderr


def test_poller_prints_a_deeply_nested_event_instead_of_failing_every_poll(raw_server):
    event = {**SAMPLE_EVENTS[0], "data": nested(700)}
    raw_server.body, raw_server.gzip = json.dumps([event, SAMPLE_EVENTS[1]]).encode(), False
    with tempfile.TemporaryDirectory(prefix="hf-audit-fuzz-") as scratch:
        env = poller_env(raw_server.url, Path(scratch) / "state", Path(scratch))
        proc = subprocess.run(["hf-audit-poll"], env=env, capture_output=True, timeout=60)
    assert proc.returncode == ExitCode.OK, proc.stderr.decode()
    records = [assert_valid_line(line, 65535) for line in stdout_lines(proc.stdout)]
    assert sorted(r["eventID"] for r in records) == sorted([event["_id"], SAMPLE_EVENTS[1]["_id"]])


def test_poller_skips_an_event_too_deep_to_parse_reports_it_once_and_prints_the_rest(raw_server):
    too_deep = {**SAMPLE_EVENTS[0], "data": "DEEP"}
    body = json.dumps([SAMPLE_EVENTS[1], too_deep, SAMPLE_EVENTS[2]]).replace('"DEEP"', "[" * 5000 + "1" + "]" * 5000)
    raw_server.body, raw_server.gzip = body.encode(), False
    with tempfile.TemporaryDirectory(prefix="hf-audit-fuzz-") as scratch:
        env = poller_env(raw_server.url, Path(scratch) / "state", Path(scratch))
        first, second = (subprocess.run(["hf-audit-poll"], env=env, capture_output=True, timeout=60) for _ in range(2))
    assert first.returncode == second.returncode == ExitCode.OK, first.stderr.decode()[-2000:]
    records = [assert_valid_line(line, 65535) for line in stdout_lines(first.stdout)]
    assert sorted(r["eventID"] for r in records) == sorted([SAMPLE_EVENTS[1]["_id"], SAMPLE_EVENTS[2]["_id"]])
    assert f"skipped malformed event {too_deep['_id']}: nested too deeply to parse".encode() in first.stderr
    assert b"skipped malformed event" not in second.stderr and second.stdout == b""


def test_poller_reports_a_malformed_event_with_a_broken_id_only_once(raw_server):
    broken = {**SAMPLE_EVENTS[0], "_id": "\ud800", "type": "repo.create"}
    raw_server.body, raw_server.gzip = json.dumps([broken, SAMPLE_EVENTS[1]]).encode(), False
    with tempfile.TemporaryDirectory(prefix="hf-audit-fuzz-") as scratch:
        env = poller_env(raw_server.url, Path(scratch) / "state", Path(scratch))
        first, second = (subprocess.run(["hf-audit-poll"], env=env, capture_output=True, timeout=60) for _ in range(2))
    assert b"skipped malformed event" in first.stderr and first.stdout.count(b"\n") == 1
    assert b"skipped malformed event" not in second.stderr and b"malformed=1" in second.stderr
