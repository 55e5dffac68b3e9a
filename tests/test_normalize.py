"""The normalized record: 51 columns, never null, faithful to the event, and one bounded line."""

import hashlib
import json
import uuid
from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import conftest
from conftest import SpecMissing, spec_column_types, spec_python_types
from hf_audit.events import parse_event
from hf_audit.line import (
    SHORTENED_MARK,
    _encoded_size,
    _shortened,
    _shrunk_raw_log,
    _water_level,
    compact_json,
    compact_json_clipped,
    to_line,
)
from hf_audit.normalize import COLUMNS, READ_ONLY_TYPES, RecordContext, normalize, record_id
from strategies import hub_events

CTX = RecordContext(
    org="acme", workspace_id="ws-1", source_id="src-1", source_ttl_days=90,
    received_at=datetime(2026, 11, 25, 17, 0, 0, 123456, tzinfo=UTC),
)

EVENT = {
    "_id": "6744aa0c1f2e3d4c5b6a7980",
    "createdAt": "2026-11-25T17:03:34.123Z",
    "type": "repo.add_secret",
    "message": "alice added secret HF_API_KEY to model acme/llama-ft",
    "author": {"_id": "5f0a1b2c3d4e5f6a7b8c9d0e", "user": "alice", "avatarUrl": "https://x/a.png", "type": "user"},
    "ip": "203.0.113.0",
    "location": {"formatted": "Paris, France", "country": "France", "city": "Paris"},
    "userAgent": "Mozilla/5.0",
    "token": {"type": "access_token", "id": "tok_1", "role": "write", "last4": "ab12", "deleted": False},
    "oauth": {"clientId": "client-9", "name": "CI app"},
    "data": {"repo": {"name": "acme/llama-ft", "type": "model"}, "key": "HF_API_KEY", "nested": {"n": 3, "ok": True}},
}


def record_for(event: dict, ctx: RecordContext = CTX) -> dict:
    return normalize(parse_event(event), event, ctx)


def spec_columns() -> list[tuple[str, str]]:
    return spec_column_types()


SPEC_TYPES = spec_python_types()  # a missing spec raises SpecMissing: no column goes unchecked


def test_columns_are_the_51_of_the_spec_in_order():
    assert list(COLUMNS) == [name for name, _ in spec_columns()]
    assert len(COLUMNS) == 51


def test_hub_fields_land_in_their_columns():
    record = record_for(EVENT)
    assert record["eventName"] == record["eventType"] == "repo.add_secret"
    assert record["eventID"] == record["auditID"] == EVENT["_id"]
    assert record["eventTime"] == "2026-11-25T17:03:34.123Z"
    assert record["receivedAt"] == "2026-11-25T17:00:00.123Z"
    assert record["srcIP"] == record["actorIP"] == "203.0.113.0"
    assert (record["locationFormatted"], record["locationCountry"], record["locationCity"]) == ("Paris, France", "France", "Paris")
    assert record["srcCity"] == "Paris"
    assert (record["authorID"], record["authorUser"], record["authorType"]) == ("5f0a1b2c3d4e5f6a7b8c9d0e", "alice", "user")
    assert (record["tokenType"], record["tokenID"], record["tokenRole"], record["tokenLast4"], record["tokenDeleted"]) == (
        "access_token", "tok_1", "write", "ab12", False)
    assert record["message"] == EVENT["message"]
    assert record["sourceType"] == "huggingface"
    assert (record["workspaceID"], record["sourceID"], record["sourceTTL"]) == ("ws-1", "src-1", 90)


def test_actor_is_a_string_map_of_the_author():
    assert record_for(EVENT)["actor"] == {"id": "5f0a1b2c3d4e5f6a7b8c9d0e", "user": "alice", "type": "user", "avatarUrl": "https://x/a.png"}


def test_tags_hold_scope_action_user_agent_oauth_client_and_data_scalars():
    tags = record_for(EVENT)["tags"]
    assert tags["scope"] == "repo" and tags["action"] == "add_secret"
    assert tags["userAgent"] == "Mozilla/5.0"
    assert tags["oauth.clientId"] == "client-9" and tags["oauth.name"] == "CI app"
    assert tags["data.repo.name"] == "acme/llama-ft"
    assert tags["data.key"] == "HF_API_KEY"
    assert tags["data.nested.n"] == "3" and tags["data.nested.ok"] == "true"


def test_lists_of_scalars_in_data_become_one_tag():
    event = dict(EVENT, type="repo.add_secrets", data={"keys": ["A", "B"]})
    assert record_for(event)["tags"]["data.keys"] == "A,B"


