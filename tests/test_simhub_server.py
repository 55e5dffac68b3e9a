"""The simulated hub behaves like the Hub's audit-log export, faults included, over real sockets."""

from __future__ import annotations

import gzip
import json
import os
import random
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from hf_audit.simhub import Fault, SimulatedHub, generate_events
from hf_audit.simhub.events import make_event

TOKEN = "hf_simulated_token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
END = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)
RATE_POLICY = '"fixed window";"api";q=500;w=300'


@pytest.fixture(scope="module")
def events() -> list[dict[str, Any]]:
    return generate_events(300, seed=5, end=END)


@pytest.fixture
def hub(events: list[dict[str, Any]]) -> Iterator[SimulatedHub]:
    with SimulatedHub(events=events) as running:
        yield running


def export_url(hub: SimulatedHub, org: str = "acme") -> str:
    return f"{hub.url}/api/organizations/{org}/audit-log/export"


def get_export(hub: SimulatedHub, **kwargs: Any) -> requests.Response:
    kwargs.setdefault("headers", AUTH)
    kwargs.setdefault("timeout", 10)
    return requests.get(export_url(hub), **kwargs)


def ids(events: list[dict[str, Any]]) -> list[str]:
    return [e["_id"] for e in events]


# --- the normal answer ------------------------------------------------------------------


def test_export_serves_every_event_newest_first_by_default(hub: SimulatedHub, events: list[dict[str, Any]]) -> None:
    response = get_export(hub)
    assert response.status_code == 200
    assert response.json() == events[::-1]


def test_oldest_first_order_and_set_order(events: list[dict[str, Any]]) -> None:
    with SimulatedHub(events=events, order="oldest-first") as hub:
        assert ids(get_export(hub).json()) == ids(events)
        hub.set_order("newest-first")
        assert ids(get_export(hub).json()) == ids(events)[::-1]


def test_random_order_serves_the_same_events(events: list[dict[str, Any]]) -> None:
    with SimulatedHub(events=events, order="random") as hub:
        served = ids(get_export(hub).json())
    assert sorted(served) == sorted(ids(events)) and served != ids(events)


def test_export_headers_name_the_file_and_carry_rate_limits(hub: SimulatedHub) -> None:
    response = get_export(hub)
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.headers["Content-Disposition"] == f'attachment; filename="audit-logs-acme-{today}.json"'
    assert response.headers["X-Request-Id"].startswith("Root=1-")
    assert response.headers["RateLimit"].startswith('"api";r=499;t=')
    assert response.headers["RateLimit-Policy"] == RATE_POLICY


def test_body_is_compact_json(hub: SimulatedHub) -> None:
    body = get_export(hub, headers={**AUTH, "Accept-Encoding": "identity"}).content
    assert body.startswith(b'[{"_id":') and b", " not in body[:200]


def test_export_is_gzipped_when_the_client_accepts_it(hub: SimulatedHub, events: list[dict[str, Any]]) -> None:
    response = get_export(hub, stream=True)
    raw = response.raw.read(decode_content=False)
    assert response.headers["Content-Encoding"] == "gzip"
    assert int(response.headers["Content-Length"]) == len(raw)
    assert json.loads(gzip.decompress(raw)) == events[::-1]


def test_export_is_plain_when_gzip_is_not_accepted(hub: SimulatedHub) -> None:
    response = get_export(hub, headers={**AUTH, "Accept-Encoding": "identity"})
    assert "Content-Encoding" not in response.headers
    assert int(response.headers["Content-Length"]) == len(response.content)


def test_gzip_can_be_disabled(events: list[dict[str, Any]]) -> None:
    with SimulatedHub(events=events, gzip=False) as hub:
        assert "Content-Encoding" not in get_export(hub).headers


def test_an_empty_hub_serves_an_empty_array() -> None:
    with SimulatedHub() as hub:
        assert get_export(hub).json() == []


def test_a_100k_export_is_served_whole() -> None:
    base = generate_events(100_000, seed=1, end=END)
    with SimulatedHub(events=base) as hub:
        served = get_export(hub, timeout=60).json()
    assert len(served) == 100_000 and served[0] == base[-1]


