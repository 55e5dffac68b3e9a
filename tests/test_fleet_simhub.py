"""The simulated Hub serving several organizations behind one endpoint, as the real Hub does."""

from __future__ import annotations

import subprocess
import sys

import requests

from hf_audit.simhub.events import generate_events
from hf_audit.simhub.server import SimulatedFleet, SimulatedHub


def export(url: str, org: str, token: str) -> requests.Response:
    return requests.get(f"{url}/api/organizations/{org}/audit-log/export", headers={"Authorization": f"Bearer {token}"}, timeout=10)


def two_orgs() -> list[SimulatedHub]:
    return [
        SimulatedHub(org="acme", token="hf_acme", events=generate_events(3, seed=1, org="acme")),
        SimulatedHub(org="globex", token="hf_globex", events=generate_events(5, seed=2, org="globex")),
    ]


def test_each_organization_answers_with_its_own_export() -> None:
    hubs = two_orgs()
    with SimulatedFleet(hubs) as fleet:
        acme, globex = export(fleet.url, "acme", "hf_acme"), export(fleet.url, "globex", "hf_globex")
    assert [e["_id"] for e in acme.json()] == [e["_id"] for e in reversed(hubs[0].events)]
    assert len(globex.json()) == 5
    assert len(hubs[0].requests_seen) == len(hubs[1].requests_seen) == 1


def test_each_organization_takes_only_its_own_token() -> None:
    with SimulatedFleet(two_orgs()) as fleet:
        assert export(fleet.url, "acme", "hf_globex").status_code == 401


def test_an_unknown_organization_is_not_found() -> None:
    with SimulatedFleet(two_orgs()) as fleet:
        answer = export(fleet.url, "initech", "hf_acme")
    assert answer.status_code == 404
    assert answer.json() == {"error": "Organization not found"}


def test_the_command_serves_several_organizations() -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "hf_audit.simhub", "--port", "0", "--events", "4", "--org", "acme", "--org", "globex", "--token", "t0k3n"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        url = line.split(" on ", 1)[1].split(" ", 1)[0]
        bodies = {org: export(url, org, "t0k3n") for org in ("acme", "globex")}
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert "(org acme, globex)" in line
    for org, answer in bodies.items():
        assert answer.status_code == 200, org
        assert {event["_id"] for event in answer.json()} and len(answer.json()) == 4
    assert {e["_id"] for e in bodies["acme"].json()} != {e["_id"] for e in bodies["globex"].json()}