def test_tags_from_data_are_bounded_and_marked_truncated():
    event = dict(EVENT, data={f"k{i}": i for i in range(500)})
    tags = record_for(event)["tags"]
    assert sum(key.startswith("data.") for key in tags) == 64
    assert tags["truncated"] == "true"


def test_resources_name_what_data_names():
    cases = {
        "repo": ({"repo": {"name": "acme/ds", "type": "dataset"}}, ["dataset:acme/ds"]),
        "collection": ({"collection": {"slug": "acme/c-1"}}, ["collection:acme/c-1"]),
        "resource_group": ({"resourceGroup": {"id": "rg1", "name": "research"}}, ["resource_group:rg1"]),
        "org": ({"user": "bob"}, ["user:bob"]),
        "jobs": ({"job": {"id": "j1"}}, ["job:j1"]),
    }
    for scope, (data, expected) in cases.items():
        assert record_for(dict(EVENT, type=f"{scope}.x", data=data))["resources"] == expected


def test_a_repo_move_names_both_repos_with_the_kind_of_data_repo_when_repo_id_names_another():
    data = {"repo": {"name": "acme/new", "type": "space"}, "repoId": "r1", "from": "acme/old", "to": "acme/new"}
    resources = record_for(dict(EVENT, type="repo.move", data=data))["resources"]
    assert "space:acme/old" in resources and "model:acme/old" not in resources


def test_repo_move_lists_both_names():
    event = dict(EVENT, type="repo.move", data={"repo": {"name": "acme/new", "type": "space"}, "from": "acme/old", "to": "acme/new"})
    assert record_for(event)["resources"] == ["space:acme/new", "space:acme/old"]


def test_read_only_is_true_only_for_events_that_change_nothing():
    assert record_for(dict(EVENT, type="org.audit_log.export"))["readOnly"] is True
    assert record_for(dict(EVENT, type="org.sso_login"))["readOnly"] is True
    assert record_for(EVENT)["readOnly"] is False
    assert record_for(dict(EVENT, type="org.brand_new_thing"))["readOnly"] is False
    assert READ_ONLY_TYPES == {"org.audit_log.export", "org.sso_login"}


def test_unknown_event_type_is_emitted_like_any_other():
    record = record_for(dict(EVENT, type="org.brand_new_thing.enable"))
    assert record["eventName"] == "org.brand_new_thing.enable"
    assert record["tags"]["scope"] == "org" and record["tags"]["action"] == "brand_new_thing.enable"


# The record id is uuid5(namespace, "huggingface:<org>:<_id>"): RFC 4122 section 4.3, worked out
# here from its definition (SHA-1 of the namespace's 16 bytes and the name, version nibble 5,
# variant bits 10), not from the module's own helper.
ID_NAMESPACE = "6f1c1a52-8f3e-4d59-9a43-5b0f7f0c2b11"