# --- authorization ----------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer hf_wrong"}, {"Authorization": TOKEN}])
def test_missing_or_wrong_token_is_401(hub: SimulatedHub, headers: dict[str, str]) -> None:
    response = get_export(hub, headers=headers)
    assert response.status_code == 401
    assert response.headers["X-Error-Message"] == "Invalid credentials in Authorization header"
    assert response.json() == {"error": "Invalid credentials in Authorization header"}
    assert response.headers["X-Request-Id"]


def test_another_organization_is_404(hub: SimulatedHub) -> None:
    response = requests.get(export_url(hub, "globex"), headers=AUTH, timeout=10)
    assert response.status_code == 404
    assert response.json() == {"error": "Organization not found"}


@pytest.mark.parametrize(("plan", "admin"), [("free", True), ("team", False), ("enterprise", False)])
def test_free_plans_and_non_admins_are_403(events: list[dict[str, Any]], plan: str, admin: bool) -> None:
    with SimulatedHub(events=events, plan=plan, admin=admin) as hub:  # type: ignore[arg-type]  # the parametrized plan names are the Literal's values
        response = get_export(hub)
    assert response.status_code == 403
    assert "admins of Team and Enterprise" in response.json()["error"]
    assert response.headers["X-Error-Message"] == response.json()["error"]


def test_team_plan_admin_may_export(events: list[dict[str, Any]]) -> None:
    with SimulatedHub(events=events, plan="team") as hub:
        assert get_export(hub).status_code == 200


def test_unknown_paths_are_404(hub: SimulatedHub) -> None:
    response = requests.get(f"{hub.url}/api/whoami-v2", headers=AUTH, timeout=10)
    assert response.status_code == 404 and "X-Request-Id" in response.headers


# --- q search ---------------------------------------------------------------------------


def test_q_type_matches_exactly(hub: SimulatedHub, events: list[dict[str, Any]]) -> None:
    served = get_export(hub, params={"q": "type:repo.create"}).json()
    assert served and {e["type"] for e in served} == {"repo.create"}
    assert len(served) == sum(e["type"] == "repo.create" for e in events)


def test_q_type_with_star_matches_a_prefix(hub: SimulatedHub) -> None:
    served = get_export(hub, params={"q": "type:spaces.*"}).json()
    assert served and all(e["type"].startswith("spaces.") for e in served)


def test_q_author_matches_the_username(hub: SimulatedHub, events: list[dict[str, Any]]) -> None:
    served = get_export(hub, params={"q": "author:bob"}).json()
    assert served and len(served) == sum(e["author"]["user"] == "bob" for e in events)


def test_q_ip_matches_the_address(hub: SimulatedHub, events: list[dict[str, Any]]) -> None:
    ip = next(e["ip"] for e in events if "ip" in e)
    served = get_export(hub, params={"q": f"ip:{ip}"}).json()
    assert served and {e["ip"] for e in served} == {ip}


def test_q_free_text_is_a_case_insensitive_message_substring(hub: SimulatedHub) -> None:
    served = get_export(hub, params={"q": "CREATED"}).json()
    assert served and all("created" in e["message"].lower() for e in served)


def test_q_terms_are_anded(hub: SimulatedHub, events: list[dict[str, Any]]) -> None:
    served = get_export(hub, params={"q": "author:alice type:org.sso_login"}).json()
    expected = [e for e in events if e["author"]["user"] == "alice" and e["type"] == "org.sso_login"]
    assert ids(served) == ids(expected)[::-1]


# --- content changes --------------------------------------------------------------------


def test_limit_keeps_only_the_newest_events(events: list[dict[str, Any]]) -> None:
    with SimulatedHub(events=events, limit=50) as hub:
        assert ids(get_export(hub).json()) == ids(events[-50:])[::-1]


def test_added_events_become_the_newest(hub: SimulatedHub, events: list[dict[str, Any]]) -> None:
    newer = generate_events(3, seed=9, end=END + timedelta(hours=1), span=timedelta(minutes=5))
    hub.add_events(newer)
    assert ids(get_export(hub).json())[:4] == [*ids(newer)[::-1], events[-1]["_id"]]


