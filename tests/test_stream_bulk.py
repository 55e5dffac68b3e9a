"""The stream's bulk path (runs of items parsed by orjson in one call) reads every export exactly
as the careful path (the standard library, item by item) does: same values, same types, same
key order, same errors; what orjson would read differently goes to the careful path."""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hf_audit.stream as stream
from hf_audit.errors import DataError
from hf_audit.stream import TooDeep, iter_json_array
from strategies import hub_events, json_data


def chunked(body: bytes, size: int) -> Iterator[bytes]:
    return (body[i : i + size] for i in range(0, len(body), size))


@contextmanager
def bulk_runs() -> Iterator[list[int]]:
    """Count the items each successful bulk parse took."""
    taken: list[int] = []
    real = stream._parse_run

    def counting(text: str, start: int, end: int) -> tuple[list[object] | None, int]:
        values, at = real(text, start, end)
        if values is not None:
            taken.append(len(values))
        return values, at

    with mock.patch.object(stream, "_parse_run", counting):
        yield taken


def careful_read(body: bytes, size: int = 1 << 16, max_item_chars: int = 1 << 20) -> list[object]:
    """The export as the careful path alone reads it: the bulk path always declines."""
    with mock.patch.object(stream, "_parse_run", lambda text, start, end: (None, end)):
        return list(iter_json_array(chunked(body, size), max_item_chars=max_item_chars))


def bulk_read(body: bytes, size: int = 1 << 16, max_item_chars: int = 1 << 20) -> list[object]:
    return list(iter_json_array(chunked(body, size), max_item_chars=max_item_chars))


def typed(values: list[object]) -> str:
    """repr tells 1 from 1.0 and True, -0.0 from 0.0, and shows key order; TooDeep by its text."""
    return repr([("TooDeep", v.text) if isinstance(v, TooDeep) else v for v in values])