def uuid5_by_definition(namespace: str, name: str) -> str:
    digest = bytearray(hashlib.sha1(bytes.fromhex(namespace.replace("-", "")) + name.encode("utf-8")).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    text = digest.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def test_record_id_of_a_known_event_is_pinned():
    assert record_for(EVENT)["id"] == "8f6ddd57-8978-561d-9b6f-0ed0eff59ef2"  # uuid.uuid5 of the name below, computed once


@pytest.mark.parametrize(
    ("org", "event_id"),
    [("acme", "6744aa0c1f2e3d4c5b6a7980"), ("Acme-Corp", "000000000000000000000000"), ("a", "ffffffffffffffffffffffff"),
     ("my_org.v2", "x"), ("acme", ""), ("acme", "é🤗"), ("acme", "0" * 300)],
)  # fmt: skip
def test_record_id_is_the_rfc_4122_uuid5_of_org_and_event_id(org, event_id):
    expected = uuid5_by_definition(ID_NAMESPACE, f"huggingface:{org}:{event_id}")
    assert expected == str(uuid.uuid5(uuid.UUID(ID_NAMESPACE), f"huggingface:{org}:{event_id}"))
    ctx = RecordContext(**{**CTX.model_dump(), "org": org})  # new: model_copy would keep the cached hash prefix
    assert record_id(org, event_id) == expected
    assert ctx.record_id(event_id) == expected
    assert uuid.UUID(expected).version == 5 and uuid.UUID(expected).variant == uuid.RFC_4122


@settings(max_examples=200, deadline=None)
@given(event_id=st.text(max_size=40), org=st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,20}\Z"))
def test_record_id_matches_uuid5_for_any_org_and_event_id(org, event_id):
    event_id = event_id.encode("utf-8", "replace").decode("utf-8")  # a lone surrogate is never an id
    name = f"huggingface:{org}:{event_id}"
    expected = uuid5_by_definition(ID_NAMESPACE, name)
    assert record_id(org, event_id) == expected == RecordContext(**{**CTX.model_dump(), "org": org}).record_id(event_id)


@pytest.mark.parametrize(("deleted", "shown"), [(True, "true"), (False, "false")])
def test_actor_deleted_is_the_text_of_the_authors_flag(deleted, shown):
    event = dict(EVENT, author=dict(EVENT["author"], deleted=deleted))
    assert record_for(event)["actor"]["deleted"] == shown


def test_actor_has_no_deleted_key_when_the_author_does_not_say():
    assert "deleted" not in record_for(EVENT)["actor"]


@pytest.mark.parametrize("deleted", [True, False])
def test_token_deleted_is_the_tokens_flag(deleted):
    event = dict(EVENT, token=dict(EVENT["token"], deleted=deleted))
    assert record_for(event)["tokenDeleted"] is deleted


def test_a_missing_spec_folder_is_an_error_not_an_empty_check(monkeypatch, tmp_path):
    monkeypatch.setattr(conftest, "SPEC_DIR", tmp_path / "no-spec-here")
    with pytest.raises(SpecMissing, match="no-spec-here"):
        spec_python_types()
    with pytest.raises(SpecMissing):
        spec_column_types()


def test_a_copied_context_with_another_org_and_poll_time_makes_records_for_them():
    CTX.record_template, CTX.record_id(EVENT["_id"])  # fills the cached template and id prefix
    copy = CTX.model_copy(update={"org": "other", "received_at": datetime(2027, 1, 1, tzinfo=UTC)})
    record = record_for(EVENT, copy)
    assert record["id"] == record_id("other", EVENT["_id"]) != record_for(EVENT)["id"]
    assert record["receivedAt"] == "2027-01-01T00:00:00.000Z" and record["tags"]["org"] == "other"


def test_a_plain_copy_of_a_context_makes_the_same_records():
    assert record_for(EVENT, CTX.model_copy()) == record_for(EVENT)


def test_id_is_deterministic_and_distinct_per_event():
    first = record_for(EVENT)["id"]
    later = record_for(EVENT, CTX.model_copy(update={"received_at": datetime(2027, 1, 1, tzinfo=UTC)}))["id"]
    assert first == later == record_id("acme", EVENT["_id"])
    assert record_for(dict(EVENT, _id="6744aa0c1f2e3d4c5b6a7981"))["id"] != first


def test_missing_optional_fields_become_empty_values_not_nulls():
    minimal = {k: EVENT[k] for k in ("_id", "createdAt", "type", "message", "author")}
    record = record_for(minimal)
    assert record["srcIP"] == "" and record["tokenRole"] == "" and record["tokenDeleted"] is False
    assert record["resources"] == [] and record["enrichments"] == []
    assert None not in record.values()


def test_created_at_with_an_offset_is_converted_to_utc_milliseconds():
    assert record_for(dict(EVENT, createdAt="2026-11-25T19:03:34+02:00"))["eventTime"] == "2026-11-25T17:03:34.000Z"


def test_raw_log_keeps_integers_beyond_64_bits_exactly():
    event = dict(EVENT, data={"n": 2**80})
    assert json.loads(record_for(event)["rawLog"])["data"]["n"] == 2**80


def test_lone_surrogates_do_not_break_the_line():
    event = dict(EVENT, message="bad \ud800 text")
    line = to_line(record_for(event), 65535)
    assert json.loads(line)["message"] == "bad \ufffd text"


def test_oversize_raw_log_and_message_are_cut_to_the_line_bound_and_flagged():
    event = dict(EVENT, message="m" * 30_000, data={"blob": "d" * 30_000})
    line = to_line(record_for(event), 4096)
    assert len(line) <= 4096 and line.endswith(b"\n") and line.count(b"\n") == 1
    record = json.loads(line)
    assert record["tags"]["truncated"] == "true"
    assert "rawLog" in record["tags"]["truncatedFields"] and "message" in record["tags"]["truncatedFields"]
    assert record["eventID"] == EVENT["_id"] and set(record) == set(COLUMNS)


def test_multibyte_text_is_cut_within_the_byte_bound():
    event = dict(EVENT, message="🤗" * 20_000)
    line = to_line(record_for(event), 8192)
    assert len(line) <= 8192
    json.loads(line)


def test_a_line_under_the_bound_is_not_marked_truncated():
    assert "truncated" not in json.loads(to_line(record_for(EVENT), 65535))["tags"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event=hub_events, bound=st.sampled_from([4096, 8192, 65535]))
def test_any_schema_valid_event_gives_51_typed_non_null_columns_in_one_line(event, bound):
    line = to_line(record_for(event), bound)
    assert len(line) <= bound and line.count(b"\n") == 1
    record = orjson.loads(line)
    assert list(record) == list(COLUMNS)
    for name, kind in SPEC_TYPES.items():
        assert isinstance(record[name], kind), (name, record[name])
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in {**record["actor"], **record["tags"]}.items())
    assert all(isinstance(r, str) for r in record["resources"])
    if record["tags"].get("truncated") != "true":
        assert json.loads(record["rawLog"]) == json.loads(json.dumps(event))


