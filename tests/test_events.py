"""parse_event: an item the Hub sends as the model declares it is used as it is; every other item
is decided by the HubEvent model, and both ways give the same record."""

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hf_audit.events import HubEvent, MalformedEvent, _validated, parse_event, too_deep_event_id
from hf_audit.normalize import RecordContext, normalize
from hf_audit.simhub.events import generate_events
from hf_audit.stream import TooDeep
from strategies import hub_events

CTX = RecordContext(
    org="acme", workspace_id="ws", source_id="src", source_ttl_days=90,
    received_at=datetime(2026, 11, 25, tzinfo=UTC),
)  # fmt: skip

# Values that the model coerces, refuses or reads under another name.
ODD_VALUES = st.sampled_from(
    [None, 0, 5, 5.5, True, False, "", "x", "\ud800", "é", "a" * 300, [], ["a"], {}, {"id": "q"}, {"_id": 7},
     {"_id": "a", "deleted": "yes"}, {"deleted": None}, {"deleted": 1}, {"clientId": None}, {"city": 3},
     "2026-02-30T00:00:00.000Z", "2026-01-01T00:00:00.000Z\n", "2026-01-01T01:00:00.000+01:00",
     "２０２６-01-01T00:00:00.000Z", "2026-01-01T00:00:00Z"]
)  # fmt: skip
FIELDS = st.sampled_from(
    ["_id", "id", "createdAt", "type", "message", "ip", "userAgent", "author", "location", "token", "oauth", "data"]
)
NESTED_FIELDS = st.sampled_from(["_id", "id", "user", "avatarUrl", "type", "deleted", "formatted", "city", "role", "clientId", "name"])


@st.composite
def odd_events(draw: st.DrawFn) -> dict:
    """A schema-valid event with some fields, top-level or nested, replaced by odd values."""
    event = dict(draw(hub_events))
    for _ in range(draw(st.integers(1, 3))):
        field, value = draw(FIELDS), draw(ODD_VALUES)
        nested = event.get(field)
        if isinstance(nested, dict) and draw(st.booleans()):
            event[field] = {**nested, draw(NESTED_FIELDS): value}
        else:
            event[field] = value
    return event


def record_through_the_model(item: dict) -> dict | str:
    try:
        return normalize(_validated(item), item, CTX)
    except MalformedEvent as exc:
        return f"malformed: {exc.reason}"


def record_through_parse_event(item: dict) -> dict | str:
    try:
        return normalize(parse_event(item), item, CTX)
    except MalformedEvent as exc:
        return f"malformed: {exc.reason}"


def test_events_as_the_hub_sends_them_skip_building_a_model():
    events = generate_events(2000, seed=3)
    assert all(parse_event(event) is event for event in events)


@settings(max_examples=400, deadline=None)
@given(item=hub_events)
def test_a_schema_valid_event_gives_the_same_record_either_way(item):
    assert record_through_parse_event(item) == record_through_the_model(item)


@settings(max_examples=1500, deadline=None)
@given(item=odd_events())
def test_an_event_with_odd_fields_gives_the_same_record_or_error_either_way(item):
    assert record_through_parse_event(item) == record_through_the_model(item)


def test_an_item_the_fast_check_turns_away_still_gets_the_models_coercions():
    item = {"_id": "a1", "createdAt": "2026-01-01T01:00:00.000+01:00", "type": "repo.create", "message": 5}
    event = parse_event(item)
    assert event["createdAt"] == "2026-01-01T00:00:00.000Z"
    assert event["message"] == "5"


@pytest.mark.parametrize("field", ["_id", "createdAt", "type"])
def test_an_event_without_a_required_field_is_malformed(field):
    item = {"_id": "a1", "createdAt": "2026-01-01T00:00:00.000Z", "type": "repo.create"}
    del item[field]
    with pytest.raises(MalformedEvent):
        parse_event(item)


def test_the_model_reads_author_id_under_either_name():
    item = {"_id": "a1", "createdAt": "2026-01-01T00:00:00.000Z", "type": "repo.create", "author": {"id": "u1"}}
    assert parse_event(item)["author"]["_id"] == HubEvent.model_validate(item).author.id == "u1"


def test_an_optional_field_sent_as_null_is_read_as_absent_not_malformed():
    item = {
        "_id": "a1", "createdAt": "2026-01-01T00:00:00.000Z", "type": "repo.create", "message": None, "ip": None,
        "userAgent": None, "author": {"_id": "u1", "user": None}, "token": {"id": "t1", "deleted": None},
    }  # fmt: skip
    record = normalize(parse_event(item), item, CTX)
    assert (record["message"], record["srcIP"], record["authorUser"], record["tokenDeleted"]) == ("", "", "", False)
    assert "userAgent" not in record["tags"]


def test_an_item_too_deep_to_parse_is_malformed_under_its_id():
    with pytest.raises(MalformedEvent, match="nested too deeply") as raised:
        parse_event(TooDeep('{"_id":"6b0000000000000000000001","data":[[[[]]]]}'))
    assert raised.value.event_id == "6b0000000000000000000001"


@pytest.mark.parametrize(
    ("text", "event_id"),
    [
        ('{"_id":"abc_-9","data":[[[]]]}', "abc_-9"),
        ('{ "_id" : "abc" }', "abc"),
        ('{"type":"x","_id":"abc"}', None),  # not first: not looked for in the rest of the text
        ('{"_id":"a b"}', None),  # not an id's characters
        ('{"_id":""}', None),
        ("[[[[]]]]", None),
    ],
)  # fmt: skip
def test_the_id_of_an_item_too_deep_is_read_from_the_start_of_its_text(text, event_id):
    assert too_deep_event_id(text) == event_id