def export_with(odd_item: str, copies: int = 40) -> bytes:
    """Plain objects around one odd item, compact as the Hub writes them."""
    plain = [
        json.dumps({"_id": f"{i:024x}", "data": {"files": [{"n": i}, {"n": i + 1}]}}, separators=(",", ":"))
        for i in range(copies)
    ]
    return ("[" + ",".join(plain[: copies // 2] + [odd_item] + plain[copies // 2 :]) + "]").encode()


@pytest.mark.parametrize(
    "odd_item",
    [
        '{"_id":"big","n":18446744073709551616}',  # 2**64: orjson would make it a float
        '{"_id":"big","n":-9223372036854775809}',  # below -2**63
        '{"_id":"big","n":123456789012345678901234567890}',
        '{"_id":"huge","n":' + "9" * 5000 + "}",  # kept as text by the careful path
        '{"_id":"u64","n":18446744073709551615}',  # the largest integer orjson keeps exact
        '{"_id":"nan","n":NaN}',
        '{"_id":"inf","n":[Infinity,-Infinity]}',
        '{"_id":"surrogate","s":"\\ud800x"}',
        '{"_id":"pair","s":"\\ud83e\\udd17"}',
        '{"_id":"dup","a":1,"b":2,"a":3}',
        '{"_id":"floats","f":[-0.0,1E400,-1e400,1.0,1,1e5,5e-324,1.5e-400,0.1e1,2.2250738585072014e-308]}',
        '{"_id":"precise","f":0.1000000000000000055511151231257827021181583404541015625}',
        '{"_id":"control","s":"a\\u0000b\\u001f\\u2028"}',
        '{"_id":"brace in text","s":"},{\\"_id\\":\\"fake\\"},"}',
        '{"_id":"deep254","d":' + "[" * 254 + "]" * 254 + "}",
        '{"_id":"deep300","d":' + "[" * 300 + "]" * 300 + "}",
        '{"_id":"deep1010","d":' + "[" * 1010 + "]" * 1010 + "}",
        '{"_id":"deep3000","d":' + "[" * 3000 + "]" * 3000 + "}",
        '"a string item"',
        "12345",
        "[1,2,{}]",
        "null",
    ],
)
@pytest.mark.parametrize("size", [7, 4096, 1 << 18])
def test_bulk_path_reads_odd_items_as_the_careful_path_does(odd_item, size):
    body = export_with(odd_item)
    assert typed(bulk_read(body, size)) == typed(careful_read(body, size))


def test_an_integer_beyond_64_bits_as_the_first_item_stays_an_exact_integer():
    body = b'[123456789012345678901234,{"_id":"a"},{"_id":"b"}]'
    assert typed(bulk_read(body)) == typed([123456789012345678901234, {"_id": "a"}, {"_id": "b"}])


def test_an_item_too_deep_for_the_standard_library_stays_too_deep():
    body = export_with('{"_id":"deep","d":' + "[" * 1010 + "]" * 1010 + "}")
    deep = [item for item in bulk_read(body) if isinstance(item, TooDeep)]
    assert len(deep) == 1 and deep[0].text.startswith('{"_id":"deep"')


def test_bulk_path_takes_plain_objects():
    body = export_with('{"_id":"plain"}', copies=400)
    with bulk_runs() as taken:
        items = bulk_read(body)
    assert len(items) == 401
    assert sum(taken) >= 390  # all but the last item of each buffer, at most


def test_long_digit_runs_inside_strings_do_not_leave_the_bulk_path():
    sha = "f91d5df577740137476742818562bc36" * 2
    body = export_with(
        json.dumps({"_id": "x", "sha256": sha, "n": "1234567890123456789012"}, separators=(",", ":")), copies=200
    )
    with bulk_runs() as taken:
        bulk_read(body)
    assert sum(taken) >= 190


def test_one_odd_item_sends_only_its_neighbourhood_to_the_careful_path():
    body = export_with('{"_id":"nan","n":NaN}', copies=2000)
    with bulk_runs() as taken:
        items = bulk_read(body, size=1 << 16)
    assert len(items) == 2001
    assert sum(taken) >= 1000


@pytest.mark.parametrize("size", [64, 1 << 16])
def test_an_item_over_the_bound_is_an_error_on_the_bulk_path_too(size):
    body = export_with(json.dumps({"_id": "large", "s": "x" * 3000}), copies=100)
    with pytest.raises(DataError, match="larger than 2048 characters"):
        bulk_read(body, size, max_item_chars=2048)


def test_an_item_one_character_over_the_bound_is_an_error_on_the_bulk_path_too():
    large = '{"_id":"' + "x" * 55 + '"}'  # 65 characters, followed by a comma: the bulk path's to take
    with pytest.raises(DataError, match="larger than 64 characters"):
        bulk_read(f'[{large},{{"_id":"small"}}]'.encode(), max_item_chars=64)


def test_items_just_within_the_bound_are_read():
    body = export_with(json.dumps({"_id": "large", "s": "x" * 1900}), copies=100)
    assert typed(bulk_read(body, max_item_chars=2048)) == typed(careful_read(body, max_item_chars=2048))


@pytest.mark.parametrize(
    "body", [b'[{"a":1},{"a":2},{"a":', b'[{"a":1},{"a":2},}', b'[{"a":1},{"a":2}', b'[{"a":1},,{"a":2}]']
)
def test_broken_bodies_fail_as_on_the_careful_path(body):
    with pytest.raises(DataError) as bulk:
        bulk_read(body)
    with pytest.raises(DataError) as careful:
        careful_read(body)
    assert str(bulk.value) == str(careful.value)


odd_literals = st.sampled_from(
    ["NaN", "Infinity", "-Infinity", "1E400", "-0.0", "-0", "1.0", "18446744073709551616", "-9223372036854775809",
     "18446744073709551615", '"\\ud800"', '"\\udc00\\ud800"', '"},{"', '{"k":1,"k":2}', "[" * 300 + "]" * 300]
)  # fmt: skip


@st.composite
def export_texts(draw: st.DrawFn) -> str:
    """Arrays of events and arbitrary values, with odd literals spliced in and the Hub's or a
    pretty layout."""
    events = draw(st.lists(hub_events | st.dictionaries(st.text(max_size=6), json_data, max_size=5), max_size=12))
    separators = draw(st.sampled_from([(",", ":"), (", ", ": ")]))
    texts = [json.dumps(event, separators=separators) for event in events]
    for _ in range(draw(st.integers(0, 3))):
        literal = draw(odd_literals)
        at = draw(st.integers(0, len(texts)))
        texts.insert(at, '{"_id":"odd","v":' + literal + "}" if draw(st.booleans()) else literal)
    return "[" + separators[0].join(texts) + "]"


@settings(max_examples=300, deadline=None)
@given(text=export_texts(), size=st.integers(1, 300))
def test_bulk_and_careful_paths_agree_on_any_export(text, size):
    body = text.encode("utf-8", "surrogatepass")
    assert typed(bulk_read(body, size)) == typed(careful_read(body, size))


@pytest.mark.parametrize("enabled", [True, False])
def test_reading_leaves_the_garbage_collector_as_it_was(enabled):
    import gc

    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        with bulk_runs() as taken:
            bulk_read(export_with('{"_id":"plain"}', copies=50))
        assert taken and gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


def test_one_bulk_parse_leaves_an_enabled_garbage_collector_enabled():
    import gc

    was = gc.isenabled()
    gc.enable()
    try:
        with bulk_runs() as taken:
            bulk_read(b'[{"_id":"a"},{"_id":"b"}]')
        assert taken == [1] and gc.isenabled()  # one parse: a state not restored cannot be undone by a second
    finally:
        (gc.enable if was else gc.disable)()