def test_resources_come_in_the_same_order_in_every_process():
    import subprocess
    import sys

    event = dict(EVENT, type="resource_group.add_users", data={"users": ["b"], "user": "a", "resourceGroup": {"id": "rg"}, "job": {"id": "j"}, "collection": {"slug": "c"}})
    script = (
        "import json,sys; from datetime import datetime, timezone; from hf_audit.events import parse_event; "
        "from hf_audit.normalize import normalize, RecordContext; e=json.loads(sys.argv[1]); "
        "c=RecordContext(org='acme', workspace_id='w', source_id='s', source_ttl_days=1, received_at=datetime.now(timezone.utc)); "
        "print(normalize(parse_event(e), e, c)['resources'])"
    )
    outputs = {
        subprocess.run([sys.executable, "-c", script, json.dumps(event)], env={"PYTHONHASHSEED": str(seed)}, capture_output=True, text=True).stdout
        for seed in range(6)
    }
    assert len(outputs) == 1 and "collection:c" in outputs.pop()


def test_actor_values_are_capped_and_flagged():
    event = dict(EVENT, author=dict(EVENT["author"], avatarUrl="/a/" + "x" * 5000))
    record = record_for(event)
    assert len(record["actor"]["avatarUrl"]) == 1024 and record["tags"]["truncated"] == "true"


MINIMAL = {k: EVENT[k] for k in ("_id", "createdAt", "type", "message", "author")}


def test_a_minimal_event_gives_exactly_this_record():
    # Every column written out: the empty value of each type where the event says nothing.
    empty_enrichment = {
        "srcIP": "", "srcASCountryCode": "", "srcASNumber": 0, "srcASOrganization": "", "srcCity": "",
        "srcConnectionType": "", "srcISP": "", "srcLatitude": 0.0, "srcLongitude": 0.0, "srcUserType": "",
        "dstIP": "", "dstASCountryCode": "", "dstASNumber": 0, "dstASOrganization": "", "dstCity": "",
        "dstConnectionType": "", "dstISP": "", "dstLatitude": 0.0, "dstLongitude": 0.0, "dstUserType": "",
    }  # fmt: skip
    expected = {
        "workspaceID": "ws-1", "sourceID": "src-1", "sourceType": "huggingface", "sourceTTL": 90,
        "receivedAt": "2026-11-25T17:00:00.123Z", "id": "8f6ddd57-8978-561d-9b6f-0ed0eff59ef2",
        "eventTime": "2026-11-25T17:03:34.123Z", "eventName": "repo.add_secret", "eventID": "6744aa0c1f2e3d4c5b6a7980",
        **empty_enrichment,
        "actor": {"id": "5f0a1b2c3d4e5f6a7b8c9d0e", "user": "alice", "type": "user", "avatarUrl": "https://x/a.png"},
        "tags": {"scope": "repo", "action": "add_secret", "org": "acme"}, "resources": [],
        "serviceName": "huggingface-hub", "enrichments": [], "readOnly": False,
        "rawLog": json.dumps(MINIMAL, separators=(",", ":")), "auditID": "6744aa0c1f2e3d4c5b6a7980",
        "eventType": "repo.add_secret", "message": "alice added secret HF_API_KEY to model acme/llama-ft",
        "authorID": "5f0a1b2c3d4e5f6a7b8c9d0e", "authorUser": "alice", "authorType": "user", "actorIP": "",
        "locationFormatted": "", "locationCountry": "", "locationCity": "", "tokenType": "", "tokenID": "",
        "tokenRole": "", "tokenLast4": "", "tokenDeleted": False,
    }  # fmt: skip
    record = record_for(MINIMAL)
    assert record == expected
    assert [type(record[k]) for k in COLUMNS] == [type(expected[k]) for k in COLUMNS]  # 0.0 is not 0 in a sink
    assert list(record) == list(COLUMNS)


def test_data_is_flattened_six_levels_deep_and_no_deeper():
    six = {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}
    seven = {"a": {"b": {"c": {"d": {"e": {"f": {"g": 1}}}}}}}
    assert {k: v for k, v in record_for(dict(EVENT, data=six))["tags"].items() if k.startswith("data")} == {"data.a.b.c.d.e.f": "1"}
    tags = record_for(dict(EVENT, data=seven))["tags"]
    assert not any(k.startswith("data") for k in tags) and tags["truncated"] == "true"