def test_a_late_arrival_appears_in_its_chronological_place(hub: SimulatedHub, events: list[dict[str, Any]]) -> None:
    between = events[-10]["createdAt"][:-1] + "5Z"  # 0.5 ms after the tenth newest, before the ninth
    late = make_event("repo.create", datetime.fromisoformat(between), rng=random.Random(1), org="acme")
    late["createdAt"] = between  # a finer timestamp than usual must still sort correctly
    hub.add_events([late])
    served = ids(get_export(hub).json())
    assert served.index(late["_id"]) == 9
    assert served[8] == events[-9]["_id"] and served[10] == events[-10]["_id"]


# --- recording --------------------------------------------------------------------------


def test_requests_seen_records_user_agent_and_q_and_redacts_authorization(hub: SimulatedHub) -> None:
    get_export(hub, params={"q": "type:repo.create"}, headers={**AUTH, "User-Agent": "hf-audit/0.1.0"})
    [seen] = hub.requests_seen
    assert (seen.method, seen.path, seen.query) == ("GET", "/api/organizations/acme/audit-log/export",
                                                     {"q": "type:repo.create"})
    assert seen.header("user-agent") == "hf-audit/0.1.0"
    assert seen.header("Authorization") == "Bearer ***"
    assert TOKEN not in repr(hub.requests_seen)


def test_control_calls_are_not_recorded(hub: SimulatedHub) -> None:
    requests.get(f"{hub.url}/_sim/health", timeout=10)
    assert hub.requests_seen == []


# --- faults -----------------------------------------------------------------------------


def test_status_fault_sends_a_json_error(hub: SimulatedHub) -> None:
    hub.queue_fault(Fault(kind="status", status=500, body={"error": "Internal Error - We're working hard to fix this"}))
    response = get_export(hub)
    assert response.status_code == 500
    assert response.json() == {"error": "Internal Error - We're working hard to fix this"}
    assert response.headers["X-Error-Message"] == "Internal Error - We're working hard to fix this"


def test_status_fault_can_be_a_cdn_html_page(hub: SimulatedHub) -> None:
    hub.queue_fault(Fault(kind="status", status=502, html=True))
    response = get_export(hub)
    assert response.status_code == 502
    assert response.headers["Content-Type"].startswith("text/html")
    assert "<h1>502 Bad Gateway</h1>" in response.text


@pytest.mark.parametrize("status", [408, 503])
def test_status_fault_carries_extra_headers(hub: SimulatedHub, status: int) -> None:
    hub.queue_fault(Fault(kind="status", status=status, headers={"Retry-After": "7"}))
    response = get_export(hub)
    assert response.status_code == status and response.headers["Retry-After"] == "7"
    assert response.json()["error"]


def test_rate_limited_fault_is_a_429_with_rate_limit_headers(hub: SimulatedHub) -> None:
    hub.queue_fault(Fault(kind="rate_limited", reset=42, retry_after=42))
    response = get_export(hub)
    assert response.status_code == 429
    assert response.headers["RateLimit"] == '"api";r=0;t=42'
    assert response.headers["RateLimit-Policy"] == RATE_POLICY
    assert response.headers["Retry-After"] == "42"
    assert response.headers["X-Error-Message"] == response.json()["error"]


def test_rate_limited_fault_without_retry_after(hub: SimulatedHub) -> None:
    hub.queue_fault(Fault(kind="rate_limited"))
    response = get_export(hub)
    assert response.status_code == 429 and "Retry-After" not in response.headers


def test_the_rate_limit_quota_is_enforced(events: list[dict[str, Any]]) -> None:
    with SimulatedHub(events=events, rate_limit_quota=2) as hub:
        statuses = [get_export(hub).status_code for _ in range(3)]
        last = get_export(hub)
    assert statuses == [200, 200, 429]
    assert last.headers["RateLimit"].startswith('"api";r=0;t=')


