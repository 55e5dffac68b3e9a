"""The simulated hub's event generator: faithful to the export schema and deterministic."""

from __future__ import annotations

import copy
import json
import random
import re
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from conftest import spec_file
from hf_audit.simhub.events import EVENT_TYPES, generate_events, make_event

END = datetime(2026, 11, 25, 17, 3, 34, 123000, tzinfo=UTC)
CREATED_AT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _parse(created_at: str) -> datetime:
    return datetime.fromisoformat(created_at)


@pytest.fixture(scope="module")
def export_schema() -> dict[str, Any]:
    return json.loads(spec_file("hf-audit-log-export.openapi.json").read_text())["response_schema"]


@pytest.fixture(scope="module")
def many_events() -> list[dict[str, Any]]:
    return generate_events(1500, seed=7, end=END)


def test_event_types_equal_the_spec_file_and_the_schema_enum(export_schema: dict[str, Any]) -> None:
    lines = spec_file("event-types.txt").read_text().splitlines()
    from_file = tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))
    assert EVENT_TYPES == from_file
    assert list(EVENT_TYPES) == export_schema["items"]["properties"]["type"]["enum"]
    assert len(set(EVENT_TYPES)) == 116


def test_generated_events_validate_against_the_export_schema(
    export_schema: dict[str, Any], many_events: list[dict[str, Any]]
) -> None:
    validator = Draft202012Validator(export_schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(many_events)]
    assert errors == []


def test_every_type_appears_when_count_allows(many_events: list[dict[str, Any]]) -> None:
    assert {e["type"] for e in many_events} == set(EVENT_TYPES)
    exactly = generate_events(len(EVENT_TYPES), seed=3, end=END)
    assert sorted(e["type"] for e in exactly) == sorted(EVENT_TYPES)


def test_fewer_events_than_types_still_gives_count_events() -> None:
    assert len(generate_events(10, seed=1, end=END)) == 10
    assert generate_events(0, end=END) == []


def test_same_seed_gives_the_same_events_and_another_seed_does_not() -> None:
    assert generate_events(200, seed=11, end=END) == generate_events(200, seed=11, end=END)
    assert generate_events(200, seed=11, end=END) != generate_events(200, seed=12, end=END)


def test_created_at_is_strictly_increasing_in_millisecond_z_format(many_events: list[dict[str, Any]]) -> None:
    stamps = [e["createdAt"] for e in many_events]
    assert all(CREATED_AT.match(s) for s in stamps)
    moments = [_parse(s) for s in stamps]
    assert all(a < b for a, b in pairwise(moments))
    assert END - timedelta(days=30) <= moments[0] and moments[-1] <= END


@settings(max_examples=30, deadline=None)
@given(
    count=st.integers(min_value=0, max_value=60),
    seed=st.integers(min_value=0, max_value=2**32),
    span_ms=st.integers(min_value=60, max_value=10**10),
)
def test_events_stay_within_the_span_oldest_first(count: int, seed: int, span_ms: int) -> None:
    span = timedelta(milliseconds=span_ms)
    moments = [_parse(e["createdAt"]) for e in generate_events(count, seed=seed, end=END, span=span)]
    assert len(moments) == count
    assert all(END - span <= m <= END for m in moments)
    assert moments == sorted(set(moments))


def test_a_span_shorter_than_count_milliseconds_is_rejected() -> None:
    with pytest.raises(ValueError, match="distinct milliseconds"):
        generate_events(10, end=END, span=timedelta(milliseconds=5))


def test_id_prefix_encodes_the_created_at_second(many_events: list[dict[str, Any]]) -> None:
    for event in many_events:
        assert re.fullmatch(r"[0-9a-f]{24}", event["_id"])
        second = int(_parse(event["createdAt"]).timestamp())
        assert int(event["_id"][:8], 16) == second


def test_ids_are_unique() -> None:
    events = generate_events(20_000, seed=5, end=END, span=timedelta(seconds=30))
    assert len({e["_id"] for e in events}) == len(events)


def test_default_end_is_now_utc() -> None:
    before = datetime.now(UTC) - timedelta(milliseconds=1)
    newest = _parse(generate_events(5, seed=1)[-1]["createdAt"])
    assert before - timedelta(days=30) <= newest <= datetime.now(UTC)


def test_org_names_the_repositories() -> None:
    events = generate_events(300, seed=2, end=END, org="globex", types=("repo.create",))
    assert all(e["data"]["repo"]["name"].startswith("globex/") for e in events)


