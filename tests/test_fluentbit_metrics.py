"""The shipped monitoring config, on the real Fluent Bit: the poller's metrics file, scraped and served."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

import requests
from prometheus_client.parser import text_string_to_metric_families

from conftest import ORG, REPO, poller_env, run_like_fluent_bit
from fluentbit_harness import FluentBit, requires_fluent_bit

pytestmark = requires_fluent_bit


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def scraped(port: int) -> dict[str, float] | None:
    """The organization's samples on the metrics endpoint; None while it does not answer."""
    try:
        text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except requests.ConnectionError:
        return None
    return {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples if s.labels.get("org") == ORG}


def test_fluent_bit_serves_the_pollers_metrics(hub, state_dir, tmp_path: Path, fluent_bit: Callable[..., FluentBit]) -> None:
    assert run_like_fluent_bit("hf-audit-poll", poller_env(hub.url, state_dir, tmp_path)).returncode == 0
    # The shipped file as it is, but scraped every second instead of every 30 s, so the test is short.
    monitoring = tmp_path / "monitoring.yaml"
    monitoring.write_text((REPO / "fluent-bit" / "monitoring.yaml").read_text().replace("scrape_interval: 30s", "scrape_interval: 1s"))
    main = tmp_path / "main.yaml"
    main.write_text(f"service:\n  flush: 1\n  grace: 1\n  log_level: info\nincludes:\n  - {monitoring}\n")
    port = free_port()
    env = {**os.environ, "HF_AUDIT_STATE_DIR": str(state_dir), "HF_AUDIT_METRICS_PORT": str(port)}
    run = fluent_bit(main, env)
    values: dict[str, float] = {}

    def up() -> bool:
        latest = scraped(port)
        if latest is not None:
            values.clear()
            values.update(latest)
        return "hf_audit_up" in values

    run.wait_for(up, "hf_audit_up on the metrics endpoint", timeout=60, required=False)
    assert values.get("hf_audit_up") == 1, run.log_tail(2000)
    assert values["hf_audit_events_emitted_total"] == 300
    assert values["hf_audit_consecutive_failures"] == 0
    run.stop(must_exit=True)