def test_cut_body_breaks_the_read_under_a_full_content_length(hub: SimulatedHub) -> None:
    hub.queue_fault(Fault(kind="cut_body", fraction=0.3))
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)):
        get_export(hub)


def test_cut_body_no_length_ends_mid_array(hub: SimulatedHub) -> None:
    hub.queue_fault(Fault(kind="cut_body_no_length", nbytes=1000))
    response = get_export(hub, headers={**AUTH, "Accept-Encoding": "identity"})
    assert response.status_code == 200 and "Content-Length" not in response.headers
    assert response.headers["Connection"] == "close"
    assert len(response.content) == 1000 and response.content.startswith(b"[{")
    with pytest.raises(requests.exceptions.JSONDecodeError):
        response.json()


def test_stall_before_headers_times_the_client_out(hub: SimulatedHub) -> None:
    hub.queue_fault(Fault(kind="stall", seconds=30))
    with pytest.raises(requests.exceptions.ReadTimeout):
        get_export(hub, timeout=0.2)


def test_stall_mid_body_times_the_client_out(hub: SimulatedHub) -> None:
    hub.queue_fault(Fault(kind="stall", where="body", seconds=30))
    with pytest.raises(requests.exceptions.ConnectionError):  # how requests reports a timeout mid-body
        get_export(hub, timeout=0.2)


def test_a_short_stall_then_the_full_export(hub: SimulatedHub, events: list[dict[str, Any]]) -> None:
    hub.queue_fault(Fault(kind="stall", where="body", seconds=0.05))
    assert get_export(hub).json() == events[::-1]


def test_reset_after_the_request_is_a_connection_error(hub: SimulatedHub) -> None:
    hub.queue_fault(Fault(kind="reset"))
    with pytest.raises(requests.exceptions.ConnectionError):
        get_export(hub)


def test_reset_mid_body_breaks_the_read(hub: SimulatedHub) -> None:
    hub.queue_fault(Fault(kind="reset", where="body", fraction=0.5))
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)):
        get_export(hub)


def test_slow_body_still_delivers_the_export(hub: SimulatedHub, events: list[dict[str, Any]]) -> None:
    hub.queue_fault(Fault(kind="slow_body", chunk_size=8192, seconds=0.001))
    assert get_export(hub).json() == events[::-1]


def test_invalid_json_fault_is_a_200_that_does_not_parse(hub: SimulatedHub) -> None:
    hub.queue_fault(Fault(kind="invalid_json"))
    response = get_export(hub)
    assert response.status_code == 200 and response.text.startswith('[{"_id":')
    with pytest.raises(requests.exceptions.JSONDecodeError):
        response.json()


def test_html_page_fault_is_a_200_html_page(hub: SimulatedHub) -> None:
    hub.queue_fault(Fault(kind="html_page"))
    response = get_export(hub)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html") and "<html>" in response.text


def test_json_object_fault_is_an_object_instead_of_an_array(hub: SimulatedHub) -> None:
    hub.queue_fault(Fault(kind="json_object"))
    hub.queue_fault(Fault(kind="json_object", body={"errors": [{"message": "boom"}]}))
    assert get_export(hub).json() == {"error": "something went wrong"}
    assert get_export(hub).json() == {"errors": [{"message": "boom"}]}


def test_empty_array_fault(hub: SimulatedHub) -> None:
    hub.queue_fault(Fault(kind="empty_array"))
    response = get_export(hub)
    assert response.status_code == 200 and response.json() == []


def test_not_json_fault_is_plain_text(hub: SimulatedHub) -> None:
    hub.queue_fault(Fault(kind="not_json"))
    response = get_export(hub)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/plain")
    with pytest.raises(requests.exceptions.JSONDecodeError):
        response.json()


def test_faults_play_in_order_times_times_then_normal_answers(hub: SimulatedHub) -> None:
    hub.queue_fault(Fault(kind="status", status=503), times=2)
    hub.queue_fault(Fault(kind="empty_array"))
    assert hub.pending_faults == 3
    statuses = [get_export(hub) for _ in range(4)]
    assert [r.status_code for r in statuses] == [503, 503, 200, 200]
    assert statuses[2].json() == [] and len(statuses[3].json()) == 300