@pytest.mark.parametrize(
    ("event_type", "expected"),
    [
        ("repo.create", {"repo"}),
        ("repo.add_secret", {"repo", "key"}),
        ("repo.remove_secrets", {"repo", "keys"}),
        ("repo.add_variables", {"repo", "keys"}),
        ("repo.update_variable", {"repo", "key"}),
        ("repo.move", {"repo", "from", "to"}),
        ("repo.update_settings", {"repo", "changes"}),
        ("repo.add_trusted_publisher", {"repo", "publisher"}),
        ("spaces.update_hardware", {"repo", "hardware"}),
        ("spaces.update_sleep_time", {"repo", "sleepTimeSeconds"}),
        ("spaces.add_storage", {"repo", "tier"}),
        ("spaces.set_volumes", {"repo", "volumes"}),
        ("collection.update_resource_group", {"collection", "resourceGroup"}),
        ("resource_group.add_users", {"resourceGroup", "users"}),
        ("resource_group.change_role", {"resourceGroup", "user", "role"}),
        ("org.add_user", {"user", "role"}),
        ("org.remove_user", {"user"}),
        ("org.invite.email", {"email", "role"}),
        ("org.rename", {"from", "to"}),
        ("org.update_settings", {"setting", "old", "new"}),
        ("org.settings.security.2fa.enable", {"setting", "old", "new"}),
        ("org.settings.regions", {"setting", "old", "new"}),
        ("org.token_approval.authorization_request.denied", {"token"}),
        ("org.service_account.create", {"serviceAccount"}),
        ("org.service_account.token.rotate", {"serviceAccount", "token"}),
        ("org.sso_login", {"provider"}),
        ("jobs.update_labels", {"job", "labels"}),
        ("scheduled_job.update_schedule", {"scheduledJob"}),
        ("billing.aws_add", {"provider"}),
        ("billing.update_subscription_plan", {"plan", "seats"}),
        ("oauth.token", {"app", "scopes"}),
    ],
)
def test_data_follows_the_key_conventions(event_type: str, expected: set[str]) -> None:
    event = make_event(event_type, END, rng=random.Random(1), org="acme")
    assert set(event["data"]) == expected


def test_spaces_events_always_name_a_space() -> None:
    events = generate_events(200, seed=4, end=END, types=[t for t in EVENT_TYPES if t.startswith("spaces.")])
    assert {e["data"]["repo"]["type"] for e in events} == {"space"}


def test_secret_events_never_carry_a_value() -> None:
    events = generate_events(300, seed=4, end=END, types=[t for t in EVENT_TYPES if "secret" in t])
    assert all(set(e["data"]) <= {"repo", "key", "keys"} for e in events)


def test_toggle_settings_carry_booleans() -> None:
    event = make_event("org.settings.network.ip_restriction.disable", END, rng=random.Random(2), org="acme")
    assert event["data"] == {"setting": "network.ip_restriction", "old": True, "new": False}


def test_some_events_have_no_data_and_optional_fields_vary(many_events: list[dict[str, Any]]) -> None:
    assert any("data" not in e for e in many_events)
    for optional in ("ip", "location", "userAgent", "token", "oauth"):
        present = sum(optional in e for e in many_events)
        assert 0 < present < len(many_events), optional
    assert any(e["author"]["type"] == "system" for e in many_events)
    assert any(e["author"].get("deleted") is True for e in many_events)
    assert any(set(e.get("location", {})) == {"formatted"} for e in many_events)


def test_message_starts_with_the_author(many_events: list[dict[str, Any]]) -> None:
    assert all(e["message"].startswith(e["author"]["user"] + " ") for e in many_events)


@pytest.mark.parametrize("event_type", ["org.audit_log.export", "org.future_feature", "quantum.entangle"])
def test_unknown_types_give_a_generic_event_valid_but_for_the_type(
    event_type: str, export_schema: dict[str, Any]
) -> None:
    item_schema = copy.deepcopy(export_schema["items"])
    del item_schema["properties"]["type"]["enum"]  # the only thing an unknown type may break
    item_schema["properties"]["type"]["type"] = "string"
    event = make_event(event_type, END, rng=random.Random(3), org="acme")
    assert event["type"] == event_type
    assert list(Draft202012Validator(item_schema).iter_errors(event)) == []


def test_generate_events_accepts_unknown_types() -> None:
    events = generate_events(20, seed=1, end=END, types=("org.future_feature",))
    assert {e["type"] for e in events} == {"org.future_feature"}


def test_make_event_is_deterministic_for_a_given_rng_state() -> None:
    first = make_event("repo.create", END, rng=random.Random(9), org="acme")
    assert first == make_event("repo.create", END, rng=random.Random(9), org="acme")
    assert first["createdAt"] == "2026-11-25T17:03:34.123Z"


@pytest.fixture(scope="module")
def rich_events() -> list[dict[str, Any]]:
    return generate_events(1500, seed=7, end=END, data_profile="rich")


def test_rich_data_events_are_valid_export_items(rich_events: list[dict[str, Any]], export_schema: dict[str, Any]) -> None:
    validator = Draft202012Validator(export_schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    assert [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(rich_events)] == []


def test_rich_data_holds_10_to_40_leaves_in_varied_nested_shapes(rich_events: list[dict[str, Any]]) -> None:
    from hf_audit.simhub.richdata import MAX_LEAVES, MIN_LEAVES, count_leaves

    leaves = [count_leaves(event["data"]) for event in rich_events]
    assert min(leaves) >= MIN_LEAVES and max(leaves) <= MAX_LEAVES
    shapes = {key for event in rich_events for key in ("old", "cardData", "siblings", "collaborators", "config") if key in event["data"]}
    assert shapes == {"old", "cardData", "siblings", "collaborators", "config"}
    assert any(isinstance(item, dict) for event in rich_events for value in event["data"].values() if isinstance(value, list) for item in value)


def test_rich_data_keeps_the_keys_the_plain_generator_gives(rich_events: list[dict[str, Any]]) -> None:
    with_repo = [e for e in rich_events if e["type"].startswith("repo.") and e["type"] != "repo.update_resource_group"]
    assert with_repo and all(isinstance(e["data"]["repo"], dict) for e in with_repo)
