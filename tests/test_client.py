"""The export client's download as a pipeline: one body per attempt, read by the caller.

A body that breaks off midway ends its items early, and the next attempt's body starts afresh;
a caller that stops reading gets no further attempt. Against the simulated Hub, request by request.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from conftest import ORG, TOKEN
from hf_audit import client as client_module
from hf_audit.client import ExportClient
from hf_audit.errors import DataError, NetworkError
from hf_audit.settings import Settings
from hf_audit.simhub.events import generate_events
from hf_audit.simhub.server import Fault, SimulatedHub

EVENTS = 3000  # enough that half the body spans more than one 256 KiB read


@pytest.fixture(scope="module")
def module_hub() -> Iterator[SimulatedHub]:
    with SimulatedHub(org=ORG, token=TOKEN, events=generate_events(EVENTS, seed=3), rate_limit_quota=1_000_000) as running:
        yield running


@pytest.fixture
def hub(module_hub: SimulatedHub, monkeypatch) -> Iterator[SimulatedHub]:
    monkeypatch.setattr(client_module.time, "sleep", lambda seconds: None)  # the backoff between attempts
    module_hub.clear_faults()
    module_hub.clear_requests()
    yield module_hub
    module_hub.clear_faults()


def client_for(hub: SimulatedHub, tmp_path: Path, max_retries: int = 2) -> ExportClient:
    settings = Settings(
        org=ORG, token=SecretStr(TOKEN), token_source="test", endpoint=hub.url, state_dir=tmp_path,
        max_retries=max_retries, connect_timeout=5.0, read_timeout=5.0,
    )  # fmt: skip
    return ExportClient(settings, time.monotonic() + 30)


def ids(items: list[object]) -> list[str]:
    return [item["_id"] for item in items]  # type: ignore[index]  # the items are the export's JSON objects


def test_a_whole_body_is_one_attempt_with_every_item_in_the_export_order(hub, tmp_path):
    bodies = [list(body) for body in client_for(hub, tmp_path).attempts()]
    assert hub.order == "newest-first"
    assert len(bodies) == 1 and ids(bodies[0]) == [event["_id"] for event in reversed(hub.events)]


def test_a_body_cut_off_ends_its_items_early_and_the_next_attempt_starts_from_the_first(hub, tmp_path):
    hub.queue_fault(Fault(kind="cut_body", fraction=0.5))
    bodies = []
    for body in client_for(hub, tmp_path).attempts():
        bodies.append((list(body), body.broken))
    (first, broken), (second, whole) = bodies
    assert broken and whole is None
    assert 0 < len(first) < EVENTS and len(second) == EVENTS
    assert ids(second)[: len(first)] == ids(first)


def test_a_caller_that_stops_reading_gets_no_further_attempt(hub, tmp_path):
    hub.queue_fault(Fault(kind="cut_body", fraction=0.5))
    attempts = client_for(hub, tmp_path).attempts()
    first = next(iter(next(attempts)))
    assert isinstance(first, dict)
    with pytest.raises(StopIteration):
        next(attempts)
    assert len(hub.requests_seen) == 1


def test_when_every_attempt_breaks_the_last_request_for_a_new_one_fails(hub, tmp_path):
    hub.queue_fault(Fault(kind="cut_body", fraction=0.5), times=3)
    attempts = client_for(hub, tmp_path, max_retries=1).attempts()
    list(next(attempts))
    list(next(attempts))
    with pytest.raises(NetworkError, match=r"the export download broke off midway \(.+\); nothing was emitted"):
        next(attempts)
    assert len(hub.requests_seen) == 2


def test_an_answer_that_is_no_export_fails_before_any_body(hub, tmp_path):
    hub.queue_fault(Fault(kind="html_page"))
    with pytest.raises(DataError, match="HTML page instead of the JSON export"):
        next(client_for(hub, tmp_path).attempts())


def test_a_body_that_is_not_an_array_fails_while_it_is_read_and_quotes_its_start(hub, tmp_path):
    hub.queue_fault(Fault(kind="json_object"))
    attempts = client_for(hub, tmp_path).attempts()  # kept: closing it closes its body
    body = next(attempts)
    with pytest.raises(DataError, match=r"the export is not a JSON array; it starts with '\{"):
        list(body)


def test_a_body_that_is_not_an_array_is_quoted_by_its_first_80_characters(hub, tmp_path):
    hub.queue_fault(Fault(kind="json_object", body={"error": "abcdefghij" * 20}))
    attempts = client_for(hub, tmp_path).attempts()  # kept: closing it closes its body
    body = next(attempts)
    quoted = '{"error":"' + "abcdefghij" * 7  # the body as the Hub sends it (compact JSON), cut at 80
    with pytest.raises(DataError) as failure:
        list(body)
    assert str(failure.value).startswith(f"the export is not a JSON array; it starts with {quoted!r}; ")


def test_the_figures_count_each_request_and_the_bytes_of_the_body_that_was_kept(hub, tmp_path):
    hub.queue_fault(Fault(kind="cut_body", fraction=0.5))
    client = client_for(hub, tmp_path)
    for body in client.attempts():
        list(body)
    assert (client.stats.attempts, client.stats.retries, client.stats.status) == (2, 1, 200)
    assert client.stats.bytes_read > 0
