"""The shipped monitoring config, on the real Fluent Bit: the poller's metrics file, scraped and served."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from conftest import ORG, REPO, poller_env, run_like_fluent_bit

pytestmark = pytest.mark.skipif(shutil.which("fluent-bit") is None, reason="fluent-bit binary not on PATH (no registry ships Fluent Bit)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_fluent_bit_serves_the_pollers_metrics(hub, state_dir, tmp_path: Path) -> None:
    assert run_like_fluent_bit("hf-audit-poll", poller_env(hub.url, state_dir, tmp_path)).returncode == 0
    # The shipped file as it is, but scraped every second instead of every 30 s, so the test is short.
    monitoring = tmp_path / "monitoring.yaml"
    monitoring.write_text((REPO / "fluent-bit" / "monitoring.yaml").read_text().replace("scrape_interval: 30s", "scrape_interval: 1s"))
    main = tmp_path / "main.yaml"
    main.write_text(f"service:\n  flush: 1\n  grace: 1\n  log_level: info\nincludes:\n  - {monitoring}\n")
    port = free_port()
    env = {**os.environ, "HF_AUDIT_STATE_DIR": str(state_dir), "HF_AUDIT_METRICS_PORT": str(port)}
    log = open(tmp_path / "fluent-bit.log", "wb")
    fluent_bit = subprocess.Popen(["fluent-bit", "-c", str(main)], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        values: dict[str, float] = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "hf_audit_up" not in values:
            time.sleep(0.5)
            try:
                text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            except requests.ConnectionError:
                continue
            values = {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples if s.labels.get("org") == ORG}
        assert values.get("hf_audit_up") == 1, (tmp_path / "fluent-bit.log").read_text()[-2000:]
        assert values["hf_audit_events_emitted_total"] == 300
        assert values["hf_audit_consecutive_failures"] == 0
    finally:
        fluent_bit.send_signal(signal.SIGTERM)
        fluent_bit.wait(timeout=30)
        log.close()