def test_faults_come_before_authorization(hub: SimulatedHub) -> None:
    hub.queue_fault(Fault(kind="status", status=502, html=True))
    assert get_export(hub, headers={}).status_code == 502


# --- control API and process --------------------------------------------------------------


def test_control_health(hub: SimulatedHub) -> None:
    assert requests.get(f"{hub.url}/_sim/health", timeout=10).json() == {"ok": True}


def test_control_events_appends_newer_events(hub: SimulatedHub, events: list[dict[str, Any]]) -> None:
    added = requests.post(f"{hub.url}/_sim/events", params={"count": 4}, timeout=10).json()
    assert len(added) == 4 and added[0]["createdAt"] > events[-1]["createdAt"]
    assert ids(get_export(hub).json())[:5] == [*ids(added)[::-1], events[-1]["_id"]]


def test_control_late_adds_older_events_in_place(hub: SimulatedHub, events: list[dict[str, Any]]) -> None:
    added = requests.post(f"{hub.url}/_sim/late", params={"count": 3, "age_minutes": 60}, timeout=10).json()
    newest = datetime.fromisoformat(events[-1]["createdAt"])
    for event in added:
        age = newest - datetime.fromisoformat(event["createdAt"])
        assert timedelta(minutes=60) <= age <= timedelta(minutes=60, seconds=2)
    served = get_export(hub).json()
    assert len(served) == 303
    stamps = [datetime.fromisoformat(e["createdAt"]) for e in served]
    assert stamps == sorted(stamps, reverse=True)


def test_control_fault_queues_a_fault(hub: SimulatedHub) -> None:
    reply = requests.post(f"{hub.url}/_sim/fault", params={"times": 2}, json={"kind": "status", "status": 503},
                          timeout=10)
    assert reply.status_code == 200 and hub.pending_faults == 2
    assert get_export(hub).status_code == 503


def test_control_rejects_a_bad_fault(hub: SimulatedHub) -> None:
    reply = requests.post(f"{hub.url}/_sim/fault", json={"kind": "meteor"}, timeout=10)
    assert reply.status_code == 400 and hub.pending_faults == 0


def test_a_stopped_hub_refuses_connections(events: list[dict[str, Any]]) -> None:
    hub = SimulatedHub(events=events)
    hub.start()
    address = export_url(hub)
    session = requests.Session()
    assert session.get(address, headers=AUTH, timeout=10).status_code == 200  # keeps a connection alive
    hub.stop()
    with pytest.raises(requests.exceptions.ConnectionError):
        session.get(address, headers=AUTH, timeout=10)
    with pytest.raises(RuntimeError):
        _ = hub.url


def test_module_runs_as_a_process_until_sigterm() -> None:
    command = [sys.executable, "-m", "hf_audit.simhub", "--port", "0", "--events", "20", "--org", "acme",
               "--token", "hf_demo", "--seed", "1", "--order", "oldest-first", "--limit", "10"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline().strip()
            assert line.startswith("simulated hub listening on http://127.0.0.1:") and line.endswith("(org acme)")
            url = line.split()[4]
            response = requests.get(f"{url}/api/organizations/acme/audit-log/export",
                                    headers={"Authorization": "Bearer hf_demo"}, timeout=10)
            served = response.json()
            assert len(served) == 10 and served == sorted(served, key=lambda e: e["createdAt"])
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=10) == 0


def test_a_post_body_does_not_spill_into_the_next_keep_alive_request(hub: SimulatedHub) -> None:
    with requests.Session() as session:
        assert session.post(export_url(hub), data=b"x" * 5000, headers=AUTH, timeout=10).status_code == 404
        assert session.get(export_url(hub), headers=AUTH, timeout=10).status_code == 200


def test_control_rejects_a_negative_count(hub: SimulatedHub) -> None:
    assert requests.post(f"{hub.url}/_sim/events", params={"count": -1}, timeout=10).status_code == 400
