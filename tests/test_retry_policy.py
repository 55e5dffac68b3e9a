"""The client's retry policy, counted request by request against the simulated Hub.

The table below is the policy: which answers are retried and which fail at once. Each case lets
one retry happen (max_retries=1), so a retried status costs exactly two requests and any other
exactly one.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from conftest import ORG, TOKEN
from hf_audit.client import ExportClient
from hf_audit.errors import AuthError, DataError, NetworkError, NotFoundError
from hf_audit.settings import Settings
from hf_audit.simhub.events import generate_events
from hf_audit.simhub.server import Fault, SimulatedHub

# status -> (retried?, the error a poll ends with when every answer is this status)
RETRY_TABLE: dict[int, tuple[bool, type[Exception]]] = {
    408: (True, NetworkError),
    429: (True, NetworkError),
    500: (True, NetworkError),
    502: (True, NetworkError),
    503: (True, NetworkError),
    504: (True, NetworkError),
    400: (False, DataError),
    401: (False, AuthError),
    403: (False, AuthError),
    404: (False, NotFoundError),
    409: (False, DataError),
    501: (False, NetworkError),
}


@pytest.fixture(scope="module")
def module_hub() -> Iterator[SimulatedHub]:
    with SimulatedHub(org=ORG, token=TOKEN, events=generate_events(5, seed=1), rate_limit_quota=1_000_000) as running:
        yield running


@pytest.fixture
def hub(module_hub: SimulatedHub) -> Iterator[SimulatedHub]:
    module_hub.clear_faults()
    module_hub.clear_requests()
    yield module_hub
    module_hub.clear_faults()


def settings_for(hub: SimulatedHub, tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "org": ORG, "token": SecretStr(TOKEN), "token_source": "test", "endpoint": hub.url,
        "state_dir": tmp_path, "max_retries": 1, "connect_timeout": 5.0, "read_timeout": 5.0,
    }  # fmt: skip
    values.update(overrides)
    return Settings(**values)


def fetch_all(settings: Settings, deadline_seconds: float = 30.0) -> list[object]:
    items: list[object] = []

    def consume(stream: Iterator[object]) -> None:
        items.clear()
        items.extend(stream)

    ExportClient(settings, time.monotonic() + deadline_seconds).fetch(consume)
    return items


@pytest.mark.parametrize("status", sorted(RETRY_TABLE))
def test_a_status_is_retried_exactly_when_the_policy_table_says_so(hub, tmp_path, status):
    retried, _ = RETRY_TABLE[status]
    hub.queue_fault(Fault(kind="status", status=status))
    result: list[object] | Exception
    try:
        result = fetch_all(settings_for(hub, tmp_path))
    except Exception as exc:  # noqa: BLE001 - the outcome is what the table decides
        result = exc
    if retried:
        assert len(hub.requests_seen) == 2, status  # the failed answer, then the retry that succeeded
        assert isinstance(result, list) and len(result) == 5
    else:
        assert len(hub.requests_seen) == 1, status
        assert isinstance(result, RETRY_TABLE[status][1]), result


@pytest.mark.parametrize("status", sorted(RETRY_TABLE))
def test_a_status_that_persists_ends_in_its_documented_error(hub, tmp_path, status):
    retried, error = RETRY_TABLE[status]
    hub.queue_fault(Fault(kind="status", status=status), times=3)
    with pytest.raises(error, match=f"HTTP {status}"):
        fetch_all(settings_for(hub, tmp_path))
    assert len(hub.requests_seen) == (2 if retried else 1)


def test_an_html_502_from_a_proxy_is_retried_like_any_502(hub, tmp_path):
    hub.queue_fault(Fault(kind="status", status=502, html=True))
    assert len(fetch_all(settings_for(hub, tmp_path))) == 5
    assert len(hub.requests_seen) == 2


@pytest.mark.parametrize("max_retries", [0, 2])
def test_max_retries_is_the_number_of_retries_after_the_first_request(hub, tmp_path, max_retries):
    hub.queue_fault(Fault(kind="status", status=503), times=10)
    with pytest.raises(NetworkError, match="retries ran out"):
        # Backoff doubles from the second retry on (1 s, 2 s, plus jitter): keep max_retries small.
        fetch_all(settings_for(hub, tmp_path, max_retries=max_retries))
    assert len(hub.requests_seen) == 1 + max_retries


def test_a_rate_limited_answer_is_waited_out_for_its_advertised_reset(hub, tmp_path):
    # The Hub's `RateLimit: ...;t=2` (no Retry-After) says to wait 2 s; a lower bound on the time
    # the fetch took shows the wait happened (an immediate retry takes milliseconds).
    hub.queue_fault(Fault(kind="rate_limited", reset=2))
    started = time.monotonic()
    items = fetch_all(settings_for(hub, tmp_path))
    assert time.monotonic() - started >= 2.0
    assert len(items) == 5 and len(hub.requests_seen) == 2


def test_a_rate_limit_reset_past_the_deadline_gives_up_without_waiting(hub, tmp_path):
    hub.queue_fault(Fault(kind="rate_limited", reset=600), times=3)
    started = time.monotonic()
    with pytest.raises(NetworkError, match="past the poll deadline"):
        fetch_all(settings_for(hub, tmp_path, max_retries=3), deadline_seconds=20)
    assert time.monotonic() - started < 10 and len(hub.requests_seen) == 1


def test_a_body_cut_off_is_downloaded_again_whole(hub, tmp_path):
    hub.queue_fault(Fault(kind="cut_body", fraction=0.5))
    assert len(fetch_all(settings_for(hub, tmp_path))) == 5
    assert len(hub.requests_seen) == 2


def test_a_body_cut_off_every_time_is_tried_max_retries_plus_one_times_at_most_three(hub, tmp_path):
    hub.queue_fault(Fault(kind="cut_body", fraction=0.5), times=10)
    with pytest.raises(NetworkError, match="broke off midway"):
        fetch_all(settings_for(hub, tmp_path, max_retries=0))
    assert len(hub.requests_seen) == 1
