"""The client's retry policy, counted request by request against the simulated Hub.

The table below is the policy: which answers are retried and which fail at once. Each case lets
one retry happen (max_retries=1), so a retried status costs exactly two requests and any other
exactly one.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import urllib3
from pydantic import SecretStr

from conftest import ORG, TOKEN
from hf_audit import client as client_module
from hf_audit.client import DeadlineExceeded, ExportClient, HubRetry, build_session, error_for_status
from hf_audit.errors import AuthError, DataError, NetworkError, NotFoundError
from hf_audit.retry_policy import RETRY_STATUSES, rule_for
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

# The whole policy: status -> (what is done with it, the exit code a final answer ends the poll
# with, the message it gives for organization 'acme'). Statuses not named fall back on 5xx or other.
POLICY_TABLE: dict[int | str, tuple[str, int | None, str]] = {
    200: ("success", None, ""),
    401: ("fail", 3, "HTTP 401 from the audit-log export: the token must belong to an admin of organization 'acme', "
                     "and the organization must be on a Team or Enterprise plan"),
    403: ("fail", 3, "HTTP 403 from the audit-log export: the token must belong to an admin of organization 'acme', "
                     "and the organization must be on a Team or Enterprise plan"),
    404: ("fail", 4, "HTTP 404: organization 'acme' was not found on the Hub"),
    408: ("retry", 5, "HTTP 408: the Hub is unavailable; retries ran out"),
    429: ("retry", 5, "HTTP 429: the Hub is rate-limiting this token; retries ran out"),
    500: ("retry", 5, "HTTP 500: the Hub is unavailable; retries ran out"),
    502: ("retry", 5, "HTTP 502: the Hub is unavailable; retries ran out"),
    503: ("retry", 5, "HTTP 503: the Hub is unavailable; retries ran out"),
    504: ("retry", 5, "HTTP 504: the Hub is unavailable; retries ran out"),
    501: ("fail", 5, "HTTP 501: the Hub is unavailable; retries ran out"),  # any other 5xx
    599: ("fail", 5, "HTTP 599: the Hub is unavailable; retries ran out"),
    204: ("fail", 6, "unexpected HTTP 204 from the audit-log export"),  # anything else
    302: ("fail", 6, "unexpected HTTP 302 from the audit-log export"),
    400: ("fail", 6, "unexpected HTTP 400 from the audit-log export"),
    418: ("fail", 6, "unexpected HTTP 418 from the audit-log export"),
}  # fmt: skip


@pytest.mark.parametrize("status", sorted(POLICY_TABLE))
def test_the_policy_module_holds_the_table(status):
    action, exit_code, message = POLICY_TABLE[status]
    rule = rule_for(status)
    assert rule.action == action
    assert (rule.error.exit_code if rule.error else None) == exit_code
    assert (rule.failure(status, ORG) if rule.error else "") == message


def test_a_rule_cannot_be_changed_through_one_status_it_serves():
    # One rule object serves 408, 500, 502, 503 and 504: a change made for one would reach them all.
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule_for(503).action = "fail"  # type: ignore[misc]


def test_the_retried_statuses_are_the_tables():
    assert RETRY_STATUSES == {408, 429, 500, 502, 503, 504}


@pytest.mark.parametrize("status", sorted(s for s, (action, _, _) in POLICY_TABLE.items() if action != "success"))
def test_the_error_of_a_final_answer_is_the_tables(status):
    _, exit_code, message = POLICY_TABLE[status]
    response = requests.Response()
    response.status_code = status
    error = error_for_status(response, ORG)
    assert (error.exit_code, error.message) == (exit_code, message)


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
    for body in ExportClient(settings, time.monotonic() + deadline_seconds).attempts():
        items = list(body)  # a later attempt starts afresh
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



def test_a_body_cut_off_is_downloaded_again_while_the_deadline_is_more_than_a_second_away(hub, tmp_path):
    hub.queue_fault(Fault(kind="cut_body", fraction=0.5))
    assert len(fetch_all(settings_for(hub, tmp_path), deadline_seconds=1.9)) == 5
    assert len(hub.requests_seen) == 2


def test_the_wait_before_downloading_a_cut_body_again_ends_a_second_before_the_deadline(hub, tmp_path):
    # 1.3 s to the deadline: the retry waits until 0.3 s (not 2 s, not a whole second, not at all).
    hub.queue_fault(Fault(kind="cut_body", fraction=0.5))
    started = time.monotonic()
    assert len(fetch_all(settings_for(hub, tmp_path), deadline_seconds=1.3)) == 5
    assert 0.25 <= time.monotonic() - started < 0.9 and len(hub.requests_seen) == 2

def test_a_body_cut_off_every_time_is_tried_max_retries_plus_one_times_at_most_three(hub, tmp_path):
    hub.queue_fault(Fault(kind="cut_body", fraction=0.5), times=10)
    with pytest.raises(NetworkError, match="broke off midway"):
        fetch_all(settings_for(hub, tmp_path, max_retries=0))
    assert len(hub.requests_seen) == 1


# --- the policy's parts, one by one ----------------------------------------------------------------


def answer(status: int, **headers: str) -> urllib3.HTTPResponse:
    return urllib3.HTTPResponse(body=b"", headers=headers, status=status, preload_content=False)


@pytest.mark.parametrize(
    ("status", "headers", "wait"),
    [
        (429, {"RateLimit": '"api";r=0;t=42'}, 42.0),
        (429, {"RateLimit": "t=7"}, 7.0),
        (429, {"RateLimit": '"api";r=0; t = 7'}, 7.0),
        (429, {"RateLimit": '"api";r=0;t=7', "Retry-After": "9"}, 9.0),  # the longer of the two
        (429, {"RateLimit": '"api";r=0;t=7', "Retry-After": "3"}, 7.0),
        (429, {"Retry-After": "5"}, 5.0),
        (429, {"RateLimit": '"api";r=0;t=0'}, 0.0),  # the window has already reset: no wait
        (429, {}, None),
        (503, {"RateLimit": '"api";r=0;t=42'}, None),  # only a 429 says the reset is a wait
        (503, {"Retry-After": "4"}, 4.0),
    ],
)  # fmt: skip
def test_the_wait_before_a_retry_is_the_hubs_reset_or_retry_after_whichever_is_longer(status, headers, wait):
    assert HubRetry(total=3).get_retry_after(answer(status, **headers)) == wait


def test_a_retry_after_given_as_a_date_already_past_means_no_wait():
    assert HubRetry(total=3).get_retry_after(answer(503, **{"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0.0


def test_a_retry_after_of_more_digits_than_any_wait_is_the_longest_wait():
    longest = HubRetry.DEFAULT_RETRY_AFTER_MAX
    assert HubRetry(total=3).get_retry_after(answer(503, **{"Retry-After": "9" * 5000})) == longest


def test_a_wait_that_would_end_past_the_deadline_is_refused_at_once():
    retry = HubRetry(total=3, deadline=time.monotonic() + 5)
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded, match="HTTP 429: the next retry would wait 42s, past the poll deadline"):
        retry.sleep(answer(429, RateLimit="t=42"))
    assert time.monotonic() - started < 1


def test_a_connection_error_past_the_deadline_names_itself():
    retry = HubRetry(total=3, deadline=time.monotonic() - 1)
    with pytest.raises(DeadlineExceeded, match="gave up after a connection error"):
        retry.sleep(None)


def test_a_wait_within_the_deadline_is_slept():
    retry = HubRetry(total=3, deadline=time.monotonic() + 30)
    started = time.monotonic()
    retry.sleep(answer(429, RateLimit="t=1"))
    assert time.monotonic() - started >= 1.0


def test_each_new_retry_state_keeps_the_deadline():
    deadline = time.monotonic() + 12
    assert HubRetry(total=3, deadline=deadline).increment(method="GET", url="/x", response=answer(503)).deadline == deadline


def test_the_session_retries_gets_only_with_the_documented_backoff(tmp_path, hub):
    settings = settings_for(hub, tmp_path, max_retries=4, ca_bundle=tmp_path / "ca.pem")
    session = build_session(settings, deadline=time.monotonic() + 60)
    for scheme in ("https://", "http://"):
        retry = session.get_adapter(scheme + "example.org").max_retries
        assert isinstance(retry, HubRetry)
        assert (retry.total, retry.connect, retry.read, retry.status, retry.other) == (4, 4, 4, 4, 0)
        assert retry.allowed_methods == frozenset({"GET"}) and retry.status_forcelist == {408, 429, 500, 502, 503, 504}
        assert (retry.backoff_factor, retry.backoff_max, retry.backoff_jitter) == (1.0, 60, 1.0)
        assert retry.respect_retry_after_header is True and retry.raise_on_status is False
    assert session.headers["Accept"] == "application/json" and session.headers["Accept-Encoding"] == "gzip"
    assert session.headers["User-Agent"].startswith("hf-audit/")
    assert session.verify == str(tmp_path / "ca.pem")


def test_without_a_ca_bundle_the_system_store_verifies(monkeypatch):
    # Machines (this one included) often set these; with them the environment's bundle is used instead.
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    assert build_session(settings_for_url("https://huggingface.co"), time.monotonic() + 60).verify is True


def settings_for_url(url: str) -> Settings:
    return Settings(org=ORG, token=SecretStr(TOKEN), token_source="test", endpoint=url, state_dir=Path("/nonexistent"))


@pytest.mark.parametrize(("max_retries", "attempts"), [(0, 1), (1, 2), (2, 3), (5, 3)])
def test_a_broken_body_is_downloaded_at_most_three_times(hub, tmp_path, monkeypatch, max_retries, attempts):
    slept: list[float] = []
    monkeypatch.setattr(client_module.time, "sleep", slept.append)  # the backoff, recorded instead of waited
    hub.queue_fault(Fault(kind="cut_body", fraction=0.5), times=10)
    with pytest.raises(NetworkError, match="broke off midway"):
        fetch_all(settings_for(hub, tmp_path, max_retries=max_retries))
    assert len(hub.requests_seen) == attempts
    assert [wait for wait in slept if wait in (2.0, 4.0)] == [2.0, 4.0][: attempts - 1]


def test_a_broken_body_is_not_retried_when_the_deadline_is_under_a_second_away(hub, tmp_path):
    hub.queue_fault(Fault(kind="cut_body", fraction=0.5), times=3)
    with pytest.raises(NetworkError, match="broke off midway"):
        fetch_all(settings_for(hub, tmp_path, max_retries=2), deadline_seconds=0.9)
    assert len(hub.requests_seen) == 1


def test_the_backoff_after_a_broken_body_ends_a_second_before_the_deadline(hub, tmp_path, monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr(client_module.time, "sleep", slept.append)
    hub.queue_fault(Fault(kind="cut_body", fraction=0.5))
    fetch_all(settings_for(hub, tmp_path, max_retries=2), deadline_seconds=2.5)
    assert len(slept) == 1 and 0 < slept[0] <= 1.5


@pytest.mark.parametrize(
    ("status", "error", "words"),
    [
        (401, AuthError, "must belong to an admin of organization 'acme'"),
        (403, AuthError, "Team or Enterprise plan"),
        (404, NotFoundError, "organization 'acme' was not found"),
        (429, NetworkError, "rate-limiting this token; retries ran out"),
        (408, NetworkError, "HTTP 408: the Hub is unavailable; retries ran out"),
        (500, NetworkError, "HTTP 500: the Hub is unavailable"),
        (599, NetworkError, "HTTP 599: the Hub is unavailable"),
        (418, DataError, "unexpected HTTP 418"),
        (499, DataError, "unexpected HTTP 499"),
    ],
)  # fmt: skip
def test_each_final_status_gives_its_error_and_words(status, error, words):
    response = requests.Response()
    response.status_code = status
    raised = error_for_status(response, ORG)
    assert type(raised) is error and words in str(raised)


def test_a_body_retry_is_counted_once_in_the_fetch_figures(hub, tmp_path, monkeypatch):
    monkeypatch.setattr(client_module.time, "sleep", lambda seconds: None)
    hub.queue_fault(Fault(kind="cut_body", fraction=0.5))
    client = ExportClient(settings_for(hub, tmp_path, max_retries=2), time.monotonic() + 30)
    for body in client.attempts():
        list(body)
    assert (client.stats.retries, client.stats.attempts, client.stats.status) == (1, 2, 200)


def test_a_plain_http_endpoint_ignores_proxies_from_the_environment_and_https_keeps_them(tmp_path):
    # Plain http (loopback only) must not send the token through an HTTP_PROXY in clear.
    plain = build_session(settings_for_url("http://127.0.0.1:9/x"), deadline=time.monotonic() + 60)
    secure = build_session(settings_for_url("https://example.org/x"), deadline=time.monotonic() + 60)
    assert plain.trust_env is False and secure.trust_env is True