@pytest.mark.parametrize(("field", "key"), [("_id", "id"), ("user", "user"), ("type", "type"), ("avatarUrl", "avatarUrl")])
def test_each_actor_value_alone_over_the_cap_is_cut_and_flagged(field, key):
    event = dict(EVENT, author=dict(EVENT["author"], **{field: "v" * 1025}))
    record = record_for(event)
    assert record["actor"][key] == "v" * 1024 and record["tags"]["truncated"] == "true"


@pytest.mark.parametrize(("field", "key"), [("_id", "id"), ("user", "user"), ("type", "type"), ("avatarUrl", "avatarUrl")])
def test_an_actor_value_at_the_cap_is_kept_whole_and_not_flagged(field, key):
    record = record_for(dict(EVENT, author=dict(EVENT["author"], **{field: "u" * 1024})))
    assert record["actor"][key] == "u" * 1024 and "truncated" not in record["tags"]


def test_the_record_context_cannot_change_once_made():
    # Its id prefix is hashed once from the org: a context changed afterwards would give wrong ids.
    ctx = RecordContext(**CTX.model_dump())
    ctx.record_id("x")
    with pytest.raises(ValidationError):
        ctx.org = "other"  # type: ignore[misc]  # assigning to a frozen field is what the test does


def test_moved_from_and_to_name_resources_only_for_a_repo_event_with_both():
    assert record_for(dict(EVENT, type="org.rename", data={"from": "a", "to": "b"}))["resources"] == []
    assert record_for(dict(EVENT, type="repo.move", data={"to": "acme/b"}))["resources"] == []
    assert record_for(dict(EVENT, type="repo.move", data={"from": "acme/a"}))["resources"] == []
    assert record_for(dict(EVENT, type="repo.move", data={"from": "acme/a", "to": "acme/b"}))["resources"] == [
        "model:acme/a", "model:acme/b"
    ]


def test_resources_are_capped_at_32():
    users = [f"user{i}" for i in range(40)]
    assert record_for(dict(EVENT, type="org.add_users", data={"users": users}))["resources"] == [f"user:{u}" for u in users[:32]]


def nested_levels(levels: int) -> object:
    value: object = "leaf"
    for level in range(levels):
        value = [value] if level % 2 else {"k": value}
    return value


def test_raw_log_of_an_event_too_deep_to_serialize_keeps_its_first_levels_and_says_so():
    record = record_for(dict(EVENT, data=nested_levels(950)))
    assert record["tags"]["truncated"] == "true" and record["tags"]["truncatedFields"] == "rawLog"
    value, depth = json.loads(record["rawLog"])["data"], 1  # the event is level 0, its data level 1
    while isinstance(value, (dict, list)):
        value = next(iter(value.values())) if isinstance(value, dict) else value[0]
        depth += 1
    assert value == "[nested too deeply]" and depth == 128  # levels 0-127 kept, the 128th is the marker


def test_a_data_value_of_exactly_the_cap_is_kept_whole_and_one_more_is_cut_and_flagged():
    kept = record_for(dict(EVENT, data={"v": "k" * 1024}))["tags"]
    assert kept["data.v"] == "k" * 1024 and "truncated" not in kept
    cut = record_for(dict(EVENT, data={"v": "k" * 1025}))["tags"]
    assert cut["data.v"] == "k" * 1024 and cut["truncated"] == "true"


def test_a_data_key_over_its_cap_is_cut_and_flagged():
    tags = record_for(dict(EVENT, data={"k" * 200: "v"}))["tags"]
    assert tags[("data." + "k" * 200)[:128]] == "v" and tags["truncated"] == "true"


def test_null_and_scalar_data_values_become_their_text():
    tags = record_for(dict(EVENT, data={"n": None, "f": False, "t": True, "x": 1.5, "i": -3, "l": [None, "a", 2]}))["tags"]
    assert {k: v for k, v in tags.items() if k.startswith("data.")} == {
        "data.n": "", "data.f": "false", "data.t": "true", "data.x": "1.5", "data.i": "-3", "data.l": ",a,2",
    }  # fmt: skip


def test_a_data_key_at_its_cap_is_kept_whole_and_not_flagged():
    key = "k" * (128 - len("data."))  # the tag's key, data.kkk..., is exactly 128 characters
    tags = record_for(dict(EVENT, data={key: "v"}))["tags"]
    assert tags["data." + key] == "v" and "truncated" not in tags


