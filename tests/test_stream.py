"""The streaming array reader: every element, whatever the chunking; a clear error otherwise."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hf_audit.errors import DataError
from hf_audit.stream import NotAnArray, TooDeep, _Buffer, iter_json_array


def chunked(body: bytes, size: int):
    return (body[i : i + size] for i in range(0, len(body), size))


def read_all(body: bytes, size: int = 7, max_item_chars: int = 1 << 20) -> list:
    return list(iter_json_array(chunked(body, size), max_item_chars=max_item_chars))


json_values = st.recursive(
    # No infinities: json.dumps writes them as the non-JSON `Infinity`, which the reader keeps as text.
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(items=st.lists(json_values, max_size=8), size=st.integers(min_value=1, max_value=64), indent=st.sampled_from([None, 2]))
def test_yields_every_element_whatever_the_chunk_size(items, size, indent):
    body = json.dumps(items, indent=indent).encode()
    assert read_all(body, size) == items


def test_multibyte_characters_split_across_chunks_are_kept():
    items = [{"message": "modèle 🤗 créé"}]
    assert read_all(json.dumps(items, ensure_ascii=False).encode(), size=1) == items


def test_invalid_utf8_becomes_replacement_character_not_an_error():
    assert read_all(b'[{"m":"a\xffb"}]') == [{"m": "a\ufffdb"}]


def test_empty_array_yields_nothing():
    assert read_all(b" [ ] \n") == []


@pytest.mark.parametrize("body", [b'{"error":"Invalid token"}', b"<html><body>502</body></html>", b"null"])
def test_a_body_that_is_not_an_array_is_an_error(body):
    with pytest.raises(NotAnArray):
        read_all(body)


def test_an_empty_body_is_an_error():
    with pytest.raises(DataError, match="empty"):
        read_all(b"")


@pytest.mark.parametrize("body", [b'[{"a":1},{"a":', b'[{"a":1}', b'[{"a":1},'])
def test_a_body_cut_off_midway_is_an_error(body):
    with pytest.raises(DataError):
        read_all(body)


def test_a_cut_off_body_yields_the_complete_items_before_failing():
    seen = []
    with pytest.raises(DataError, match="cut off"):
        for item in iter_json_array(chunked(b'[{"a":1},{"a":2}', 3), max_item_chars=100):
            seen.append(item)
    assert seen == [{"a": 1}, {"a": 2}]


# Spaced objects take the fast path up to the last one: its trailing comma is still refused.
@pytest.mark.parametrize("body", [b"[1,,2]", b"[1 2]", b"[1,2,]", b'[{"a": 1}, {"b": 2}, ]', b'[{"a":1]', b"[1]x"])
def test_invalid_json_is_an_error(body):
    with pytest.raises(DataError):
        read_all(body)


def test_an_item_over_the_size_bound_is_an_error():
    body = json.dumps([{"big": "x" * 5000}]).encode()
    with pytest.raises(DataError, match="larger than"):
        read_all(body, size=256, max_item_chars=1000)


def test_a_large_item_is_read_with_few_rescans():
    # 2 MB in 1 KB chunks: the reader asks for geometrically more, so this stays fast and exact.
    items = [{"big": "y" * 2_000_000}, {"small": 1}]
    assert read_all(json.dumps(items).encode(), size=1024, max_item_chars=4_000_000) == items


def test_numbers_split_across_chunks_are_read_whole():
    assert read_all(b"[12345678901234567890123, 1.5e300]", size=3) == [12345678901234567890123, 1.5e300]


def too_deep_item(event_id: str, levels: int = 5000) -> str:
    # A string holding unbalanced brackets and an escaped quote sits at the bottom: only a scan
    # that skips strings finds where the item ends.
    return '{"_id":"' + event_id + '","data":' + "[" * levels + '"]]}}\\"["' + "]" * levels + "}"


@pytest.mark.parametrize("size", [7, 1000, 65536])
def test_an_item_nested_too_deeply_to_parse_is_passed_on_and_the_rest_is_read(size):
    body = ('[{"a":1},' + too_deep_item("6b0000000000000000000001") + ',{"b":2}]').encode()
    first, deep, last = read_all(body, size=size, max_item_chars=1_000_000)
    assert (first, last) == ({"a": 1}, {"b": 2})
    assert isinstance(deep, TooDeep) and deep.text == too_deep_item("6b0000000000000000000001")


def test_the_marker_for_an_item_too_deep_is_generic_and_carries_only_its_text():
    body = ("[" + "[" * 5000 + "]" * 5000 + "]").encode()
    (deep,) = read_all(body, size=4096, max_item_chars=1_000_000)
    assert isinstance(deep, TooDeep) and deep.text == "[" * 5000 + "]" * 5000
    assert vars(deep) == {"text": deep.text}


def test_an_item_nested_too_deeply_and_cut_off_is_an_error():
    with pytest.raises(DataError, match="cut off"):
        read_all(("[" + too_deep_item("x")[:-100]).encode(), size=4096, max_item_chars=1_000_000)


def test_a_number_longer_than_the_read_ahead_is_read_whole():
    # Its digits reach the end of the buffer before the body ends: "12" must wait for "3". (Past
    # 4,000 digits a number is kept as its text.)
    literal = "7" * 1_500_000
    assert read_all(f"[{literal}, 1]".encode(), size=65536, max_item_chars=4_000_000) == [literal, 1]


def test_a_closing_bracket_alone_in_the_last_chunk_ends_a_long_export():
    items = [{"k": "x" * 100, "n": n} for n in range(2000)]
    body = json.dumps(items).encode()
    chunks = [body[i : i + 4096] for i in range(0, len(body) - 1, 4096)]
    chunks[-1] = chunks[-1][:-1] if chunks[-1].endswith(b"]") else chunks[-1]
    chunks.append(b"]")
    assert b"".join(chunks) == body
    assert list(iter_json_array(iter(chunks), max_item_chars=1 << 20)) == items


def test_the_buffer_drops_what_was_read_when_it_refills():
    # It holds one chunk plus the pending item, not the whole body.
    buf = _Buffer(iter([b"abcdef", b"ghij"]))
    assert buf.fill() and buf.text == "abcdef"
    buf.pos = 4
    assert buf.fill() and (buf.text, buf.pos, buf.dropped, buf.offset()) == ("efghij", 0, 4, 4)
    assert not buf.fill() and buf.eof



def test_a_fill_brings_at_least_one_character_past_chunks_that_decode_to_nothing():
    # An empty chunk and the first byte of a split "é" add no text: fill goes on to the next chunk.
    buf = _Buffer(iter([b"", b"\xc3", b"\xa9x"]))
    assert buf.fill() and buf.text == "\u00e9x"

def test_integers_up_to_4000_digits_are_numbers_and_longer_ones_their_text():
    assert read_all(b"[" + b"9" * 4000 + b"]") == [int("9" * 4000)]
    assert read_all(b"[" + b"9" * 4001 + b"]") == ["9" * 4001]


def test_errors_count_the_events_read_before_them():
    with pytest.raises(DataError, match=r"ended after 2 events without its closing '\]'"):
        read_all(b'[{"a":1},{"a":2}')
    with pytest.raises(DataError, match="event 1 at character"):
        read_all(json.dumps([{"a": 1}, {"big": "x" * 5000}]).encode(), size=256, max_item_chars=1000)
    with pytest.raises(DataError, match="invalid JSON after event 1"):
        read_all(b"[1 2]")


def test_a_body_that_is_not_an_array_is_quoted_by_its_first_200_characters():
    with pytest.raises(NotAnArray) as raised:
        read_all(b"x" * 1000, size=1)
    assert raised.value.snippet == "x" * 200


@pytest.mark.parametrize("body", [b"[]\xc3", b'[{"a":1}]\xe2\x82'])
def test_an_incomplete_utf8_sequence_after_the_closing_bracket_is_refused(body):
    # Found by the fragment fuzzer: the decoder's final U+FFFD was not counted as text, so it passed unseen.
    with pytest.raises(DataError, match="after the export's closing"):
        list(iter_json_array([body[:1], body[1:]], max_item_chars=1 << 20))


def test_an_invalid_item_at_the_end_is_reported_at_its_character_in_the_whole_body():
    # Small chunks: the buffer has dropped what it read, and the offset still counts from the body's start.
    body = b"[" + b'{"a":1},' * 20 + b'{"b":x}]'
    offset = body.index(b"x")  # ASCII: bytes and characters agree
    with pytest.raises(DataError, match=rf"inside event 20: .*\(Expecting value at character {offset}\)"):
        read_all(body, size=7, max_item_chars=1000)


def test_an_item_is_bounded_by_its_own_length_not_by_what_precedes_it_in_the_buffer():
    # 45 KB of events, then a 60 KB event cut by the end of the first 64 KiB read (its "},{" makes
    # the fast path try it and hand it to the careful one there), then one more.
    items = [{"k": "x" * 100} for _ in range(400)] + [{"s": "},{" + "y" * 60_000}, {"b": 2}]
    assert read_all(json.dumps(items).encode(), size=65536, max_item_chars=80_000) == items


def test_an_error_after_an_item_names_its_character_in_the_whole_body():
    body = b"[" + b"1," * 50 + b"1 2]"
    with pytest.raises(DataError, match=rf"invalid JSON after event 51: expected ',' or '\]' at character {body.index(b'2]')}"):
        read_all(body, size=7)


def test_an_item_over_the_size_bound_is_an_error_when_more_events_follow_it():
    # Followed by a comma, the object is read by the fast path: the bound holds there too.
    body = json.dumps([{"a": 1}, {"big": "x" * 5000}, {"b": 2}]).encode()
    with pytest.raises(DataError, match="event 1 at character [0-9]+ is larger than 1000 characters"):
        read_all(body, size=256, max_item_chars=1000)


def test_a_number_of_exactly_the_size_bound_cut_before_its_delimiter_is_read_whole():
    # Its 1.1 million digits (kept as text) end the first chunk, past the size the fast path leaves
    # to the careful one: whether the number goes on is known only from the next chunk.
    literal = "7" * 1_100_000
    chunks = [b"[" + literal.encode(), b"]"]
    assert list(iter_json_array(chunks, max_item_chars=len(literal))) == [literal]


def test_an_item_of_exactly_the_size_bound_is_read():
    item = {"k": "x" * 90}
    size = len(json.dumps(item))
    assert read_all(json.dumps([item]).encode(), max_item_chars=size) == [item]
    assert read_all(json.dumps([item, item]).encode(), max_item_chars=size) == [item, item]


def test_a_number_at_the_very_end_of_a_cut_body_counts_as_read_and_the_body_as_cut_after_it():
    with pytest.raises(DataError, match=r"ended after 2 events without its closing '\]'"):
        read_all(b"[1, 12", size=3)
