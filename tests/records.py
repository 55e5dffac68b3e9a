"""A full simulated export as the plugin prints it: every event type plus the edge cases sinks trip on.

Sink tests (ClickHouse, OpenSearch, Loki, Fluent Bit) feed these exact lines to the real engines.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from conftest import ORG, TOKEN, poller_env, run_like_fluent_bit
from hf_audit.simhub.events import generate_events, make_event
from hf_audit.simhub.server import SimulatedHub


def edge_case_events(end: datetime) -> list[dict]:
    """Events that stress a sink's mapping: unknown type, oversize text, missing optionals, odd data."""
    rng = random.Random(99)
    at = iter(end - timedelta(seconds=s) for s in range(1, 100))
    unknown = make_event("org.future_feature.enable", next(at), rng=rng, org=ORG)
    export_itself = make_event("org.audit_log.export", next(at), rng=rng, org=ORG)
    huge = make_event("repo.update_settings", next(at), rng=rng, org=ORG)
    huge["message"] = "long message " * 20_000  # its line is cut to the bound and flagged truncated
    bare = make_event("org.add_user", next(at), rng=rng, org=ORG)
    for key in ("ip", "location", "userAgent", "token", "oauth", "data"):
        bare.pop(key, None)
    odd_data = make_event("jobs.create", next(at), rng=rng, org=ORG)
    odd_data["data"] = {"big": 2**62, "neg": -1.5e300, "nested": {"deep": [{"a": None}, [1, 2]]}, "unicode": "模型 🤗 \u0000"}
    ipv6 = make_event("repo.create", next(at), rng=rng, org=ORG)
    ipv6["ip"] = "2001:db8::"
    return [unknown, export_itself, huge, bare, odd_data, ipv6]


def simulated_export_events(count: int = 2000) -> list[dict]:
    end = datetime.now(UTC) - timedelta(minutes=10)
    return generate_events(count, seed=2026, end=end - timedelta(minutes=5), span=timedelta(days=20)) + edge_case_events(end)


def simulated_export_lines(tmp_path: Path, count: int = 2000) -> list[bytes]:
    """Run the real hf-audit-poll once against a simulated export; return its stdout lines."""
    with SimulatedHub(org=ORG, token=TOKEN, events=simulated_export_events(count)) as hub:
        run = run_like_fluent_bit("hf-audit-poll", poller_env(hub.url, tmp_path / "state", tmp_path))
    assert run.returncode == 0, run.stderr
    return run.stdout.splitlines()