def test_a_list_in_data_at_the_key_and_value_caps_is_kept_whole_and_not_flagged():
    key = "k" * (128 - len("data."))
    tags = record_for(dict(EVENT, data={key: ["a" * 1022, "b"]}))["tags"]  # "a...a,b": 1024 characters
    assert tags["data." + key] == "a" * 1022 + ",b" and "truncated" not in tags


def test_a_list_in_data_over_the_value_cap_is_cut_and_flagged():
    tags = record_for(dict(EVENT, data={"v": ["k" * 1025]}))["tags"]
    assert tags["data.v"] == "k" * 1024 and tags["truncated"] == "true"


def test_lists_in_data_count_towards_the_tag_limit():
    tags = record_for(dict(EVENT, data={f"k{i:03}": ["a"] for i in range(65)}))["tags"]
    assert sum(key.startswith("data.") for key in tags) == 64 and "data.k064" not in tags
    assert tags["truncated"] == "true"


def test_a_list_of_booleans_in_data_becomes_their_words():
    assert record_for(dict(EVENT, data={"flags": [True, False]}))["tags"]["data.flags"] == "true,false"


def test_data_that_is_a_scalar_is_one_tag():
    assert record_for(dict(EVENT, data="plain"))["tags"]["data"] == "plain"
    assert record_for(dict(EVENT, data=7))["tags"]["data"] == "7"


@pytest.mark.parametrize("repo", ["", {"name": ""}, {"name": 5}, {"id": 5}, {"type": "dataset"}, 7, None])
def test_a_repo_without_a_usable_name_names_no_resource(repo):
    assert record_for(dict(EVENT, data={"repo": repo}))["resources"] == []


def test_a_record_whose_escaped_tag_keys_alone_overflow_the_smallest_line_still_fits():
    # 64 data keys of control characters (6 bytes each once escaped): the keys alone overflow
    # 4096 bytes, so tags are dropped one per round; there are more of them than the base rounds.
    data = {"\x01" * 100 + str(i): "v" * 2000 for i in range(64)}
    line = to_line(record_for(dict(EVENT, data=data)), 4096)
    record = json.loads(line)
    assert len(line) <= 4096 and record["tags"]["truncated"] == "true"
    assert record["tags"]["truncatedFields"].split(",")[0] == "tags"
    assert len(record["tags"]["truncatedFields"]) <= 1024


@pytest.mark.parametrize("value", ["", 5, {"slug": 5}, {"slug": ""}, {"id": None}, []])
def test_a_named_resource_without_a_usable_name_names_nothing(value):
    assert record_for(dict(EVENT, type="collections.x", data={"collection": value}))["resources"] == []


def test_compact_json_is_the_compact_text_of_a_value():
    assert compact_json({"a": [1, "é"], "b": None}) == '{"a":[1,"é"],"b":null}'
    assert compact_json({"n": 2**80}) == '{"n":1208925819614629174706176}'


def test_a_record_written_by_the_fallback_serializer_keeps_its_text_as_utf_8():
    # A lone surrogate sends the record to the stdlib serializer: other text stays UTF-8, unescaped.
    line = to_line(record_for(dict(EVENT, message="modèle \ud800 🤗")), 65535)
    assert "modèle \ufffd 🤗".encode() in line and b"\\u00e8" not in line


def test_an_overflow_larger_than_the_longest_value_keeps_every_value_in_part():
    # rawLog (the event whole, ~60K) and the message (30K) overflow 4096 bytes many times over:
    # both keep a share, rawLog as the event's JSON with its values shortened, never emptied.
    event = dict(EVENT, message="m" * 30_000, data={"blob": "d" * 30_000})
    record = json.loads(to_line(record_for(event), 4096))
    raw = json.loads(record["rawLog"])
    assert raw["_id"] == EVENT["_id"] and raw["message"].startswith("m") and raw["message"].endswith(SHORTENED_MARK)
    assert record["message"].startswith("m" * 100)
    assert record["tags"]["truncatedFields"].split(",")[:2] == ["rawLog", "message"]


def test_the_same_resource_named_twice_is_listed_once():
    assert record_for(dict(EVENT, type="repo.x", data={"repo": "acme/x", "repoId": "acme/x"}))["resources"] == ["model:acme/x"]


def test_when_each_cut_value_gets_one_byte_raw_log_is_emptied_since_its_smallest_json_takes_two():
    # 20 data tags with 84-character keys leave the cut values one byte each within 4,096 bytes.
    data = {f"{i:03d}" + "k" * 81: "v" * 300 for i in range(20)}
    line = to_line(record_for(dict(EVENT, data=data)), 4096)
    record = orjson.loads(line)
    assert len(line) <= 4096
    assert record["message"] == "a" and record["tags"]["data.000" + "k" * 81] == "v"
    assert record["rawLog"] == ""


