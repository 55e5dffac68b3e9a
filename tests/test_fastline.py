"""The compiled hot path (plugin/native, plugin/fastline.py) prints exactly what the Python code does.

The Python code is the definition: `to_line(normalize(...))` for a record, `_has_model_types` for the
event check. The compiled code may decline an item (None: the poll then takes the Python path), but
whatever it writes must be the same bytes, and on what the Hub sends today it must not decline.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import ORG, TOKEN, poller_env, run_like_fluent_bit
from hf_audit import fastline
from hf_audit.events import _has_model_types, parse_event
from hf_audit.line import to_line
from hf_audit.normalize import RecordContext, normalize
from hf_audit.simhub.events import generate_events
from hf_audit.simhub.server import SimulatedHub
from ip_databases import BERLIN_V4, PARIS_V4, PARIS_V6, SAO_PAULO_V4, TOKYO_V4, build_databases
from output_corpus import END
from strategies import hub_events

if not fastline.is_built():
    reason = "the compiled extension hf_audit._native is not built"
    if shutil.which("cargo") is None:
        pytest.skip(f"{reason}: no cargo (Rust) on PATH when hf-audit was installed", allow_module_level=True)
    raise AssertionError(f"{reason}, though cargo is on PATH: the install's Rust build failed (see pip's output)")

from hf_audit._native import has_model_types  # noqa: E402 - only importable once built

CTX = RecordContext(
    org="acme", workspace_id="ws-1", source_id="src-1", source_ttl_days=90,
    received_at=datetime(2026, 11, 25, 17, 5, 0, 250000, tzinfo=UTC),
)  # fmt: skip
BOUND = 65536


def python_line(item: dict[str, Any], bound: int = BOUND, ctx: RecordContext = CTX) -> bytes:
    return to_line(normalize(parse_event(item, compiled=False), item, ctx), bound)


def as_export_item(event: dict[str, Any]) -> dict[str, Any]:
    """The event as the stream parser hands it over: parsed from its JSON."""
    return orjson.loads(orjson.dumps(event))


def corpus(profile: str, count: int = 1500) -> list[dict[str, Any]]:
    events = generate_events(count, seed=42, end=END, span=timedelta(days=20), data_profile=profile)
    return [as_export_item(event) for event in events]


# --- the line -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("profile", "bound"), [("plain", BOUND), ("rich", BOUND), ("rich", 4096)])
def test_every_line_the_compiled_path_writes_is_the_python_paths_line(profile: str, bound: int) -> None:
    lines = fastline.FastLines(CTX, bound, None)
    written = 0
    for item in corpus(profile):
        line = lines.line(item)
        if line is not None:
            written += 1
            assert line == python_line(item, bound)
    assert written > 300  # a check that compared nothing would pass too


def test_the_compiled_path_writes_every_event_of_todays_data() -> None:
    lines = fastline.FastLines(CTX, BOUND, None)
    declined = [item["_id"] for item in corpus("plain", 3000) if lines.line(item) is None]
    assert declined == []


def test_a_line_over_the_bound_is_left_to_the_python_path_which_cuts_it() -> None:
    item = as_export_item(corpus("plain", 1)[0] | {"message": "m" * 5000})
    assert fastline.FastLines(CTX, 4096, None).line(item) is None
    assert fastline.FastLines(CTX, BOUND, None).line(item) == python_line(item)


def nested_lists(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


# Events at the edges of normalize's rules, each one the compiled path must write itself.
ID = "6aecba4d0976e09f15936f42"
EDGE_EVENTS: dict[str, dict[str, Any]] = {
    "a tag value of exactly the bound": {"data": {"v": "x" * 1024}},
    "a tag value one past the bound": {"data": {"v": "x" * 1025}},
    "a tag value past the bound in characters": {"data": {"v": "é" * 1025}},
    "a tag value within the bound in characters, past it in bytes": {"data": {"w": "😀" * 600, "x": "é" * 1000}},
    "a tag key of exactly the bound": {"data": {"k" * 123: "v"}},
    "a tag key one past the bound": {"data": {"k" * 124: "v"}},
    "a list of scalars past the bound": {"data": {"l": ["x" * 600, "y" * 600]}},
    "as many leaves as tags allowed": {"data": {f"k{i}": i for i in range(64)}},
    "more leaves than tags allowed": {"data": {f"k{i}": i for i in range(70)}},
    "more leaves than tags, the last ones in lists": {"data": {"a": {f"k{i}": i for i in range(63)}, "b": [[1], [2], [3]]}},
    "nesting at the depth bound": {"data": {"a": {"b": {"c": {"d": {"e": 1}}}}}},
    "nesting past the depth bound": {"data": {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}, "z": 1}},
    "two leaves with one tag key": {"data": {"a.b": 1, "a": {"b": 2}}},
    "scalar data: text": {"data": "text"},
    "scalar data: integer": {"data": -(2**63)},
    "scalar data: boolean": {"data": False},
    "scalar data: the largest 64-bit integer": {"data": 2**64 - 1},
    "floats, as Python writes them": {"data": {"f": [0.25, 1e16, 1e-07, -0.0, 1.5e300, 123456789.123456789, 5e-324], "g": 2.0}},
    "scalar data: a float": {"data": 0.1},
    "nesting orjson writes, deeper than the tags go": {"data": {"d": nested_lists(200)}},
    "empty data": {"data": {}},
    "an empty list and a list of objects": {"data": {"e": [], "o": [{"a": 1}, {"b": None}], "m": [1, {"c": True}]}},
    "a repository without a type": {"data": {"repo": {"name": "org/model"}}},
    "a repository named by its id": {"data": {"repo": {"name": "", "id": "org/by-id", "type": "dataset"}}},
    "a repository whose name is not text": {"data": {"repo": {"name": 5, "id": "org/ignored"}}},
    "a repository with an empty type": {"data": {"repo": {"name": "org/x", "type": ""}}},
    "a repository named by a bare string": {"data": {"repo": "org/bare", "repoId": "org/bare"}},
    "a move between repositories": {"type": "repo.move", "data": {"repo": {"name": "a/b", "type": "space"}, "from": "a/b", "to": "c/d"}},
    "a move with no repository": {"type": "repo.move", "data": {"from": "a/b", "to": "c/d"}},
    "from and to outside the repo scope": {"type": "collection.move", "data": {"from": "a/b", "to": "c/d"}},
    "users named by user and by name": {"data": {"users": [{"user": "u1", "name": "n1"}, {"name": "n2"}, "u3", "", 4, {"user": ""}]}},
    "every named resource": {"data": {
        "collection": {"slug": "c-slug", "id": "c-id"}, "resourceGroup": {"name": "rg"}, "job": "j1",
        "scheduledJob": {"id": "sj"}, "serviceAccount": {"id": "", "name": "sa"}, "user": {"user": "", "name": "un"},
    }},
    "repeated and too many resources": {"data": {"repo": "org/a", "repoId": "org/a", "users": [f"u{i % 40}" for i in range(80)]}},
    "an empty oauth client": {"oauth": {}},
    "an oauth client with a name": {"oauth": {"clientId": "cid", "name": "app"}},
    "an author deleted, or not known to be": {"author": {"_id": ID, "user": "u", "deleted": True}},
    "an author whose deletion is null": {"author": {"_id": ID, "user": "u", "deleted": None, "avatarUrl": ""}},
    "an author name past the bound": {"author": {"_id": ID, "user": "u" * 1100, "avatarUrl": "a" * 1025}},
    "no author, location or token": {"author": None, "location": {}, "token": None},
    "a deleted token": {"token": {"type": "access_token", "id": "t", "deleted": True}},
    "no user agent": {"userAgent": ""},
    "a type without a dot": {"type": "login"},
    "a read-only type": {"type": "org.audit_log.export"},
    "control characters, quotes and backslashes": {"message": 'say "hi"\\n\t\x00\x1f\x7f \u2028 é 😀', "data": {"q\"k": "\\"}},
}


@pytest.mark.parametrize("changes", EDGE_EVENTS.values(), ids=EDGE_EVENTS.keys())
def test_an_event_at_the_edge_of_a_rule_gets_the_python_paths_line_from_the_compiled_path(changes: dict[str, Any]) -> None:
    item = as_export_item(corpus("plain", 1)[0] | changes)
    line = fastline.FastLines(CTX, BOUND, None).line(item)
    assert line is not None
    assert line == python_line(item)


# The escaper writes 8 bytes at a time into room it reserved beforehand (lib.rs, `write_escaped`):
# every length across several 8-byte steps, at the densest escaping (a control character becomes 6
# bytes), at none, and mixed with quotes and multi-byte characters, in an unbounded column
# (message) and in a bounded one (a tag value). tests/test_native_checked.py runs this against a
# build whose bounds assertions are on.
ESCAPE_MIXES = {
    "control": "\x01",
    "plain": "a",
    "quote and backslash": 'x"\\',
    "multi-byte": "é😀\x1f",
}


@pytest.mark.parametrize("unit", ESCAPE_MIXES.values(), ids=ESCAPE_MIXES.keys())
def test_a_string_of_every_length_is_escaped_as_the_python_path_does(unit: str) -> None:
    lines = fastline.FastLines(CTX, BOUND, None)
    base = corpus("plain", 1)[0]
    for length in range(1100):
        text = (unit * length)[:length]
        item = as_export_item(base | {"message": text, "data": {"v": text}})
        assert lines.line(item) == python_line(item), f"{length} characters of {unit!r}"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("message", 1.5),  # not text: the model's coercion
        ("data", {"big": 2**64}),  # beyond 64 bits: orjson refuses it
        ("message", "lone \ud800 surrogate"),  # no UTF-8 for it: the Python path replaces it
        ("data", {"d": nested_lists(300)}),  # orjson writes 254 levels at most
    ],
    ids=["float message", "big integer", "lone surrogate", "deep nesting"],
)
def test_what_only_the_python_path_writes_exactly_is_declined(field: str, value: Any) -> None:
    item = corpus("plain", 1)[0] | {field: value}
    assert fastline.FastLines(CTX, BOUND, None).line(item) is None


def test_a_lone_surrogate_goes_the_python_way_and_the_poll_prints_it_replaced() -> None:
    item = corpus("plain", 1)[0] | {"message": "lone \ud800 surrogate"}
    assert "lone \ufffd surrogate" in json.loads(python_line(item))["message"]


# Text that exercises every escape: quotes, backslashes, each control character, DEL, non-ASCII,
# characters outside the BMP, and runs longer than the 8-byte steps of the compiled escaper.
awkward_text = st.text(
    alphabet=st.sampled_from(['"', "\\", "/", "\x7f", "é", "\u2028", "😀", "a", " ", ".", ","]) | st.characters(max_codepoint=0x1F),
    max_size=40,
) | st.text(max_size=40)
edge_integers = st.sampled_from([0, -1, 2**63 - 1, -(2**63), 2**64 - 1, 2**64, -(2**63) - 1])
awkward_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | edge_integers | awkward_text
awkward_data = st.recursive(
    awkward_scalars,
    lambda children: st.lists(children, max_size=6)
    | st.dictionaries(awkward_text | st.sampled_from(["a", "a.b", "repo", "users", "user", "name"]), children, max_size=8),
    max_leaves=80,
)
# The keys resources_of reads, with every kind of value, so the resources column's rules are hit.
resource_values = st.none() | st.just("") | awkward_text | st.integers() | st.lists(awkward_scalars, max_size=3) | st.fixed_dictionaries(
    {}, optional={"name": awkward_scalars, "id": awkward_scalars, "type": awkward_scalars, "slug": awkward_text, "user": awkward_scalars}
)
resource_data = st.dictionaries(
    st.sampled_from(["repo", "repoId", "from", "to", "collection", "resourceGroup", "job", "scheduledJob", "serviceAccount", "user"]),
    resource_values,
    max_size=6,
) | st.fixed_dictionaries({"users": st.lists(resource_values, max_size=40)})


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    event=hub_events,
    data=st.none() | awkward_data | resource_data,
    message=awkward_text,
    long_text=st.sampled_from(["", "x" * 1025, "é" * 1030, "k" * 129]),
)
@example(event={"_id": "a" * 24, "createdAt": "2026-01-01T00:00:00.000Z", "type": "repo.move", "message": ""},
         data={"from": "a/b", "to": "c/d", "repo": {"name": "x", "type": "dataset"}}, message="", long_text="")
@example(event={"_id": "a" * 24, "createdAt": "2026-01-01T00:00:00.000Z", "type": "org.x", "message": ""},
         data={"a.b": 1, "a": {"b": 2}}, message="", long_text="")  # two leaves, one tag key
def test_a_generated_event_gets_the_python_paths_line_or_is_declined(
    event: dict[str, Any], data: Any, message: str, long_text: str
) -> None:
    event = dict(event, message=message)
    if data is not None:
        event["data"] = data
    if long_text:  # values and keys past the tag bounds: the cutting rules
        event["author"] = dict(event["author"], user=long_text)
        event.setdefault("data", {})
        if isinstance(event["data"], dict):
            event["data"][long_text[:200]] = long_text
    try:
        item = json.loads(json.dumps(event))  # big integers stay exact, as the careful parser keeps them
    except ValueError:
        return
    if not _has_model_types(item):
        return  # the model path: never the compiled writer's
    line = fastline.FastLines(CTX, BOUND, None).line(item)
    if line is not None:
        assert line == python_line(item)


def test_a_record_id_is_the_python_paths_for_every_organization() -> None:
    for org in ("acme", "ünïcode-org", "a" * 100):
        ctx = CTX.model_copy(update={"org": org})
        item = corpus("plain", 1)[0]
        assert fastline.FastLines(ctx, BOUND, None).line(item) == python_line(item, ctx=ctx)


# --- the event check ------------------------------------------------------------------------------

canonical_times = st.builds(
    "{}-{}-{}T{}:{}:{}.{}Z".format,
    st.sampled_from(["0000", "0001", "1900", "2000", "2024", "2100", "9999"]),
    st.sampled_from(["00", "01", "02", "04", "12", "13"]),
    st.sampled_from(["00", "01", "28", "29", "30", "31", "32"]),
    st.sampled_from(["00", "23", "24", "99"]),
    st.sampled_from(["00", "59", "60"]),
    st.sampled_from(["00", "59", "60"]),
    st.sampled_from(["000", "999"]),
)
any_json = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | awkward_text | st.lists(st.integers(), max_size=2)
TOP_FIELDS = ["_id", "type", "createdAt", "message", "ip", "userAgent", "author", "location", "token", "oauth", "data"]
NESTED_FIELDS = ["_id", "id", "user", "avatarUrl", "type", "deleted", "formatted", "country", "city", "role", "last4", "clientId", "name"]
nested = st.none() | any_json | st.dictionaries(st.sampled_from(NESTED_FIELDS), any_json, max_size=5)
field_values = any_json | nested | canonical_times | st.sampled_from(["a" * 256, "a" * 257, "é", "", "a" * 1024, "a" * 1025, "2026-01-01T00:00:00.000Z"])


@settings(max_examples=600, deadline=None)
@given(
    event=hub_events,
    top=st.sampled_from(TOP_FIELDS),
    inner=st.sampled_from(NESTED_FIELDS),
    value=field_values,
    where=st.sampled_from(["top", "nested", "removed"]),
)
def test_the_compiled_event_check_agrees_with_the_python_one(event: dict[str, Any], top: str, inner: str, value: Any, where: str) -> None:
    """A valid event with one field changed: at the top, inside a nested object, or left out."""
    item = dict(event)
    if where == "top":
        item[top] = value
    elif where == "removed":
        item.pop(top, None)
    elif isinstance(item.get(top), dict):
        item[top] = dict(item[top], **{inner: value})
    else:
        item[top] = {inner: value}
    assert has_model_types(item) == _has_model_types(item)


def test_the_compiled_check_reads_the_calendar_as_datetime_does() -> None:
    base = {"_id": "a", "type": "t"}
    disagree = []
    for year in ("0000", "0001", "1900", "2000", "2023", "2024", "2100", "9999"):
        for month in ("00", "01", "02", "04", "12", "13"):
            for day in ("00", "01", "28", "29", "30", "31", "32"):
                for clock in ("00:00:00", "23:59:59", "24:00:00", "12:60:00", "12:00:60", "99:99:99"):
                    item = base | {"createdAt": f"{year}-{month}-{day}T{clock}.123Z"}
                    if has_model_types(item) != _has_model_types(item):
                        disagree.append(item["createdAt"])
    assert disagree == []


@pytest.mark.parametrize("created", ["2024-01-01T00:00:00.123z", "2024-01-01T00:00:00.12Z", "2024-01-01 00:00:00.123Z",
                                     "\uff12024-01-01T00:00:00.123Z", "2024-01-01T00:00:00.123Z\n", "2024-1-01T00:00:00.123Z"])
def test_the_compiled_check_turns_away_a_time_not_in_the_canonical_form(created: str) -> None:
    assert not has_model_types({"_id": "a", "type": "t", "createdAt": created})
    assert not _has_model_types({"_id": "a", "type": "t", "createdAt": created})


VALID = {"_id": "a", "type": "t", "createdAt": "2026-01-01T00:00:00.000Z"}
CHECK_CASES = {
    "an id of 256 characters": VALID | {"_id": "a" * 256},
    "an id of 257 characters": VALID | {"_id": "a" * 257},
    "a non-ASCII id": VALID | {"_id": "é"},
    "a type of 1,024 characters": VALID | {"type": "t" * 1024},
    "a type of 1,025 characters": VALID | {"type": "t" * 1025},
    "an author with id, the model's name for _id": VALID | {"author": {"id": "x"}},
    "an author deleted as null": VALID | {"author": {"_id": "x", "deleted": None}},
    "a token deleted as null": VALID | {"token": {"id": "x", "deleted": None}},
    "a token deleted as text": VALID | {"token": {"id": "x", "deleted": "false"}},
    "a location that is a list": VALID | {"location": ["Paris"]},
    "an oauth client id that is a number": VALID | {"oauth": {"clientId": 5}},
    "a message that is null": VALID | {"message": None},
    "an empty nested object": VALID | {"token": {}},
}


@pytest.mark.parametrize("item", CHECK_CASES.values(), ids=CHECK_CASES.keys())
def test_the_compiled_check_agrees_on_each_rule_of_the_python_one(item: dict[str, Any]) -> None:
    assert has_model_types(item) == _has_model_types(item)


def test_the_compiled_check_turns_away_what_is_not_a_dict() -> None:
    assert not has_model_types([{"_id": "a", "type": "t", "createdAt": "2026-01-01T00:00:00.000Z"}])


# --- the poll, both ways --------------------------------------------------------------------------

_RECEIVED_AT = re.compile(rb'"receivedAt":"[^"]*"')


def poll_output(events: list[dict], workdir: Path, **settings: str) -> bytes:
    with SimulatedHub(org=ORG, token=TOKEN, events=events) as hub:
        run = run_like_fluent_bit("hf-audit-poll", poller_env(hub.url, workdir / "state", workdir, **settings))
    assert run.returncode == 0, run.stderr
    return _RECEIVED_AT.sub(b"", run.stdout)  # the one column that is the poll's own time


@pytest.fixture(scope="module")
def export() -> list[dict]:
    events = generate_events(400, seed=3, end=datetime.now(UTC) - timedelta(minutes=5), span=timedelta(days=3), data_profile="rich")
    for index, address in enumerate((PARIS_V4, PARIS_V6, BERLIN_V4, TOKYO_V4, SAO_PAULO_V4) * 4):
        events[index]["ip"] = address
    events[30]["data"] = {"ratio": 0.5}  # a float: the Python path, inside a compiled poll
    return events


def test_a_poll_prints_the_same_bytes_with_the_compiled_path_off(export: list[dict], tmp_path: Path) -> None:
    compiled = poll_output(export, tmp_path / "on")
    python = poll_output(export, tmp_path / "off", HF_AUDIT_COMPILED="false")
    assert compiled.count(b"\n") == len(export)
    assert compiled == python


def test_an_enriched_poll_prints_the_same_bytes_with_the_compiled_path_off(export: list[dict], tmp_path: Path) -> None:
    databases = build_databases(tmp_path / "ipdb")
    settings = {
        "HF_AUDIT_GEOIP_CITY_DB": str(databases.city),
        "HF_AUDIT_GEOIP_ASN_DB": str(databases.asn),
        "HF_AUDIT_IPTOASN_TSV": str(databases.iptoasn),
    }
    compiled = poll_output(export, tmp_path / "on", **settings)
    python = poll_output(export, tmp_path / "off", HF_AUDIT_COMPILED="false", **settings)
    assert b'"srcCity":"Paris"' in compiled  # enrichment happened
    assert compiled == python



@pytest.mark.parametrize(("settings", "said"), [({}, "compiled (plugin/native)"), ({"HF_AUDIT_COMPILED": "false"}, "Python only: HF_AUDIT_COMPILED=false")])
def test_doctor_says_which_code_writes_the_records(tmp_path: Path, settings: dict[str, str], said: str) -> None:
    with SimulatedHub(org=ORG, token=TOKEN, events=[]) as hub:
        run = run_like_fluent_bit("hf-audit-poll doctor", poller_env(hub.url, tmp_path / "state", tmp_path, **settings))
    (line,) = [line for line in run.stdout.decode().splitlines() if "hot path" in line]
    assert line.startswith("PASS") and said in line