def test_when_each_cut_value_gets_two_bytes_raw_log_is_the_empty_object():
    # With 82-character keys the 20 data tags leave two bytes to each cut value: "{}" fits.
    data = {f"{i:03d}" + "k" * 79: "v" * 300 for i in range(20)}
    record = orjson.loads(to_line(record_for(dict(EVENT, data=data)), 4096))
    assert record["message"] == "al" and record["rawLog"] == "{}"


def test_tags_are_dropped_only_until_the_keys_fit_even_with_no_byte_left_for_values():
    # In 4,144 bytes this record's keys fit once two of its 20 data tags are dropped, with no byte
    # left for any value it may cut: a third tag is not dropped, every cut value is emptied.
    data = {f"{i:03d}" + "k" * 100: "v" * 300 for i in range(20)}
    line = to_line(record_for(dict(EVENT, data=data)), 4144)
    record = orjson.loads(line)
    assert len(line) == 4144
    assert [key for key in record["tags"] if key.startswith("data.")] == [f"data.{key}" for key in list(data)[2:]]
    assert record["message"] == "" and record["tags"]["data.002" + "k" * 100] == ""


def test_keys_one_byte_over_the_bound_drop_one_more_tag():
    # The same record in 4,143 bytes: with every value emptied the keys are one byte too long.
    data = {f"{i:03d}" + "k" * 100: "v" * 300 for i in range(20)}
    line = to_line(record_for(dict(EVENT, data=data)), 4143)
    record = orjson.loads(line)
    assert len(line) <= 4143
    assert [key for key in record["tags"] if key.startswith("data.")] == [f"data.{key}" for key in list(data)[3:]]


def test_a_value_of_fewer_characters_than_its_share_but_more_bytes_once_escaped_is_still_cut():
    # 300 control characters take 1,800 bytes escaped: more than the share each cut value gets here.
    record = record_for(dict(EVENT, message="\x01" * 300, userAgent="u" * 5000))
    line = to_line(record, 4096)
    cut = orjson.loads(line)
    assert len(line) <= 4096
    assert 0 < len(cut["message"]) < 300 and cut["message"] == "\x01" * len(cut["message"])
    assert "message" in cut["tags"]["truncatedFields"].split(",")


def test_a_shortened_raw_log_that_fills_its_share_exactly_is_kept_and_the_line_fills_the_bound():
    # At 1,680 bytes rawLog's share is exactly the size of this shortening (level 16: one key kept,
    # its value cut to 16 bytes and marked, the other ten keys counted): it is used, not a smaller one.
    record = record_for(dict(EVENT, data={"items": ["abcdefghij" * 3] * 40}, message="m" * 100))
    line = to_line(record, 1680)
    assert len(line) == 1680
    assert orjson.loads(line)["rawLog"] == '{"_id":"6744aa0c1f2e3d4c…[truncated]","…":"…[truncated] 10 more keys"}'


def test_a_value_exactly_at_the_common_cap_is_kept_whole_and_not_listed_as_cut():
    # At 2,311 bytes the cap shared by the cut values is 300 bytes: the 300-byte note is at it.
    record = orjson.loads(to_line(record_for(dict(EVENT, message="m" * 3000, data={"note": "n" * 300})), 2311))
    assert record["tags"]["data.note"] == "n" * 300
    assert record["tags"]["truncatedFields"] == "rawLog,message"


def test_a_shortened_raw_log_with_every_key_kept_says_no_key_was_left_out():
    record = orjson.loads(to_line(record_for(dict(EVENT, message="m" * 3000)), 4096))
    raw_log = json.loads(record["rawLog"])
    assert raw_log["message"].endswith(SHORTENED_MARK)
    assert list(raw_log) == list(EVENT)  # every key, and no "…" entry counting the ones left out


def test_a_line_of_exactly_the_bound_is_written_as_is():
    line = to_line(record_for(EVENT), 1 << 20)
    assert to_line(record_for(EVENT), len(line)) == line
    assert b'"truncated"' not in line


def test_a_raw_log_exactly_at_the_common_cap_is_kept_whole():
    # A 3,000-character source id is what is cut here; at 3,434 bytes rawLog's share is its own
    # size, so its 120-item list is not shortened.
    event = dict(EVENT, data={"ids": [1] * 120})
    ctx = RecordContext(**(CTX.model_dump() | {"source_id": "s" * 3000}))  # a copy would keep CTX's cached template
    record = orjson.loads(to_line(normalize(parse_event(event), event, ctx), 3434))
    assert json.loads(record["rawLog"])["data"]["ids"] == [1] * 120
    assert record["tags"]["truncatedFields"] == "sourceID"


def test_when_the_list_of_cut_fields_alone_overflows_it_is_halved_until_the_line_fits():
    # Five data keys of 120 control characters: their labels fill truncatedFields' 1,024
    # characters, 6 bytes each once escaped; with every data tag dropped it still overflows 4,096
    # bytes until it is halved to 512.
    data = {f"{i:03d}" + "\x01" * 120: "v" * 50 for i in range(5)}
    line = to_line(record_for(dict(EVENT, data=data)), 4096)
    record = orjson.loads(line)
    assert len(line) <= 4096
    assert sorted(record["tags"]) == ["action", "org", "scope", "truncated", "truncatedFields"]
    assert len(record["tags"]["truncatedFields"]) == 512


def test_a_data_value_that_is_no_json_scalar_is_skipped_and_the_keys_after_it_are_still_tags():
    # No JSON parser yields a tuple; a caller building the event by hand can.
    tags = record_for(dict(EVENT, data={"odd": (1, 2), "after": "kept"}))["tags"]
    assert "data.odd" not in tags and tags["data.after"] == "kept"


def test_a_shortened_list_in_raw_log_says_how_many_items_it_left_out():
    record = record_for(dict(EVENT, data={"items": ["abcdefghij" * 3] * 40}, message="m" * 100))
    items = json.loads(orjson.loads(to_line(record, 3800))["rawLog"])["data"]["items"]
    kept = items[:-1]
    assert 0 < len(kept) < 40 and items[-1] == f"{SHORTENED_MARK} {40 - len(kept)} more items"


def test_a_raw_log_that_is_not_json_is_cut_as_text():
    # Not a record `normalize` makes, but to_line takes any record of the 51 columns.
    record = record_for(EVENT)
    record["rawLog"] = "plain text " * 1000
    cut = orjson.loads(to_line(record, 4096))
    assert cut["rawLog"] and ("plain text " * 1000).startswith(cut["rawLog"])


def test_a_multibyte_value_keeps_the_longest_prefix_within_its_share():
    # At 4,097 bytes the message's share holds 638 two-byte characters: all of them are kept.
    line = to_line(record_for(dict(EVENT, message="é" * 3000)), 4097)
    assert len(line) <= 4097 and orjson.loads(line)["message"] == "é" * 638


# The cutting path's parts at their documented edges (private, but each rule is the docstring's).


def test_a_string_of_exactly_level_bytes_stays_whole_in_a_shortened_raw_log():
    assert _shortened("x" * 10, 10) == "x" * 10


def test_a_string_of_level_characters_but_more_bytes_is_cut_to_level_bytes_and_marked():
    assert _shortened("é" * 10, 10) == "é" * 5 + SHORTENED_MARK  # two bytes each


def test_a_shrunk_raw_log_is_the_bisection_from_level_0_pinned_where_the_size_is_not_monotonic():
    # The shortened size is not monotonic in the level: at level 17 the 18-character id is cut and
    # marked (31 bytes), at 18 it is whole (18 bytes). So the bisection over levels 0 to the budget
    # finds a level that fits whose next one does not, not always the largest that fits: here the
    # text keeping the id is 71 bytes, and the search first finds it at a budget of 74. What it
    # finds is pinned, so that the same oversize event gives the same line in every version; a
    # search that starts elsewhere (level -1) only finds it from 77.
    event_id = "x" * 18
    raw_log = orjson.dumps({"_id": event_id, "type": "repo.create", "k0": "y" * 27}).decode()
    keeps_id = compact_json({"_id": event_id, "…": f"{SHORTENED_MARK} 2 more keys"})
    keeps_nothing = compact_json({"…": f"{SHORTENED_MARK} 3 more keys"})
    assert _encoded_size(keeps_id) == 71
    found = {budget: _shrunk_raw_log(raw_log, budget) for budget in range(60, len(raw_log))}
    assert all(_encoded_size(text) <= budget for budget, text in found.items())
    assert [budget for budget, text in found.items() if text == keeps_id] == list(range(74, len(raw_log)))
    assert all(text == keeps_nothing for budget, text in found.items() if budget < 74)


def test_with_no_room_left_every_field_is_cut_to_nothing():
    assert _water_level([5], 0) == 0


def test_the_longer_field_gets_the_room_the_shorter_leaves():
    assert _water_level([3, 10], 7) == 4


def test_a_value_too_deep_for_the_standard_library_is_clipped_and_keeps_its_text_unescaped():
    deep: list = []
    for _ in range(3000):
        deep = [deep]
    text, clipped = compact_json_clipped({"s": "é", "d": deep})
    assert clipped and text.startswith('{"s":"é","d":[[')
